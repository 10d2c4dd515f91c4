package dev.shootdown.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.shootdown.codec.EventCodec;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
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

    @org.junit.jupiter.api.Test
    void runsListsTheRunAndExportWritesExactlyItsLog(@TempDir Path dir) throws Exception {
        CliTest.Outcome run = CliTest.shootdown("run", "--scenario", "mprotect-downgrade", "--bootstrap-servers",
                BROKER.bootstrapServers(), "--out", dir.resolve("run").toString());
        assertEquals(Shootdown.EXIT_CLEAN, run.status(), run.out() + run.err());
        String runId = EventCodec.mapper().readTree(dir.resolve("run/report.json").toFile()).get("run").asText();
        long events = Files.readAllLines(dir.resolve("run/events.jsonl")).size();

        CliTest.Outcome runs = CliTest.shootdown("runs", "--bootstrap-servers", BROKER.bootstrapServers());
        CliTest.Outcome export = CliTest.shootdown("export", "--run", runId, "--bootstrap-servers", BROKER.bootstrapServers(),
                "--out", dir.resolve("exported.jsonl").toString());
        CliTest.Outcome exportGz = CliTest.shootdown("export", "--run", runId, "--bootstrap-servers", BROKER.bootstrapServers(),
                "--out", dir.resolve("exported.jsonl.gz").toString());
        CliTest.Outcome unknown = CliTest.shootdown("export", "--run", "no-such-run", "--bootstrap-servers",
                BROKER.bootstrapServers());

        String line = runs.out().lines().filter(l -> l.startsWith(runId)).findFirst().orElse("");
        assertTrue(line.matches(java.util.regex.Pattern.quote(runId) + " +mprotect-downgrade +x86 +linux-6.6 +" + events + " +clean"),
                "runs: " + runs.out());
        assertEquals(Shootdown.EXIT_CLEAN, export.status(), export.err());
        assertEquals(Files.readAllLines(dir.resolve("run/events.jsonl")), Files.readAllLines(dir.resolve("exported.jsonl")));
        CliTest.Outcome replayGz = CliTest.shootdown("replay", "--log", dir.resolve("exported.jsonl.gz").toString(), "--out",
                dir.resolve("gz").toString());
        assertEquals(Shootdown.EXIT_CLEAN, exportGz.status(), exportGz.err());
        assertEquals(Shootdown.EXIT_CLEAN, replayGz.status(), replayGz.err());
        assertEquals(Files.readString(dir.resolve("run/report.json")), Files.readString(dir.resolve("gz/report.json")));
        // The same run from the broker as a chrome trace: the same file as from its exported log.
        CliTest.Outcome chrome = CliTest.shootdown("export", "--run", runId, "--bootstrap-servers", BROKER.bootstrapServers(),
                "--format", "chrome-trace", "--out", dir.resolve("from-kafka.trace.json").toString());
        CliTest.Outcome chromeLog = CliTest.shootdown("export", "--log", dir.resolve("exported.jsonl").toString(), "--format",
                "chrome-trace", "--out", dir.resolve("from-log.trace.json").toString());
        assertEquals(Shootdown.EXIT_CLEAN, chrome.status(), chrome.err());
        assertEquals(Shootdown.EXIT_CLEAN, chromeLog.status(), chromeLog.err());
        assertEquals(Files.readString(dir.resolve("from-log.trace.json")), Files.readString(dir.resolve("from-kafka.trace.json")));
        try (var left = Files.list(dir)) {
            assertEquals(List.of(), left.filter(p -> p.getFileName().toString().startsWith(".spool-")).toList(), "no spool left");
        }
        assertEquals(Shootdown.EXIT_BAD_INPUT, unknown.status());
        assertEquals(1, unknown.err().lines().count(), unknown.err());
        assertTrue(unknown.err().contains("--run no-such-run: no such run on " + BROKER.bootstrapServers()), unknown.err());
    }
}
