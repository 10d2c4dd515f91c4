package dev.shootdown.mm;

import dev.shootdown.core.Decider;
import dev.shootdown.event.IpiEvent;
import dev.shootdown.event.Kernel;
import dev.shootdown.event.PageTableEvent;
import dev.shootdown.kernel.Hook;
import dev.shootdown.kernel.KernelVariant;
import dev.shootdown.kernel.Rules;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;

/**
 * arch/x86/mm/tlb.c, arch/x86/include/asm/tlbflush.h and tlb.h: flush_tlb_mm_range (the range
 * widened above tlb_single_page_flush_ceiling, inc_mm_tlb_gen, flush_tlb_multi to mm_cpumask or
 * the local flush), native_flush_tlb_multi's lazy CPUs, the batched unmap flush
 * (arch_tlbbatch_should_defer, arch_tlbbatch_add_pending, arch_tlbbatch_flush,
 * arch_flush_tlb_batched_pending) and tlb_flush; and arch/x86/mm/pgtable.c
 * ptep_set_access_flags, which flushes nothing. flush_tlb_mm and flush_tlb_page are
 * flush_tlb_mm_range. The rules that differ between kernels come from the variant's x86 section.
 */
final class X86Tlb extends ArchTlb {

    /** TLB_GENERATION_INVALID (arch/x86/include/asm/tlbflush.h): a flush not tied to one mm. */
    static final long TLB_GENERATION_INVALID = -1;
    static final String FLUSH_TLB_MM_RANGE = "flush_tlb_mm_range";
    static final String ARCH_TLBBATCH_FLUSH = "arch_tlbbatch_flush";

    X86Tlb(Linux k) {
        super(k);
    }

    private KernelVariant.X86 rules() {
        return k.state.kernel.x86();
    }

    /** arch/x86/include/asm/tlb.h tlb_flush: flush_tlb_mm_range(tlb->mm, tlb->start, tlb->end, stride_shift, tlb->freed_tables). */
    @Override
    void tlbFlush(Decider d, Shootdown sd) {
        call(d, sd, MmState.TLBONLY, FLUSH_TLB_MM_RANGE, sd.mm, sd.tlbStart, sd.tlbEnd, sd.unmapShift(), sd.freedTables);
    }

    /** flush_tlb_page: flush_tlb_mm_range(vma->vm_mm, a, a + PAGE_SIZE, PAGE_SHIFT, false). */
    @Override
    void flushTlbPage(Decider d, Shootdown sd, String caller, long mm, long va) {
        call(d, sd, caller, FLUSH_TLB_MM_RANGE, mm, va, va + Kernel.PAGE_SIZE, 12, false);
    }

    /** arch_flush_tlb_batched_pending: flush_tlb_mm(mm), flush_tlb_mm_range(mm, 0UL, TLB_FLUSH_ALL, 0UL, true). */
    @Override
    boolean archFlushTlbBatchedPending(Decider d, Shootdown sd, long mm) {
        d.emit(new PageTableEvent.TlbBatchedPendingFlushed(mm, sd.id));
        if (rules().archFlushTlbBatchedPending().flush() != Rules.BatchedPendingFlush.FLUSH_TLB_MM) {
            return false;
        }
        call(d, sd, "flush_tlb_batched_pending", FLUSH_TLB_MM_RANGE, mm, 0, Kernel.TLB_FLUSH_ALL, 0, true);
        return true;
    }

    @Override
    Rules.ShouldDefer shouldDeferRule() {
        return rules().archTlbbatchShouldDefer();
    }

    /**
     * arch_tlbbatch_add_pending: inc_mm_tlb_gen(mm) (the cpumask_or into the batch is
     * tlb-batch-add-pending's), then the hook where the variant calls it here.
     */
    @Override
    void archTlbbatchAddPending(Decider d, Shootdown sd, long mmId, long va) {
        Mm mm = k.state.mm(mmId);
        d.emit(new PageTableEvent.MmTlbGenIncremented(mmId, mm.tlbGen + 1, 0, Kernel.TLB_FLUSH_ALL, sd.id));
        if (rules().archTlbbatchAddPending().calls()) {
            k.mmuNotifier.hook(d, sd, "arch_tlbbatch_add_pending", rules().archTlbbatchAddPending().hook(), mmId, va,
                    va + Kernel.PAGE_SIZE);
        }
    }

    @Override
    void archTlbbatchFlush(Decider d, Shootdown sd, String caller) {
        call(d, sd, caller, ARCH_TLBBATCH_FLUSH, 0, 0, Kernel.TLB_FLUSH_ALL, 0, false);
    }

    @Override
    HookSite hookOf(Shootdown.Call c) {
        Hook h = c.function.equals(ARCH_TLBBATCH_FLUSH) ? rules().archTlbbatchFlush().hook() : rules().flushTlbMmRange().hook();
        return h == null ? null : new HookSite(c.function, h);
    }

