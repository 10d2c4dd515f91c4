package dev.shootdown.cli;

import com.fasterxml.jackson.core.JsonGenerator;
import dev.shootdown.audit.Auditor;
import dev.shootdown.audit.ShootdownSummary;
import dev.shootdown.audit.Violation;
import dev.shootdown.cli.run.BadInputException;
import dev.shootdown.codec.EventCodec;
import dev.shootdown.event.Envelope;
import dev.shootdown.log.LogStream;
import dev.shootdown.trace.ChromeTrace;
import java.io.BufferedOutputStream;
import java.io.BufferedWriter;
import java.io.IOException;
import java.io.OutputStream;
import java.io.OutputStreamWriter;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.zip.GZIPOutputStream;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code shootdown export}: a run's events from Kafka to a file, in causal order, lines as stored;
 * or a run's log, from Kafka or a file, in the Trace Event Format ({@link ChromeTrace}) for
 * Perfetto's UI and {@code chrome://tracing}.
 */
@Command(name = "export", mixinStandardHelpOptions = true,
        description = "Write a run's events from Kafka to a file (events.jsonl; gzip when FILE ends in .gz), in causal order; "
                + "or, with --format chrome-trace, a run's or a log's events as a trace for Perfetto or chrome://tracing.")
final class ExportCommand implements Callable<Integer> {

    /** Violations marked in a chrome trace, at most; more are counted. */
    static final int MAX_MARKED_VIOLATIONS = 100_000;

    @Spec
    CommandSpec spec;

    @ArgGroup(exclusive = true, multiplicity = "1")
    LogSource source;

    @Option(names = "--bootstrap-servers", paramLabel = "HOST:PORT", description = "The cluster that holds --run.")
    String bootstrapServers;

    @Mixin
    KafkaConfigOption kafkaConfig;

    @Option(names = "--format", defaultValue = "jsonl", paramLabel = "jsonl|chrome-trace",
            description = "jsonl: the run's log as stored (--run only); chrome-trace: the Trace Event Format. Default: ${DEFAULT-VALUE}")
    String format;

    @Option(names = "--out", paramLabel = "FILE", description = "Where to write it. Default: RUN.jsonl, or RUN.trace.json for chrome-trace")
    Path out;

    @Override
    public Integer call() throws Exception {
        source.check(bootstrapServers);
        boolean chrome = switch (format) {
            case "jsonl" -> false;
            case "chrome-trace" -> true;
            default -> throw new BadInputException("--format: expected jsonl or chrome-trace, got '" + format + "'");
        };
        if (!chrome && source.log != null) {
            throw new BadInputException("--log " + source.log + ": a log is jsonl already; --format chrome-trace converts one");
        }
        String name = source.run != null ? source.run : source.log.getFileName().toString().replaceFirst("\\.jsonl(\\.gz)?$", "");
        Path file = out != null ? out : Path.of(name + (chrome ? ".trace.json" : ".jsonl"));
        if (Files.isDirectory(file)) {
            throw new BadInputException("--out " + file + ": is a directory; give a file name");
        }
        boolean gzip = file.getFileName().toString().endsWith(".gz");
        Path parent = file.toAbsolutePath().getParent();
        if (!Files.isDirectory(parent)) {
            throw new BadInputException("--out " + file + ": no directory " + parent + " to write it in");
        }
        PrintWriter stdout = spec.commandLine().getOut();
        // streamed: a spool per node and partition beside the file, merged into the canonical order as it is written
        Path spool = Files.createTempDirectory(parent, ".spool-");
        try {
            if (!chrome) {
                long events = exportRun(file, gzip, spool);
                stdout.println("wrote " + file + " (" + events + " events of run " + source.run + ")");
            } else {
                Path log = source.log;
                if (log == null) {
                    log = spool.resolve("events.jsonl");
                    exportRun(log, false, spool);
                }
                chromeTrace(log, file, gzip, stdout);
            }
        } finally {
            try (var files = Files.list(spool)) {
                for (Path p : files.toList()) {
                    Files.deleteIfExists(p);
                }
            }
            Files.deleteIfExists(spool);
        }
        stdout.flush();
        return Shootdown.EXIT_CLEAN;
    }

    private long exportRun(Path file, boolean gzip, Path spool) throws Exception {
        try (OutputStream os = gzip ? new GZIPOutputStream(Files.newOutputStream(file)) : Files.newOutputStream(file);
                BufferedWriter w = new BufferedWriter(new OutputStreamWriter(os, StandardCharsets.UTF_8))) {
            return new ClusterRuns(bootstrapServers, kafkaConfig.file).stream(source.run, spool, (line, envelope) -> {
                w.write(line);
                w.write('\n');
            });
        } catch (IOException e) {
            throw new BadInputException("--out " + file + ": cannot write it (" + e.getMessage() + ")");
        }
    }

    /** Two passes over {@code log}: the audit, for the violations to mark; then the trace. */
    private void chromeTrace(Path log, Path file, boolean gzip, PrintWriter stdout) throws Exception {
        Map<String, String> violations = new HashMap<>();
        long[] violationCount = {0};
        Auditor auditor = new Auditor(Auditor.DEFAULT_FAULT_LIVELOCK_THRESHOLD, new Auditor.Sink() {
            @Override
            public void onViolation(Violation v) {
                violationCount[0]++;
                if (violations.size() < MAX_MARKED_VIOLATIONS && !v.events().isEmpty()) {
                    violations.putIfAbsent(v.events().get(v.events().size() - 1), v.kind());
                }
            }

            @Override
            public void onShootdown(ShootdownSummary shootdown) {}
        });
        try (LogStream stream = AuditOptions.open(log)) {
            for (Envelope e = stream.next(); e != null; e = stream.next()) {
                auditor.accept(e);
            }
            if (stream.problemCount() > 0) {
                throw new BadInputException(stream.problems().get(0).describe(log) + (stream.problemCount() > 1
                        ? " (and " + (stream.problemCount() - 1) + " more problems; `shootdown audit --log` lists them)" : ""));
            }
        }
        auditor.finish();
        long events = 0;
        try (OutputStream os = gzip ? new GZIPOutputStream(Files.newOutputStream(file)) : Files.newOutputStream(file);
                JsonGenerator json = EventCodec.mapper().getFactory().createGenerator(new BufferedOutputStream(os, 1 << 16));
                LogStream stream = AuditOptions.open(log)) {
            try (ChromeTrace trace = new ChromeTrace(json, violations)) {
                for (Envelope e = stream.next(); e != null; e = stream.next()) {
                    trace.accept(e);
                    events++;
                }
            }
        } catch (IOException e) {
            throw new BadInputException("--out " + file + ": cannot write it (" + e.getMessage() + ")");
        }
        stdout.println("wrote " + file + " (" + events + " events, " + violations.size() + " of " + violationCount[0]
                + " violations marked): open it in https://ui.perfetto.dev (Open trace file) or chrome://tracing (Load)");
    }
}
