package dev.shootdown.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.shootdown.codec.EventCodec;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * A run made on the Kafka host replays from Kafka and from its exported file with no divergence,
 * and both give the report the run itself wrote.
 */
@Timeout(value = 3, unit = TimeUnit.MINUTES)
class KafkaReplayIT {

    @RegisterExtension
    static final EmbeddedBroker BROKER = new EmbeddedBroker();

    @ParameterizedTest
    @CsvSource({"munmap-dma, x86, linux-6.6", "direct-reclaim-cross-mm, x86, series-v2", "smmu-permission-upgrade, arm64, linux-6.5"})
    void aKafkaRunReplaysFromKafkaAndFromItsFile(String scenario, String arch, String policy, @TempDir Path dir) throws Exception {
        CliTest.Outcome run = CliTest.shootdown("run", "--scenario", scenario, "--arch", arch, "--policy", policy,
                "--bootstrap-servers", BROKER.bootstrapServers(), "--out", dir.resolve("run").toString());
        assertTrue(run.status() == Shootdown.EXIT_CLEAN || run.status() == Shootdown.EXIT_VIOLATIONS, run.out() + run.err());
        String runReport = Files.readString(dir.resolve("run/report.json"));
        String runId = EventCodec.mapper().readTree(runReport).get("run").asText();

        CliTest.Outcome fromKafka = CliTest.shootdown("replay", "--run", runId, "--bootstrap-servers", BROKER.bootstrapServers(),
                "--out", dir.resolve("kafka").toString());
        CliTest.Outcome fromFile = CliTest.shootdown("replay", "--log", dir.resolve("run/events.jsonl").toString(),
                "--out", dir.resolve("file").toString());

        assertEquals(run.status(), fromKafka.status(), fromKafka.out() + fromKafka.err());
        assertEquals(run.status(), fromFile.status(), fromFile.out() + fromFile.err());
        assertTrue(fromKafka.out().contains("every node emitted exactly what the log recorded"), fromKafka.out());
        assertEquals(runReport, Files.readString(dir.resolve("kafka/report.json")));
        assertEquals(runReport, Files.readString(dir.resolve("file/report.json")));
    }
}
