package dev.shootdown.host.kafka;

import java.time.Duration;
import java.util.Map;
import java.util.Objects;
import java.util.Properties;

/**
 * How the Kafka host reaches the cluster. (Simulated time does not follow the wall clock: the
 * nodes keep it by per-link promises, {@code CausalClock}.)
 *
 * @param bootstrapServers   the cluster, HOST:PORT[,HOST:PORT...]
 * @param clientProperties   extra Kafka client settings (security, tuning), applied to every client
 * @param partitions         partitions per topic
 * @param replicationFactor  replication factor of the run's topics
 * @param requestTimeout     bound on reaching the cluster (admin calls, topic creation)
 */
public record KafkaHostConfig(
        String bootstrapServers,
        Map<String, String> clientProperties,
        int partitions,
        short replicationFactor,
        Duration requestTimeout) {

    public KafkaHostConfig {
        Objects.requireNonNull(bootstrapServers, "bootstrapServers");
        clientProperties = Map.copyOf(clientProperties);
        if (partitions <= 0 || replicationFactor <= 0) {
            throw new IllegalArgumentException("partitions and replicationFactor must be positive");
        }
    }

    public static KafkaHostConfig defaults(String bootstrapServers) {
        return new KafkaHostConfig(bootstrapServers, Map.of(), 2, (short) 1, Duration.ofSeconds(15));
    }

    /** Base client properties: bootstrap servers, bounded timeouts, then the user's overrides. */
    public Properties baseProperties() {
        Properties p = new Properties();
        p.put("bootstrap.servers", bootstrapServers);
        p.put("request.timeout.ms", Long.toString(requestTimeout.toMillis()));
        p.put("default.api.timeout.ms", Long.toString(requestTimeout.toMillis()));
        p.putAll(clientProperties);
        return p;
    }

    /**
     * Idempotent producer, acks=all: no loss, no duplicates on retry. The host sends each record
     * as soon as it has it ({@code linger.ms=0}: a step's events and status go out at once; the
     * Kafka 4 default of 5 ms would wait on every hop); the user's settings come over those, but
     * never over what the guarantees rest on (acks, idempotence, the serializers).
     */
    public Properties producerProperties(String clientId) {
        Properties p = baseProperties();
        p.put("client.id", clientId);
        p.put("linger.ms", "0");
        p.put("max.block.ms", Long.toString(requestTimeout.toMillis()));
        p.put("delivery.timeout.ms", Long.toString(Math.max(30_000, requestTimeout.toMillis() * 2)));
        p.putAll(clientProperties);
        p.put("acks", "all");
        p.put("enable.idempotence", "true");
        p.put("key.serializer", "org.apache.kafka.common.serialization.StringSerializer");
        p.put("value.serializer", "org.apache.kafka.common.serialization.StringSerializer");
        return p;
    }

    /**
     * A consumer without a group: hosts assign partitions and seek themselves, and know what they
     * delivered from the log (link sequence numbers), not from committed offsets. The user's
     * settings come over the host's, but never over those.
     */
    public Properties consumerProperties(String clientId) {
        Properties p = baseProperties();
        p.put("client.id", clientId);
        p.putAll(clientProperties);
        p.put("enable.auto.commit", "false");
        p.put("auto.offset.reset", "earliest");
        p.put("isolation.level", "read_committed");
        p.put("key.deserializer", "org.apache.kafka.common.serialization.StringDeserializer");
        p.put("value.deserializer", "org.apache.kafka.common.serialization.StringDeserializer");
        return p;
    }
}
