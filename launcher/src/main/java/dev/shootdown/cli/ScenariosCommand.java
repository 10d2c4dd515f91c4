package dev.shootdown.cli;

import dev.shootdown.cli.run.BadInputException;
import dev.shootdown.scenario.Scenario;
import dev.shootdown.scenario.Scenarios;
import dev.shootdown.scenario.file.ScenarioFiles;
import java.io.PrintWriter;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code shootdown scenarios}: the built-in scenarios, one line each, or one of them as a scenario file. */
@Command(name = "scenarios", mixinStandardHelpOptions = true,
        description = "List the built-in scenarios, or print one as a YAML scenario file to start your own from.")
final class ScenariosCommand implements Callable<Integer> {

    @Spec
    CommandSpec spec;

    @Option(names = "--export", paramLabel = "NAME", description = "Print the built-in scenario NAME as YAML.",
            completionCandidates = ScenarioArgs.Names.class)
    String export;

    @Override
    public Integer call() throws BadInputException {
        PrintWriter out = spec.commandLine().getOut();
        if (export != null) {
            Scenario s = Scenarios.builtIn(export).orElseThrow(() -> new BadInputException("--export: unknown scenario '"
                    + export + "': expected one of " + String.join(", ", Scenarios.names())));
            out.print(ScenarioFiles.toYaml(s));
        } else {
            for (String name : Scenarios.names()) {
                Scenario s = Scenarios.builtIn(name).orElseThrow();
                out.printf("%-24s %-6s %-10s %s%n", name, s.arch(), s.policy(), Scenarios.summary(name));
            }
        }
        out.flush();
        return Shootdown.EXIT_CLEAN;
    }
}
