package dev.shootdown.cli;

import dev.shootdown.audit.Auditor;
import dev.shootdown.cli.report.AuditPrinter;
import dev.shootdown.cli.report.StreamingAudit;
import dev.shootdown.cli.run.BadInputException;
import dev.shootdown.event.ControlEvent;
import dev.shootdown.event.Envelope;
import dev.shootdown.host.replay.Replayer;
import dev.shootdown.log.LogStream;
import dev.shootdown.simulation.Machine;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code shootdown replay}: re-executes every node of a recorded run from its log (a file, or the
 * run's topics on Kafka), checks that each decision emits what the log recorded, then audits it
 * and writes the same {@code report.json} as {@code run}.
 */
@Command(name = "replay", mixinStandardHelpOptions = true,
        description = "Re-execute a recorded run's nodes from its log (--log FILE, or --bootstrap-servers and --run ID), "
                + "report the first divergence, audit it and write DIR/report.json.")
final class ReplayCommand implements Callable<Integer> {

    @Spec
    CommandSpec spec;

    @ArgGroup(exclusive = true, multiplicity = "1")
    LogSource source;

    @Option(names = "--bootstrap-servers", paramLabel = "HOST:PORT", description = "The cluster that holds --run.")
    String bootstrapServers;

    @Mixin
    KafkaConfigOption kafkaConfig;

    @Option(names = "--out", defaultValue = "shootdown-out", paramLabel = "DIR",
            description = "Where report.json goes. Default: ${DEFAULT-VALUE}")
    Path out;

    @Mixin
    AuditOptions audit;

    @Mixin
    OutputOptions output;

    @Option(names = "--at", paramLabel = "EVENT",
            description = "Also print what every TLB, IOTLB and ATC held just after event EVENT (an id such as coordinator#88).")
    String at;


    /** A log that cannot be replayed, found while reading it. */
    private static final class Refused extends RuntimeException {
        Refused(String message) {
            super(message, null, false, false);
        }
    }

    @Override
    public Integer call() throws Exception {
        int livelockThreshold = audit.livelockThreshold();
        source.check(bootstrapServers);
        output.validate();
        PrintWriter terminal = spec.commandLine().getOut();
        PrintWriter stdout = output.narration(terminal);
        PrintWriter stderr = spec.commandLine().getErr();
        String from = source.log != null ? "log " + source.log : "run " + source.run + " on " + bootstrapServers;
        RunCommand.createOutputDirectory(out);
        // Streamed: each event is replayed, audited and (for --at) probed as it is read, so memory does not grow
        // with the log; report.json and report.html are written only once the whole log replayed without divergence.
        Replayer.Stream replayer = new Replayer.Stream(Machine::fresh);
        List<String> problems = new ArrayList<>();
        String[] oldSchema = {""};
        java.io.StringWriter caches = new java.io.StringWriter();
        boolean[] found = {false};
        StreamingAudit.Result result;
        try (StreamingAudit streaming = new StreamingAudit(out, livelockThreshold)) {
            java.util.function.Consumer<Envelope> feed = e -> {
                if (e.event() instanceof ControlEvent.TraceImported t) {
                    throw new Refused(from + " was imported from a kernel trace (" + t.file() + "): it has no"
                            + " simulated nodes to replay; `shootdown audit --log` audits it");
                }
                if (e.event() instanceof ControlEvent.RunStarted s && s.kernel() == null) {
                    oldSchema[0] = beforeVariants(e, s);
                }
                replayer.accept(e);
                streaming.accept(e);
                if (at != null && !found[0] && e.id().equals(at)) {
                    found[0] = true;
                    printCaches(e, streaming.cachesNow(), new PrintWriter(caches, true));
                }
            };
            try {
                if (source.log != null) {
                    try (LogStream stream = AuditOptions.open(source.log)) {
                        try {
                            for (Envelope e = stream.next(); e != null; e = stream.next()) {
                                feed.accept(e);
                            }
                        } catch (java.io.IOException e) {
                            problems.add(source.log + ": unreadable after line " + stream.linesRead() + " (" + e.getMessage() + ")");
                        }
                        problems.addAll(0, stream.problems().stream().map(p -> p.describe(source.log)).toList());
                        if (stream.problemCount() > stream.problems().size()) {
                            problems.add(source.log + ": and " + (stream.problemCount() - stream.problems().size()) + " more problems");
                        }
                    }
                } else {
                    Path spool = Files.createTempDirectory(out, ".spool-");
                    try {
                        new ClusterRuns(bootstrapServers, kafkaConfig.file).stream(source.run, spool, (line, e) -> feed.accept(e));
                    } finally {
                        Files.deleteIfExists(spool);
                    }
                }
            } catch (Refused r) {
                throw new BadInputException(r.getMessage());
            }
            if (!problems.isEmpty()) {
                problems.forEach(p -> stderr.println("shootdown: " + p));
                stderr.println("shootdown: the log has " + problems.size()
                        + " problem(s) and cannot be replayed; `shootdown audit --log` audits what it can");
                stderr.flush();
                return Shootdown.EXIT_BAD_INPUT;
            }
            Replayer.Result replay = replayer.finish();
            if (replay.divergence() != null) {
                stderr.println("shootdown: " + replay.divergence().describe() + oldSchema[0]);
                stderr.flush();
                return Shootdown.EXIT_BAD_INPUT;
            }
            if (at != null && !found[0]) {
                throw new BadInputException("--at " + at + ": no such event in the log (ids look like coordinator#88)");
            }
            long decisions = replay.decisions().values().stream().mapToLong(Long::longValue).sum();
            stdout.println("replayed " + decisions + " decisions of " + replay.decisions().size() + " nodes from " + from
                    + ": every node emitted exactly what the log recorded");
            stdout.print(caches);
            result = streaming.finish(List.of());
        }
        StreamingAudit.Result audited = result;
        output.answer(terminal, output.person(() -> AuditPrinter.print(audited, from, stdout), out.resolve("report.json"),
                from, stdout), AuditPrinter.verdictLine(result.report(), result.violations()), out.resolve("report.json"));
        stdout.println("wrote " + out.resolve("report.json") + " and " + out.resolve("report.html"));
        stdout.flush();
        return result.violations() == 0 ? Shootdown.EXIT_CLEAN : Shootdown.EXIT_VIOLATIONS;
    }

    /**
     * For a log recorded before run-started carried its kernel variant (schema 1): what the
     * replay re-executed instead, today's built-in of the same name, whose rules may have changed.
     */
    private static String beforeVariants(Envelope e, ControlEvent.RunStarted s) {
        return " (the log was recorded before runs recorded their kernel variant, schema " + e.schema()
                + ": the replay ran today's built-in " + s.scenario().policy() + ", whose rules may have changed since)";
    }

    /** Time travel: the caches as the log leaves them just after {@code e}. */
    private static void printCaches(Envelope e, java.util.SortedMap<String, List<Auditor.CachedTranslation>> caches,
            PrintWriter stdout) {
        stdout.println("caches just after " + e.id() + " (" + e.event().getClass().getSimpleName() + ", t="
                + e.timeNs() + " ns):");
        caches.forEach((holder, entries) -> {
            stdout.println("  " + holder + ": " + (entries.isEmpty() ? "empty" : entries.size() + " entries"));
            for (Auditor.CachedTranslation t : entries) {
                stdout.println("    " + t.va() + " -> frame " + t.frame() + " (allocation " + t.epoch() + "), filled by "
                        + t.filledBy());
            }
        });
    }
}
