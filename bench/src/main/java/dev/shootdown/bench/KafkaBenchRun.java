package dev.shootdown.bench;

import dev.shootdown.host.ErrorLog;
import dev.shootdown.host.LatencyModel;
import dev.shootdown.host.kafka.KafkaHostConfig;
import dev.shootdown.host.kafka.KafkaRunner;
import dev.shootdown.host.kafka.NodeHost;
import dev.shootdown.host.kafka.NodeObserver;
import dev.shootdown.host.kafka.RecordedEvent;
import dev.shootdown.scenario.Scenario;
import dev.shootdown.simulation.Machine;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;

/**
 * One run of a scenario through the Kafka host (every node a verticle of this JVM, seed 1), as
 * the pipeline and latency benchmarks both time it: its log, its whole wall time and its mean
 * encoded record size (the references' record size).
 */
record KafkaBenchRun(String runId, List<RecordedEvent> log, double seconds, int recordSize) {

    /** Runs {@code scenario} on {@code config}'s cluster, telling {@code observer} what the nodes do; fails unless it ended cleanly. */
    static KafkaBenchRun run(KafkaHostConfig config, Scenario scenario, String label, NodeObserver observer) throws Exception {
        String runId = scenario.name() + "-" + label + "-" + Long.toHexString(System.nanoTime() & 0xffffff);
        ErrorLog errors = new ErrorLog();
        NodeHost host = new NodeHost(runId, scenario.nodeIds(), config, LatencyModel.defaults(), errors, observer);
        long start = System.nanoTime();
        KafkaRunner.Result result = new KafkaRunner(config).run(host, 1, scenario, Machine.kernel(scenario), node -> Machine.verticle(host, node),
                List.of(), Duration.ofMinutes(10), node -> { });
        double seconds = (System.nanoTime() - start) / 1e9;
        if (!errors.isEmpty() || !result.quiesced()) {
            throw new IllegalStateException("the Kafka run " + runId + " did not finish cleanly: quiesced "
                    + result.quiesced() + ", missing " + result.missingNodes() + ", errors " + errors.distinct());
        }
        long bytes = 0;
        for (RecordedEvent e : result.log()) {
            bytes += e.line().getBytes(StandardCharsets.UTF_8).length;
        }
        return new KafkaBenchRun(runId, result.log(), seconds, (int) (bytes / Math.max(1, result.log().size())));
    }
}
