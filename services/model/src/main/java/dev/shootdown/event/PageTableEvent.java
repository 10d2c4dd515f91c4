package dev.shootdown.event;

import java.util.List;

/**
 * The kernel's mm as the coordinator changes it: address spaces, VMAs, PTEs, tlb_gen, frames.
 *
 * <p>A frame's {@code epoch} counts its allocations, so a translation names exactly which
 * allocation of a frame it points to; an access through it after that allocation was freed is a
 * use after free even if the frame was reused since.
 */
public sealed interface PageTableEvent extends Event {

    @Override
    default Family family() {
        return Family.PAGETABLE;
    }

    /** An address space (struct mm_struct) exists; its tlb_gen starts at 0 (init_new_context). */
    record MmCreated(long mm) implements PageTableEvent {}

    /** A VMA [start, end) was mapped. */
    record VmaMapped(long mm, long start, long end, boolean writable) implements PageTableEvent {}

    /** mprotect_fixup: the VMAs in [start, end) are now writable or read-only (vm_flags). */
    record VmaProtectionChanged(long mm, long start, long end, boolean writable) implements PageTableEvent {}

    /** The VMAs in [start, end) were removed (detached before the page tables are zapped). */
    record VmaUnmapped(long mm, long start, long end) implements PageTableEvent {}

    /** The page allocator handed out {@code frame}; this is its {@code epoch}-th allocation. */
    record FrameAllocated(long frame, long epoch) implements PageTableEvent {}

    /** set_pte_at: {@code va} of {@code mm} now maps {@code frame}. */
    record PteSet(long mm, long va, long frame, long frameEpoch, boolean writable) implements PageTableEvent {}

    /** ptep_get_and_clear: {@code va} of {@code mm} no longer maps {@code frame}. */
    record PteCleared(long mm, long va, long frame, long frameEpoch, long shootdownId) implements PageTableEvent, InShootdown {}

    /**
     * madvise_cold_or_pageout_pte_range, where the kernel clears the accessed bit of a young PTE
     * (ptep_get_and_clear_full, pte_mkold, set_pte_at, tlb_remove_tlb_entry: 6.1 for MADV_PAGEOUT
     * too, 6.10 on only for MADV_COLD): {@code va} of {@code mm} still maps {@code frame}, now
     * old, and the shootdown's mmu_gather must flush it.
     */
    record PteYoungCleared(long mm, long va, long frame, long frameEpoch, long shootdownId)
            implements PageTableEvent, InShootdown {}

    /**
     * mm/vmscan.c reclaim_pages(folio_list), called by madvise_cold_or_pageout_pte_range once it
     * walked [start, end) of {@code mm} (one page table's span within one VMA), with the folios
     * it isolated from the LRU there (folio_isolate_lru), at {@code vas} in address order:
     * shrink_folio_list reclaims them in the caller's context.
     */
    record ReclaimPagesCalled(long shootdownId, long mm, long start, long end, List<Long> vas)
            implements PageTableEvent, InShootdown {
        public ReclaimPagesCalled {
            vas = List.copyOf(vas);
        }
    }

    /**
     * tlb_gather_mmu: a shootdown begins. {@code caller} is the operation ("munmap"), run by
     * task {@code pid} on {@code cpu}; [start, end) is the range it changes.
     */
    record MmuGatherStarted(long shootdownId, long mm, long start, long end, String caller, String cpu, int pid)
            implements PageTableEvent, InShootdown {}

    /** tlb_finish_mmu returned: every flush of the shootdown completed and its pages are freed. */
    record MmuGatherFinished(long shootdownId, long mm, int framesFreed) implements PageTableEvent, InShootdown {}

    /**
     * inc_mm_tlb_gen: the mm's tlb_gen is now {@code tlbGen}; the flush for it (struct
     * flush_tlb_info) covers [start, end), end -1UL meaning the whole mm.
     */
    record MmTlbGenIncremented(long mm, long tlbGen, long start, long end, long shootdownId) implements PageTableEvent, InShootdown {}

    /** The frame went back to the page allocator (free_pages_and_swap_cache after the flush). */
    record FrameFreed(long frame, long epoch, long shootdownId) implements PageTableEvent, InShootdown {}

