package dev.shootdown.cli;

import dev.shootdown.audit.AuditReport;
import dev.shootdown.audit.ViolationGroup;
import dev.shootdown.cli.experiment.Shrinker;
import dev.shootdown.cli.run.BadInputException;
import dev.shootdown.cli.run.KernelCatalog;
import dev.shootdown.cli.run.ScenarioRunner;
import dev.shootdown.fault.FaultPlan;
import dev.shootdown.fault.FaultSpec;
import dev.shootdown.fault.file.FaultPlanException;
import dev.shootdown.fault.file.FaultPlans;
import dev.shootdown.host.kafka.InfrastructureException;
import dev.shootdown.kernel.file.KernelFileWriter;
import dev.shootdown.kernel.file.KernelFiles;
import dev.shootdown.scenario.Scenario;
import dev.shootdown.scenario.file.ScenarioFileException;
import dev.shootdown.scenario.file.ScenarioFiles;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.SortedSet;
import java.util.TreeSet;
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
 * {@code shootdown shrink}: a failing run on the deterministic engine, reduced by delta debugging
 * to a minimal case that fails the same way (the same set of violation kinds, or the one
 * {@code --violation} names), written as a scenario file and a fault plan.
 */
@Command(name = "shrink", mixinStandardHelpOptions = true,
        description = "Reduce a failing run (deterministic engine) to a minimal scenario and fault plan that fail the same way: "
                + "delta debugging over the faults, tasks, task steps, devices, address spaces and sizes. "
                + "Writes DIR/scenario.yaml, DIR/faults.yaml and the shrunk run's events.jsonl and report.")
final class ShrinkCommand implements Callable<Integer> {

    @Spec
    CommandSpec spec;

    @Mixin
    ScenarioOptions scenarioOptions;

    @Option(names = "--faults", paramLabel = "FILE", description = "The fault plan of the failing run (.yaml, .yml or .json).")
    Path faultsFile;

    @Option(names = "--seed", defaultValue = "1", paramLabel = "N", description = "Seed of the failing run. Default: ${DEFAULT-VALUE}")
    long seed;

    @Option(names = "--violation", paramLabel = "KIND",
            description = "Keep only this violation kind (e.g. use-after-free); default: the failing run's whole set of kinds.")
    String violation;

    @Option(names = "--max-events", defaultValue = "5000000", paramLabel = "N",
            description = "Stop the failing run after this many events; a candidate gets 4 times the failing run's count. "
                    + "Default: ${DEFAULT-VALUE}")
    long maxEvents;

    @Option(names = "--livelock-threshold", defaultValue = "16", paramLabel = "K",
            description = "Report a device livelock after K faults on one address. Default: ${DEFAULT-VALUE}")
    int livelockThreshold;

    @Option(names = "--out", defaultValue = "shrink-out", paramLabel = "DIR",
            description = "Where scenario.yaml, faults.yaml, events.jsonl and report.json go. Default: ${DEFAULT-VALUE}")
    Path out;

    @Option(names = "--progress", negatable = true,
            description = "Show a progress bar on stderr. Default: only when stderr is a terminal.")
    Boolean progress;

    /** The kernel variants of this command: the built-ins, and the --kernel file. */
    private final KernelCatalog kernels = new KernelCatalog();

    @Override
    public Integer call() throws Exception {
        Scenario scenario = scenarioOptions.scenario(kernels);
        if (maxEvents <= 0) {
            throw new BadInputException("--max-events must be positive, was " + maxEvents);
        }
        AuditOptions.checkedThreshold(livelockThreshold);
        FaultPlan plan = scenario.faults();
        if (faultsFile != null) {
            try {
                plan = FaultPlans.read(faultsFile);
                plan.checkNodes(scenario.nodeIds());
            } catch (FaultPlanException e) {
                throw new BadInputException(e.getMessage(), e);
            } catch (IllegalArgumentException e) {
                throw new BadInputException(faultsFile + ": " + e.getMessage() + " (scenario " + scenario.name() + ")", e);
            }
        }
        PrintWriter stdout = spec.commandLine().getOut();
        Shrinker.Case original = new Shrinker.Case(scenario, plan);

        Path scratch = Files.createTempDirectory("shootdown-shrink");
        try {
            return shrink(scenario, plan, original, scratch, stdout);
        } finally {
            deleteTree(scratch);
        }
    }

