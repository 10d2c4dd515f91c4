package dev.shootdown.cli;

import dev.shootdown.cli.run.BadInputException;
import dev.shootdown.host.kafka.KafkaHostConfig;
import java.io.IOException;
import java.io.Reader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.TreeMap;

/**
 * {@code --kafka-config FILE}: Kafka client settings in the Java properties format, passed to
 * every producer, consumer and admin client Shootdown creates (security.protocol, sasl.*, ssl.*,
 * tuning), so SASL and TLS clusters work. Values are never printed: an error names the file and
 * the key only, since a value may be a password or a JAAS line.
 */
final class KafkaConfigFile {

    /** Set by Shootdown itself: the file may not change them. */
    static final Set<String> RESERVED = Set.of("bootstrap.servers", "key.serializer", "value.serializer", "key.deserializer",
            "value.deserializer", "enable.idempotence", "acks", "enable.auto.commit", "isolation.level");

    private KafkaConfigFile() {}

    /** The cluster at {@code bootstrapServers} with the settings of {@code file} (none when null). */
    static KafkaHostConfig config(String bootstrapServers, Path file) throws BadInputException {
        KafkaHostConfig defaults = KafkaHostConfig.defaults(bootstrapServers);
        if (file == null) {
            return defaults;
        }
        return new KafkaHostConfig(bootstrapServers, read(file), defaults.partitions(),
                defaults.replicationFactor(), defaults.requestTimeout());
    }

    static Map<String, String> read(Path file) throws BadInputException {
        if (!Files.isRegularFile(file)) {
            throw new BadInputException("--kafka-config " + file + ": no such file");
        }
        Properties p = new Properties();
        try (Reader r = Files.newBufferedReader(file, StandardCharsets.UTF_8)) {
            p.load(r);
        } catch (IOException | IllegalArgumentException e) {
            throw new BadInputException("--kafka-config " + file + ": not a properties file (" + e.getMessage() + ")");
        }
        Map<String, String> out = new TreeMap<>();
        for (String key : p.stringPropertyNames()) {
            if (RESERVED.contains(key)) {
                throw new BadInputException("--kafka-config " + file + ": " + key + " is set by Shootdown"
                        + (key.equals("bootstrap.servers") ? "; give the cluster with --bootstrap-servers" : " and cannot be changed"));
            }
            out.put(key, p.getProperty(key));
        }
        return out;
    }
}
