package dev.shootdown.cli;

import com.fasterxml.jackson.databind.JsonNode;
import dev.shootdown.codec.EventCodec;
import dev.shootdown.event.ControlEvent;
import dev.shootdown.event.Envelope;
import dev.shootdown.event.Family;
import dev.shootdown.host.LatencyModel;
import dev.shootdown.host.kafka.RunTopics;
import dev.shootdown.host.sim.SimEngine;
import dev.shootdown.simulation.Machine;
import dev.shootdown.simulation.RunInvariants;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** munmap-dma through the Kafka host on a real (embedded KRaft) broker. */
@Timeout(value = 5, unit = TimeUnit.MINUTES)
class KafkaRunIT {

    @RegisterExtension
    static final EmbeddedBroker BROKER = new EmbeddedBroker();

    @Test
    void munmapDmaRunsAcrossTheServicesAndItsLogIsWhatTheTopicsHold(@TempDir Path dir) throws Exception {
        CliTest.Outcome o = CliTest.shootdown("run", "--scenario", "munmap-dma", "--bootstrap-servers",
                BROKER.bootstrapServers(), "--out", dir.toString());
        assertEquals(Shootdown.EXIT_CLEAN, o.status(), o.out() + o.err());

        JsonNode report = EventCodec.mapper().readTree(dir.resolve("report.json").toFile());
        assertEquals("clean", report.get("verdict").asText(), report.toPrettyString());
        JsonNode shootdown = report.get("shootdowns").get(0);
        assertEquals("secondary-after-cpu", shootdown.get("order").asText());
        assertEquals(16, shootdown.get("framesFreed").asInt());
        for (JsonNode flush : shootdown.get("cpuFlushes")) {
            assertTrue(flush.get("completedNs").asLong() <= shootdown.get("lastFreeNs").asLong(), flush.toString());
        }

        List<String> lines = Files.readAllLines(dir.resolve("events.jsonl"));
        List<Envelope> log = RunInvariants.decode(lines);
        RunInvariants.assertMunmapDmaCorrect(log);
        Set<String> emitters = new TreeSet<>();
        log.forEach(e -> emitters.add(e.node()));
        assertEquals(Set.of("control", "coordinator", "cpu0", "cpu1", "iommu0"), emitters);

        // The exported file is exactly what Kafka's own console consumer reads from the run's topics.
        String runId = report.get("run").asText();
        List<String> consumed = consoleConsumer(String.join("|", RunTopics.names(runId).stream()
                .map(java.util.regex.Pattern::quote).toList()));
        assertEquals(Family.values().length, RunTopics.names(runId).size(), "the run has a topic per event family");
        assertSameLines(sorted(lines), sorted(consumed));

        // Simulated time is kept by per-link promises, not by the wall clock: the deterministic engine, given the
        // same run id and seed, writes the very same log.
        ControlEvent.RunStarted started = (ControlEvent.RunStarted) log.get(0).event();
        SimEngine.Result sim = new SimEngine(runId, started.seed(), started.scenario(), started.kernel(), Machine.stateMachines(started.scenario()),
                LatencyModel.defaults()).run(1_000_000);
        assertSameLines(sorted(lines), sorted(sim.log().stream().map(EventCodec::encode).toList()));
        // ... in the same order: `run` streamed the topics back in the canonical order (RunLogReader.stream: a spool
        // file per node and partition, merged), the order the whole log sorted in memory has.
        assertEquals(dev.shootdown.log.CausalOrder.sort(sim.log(), e -> e).stream().map(EventCodec::encode).toList(), lines);
        assertEquals(dev.shootdown.host.kafka.RunLogReader.read(dev.shootdown.host.kafka.KafkaHostConfig.defaults(
                BROKER.bootstrapServers()), runId).stream().map(dev.shootdown.host.kafka.RecordedEvent::line).toList(), lines);
        try (var left = Files.list(dir)) {
            assertEquals(List.of("events.jsonl", "report.html", "report.json"),
                    left.map(p -> p.getFileName().toString()).sorted().toList(), "no spool is left behind");
        }
    }

    /** Equal line lists, or a failure naming the counts and the first difference (not both files). */
    private static void assertSameLines(List<String> expected, List<String> actual) {
        for (int i = 0; i < Math.min(expected.size(), actual.size()); i++) {
            assertEquals(expected.get(i), actual.get(i), "first difference at sorted line " + i);
        }
        assertEquals(expected.size(), actual.size(), "events.jsonl and the console consumer differ in length");
    }

    @Test
    void anUnreachableBrokerIsAnInfrastructureFailureNamingTheAddress(@TempDir Path dir) {
        long started = System.nanoTime();
        CliTest.Outcome o = CliTest.shootdown("run", "--scenario", "munmap-dma", "--bootstrap-servers", "127.0.0.1:1",
                "--out", dir.toString());
        long seconds = TimeUnit.NANOSECONDS.toSeconds(System.nanoTime() - started);
        assertEquals(Shootdown.EXIT_INFRASTRUCTURE, o.status(), o.out() + o.err());
        assertTrue(o.err().contains("cannot reach Kafka at 127.0.0.1:1 within 15 s"), o.err());
        assertTrue(!o.err().contains("\tat "), "no stack trace without --verbose: " + o.err());
        assertTrue(seconds < 60, "bounded: took " + seconds + " s");
    }

    private static List<String> sorted(List<String> lines) {
        List<String> copy = new ArrayList<>(lines);
        copy.sort(null);
        return copy;
    }

    /**
     * Runs org.apache.kafka.tools.consumer.ConsoleConsumer in its own JVM over the topics matching
     * {@code topicRegex}, with the
     * kafka-tools classpath the build copied (its own clients: kafka-tools is published up to 4.3.1).
     */
    private static List<String> consoleConsumer(String topicRegex) throws IOException, InterruptedException {
        String classpath = Path.of(System.getProperty("kafka.tools.dir", "target/kafka-tools")).toAbsolutePath() + "/*";
        Path stdout = Files.createTempFile("console-consumer", ".out");
        Path stderr = Files.createTempFile("console-consumer", ".err");
        Process p = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-cp", classpath, "org.apache.kafka.tools.consumer.ConsoleConsumer",
                "--bootstrap-server", BROKER.bootstrapServers(), "--include", topicRegex, "--from-beginning",
                "--timeout-ms", "4000")
                .redirectOutput(stdout.toFile())
                .redirectError(stderr.toFile())
                .start();
        assertTrue(p.waitFor(90, TimeUnit.SECONDS), "console consumer on " + topicRegex + " did not finish");
        List<String> lines = Files.readAllLines(stdout, StandardCharsets.UTF_8);
        String errors = Files.readString(stderr, StandardCharsets.UTF_8);
        Files.deleteIfExists(stdout);
        Files.deleteIfExists(stderr);
        assertTrue(errors.contains("Processed a total of"), "console consumer on " + topicRegex + " failed: "
                + errors.substring(0, Math.min(2000, errors.length())));
        return lines.stream().filter(l -> !l.isBlank()).toList();
    }
}
