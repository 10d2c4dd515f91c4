package dev.shootdown.cli;

import dev.shootdown.audit.AuditReport;
import dev.shootdown.audit.Auditor;
import dev.shootdown.event.ControlEvent;
import dev.shootdown.event.Envelope;
import dev.shootdown.host.kafka.InfrastructureException;
import dev.shootdown.host.kafka.RecordedEvent;
import dev.shootdown.host.replay.Replayer;
import dev.shootdown.log.LogFile;
import java.io.PrintWriter;
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

    static final class Source {
        @Option(names = "--log", required = true, paramLabel = "FILE", description = "An exported log (events.jsonl, or .gz).")
        Path log;

        @Option(names = "--run", required = true, paramLabel = "ID", description = "A run on the Kafka cluster at --bootstrap-servers.")
        String run;
    }

    @Spec
    CommandSpec spec;

    @ArgGroup(exclusive = true, multiplicity = "1")
    Source source;

    @Option(names = "--bootstrap-servers", paramLabel = "HOST:PORT", description = "The cluster that holds --run.")
    String bootstrapServers;

    @Option(names = "--kafka-config", paramLabel = "FILE",
            description = "Kafka client settings (security.protocol, sasl.*, ssl.*...) as a properties file.")
    Path kafkaConfig;

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


    @Override
    public Integer call() throws Exception {
        int livelockThreshold = audit.livelockThreshold();
        if (source.run != null && bootstrapServers == null) {
            throw new BadInputException("--run needs --bootstrap-servers: the cluster that holds the run");
        }
        if (source.log != null && bootstrapServers != null) {
            throw new BadInputException("--bootstrap-servers applies to --run only");
        }
        output.validate();
        PrintWriter terminal = spec.commandLine().getOut();
        PrintWriter stdout = output.narration(terminal);
        PrintWriter stderr = spec.commandLine().getErr();
        List<Envelope> log;
        String from;
        if (source.log != null) {
            LogFile.Contents contents = AuditOptions.read(source.log);
            if (!contents.clean()) {
                for (LogFile.Problem p : contents.problems()) {
                    stderr.println("shootdown: " + p.describe(source.log));
                }
                stderr.println("shootdown: the log has " + contents.problems().size()
                        + " problem(s) and cannot be replayed; `shootdown audit --log` audits what it can");
                stderr.flush();
                return Shootdown.EXIT_BAD_INPUT;
            }
            log = contents.ordered();
            from = "log " + source.log;
        } else {
            log = readKafka(source.run);
            from = "run " + source.run + " on " + bootstrapServers;
        }
        for (Envelope e : log) {
            if (e.event() instanceof ControlEvent.TraceImported t) {
                throw new BadInputException(from + " was imported from a kernel trace (" + t.file() + "): it has no"
                        + " simulated nodes to replay; `shootdown audit --log` audits it");
            }
        }
        Replayer.Result replay = Replayer.replay(log, Machine::fresh);
        long decisions = replay.decisions().values().stream().mapToLong(Long::longValue).sum();
        if (replay.divergence() != null) {
            stderr.println("shootdown: " + replay.divergence().describe() + beforeVariants(log));
            stderr.flush();
            return Shootdown.EXIT_BAD_INPUT;
        }
        stdout.println("replayed " + decisions + " decisions of " + replay.decisions().size() + " nodes from " + from
                + ": every node emitted exactly what the log recorded");
        if (at != null) {
            printCachesAt(log, at, livelockThreshold, stdout);
        }
        AuditReport report = Auditor.audit(log, livelockThreshold);
        RunCommand.createOutputDirectory(out);
        ScenarioRunner.writeReport(out, report, log);
        String source = from;
        output.answer(terminal, output.person(() -> AuditPrinter.print(report, source, stdout), out.resolve("report.json"),
                source, stdout), AuditPrinter.verdictLine(report,
                report.violations().size()), out.resolve("report.json"));
        stdout.println("wrote " + out.resolve("report.json") + " and " + out.resolve("report.html"));
        stdout.flush();
        return report.violations().isEmpty() ? Shootdown.EXIT_CLEAN : Shootdown.EXIT_VIOLATIONS;
    }

    /**
     * For a log recorded before run-started carried its kernel variant (schema 1): what the
     * replay re-executed instead, today's built-in of the same name, whose rules may have changed.
     */
    private static String beforeVariants(List<Envelope> log) {
        for (Envelope e : log) {
            if (e.event() instanceof ControlEvent.RunStarted s && s.kernel() == null) {
                return " (the log was recorded before runs recorded their kernel variant, schema " + e.schema()
                        + ": the replay ran today's built-in " + s.scenario().policy() + ", whose rules may have changed since)";
            }
        }
        return "";
    }

    /** Time travel: the caches as the log leaves them just after {@code eventId}. */
    private static void printCachesAt(List<Envelope> log, String eventId, int livelockThreshold, PrintWriter stdout)
            throws BadInputException {
        Auditor auditor = new Auditor(livelockThreshold);
        for (Envelope e : log) {
            auditor.accept(e);
            if (e.id().equals(eventId)) {
                stdout.println("caches just after " + eventId + " (" + e.event().getClass().getSimpleName() + ", t="
                        + e.timeNs() + " ns):");
                auditor.cachesNow().forEach((holder, entries) -> {
                    stdout.println("  " + holder + ": " + (entries.isEmpty() ? "empty" : entries.size() + " entries"));
                    for (Auditor.CachedTranslation t : entries) {
                        stdout.println("    " + t.va() + " -> frame " + t.frame() + " (allocation " + t.epoch() + "), filled by "
                                + t.filledBy());
                    }
                });
                return;
            }
        }
        throw new BadInputException("--at " + eventId + ": no such event in the log (ids look like coordinator#88)");
    }

    private List<Envelope> readKafka(String runId) throws InfrastructureException, BadInputException {
        List<Envelope> log = new ArrayList<>();
        for (RecordedEvent r : new ClusterRuns(bootstrapServers, kafkaConfig).read(runId)) {
            log.add(r.envelope());
        }
        return log;
    }
}
