package dev.shootdown.mm;

import dev.shootdown.core.Decider;
import dev.shootdown.event.Kernel;
import dev.shootdown.event.PageTableEvent;

/**
 * mm/vmscan.c: shrink_folio_list, one reclaim pass over the LRU's oldest folios, run by kswapd0
 * (a kernel thread, current->mm == NULL) or directly in the allocating context; try_to_unmap
 * with TTU_BATCH_FLUSH for each folio, then, the anonymous folio being dirty in the swap cache,
 * try_to_unmap_flush_dirty before its pageout(); at the end try_to_unmap_flush, then the folios
 * are freed.
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

    /**
     * One step of a reclaim pass: the flush call in progress, the rest of the current folio's
     * try_to_unmap_one, the next folio, then try_to_unmap_flush; false when it waits or finished.
     */
    boolean step(Decider d, Shootdown sd) {
        MmState s = k.state;
        if (sd.call != null) {
            ArchTlb.Progress call = k.arch().stepCall(d, sd);
            if (call != ArchTlb.Progress.DONE) {
                return call == ArchTlb.Progress.EMITTED; // step again, or wait
            }
        }
        if (k.rmap.finishTryToUnmapOne(d, sd)) {
            return true;
        }
        if (sd.folio != null && k.rmap.tryToUnmapFlushDirty(d, sd)) {
            return true; // before pageout() of the folio just unmapped
        }
        if (!sd.passFlushed && sd.ptesChanged < s.scenario.memory().reclaimBatch() && !s.lru.isEmpty()) {
            k.rmap.tryToUnmapOne(d, sd);
            return true;
        }
        if (k.rmap.tryToUnmapFlush(d, sd)) {
            return true;
        }
        finishReclaim(d, sd);
        return false;
    }

    /**
     * shrink_folio_list after try_to_unmap_flush: the folios are freed. The allocation that
     * waited retries; kswapd goes on while free memory is below the high watermark.
     */
    private void finishReclaim(Decider d, Shootdown sd) {
        MmState s = k.state;
        for (Shootdown.Frame f : java.util.List.copyOf(sd.gathered)) {
            d.emit(new PageTableEvent.FrameFreed(f.frame(), f.epoch(), sd.id));
        }
        d.emit(new PageTableEvent.TlbFlushFinished(sd.id, sd.gathered.size()));
        if (!sd.waiter.isEmpty()) {
            k.memory.handleMmFault(d, sd.waiter, true);
        } else if (sd.comm.equals(MmState.KSWAPD_COMM) && sd.ptesChanged > 0 && s.freeCount() < s.scenario.memory().high()
                && !s.lru.isEmpty()) {
            startReclaim(d, "kswapd", sd.cpu, MmState.KSWAPD_COMM, -1, 0, "");
        }
    }
}
