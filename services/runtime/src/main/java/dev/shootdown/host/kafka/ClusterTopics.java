package dev.shootdown.host.kafka;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.common.errors.TopicExistsException;

/**
 * The two topics a cluster of {@code shootdown node} processes shares besides the runs' own:
 * {@value #RUNS}, where a run controller announces a run and the nodes it needs before the run
 * starts, and {@value #PRESENCE}, where nodes claim their ids, say they are alive and say they
 * joined a run. They coordinate the hosts;
 * they are not part of any run's log, so replay and audit never read them.
 */
public final class ClusterTopics {

    public static final String RUNS = "shootdown.cluster.runs";
    public static final String PRESENCE = "shootdown.cluster.presence";

    /** A run about to start, and the nodes it needs (its scenario's topology). */
    public record RunAnnounced(String run, List<String> topology) {
        public RunAnnounced {
            topology = List.copyOf(topology);
        }
    }

    /** What nodes say on {@value #PRESENCE}: that they joined a run, that they failed in one, or that they are alive. */
    @com.fasterxml.jackson.annotation.JsonTypeInfo(use = com.fasterxml.jackson.annotation.JsonTypeInfo.Id.NAME, property = "type")
    @com.fasterxml.jackson.annotation.JsonSubTypes({
        @com.fasterxml.jackson.annotation.JsonSubTypes.Type(value = NodeJoined.class, name = "node-joined"),
        @com.fasterxml.jackson.annotation.JsonSubTypes.Type(value = NodeHeartbeat.class, name = "node-heartbeat"),
        @com.fasterxml.jackson.annotation.JsonSubTypes.Type(value = NodeFailed.class, name = "node-failed"),
        @com.fasterxml.jackson.annotation.JsonSubTypes.Type(value = NodeClaim.class, name = "node-claim"),
    })
    public sealed interface Presence permits NodeJoined, NodeHeartbeat, NodeFailed, NodeClaim {}

    /**
     * A process about to run as {@code node} ({@code instance}: host, pid and start time, as in its
     * heartbeats), said at {@code atMs}: of two claims of the same id, the earlier in the topic wins
     * ({@link IndexClaim}).
     */
    public record NodeClaim(String node, String instance, long atMs) implements Presence {}

    /**
     * A node's state machine threw in {@code run} ({@code error}: what, in one line): the node
     * takes nothing more for that run, and the run's controller ends it.
     */
    public record NodeFailed(String run, String node, String instance, String error) implements Presence {}

    /** A node's verticle for {@code run} is deployed and reading the run's topics. */
    public record NodeJoined(String run, String node, long pid) implements Presence {}

    /**
     * A node process is alive, every {@link #HEARTBEAT_MS}: which node it is, which process
     * ({@code instance}: host, pid and start time), when ({@code atMs}, wall clock) and the runs it is in.
     */
    public record NodeHeartbeat(String node, String instance, long atMs, List<String> runs) implements Presence {
        public NodeHeartbeat {
            runs = List.copyOf(runs);
        }
    }

    /** How often a node says it is alive. */
    public static final long HEARTBEAT_MS = 1000;
    /** A peer not heard from for this long is reported dead. */
    public static final long PEER_DEAD_MS = 3000;

    private static final ObjectMapper JSON = new ObjectMapper();

    private ClusterTopics() {}

    public static String encode(Object value) {
        try {
            return value instanceof Presence ? JSON.writerFor(Presence.class).writeValueAsString(value) : JSON.writeValueAsString(value);
        } catch (JsonProcessingException e) {
            throw new IllegalArgumentException(e);
        }
    }

    public static <T> T decode(String json, Class<T> type) throws JsonProcessingException {
        return JSON.readValue(json, type);
    }

    /** Creates both topics unless they exist (one partition each: order matters, volume does not). */
    public static void create(Admin admin, KafkaHostConfig config) throws InfrastructureException {
        try {
            Set<String> existing = admin.listTopics().names().get(config.requestTimeout().toMillis(), TimeUnit.MILLISECONDS);
            for (String name : List.of(RUNS, PRESENCE)) {
                if (!existing.contains(name)) {
                    try {
                        NewTopic topic = new NewTopic(name, 1, config.replicationFactor());
                        if (name.equals(PRESENCE)) {
                            // Heartbeats: only the last minutes matter.
                            topic.configs(java.util.Map.of("retention.ms", "900000", "segment.ms", "300000"));
                        }
                        admin.createTopics(List.of(topic)).all()
                                .get(config.requestTimeout().toMillis(), TimeUnit.MILLISECONDS);
                    } catch (ExecutionException e) {
                        if (!(e.getCause() instanceof TopicExistsException)) {
                            throw e;
                        }
                    }
                }
            }
        } catch (ExecutionException | TimeoutException e) {
            throw new InfrastructureException("cannot create the cluster topics on " + config.bootstrapServers() + ": "
                    + e.getMessage(), e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new InfrastructureException("interrupted while creating the cluster topics");
        }
    }
}
