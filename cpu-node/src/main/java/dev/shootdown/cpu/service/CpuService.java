package dev.shootdown.cpu.service;

import dev.shootdown.cpu.Cpu;
import dev.shootdown.host.kafka.NodeHost;
import dev.shootdown.host.kafka.NodeVerticle;

/** The cpu-node service: one {@link Cpu} state machine hosted by a Kafka verticle. */
public final class CpuService {

    private CpuService() {}

    /** A verticle running CPU {@code nodeId} ({@code cpu0}, ...) of the run described by {@code host}. */
    public static NodeVerticle verticle(NodeHost host, String nodeId) {
        return new NodeVerticle(host, new Cpu(nodeId));
    }
}
