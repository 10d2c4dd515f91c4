package dev.shootdown.mm;

import dev.shootdown.core.Decider;
import dev.shootdown.event.Callers;
import dev.shootdown.event.PageTableEvent;
import dev.shootdown.event.SyscallEvent;
import java.util.ArrayList;
import java.util.List;

/**
 * mm/madvise.c: madvise(MADV_PAGEOUT). madvise_walk_vmas calls madvise_pageout for each VMA of
 * the range: tlb_gather_mmu, madvise_pageout_page_range (tlb_start_vma, walk_page_range with
 * madvise_cold_or_pageout_pte_range for each page table's span, tlb_end_vma), tlb_finish_mmu.
 * madvise_cold_or_pageout_pte_range, under the page-table lock after flush_tlb_batched_pending,
 * takes each present PTE whose folio is on the LRU and mapped once: where the kernel variant says
 * so (6.1 to 6.9) it clears the PTE's accessed bit into the mmu_gather, and it isolates the folio;
 * then, the lock dropped, reclaim_pages runs shrink_folio_list ({@link Vmscan}) over those
 * folios in the caller's context and frees them. The mmu_gather's flush of the old PTEs comes
 * after, at the VMA's end.
 */
final class Madvise {

    /** include/uapi/asm-generic/errno-base.h. */
    private static final int ENOMEM = 12;

    private final Linux k;

    Madvise(Linux k) {
        this.k = k;
    }

    /** madvise(2): MADV_PAGEOUT is the one advice the model runs. */
    void doMadvise(Decider d, SyscallEvent.Madvise m) {
        if (!m.advice().equals("MADV_PAGEOUT")) {
            throw new IllegalStateException("coordinator: madvise " + m.advice() + " is not modelled (only MADV_PAGEOUT)");
        }
        long id = k.state.nextShootdownId;
        d.emit(new PageTableEvent.TlbFlushStarted(id, Callers.MADVISE_PAGEOUT, m.cpu(), "task" + m.pid(), m.pid(), m.mm(),
                m.mm(), m.start(), m.end(), ""));
        k.advance(d, k.state.shootdowns.get(id));
    }

    /**
     * One step of madvise_pageout: the flush call in progress (and tlb_flush_mmu_tlbonly's own
     * hook after it), the reclaim of the folios last isolated, the VMA's flush at its end, the
     * next page table's walk, or the return. True when it emitted and goes on.
     */
    boolean step(Decider d, Shootdown sd) {
        if (sd.call != null) {
            ArchTlb.Progress call = k.arch().stepCall(d, sd);
            if (call != ArchTlb.Progress.DONE) {
                return call == ArchTlb.Progress.EMITTED;
            }
            if (k.mmuGather.tlbonlyNotifier(d, sd)) {
                return true;
            }
        }
        // reclaim_pages -> shrink_folio_list over the folios the last walk isolated, then frees them
        ArchTlb.Progress reclaim = k.vmscan.shrinkFolioList(d, sd);
        if (reclaim != ArchTlb.Progress.DONE) {
            return reclaim == ArchTlb.Progress.EMITTED;
        }
        if (sd.framesFreed < sd.gathered.size()) {
            k.vmscan.freeFolios(d, sd);
            return true;
        }
        Mm mm = k.state.mm(sd.mm);
        long walked = sd.walkedTo;
        Mm.Vma at = mm.findVma(walked);
        boolean vmaEnd = walked != sd.start && (walked == sd.end || at == null || at.start() == walked);
        if (vmaEnd && k.mmuGather.tlbFlushMmuTlbonly(d, sd)) {
            return true; // tlb_end_vma or tlb_finish_mmu of the VMA just walked: either flushes here
        }
        long from = nextWalk(mm, sd);
        if (from != -1) {
            if (k.rmap.flushTlbBatchedPending(d, sd, sd.mm)) {
                return true;
            }
            walkPteRange(d, sd, from);
            return true;
        }
        // madvise_walk_vmas: a part of the range no VMA maps makes it -ENOMEM, the rest done
        int rc = mapped(mm, sd.start, sd.end) ? 0 : -ENOMEM;
        d.emit(new SyscallEvent.MadviseReturned(sd.cpu, sd.pid, sd.mm, sd.start, sd.end, "MADV_PAGEOUT", rc));
        d.emit(new PageTableEvent.TlbFlushFinished(sd.id, sd.framesFreed));
        return false;
    }

    /** The first address at or after where the walk stopped that a VMA of the range maps, or -1. */
    private static long nextWalk(Mm mm, Shootdown sd) {
        long from = sd.walkedTo;
        if (Long.compareUnsigned(from, sd.end) >= 0) {
            return -1;
        }
        Mm.Vma vma = mm.findVma(from);
        if (vma != null) {
            return from;
        }
        var next = mm.vmas.ceilingEntry(from);
        return next == null || Long.compareUnsigned(next.getKey(), sd.end) >= 0 ? -1 : next.getKey();
    }

    /** Whether VMAs map all of [start, end). */
    private static boolean mapped(Mm mm, long start, long end) {
        long va = start;
        while (Long.compareUnsigned(va, end) < 0) {
            Mm.Vma vma = mm.findVma(va);
            if (vma == null) {
                return false;
            }
            va = vma.end();
        }
        return true;
    }

    /**
     * madvise_cold_or_pageout_pte_range over [from, the end of its page table's span, of its VMA
     * or of the range), {@code from} in a VMA: for each present PTE whose folio is on the LRU (the model maps each
     * folio once), clear its accessed bit if the variant does and it is young
     * (tlb_remove_tlb_entry), and isolate the folio; then reclaim_pages.
     */
    private void walkPteRange(Decider d, Shootdown sd, long from) {
        Mm mm = k.state.mm(sd.mm);
        Mm.Vma vma = mm.findVma(from);
        long to = Math.min(Mm.Level.PTE.base(from) + Mm.Level.PTE.span(), sd.end);
        to = Math.min(to, vma.end());
        boolean clearsYoung = k.state.kernel.generic().madviseColdOrPageoutPteRange().pageoutClearsYoung();
        List<Long> isolated = new ArrayList<>();
        for (var e : mm.ptesIn(from, to).entrySet()) {
            Mm.Pte pte = e.getValue();
            if (!k.state.lru.containsKey(pte.frame())) {
                continue; // not on the LRU: isolated by another reclaim, or not an LRU folio
            }
            if (clearsYoung && pte.young()) {
                d.emit(new PageTableEvent.PteYoungCleared(sd.mm, e.getKey(), pte.frame(), pte.frameEpoch(), sd.id));
            }
            isolated.add(e.getKey());
        }
        d.emit(new PageTableEvent.ReclaimPagesCalled(sd.id, sd.mm, from, to, isolated));
    }
}
