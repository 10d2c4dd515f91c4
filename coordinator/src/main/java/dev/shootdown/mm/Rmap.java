package dev.shootdown.mm;

import dev.shootdown.core.Decider;
import dev.shootdown.event.Kernel;
import dev.shootdown.event.PageTableEvent;

/**
 * mm/rmap.c: try_to_unmap_one with TTU_BATCH_FLUSH (set_tlb_ubc_flush_pending), and
 * flush_tlb_batched_pending before another path changes an mm with a batched flush pending.
 */
final class Rmap {

    private final Linux k;

    Rmap(Linux k) {
        this.k = k;
    }

    /**
     * try_to_unmap_one with TTU_BATCH_FLUSH for the LRU's oldest folio: clear the PTE under the
     * page-table lock, then set_tlb_ubc_flush_pending -&gt; arch_tlbbatch_add_pending.
     */
    void tryToUnmapOne(Decider d, Shootdown sd) {
        MmState s = k.state;
        var oldest = s.lru.entrySet().iterator().next();
        long frame = oldest.getKey();
        MmState.Folio folio = oldest.getValue();
        Mm.Pte pte = s.mm(folio.mm()).ptes.get(folio.va());
        d.emit(new PageTableEvent.PteCleared(folio.mm(), folio.va(), frame, pte.frameEpoch(), sd.id));
        d.emit(new PageTableEvent.TlbBatchAddPending(sd.id, folio.mm(), folio.va()));
        k.arch().archTlbbatchAddPending(d, sd, folio.mm(), folio.va());
        if (s.variant == KernelVariant.LINUX_6_5) {
            // try_to_unmap_one's mmu_notifier_invalidate_range_end for this page's range.
            k.mmuNotifier.call(d, sd, "mmu_notifier_invalidate_range_end", folio.mm(), folio.va(),
                    folio.va() + Kernel.PAGE_SIZE);
        }
    }

    /**
     * flush_tlb_batched_pending: a batched reclaim flush of this mm has not completed, so before
     * changing its PTEs the whole mm is flushed; modelled by widening this gather's flush to the
     * whole mm.
     */
    void maybeFlushTlbBatchedPending(Decider d, long mm, long id) {
        if (k.state.mm(mm).batchedPending > 0) {
            d.emit(new PageTableEvent.TlbBatchedPendingFlushed(mm, id));
        }
    }
}
