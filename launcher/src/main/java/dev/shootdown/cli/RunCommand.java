package dev.shootdown.cli;

import dev.shootdown.cli.run.BadInputException;
import dev.shootdown.cli.run.KernelCatalog;
import dev.shootdown.cli.run.ScenarioRunner;
import dev.shootdown.cli.report.StreamingAudit;
import dev.shootdown.cli.report.AuditPrinter;
import dev.shootdown.scenario.Scenario;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.AccessDeniedException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code shootdown run}: simulate one scenario, record its log, audit it. */
@Command(name = "run", mixinStandardHelpOptions = true,
        description = "Run a scenario on the Kafka host (embedded broker by default) or the deterministic engine, "
                + "write DIR/events.jsonl and DIR/report.json, and print the audit.")
final class RunCommand implements Callable<Integer> {

    @Spec
    CommandSpec spec;

    @Mixin
    ScenarioOptions scenarioOptions;

    @Option(names = "--engine", defaultValue = "kafka", paramLabel = "ENGINE",
            description = "kafka (services over Kafka topics) or sim (deterministic, virtual time). Default: ${DEFAULT-VALUE}")
    ScenarioRunner.Engine engine;

    @Option(names = "--out", defaultValue = "shootdown-out", paramLabel = "DIR", description = "Where events.jsonl and report.json go. Default: ${DEFAULT-VALUE}")
    Path out;

    @Mixin
    EngineOptions options;

    @Mixin
    OutputOptions output;

    @Override
    public Integer call() throws Exception {
        KernelCatalog kernels = new KernelCatalog();
        Scenario scenario = scenarioOptions.scenario(kernels);
        options.validate(engine);
        output.validate();
        scenario = options.withFaults(scenario);
        createOutputDirectory(out);
        PrintWriter terminal = spec.commandLine().getOut();
        PrintWriter stdout = output.narration(terminal);
        String faults = options.faultsHeader();
        if (faults != null) {
            stdout.println(faults);
            stdout.flush();
        }
        ScenarioRunner.Written run;
        try (ScenarioRunner runner = options.runner(engine, stdout)) {
            run = runner.withKernels(kernels).runTo(scenario, options.seed, out);
        }
        if (!run.complete()) {
            stdout.println(engine == ScenarioRunner.Engine.sim
                    ? "warning: the deterministic run stopped at " + options.maxEvents + " events before every node quiesced"
                    : "warning: the run stalled: every node finished a round that left nothing to happen, yet some never"
                            + " quiesced");
        }
        StreamingAudit.Result audit = run.audit();
        PrintWriter narration = stdout;
        String source = "engine " + engine.name();
        output.answer(terminal, output.person(() -> AuditPrinter.print(audit, source, narration), out.resolve("report.json"),
                        source, narration),
                AuditPrinter.verdictLine(audit.report(), audit.violations()), out.resolve("report.json"));
        stdout.println("wrote " + out.resolve("events.jsonl") + " (" + run.events() + " events), "
                + out.resolve("report.json") + " and " + out.resolve("report.html"));
        stdout.flush();
        if (!run.complete()) {
            return Shootdown.EXIT_INFRASTRUCTURE;
        }
        return audit.violations() == 0 ? Shootdown.EXIT_CLEAN : Shootdown.EXIT_VIOLATIONS;
    }

    /** Creates {@code dir} for a command's output, or says in one line why it cannot. */
    static void createOutputDirectory(Path dir) throws BadInputException {
        try {
            Files.createDirectories(dir);
        } catch (IOException e) {
            String why = e instanceof FileAlreadyExistsException ? "a file is in the way: " + e.getMessage()
                    : e instanceof AccessDeniedException ? "permission denied: " + e.getMessage()
                    : String.valueOf(e.getMessage());
            throw new BadInputException("--out " + dir + ": cannot create that directory (" + why + ")");
        }
    }
}
