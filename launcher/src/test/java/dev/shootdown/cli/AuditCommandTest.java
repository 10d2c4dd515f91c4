package dev.shootdown.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.shootdown.codec.EventCodec;
import dev.shootdown.event.Envelope;
import dev.shootdown.simulation.RunInvariants;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.zip.GZIPOutputStream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code shootdown audit --log FILE}: the same report as the run; bad logs named by line, never a crash. */
class AuditCommandTest {

    @TempDir
    static Path runDir;

    static List<String> lines;

    @BeforeAll
    static void recordARun() throws IOException {
        lines = CliTest.recordDirectReclaimV2(runDir);
    }

    private static Path write(Path dir, String name, List<String> content, boolean finalNewline) throws IOException {
        Path file = dir.resolve(name);
        String text = String.join("\n", content) + (finalNewline ? "\n" : "");
        Files.writeString(file, text, StandardCharsets.UTF_8);
        return file;
    }

    @Test
    void auditingTheExportedLogGivesTheRunsReportByteForByte(@TempDir Path out) throws IOException {
        CliTest.Outcome o = CliTest.shootdown("audit", "--log", runDir.resolve("events.jsonl").toString(), "--out", out.toString());

        assertEquals(Shootdown.EXIT_VIOLATIONS, o.status(), o.err());
        assertEquals("", o.err());
        assertEquals(Files.readString(runDir.resolve("report.json")), Files.readString(out.resolve("report.json")));
    }

    @Test
    void aGzipCompressedLogIsReadToo(@TempDir Path dir) throws IOException {
        Path gz = dir.resolve("events.jsonl.gz");
        try (OutputStream os = new GZIPOutputStream(Files.newOutputStream(gz))) {
            Files.copy(runDir.resolve("events.jsonl"), os);
        }
        CliTest.Outcome o = CliTest.shootdown("audit", "--log", gz.toString(), "--out", dir.resolve("out").toString());

        assertEquals(Shootdown.EXIT_VIOLATIONS, o.status(), o.err());
        assertEquals(Files.readString(runDir.resolve("report.json")), Files.readString(dir.resolve("out/report.json")));
    }

    @Test
    void eachBadLineIsNamedWithItsLineAndTheRestIsAuditedAndMarkedIncomplete(@TempDir Path dir) throws Exception {
        List<String> bad = new ArrayList<>(lines);
        int last = bad.size();
        bad.set(last - 3, "{\"run\": oops");                                                      // malformed JSON
        bad.set(last - 2, bad.get(last - 2).replaceFirst("\"type\":\"[a-z-]+\"", "\"type\":\"warp-drive\""));
        bad.set(last - 1, bad.get(last - 1).replace("\"schema\":" + Envelope.SCHEMA_VERSION, "\"schema\":9"));              // newer schema
        bad.add(lines.get(10));                                                                      // a duplicate
        Path file = write(dir, "bad.jsonl", bad, true);

        CliTest.Outcome o = CliTest.shootdown("audit", "--log", file.toString(), "--out", dir.resolve("out").toString());

        assertEquals(Shootdown.EXIT_BAD_INPUT, o.status(), o.out() + o.err());
        assertFalse(o.err().contains("Exception") || o.err().contains("\tat "), "no stack trace: " + o.err());
        assertTrue(o.err().contains(file + ":" + (last - 2) + ": "), o.err());
        assertTrue(o.err().contains(file + ":" + (last - 1) + ": unknown event type 'warp-drive'"), o.err());
        assertTrue(o.err().contains(file + ":" + last + ": schema version 9 is newer than this build reads (" + Envelope.SCHEMA_VERSION + ")"), o.err());
        String duplicateId = RunInvariants.decode(List.of(lines.get(10))).get(0).id();
        assertTrue(o.err().contains(file + ":" + (last + 1) + ": event " + duplicateId + " is a duplicate of line 11"), o.err());
        JsonNode report = EventCodec.mapper().readTree(dir.resolve("out/report.json").toFile());
        assertFalse(report.get("complete").asBoolean(), "marked incomplete");
        assertEquals(4, report.get("logProblems").size(), report.get("logProblems").toString());
        assertTrue(report.get("stats").get("events").asLong() >= last - 3, "what could be placed was audited");
        assertTrue(report.get("violations").size() > 0, "and judged: the run's use-after-free is still found");
    }

