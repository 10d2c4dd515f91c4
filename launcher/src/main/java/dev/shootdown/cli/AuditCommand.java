package dev.shootdown.cli;

import dev.shootdown.cli.report.StreamingAudit;
import dev.shootdown.cli.report.AuditPrinter;
import dev.shootdown.event.Envelope;
import dev.shootdown.log.LogFile;
import dev.shootdown.log.LogStream;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import me.tongfei.progressbar.ConsoleProgressBarConsumer;
import me.tongfei.progressbar.ProgressBar;
import me.tongfei.progressbar.ProgressBarBuilder;
import me.tongfei.progressbar.ProgressBarStyle;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code shootdown audit --log FILE}: the auditor alone, on an exported log, streaming: the log is
 * read line by line ({@link LogStream}), each event audited as it is placed in causal order, and
 * what the auditor settles is spooled beside the report, so memory stays bounded by the live
 * simulated state however long the log is. A log with problems (bad lines, duplicates, missing
 * events) is audited as far as it can be placed in causal order and the report is marked
 * incomplete; {@code --strict} refuses it instead and writes no report.
 */
@Command(name = "audit", mixinStandardHelpOptions = true,
        description = "Audit an exported run log (events.jsonl, or .jsonl.gz) and write DIR/report.json and DIR/report.html.")
final class AuditCommand implements Callable<Integer> {

    @Spec
    CommandSpec spec;

    @Option(names = "--log", required = true, paramLabel = "FILE",
            description = "The log: one event envelope per line (plain or gzip); - reads standard input.")
    Path log;

    @Option(names = "--out", defaultValue = "shootdown-out", paramLabel = "DIR",
            description = "Where report.json and report.html go. Default: ${DEFAULT-VALUE}")
    Path out;

    @Option(names = "--strict", description = "Refuse a log with any problem instead of auditing what can be read.")
    boolean strict;

    @Option(names = "--progress", negatable = true,
            description = "Show a progress bar on stderr. Default: only when stderr is a terminal.")
    Boolean progress;

    @Mixin
    AuditOptions audit;

    @Mixin
    OutputOptions output;

    @Override
    public Integer call() throws Exception {
        int livelockThreshold = audit.livelockThreshold();
        output.validate();
        PrintWriter terminal = spec.commandLine().getOut();
        PrintWriter stdout = output.narration(terminal);
        PrintWriter stderr = spec.commandLine().getErr();
        boolean stdin = log.toString().equals("-");
        Path log = stdin ? Path.of("<stdin>") : this.log; // how problems name it
        RunCommand.createOutputDirectory(out);
        long startNs = System.nanoTime();
        StreamingAudit.Result result;
        List<String> problems = new ArrayList<>();
        long placed;
        long unplaced;
        try (LogStream stream = stdin ? LogStream.open(System.in) : AuditOptions.open(log);
                StreamingAudit streaming = new StreamingAudit(out, livelockThreshold);
                ProgressBar bar = progressBar(stream.fileSize())) {
            String unreadable = null;
            try {
                for (Envelope e = stream.next(); e != null; e = stream.next()) {
                    streaming.accept(e);
                    if (bar != null && (stream.placed() & 0x3fff) == 0) {
                        bar.stepTo(stream.bytesRead() >> 20);
                        bar.setExtraMessage(String.format(Locale.ROOT, " %,d events", stream.placed()));
                    }
                }
            } catch (IOException e) {
                // A compressed log cut short or damaged: what came before it is still audited.
                unreadable = log + ": unreadable after line " + stream.linesRead() + " (" + e.getMessage()
                        + "); the rest of the file is not audited";
            }
            if (bar != null) {
                bar.stepTo(stream.bytesRead() >> 20);
            }
            for (LogFile.Problem p : stream.problems()) {
                problems.add(p.describe(log));
            }
            if (unreadable != null) {
                problems.add(unreadable);
            }
            if (stream.problemCount() > stream.problems().size()) {
                problems.add(log + ": and " + (stream.problemCount() - stream.problems().size()) + " more problems");
            }
            problems.forEach(p -> stderr.println("shootdown: " + p));
            stderr.flush();
            placed = stream.placed();
            unplaced = stream.unplaced();
            long problemCount = stream.problemCount() + (unreadable == null ? 0 : 1);
            if (strict && problemCount > 0) {
                stderr.println("shootdown: --strict: refusing a log with " + problemCount
                        + " problem(s); no report was written");
                stderr.flush();
                return Shootdown.EXIT_BAD_INPUT;
            }
            result = streaming.finish(problems);
        }
        double seconds = (System.nanoTime() - startNs) / 1e9;
        StreamingAudit.Result audited = result;
        output.answer(terminal, output.person(() -> AuditPrinter.print(audited, "log " + log, stdout), out.resolve("report.json"),
                        "log " + log, stdout),
                AuditPrinter.verdictLine(result.report(), result.violations()), out.resolve("report.json"));
        if (!problems.isEmpty()) {
            stdout.println("incomplete: " + problems.size() + " problem(s) in the log; audited " + placed
                    + " events, could not place " + unplaced);
        }
        stdout.printf(Locale.ROOT, "audited %,d events in %.1f s (%,.0f events/s)%n", placed, seconds, placed / Math.max(seconds, 1e-9));
        stdout.println("wrote " + out.resolve("report.json") + " and " + out.resolve("report.html"));
        stdout.flush();
        if (!problems.isEmpty()) {
            return Shootdown.EXIT_BAD_INPUT;
        }
        return result.violations() == 0 ? Shootdown.EXIT_CLEAN : Shootdown.EXIT_VIOLATIONS;
    }

    /** A bar over the file's bytes (MiB), on stderr, when asked for or when stderr is a terminal; null otherwise. */
    private ProgressBar progressBar(long fileBytes) {
        boolean show = progress != null ? progress : System.console() != null;
        if (!show || fileBytes < 0) { // standard input: no size to measure progress against
            return null;
        }
        return new ProgressBarBuilder().setTaskName("audit").setInitialMax(Math.max(1, fileBytes >> 20)).setUnit(" MiB", 1)
                .setStyle(ProgressBarStyle.ASCII).setConsumer(new ConsoleProgressBarConsumer(System.err))
                .setUpdateIntervalMillis(500).build();
    }
}
