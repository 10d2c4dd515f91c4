package dev.shootdown.mm;

import dev.shootdown.core.Decider;
import dev.shootdown.event.Callers;
import dev.shootdown.event.Kernel;
import dev.shootdown.event.PageTableEvent;
import java.util.Map;

/**
 * mm/vmscan.c: shrink_folio_list, one reclaim pass over a list of folios: the LRU's oldest, run
 * by kswapd0 (a kernel thread, current-&gt;mm == NULL), directly in the allocating context, or by
 * try_to_free_mem_cgroup_pages for a write to memory.reclaim ({@link Memcontrol}), or
 * those madvise(MADV_PAGEOUT) isolated and handed to reclaim_pages in the caller's context.
 * try_to_unmap with TTU_BATCH_FLUSH for each folio, then, the anonymous folio being dirty in the
 * swap cache, try_to_unmap_flush_dirty before its pageout(); at the end try_to_unmap_flush, then
 * the folios are freed.
 */
final class Vmscan {

    private final Linux k;

    Vmscan(Linux k) {
        this.k = k;
    }

    /** shrink_folio_list: a reclaim pass in the context of {@code comm} on {@code cpu}. */
    void startReclaim(Decider d, String caller, String cpu, String comm, int pid, long currentMm, String waiter) {
        long id = k.state.nextShootdownId;
        d.emit(new PageTableEvent.TlbFlushStarted(id, caller, cpu, comm, pid, currentMm, 0, 0, Kernel.TLB_FLUSH_ALL, waiter));
        k.advance(d, k.state.shootdowns.get(id));
    }

    boolean kswapdRunning() {
        for (Shootdown sd : k.state.shootdowns.values()) {
            if (sd.kind == Shootdown.Kind.RECLAIM && sd.comm.equals(MmState.KSWAPD_COMM)) {
                return true;
            }
        }
        return false;
    }

    /** One step of a kswapd or direct reclaim pass: false when it waits or finished. */
    boolean step(Decider d, Shootdown sd) {
        ArchTlb.Progress p = shrinkFolioList(d, sd);
        if (p != ArchTlb.Progress.DONE) {
            return p == ArchTlb.Progress.EMITTED;
        }
        finishReclaim(d, sd);
        return false;
    }

    /**
     * One step of shrink_folio_list over {@code sd}'s folios: the flush call in progress, the rest
     * of the current folio's try_to_unmap_one, try_to_unmap_flush_dirty before its pageout, the
     * next folio, then try_to_unmap_flush. DONE once the pass has nothing left but to free its
     * folios.
     */
    ArchTlb.Progress shrinkFolioList(Decider d, Shootdown sd) {
        if (sd.call != null) {
            ArchTlb.Progress call = k.arch().stepCall(d, sd);
            if (call != ArchTlb.Progress.DONE) {
                return call;
            }
        }
        if (k.rmap.finishTryToUnmapOne(d, sd)) {
            return ArchTlb.Progress.EMITTED;
        }
        if (sd.folio != null && k.rmap.tryToUnmapFlushDirty(d, sd)) {
            return ArchTlb.Progress.EMITTED; // before pageout() of the folio just unmapped
        }
        Map.Entry<Long, MmState.Folio> next = sd.passFlushed ? null : nextFolio(sd);
        if (next != null) {
            k.rmap.tryToUnmapOne(d, sd, next.getKey(), next.getValue());
            return ArchTlb.Progress.EMITTED;
        }
        if (k.rmap.tryToUnmapFlush(d, sd)) {
            return ArchTlb.Progress.EMITTED;
        }
        return ArchTlb.Progress.DONE;
    }

    /**
     * The next folio of the pass (frame -&gt; where it is mapped), or null: the LRU's oldest while
     * the pass has unmapped fewer than its batch; for madvise, the first folio it isolated that is
     * still mapped where it was.
     */
    private Map.Entry<Long, MmState.Folio> nextFolio(Shootdown sd) {
        MmState s = k.state;
        if (sd.kind == Shootdown.Kind.PAGEOUT) {
            Mm mm = s.mm(sd.mm);
            for (var e : sd.isolated.entrySet()) {
                Mm.Pte pte = mm.ptes.get(e.getKey());
                if (pte != null && pte.frame() == e.getValue()) {
                    return Map.entry(e.getValue(), new MmState.Folio(sd.mm, e.getKey()));
                }
            }
            return null;
        }
        int batch = sd.pagesAsked > 0 ? Memcontrol.nrToReclaim(sd.pagesAsked) : s.scenario.memory().reclaimBatch();
        if (sd.ptesChanged < batch && !s.lru.isEmpty()) {
            return s.lru.entrySet().iterator().next();
        }
        return null;
    }

    /** shrink_folio_list's end, after try_to_unmap_flush: the folios it unmapped and has not freed yet are freed. */
    void freeFolios(Decider d, Shootdown sd) {
        for (Shootdown.Frame f : java.util.List.copyOf(sd.gathered.subList(sd.framesFreed, sd.gathered.size()))) {
            d.emit(new PageTableEvent.FrameFreed(f.frame(), f.epoch(), sd.id));
        }
    }

    /**
     * shrink_folio_list after try_to_unmap_flush: the folios are freed. The allocation that
     * waited retries; kswapd goes on while free memory is below the high watermark.
     */
    private void finishReclaim(Decider d, Shootdown sd) {
        MmState s = k.state;
        freeFolios(d, sd);
        if (sd.pagesAsked > 0) {
            k.memcontrol.returned(d, sd);
        }
        d.emit(new PageTableEvent.TlbFlushFinished(sd.id, sd.gathered.size()));
        if (!sd.waiter.isEmpty()) {
            k.memory.handleMmFault(d, sd.waiter, true);
        } else if (sd.comm.equals(MmState.KSWAPD_COMM) && sd.ptesChanged > 0 && s.freeCount() < s.scenario.memory().high()
                && !s.lru.isEmpty()) {
            startReclaim(d, Callers.KSWAPD, sd.cpu, MmState.KSWAPD_COMM, -1, 0, "");
        }
    }
}