    private int shrink(Scenario scenario, FaultPlan plan, Shrinker.Case original, Path scratch, PrintWriter stdout)
            throws Exception {
        ScenarioRunner.Audited failing = audited(original, maxEvents, scratch);
        if (!failing.complete()) {
            throw new BadInputException("the run did not end within --max-events " + maxEvents
                    + " events; shrinking needs a run that ends (give the scenario an end.afterNs window)");
        }
        SortedSet<String> kinds = kinds(failing.report());
        if (kinds.isEmpty()) {
            throw new BadInputException("the run is clean (scenario " + scenario.name() + ", " + scenario.arch() + ", "
                    + scenario.policy() + ", seed " + seed + "): there is no failure to shrink");
        }
        if (violation != null && !kinds.contains(violation)) {
            throw new BadInputException("--violation " + violation + ": the run does not report it; it reports "
                    + String.join(", ", kinds));
        }
        SortedSet<String> target = violation == null ? kinds : new TreeSet<>(List.of(violation));
        long candidateEvents = Math.max(10_000, 4 * failing.events());
        stdout.println("shrinking " + scenario.name() + " (" + scenario.arch() + ", " + scenario.policy() + ", seed " + seed + ", "
                + plan.faults().size() + " fault" + (plan.faults().size() == 1 ? "" : "s") + "): it fails with "
                + String.join(", ", kinds) + (violation == null ? "" : "; keeping " + violation));
        stdout.flush();

        Shrinker.Case shrunk;
        int tries;
        boolean showProgress = progress != null ? progress : System.console() != null;
        try (ProgressBar bar = showProgress ? new ProgressBarBuilder().setTaskName("shrink").setInitialMax(-1).setUnit(" runs", 1)
                .setStyle(ProgressBarStyle.ASCII).setConsumer(new ConsoleProgressBarConsumer(System.err))
                .setUpdateIntervalMillis(250).continuousUpdate().build() : null) {
            Shrinker shrinker = new Shrinker(candidate -> {
                // A candidate must be a scenario file that reads back as itself: what is written can be run.
                Scenario readBack = readBack(candidate.scenario(), scratch);
                if (!readBack.equals(candidate.scenario())) {
                    return false;
                }
                candidate.plan().checkNodes(candidate.scenario().nodeIds());
                ScenarioRunner.Audited o = audited(candidate, candidateEvents, scratch);
                if (!o.complete()) {
                    return false;
                }
                SortedSet<String> got = kinds(o.report());
                return violation == null ? got.equals(kinds) : got.contains(violation);
            }, () -> {
                if (bar != null) {
                    bar.step();
                }
            });
            shrunk = shrinker.shrink(original);
            tries = shrinker.tries();
        }

        Scenario named = rename(shrunk.scenario(), scenario.name() + "-shrunk");
        RunCommand.createOutputDirectory(out);
        Path scenarioFile = out.resolve("scenario.yaml");
        Path faultsOut = out.resolve("faults.yaml");
        Files.writeString(scenarioFile, header(scenario, target) + ScenarioFiles.toYaml(named));
        Files.writeString(faultsOut, FaultPlans.toYaml(shrunk.plan()));
        String kernelOption = ""; // a built-in is named by the scenario file's policy
        if (!KernelFiles.isBuiltIn(scenario.policy())) {
            // the variant file, resolved: the shrunk case runs anywhere without the file it extends
            Path kernelOut = out.resolve("kernel.yaml");
            Files.writeString(kernelOut, KernelFileWriter.toYaml(kernels.of(scenario.policy())));
            kernelOption = " --kernel " + kernelOut;
        }
        ScenarioRunner.Written result;
        try (ScenarioRunner runner = ScenarioRunner.sim(seed, candidateEvents, livelockThreshold,
                new PrintWriter(PrintWriter.nullWriter()))) {
            result = runner.withKernels(kernels).runTo(named.withFaults(shrunk.plan()), seed, out);
        }
        AuditReport shrunkReport = result.audit().report();

        stdout.println("shrunk in " + tries + " runs; it still fails with " + String.join(", ", kinds(shrunkReport)));
        row(stdout, "faults", original.plan().faults().size(), shrunk.plan().faults().size());
        row(stdout, "tasks", original.scenario().tasks().size(), shrunk.scenario().tasks().size());
        row(stdout, "task steps", original.steps(), shrunk.steps());
        row(stdout, "devices", original.scenario().devices().size(), shrunk.scenario().devices().size());
        row(stdout, "mms", original.scenario().mms().size(), shrunk.scenario().mms().size());
        row(stdout, "vmas", original.vmas(), shrunk.vmas());
        row(stdout, "cpus", original.scenario().cpus(), shrunk.scenario().cpus());
        row(stdout, "iommus", original.scenario().iommus(), shrunk.scenario().iommus());
        row(stdout, "events", failing.events(), result.events());
        for (FaultSpec f : shrunk.plan().faults()) {
            stdout.println("  fault: " + f.kind().kebab() + (f.node() == null ? "" : " on " + f.node()));
        }
        for (ViolationGroup g : shrunkReport.violationGroups()) {
            if (target.contains(g.kind())) {
                stdout.println("  " + g.kind() + " on " + g.first().node() + ": " + g.first().explanation());
                break;
            }
        }
        stdout.println("wrote " + scenarioFile + ", " + faultsOut + " and the shrunk run's events.jsonl and report under " + out);
        stdout.println("reproduce: shootdown run --scenario " + scenarioFile + kernelOption + " --faults " + faultsOut
                + " --engine sim --seed " + seed
                + (livelockThreshold == 16 ? "" : " --livelock-threshold " + livelockThreshold));
        stdout.flush();
        return Shootdown.EXIT_CLEAN; // the shrink worked; the shrunk case's own run exits 1
    }

