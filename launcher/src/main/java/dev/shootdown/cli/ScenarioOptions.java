package dev.shootdown.cli;

import dev.shootdown.cli.run.BadInputException;
import dev.shootdown.cli.run.KernelCatalog;
import dev.shootdown.kernel.KernelVariant;
import dev.shootdown.kernel.file.KernelFiles;
import dev.shootdown.scenario.Arch;
import dev.shootdown.scenario.Scenario;
import java.util.HashSet;
import picocli.CommandLine.Option;

/**
 * The scenario of one run: --scenario, --arch and --kernel (or --policy, its older name for a
 * built-in), shared by {@code run} and {@code shrink} (a picocli mixin).
 */
final class ScenarioOptions {

    @Option(names = "--scenario", required = true, paramLabel = "NAME|FILE",
            description = "A built-in scenario (${COMPLETION-CANDIDATES}) or a .yaml, .yml or .json scenario file.",
            completionCandidates = ScenarioArgs.Names.class)
    String scenarioName;

    @Option(names = "--arch", paramLabel = "ARCH", description = "x86 or arm64. Default: the scenario's.")
    String arch;

    @Option(names = "--kernel", paramLabel = "NAME|FILE",
            description = "The kernel variant the coordinator runs: a built-in (linux-6.5, series-v2, linux-6.6; see "
                    + "`shootdown kernels`) or a variant file (.yaml, .yml, .json). Default: the scenario's policy.")
    String kernel;

    @Option(names = "--policy", paramLabel = "POLICY",
            description = "A built-in kernel variant by name, as --kernel NAME (its older name).")
    String policy;

    /**
     * The scenario under the architecture and kernel variant asked for, the variant known to
     * {@code kernels} from here on; or one line of bad input.
     */
    Scenario scenario(KernelCatalog kernels) throws BadInputException {
        if (kernel != null && policy != null) {
            throw new BadInputException("--kernel and --policy both name the kernel variant: give one of them");
        }
        KernelVariant chosen = null;
        if (kernel != null) {
            chosen = kernels.resolve("--kernel", kernel);
        } else if (policy != null) {
            chosen = kernels.of(ScenarioArgs.choice("--policy", policy, Scenario.KERNELS));
        }
        Scenario scenario = ScenarioArgs.scenario(scenarioName, new HashSet<>(kernels.fileNames()));
        String name = chosen != null ? chosen.name() : scenario.policy();
        if (chosen == null && !KernelFiles.isBuiltIn(name) && !kernels.fileNames().contains(name)) {
            throw new BadInputException("--scenario " + scenarioName + ": its policy " + name + " is not a built-in kernel variant ("
                    + String.join(", ", KernelFiles.BUILT_INS) + "); give the variant's file with --kernel FILE");
        }
        return scenario.with(arch == null ? scenario.arch() : Arch.of(ScenarioArgs.choice("--arch", arch, Scenario.ARCHES)), name);
    }

    /** The --kernel argument as given (a built-in's name or a file), or the scenario's policy: what a command to rerun names. */
    String kernelArg(Scenario scenario) {
        return kernel != null ? kernel : scenario.policy();
    }
}
