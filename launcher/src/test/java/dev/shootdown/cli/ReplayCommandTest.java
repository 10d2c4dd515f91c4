package dev.shootdown.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.shootdown.codec.EventCodec;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.Test;

/**
 * {@code shootdown replay --log FILE}: every node re-executed from its recorded inputs emits what
 * the log recorded, and an edited log is caught at the edited event.
 */
class ReplayCommandTest {

    private static Path record(Path dir, String scenario, String policy) {
        CliTest.Outcome o = CliTest.shootdown("run", "--scenario", scenario, "--policy", policy, "--engine", "sim",
                "--out", dir.toString());
        assertTrue(o.status() == Shootdown.EXIT_CLEAN || o.status() == Shootdown.EXIT_VIOLATIONS, o.err());
        return dir.resolve("events.jsonl");
    }

    @ParameterizedTest
    @ValueSource(strings = {"munmap-dma", "smmu-permission-upgrade", "kswapd-reclaim", "direct-reclaim-cross-mm",
        "mprotect-downgrade"})
    void aRecordedRunReplaysWithoutDivergenceAndGivesTheRunsReport(String scenario, @TempDir Path dir) throws IOException {
        for (String policy : List.of("linux-6.5", "series-v2")) {
            Path log = record(dir.resolve(policy), scenario, policy);

            CliTest.Outcome o = CliTest.shootdown("replay", "--log", log.toString(), "--out", dir.resolve(policy + "-replay").toString());

            assertEquals("", o.err());
            assertTrue(o.out().contains("every node emitted exactly what the log recorded"), o.out());
            assertEquals(Files.readString(dir.resolve(policy).resolve("report.json")),
                    Files.readString(dir.resolve(policy + "-replay").resolve("report.json")));
        }
    }

    private static List<ObjectNode> parse(Path log) throws IOException {
        List<ObjectNode> out = new ArrayList<>();
        for (String line : Files.readAllLines(log)) {
            out.add((ObjectNode) EventCodec.mapper().readTree(line));
        }
        return out;
    }

    private static Path write(Path file, List<ObjectNode> nodes) throws IOException {
        List<String> lines = new ArrayList<>();
        for (JsonNode n : nodes) {
            lines.add(EventCodec.mapper().writeValueAsString(n));
        }
        Files.write(file, lines);
        return file;
    }

    private static int first(List<ObjectNode> log, String node, String type) {
        for (int i = 0; i < log.size(); i++) {
            if (log.get(i).get("node").asText().equals(node) && log.get(i).get("event").get("type").asText().equals(type)) {
                return i;
            }
        }
        throw new AssertionError("no " + type + " from " + node);
    }

    private static String id(ObjectNode e) {
        return e.get("node").asText() + "#" + e.get("seq").asLong();
    }

    @Test
    void aChangedFrameNumberIsCaughtAtThatEvent(@TempDir Path dir) throws IOException {
        List<ObjectNode> log = parse(record(dir, "munmap-dma", "linux-6.6"));
        int i = first(log, "iommu0", "iotlb-filled");
        ((ObjectNode) log.get(i).get("event")).put("frame", 99999);

        CliTest.Outcome o = CliTest.shootdown("replay", "--log", write(dir.resolve("edited.jsonl"), log).toString(),
                "--out", dir.resolve("out").toString());

        assertEquals(Shootdown.EXIT_BAD_INPUT, o.status());
        assertTrue(o.err().contains("iommu0 diverges at " + id(log.get(i)) + ": the log has IotlbFilled["), o.err());
        assertTrue(o.err().contains("frame=99999") && o.err().contains("frame=4096"), "both versions: " + o.err());
        assertFalse(Files.exists(dir.resolve("out/report.json")), "a divergent log is not audited as if it were the run");
    }

    @Test
    void twoSwappedEventsOfOneNodeAreCaughtAtTheFirst(@TempDir Path dir) throws IOException {
        List<ObjectNode> log = parse(record(dir, "munmap-dma", "linux-6.6"));
        int a = first(log, "coordinator", "pte-cleared");
        JsonNode payload = log.get(a).get("event");
        log.get(a).set("event", log.get(a + 1).get("event"));
        log.get(a + 1).set("event", payload);

        CliTest.Outcome o = CliTest.shootdown("replay", "--log", write(dir.resolve("swapped.jsonl"), log).toString());

        assertEquals(Shootdown.EXIT_BAD_INPUT, o.status());
        assertTrue(o.err().contains("coordinator diverges at " + id(log.get(a)) + ": the log has PteCleared["), o.err());
    }

    @Test
    void aDroppedAckIsCaughtAsTheEventThatDependsOnIt(@TempDir Path dir) throws IOException {
        List<ObjectNode> log = parse(record(dir, "munmap-dma", "linux-6.6"));
        int ack = first(log, "cpu1", "tlb-flushed");
        String dropped = id(log.get(ack));
        log.remove(ack);

        CliTest.Outcome o = CliTest.shootdown("replay", "--log", write(dir.resolve("dropped.jsonl"), log).toString());

        assertEquals(Shootdown.EXIT_BAD_INPUT, o.status());
        assertTrue(o.err().contains(dropped), "names the missing ack " + dropped + ": " + o.err());
        assertTrue(o.err().contains("cannot be replayed"), o.err());
    }

    @Test
    void atAnEventItPrintsWhatEachCacheHeldThen(@TempDir Path dir) throws IOException {
        Path file = record(dir, "munmap-dma", "linux-6.6");
        List<ObjectNode> log = parse(file);
        String cleared = id(log.get(first(log, "coordinator", "pte-cleared")));
        String returned = id(log.get(first(log, "coordinator", "munmap-returned")));

        CliTest.Outcome before = CliTest.shootdown("replay", "--log", file.toString(), "--at", cleared, "--out",
                dir.resolve("a").toString());
        CliTest.Outcome after = CliTest.shootdown("replay", "--log", file.toString(), "--at", returned, "--out",
                dir.resolve("b").toString());

        assertTrue(before.out().contains("caches just after " + cleared + " (PteCleared"), before.out());
        assertTrue(before.out().contains("iommu0 iotlb pasid 1: 16 entries"), "the IOTLB still holds the buffer: " + before.out());
        assertTrue(after.out().contains("iommu0 iotlb pasid 1: empty"), "invalidated before munmap returned: " + after.out());
        assertTrue(after.out().contains("iommu0 atc dev0: empty"), after.out());
        assertTrue(after.out().contains("cpu0 tlb mm 1: empty"), after.out());

        CliTest.Outcome bad = CliTest.shootdown("replay", "--log", file.toString(), "--at", "cpu9#1");
        assertEquals(Shootdown.EXIT_BAD_INPUT, bad.status());
        assertEquals(1, bad.err().lines().count(), bad.err());
        assertTrue(bad.err().contains("--at cpu9#1: no such event in the log"), bad.err());
    }

    @Test
    void runNeedsTheClusterThatHoldsIt() {
        CliTest.Outcome o = CliTest.shootdown("replay", "--run", "r1");

        assertEquals(Shootdown.EXIT_BAD_INPUT, o.status());
        assertTrue(o.err().contains("--run needs --bootstrap-servers"), o.err());
    }
}