    /** Runs a case, audited as it streams, nothing written (a node that throws is an InfrastructureException). */
    private ScenarioRunner.Audited audited(Shrinker.Case c, long limit, Path scratch) {
        try (ScenarioRunner runner = ScenarioRunner.sim(seed, limit, livelockThreshold, new PrintWriter(PrintWriter.nullWriter()))) {
            return runner.withKernels(kernels).audited(c.scenario().withFaults(c.plan()), scratch);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (InfrastructureException e) {
            throw new IllegalStateException(e.getMessage(), e);
        }
    }

    private static SortedSet<String> kinds(AuditReport report) {
        return new TreeSet<>(report.violationKinds().keySet());
    }

    private Scenario readBack(Scenario s, Path scratch) {
        try {
            Path f = scratch.resolve("candidate.yaml");
            ScenarioFiles.write(s, f);
            return ScenarioFiles.load(f, new java.util.HashSet<>(kernels.fileNames()));
        } catch (ScenarioFileException e) {
            throw new IllegalArgumentException(e.getMessage(), e);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static Scenario rename(Scenario s, String name) {
        return new Scenario(name, s.arch(), s.policy(), s.cpus(), s.iommus(), s.mms(), s.tasks(), s.devices(), s.timing(), s.end(),
                s.memory(), s.kswapd());
    }

    private String header(Scenario original, SortedSet<String> target) {
        return "# shootdown shrink of " + scenarioOptions.scenarioName + " (" + original.arch() + ", " + original.policy() + ", seed " + seed
                + (faultsFile == null ? "" : ", faults " + faultsFile) + "):\n# the smallest case found that still fails with "
                + String.join(", ", target) + ".\n";
    }

    private static void row(PrintWriter out, String what, long before, long after) {
        out.printf("  %-11s %6d -> %d%n", what, before, after);
    }

    static void deleteTree(Path dir) throws IOException {
        try (var paths = Files.walk(dir)) {
            for (Path p : paths.sorted(java.util.Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        }
    }
}
