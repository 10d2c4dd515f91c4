package dev.shootdown.mm;

import dev.shootdown.core.Decider;
import dev.shootdown.event.Callers;
import dev.shootdown.event.FaultEvent;
import dev.shootdown.event.NodeIds;
import dev.shootdown.event.PageTableEvent;
import dev.shootdown.scenario.Scenario;

/**
 * mm/page_alloc.c: the free list (the last freed frame is handed out first, a hot page) and
 * __alloc_pages under a zone's watermarks: at or below low, wakeup_kswapd; at or below min,
 * __alloc_pages_direct_reclaim in the allocating context; out of memory, the OOM killer.
 */
final class PageAlloc {

    private final Linux k;

    PageAlloc(Linux k) {
        this.k = k;
    }

    /** The frame the next allocation gets: the last one freed, or a never-used one. */
    long nextFrame() {
        MmState s = k.state;
        return s.freeFrames.isEmpty() ? s.nextPfn : s.freeFrames.peekFirst();
    }

    /**
     * Watermark checks before an allocation for the fault {@code key}. False when the
     * allocation waits on direct reclaim or failed (the fault was answered).
     */
    boolean maybeAllocateUnderPressure(Decider d, String key, boolean afterReclaim) {
        MmState s = k.state;
        Scenario.Memory mem = s.scenario.memory();
        long free = s.freeCount();
        String kswapdCpu = s.scenario.kswapd() == null ? null : k.smp.schedulableCpu(NodeIds.cpu(s.scenario.kswapd().cpu()));
        if (free <= mem.low() && kswapdCpu != null && !s.kswapdDead && !k.vmscan.kswapdRunning() && !s.lru.isEmpty()) {
            d.emit(new PageTableEvent.MemoryPressure(free, "wakeup_kswapd", key));
            k.vmscan.startReclaim(d, Callers.KSWAPD, kswapdCpu, MmState.KSWAPD_COMM, -1, 0, "");
        }
        if (!afterReclaim && free <= mem.min() && !s.lru.isEmpty()) {
            d.emit(new PageTableEvent.MemoryPressure(free, "__alloc_pages_direct_reclaim", key));
            Memory.Context ctx = k.memory.faultContext(s.pendingFaults.get(key));
            k.vmscan.startReclaim(d, Callers.DIRECT_RECLAIM, ctx.cpu(), ctx.comm(), ctx.pid(), ctx.currentMm(), key);
            return false;
        }
        if (free <= 0) {
            // VM_FAULT_OOM: the OOM killer kills the faulting task; a device's request fails.
            if (s.pendingFaults.get(key) instanceof FaultEvent.PageFaultRaised) {
                k.memory.killWaiter(d, key);
            } else {
                k.memory.respond(d, key, false);
            }
            return false;
        }
        return true;
    }
}
