package dev.shootdown.bench;

import dev.shootdown.broker.EmbeddedKafkaBroker;
import dev.shootdown.cli.Shootdown;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;

/**
 * Issue 19's concurrency row: the cells of {@code shootdown matrix --engine kafka} (every built-in
 * scenario x arch x kernel, seed 1) with {@code --jobs N}, against the same cells one at a time
 * ({@code --jobs 1}), both on one fresh embedded broker in this JVM, the reference first. The rate
 * is cells per second; the ratio is the speed-up. Both matrices must give the same table (the
 * runs' verdicts do not depend on how many ran at once).
 */
final class ConcurrencyBenchmark {

    private ConcurrencyBenchmark() {}

    static Row measure(int jobs, Path work) throws Exception {
        Files.createDirectories(work);
        try (EmbeddedKafkaBroker broker = EmbeddedKafkaBroker.start(null)) {
            Matrix serial = matrix(broker.bootstrapServers(), 1, work.resolve("matrix-jobs-1"));
            Matrix parallel = matrix(broker.bootstrapServers(), jobs, work.resolve("matrix-jobs-" + jobs));
            if (!serial.table().equals(parallel.table())) {
                throw new IllegalStateException("the matrices differ:\n" + serial.table() + "\n" + parallel.table());
            }
            double rate = parallel.cells() / parallel.seconds();
            double ref = serial.cells() / serial.seconds();
            return new Row(8, "concurrency", String.format(Locale.ROOT,
                    "shootdown matrix --engine kafka --jobs %d, %d cells (every built-in scenario x arch x kernel), seed 1", jobs,
                    parallel.cells()), rate, "cells/s", "the same cells with --jobs 1, same broker", ref,
                    "faster than one at a time, ≥ 2x", Row.ratioAtLeast(rate / ref, 2.0), String.format(Locale.ROOT,
                            "%.1f s against %.1f s; %d processors", parallel.seconds(), serial.seconds(),
                            Runtime.getRuntime().availableProcessors()));
        }
    }

    /** A matrix's table (stdout), how many cells it ran and in how long. */
    private record Matrix(String table, long cells, double seconds) {}

    private static Matrix matrix(String bootstrapServers, int jobs, Path out) {
        StringWriter stdout = new StringWriter();
        StringWriter stderr = new StringWriter();
        long start = System.nanoTime();
        int status = Shootdown.execute(new PrintWriter(stdout), new PrintWriter(stderr), "matrix", "--engine", "kafka",
                "--bootstrap-servers", bootstrapServers, "--jobs", Integer.toString(jobs), "--out", out.toString());
        double seconds = (System.nanoTime() - start) / 1e9;
        if (status != Shootdown.EXIT_CLEAN) {
            throw new IllegalStateException("matrix --jobs " + jobs + " exited " + status + ": " + stderr);
        }
        long cells = stderr.toString().lines().filter(l -> l.startsWith("[") && l.contains(" events)")).count();
        String table = stdout.toString().lines().filter(l -> !l.startsWith("wrote ")).reduce("", (a, b) -> a + b + "\n");
        return new Matrix(table, cells, seconds);
    }
}
