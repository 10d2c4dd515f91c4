package dev.shootdown.mm;

import dev.shootdown.core.Decider;
import dev.shootdown.event.PageTableEvent;
import dev.shootdown.event.SyscallEvent;
import java.util.ArrayList;

/** mm/mmap.c: munmap, do_vmi_munmap -&gt; unmap_region. */
final class Mmap {

    private final Linux k;

    Mmap(Linux k) {
        this.k = k;
    }

    /**
     * do_vmi_munmap -> unmap_region: detach the VMAs, zap the PTEs into an mmu_gather, then
     * tlb_finish_mmu: flush, and free the gathered pages once every flush completed.
     */
    void doVmiMunmap(Decider d, SyscallEvent.Munmap m) {
        long id = k.state.nextShootdownId;
        d.emit(new PageTableEvent.MmuGatherStarted(id, m.mm(), m.start(), m.end(), "munmap", m.cpu(), m.pid()));
        k.rmap.maybeFlushTlbBatchedPending(d, m.mm(), id);
        d.emit(new PageTableEvent.VmaUnmapped(m.mm(), m.start(), m.end()));
        Mm mm = k.state.mm(m.mm());
        for (var e : new ArrayList<>(mm.ptes.subMap(m.start(), m.end()).entrySet())) {
            Mm.Pte pte = e.getValue();
            d.emit(new PageTableEvent.PteCleared(m.mm(), e.getKey(), pte.frame(), pte.frameEpoch(), id));
        }
        k.advance(d, k.state.shootdowns.get(id));
    }
}
