package dev.shootdown.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.shootdown.codec.EventCodec;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code shootdown audit} streams: a log far bigger than the heap audits in a separate JVM with
 * {@code -Xmx48m}. 300,000 events of the soak workload decode to several hundred MB of envelopes,
 * so an audit that held the log, or anything per event (every shootdown, every freed frame), runs
 * out of memory here; the 10-million-event measurement is in bench/README.md.
 */
class AuditInASmallHeapTest {

    private static final int EVENTS = 300_000;

    @TempDir
    Path dir;

    @Test
    void aLogManyTimesTheHeapAuditsInFortyEightMegabytes() throws Exception {
        Path log = dir.resolve("soak.jsonl.gz");
        assertEquals(0, GenerateLog.run("--scenario", "scenarios/soak-kswapd.yaml", "--events", String.valueOf(EVENTS), "--out",
                log.toString(), "--progress-every", "1000000"));
        Path out = dir.resolve("out");
        Path stdout = dir.resolve("stdout.txt");
        Process p = new ProcessBuilder(List.of(javaBin(), "-Xmx48m", "-XX:+ExitOnOutOfMemoryError", "-cp",
                System.getProperty("java.class.path"), "dev.shootdown.cli.Shootdown", "audit", "--log", log.toString(), "--out",
                out.toString(), "--no-progress"))
                .redirectErrorStream(true).redirectOutput(stdout.toFile()).start();
        assertTrue(p.waitFor(5, TimeUnit.MINUTES), "the audit finished");
        String printed = Files.readString(stdout, StandardCharsets.UTF_8);
        assertEquals(0, p.exitValue(), "clean, and not out of memory: " + tail(printed));

        JsonNode report = EventCodec.mapper().readTree(out.resolve("report.json").toFile());
        assertEquals(EVENTS, report.get("stats").get("events").asLong());
        assertEquals("clean", report.get("verdict").asText());
        // Thousands of shootdowns were summarized into the report while a few were held at a time.
        assertTrue(report.get("shootdowns").size() > 1000, report.get("shootdowns").size() + " shootdowns");
        assertTrue(report.get("stats").get("framesFreed").asLong() > 5000);
        assertTrue(printed.contains("audited 300,000 events"), tail(printed));
    }

    private static String javaBin() {
        return Path.of(System.getProperty("java.home"), "bin", "java").toString();
    }

    private static String tail(String s) {
        return s.length() <= 2000 ? s : s.substring(s.length() - 2000);
    }
}
