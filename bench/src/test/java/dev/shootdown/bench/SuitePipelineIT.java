package dev.shootdown.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/**
 * The suite's pipeline benchmark, pipeline-many and the wide workload, on short windows: an embedded broker, the Kafka host, and
 * Kafka's ProducerPerformance (copied into target/kafka-tools at package, before this runs).
 */
class SuitePipelineIT {

    @TempDir
    Path dir;

    @Test
    @Timeout(value = 5, unit = TimeUnit.MINUTES)
    void thePipelineGivesARowBesideKafkasProducerPerformance() {
        Suite suite = new Suite();
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        int status = new CommandLine(suite).setOut(new PrintWriter(out)).setErr(new PrintWriter(err))
                .execute("--only", "pipeline", "--pipeline-window-ns", "5000", "--pipeline-scenario", "scenarios/pipeline-many.yaml",
                        "--pipeline-wide-scenario", "scenarios/pipeline-wide.yaml", "--pipeline-wide-window-ns", "2000",
                        "--kafka-tools", "target/kafka-tools", "--work", dir.resolve("work").toString(),
                        "--out", dir.resolve("BENCHMARKS.md").toString());
        assertEquals(0, status, out + "\n" + err);
        assertEquals(2, suite.rows.size(), suite.rows.toString());
        for (Row r : suite.rows) {
            assertEquals("pipeline", r.name());
            assertTrue(r.rate() > 0 && r.refRate() > 0 && r.ratio() > 0, r.toString());
            assertTrue(r.refName().startsWith("Kafka's ProducerPerformance, same broker, "), r.refName());
            assertTrue(r.also().matches(".*; [0-9,]+ status records \\([0-9.]+ per event; the mm's: [0-9,]+\\);.*"), r.also());
            // the warm-up ran, and producing then consuming a record costs more than producing it alone
            assertTrue(r.also().matches(".*the same run just before it, as the warm-up \\(not the row's rate\\): [0-9.,]+ events/s;.*"),
                    r.also());
            java.util.regex.Matcher both = java.util.regex.Pattern.compile("1/consume\\) = [0-9.,]+ records/s on these cores, ([0-9.]+) of the raw rate")
                    .matcher(r.also());
            assertTrue(both.find(), r.also());
            double share = Double.parseDouble(both.group(1));
            assertTrue(share > 0 && share < 1, r.also());
            assertTrue(r.also().matches(".*this JVM \\(the broker, the clients, every node\\) used [0-9.]+ s of processor time in .*"),
                    r.also());
        }
        assertTrue(suite.rows.get(0).workload().startsWith("pipeline-many (9 CPUs, 2 IOMMUs, 4 mms)"), suite.rows.get(0).workload());
        assertTrue(suite.rows.get(1).workload().startsWith("pipeline-wide (64 CPUs, 8 IOMMUs, 256 mms)"), suite.rows.get(1).workload());
        assertTrue(out.toString().contains("| 1 | pipeline | "), out.toString());
    }
}
