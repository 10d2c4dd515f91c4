package dev.shootdown.mm;

import dev.shootdown.core.Decider;
import dev.shootdown.event.IpiEvent;
import dev.shootdown.event.Kernel;
import dev.shootdown.event.NodeIds;
import dev.shootdown.event.PageTableEvent;
import java.util.List;

/**
 * arch/arm64/include/asm/tlbflush.h: broadcast TLBIs to every CPU of the inner-shareable
 * domain and dsb(ish), no IPIs, no cpumask, no tlb_gen: flush_tlb_mm, __flush_tlb_range,
 * flush_tlb_page and __flush_tlb_page_nosync, the batched unmap flush; and arch/arm64/mm/fault.c
 * ptep_set_access_flags, which flushes a dirty upgrade with flush_tlb_page.
 */
final class Arm64Tlbflush implements ArchTlb {

    /** MAX_TLBI_OPS (arch/arm64/include/asm/tlbflush.h): above it, __flush_tlb_range flushes the ASID. */
    static final long MAX_TLBI_OPS = 512;

    private final Linux k;

    Arm64Tlbflush(Linux k) {
        this.k = k;
    }

    /** __flush_tlb_range: broadcast TLBIs for the range (the whole ASID above MAX_TLBI_OPS pages, as flush_tlb_mm), the hook in v2 / 6.6, then dsb(ish). */
    @Override
    public void tlbFlush(Decider d, Shootdown sd) {
        boolean wholeMm = sd.fullFlush || (sd.end - sd.start) / Kernel.PAGE_SIZE > MAX_TLBI_OPS;
        long start = wholeMm ? 0 : sd.start;
        long end = wholeMm ? Kernel.TLB_FLUSH_ALL : sd.end;
        broadcastTlbi(d, sd, wholeMm ? "ASIDE1IS" : "VALE1IS", sd.mm, start, end);
        if (k.state.variant != KernelVariant.LINUX_6_5) {
            k.mmuNotifier.call(d, sd, wholeMm ? "flush_tlb_mm" : "__flush_tlb_range", sd.mm, start, end);
        }
    }

    @Override
    public boolean afterTlbFlush(Decider d, Shootdown sd) {
        return false;
    }

    /** arch_tlbbatch_add_pending -&gt; __flush_tlb_page_nosync: TLBI now (and the hook in v2 / 6.6), DSB later. */
    @Override
    public void archTlbbatchAddPending(Decider d, Shootdown sd, long mm, long va) {
        long pageEnd = va + Kernel.PAGE_SIZE;
        broadcastTlbi(d, sd, "VALE1IS", mm, va, pageEnd);
        if (k.state.variant != KernelVariant.LINUX_6_5) {
            k.mmuNotifier.call(d, sd, "__flush_tlb_page_nosync", mm, va, pageEnd);
        }
    }

    /** arch_tlbbatch_flush: dsb(ish), which waits for the TLBIs add_pending issued. */
    @Override
    public void archTlbbatchFlush(Decider d, Shootdown sd) {
        d.emit(new PageTableEvent.TlbBatchFlushStarted(sd.id, List.of()));
    }

    @Override
    public boolean afterTlbbatchFlush(Decider d, Shootdown sd) {
        return false;
    }

    /** arch/arm64/mm/fault.c ptep_set_access_flags: a dirty upgrade is flushed with flush_tlb_page. */
    @Override
    public void ptepSetAccessFlags(Decider d, String key, long mmId, long va, Mm.Pte pte) {
        MmState s = k.state;
        long id = s.nextShootdownId;
        Memory.Context ctx = k.memory.faultContext(s.pendingFaults.get(key));
        d.emit(new PageTableEvent.TlbFlushStarted(id, "ptep_set_access_flags", ctx.cpu(), ctx.comm(), ctx.pid(), ctx.currentMm(),
                mmId, va, va + Kernel.PAGE_SIZE, key));
        d.emit(new PageTableEvent.PteProtectionChanged(mmId, va, pte.frame(), pte.frameEpoch(), true, "ptep_set_access_flags",
                id));
        k.advance(d, s.shootdowns.get(id));
    }

    /** flush_tlb_page -&gt; __flush_tlb_page_nosync (TLBI, and the hook in v2 / 6.6), then dsb(ish). */
    @Override
    public boolean stepFlushPage(Decider d, Shootdown sd) {
        if (!sd.cpuFlushIssued) {
            broadcastTlbi(d, sd, "VALE1IS", sd.mm, sd.start, sd.end);
            if (k.state.variant != KernelVariant.LINUX_6_5) {
                k.mmuNotifier.call(d, sd, "__flush_tlb_page_nosync", sd.mm, sd.start, sd.end);
            }
            return true;
        }
        if (!sd.pendingCpus.isEmpty()) {
            return false;
        }
        d.emit(new PageTableEvent.TlbFlushFinished(sd.id, 0));
        k.memory.respond(d, sd.waiter, true);
        return false;
    }

    @Override
    public boolean waitsForIpis() {
        return false;
    }

    /** A TLBI ...IS reaches every CPU of the inner-shareable domain; no cpumask, no IPI. */
    private void broadcastTlbi(Decider d, Shootdown sd, String op, long mm, long start, long end) {
        for (int i = 0; i < k.state.scenario.cpus(); i++) {
            d.emit(new IpiEvent.Tlbi(NodeIds.cpu(i), op, mm, start, end, sd.id));
        }
    }
}
