package dev.shootdown.event;

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

    /** The VMAs in [start, end) were removed (detached before the page tables are zapped). */
    record VmaUnmapped(long mm, long start, long end) implements PageTableEvent {}

    /** The page allocator handed out {@code frame}; this is its {@code epoch}-th allocation. */
    record FrameAllocated(long frame, long epoch) implements PageTableEvent {}

    /** set_pte_at: {@code va} of {@code mm} now maps {@code frame}. */
    record PteSet(long mm, long va, long frame, long frameEpoch, boolean writable) implements PageTableEvent {}

    /** ptep_get_and_clear: {@code va} of {@code mm} no longer maps {@code frame}. */
    record PteCleared(long mm, long va, long frame, long frameEpoch, long shootdownId) implements PageTableEvent {}

    /**
     * tlb_gather_mmu: a shootdown begins. {@code caller} is the operation ("munmap"), run by
     * task {@code pid} on {@code cpu}; [start, end) is the range it changes.
     */
    record MmuGatherStarted(long shootdownId, long mm, long start, long end, String caller, String cpu, int pid)
            implements PageTableEvent {}

    /** tlb_finish_mmu returned: every flush of the shootdown completed and its pages are freed. */
    record MmuGatherFinished(long shootdownId, long mm, int framesFreed) implements PageTableEvent {}

    /**
     * inc_mm_tlb_gen: the mm's tlb_gen is now {@code tlbGen}; the flush for it (struct
     * flush_tlb_info) covers [start, end), end -1UL meaning the whole mm.
     */
    record MmTlbGenIncremented(long mm, long tlbGen, long start, long end, long shootdownId) implements PageTableEvent {}

    /** The frame went back to the page allocator (free_pages_and_swap_cache after the flush). */
    record FrameFreed(long frame, long epoch, long shootdownId) implements PageTableEvent {}
}
