package dev.shootdown.mm;

import dev.shootdown.core.Decider;
import dev.shootdown.event.PageTableEvent;
import dev.shootdown.event.SyscallEvent;
import java.util.ArrayList;

/** mm/mprotect.c: do_mprotect_pkey -&gt; mprotect_fixup -&gt; change_protection. */
final class Mprotect {

    private final Linux k;

    Mprotect(Linux k) {
        this.k = k;
    }

    /**
     * do_mprotect_pkey -> mprotect_fixup -> change_protection: the VMA's flags change, then
     * change_pte_range write-protects every present writable PTE into an mmu_gather flushed in
     * tlb_finish_mmu. Making a range writable changes no PTE here: writes fault and upgrade.
     */
    void doMprotect(Decider d, SyscallEvent.Mprotect m) {
        long id = k.state.nextShootdownId;
        d.emit(new PageTableEvent.MmuGatherStarted(id, m.mm(), m.start(), m.end(), "mprotect", m.cpu(), m.pid()));
        k.rmap.maybeFlushTlbBatchedPending(d, m.mm(), id);
        d.emit(new PageTableEvent.VmaProtectionChanged(m.mm(), m.start(), m.end(), m.writable()));
        Mm mm = k.state.mm(m.mm());
        if (!m.writable()) {
            for (var e : new ArrayList<>(mm.ptes.subMap(m.start(), m.end()).entrySet())) {
                Mm.Pte pte = e.getValue();
                if (pte.writable()) {
                    d.emit(new PageTableEvent.PteProtectionChanged(m.mm(), e.getKey(), pte.frame(), pte.frameEpoch(), false,
                            "change_pte_range", id));
                }
            }
        }
        k.advance(d, k.state.shootdowns.get(id));
    }
}
