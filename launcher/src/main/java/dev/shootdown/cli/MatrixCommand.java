package dev.shootdown.cli;

import com.fasterxml.jackson.databind.SerializationFeature;
import dev.shootdown.cli.experiment.Cells;
import dev.shootdown.cli.run.BadInputException;
import dev.shootdown.cli.run.KernelCatalog;
import dev.shootdown.cli.run.ScenarioRunner;
import dev.shootdown.codec.EventCodec;
import dev.shootdown.host.kafka.InfrastructureException;
import dev.shootdown.scenario.Arch;
import dev.shootdown.scenario.Scenario;
import dev.shootdown.scenario.Scenarios;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code shootdown matrix}: every chosen scenario under every chosen architecture and kernel
 * variant, one audit each, as a table: a row per (scenario, arch), a column per policy.
 */
@Command(name = "matrix", mixinStandardHelpOptions = true,
        description = "Run scenarios x architectures x policies (all by default) and print each cell's verdict: "
                + "clean, or the kinds of violation found. Exit 0 when every cell ran, whatever the verdicts.")
final class MatrixCommand implements Callable<Integer> {

    /** What matrix.json holds. */
    record Matrix(String engine, long seed, List<Cells.Result> cells) {}

    @Spec
    CommandSpec spec;

    @Option(names = "--scenario", paramLabel = "NAME|FILE",
            description = "A built-in scenario (${COMPLETION-CANDIDATES}) or a scenario file; repeatable. Default: every built-in.",
            completionCandidates = ScenarioArgs.Names.class)
    List<String> scenarioArgs = new ArrayList<>();

    @Option(names = "--arch", paramLabel = "ARCH", description = "x86 or arm64; repeatable. Default: both.")
    List<String> arches = new ArrayList<>();

    @Option(names = "--kernel", paramLabel = "NAME|FILE",
            description = "A kernel variant: a built-in (linux-6.1, linux-6.5, series-v2, linux-6.6, linux-6.12) or a variant file; repeatable, a column "
                    + "each. Default: every built-in.")
    List<String> kernelArgs = new ArrayList<>();

    @Option(names = "--policy", paramLabel = "POLICY",
            description = "A built-in kernel variant by name, as --kernel NAME (its older name); repeatable.")
    List<String> policies = new ArrayList<>();

    @Option(names = "--engine", defaultValue = "sim", paramLabel = "ENGINE",
            description = "sim (deterministic, virtual time) or kafka (one cluster for every cell). Default: ${DEFAULT-VALUE}")
    ScenarioRunner.Engine engine;

    @Option(names = "--jobs", paramLabel = "N",
            description = "Cells at a time: on the deterministic engine each with an engine of its own, on Kafka each with its own "
                    + "topics and nodes on the one cluster (a cell whose fault plan restarts the broker runs alone). "
                    + "Default: the number of processors (${DEFAULT-VALUE}).")
    int jobs = Runtime.getRuntime().availableProcessors();

    @Option(names = "--out", paramLabel = "DIR",
            description = "Write DIR/matrix.json and each cell's events.jsonl and report.json in DIR/SCENARIO/ARCH/POLICY/.")
    Path out;

    @Mixin
    EngineOptions options;

