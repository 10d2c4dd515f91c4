package dev.shootdown.mm;

import dev.shootdown.core.Decider;
import dev.shootdown.event.Kernel;
import dev.shootdown.event.PageTableEvent;
import dev.shootdown.kernel.KernelVariant;
import dev.shootdown.kernel.Site;

/**
 * mm/rmap.c: try_to_unmap_one with TTU_BATCH_FLUSH (should_defer_flush: clear the PTE and
 * set_tlb_ubc_flush_pending, or ptep_clear_flush now; 6.5's mmu_notifier_invalidate_range
 * calls), try_to_unmap_flush, and flush_tlb_batched_pending before another path changes an mm
 * with a batched flush pending.
 */
final class Rmap {

    private final Linux k;

    Rmap(Linux k) {
        this.k = k;
    }

    /**
     * try_to_unmap_one for the folio of {@code frame}, mapped at {@code folio}, under the
     * page-table lock: if should_defer_flush, ptep_get_and_clear and set_tlb_ubc_flush_pending
     * -&gt; arch_tlbbatch_add_pending; otherwise ptep_clear_flush, whose flush
     * {@link #finishTryToUnmapOne} calls.
     */
    void tryToUnmapOne(Decider d, Shootdown sd, long frame, MmState.Folio folio) {
        Mm.Pte pte = k.state.mm(folio.mm()).ptes.get(folio.va());
        d.emit(new PageTableEvent.PteCleared(folio.mm(), folio.va(), frame, pte.frameEpoch(), sd.id));
        if (k.arch().archTlbbatchShouldDefer(sd, folio.mm())) {
            d.emit(new PageTableEvent.TlbBatchAddPending(sd.id, folio.mm(), folio.va()));
            k.arch().archTlbbatchAddPending(d, sd, folio.mm(), folio.va());
        }
    }

    /**
     * The rest of try_to_unmap_one for the folio just unmapped: ptep_clear_flush's flush_tlb_page
     * when the flush was not deferred, then the variant's hook under the page-table lock (6.5:
     * mmu_notifier_invalidate_range for the page, after set_pte_at of the swap entry) and at
     * mmu_notifier_invalidate_range_end. True when it emitted something.
     */
    boolean finishTryToUnmapOne(Decider d, Shootdown sd) {
        Shootdown.Folio f = sd.folio;
        if (f == null) {
            return false;
        }
        if (!f.deferred && !f.flushCalled) {
            k.arch().flushTlbPage(d, sd, "ptep_clear_flush", f.mm, f.va);
            return true;
        }
        KernelVariant.Generic g = k.state.kernel.generic();
        long end = f.va + Kernel.PAGE_SIZE;
        Site underPtl = g.tryToUnmapOne();
        if (underPtl.calls() && !f.hooks.contains(MmState.TRY_TO_UNMAP_ONE)) {
            k.mmuNotifier.hook(d, sd, MmState.TRY_TO_UNMAP_ONE, underPtl.hook(), f.mm, f.va, end);
            return true;
        }
        Site rangeEnd = g.invalidateRangeEnd();
        if (rangeEnd.calls() && !f.hooks.contains(MmState.RANGE_END)) {
            k.mmuNotifier.hook(d, sd, MmState.RANGE_END, rangeEnd.hook(), f.mm, f.va, end);
            return true;
        }
        return false;
    }

    /** try_to_unmap_flush: arch_tlbbatch_flush if anything was deferred (tlb_ubc->flush_required); true when it called it. */
    boolean tryToUnmapFlush(Decider d, Shootdown sd) {
        return flush(d, sd, MmState.TRY_TO_UNMAP_FLUSH);
    }

    /**
     * try_to_unmap_flush_dirty (mm/rmap.c): try_to_unmap_flush only if a PTE added to the batch was
     * dirty (tlb_ubc->writable: set_tlb_ubc_flush_pending's pte_dirty(pteval)), so no writable
     * TLB entry survives while the folio is written out. shrink_folio_list (mm/vmscan.c) calls it
     * for each dirty folio before pageout(); an anonymous folio is dirty once add_to_swap gave it a
     * swap slot, so for every folio the model reclaims. True when it called arch_tlbbatch_flush.
     */
    boolean tryToUnmapFlushDirty(Decider d, Shootdown sd) {
        return sd.writable && flush(d, sd, MmState.TRY_TO_UNMAP_FLUSH_DIRTY);
    }

    private boolean flush(Decider d, Shootdown sd, String caller) {
        if (!sd.flushRequired || sd.batchFlushCalled) {
            return false; // nothing added to the batch since its last flush
        }
        k.arch().archTlbbatchFlush(d, sd, caller);
        return true;
    }

    /**
     * flush_tlb_batched_pending(mm): a batched flush of the mm is pending (pending != flushed in
     * mm-&gt;tlb_flush_batched), so arch_flush_tlb_batched_pending before any PTE changes. True
     * when that called a flush the caller waits for.
     */
    boolean flushTlbBatchedPending(Decider d, Shootdown sd, long mm) {
        if (!k.state.mm(mm).batchedFlushPending()) {
            return false;
        }
        return k.arch().archFlushTlbBatchedPending(d, sd, mm);
    }
}
