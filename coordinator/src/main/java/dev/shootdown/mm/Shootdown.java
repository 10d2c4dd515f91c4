package dev.shootdown.mm;

import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * One flush in flight, with an id: what it changed, what it waits for (IPI acks, TLBI
 * completions, the synchronous secondary-TLB hook) and what it will free. Built and changed only
 * by {@link MmState#evolve}, so a coordinator rebuilt from the log resumes it where it was.
 */
final class Shootdown {

    enum Kind {
        /** munmap / mprotect: an mmu_gather flushed in tlb_finish_mmu. */
        GATHER,
        /** flush_tlb_page from ptep_set_access_flags (arm64, dirty upgrade). */
        FLUSH_PAGE,
        /** a reclaim pass whose flush is batched in current->tlb_ubc. */
        RECLAIM
    }

    /** A frame (and its allocation epoch) the shootdown frees once its flushes completed. */
    record Frame(long frame, long epoch) {}

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
    final Set<String> hookCallers = new LinkedHashSet<>();
    final TreeSet<String> batchCpumask = new TreeSet<>();
    int ptesChanged;
    long flushStart;
    long flushEnd;
    boolean cpuFlushIssued;
    boolean batchFlushIssued;
    boolean fullFlush;
    boolean oopsed;

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
    }

    /** Whether it waits in the synchronous secondary-TLB hook. */
    boolean waiting() {
        return !pendingSecondary.isEmpty();
    }
}
