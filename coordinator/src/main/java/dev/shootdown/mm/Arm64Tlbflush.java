package dev.shootdown.mm;

import dev.shootdown.core.Decider;
import dev.shootdown.event.Callers;
import dev.shootdown.event.IpiEvent;
import dev.shootdown.event.Kernel;
import dev.shootdown.event.NodeIds;
import dev.shootdown.event.PageTableEvent;
import dev.shootdown.kernel.Hook;
import dev.shootdown.kernel.KernelVariant;
import dev.shootdown.kernel.Rules;
import java.util.List;

/**
 * arch/arm64/include/asm/tlbflush.h and tlb.h: broadcast TLBIs reach every CPU of the
 * inner-shareable domain and dsb(ish) waits for them; no IPIs, no cpumask, no tlb_gen.
 * flush_tlb_mm (TLBI ASIDE1IS), __flush_tlb_range (a TLBI per page, or flush_tlb_mm from
 * MAX_TLBI_OPS pages on a CPU without range TLBIs), flush_tlb_page (__flush_tlb_page_nosync, then
 * dsb(ish)), the batched unmap flush and tlb_flush; and arch/arm64/mm/fault.c
 * ptep_set_access_flags, which flushes a dirty upgrade with flush_tlb_page. The rules that differ
 * between kernels come from the variant's arm64 section.
 */
final class Arm64Tlbflush extends ArchTlb {

    static final String FLUSH_TLB_MM = "flush_tlb_mm";
    static final String FLUSH_TLB_RANGE = "__flush_tlb_range";
    static final String FLUSH_TLB_PAGE = "flush_tlb_page";
    static final String FLUSH_TLB_PAGE_NOSYNC = "__flush_tlb_page_nosync";
    static final String ARCH_TLBBATCH_FLUSH = "arch_tlbbatch_flush";

    Arm64Tlbflush(Linux k) {
        super(k);
    }

    private KernelVariant.Arm64 rules() {
        return k.state.kernel.arm64();
    }

    /**
     * arch/arm64/include/asm/tlb.h tlb_flush: __flush_tlb_range(&vma, tlb->start, tlb->end,
     * tlb_get_unmap_size(tlb), last_level = !tlb->freed_tables, ...).
     */
    @Override
    void tlbFlush(Decider d, Shootdown sd) {
        call(d, sd, MmState.TLBONLY, FLUSH_TLB_RANGE, sd.mm, sd.tlbStart, sd.tlbEnd, sd.unmapShift(), sd.freedTables);
    }

    @Override
    void flushTlbPage(Decider d, Shootdown sd, String caller, long mm, long va) {
        call(d, sd, caller, FLUSH_TLB_PAGE, mm, va, va + Kernel.PAGE_SIZE, 12, false);
    }

    /** arch_flush_tlb_batched_pending: dsb(ish) (the batch's TLBIs are not tracked across flushes here), or flush_tlb_mm. */
    @Override
    boolean archFlushTlbBatchedPending(Decider d, Shootdown sd, long mm) {
        d.emit(new PageTableEvent.TlbBatchedPendingFlushed(mm, sd.id));
        if (rules().archFlushTlbBatchedPending().flush() != Rules.BatchedPendingFlush.FLUSH_TLB_MM) {
            return false;
        }
        call(d, sd, "flush_tlb_batched_pending", FLUSH_TLB_MM, mm, 0, Kernel.TLB_FLUSH_ALL, 12, false);
        return true;
    }

    @Override
    Rules.ShouldDefer shouldDeferRule() {
        return rules().archTlbbatchShouldDefer();
    }

    /** arch_tlbbatch_add_pending: __flush_tlb_page_nosync(mm, uaddr): the TLBI, and its hook, with no dsb. */
    @Override
    void archTlbbatchAddPending(Decider d, Shootdown sd, long mm, long va) {
        Hook h = rules().flushTlbPageNosync().hook();
        if (h != null && h.at() == Hook.Position.BEFORE_FLUSH) {
            k.mmuNotifier.hook(d, sd, FLUSH_TLB_PAGE_NOSYNC, h, mm, va, va + Kernel.PAGE_SIZE);
        }
        broadcastTlbi(d, sd, "VALE1IS", mm, va, va + Kernel.PAGE_SIZE);
        if (h != null && h.at() != Hook.Position.BEFORE_FLUSH) {
            k.mmuNotifier.hook(d, sd, FLUSH_TLB_PAGE_NOSYNC, h, mm, va, va + Kernel.PAGE_SIZE);
        }
    }

    @Override
    void archTlbbatchFlush(Decider d, Shootdown sd, String caller) {
        call(d, sd, caller, ARCH_TLBBATCH_FLUSH, 0, 0, Kernel.TLB_FLUSH_ALL, 12, false);
    }

    /**
     * __flush_tlb_range falls back to flush_tlb_mm when (end - start) >= MAX_TLBI_OPS * stride
     * (rounded to the stride; a CPU without range TLBIs).
     */
    private boolean fallsBackToFlushTlbMm(Shootdown.Call c) {
        long stride = 1L << c.strideShift;
        long start = roundDown(c.start, stride);
        long end = roundUp(c.end, stride);
        return c.end == Kernel.TLB_FLUSH_ALL
                || Long.compareUnsigned(end - start, (long) rules().flushTlbRange().maxTlbiOps() * stride) >= 0;
    }

