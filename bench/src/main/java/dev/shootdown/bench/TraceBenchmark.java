package dev.shootdown.bench;

import dev.shootdown.cli.Shootdown;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.io.Writer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;

/**
 * Goal 7 ("seeing a run", issue 18): how fast the text and timeline views of a long log go, each
 * as a ratio to plain Jackson parsing of the same file's lines measured right before it in the
 * same JVM ({@link AuditBenchmark#parseOnly}). Both are the real commands: {@code shootdown trace
 * --log FILE}, every event as a line, written to a writer that drops them (what {@code > /dev/null}
 * costs, without the pipe), and {@code shootdown export --format chrome-trace --log FILE}, its two
 * passes (the audit, then the trace) writing the JSON to a file, which is deleted after. Beside
 * each rate, the largest heap left after a collection while it ran.
 */
final class TraceBenchmark {

    private TraceBenchmark() {}

    static List<Row> measure(Path log, Path work) throws Exception {
        String workload = String.format(Locale.ROOT, "%s (%,d MB file%s)", log.getFileName(), Files.size(log) / 1_000_000,
                log.toString().endsWith(".gz") ? ", gzip" : "");
        long xmx = Runtime.getRuntime().maxMemory() >> 20;

        AuditBenchmark.Phase parse = AuditBenchmark.measure("jackson-parse", () -> AuditBenchmark.parseOnly(log));
        StringWriter err = new StringWriter();
        int[] status = new int[1];
        AuditBenchmark.Phase trace = AuditBenchmark.measure("trace", () -> {
            Counting out = new Counting();
            status[0] = Shootdown.execute(new PrintWriter(out), new PrintWriter(err), "trace", "--log", log.toString());
            return out.lines;
        });
        check("trace", status[0], trace, parse, err);
        Row traceRow = new Row(7, "trace", workload + ", every event as a line", trace.eventsPerSecond(), "events/s",
                "plain Jackson parse of the same file", parse.eventsPerSecond(), "≥ 0.5 of the parse rate, heap bounded",
                Row.ratioAtLeast(trace.eventsPerSecond() / parse.eventsPerSecond(), 0.5), String.format(Locale.ROOT,
                        "%,d lines in %.1f s; largest heap after a GC: trace %d MiB, parse %d MiB, of -Xmx %d MiB", trace.events(),
                        trace.seconds(), trace.maxHeapAfterGcBytes() >> 20, parse.maxHeapAfterGcBytes() >> 20, xmx));

        AuditBenchmark.Phase parse2 = AuditBenchmark.measure("jackson-parse", () -> AuditBenchmark.parseOnly(log));
        Path json = work.resolve("bench.trace.json");
        StringWriter out = new StringWriter();
        AuditBenchmark.Phase export = AuditBenchmark.measure("export", () -> {
            status[0] = Shootdown.execute(new PrintWriter(out), new PrintWriter(err), "export", "--format", "chrome-trace", "--log",
                    log.toString(), "--out", json.toString());
            return parse.events();
        });
        long bytes = Files.exists(json) ? Files.size(json) : 0;
        Files.deleteIfExists(json);
        check("export", status[0], export, parse2, err);
        Row exportRow = new Row(7, "export chrome-trace", workload, export.eventsPerSecond(), "events/s",
                "plain Jackson parse of the same file", parse2.eventsPerSecond(), "≥ 0.25 of the parse rate (two passes), heap bounded",
                Row.ratioAtLeast(export.eventsPerSecond() / parse2.eventsPerSecond(), 0.25), String.format(Locale.ROOT,
                        "%,d MB written in %.1f s; largest heap after a GC: export %d MiB, parse %d MiB, of -Xmx %d MiB",
                        bytes / 1_000_000, export.seconds(), export.maxHeapAfterGcBytes() >> 20, parse2.maxHeapAfterGcBytes() >> 20,
                        xmx));
        return List.of(traceRow, exportRow);
    }

    private static void check(String what, int status, AuditBenchmark.Phase phase, AuditBenchmark.Phase parse, StringWriter err) {
        if (status != Shootdown.EXIT_CLEAN || phase.events() == 0) {
            throw new IllegalStateException(what + " failed (exit " + status + "): " + err);
        }
        if (what.equals("trace") && phase.events() != parse.events()) {
            throw new IllegalStateException("trace printed " + phase.events() + " lines for " + parse.events() + " events: " + err);
        }
    }

    /** Counts the lines written to it and drops them. */
    private static final class Counting extends Writer {
        long lines;

        @Override
        public void write(char[] buf, int off, int len) {
            for (int i = off; i < off + len; i++) {
                if (buf[i] == '\n') {
                    lines++;
                }
            }
        }

        @Override
        public void write(String s, int off, int len) {
            for (int i = off; i < off + len; i++) {
                if (s.charAt(i) == '\n') {
                    lines++;
                }
            }
        }

        @Override
        public void flush() {}

        @Override
        public void close() {}
    }
}
