package dev.shootdown.bench;

import dev.shootdown.host.kafka.KafkaHostConfig;
import java.util.Map;
import java.util.TreeMap;

/**
 * The Kafka host's client settings for the pipeline and latency rows: the host's defaults, with
 * the suite's {@code --kafka-client KEY=VALUE} overrides on top (to measure what one setting buys,
 * say {@code linger.ms} or {@code fetch.max.wait.ms}).
 */
final class BenchKafka {

    private static volatile Map<String, String> overrides = Map.of();

    private BenchKafka() {}

    static void override(Map<String, String> settings) {
        overrides = settings == null ? Map.of() : Map.copyOf(new TreeMap<>(settings));
    }

    static Map<String, String> overrides() {
        return overrides;
    }

    static KafkaHostConfig config(String bootstrapServers) {
        KafkaHostConfig d = KafkaHostConfig.defaults(bootstrapServers);
        return new KafkaHostConfig(d.bootstrapServers(), overrides, d.partitions(), d.replicationFactor(), d.requestTimeout());
    }
}
