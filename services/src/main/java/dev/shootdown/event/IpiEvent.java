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
            long shootdownId)
            implements IpiEvent, Directed {}

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
            implements IpiEvent, Directed {}

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
