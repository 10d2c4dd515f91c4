package dev.shootdown.simulation;

import dev.shootdown.core.NodeStateMachine;
import dev.shootdown.cpu.Cpu;
import dev.shootdown.event.NodeIds;
import dev.shootdown.host.kafka.NodeHost;
import dev.shootdown.host.kafka.NodeVerticle;
import dev.shootdown.iommu.Iommu;
import dev.shootdown.kernel.KernelVariant;
import dev.shootdown.kernel.file.KernelFiles;
import dev.shootdown.mm.Coordinator;
import dev.shootdown.scenario.Scenario;
import java.util.ArrayList;
import java.util.List;

/**
 * Builds a scenario's nodes: state machines for the deterministic engine and the replayer,
 * verticles for Kafka. The one place the three node modules meet the hosts: the launcher, the
 * bench and the simulation's tests take their nodes from here.
 */
public final class Machine {

    private Machine() {}

    /** A fresh state machine for every node of {@code s}, in {@link Scenario#nodeIds} order. */
    public static List<NodeStateMachine> stateMachines(Scenario s) {
        List<NodeStateMachine> nodes = new ArrayList<>();
        for (String id : s.nodeIds()) {
            nodes.add(fresh(id));
        }
        return nodes;
    }

    /** A fresh state machine for {@code nodeId}; null for the run controller, which has none. */
    public static NodeStateMachine fresh(String nodeId) {
        if (nodeId.equals(NodeIds.COORDINATOR)) {
            return new Coordinator(KernelFiles.catalog());
        }
        if (nodeId.startsWith("cpu")) {
            return new Cpu(nodeId);
        }
        return nodeId.startsWith("iommu") ? new Iommu(nodeId) : null;
    }

    /**
     * The built-in kernel variant {@code s}'s policy names: what a run of a built-in scenario (or
     * one under --policy) runs. A user's variant file comes from {@code --kernel} instead.
     */
    public static KernelVariant kernel(Scenario s) {
        return KernelFiles.builtIn(s.policy()).orElseThrow(() -> new IllegalArgumentException("the scenario's policy "
                + s.policy() + " is not a built-in kernel variant (" + String.join(", ", KernelFiles.BUILT_INS) + ")"));
    }

    /**
     * A new verticle for node {@code nodeId}: its fresh state machine hosted by the Kafka host.
     * (The node modules hold the state machines alone and cannot see the host.)
     */
    public static NodeVerticle verticle(NodeHost host, String nodeId) {
        NodeStateMachine machine = fresh(nodeId);
        if (machine == null) {
            throw new IllegalArgumentException("no node " + nodeId + " to host");
        }
        return new NodeVerticle(host, machine);
    }
}
