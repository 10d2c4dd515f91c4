package dev.shootdown.mm;

import dev.shootdown.core.Decider;
import dev.shootdown.event.IpiEvent;
import dev.shootdown.event.Kernel;
import dev.shootdown.event.PageTableEvent;
import java.util.ArrayList;
import java.util.List;

/**
 * arch/x86/mm/tlb.c and arch/x86/include/asm/tlbflush.h: flush_tlb_mm_range (inc_mm_tlb_gen,
 * flush_tlb_multi to mm_cpumask with lazy CPUs skipped, the local flush), the batched unmap
 * flush (arch_tlbbatch_add_pending, arch_tlbbatch_flush), and arch/x86/mm/pgtable.c
 * ptep_set_access_flags, which flushes nothing.
 */
final class X86Tlb implements ArchTlb {

    /** tlb_single_page_flush_ceiling (arch/x86/mm/tlb.c): above it, flush the whole mm. */
    static final long TLB_SINGLE_PAGE_FLUSH_CEILING = 33;
    /** TLB_GENERATION_INVALID (arch/x86/include/asm/tlbflush.h): a flush not tied to one mm. */
    static final long TLB_GENERATION_INVALID = -1;

    private final Linux k;

    X86Tlb(Linux k) {
        this.k = k;
    }

    /** flush_tlb_mm_range, the CPU half: inc_mm_tlb_gen, then flush_tlb_multi and the local flush. */
    @Override
    public void tlbFlush(Decider d, Shootdown sd) {
        MmState s = k.state;
        Mm mm = s.mm(sd.mm);
        long start = sd.start;
        long end = sd.end;
        if (sd.fullFlush || end == Kernel.TLB_FLUSH_ALL || (end - start) / Kernel.PAGE_SIZE > TLB_SINGLE_PAGE_FLUSH_CEILING) {
            start = 0;
            end = Kernel.TLB_FLUSH_ALL;
        }
        long newTlbGen = mm.tlbGen + 1;
        d.emit(new PageTableEvent.MmTlbGenIncremented(sd.mm, newTlbGen, start, end, sd.id));
        boolean freedTables = false; // free_pgtables runs only when whole page-table pages go; not modelled
        for (String cpu : List.copyOf(mm.cpumask)) {
            if (!cpu.equals(sd.cpu) && !freedTables && s.lazyCpus.contains(cpu)) {
                continue; // flush_tlb_multi: on_each_cpu_cond_mask(tlb_is_not_lazy, ...)
            }
            d.emit(new IpiEvent.FlushTlb(cpu, sd.mm, start, end, newTlbGen, newTlbGen, !cpu.equals(sd.cpu), freedTables,
                    sd.id));
        }
    }

    /** flush_tlb_mm_range after flush_tlb_multi returned: the hook (v2, 6.6). */
    @Override
    public boolean afterTlbFlush(Decider d, Shootdown sd) {
        if (k.state.variant != KernelVariant.LINUX_6_5 && !sd.hookCallers.contains("flush_tlb_mm_range")) {
            k.mmuNotifier.call(d, sd, "flush_tlb_mm_range", sd.mm, sd.flushStart, sd.flushEnd);
            return true;
        }
        return false;
    }

    /** arch_tlbbatch_add_pending: inc_mm_tlb_gen, cpumask_or(batch, mm_cpumask(mm)); 6.6: the hook for the whole mm. */
    @Override
    public void archTlbbatchAddPending(Decider d, Shootdown sd, long mmId, long va) {
        Mm mm = k.state.mm(mmId);
        d.emit(new PageTableEvent.MmTlbGenIncremented(mmId, mm.tlbGen + 1, 0, Kernel.TLB_FLUSH_ALL, sd.id));
        if (k.state.variant == KernelVariant.LINUX_6_6) {
            k.mmuNotifier.call(d, sd, "arch_tlbbatch_add_pending", mmId, 0, Kernel.TLB_FLUSH_ALL);
        }
    }

    /** try_to_unmap_flush -&gt; arch_tlbbatch_flush: IPIs to the batch's cpumask, no mm attached. */
    @Override
    public void archTlbbatchFlush(Decider d, Shootdown sd) {
        MmState s = k.state;
        d.emit(new PageTableEvent.TlbBatchFlushStarted(sd.id, List.copyOf(sd.batchCpumask)));
        List<IpiEvent.MmTlbGen> gens = new ArrayList<>();
        for (long mmId : sd.mmsChanged) {
            gens.add(new IpiEvent.MmTlbGen(mmId, s.mm(mmId).tlbGen));
        }
        for (String cpu : List.copyOf(sd.batchCpumask)) {
            if (!cpu.equals(sd.cpu) && s.lazyCpus.contains(cpu)) {
                continue; // flush_tlb_multi skips lazy CPUs; the local CPU runs flush_tlb_func itself
            }
            d.emit(new IpiEvent.FlushTlb(cpu, 0, 0, Kernel.TLB_FLUSH_ALL, TLB_GENERATION_INVALID, TLB_GENERATION_INVALID,
                    !cpu.equals(sd.cpu), false, sd.id, gens));
        }
    }

    /** The v2 patch: mmu_notifier_arch_invalidate_secondary_tlbs(current->mm, 0, -1UL) after the IPIs. */
    @Override
    public boolean afterTlbbatchFlush(Decider d, Shootdown sd) {
        if (k.state.variant == KernelVariant.SERIES_V2 && !sd.hookCallers.contains("arch_tlbbatch_flush")) {
            k.mmuNotifier.call(d, sd, "arch_tlbbatch_flush", sd.currentMm, 0, Kernel.TLB_FLUSH_ALL);
            return true;
        }
        return false;
    }

    /** arch/x86/mm/pgtable.c ptep_set_access_flags: no flush (a faulting access drops its TLB entry). */
    @Override
    public void ptepSetAccessFlags(Decider d, String key, long mm, long va, Mm.Pte pte) {
        d.emit(new PageTableEvent.PteProtectionChanged(mm, va, pte.frame(), pte.frameEpoch(), true, "ptep_set_access_flags", -1));
        k.memory.respond(d, key, true);
    }

    @Override
    public boolean stepFlushPage(Decider d, Shootdown sd) {
        throw new IllegalStateException("coordinator: x86 ptep_set_access_flags flushes nothing, yet shootdown " + sd.id
                + " is a flush_tlb_page");
    }

    @Override
    public boolean waitsForIpis() {
        return true;
    }
}
