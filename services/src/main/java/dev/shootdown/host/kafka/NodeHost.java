package dev.shootdown.host.kafka;

import dev.shootdown.host.ErrorLog;
import dev.shootdown.host.LatencyModel;
import java.util.List;

/**
 * What every node verticle of one run shares: the run id, the topology, the cluster settings,
 * the latency model, the error log, and who is told what the verticles do (metrics).
 */
public record NodeHost(String runId, List<String> topology, KafkaHostConfig config, LatencyModel latency, ErrorLog errors,
        NodeObserver observer) {
    public NodeHost {
        topology = List.copyOf(topology);
        observer = observer == null ? NodeObserver.NONE : observer;
    }

    /** A host whose verticles report to no one. */
    public NodeHost(String runId, List<String> topology, KafkaHostConfig config, LatencyModel latency, ErrorLog errors) {
        this(runId, topology, config, latency, errors, NodeObserver.NONE);
    }
}
