package dev.shootdown.cli;

import dev.shootdown.audit.AuditReport;
import dev.shootdown.audit.Auditor;
import dev.shootdown.log.LogFile;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code shootdown audit --log FILE}: the auditor alone, on an exported log. A log with problems
 * (bad lines, duplicates, missing events) is audited as far as it can be placed in causal order
 * and the report is marked incomplete; {@code --strict} refuses it instead.
 */
@Command(name = "audit", mixinStandardHelpOptions = true,
        description = "Audit an exported run log (events.jsonl, or .jsonl.gz) and write DIR/report.json.")
final class AuditCommand implements Callable<Integer> {

    @Spec
    CommandSpec spec;

    @Option(names = "--log", required = true, paramLabel = "FILE", description = "The log: one event envelope per line.")
    Path log;

    @Option(names = "--out", defaultValue = "shootdown-out", paramLabel = "DIR",
            description = "Where report.json goes. Default: ${DEFAULT-VALUE}")
    Path out;

    @Option(names = "--strict", description = "Refuse a log with any problem instead of auditing what can be read.")
    boolean strict;

    @Mixin
    AuditOptions audit;


    @Override
    public Integer call() throws Exception {
        int livelockThreshold = audit.livelockThreshold();
        LogFile.Contents contents = AuditOptions.read(log);
        PrintWriter stdout = spec.commandLine().getOut();
        PrintWriter stderr = spec.commandLine().getErr();
        List<String> problems = new ArrayList<>();
        for (LogFile.Problem p : contents.problems()) {
            problems.add(p.describe(log));
            stderr.println("shootdown: " + p.describe(log));
        }
        stderr.flush();
        if (strict && !problems.isEmpty()) {
            stderr.println("shootdown: --strict: refusing a log with " + problems.size() + " problem(s); nothing was audited");
            stderr.flush();
            return Shootdown.EXIT_BAD_INPUT;
        }
        AuditReport report = Auditor.audit(contents.ordered(), livelockThreshold).withLogProblems(problems);
        RunCommand.createOutputDirectory(out);
        ScenarioRunner.writeReport(out, report, contents.ordered());
        AuditPrinter.print(report, "log " + log, stdout);
        if (!problems.isEmpty()) {
            stdout.println("incomplete: " + problems.size() + " problem(s) in the log; audited " + contents.ordered().size()
                    + " events, could not place " + contents.unplaced().size());
        }
        stdout.println("wrote " + out.resolve("report.json") + " and " + out.resolve("report.html"));
        stdout.flush();
        if (!problems.isEmpty()) {
            return Shootdown.EXIT_BAD_INPUT;
        }
        return report.violations().isEmpty() ? Shootdown.EXIT_CLEAN : Shootdown.EXIT_VIOLATIONS;
    }
}
