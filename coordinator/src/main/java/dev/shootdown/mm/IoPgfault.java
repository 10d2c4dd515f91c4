package dev.shootdown.mm;

import dev.shootdown.core.Decider;
import dev.shootdown.event.NodeIds;
import java.util.List;

/**
 * drivers/iommu/io-pgfault.c: device page requests are handled by a work item on the IOPF
 * workqueue, a kernel thread (current->mm == NULL) that runs once a CPU can take it.
 */
final class IoPgfault {

    private final Linux k;

    IoPgfault(Linux k) {
        this.k = k;
    }

    /**
     * Where the IOPF work item runs: its workqueue is unbound (iopf_queue_alloc, WQ_UNBOUND), so
     * on cpu0 unless that CPU cannot schedule it ({@link Smp#schedulableCpu}); null while no CPU
     * can.
     */
    String cpu() {
        return k.smp.schedulableCpu(NodeIds.cpu(0));
    }

    /** Device faults whose IOPF work waits for a CPU ({@link Memory#handleMmFault}) run once one can take it. */
    void maybeRunQueued(Decider d) {
        for (String key : List.copyOf(k.state.pendingFaults.keySet())) {
            if (key.startsWith("dev:") && !awaitsShootdown(key) && cpu() != null) {
                k.memory.handleMmFault(d, key, false);
            }
        }
    }

    /** Whether a shootdown (a reclaim it started, a flush_tlb_page) is what the fault {@code key} waits on. */
    private boolean awaitsShootdown(String key) {
        for (Shootdown sd : k.state.shootdowns.values()) {
            if (sd.waiter.equals(key)) {
                return true;
            }
        }
        return false;
    }
}
