package dev.shootdown.mm;

import dev.shootdown.core.Decider;
import dev.shootdown.event.Callers;
import dev.shootdown.event.PageTableEvent;
import dev.shootdown.event.SyscallEvent;
import dev.shootdown.kernel.Site;
import java.util.ArrayList;
import java.util.List;

/**
 * mm/mprotect.c: do_mprotect_pkey -&gt; mprotect_fixup -&gt; change_protection, VMA by VMA under one
 * mmu_gather: change_pte_range (after flush_tlb_batched_pending) write-protects every present
 * writable PTE; change_pmd_range wraps that in an mmu_notifier range, ended before the next VMA;
 * tlb_finish_mmu flushes once, for every VMA, after all of them.
 */
final class Mprotect {

    private final Linux k;

    Mprotect(Linux k) {
        this.k = k;
    }

    /**
     * The VMA flags change first; making a range writable changes no PTE here: writes fault and
     * upgrade.
     */
    void doMprotect(Decider d, SyscallEvent.Mprotect m) {
        long id = k.state.nextShootdownId;
        d.emit(new PageTableEvent.MmuGatherStarted(id, m.mm(), m.start(), m.end(), Callers.MPROTECT, m.cpu(), m.pid()));
        d.emit(new PageTableEvent.VmaProtectionChanged(m.mm(), m.start(), m.end(), m.writable()));
        k.advance(d, k.state.shootdowns.get(id));
    }

    /** One VMA of [start, end) with present PTEs, clipped to it, and whether it is writable now. */
    private record Part(long start, long end, boolean writable) {}

    /** change_protection over each VMA, then tlb_finish_mmu: true when it emitted and goes on, false when it waits or returned. */
    boolean step(Decider d, Shootdown sd) {
        Mm mm = k.state.mm(sd.mm);
        List<Part> parts = new ArrayList<>();
        for (Mm.Vma vma : mm.vmas.values()) {
            long start = Math.max(vma.start(), sd.start);
            long end = Math.min(vma.end(), sd.end);
            if (start < end && !mm.ptesIn(start, end).isEmpty()) {
                parts.add(new Part(start, end, vma.writable()));
            }
        }
        Site rangeEnd = k.state.kernel.generic().invalidateRangeEnd();
        // With a hook at the end of each VMA's notifier range, VMAs go one step each; the count of
        // range_end calls says how many are done. Without, every VMA goes in one step.
        int done = rangeEnd.calls() ? sd.hookCalls(MmState.RANGE_END) : 0;
        for (int i = done; i < parts.size(); i++) {
            Part p = parts.get(i);
            if (k.rmap.flushTlbBatchedPending(d, sd, sd.mm)) {
                return true;
            }
            if (!p.writable()) { // change_pte_range applies the VMA's new protection
                for (var e : new ArrayList<>(mm.ptesIn(p.start(), p.end()).entrySet())) {
                    Mm.Pte pte = e.getValue();
                    if (pte.writable()) {
                        d.emit(new PageTableEvent.PteProtectionChanged(sd.mm, e.getKey(), pte.frame(), pte.frameEpoch(), false,
                                "change_pte_range", sd.id));
                    }
                }
            }
            if (rangeEnd.calls()) {
                k.mmuNotifier.hook(d, sd, MmState.RANGE_END, rangeEnd.hook(), sd.mm, p.start(), p.end());
                return true;
            }
        }
        return k.mmuGather.tlbFinishMmu(d, sd);
    }
}
