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
    void aRunOfSomeBenchmarksKeepsTheFullRunsTable() throws Exception {
        Path md = dir.resolve("BENCHMARKS.md");
        String before = "# Benchmarks\n\n" + Suite.BEGIN + "\n| 3 | engine | the full run's row |\n" + Suite.END + "\n\nkept\n";
        Files.writeString(md, before);
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        int status = new CommandLine(new Suite()).setOut(new PrintWriter(out)).setErr(new PrintWriter(err))
                .execute("--only", "engine", "--seconds", "0.3", "--cell", "munmap-dma:x86:linux-6.6", "--out", md.toString());
        assertEquals(0, status, out.toString() + err);
        assertTrue(out.toString().contains("| 3 | engine | munmap-dma x86 linux-6.6 |"), "printed: " + out);
        assertEquals(before, Files.readString(md), "the full run's table is kept");
        assertTrue(err.toString().contains("printed above, not written"), err.toString());
    }

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
    @Timeout(value = 120, unit = TimeUnit.SECONDS)
    void theScaleSweepsGiveEveryPointAPositiveCostAndAPlot() throws Exception {
        Path md = dir.resolve("BENCHMARKS.md");
        Files.writeString(md, "# Benchmarks\n\n" + Suite.BEGIN + "\nthe other benchmarks' table\n" + Suite.END + "\n\nkept\n");
        Path svg = dir.resolve("results/scale.svg");
        Suite suite = new Suite();
        StringWriter out = new StringWriter();
        int status = new CommandLine(suite).setOut(new PrintWriter(out)).setErr(new PrintWriter(new StringWriter()))
                .execute("--only", "scale", "--scale-seconds", "0.2", "--scale-cpus", "2,4", "--scale-iommus", "1,2",
                        "--scale-mms", "1,10", "--scale-svg", svg.toString(), "--out", md.toString());
        assertEquals(0, status, out.toString());

        List<String> got = new ArrayList<>();
        for (ScaleBenchmark.Point p : suite.scalePoints) {
            got.add(p.sweep() + " " + p.value());
            assertTrue(p.nsPerShootdown() > 0 && p.baseNsPerShootdown() > 0 && p.ratio() > 0 && Double.isFinite(p.ratio()), p.toString());
            assertTrue(p.counts().shootdowns() > 0 && p.counts().eventsPerShootdown() > 0, p.toString());
        }
        assertEquals(List.of("CPUs 2", "CPUs 4", "IOMMUs 1", "IOMMUs 2", "mms 1", "mms 10"), got);
        // the fan-out the workload is built for: an IPI per CPU, a secondary invalidation per IOMMU
        ScaleBenchmark.Counts cpus4 = suite.scalePoints.get(1).counts();
        assertEquals(4.0, cpus4.ipis() / (double) cpus4.shootdowns(), 0.01);
        ScaleBenchmark.Counts iommus2 = suite.scalePoints.get(3).counts();
        assertEquals(2.0, iommus2.secondary() / (double) iommus2.shootdowns(), 0.01);

        assertEquals(3, suite.rows.size());
        for (Row r : suite.rows) {
            assertEquals(5, r.goal());
            assertTrue(r.rate() > 0 && r.refRate() > 0, r.toString());
            assertTrue(r.verdict().startsWith("met") || r.verdict().startsWith("missed"), r.verdict());
        }
        String written = Files.readString(md);
        assertTrue(written.contains("the other benchmarks' table"), "--only scale keeps the suite's table");
        assertTrue(written.contains(Suite.SCALE_BEGIN) && written.contains(Suite.SCALE_END) && written.contains("\n\nkept\n"), written);
        assertTrue(written.contains("![Cost per shootdown over the base's, per sweep](results/scale.svg)"), written);
        String plot = Files.readString(svg);
        assertTrue(plot.startsWith("<svg") && plot.strip().endsWith("</svg>"), plot);
        assertEquals(3, plot.split("<polyline").length - 1, "one polyline per sweep");
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
