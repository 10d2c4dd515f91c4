package dev.shootdown.host.kafka;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.shootdown.codec.LogFormatException;
import dev.shootdown.event.Family;
import dev.shootdown.host.CausalClock;
import dev.shootdown.event.Routing;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.admin.OffsetSpec;
import org.apache.kafka.common.TopicPartition;

/**
 * The topics of one run: {@code shootdown.<run>.<family>} for every family, which hold its log,
 * and {@code shootdown.<run>.time}, where the nodes say how far they got ({@link CausalClock}):
 * host bookkeeping, never part of the log, so replay and audit do not read it.
 */
public final class RunTopics {

    private static final ObjectMapper JSON = new ObjectMapper();

    private RunTopics() {}

    /** The topic of the run's {@link CausalClock.Status} records (one partition: a total order). */
    public static String time(String runId) {
        return "shootdown." + runId + ".time";
    }

    public static String encode(CausalClock.Status done) {
        try {
            return JSON.writeValueAsString(done);
        } catch (JsonProcessingException e) {
            throw new IllegalArgumentException(e);
        }
    }

    /** @throws LogFormatException when {@code json} is not a status */
    public static CausalClock.Status decodeStatus(String json) throws LogFormatException {
        try {
            return JSON.readValue(json, CausalClock.Status.class);
        } catch (JsonProcessingException | IllegalArgumentException | NullPointerException e) {
            throw new LogFormatException("not a status record: " + e.getMessage(), e);
        }
    }

    /** Every topic name of {@code runId}, in family order. */
    public static List<String> names(String runId) {
        List<String> names = new ArrayList<>();
        for (Family f : Family.values()) {
            names.add(Routing.topic(runId, f));
        }
        return names;
    }

    /**
     * The ids of the runs on the cluster: every run has a control topic
     * ({@code shootdown.<run>.control}), so a listing of topic names finds them without reading
     * any run's records.
     */
    public static List<String> runIds(Admin admin, KafkaHostConfig config) throws InfrastructureException {
        String prefix = "shootdown.";
        String suffix = "." + Family.CONTROL.topicSuffix();
        try {
            List<String> runs = new ArrayList<>();
            for (String topic : admin.listTopics().names().get(config.requestTimeout().toMillis(), TimeUnit.MILLISECONDS)) {
                if (topic.startsWith(prefix) && topic.endsWith(suffix) && topic.length() > prefix.length() + suffix.length()) {
                    runs.add(topic.substring(prefix.length(), topic.length() - suffix.length()));
                }
            }
            java.util.Collections.sort(runs);
            return runs;
        } catch (ExecutionException | TimeoutException e) {
            throw new InfrastructureException("cannot list the runs on " + config.bootstrapServers() + ": " + e.getMessage(), e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new InfrastructureException("interrupted while listing the runs on " + config.bootstrapServers());
        }
    }

    /** Fails within the configured timeout, naming the address, when the cluster is unreachable. */
    public static void checkReachable(Admin admin, KafkaHostConfig config) throws InfrastructureException {
        try {
            admin.describeCluster().clusterId().get(config.requestTimeout().toMillis(), TimeUnit.MILLISECONDS);
        } catch (TimeoutException | ExecutionException e) {
            throw new InfrastructureException("cannot reach Kafka at " + config.bootstrapServers() + " within "
                    + config.requestTimeout().toSeconds() + " s");
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new InfrastructureException("interrupted while reaching Kafka at " + config.bootstrapServers());
        }
    }

    /**
     * Creates the run's topics and waits until every partition answers a ListOffsets: producing
     * before the partitions have leaders can lose records (KAFKA-15591).
     */
    public static void create(Admin admin, String runId, KafkaHostConfig config) throws InfrastructureException {
        List<NewTopic> topics = new ArrayList<>();
        for (String name : names(runId)) {
            topics.add(new NewTopic(name, config.partitions(), config.replicationFactor()));
        }
        topics.add(new NewTopic(time(runId), 1, config.replicationFactor()));
        long timeoutMs = config.requestTimeout().toMillis();
        try {
            admin.createTopics(topics).all().get(timeoutMs, TimeUnit.MILLISECONDS);
            Map<TopicPartition, OffsetSpec> request = new HashMap<>();
            for (String name : names(runId)) {
                for (int p = 0; p < config.partitions(); p++) {
                    request.put(new TopicPartition(name, p), OffsetSpec.latest());
                }
            }
            request.put(new TopicPartition(time(runId), 0), OffsetSpec.latest());
            long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(timeoutMs);
            while (true) {
                try {
                    admin.listOffsets(request).all().get(timeoutMs, TimeUnit.MILLISECONDS);
                    return;
                } catch (ExecutionException retriable) {
                    if (System.nanoTime() > deadline) {
                        throw retriable;
                    }
                    Thread.sleep(50);
                }
            }
        } catch (ExecutionException | TimeoutException e) {
            Throwable cause = e.getCause() == null ? e : e.getCause();
            throw new InfrastructureException("cannot create the topics of run " + runId + " on " + config.bootstrapServers()
                    + ": " + cause.getMessage(), e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new InfrastructureException("interrupted while creating the topics of run " + runId);
        }
    }
}
