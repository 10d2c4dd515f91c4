package dev.shootdown.mm;

import dev.shootdown.core.Decider;

/**
 * What the generic mm code calls in the architecture's TLB code (arch/x86/mm/tlb.c,
 * arch/arm64/include/asm/tlbflush.h). Each step emits events and may leave the shootdown waiting
 * for acknowledgements; the step functions return true when they did something.
 */
interface ArchTlb {

    /** tlb_flush(tlb) from tlb_finish_mmu: the CPU side of a gather's flush. */
    void tlbFlush(Decider d, Shootdown sd);

    /** What the flush does once the CPUs acknowledged it; false when nothing is left to do. */
    boolean afterTlbFlush(Decider d, Shootdown sd);

    /** arch_tlbbatch_add_pending(batch, mm, uaddr) for the page at {@code va} of {@code mm}. */
    void archTlbbatchAddPending(Decider d, Shootdown sd, long mm, long va);

    /** arch_tlbbatch_flush(batch) from try_to_unmap_flush. */
    void archTlbbatchFlush(Decider d, Shootdown sd);

    /** What the batch flush does once the CPUs acknowledged it; false when nothing is left to do. */
    boolean afterTlbbatchFlush(Decider d, Shootdown sd);

    /** ptep_set_access_flags on a write fault: make the PTE writable, and flush if this architecture does. */
    void ptepSetAccessFlags(Decider d, String key, long mm, long va, Mm.Pte pte);

    /** One step of flush_tlb_page from ptep_set_access_flags; false when it now waits or is finished. */
    boolean stepFlushPage(Decider d, Shootdown sd);

    /** Whether the initiator of a flush waits for other CPUs' IPI handlers (csd_lock_wait). */
    boolean waitsForIpis();
}