    @Test
    void aMissingEventIsNamedAtTheLineOfTheEventThatNeedsItAndTheVerdictIsNotClean(@TempDir Path dir) throws IOException {
        CliTest.Outcome run = CliTest.shootdown("run", "--scenario", "munmap-dma", "--engine", "sim", "--out", dir.toString());
        assertEquals(Shootdown.EXIT_CLEAN, run.status(), run.out() + run.err());
        List<String> log = Files.readAllLines(dir.resolve("events.jsonl"));
        int missing = -1;
        for (int i = 0; i < log.size(); i++) {
            if (log.get(i).contains("\"node\":\"iommu0\",\"seq\":65,")) {
                missing = i;
            }
        }
        int needing = -1;
        List<String> without = new java.util.ArrayList<>(log);
        without.remove(missing);
        for (int i = 0; i < without.size(); i++) {
            if (without.get(i).contains("\"node\":\"iommu0\",\"seq\":66,")) {
                needing = i + 1; // 1-based
            }
        }
        Path file = write(dir, "missing.jsonl", without, true);

        CliTest.Outcome o = CliTest.shootdown("audit", "--log", file.toString(), "--out", dir.resolve("audit").toString());

        assertEquals(Shootdown.EXIT_BAD_INPUT, o.status(), o.out() + o.err());
        assertTrue(o.err().startsWith("shootdown: " + file + ":" + needing + ": event iommu0#65 is not in the log; iommu0#66,"
                + " the next event of iommu0, follows it; "), o.err());
        assertFalse(o.out().contains("verdict: clean"), o.out());
        assertTrue(o.out().contains("verdict: incomplete (0 violations in what could be audited)\n"), o.out());
    }

    @Test
    void aLogCutMidLineOrMissingAnEventIsNamedAndStrictRefusesIt(@TempDir Path dir) throws IOException {
        List<String> cut = new ArrayList<>(lines.subList(0, 40));
        cut.remove(20);                                                        // a missing event
        cut.add(lines.get(40).substring(0, 30));                              // cut mid-line, no newline
        Path file = write(dir, "cut.jsonl", cut, false);

        CliTest.Outcome o = CliTest.shootdown("audit", "--log", file.toString(), "--strict", "--out", dir.resolve("out").toString());

        assertEquals(Shootdown.EXIT_BAD_INPUT, o.status(), o.out() + o.err());
        assertTrue(o.err().contains(file + ":40: the log is cut mid-line"), o.err());
        assertTrue(o.err().contains(" is not in the log; ") && o.err().contains(", follows it"), o.err());
        assertTrue(o.err().contains("--strict: refusing a log with 2 problem(s)"), o.err());
        assertFalse(Files.exists(dir.resolve("out/report.json")), "strict writes no report");
    }

    @Test
    void aGzipLogCutShortIsAuditedUpToTheCutAndNamed(@TempDir Path dir) throws IOException {
        Path whole = dir.resolve("whole.jsonl.gz");
        try (OutputStream os = new GZIPOutputStream(Files.newOutputStream(whole))) {
            Files.copy(runDir.resolve("events.jsonl"), os);
        }
        byte[] bytes = Files.readAllBytes(whole);
        Path cut = dir.resolve("cut.jsonl.gz");
        Files.write(cut, java.util.Arrays.copyOf(bytes, bytes.length * 2 / 3));   // a copy interrupted

        CliTest.Outcome o = CliTest.shootdown("audit", "--log", cut.toString(), "--out", dir.resolve("out").toString());

        assertEquals(Shootdown.EXIT_BAD_INPUT, o.status(), o.out() + o.err());
        assertFalse(o.err().contains("\tat ") || o.err().contains("internal error"), "no stack trace: " + o.err());
        assertTrue(o.err().contains(cut + ": unreadable after line "), o.err());
        JsonNode report = EventCodec.mapper().readTree(dir.resolve("out/report.json").toFile());
        assertFalse(report.get("complete").asBoolean());
        long audited = report.get("stats").get("events").asLong();
        assertTrue(audited > lines.size() / 3 && audited < lines.size(), audited + " of " + lines.size() + " events audited");

        CliTest.Outcome strict = CliTest.shootdown("audit", "--log", cut.toString(), "--strict", "--out",
                dir.resolve("strict").toString());
        assertEquals(Shootdown.EXIT_BAD_INPUT, strict.status());
        assertFalse(Files.exists(dir.resolve("strict/report.json")), "strict writes no report");
    }

    @Test
    void aMissingLogFileIsOneLineOfBadInput(@TempDir Path dir) {
        CliTest.Outcome o = CliTest.shootdown("audit", "--log", dir.resolve("nope.jsonl").toString());

        assertEquals(Shootdown.EXIT_BAD_INPUT, o.status());
        assertEquals(1, o.err().lines().count(), o.err());
        assertTrue(o.err().contains("nope.jsonl: no such file"), o.err());
    }
}
