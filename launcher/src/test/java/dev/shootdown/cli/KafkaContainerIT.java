package dev.shootdown.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;

import com.fasterxml.jackson.databind.JsonNode;
import dev.shootdown.codec.EventCodec;
import dev.shootdown.simulation.RunInvariants;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.testcontainers.kafka.KafkaContainer;

/**
 * munmap-dma against Apache Kafka's own broker image, where a Docker engine exists; skipped
 * cleanly where none does, failed where CI requires Docker ({@link DockerImages}; {@link KafkaRunIT} covers the
 * same on the embedded broker).
 */
@Timeout(value = 5, unit = TimeUnit.MINUTES)
class KafkaContainerIT {

    private static final String IMAGE = "apache/kafka:4.1.0";

    @Test
    void munmapDmaOnADockerBroker(@TempDir Path dir) throws Exception {
        DockerImages.assumeAvailable(IMAGE);
        try (KafkaContainer kafka = new KafkaContainer(IMAGE)) {
            kafka.start();
            munmapDmaOn(kafka.getBootstrapServers(), dir);
        }
    }

    private static void munmapDmaOn(String bootstrapServers, Path dir) throws Exception {
        CliTest.Outcome o = CliTest.shootdown("run", "--scenario", "munmap-dma", "--bootstrap-servers",
                bootstrapServers, "--out", dir.toString());
        assertEquals(Shootdown.EXIT_CLEAN, o.status(), o.out() + o.err());
        JsonNode report = EventCodec.mapper().readTree(dir.resolve("report.json").toFile());
        assertEquals("secondary-after-cpu", report.get("shootdowns").get(0).get("order").asText());
        RunInvariants.assertMunmapDmaCorrect(RunInvariants.decode(Files.readAllLines(dir.resolve("events.jsonl"))));
    }
}
