package dev.shootdown.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.shootdown.codec.EventCodec;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.zip.GZIPOutputStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code --json} and {@code --quiet} on the commands that end with an audit, and {@code audit
 * --log -}: what a script gets on stdout, with the exit status unchanged.
 */
class OutputOptionsTest {

    @Test
    void quietPrintsTheVerdictLineAloneAndKeepsTheExitStatus(@TempDir Path dir) {
        CliTest.Outcome clean = CliTest.shootdown("run", "--scenario", "munmap-dma", "--engine", "sim", "--quiet", "--out",
                dir.resolve("clean").toString());
        assertEquals(Shootdown.EXIT_CLEAN, clean.status(), clean.out() + clean.err());
        assertEquals("verdict: clean (0 violations)\n", clean.out());

        CliTest.Outcome lost = CliTest.shootdown("run", "--scenario", "mprotect-downgrade", "--faults",
                WatchdogCommandTest.LOST_IPI, "--engine", "sim", "--quiet", "--out", dir.resolve("lost").toString());
        assertEquals(Shootdown.EXIT_VIOLATIONS, lost.status(), lost.out() + lost.err());
        assertEquals("verdict: violations (9 violations)\n", lost.out());

        CliTest.Outcome replay = CliTest.shootdown("replay", "--log", dir.resolve("clean/events.jsonl").toString(), "--quiet",
                "--out", dir.resolve("replay").toString());
        assertEquals(Shootdown.EXIT_CLEAN, replay.status(), replay.out() + replay.err());
        assertEquals("verdict: clean (0 violations)\n", replay.out());
    }

    @Test
    void jsonPrintsReportJsonItself(@TempDir Path dir) throws Exception {
        CliTest.Outcome o = CliTest.shootdown("run", "--scenario", "munmap-dma", "--engine", "sim", "--json", "--out",
                dir.toString());

        assertEquals(Shootdown.EXIT_CLEAN, o.status(), o.out() + o.err());
        assertEquals(Files.readString(dir.resolve("report.json")), o.out());
        JsonNode report = EventCodec.mapper().readTree(o.out());
        assertEquals("clean", report.get("verdict").asText());

        CliTest.Outcome audit = CliTest.shootdown("audit", "--log", dir.resolve("events.jsonl").toString(), "--json", "--out",
                dir.resolve("audit").toString());
        assertEquals(Shootdown.EXIT_CLEAN, audit.status(), audit.out() + audit.err());
        assertEquals(Files.readString(dir.resolve("audit/report.json")), audit.out());
    }

    @Test
    void jsonAndQuietTogetherIsBadInput() {
        CliTest.Outcome o = CliTest.shootdown("run", "--scenario", "munmap-dma", "--engine", "sim", "--json", "--quiet");

        assertEquals(Shootdown.EXIT_BAD_INPUT, o.status());
        assertEquals("shootdown: --json and --quiet: choose one\n", o.err());
    }

    @Test
    void auditReadsStandardInputPlainOrGzipped(@TempDir Path dir) throws Exception {
        CliTest.Outcome run = CliTest.shootdown("run", "--scenario", "munmap-dma", "--engine", "sim", "--out", dir.toString());
        assertEquals(Shootdown.EXIT_CLEAN, run.status(), run.out() + run.err());
        byte[] plain = Files.readAllBytes(dir.resolve("events.jsonl"));
        ByteArrayOutputStream gz = new ByteArrayOutputStream();
        try (GZIPOutputStream out = new GZIPOutputStream(gz)) {
            out.write(plain);
        }

        for (byte[] input : new byte[][] {plain, gz.toByteArray()}) {
            InputStream stdin = System.in;
            try {
                System.setIn(new ByteArrayInputStream(input));
                CliTest.Outcome o = CliTest.shootdown("audit", "--log", "-", "--out", dir.resolve("stdin").toString());
                assertEquals(Shootdown.EXIT_CLEAN, o.status(), o.out() + o.err());
                assertTrue(o.out().contains("Shootdown audit: munmap-dma on x86, linux-6.6, log <stdin>, run munmap-dma-sim-s1"),
                        o.out());
                assertTrue(o.out().contains("audited 465 events"), o.out());
            } finally {
                System.setIn(stdin);
            }
        }
    }
}
