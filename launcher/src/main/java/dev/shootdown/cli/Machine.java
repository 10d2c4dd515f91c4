package dev.shootdown.cli;

import dev.shootdown.core.NodeStateMachine;
import dev.shootdown.cpu.Cpu;
import dev.shootdown.cpu.service.CpuService;
import dev.shootdown.event.NodeIds;
import dev.shootdown.host.kafka.NodeHost;
import dev.shootdown.host.kafka.NodeVerticle;
import dev.shootdown.iommu.Iommu;
import dev.shootdown.iommu.service.IommuService;
import dev.shootdown.mm.Coordinator;
import dev.shootdown.mm.service.CoordinatorService;
import dev.shootdown.scenario.Scenario;
import java.util.ArrayList;
import java.util.List;

/** Builds a scenario's nodes: state machines for the deterministic engine, verticles for Kafka. */
final class Machine {

    private Machine() {}

    static List<NodeStateMachine> stateMachines(Scenario s) {
        List<NodeStateMachine> nodes = new ArrayList<>();
        nodes.add(new Coordinator());
        for (int i = 0; i < s.cpus(); i++) {
            nodes.add(new Cpu(NodeIds.cpu(i)));
        }
        for (int i = 0; i < s.iommus(); i++) {
            nodes.add(new Iommu(NodeIds.iommu(i)));
        }
        return nodes;
    }

    /** A new verticle for node {@code nodeId}, from the service module that owns its kind. */
    static NodeVerticle verticle(NodeHost host, String nodeId) {
        if (nodeId.equals(NodeIds.COORDINATOR)) {
            return CoordinatorService.verticle(host);
        }
        return nodeId.startsWith("cpu") ? CpuService.verticle(host, nodeId) : IommuService.verticle(host, nodeId);
    }
}
