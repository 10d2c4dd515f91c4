package dev.shootdown.mm;

import dev.shootdown.core.Decider;
import dev.shootdown.event.Callers;
import dev.shootdown.event.Kernel;
import dev.shootdown.event.PageTableEvent;
import dev.shootdown.event.SyscallEvent;
import dev.shootdown.scenario.TaskOp;

/**
 * mm/memcontrol.c: a write to a memory cgroup's {@code memory.reclaim} (memory_reclaim, cgroup v2,
 * 5.19 and later). It reclaims the bytes written from the cgroup's LRU by calling
 * try_to_free_mem_cgroup_pages (mm/vmscan.c) in the writer's context, until that much is reclaimed
 * or reclaim makes no more progress (MAX_RECLAIM_RETRIES, then -EAGAIN). try_to_free_mem_cgroup_pages
 * asks for max(nr_pages, SWAP_CLUSTER_MAX) pages; what it unmaps goes through shrink_folio_list
 * ({@link Vmscan}) with its flushes batched in current-&gt;tlb_ubc, exactly as a direct reclaim's.
 * Read in Debian's linux-source-6.1 (6.1.176): memory_reclaim, mm/memcontrol.c lines 6616-6656;
 * try_to_free_mem_cgroup_pages, mm/vmscan.c line 6764 ({@code .nr_to_reclaim = max(nr_pages,
 * SWAP_CLUSTER_MAX)}, line 6772). Every memcg limit reclaims this way, in the charging or writing
 * task (try_charge_memcg, memory.high's reclaim_high, writes to memory.high and memory.max): that
 * file never wakes kswapd.
 *
 * <p>The scenario's memory is the writer's memory cgroup: its LRU holds every mapped folio,
 * oldest first. The model runs one shrink_folio_list pass of at most SWAP_CLUSTER_MAX folios
 * (the most isolate_lru_folios takes at a time), so a write asks for at most that many pages
 * (the scenario reader refuses more). The kernel may split the same folios over several passes
 * (folio_check_references keeps a folio whose PTE was young on its first scan, and
 * do_try_to_free_pages raises the scan priority step by step): which pass frees a folio is the
 * LRU's aging, which the model does not simulate.
 */
final class Memcontrol {

    /** include/linux/swap.h. */
    static final int SWAP_CLUSTER_MAX = TaskOp.MemoryReclaim.MAX_PAGES;
    /** include/uapi/asm-generic/errno-base.h. */
    private static final int EAGAIN = 11;

    private final Linux k;

    Memcontrol(Linux k) {
        this.k = k;
    }

    /** memory_reclaim: try_to_free_mem_cgroup_pages in the writer's context. */
    void memoryReclaim(Decider d, SyscallEvent.MemoryReclaim w) {
        long id = k.state.nextShootdownId;
        d.emit(new PageTableEvent.TlbFlushStarted(id, Callers.MEMORY_RECLAIM, w.cpu(), "task" + w.pid(), w.pid(), w.mm(),
                0, 0, Kernel.TLB_FLUSH_ALL, ""));
        k.advance(d, k.state.shootdowns.get(id));
    }

    /** try_to_free_mem_cgroup_pages' sc.nr_to_reclaim: max(nr_pages, SWAP_CLUSTER_MAX). */
    static int nrToReclaim(int pages) {
        return Math.max(pages, SWAP_CLUSTER_MAX);
    }

    /** memory_reclaim returns: 0 once the pages written are reclaimed, else -EAGAIN (the LRU had no more). */
    void returned(Decider d, Shootdown sd) {
        int reclaimed = sd.gathered.size();
        int rc = reclaimed >= sd.pagesAsked ? 0 : -EAGAIN;
        d.emit(new SyscallEvent.MemoryReclaimReturned(sd.cpu, sd.pid, sd.currentMm, sd.pagesAsked, reclaimed, rc));
    }
}
