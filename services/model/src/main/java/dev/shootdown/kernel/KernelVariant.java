package dev.shootdown.kernel;

import com.fasterxml.jackson.annotation.JsonProperty;

/**
 * A kernel variant: the flush code that differs between kernels, for each architecture. Every
 * call site of the secondary-TLB hook says whether the kernel calls it there, with which mm and
 * range and where relative to the CPU flush; the thresholds and predicates that differ
 * (tlb_single_page_flush_ceiling, MAX_TLBI_OPS, when reclaim defers, which lazy CPUs get IPIs)
 * are rules too. Each rule names the kernel source it comes from.
 *
 * <p>Built-in variants are files in the repository's {@code kernels/} folder; a user's file can
 * start from one ({@code extends}). What a run used is recorded whole, resolved, in its
 * {@code run-started} event, so its log replays and audits the same anywhere. Immutable.
 *
 * @param name        what runs, reports and run ids call it
 * @param description one line on what it is
 * @param basedOn     the variant it extends (resolved), or null
 * @param hook        the hook's name in this kernel: invalidate_range or arch_invalidate_secondary_tlbs
 */
public record KernelVariant(
        String name,
        String description,
        @JsonProperty("extends") String basedOn,
        String hook,
        Generic generic,
        X86 x86,
        Arm64 arm64) {

    /**
     * Call sites in the generic mm code, the same on every architecture (mm/, include/linux/,
     * include/asm-generic/).
     */
    public record Generic(
            @JsonProperty("mmu_notifier_invalidate_range_end") Site invalidateRangeEnd,
            @JsonProperty("tlb_flush_mmu_tlbonly") Site tlbFlushMmuTlbonly,
            @JsonProperty("try_to_unmap_one") Site tryToUnmapOne,
            @JsonProperty("madvise_cold_or_pageout_pte_range") Rules.ColdOrPageoutPteRange madviseColdOrPageoutPteRange) {}

    /** arch/x86: the flush code of arch/x86/mm/tlb.c and arch/x86/include/asm/tlbflush.h. */
    public record X86(
            @JsonProperty("flush_tlb_mm_range") Rules.FlushTlbMmRange flushTlbMmRange,
            @JsonProperty("native_flush_tlb_multi") Rules.FlushTlbMulti nativeFlushTlbMulti,
            @JsonProperty("arch_tlbbatch_should_defer") Rules.ShouldDefer archTlbbatchShouldDefer,
            @JsonProperty("arch_tlbbatch_add_pending") Site archTlbbatchAddPending,
            @JsonProperty("arch_tlbbatch_flush") Site archTlbbatchFlush,
            @JsonProperty("arch_flush_tlb_batched_pending") Rules.BatchedPending archFlushTlbBatchedPending,
            @JsonProperty("mmu_gather") Rules.MmuGather mmuGather) {}

    /** arch/arm64: the flush code of arch/arm64/include/asm/tlbflush.h and tlb.h. */
    public record Arm64(
            @JsonProperty("flush_tlb_mm") Site flushTlbMm,
            @JsonProperty("__flush_tlb_range") Rules.FlushTlbRange flushTlbRange,
            @JsonProperty("__flush_tlb_range_op") Rules.RangeOp flushTlbRangeOp,
            @JsonProperty("__flush_tlb_page_nosync") Site flushTlbPageNosync,
            @JsonProperty("arch_tlbbatch_should_defer") Rules.ShouldDefer archTlbbatchShouldDefer,
            @JsonProperty("arch_tlbbatch_flush") Site archTlbbatchFlush,
            @JsonProperty("arch_flush_tlb_batched_pending") Rules.BatchedPending archFlushTlbBatchedPending,
            @JsonProperty("mmu_gather") Rules.MmuGather mmuGather) {}

    /**
     * Where a host finds a built-in variant by name, for a log recorded before variants were
     * recorded in it ({@code run-started} without one): the name is the scenario's policy.
     */
    @FunctionalInterface
    public interface Catalog {
        /** The built-in variant called {@code name}; IllegalArgumentException when there is none. */
        KernelVariant builtIn(String name);
    }
}
