package dev.shootdown.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/**
 * The suite, each benchmark for about a second: it keeps them compiling and working. The pipeline
 * benchmark starts a broker, so it has an integration test of its own ({@link SuitePipelineIT}).
 * Rates are never asserted beyond being positive (the machine decides them); the table's shape is.
 */
class SuiteSmokeTest {

    @TempDir
    Path dir;

    @Test
    @Timeout(value = 180, unit = TimeUnit.SECONDS)
    void everyBenchmarkGivesARowWithARateAReferenceAndARatio() throws Exception {
        Path md = dir.resolve("BENCHMARKS.md");
        Files.writeString(md, "# Benchmarks\n\nA profile written by hand.\n");
        Suite suite = new Suite();
        StringWriter out = new StringWriter();
        int status = new CommandLine(suite).setOut(new PrintWriter(out)).setErr(new PrintWriter(new StringWriter()))
                .execute("--only", "engine,audit", "--seconds", "0.6", "--audit-events", "20000", "--audit-scenario", "scenarios/soak-kswapd.yaml",
                        "--work", dir.resolve("work").toString(), "--out", md.toString());
        assertEquals(0, status, out.toString());

        List<String> expected = new ArrayList<>();
        EngineBenchmark.SEED_CELLS.forEach(c -> expected.add("engine " + c));
        expected.add("audit soak-kswapd, 20,000 events");
        List<String> got = new ArrayList<>();
        for (Row r : suite.rows) {
            got.add(r.name() + " " + r.workload());
            assertTrue(r.rate() > 0 && r.refRate() > 0 && Double.isFinite(r.ratio()) && r.ratio() > 0, r.toString());
            assertTrue(r.verdict().startsWith("met") || r.verdict().startsWith("missed"), r.verdict());
        }
        assertEquals(expected.size(), got.size(), got.toString());
        for (int i = 0; i < expected.size(); i++) {
            assertTrue(got.get(i).startsWith(expected.get(i)), got.get(i) + " should start with " + expected.get(i));
        }

        String table = out.toString();
        String written = Files.readString(md);
        for (Row r : suite.rows) {
            String line = "| " + r.goal() + " | " + r.name() + " | " + r.workload() + " | ";
            assertTrue(table.contains(line), "printed: " + line);
            assertTrue(written.contains(line), "written: " + line);
        }
        assertTrue(written.startsWith("# Benchmarks\n\nA profile written by hand.\n"), "the text outside the markers is kept");
        assertTrue(written.contains(Suite.BEGIN) && written.contains(Suite.END));
        assertTrue(written.contains("dev.shootdown.bench.Suite --only engine,audit --seconds 0.6"), "the command that reproduces it");
        assertTrue(written.contains(" cores") && written.contains("JVM "), "the machine");
    }

    @Test
    void aSecondRunReplacesOnlyTheSectionBetweenTheMarkers() throws Exception {
        Path md = dir.resolve("B.md");
        Files.writeString(md, "# Head\n\n" + Suite.BEGIN + "\nold table\n" + Suite.END + "\n\n## Profile\n\nkept\n");
        Suite.write(md, Suite.BEGIN + "\nnew table\n" + Suite.END + "\n");
        assertEquals("# Head\n\n" + Suite.BEGIN + "\nnew table\n" + Suite.END + "\n\n## Profile\n\nkept\n", Files.readString(md));
    }

    @Test
    void aMissedGoalSaysByHowMuch() {
        assertEquals("missed: 0.40 of the goal, 2.50x short (600,000 events/s)", Row.atLeast(400_000, 1_000_000, "events/s"));
        assertEquals("met (1.50x the goal)", Row.atLeast(1_500_000, 1_000_000, "events/s"));
        assertEquals("missed: ratio 0.250 < 0.50, 2.00x short", Row.ratioAtLeast(0.25, 0.5));
    }
}