    @Override
    HookSite hookOf(Shootdown.Call c) {
        Hook h;
        String caller = c.function;
        switch (c.function) {
            case FLUSH_TLB_RANGE -> {
                if (fallsBackToFlushTlbMm(c)) {
                    caller = FLUSH_TLB_MM;
                    h = rules().flushTlbMm().hook();
                } else {
                    h = rules().flushTlbRange().hook();
                }
            }
            case FLUSH_TLB_MM -> h = rules().flushTlbMm().hook();
            case FLUSH_TLB_PAGE -> {
                caller = FLUSH_TLB_PAGE_NOSYNC;
                h = rules().flushTlbPageNosync().hook();
            }
            case ARCH_TLBBATCH_FLUSH -> h = rules().archTlbbatchFlush().hook();
            default -> throw new IllegalStateException("coordinator: no arm64 flush function " + c.function);
        }
        return h == null ? null : new HookSite(caller, h);
    }

    /**
     * The start and end where the hook is called: flush_tlb_mm and arch_tlbbatch_flush know no
     * range, (0, -1UL); flush_tlb_page passes the page; __flush_tlb_range its start and end
     * rounded to the stride, start advanced to end by the TLBI loop (__flush_tlb_range_op) once
     * the TLBIs were issued, when the variant's macro does so.
     */
    @Override
    long[] hookRange(Shootdown.Call c, Hook hook) {
        switch (c.function) {
            case FLUSH_TLB_RANGE -> {
                if (fallsBackToFlushTlbMm(c)) {
                    return new long[] {0, Kernel.TLB_FLUSH_ALL};
                }
                long stride = 1L << c.strideShift;
                long start = roundDown(c.start, stride);
                long end = roundUp(c.end, stride);
                boolean looped = hook.at() != Hook.Position.BEFORE_FLUSH;
                return new long[] {looped && rules().flushTlbRangeOp().advancesStart() ? end : start, end};
            }
            case FLUSH_TLB_PAGE -> {
                long page = Kernel.pageAlign(c.start);
                return new long[] {page, page + Kernel.PAGE_SIZE};
            }
            default -> {
                return new long[] {0, Kernel.TLB_FLUSH_ALL};
            }
        }
    }

    @Override
    void issue(Decider d, Shootdown sd, Shootdown.Call c) {
        switch (c.function) {
            case FLUSH_TLB_RANGE -> {
                if (fallsBackToFlushTlbMm(c)) {
                    broadcastTlbi(d, sd, "ASIDE1IS", c.mm, 0, Kernel.TLB_FLUSH_ALL);
                } else {
                    long stride = 1L << c.strideShift;
                    // last_level = !tlb->freed_tables: VALE1IS drops leaf entries only, VAE1IS walk caches too
                    broadcastTlbi(d, sd, c.freedTables ? "VAE1IS" : "VALE1IS", c.mm, roundDown(c.start, stride),
                            roundUp(c.end, stride));
                }
            }
            case FLUSH_TLB_MM -> broadcastTlbi(d, sd, "ASIDE1IS", c.mm, 0, Kernel.TLB_FLUSH_ALL);
            case FLUSH_TLB_PAGE -> {
                long page = Kernel.pageAlign(c.start);
                broadcastTlbi(d, sd, "VALE1IS", c.mm, page, page + Kernel.PAGE_SIZE);
            }
            case ARCH_TLBBATCH_FLUSH -> d.emit(new PageTableEvent.TlbBatchFlushStarted(sd.id, List.of())); // dsb(ish)
            default -> throw new IllegalStateException("coordinator: no arm64 flush function " + c.function);
        }
    }

    /**
     * arch/arm64/mm/fault.c ptep_set_access_flags: the PTE becomes writable and dirty, and a dirty
     * upgrade is flushed with flush_tlb_page; the fault is answered once that returned.
     */
    @Override
    void ptepSetAccessFlags(Decider d, String key, long mmId, long va, Mm.Pte pte) {
        MmState s = k.state;
        long id = s.nextShootdownId;
        Memory.Context ctx = k.memory.faultContext(s.pendingFaults.get(key));
        d.emit(new PageTableEvent.TlbFlushStarted(id, Callers.PTEP_SET_ACCESS_FLAGS, ctx.cpu(), ctx.comm(), ctx.pid(), ctx.currentMm(),
                mmId, va, va + Kernel.PAGE_SIZE, key));
        d.emit(new PageTableEvent.PteProtectionChanged(mmId, va, pte.frame(), pte.frameEpoch(), true, "ptep_set_access_flags",
                id));
        Shootdown sd = s.shootdowns.get(id);
        flushTlbPage(d, sd, "ptep_set_access_flags", mmId, va);
        k.advance(d, sd);
    }

    @Override
    boolean mergeVmas() {
        return rules().mmuGather().mergeVmas();
    }

    @Override
    boolean waitsForIpis() {
        return false;
    }

    /** A TLBI ...IS reaches every CPU of the inner-shareable domain; no cpumask, no IPI. */
    private void broadcastTlbi(Decider d, Shootdown sd, String op, long mm, long start, long end) {
        for (int i = 0; i < k.state.scenario.cpus(); i++) {
            d.emit(new IpiEvent.Tlbi(NodeIds.cpu(i), op, mm, start, end, sd.id));
        }
    }
}