    /** flush_tlb_mm_range's start and end after the widening; arch_tlbbatch_flush's info: (0, TLB_FLUSH_ALL). */
    @Override
    long[] hookRange(Shootdown.Call c, Hook hook) {
        return c.function.equals(ARCH_TLBBATCH_FLUSH) ? new long[] {0, Kernel.TLB_FLUSH_ALL} : widened(c);
    }

    /** ((end - start) >> stride_shift) > tlb_single_page_flush_ceiling, or TLB_FLUSH_ALL: the whole mm. */
    private long[] widened(Shootdown.Call c) {
        int ceiling = rules().flushTlbMmRange().ceiling();
        if (c.end == Kernel.TLB_FLUSH_ALL || Long.compareUnsigned((c.end - c.start) >>> c.strideShift, ceiling) > 0) {
            return new long[] {0, Kernel.TLB_FLUSH_ALL};
        }
        return new long[] {c.start, c.end};
    }

    @Override
    void issue(Decider d, Shootdown sd, Shootdown.Call c) {
        if (c.function.equals(ARCH_TLBBATCH_FLUSH)) {
            issueBatch(d, sd);
            return;
        }
        long[] range = widened(c);
        Mm mm = k.state.mm(c.mm);
        long newTlbGen = mm.tlbGen + 1;
        d.emit(new PageTableEvent.MmTlbGenIncremented(c.mm, newTlbGen, range[0], range[1], sd.id));
        List<IpiEvent.FlushTlb> flushes = new ArrayList<>();
        for (String cpu : targets(mm.cpumask, sd.cpu, c.freedTables)) {
            flushes.add(new IpiEvent.FlushTlb(cpu, c.mm, range[0], range[1], newTlbGen, newTlbGen, !cpu.equals(sd.cpu),
                    c.freedTables, sd.id));
        }
        flushes.forEach(d::emit);
    }

    /**
     * arch_tlbbatch_flush: flush_tlb_multi(&batch->cpumask, info) with no mm and (0,
     * TLB_FLUSH_ALL): each CPU flushes whatever mm it has loaded, up to that mm's tlb_gen.
     */
    private void issueBatch(Decider d, Shootdown sd) {
        MmState s = k.state;
        d.emit(new PageTableEvent.TlbBatchFlushStarted(sd.id, List.copyOf(sd.batchCpumask)));
        List<IpiEvent.MmTlbGen> gens = new ArrayList<>();
        for (long mmId : sd.mmsChanged) {
            gens.add(new IpiEvent.MmTlbGen(mmId, s.mm(mmId).tlbGen));
        }
        for (String cpu : targets(sd.batchCpumask, sd.cpu, false)) {
            d.emit(new IpiEvent.FlushTlb(cpu, 0, 0, Kernel.TLB_FLUSH_ALL, TLB_GENERATION_INVALID, TLB_GENERATION_INVALID,
                    !cpu.equals(sd.cpu), false, sd.id, gens));
        }
    }

    /**
     * Who runs flush_tlb_func: with another CPU in the mask, flush_tlb_multi over the mask, whose
     * smp_call_function_many_cond skips lazy CPUs, the initiator included, unless page tables were
     * freed (native_flush_tlb_multi, as the variant says); with only the initiator, its local
     * flush_tlb_func, lazy or not; with neither, nobody.
     */
    private List<String> targets(Set<String> mask, String initiator, boolean freedTables) {
        if (!anyBut(mask, initiator)) {
            return mask.contains(initiator) ? List.of(initiator) : List.of();
        }
        Rules.LazyCpus lazy = rules().nativeFlushTlbMulti().lazyCpus();
        boolean skipLazy = lazy == Rules.LazyCpus.SKIP || (lazy == Rules.LazyCpus.IPI_IF_FREED_TABLES && !freedTables);
        List<String> out = new ArrayList<>();
        for (String cpu : mask) {
            if (!(skipLazy && k.state.lazyCpus.contains(cpu))) {
                out.add(cpu);
            }
        }
        return out;
    }

    /** arch/x86/mm/pgtable.c ptep_set_access_flags: no flush (the faulting access dropped its TLB entry), no hook. */
    @Override
    void ptepSetAccessFlags(Decider d, String key, long mm, long va, Mm.Pte pte) {
        d.emit(new PageTableEvent.PteProtectionChanged(mm, va, pte.frame(), pte.frameEpoch(), true, "ptep_set_access_flags", -1));
        k.memory.respond(d, key, true);
    }

    @Override
    boolean mergeVmas() {
        return rules().mmuGather().mergeVmas();
    }

    @Override
    boolean waitsForIpis() {
        return true;
    }
}
