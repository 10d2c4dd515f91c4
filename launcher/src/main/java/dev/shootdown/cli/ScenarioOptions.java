package dev.shootdown.cli;

import dev.shootdown.scenario.Scenario;
import picocli.CommandLine.Option;

/** The scenario of one run: --scenario, --arch and --policy, shared by {@code run} and {@code shrink} (a picocli mixin). */
final class ScenarioOptions {

    @Option(names = "--scenario", required = true, paramLabel = "NAME|FILE",
            description = "A built-in scenario (${COMPLETION-CANDIDATES}) or a .yaml, .yml or .json scenario file.",
            completionCandidates = ScenarioArgs.Names.class)
    String scenarioName;

    @Option(names = "--arch", paramLabel = "ARCH", description = "x86 or arm64. Default: the scenario's.")
    String arch;

    @Option(names = "--policy", paramLabel = "POLICY", description = "linux-6.5, series-v2 or linux-6.6. Default: the scenario's.")
    String policy;

    /** The scenario under the architecture and kernel variant asked for, or one line of bad input. */
    Scenario scenario() throws BadInputException {
        Scenario scenario = ScenarioArgs.scenario(scenarioName);
        return scenario.with(
                arch == null ? scenario.arch() : ScenarioArgs.choice("--arch", arch, Scenario.ARCHES),
                policy == null ? scenario.policy() : ScenarioArgs.choice("--policy", policy, Scenario.POLICIES));
    }
}
