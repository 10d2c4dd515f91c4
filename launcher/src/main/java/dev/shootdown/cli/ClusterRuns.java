package dev.shootdown.cli;

import dev.shootdown.cli.run.BadInputException;
import dev.shootdown.host.kafka.InfrastructureException;
import dev.shootdown.host.kafka.KafkaHostConfig;
import dev.shootdown.host.kafka.RecordedEvent;
import dev.shootdown.host.kafka.RunLogReader;
import dev.shootdown.host.kafka.RunTopics;
import java.util.List;
import org.apache.kafka.clients.admin.Admin;

/** The runs a Kafka cluster holds, for {@code runs}, {@code export} and {@code replay --run}. */
final class ClusterRuns {

    private final KafkaHostConfig config;

    ClusterRuns(String bootstrapServers, java.nio.file.Path kafkaConfig) throws BadInputException {
        this.config = KafkaConfigFile.config(bootstrapServers, kafkaConfig);
    }

    /** Every run id on the cluster, from the topic names alone. */
    List<String> ids() throws InfrastructureException {
        try (Admin admin = Admin.create(config.baseProperties())) {
            RunTopics.checkReachable(admin, config);
            return RunTopics.runIds(admin, config);
        }
    }

    /** The whole log of {@code runId}, in causal order with its stored lines; bad input if there is no such run. */
    List<RecordedEvent> read(String runId) throws InfrastructureException, BadInputException {
        checkRun(runId);
        return RunLogReader.read(config, runId);
    }

    /**
     * The log of {@code runId} handed to {@code sink} in canonical order, in memory that does not
     * grow with it ({@link RunLogReader#stream}, spooling in {@code spool}); how many events.
     */
    long stream(String runId, java.nio.file.Path spool, RunLogReader.Sink sink)
            throws InfrastructureException, BadInputException, java.io.IOException {
        checkRun(runId);
        return RunLogReader.stream(config, runId, spool, sink);
    }

    private void checkRun(String runId) throws InfrastructureException, BadInputException {
        List<String> ids = ids();
        if (!ids.contains(runId)) {
            throw new BadInputException("--run " + runId + ": no such run on " + config.bootstrapServers()
                    + (ids.isEmpty() ? " (it holds no runs)" : " (runs there: " + String.join(", ", ids.subList(0,
                            Math.min(5, ids.size()))) + (ids.size() > 5 ? ", ..." : "") + ")"));
        }
    }
}
