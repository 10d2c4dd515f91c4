package dev.shootdown.kernel;

import com.fasterxml.jackson.annotation.JsonProperty;

/** The rules of a kernel variant that are not hook call sites: thresholds and predicates, each with its source. */
public final class Rules {

    private Rules() {}

    /**
     * arch/x86/mm/tlb.c flush_tlb_mm_range: above {@code ceiling} pages the range becomes the
     * whole mm, (0, TLB_FLUSH_ALL); and its hook.
     */
    public record FlushTlbMmRange(@JsonProperty("tlb_single_page_flush_ceiling") int ceiling, Hook hook, String source) {}

    /**
     * arch/arm64/include/asm/tlbflush.h __flush_tlb_range: from {@code maxTlbiOps} pages (a CPU
     * without range TLBIs) it calls flush_tlb_mm instead; and its hook.
     */
    public record FlushTlbRange(@JsonProperty("max_tlbi_ops") int maxTlbiOps, Hook hook, String source) {}

    /** arm64 __flush_tlb_range_op: whether the TLBI loop advances the caller's start to end. */
    public record RangeOp(@JsonProperty("advances_start") boolean advancesStart, String source) {}

    /** x86 native_flush_tlb_multi: which lazy CPUs of the mask get the IPI. */
    public record FlushTlbMulti(@JsonProperty("lazy_cpus") LazyCpus lazyCpus, String source) {}

    /** arch_tlbbatch_should_defer (mm/rmap.c should_defer_flush): when reclaim batches its flush. */
    public record ShouldDefer(Defer defer, String source) {}

    /** arch_flush_tlb_batched_pending, from flush_tlb_batched_pending: how a pending batch is flushed. */
    public record BatchedPending(BatchedPendingFlush flush, String source) {}

    /** Kconfig MMU_GATHER_MERGE_VMAS: whether tlb_end_vma leaves the flush to tlb_finish_mmu. */
    public record MmuGather(@JsonProperty("merge_vmas") boolean mergeVmas, String source) {}

    /**
     * mm/madvise.c madvise_cold_or_pageout_pte_range: whether MADV_PAGEOUT clears the accessed
     * bit of each young PTE it isolates (and so its mmu_gather flushes them after reclaim_pages),
     * or leaves them and has shrink_folio_list ignore references.
     */
    public record ColdOrPageoutPteRange(@JsonProperty("pageout_clears_young") boolean pageoutClearsYoung, String source) {}

    public enum LazyCpus {
        /** lazy CPUs get the IPI only when page tables were freed (info-&gt;freed_tables). */
        @JsonProperty("ipi-if-freed-tables") IPI_IF_FREED_TABLES("ipi-if-freed-tables"),
        /** every CPU of the mask gets the IPI. */
        @JsonProperty("ipi") IPI("ipi"),
        /** lazy CPUs never get the IPI. */
        @JsonProperty("skip") SKIP("skip");

        private final String text;

        LazyCpus(String text) {
            this.text = text;
        }

        public String text() {
            return text;
        }
    }

    public enum Defer {
        /** defer only if a CPU other than the current one is in mm_cpumask(mm). */
        @JsonProperty("if-other-cpu-in-mm-cpumask") IF_OTHER_CPU("if-other-cpu-in-mm-cpumask"),
        /** always defer (arm64 without the REPEAT_TLBI erratum). */
        @JsonProperty("always") ALWAYS("always"),
        /** never: no batched unmap flush on this architecture (ptep_clear_flush). */
        @JsonProperty("never") NEVER("never");

        private final String text;

        Defer(String text) {
            this.text = text;
        }

        public String text() {
            return text;
        }
    }

    public enum BatchedPendingFlush {
        /** flush_tlb_mm(mm): a synchronous flush of the whole mm, with its hook. */
        @JsonProperty("flush_tlb_mm") FLUSH_TLB_MM("flush_tlb_mm"),
        /** dsb(ish): wait for the TLBIs already issued, no new flush. */
        @JsonProperty("dsb") DSB("dsb");

        private final String text;

        BatchedPendingFlush(String text) {
            this.text = text;
        }

        public String text() {
            return text;
        }
    }
}
