package dev.shootdown.mm;

import dev.shootdown.core.Decider;
import dev.shootdown.event.Callers;
import dev.shootdown.event.PageTableEvent;
import dev.shootdown.event.SyscallEvent;
import dev.shootdown.kernel.Site;
import java.util.ArrayList;

/**
 * mm/mmap.c: munmap, do_vmi_munmap -&gt; unmap_region: the VMAs are detached, then under one
 * mmu_gather unmap_vmas zaps their PTEs (mm/memory.c zap_pte_range, which first calls
 * flush_tlb_batched_pending) inside one mmu_notifier range, free_pgtables frees the page tables
 * nothing else uses, and tlb_finish_mmu flushes and frees the pages.
 */
final class Mmap {

    private final Linux k;

    Mmap(Linux k) {
        this.k = k;
    }

    void doVmiMunmap(Decider d, SyscallEvent.Munmap m) {
        long id = k.state.nextShootdownId;
        d.emit(new PageTableEvent.MmuGatherStarted(id, m.mm(), m.start(), m.end(), Callers.MUNMAP, m.cpu(), m.pid()));
        d.emit(new PageTableEvent.VmaUnmapped(m.mm(), m.start(), m.end()));
        k.advance(d, k.state.shootdowns.get(id));
    }

    /** unmap_region, resumed where it waits: true when it emitted and goes on, false when it waits or returned. */
    boolean step(Decider d, Shootdown sd) {
        if (sd.detached.isEmpty()) {
            return k.mmuGather.tlbFinishMmu(d, sd); // do_vmi_munmap found no VMA: nothing to unmap
        }
        Mm mm = k.state.mm(sd.mm);
        for (Mm.Vma vma : sd.detached) {
            var ptes = mm.ptesIn(vma.start(), vma.end());
            if (ptes.isEmpty()) {
                continue;
            }
            if (k.rmap.flushTlbBatchedPending(d, sd, sd.mm)) {
                return true; // zap_pte_range waits for the pending batch's flush before it clears a PTE
            }
            for (var e : new ArrayList<>(ptes.entrySet())) {
                Mm.Pte pte = e.getValue();
                d.emit(new PageTableEvent.PteCleared(sd.mm, e.getKey(), pte.frame(), pte.frameEpoch(), sd.id));
            }
            if (k.mmuGather.tlbEndVma(d, sd)) {
                return true;
            }
        }
        Site rangeEnd = k.state.kernel.generic().invalidateRangeEnd();
        if (rangeEnd.calls() && sd.hookCalls(MmState.RANGE_END) == 0) {
            // unmap_vmas: mmu_notifier_invalidate_range_end over the munmap's range, before free_pgtables
            k.mmuNotifier.hook(d, sd, MmState.RANGE_END, rangeEnd.hook(), sd.mm, sd.start, sd.end);
            return true;
        }
        k.memory.freePgtables(d, sd);
        return k.mmuGather.tlbFinishMmu(d, sd);
    }
}
