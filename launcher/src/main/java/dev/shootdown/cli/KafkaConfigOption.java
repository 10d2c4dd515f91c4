package dev.shootdown.cli;

import java.nio.file.Path;
import picocli.CommandLine.Option;

/** {@code --kafka-config FILE}, of every command that talks to a Kafka cluster (a picocli mixin). */
final class KafkaConfigOption {

    @Option(names = "--kafka-config", paramLabel = "FILE",
            description = "Kafka client settings (security.protocol, sasl.*, ssl.*...) as a properties file.")
    Path file;
}
