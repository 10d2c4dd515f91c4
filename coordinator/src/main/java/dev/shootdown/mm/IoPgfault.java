package dev.shootdown.mm;

import dev.shootdown.core.Decider;
import dev.shootdown.event.NodeIds;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

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
        Set<String> waiting = null; // the faults a shootdown holds: gathered once, again after each fault handled
        for (String key : List.copyOf(k.state.pendingFaults.keySet())) {
            if (!key.startsWith("dev:")) {
                continue;
            }
            if (waiting == null) {
                waiting = new HashSet<>();
                for (Shootdown sd : k.state.shootdowns.values()) {
                    waiting.add(sd.waiter);
                }
            }
            if (!waiting.contains(key) && cpu() != null) {
                k.memory.handleMmFault(d, key, false);
                waiting = null; // handling it may have started a shootdown, or ended one
            }
        }
    }
}
