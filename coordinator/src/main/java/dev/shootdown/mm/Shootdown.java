package dev.shootdown.mm;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * One flush in flight, with an id: what it changed, what it waits for (IPI acks, TLBI
 * completions, the synchronous secondary-TLB hook) and what it will free. Built and changed only
 * by {@link MmState#evolve}, so a coordinator rebuilt from the log resumes it where it was: what
 * the kernel code does next is read from this state ({@link Linux#advance}).
 */
final class Shootdown {

    enum Kind {
        /** munmap / mprotect: an mmu_gather (tlb_gather_mmu .. tlb_finish_mmu). */
        GATHER,
        /** flush_tlb_page from ptep_set_access_flags (arm64, dirty upgrade). */
        FLUSH_PAGE,
        /** a reclaim pass (shrink_folio_list) whose flush may be batched in current->tlb_ubc. */
        RECLAIM,
        /**
         * madvise(MADV_PAGEOUT): an mmu_gather over the range (its young PTEs, where the variant
         * clears them) around reclaim_pages of the folios it isolated, one page table at a time.
         */
        PAGEOUT
    }

    /** A frame (and its allocation epoch) the shootdown frees once its flushes completed. */
    record Frame(long frame, long epoch) {}

    /**
     * An architecture TLB flush function in progress (tlb-flush-called): its arguments, whether
     * its CPU side was issued (IPIs sent, TLBIs broadcast, dsb(ish) begun) and whether its hook
     * and, for a call from tlb_flush_mmu_tlbonly, that function's own hook were called.
     */
    static final class Call {
        final String caller;
        final String function;
        final long mm;
        final long start;
        final long end;
        final int strideShift;
        final boolean freedTables;
        boolean issued;
        boolean hookCalled;
        boolean notifierCalled;

        Call(String caller, String function, long mm, long start, long end, int strideShift, boolean freedTables) {
            this.caller = caller;
            this.function = function;
            this.mm = mm;
            this.start = start;
            this.end = end;
            this.strideShift = strideShift;
            this.freedTables = freedTables;
        }
    }

    /**
     * The folio try_to_unmap_one works on (reclaim): whether its PTE was dirty, whether its flush
     * was deferred or done, and the hooks it called.
     */
    static final class Folio {
        final long mm;
        final long va;
        final boolean dirty;
        boolean deferred;
        boolean flushCalled;
        final Set<String> hooks = new HashSet<>();

        Folio(long mm, long va, boolean dirty) {
            this.mm = mm;
            this.va = va;
            this.dirty = dirty;
        }
    }

    final long id;
    final Kind kind;
    final String caller;
    final String cpu;
    final String comm;
    final int pid;
    final long currentMm;
    final long mm;
    final long start;
    final long end;
    final String waiter;
    final List<Frame> gathered = new ArrayList<>();
    final Set<Long> mmsChanged = new TreeSet<>();
    final Map<String, Integer> pendingCpus = new TreeMap<>();
    final Set<String> pendingSecondary = new TreeSet<>();
    /** How many times each call site called the hook in this shootdown. */
    final Map<String, Integer> hookCalls = new HashMap<>();
    /** x86: the CPUs arch_tlbbatch_add_pending OR-ed into the batch's cpumask. */
    final TreeSet<String> batchCpumask = new TreeSet<>();
    int ptesChanged;
    boolean oopsed;
    Call call;
    /** The simulated time of the coordinator's last event of this shootdown: the watchdog's reference. */
    long lastProgressNs;

    // The mmu_gather (include/asm-generic/tlb.h struct mmu_gather): its range, what it cleared.
    /** The VMAs a munmap detached, in address order. */
    final List<Mm.Vma> detached = new ArrayList<>();
    long tlbStart;
    long tlbEnd;
    boolean tlbHasRange;
    boolean freedTables;
    boolean clearedPtes;
    boolean clearedPmds;
    boolean clearedPuds;
    boolean clearedP4ds;

    // Reclaim (current->tlb_ubc).
    Folio folio;
    /** tlb_ubc->flush_required: a page was added to the batch. */
    boolean flushRequired;
    /** tlb_ubc->writable: a page added to the batch had a dirty PTE. */
    boolean writable;
    /** arch_tlbbatch_flush flushed the batch, and nothing was added to it since. */
    boolean batchFlushCalled;
    /** the pass's own try_to_unmap_flush was called: the pass unmaps nothing more. */
    boolean passFlushed;
    /** Frames this shootdown freed (FrameFreed): the first {@code framesFreed} of {@link #gathered}. */
    int framesFreed;

    /** A write to memory.reclaim: the pages it asked for (0 for any other reclaim). */
    int pagesAsked;

    // madvise(MADV_PAGEOUT).
    /** How far madvise_cold_or_pageout_pte_range walked: [start, walkedTo) is done. */
    long walkedTo;
    /** The folios the last walk isolated for reclaim_pages: address -&gt; the frame mapped there then. */
    final Map<Long, Long> isolated = new TreeMap<>(Long::compareUnsigned);

    Shootdown(long id, Kind kind, String caller, String cpu, String comm, int pid, long currentMm, long mm, long start,
            long end, String waiter) {
        this.id = id;
        this.kind = kind;
        this.caller = caller;
        this.cpu = cpu;
        this.comm = comm;
        this.pid = pid;
        this.currentMm = currentMm;
        this.mm = mm;
        this.start = start;
        this.end = end;
        this.waiter = waiter;
        this.walkedTo = start;
    }

    /** Whether it waits in the synchronous secondary-TLB hook. */
    boolean waiting() {
        return !pendingSecondary.isEmpty();
    }

    int hookCalls(String caller) {
        return hookCalls.getOrDefault(caller, 0);
    }

    /** __tlb_adjust_range: the gather's range grows to cover [start, end). */
    void adjustRange(long start, long end) {
        if (!tlbHasRange) {
            tlbStart = start;
            tlbEnd = end;
            tlbHasRange = true;
        } else {
            tlbStart = Math.min(tlbStart, start);
            tlbEnd = Math.max(tlbEnd, end);
        }
    }

    /** __tlb_reset_range: after a flush of the gather, nothing is left to flush. */
    void resetRange() {
        tlbHasRange = false;
        tlbStart = 0;
        tlbEnd = 0;
        freedTables = false;
        clearedPtes = false;
        clearedPmds = false;
        clearedPuds = false;
        clearedP4ds = false;
    }

    /** tlb_get_unmap_shift: the stride of the gather's flush, from the smallest level it cleared. */
    int unmapShift() {
        if (clearedPtes) {
            return 12;
        }
        if (clearedPmds) {
            return 21;
        }
        if (clearedPuds) {
            return 30;
        }
        return clearedP4ds ? 39 : 12;
    }
}