    /**
     * The protection of a present PTE changed: ptep_set_access_flags on a write fault
     * (write-protect reuse: {@code writable} true), or change_pte_range under mprotect
     * ({@code writable} false). {@code shootdownId} is the flush it needs, -1 when the
     * architecture needs none (x86 on an upgrade).
     */
    record PteProtectionChanged(long mm, long va, long frame, long frameEpoch, boolean writable, String caller,
            long shootdownId) implements PageTableEvent, InShootdown {}

    /**
     * A TLB flush that is not an mmu_gather begins: flush_tlb_page from ptep_set_access_flags,
     * or a reclaim pass (shrink_folio_list with TTU_BATCH_FLUSH) whose flush is batched in
     * current->tlb_ubc. {@code currentMm} is current->mm of the context it runs in (0: a kernel
     * thread such as kswapd); {@code waiter} names the fault that waits for it, or "".
     */
    record TlbFlushStarted(long shootdownId, String caller, String cpu, String comm, int pid, long currentMm, long mm,
            long start, long end, String waiter) implements PageTableEvent, InShootdown {}

    /** The flush (and, for reclaim, the freeing of its folios) completed. */
    record TlbFlushFinished(long shootdownId, int framesFreed) implements PageTableEvent, InShootdown {}

    /**
     * set_tlb_ubc_flush_pending -> arch_tlbbatch_add_pending: the unmap of {@code va} in
     * {@code mm} joined current's batched flush; mm->tlb_flush_batched is set.
     */
    record TlbBatchAddPending(long shootdownId, long mm, long va) implements PageTableEvent, InShootdown {}

    /**
     * try_to_unmap_flush -> arch_tlbbatch_flush: the batch's CPU flush is issued, over the CPUs
     * OR-ed into the batch cpumask (x86), or completed with DSB ISH (arm64).
     */
    record TlbBatchFlushStarted(long shootdownId, List<String> cpumask) implements PageTableEvent, InShootdown {
        public TlbBatchFlushStarted {
            cpumask = List.copyOf(cpumask);
        }
    }

    /**
     * flush_tlb_batched_pending(mm): a path about to change {@code mm}'s PTEs found a batched
     * flush pending (mm->tlb_flush_batched: pending != flushed) and calls
     * arch_flush_tlb_batched_pending before it changes any: a whole-mm flush (x86), or dsb(ish)
     * (arm64). The mm counts as flushed from here.
     */
    record TlbBatchedPendingFlushed(long mm, long shootdownId) implements PageTableEvent, InShootdown {}

    /**
     * An architecture's TLB flush function was entered, with its arguments, as a kprobe on it
     * shows them: {@code function} is flush_tlb_mm_range (x86; flush_tlb_mm and flush_tlb_page
     * are it with (0, TLB_FLUSH_ALL) and one page), __flush_tlb_range, flush_tlb_mm or
     * flush_tlb_page (arm64), or arch_tlbbatch_flush; {@code caller} is the generic code that
     * called it (tlb_flush_mmu_tlbonly, flush_tlb_batched_pending, ptep_clear_flush,
     * try_to_unmap_flush, ptep_set_access_flags). [start, end) is as passed, end -1UL meaning
     * the whole mm; {@code strideShift} is log2 of the stride (x86 stride_shift, arm64 stride:
     * 12 for pages, 21 when only PTE tables were freed); {@code freedTables} is the mmu_gather's
     * freed_tables (x86 flush_tlb_mm passes true).
     */
    record TlbFlushCalled(long shootdownId, String cpu, String caller, String function, long mm, long start, long end,
            int strideShift, boolean freedTables) implements PageTableEvent, InShootdown {}

    /**
     * free_pgtables freed a page-table page of {@code mm}: the PTE table of the 2 MiB at
     * {@code addr} ({@code level} "pte"), the PMD table of the 1 GiB ("pmd") or the PUD table of
     * the 512 GiB ("pud"). pte_free_tlb and its kin set the mmu_gather's freed_tables and add
     * [addr, addr + PAGE_SIZE) to its range.
     */
    record PageTableFreed(long mm, String level, long addr, long shootdownId) implements PageTableEvent, InShootdown {}

    /**
     * The page allocator found free memory at or below a watermark: {@code action} is
     * "wakeup_kswapd" (low) or "__alloc_pages_direct_reclaim" (min), for the allocation by
     * {@code waiter}.
     */
    record MemoryPressure(long freeFrames, String action, String waiter) implements PageTableEvent {}
}