    @Override
    public Integer call() throws BadInputException, InfrastructureException, IOException {
        KernelCatalog kernels = new KernelCatalog();
        Map<String, String> columns = new LinkedHashMap<>(); // a variant's name -> the argument that names it
        for (String policy : policies) {
            columns.putIfAbsent(ScenarioArgs.choice("--policy", policy, Scenario.KERNELS), policy);
        }
        for (String arg : kernelArgs) {
            columns.putIfAbsent(kernels.resolve("--kernel", arg).name(), arg);
        }
        if (columns.isEmpty()) {
            Scenario.POLICIES.forEach(p -> columns.put(p, p));
        }
        Map<String, Scenario> scenarios = new LinkedHashMap<>(); // the argument that names it -> scenario
        for (String arg : scenarioArgs.isEmpty() ? Scenarios.names() : scenarioArgs) {
            Scenario s = ScenarioArgs.scenario(arg, new java.util.HashSet<>(kernels.fileNames()));
            for (Map.Entry<String, Scenario> other : scenarios.entrySet()) {
                if (other.getValue().name().equals(s.name()) && !other.getKey().equals(arg)) {
                    throw new BadInputException("--scenario " + arg + " and --scenario " + other.getKey()
                            + " are both named '" + s.name() + "'; their cells would share a row and a directory");
                }
            }
            scenarios.put(arg, s);
        }
        List<String> archList = choices("--arch", arches, Scenario.ARCHES);
        List<String> policyList = List.copyOf(columns.keySet());
        options.validate(engine);
        if (jobs < 1) {
            throw new BadInputException("--jobs must be at least 1, was " + jobs);
        }
        for (Map.Entry<String, Scenario> entry : scenarios.entrySet()) {
            entry.setValue(options.withFaults(entry.getValue())); // every cell gets the plan, checked before anything runs
        }
        if (out != null) {
            RunCommand.createOutputDirectory(out);
        }
        PrintWriter stdout = spec.commandLine().getOut();
        PrintWriter progress = spec.commandLine().getErr();
        String faults = options.faultsHeader();
        if (faults != null) {
            progress.println(faults);
        }
        String faultsFile = options.faultsFile == null ? null : options.faultsFile.toString();
        List<Cells.Spec> specs = new ArrayList<>();
        for (Map.Entry<String, Scenario> entry : scenarios.entrySet()) {
            for (String arch : archList) {
                for (String policy : policyList) {
                    Scenario s = entry.getValue().with(Arch.of(arch), policy);
                    specs.add(new Cells.Spec(entry.getKey(), columns.get(policy), s, faultsFile, faultsFile, options.seed,
                            s.name() + "/" + arch + "/" + policy));
                }
            }
        }
        Cells.Settings settings = new Cells.Settings(engine, options.maxEvents, options.livelockThreshold, options.runTimeoutSeconds,
                options.bootstrapServers, kernels);
        List<Cells.Result> cells;
        try (ScenarioRunner runner = options.runner(engine, progress)) {
            cells = Cells.run(specs, settings, runner, jobs, out, progress, new Cells.Listener() {
                @Override
                public void onStarted(int index, Cells.Spec cell) {
                    progress.println(label(index, cell) + " ...");
                    progress.flush();
                }

                @Override
                public void onFinished(int index, Cells.Spec cell, Cells.Result result, RuntimeException failure) {
                    if (failure == null) {
                        progress.println(label(index, cell) + ": " + result.summary() + " (" + result.events() + " events)");
                    } else {
                        progress.println(label(index, cell) + ": error: " + failure);
                        if (Shootdown.verbose(spec)) {
                            failure.printStackTrace(progress);
                        }
                    }
                    progress.flush();
                }

                private String label(int index, Cells.Spec cell) {
                    return "[" + (index + 1) + "/" + specs.size() + "] " + Cells.label(cell);
                }
            });
        }
        printTable(cells, policyList, stdout);
        if (out != null) {
            Path json = out.resolve("matrix.json");
            Files.writeString(json, EventCodec.mapper().writer().with(SerializationFeature.INDENT_OUTPUT)
                    .writeValueAsString(new Matrix(engine.name(), options.seed, cells)) + "\n", StandardCharsets.UTF_8);
            stdout.println("wrote " + json + " and " + cells.size() + " cells' events.jsonl and report.json under " + out);
        }
        stdout.flush();
        if (!cells.stream().allMatch(Cells.Result::complete)) {
            progress.println("shootdown: not every cell ran to the end (see 'error' and 'incomplete' above)");
            progress.flush();
            return Shootdown.EXIT_INFRASTRUCTURE;
        }
        return Shootdown.EXIT_CLEAN;
    }

    /** The chosen values in the order given, without repeats, or all of {@code allowed} when none was given. */
    private static List<String> choices(String flag, List<String> given, List<String> allowed) throws BadInputException {
        if (given.isEmpty()) {
            return allowed;
        }
        LinkedHashSet<String> chosen = new LinkedHashSet<>();
        for (String value : given) {
            chosen.add(ScenarioArgs.choice(flag, value, allowed));
        }
        return List.copyOf(chosen);
    }

    /** A row per (scenario, arch) in the order run, a column per policy. */
    private static void printTable(List<Cells.Result> cells, List<String> policies, PrintWriter out) {
        Map<List<String>, Map<String, String>> rows = new LinkedHashMap<>();
        for (Cells.Result c : cells) {
            rows.computeIfAbsent(List.of(c.scenario(), c.arch()), k -> new LinkedHashMap<>()).put(c.policy(), c.summary());
        }
        List<List<String>> table = new ArrayList<>();
        List<String> header = new ArrayList<>(List.of("scenario", "arch"));
        header.addAll(policies);
        table.add(header);
        for (Map.Entry<List<String>, Map<String, String>> row : rows.entrySet()) {
            List<String> line = new ArrayList<>(row.getKey());
            for (String policy : policies) {
                line.add(row.getValue().getOrDefault(policy, ""));
            }
            table.add(line);
        }
        Cells.printTable(table, out);
    }
}
