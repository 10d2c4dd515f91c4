package dev.shootdown.event;

/**
 * What starts a shootdown, as {@code MmuGatherStarted.caller} and {@code TlbFlushStarted.caller}
 * name it: the system call, kernel path or thread whose PTE changes the shootdown flushes. The
 * model's coordinator emits these, and the audit and the reports compare against them here, in one
 * place. Not an enum: a log imported from a real kernel names whatever kernel function it saw
 * flush first (a kprobe's function), so the set stays open.
 */
public final class Callers {

    /** munmap(2): mm/mmap.c do_vmi_munmap, an mmu_gather. */
    public static final String MUNMAP = "munmap";
    /** mprotect(2): mm/mprotect.c do_mprotect_pkey, an mmu_gather. */
    public static final String MPROTECT = "mprotect";
    /** A permission upgrade on a present PTE: mm/memory.c ptep_set_access_flags from the fault path. */
    public static final String PTEP_SET_ACCESS_FLAGS = "ptep_set_access_flags";
    /** A reclaim pass of kswapd (mm/vmscan.c balance_pgdat): a batch across mms. */
    public static final String KSWAPD = "kswapd";
    /** A reclaim pass in an allocating task's context (mm/vmscan.c try_to_free_pages). */
    public static final String DIRECT_RECLAIM = "direct-reclaim";
    /** madvise(MADV_PAGEOUT): mm/madvise.c madvise_pageout, reclaim of the task's own range. */
    public static final String MADVISE_PAGEOUT = "madvise_pageout";
    /** A write to a memory cgroup's memory.reclaim: mm/memcontrol.c memory_reclaim. */
    public static final String MEMORY_RECLAIM = "memory_reclaim";

    private Callers() {}

    /**
     * Whether {@code caller}'s shootdown is a reclaim pass: folios unmapped by try_to_unmap_one and
     * freed by shrink_folio_list (mm/vmscan.c), its TLB flush batched (mm/rmap.c).
     */
    public static boolean reclaims(String caller) {
        return caller.equals(KSWAPD) || caller.equals(DIRECT_RECLAIM) || caller.equals(MADVISE_PAGEOUT)
                || caller.equals(MEMORY_RECLAIM);
    }
}
