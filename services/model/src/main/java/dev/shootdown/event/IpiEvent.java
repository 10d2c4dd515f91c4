package dev.shootdown.event;

import dev.shootdown.scenario.TaskOp;
import java.util.List;

/** Cross-calls between the kernel's mm and the CPUs: TLB-flush IPIs, their acks, reschedules. */
public sealed interface IpiEvent extends Event {

    @Override
    default Family family() {
        return Family.IPI;
    }

    /**
     * The scheduler put task {@code pid} of {@code mm} on the target CPU (a reschedule IPI); the
     * CPU will switch_mm to it. {@code mmTlbGen} is mm->context.tlb_gen when it was scheduled.
     */
    record TaskScheduled(String target, int pid, long mm, long mmTlbGen, List<TaskOp> program)
            implements IpiEvent, Directed {
        public TaskScheduled {
            program = List.copyOf(program);
        }
    }

    /**
     * Run flush_tlb_func on the target CPU for [start, end) of {@code mm} (end -1UL: whole mm).
     * Carries struct flush_tlb_info: new_tlb_gen and whether page tables were freed; plus the
     * mm's tlb_gen when sent. {@code viaIpi} is false for the initiating CPU's local flush.
     *
     * <p>From arch_tlbbatch_flush the info has no mm ({@code mm} 0, NULL) and new_tlb_gen is
     * TLB_GENERATION_INVALID (-1): the CPU flushes whatever mm it has loaded. flush_tlb_func then
     * reads loaded_mm->context.tlb_gen; {@code batchTlbGens} carries it for each mm the batch
     * touched.
     */
    record FlushTlb(
            String target,
            long mm,
            long start,
            long end,
            long newTlbGen,
            long mmTlbGen,
            boolean viaIpi,
            boolean freedTables,
            long shootdownId,
            List<MmTlbGen> batchTlbGens)
            implements IpiEvent, Directed, InShootdown {
        public FlushTlb {
            batchTlbGens = batchTlbGens == null ? List.of() : List.copyOf(batchTlbGens);
        }

        /** A flush from flush_tlb_mm_range: one mm, no batch. */
        public FlushTlb(String target, long mm, long start, long end, long newTlbGen, long mmTlbGen, boolean viaIpi,
                boolean freedTables, long shootdownId) {
            this(target, mm, start, end, newTlbGen, mmTlbGen, viaIpi, freedTables, shootdownId, List.of());
        }
    }

    /** mm->context.tlb_gen of one mm. */
    record MmTlbGen(long mm, long tlbGen) {}

    /**
     * arm64: a broadcast TLBI (VALE1IS for one page, ASIDE1IS for the whole ASID) as it reaches
     * the target CPU's TLB. Hardware, not an IPI: every CPU in the inner-shareable domain gets it,
     * whatever it has loaded, and no kernel code runs there.
     */
    record Tlbi(String target, String op, long mm, long start, long end, long shootdownId)
            implements IpiEvent, Directed, InShootdown {}

    /** The TLBI completed on {@code cpu}: what the initiator's DSB ISH waits for. */
    record TlbiCompleted(String target, String cpu, long mm, long start, long end, int entriesDropped, long shootdownId)
            implements IpiEvent, Directed, InShootdown {}

    /** flush_tlb_func finished on {@code cpu}: the IPI's acknowledgement to the initiator. */
    record TlbFlushed(
            String target,
            String cpu,
            long mm,
            long start,
            long end,
            FlushKind kind,
            long localTlbGen,
            int entriesDropped,
            long shootdownId)
            implements IpiEvent, Directed, InShootdown {}

    /** What flush_tlb_func did (arch/x86/mm/tlb.c). */
    enum FlushKind {
        /** local tlb_gen was one behind and the range was given: flush_tlb_one_user per page. */
        PARTIAL,
        /** the generation gap was larger or the range was TLB_FLUSH_ALL: the whole ASID. */
        FULL,
        /** local tlb_gen already equal to the mm's: an earlier flush did the work. */
        NONE,
        /** the CPU no longer has this mm loaded (f->mm != loaded_mm): nothing to flush now. */
        NOT_LOADED,
        /** the CPU was lazy: it switched to init_mm instead, and flushes when it returns. */
        LAZY
    }
}
