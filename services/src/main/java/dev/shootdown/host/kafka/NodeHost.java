package dev.shootdown.host.kafka;

import dev.shootdown.host.ErrorLog;
import dev.shootdown.host.LatencyModel;
import java.util.List;

/**
 * What every node verticle of one run shares: the run id, the topology, the cluster settings,
 * the latency model and the error log.
 */
public record NodeHost(String runId, List<String> topology, KafkaHostConfig config, LatencyModel latency, ErrorLog errors) {
    public NodeHost {
        topology = List.copyOf(topology);
    }
}
