package dev.shootdown.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/**
 * The suite's latency benchmark on a short window: an embedded broker, the Kafka host, and
 * Kafka's EndToEndLatency (copied into target/kafka-tools at package, before this runs). No speed
 * is asserted: only that each figure is there and consistent.
 */
class SuiteLatencyIT {

    @TempDir
    Path dir;

    @Test
    @Timeout(value = 5, unit = TimeUnit.MINUTES)
    void theLatencyGivesARowBesideKafkasEndToEndLatency() throws Exception {
        Path md = dir.resolve("BENCHMARKS.md");
        Files.writeString(md, "# Benchmarks\n\n" + Suite.BEGIN + "\n\n| 1 | pipeline | kept |\n\n" + Suite.END + "\n\nBy hand.\n");
        Suite suite = new Suite();
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        int status = new CommandLine(suite).setOut(new PrintWriter(out)).setErr(new PrintWriter(err))
                .execute("--only", "latency", "--latency-window-ns", "30000", "--latency-scenario", "scenarios/latency-munmap.yaml",
                        "--latency-e2e-records", "200", "--kafka-tools", "target/kafka-tools", "--out", md.toString());
        assertEquals(0, status, out + "\n" + err);
        assertEquals(1, suite.rows.size());
        Row r = suite.rows.get(0);
        assertEquals(2, r.goal());
        assertEquals("latency", r.name());
        assertTrue(r.workload().startsWith("latency-munmap (4 CPUs, 1 IOMMUs, 1 mms) x86 linux-6.6, 30,000 ns simulated"), r.workload());
        assertTrue(r.refName().startsWith("Kafka's EndToEndLatency, same broker, acks=all, "), r.refName());
        assertTrue(r.verdict().startsWith("met") || r.verdict().startsWith("missed"), r.verdict());
        // the nodes reported the statuses they said and took: both legs through Kafka were timed
        assertTrue(r.also().matches(".*to a leaf's consumer [0-9.]+ ms \\([1-9][0-9,]*\\), a leaf's to the mm's [0-9.]+ ms "
                + "\\([1-9][0-9,]*\\).*"), r.also());

        LatencyBenchmark.Result l = suite.latency;
        assertNotNull(l);
        assertFalse(l.shootdowns().samples().isEmpty(), l.shootdowns().toString());
        double[] ms = l.latencyMs();
        assertTrue(ms[0] > 0 && ms[0] <= ms[1] && ms[1] <= ms[2], ms[0] + " " + ms[1] + " " + ms[2]);
        assertEquals(ms[0], r.rate());
        for (ShootdownLatencies.Sample s : l.shootdowns().samples()) {
            assertTrue(s.latencyNs() > 0, s.toString());
            // x86 linux-6.6 calls the secondary-TLB hook once flush_tlb_multi has every acknowledgement:
            // the IPI to a CPU, its acknowledgement, the invalidation request to the IOMMU
            assertTrue(s.hops() >= 3, s.toString());
            assertTrue(s.lastCompletion().startsWith("iommu0#"), s.toString());
        }
        assertEquals(200, l.e2e().records());
        assertTrue(l.e2e().p50Ms() <= l.e2e().p99Ms() && l.e2e().p99Ms() <= l.e2e().p999Ms() && l.e2e().avgMs() > 0,
                l.e2e().toString());
        assertTrue(out.toString().contains("| 2 | latency | "), out.toString());

        String written = Files.readString(md);
        assertTrue(written.contains("| 1 | pipeline | kept |"), "the other rows are kept: " + written);
        assertTrue(written.contains(Suite.LATENCY_BEGIN) && written.contains("| 2 | latency | ") && written.contains("By hand."), written);
    }

    @Test
    @Timeout(value = 1, unit = TimeUnit.MINUTES)
    void badLatencyInputIsOneLineAndExit2() throws Exception {
        for (String[] args : new String[][] {
                {"--only", "latency", "--latency-scenario", dir.resolve("missing.yaml").toString()},
                {"--only", "latency", "--latency-window-ns", "0", "--latency-scenario", "scenarios/latency-munmap.yaml"},
                {"--only", "latency", "--latency-e2e-records", "-5", "--latency-scenario", "scenarios/latency-munmap.yaml"},
                {"--only", "latencyy"}}) {
            StringWriter out = new StringWriter();
            StringWriter err = new StringWriter();
            int status = new CommandLine(new Suite()).setOut(new PrintWriter(out)).setErr(new PrintWriter(err))
                    .execute(args);
            assertEquals(2, status, String.join(" ", args) + ": " + err);
            String first = err.toString().lines().findFirst().orElse("");
            assertTrue(first.contains("--latency") || first.contains("--only"), first);
            assertFalse(err.toString().contains("\tat "), "no stack trace: " + err);
        }
    }
}
