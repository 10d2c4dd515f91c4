package dev.shootdown.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/** The benchmark's bookkeeping on a small log (its timings are measured by hand, never asserted). */
class AuditBenchmarkTest {

    @TempDir
    Path dir;

    @Test
    void bothPhasesSeeEveryLineAndTheResultsSayWhatWasRun() throws Exception {
        Path log = dir.resolve("soak.jsonl");
        assertEquals(0, GenerateLog.run("--scenario", "scenarios/soak-kswapd.yaml", "--events", "20000", "--out", log.toString(),
                "--progress-every", "1000000"));
        Path results = dir.resolve("results.json");
        int status = new CommandLine(new AuditBenchmark()).execute("--log", log.toString(), "--out", dir.resolve("out").toString(),
                "--results", results.toString());
        assertEquals(0, status);

        JsonNode r = new ObjectMapper().readTree(results.toFile());
        assertEquals(20000, r.get("jacksonParse").get("events").asLong());
        assertEquals(20000, r.get("audit").get("events").asLong());
        assertEquals(0, r.get("auditExit").asLong(), "the soak workload under linux-6.6 is clean");
        double ratio = r.get("auditToParseRate").asDouble();
        double expected = (20000 / r.get("audit").get("seconds").asDouble()) / (20000 / r.get("jacksonParse").get("seconds").asDouble());
        assertEquals(expected, ratio, expected * 1e-9);
        assertTrue(r.get("xmxMiB").asLong() > 0);
    }

    @Test
    void theCountIsReadFromTheAuditsLastLines() {
        assertEquals(10_000_000L, AuditBenchmark.auditedEvents("verdict: clean (0 violations)\n"
                + "audited 10,000,000 events in 66.5 s (150,355 events/s)\nwrote x and y\n"));
    }
}
