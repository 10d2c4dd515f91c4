package dev.shootdown.host.kafka;

import dev.shootdown.host.ErrorLog;
import dev.shootdown.host.LatencyModel;
import java.util.List;

/**
 * What every node verticle of one run in this process shares: the run id, the topology, the
 * cluster settings, the latency model, the error log, who is told what the verticles do
 * (metrics), and the Kafka clients they publish and consume through ({@link NodeTransport}).
 */
public record NodeHost(String runId, List<String> topology, KafkaHostConfig config, LatencyModel latency, ErrorLog errors,
        NodeObserver observer, NodeTransport transport) {
    public NodeHost {
        topology = List.copyOf(topology);
        observer = observer == null ? NodeObserver.NONE : observer;
        transport = transport == null ? new NodeTransport(runId, config, errors) : transport;
    }

    /** A host whose verticles report to {@code observer}. */
    public NodeHost(String runId, List<String> topology, KafkaHostConfig config, LatencyModel latency, ErrorLog errors,
            NodeObserver observer) {
        this(runId, topology, config, latency, errors, observer, null);
    }

    /** A host whose verticles report to no one. */
    public NodeHost(String runId, List<String> topology, KafkaHostConfig config, LatencyModel latency, ErrorLog errors) {
        this(runId, topology, config, latency, errors, NodeObserver.NONE, null);
    }
}
