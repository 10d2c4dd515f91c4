package dev.shootdown.cli;

import com.fasterxml.jackson.databind.SerializationFeature;
import dev.shootdown.audit.Violation;
import dev.shootdown.codec.EventCodec;
import dev.shootdown.host.kafka.InfrastructureException;
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
import java.util.TreeSet;
import java.util.concurrent.Callable;
import java.util.stream.Collectors;
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

    /**
     * One cell, as matrix.json holds it. {@code verdict} is the report's ({@code clean} or
     * {@code violations}), or {@code error} when the run itself failed, with {@code error} saying why.
     */
    record Cell(String scenario, String arch, String policy, String engine, long seed, String verdict, List<String> violations,
            long events, boolean complete, String error, String dir, String command) {

        /** What the table shows: clean, or the distinct violation kinds in alphabetical order. */
        String summary() {
            if (error != null) {
                return "error";
            }
            String s = violations.isEmpty() ? "clean" : String.join(", ", violations);
            return complete ? s : s + " (incomplete)";
        }
    }

    /** What matrix.json holds. */
    record Matrix(String engine, long seed, List<Cell> cells) {}

    @Spec
    CommandSpec spec;

    @Option(names = "--scenario", paramLabel = "NAME|FILE",
            description = "A built-in scenario (${COMPLETION-CANDIDATES}) or a scenario file; repeatable. Default: every built-in.",
            completionCandidates = ScenarioArgs.Names.class)
    List<String> scenarioArgs = new ArrayList<>();

    @Option(names = "--arch", paramLabel = "ARCH", description = "x86 or arm64; repeatable. Default: both.")
    List<String> arches = new ArrayList<>();

    @Option(names = "--policy", paramLabel = "POLICY",
            description = "linux-6.5, series-v2 or linux-6.6; repeatable. Default: all three.")
    List<String> policies = new ArrayList<>();

    @Option(names = "--engine", defaultValue = "sim", paramLabel = "ENGINE",
            description = "sim (deterministic, virtual time) or kafka (one cluster for every cell). Default: ${DEFAULT-VALUE}")
    ScenarioRunner.Engine engine;

    @Option(names = "--out", paramLabel = "DIR",
            description = "Write DIR/matrix.json and each cell's events.jsonl and report.json in DIR/SCENARIO/ARCH/POLICY/.")
    Path out;

    @Mixin
    EngineOptions options;

    @Override
    public Integer call() throws BadInputException, InfrastructureException, IOException {
        Map<String, Scenario> scenarios = new LinkedHashMap<>(); // the argument that names it -> scenario
        for (String arg : scenarioArgs.isEmpty() ? Scenarios.names() : scenarioArgs) {
            Scenario s = ScenarioArgs.scenario(arg);
            for (Map.Entry<String, Scenario> other : scenarios.entrySet()) {
                if (other.getValue().name().equals(s.name()) && !other.getKey().equals(arg)) {
                    throw new BadInputException("--scenario " + arg + " and --scenario " + other.getKey()
                            + " are both named '" + s.name() + "'; their cells would share a row and a directory");
                }
            }
            scenarios.put(arg, s);
        }
        List<String> archList = choices("--arch", arches, Scenario.ARCHES);
        List<String> policyList = choices("--policy", policies, Scenario.POLICIES);
        options.validate(engine);
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
        List<Cell> cells = new ArrayList<>();
        int total = scenarios.size() * archList.size() * policyList.size();
        try (ScenarioRunner runner = options.runner(engine, progress)) {
            for (Map.Entry<String, Scenario> entry : scenarios.entrySet()) {
                for (String arch : archList) {
                    for (String policy : policyList) {
                        Scenario s = entry.getValue().with(arch, policy);
                        String label = "[" + (cells.size() + 1) + "/" + total + "] " + s.name() + " " + arch + " " + policy;
                        progress.println(label + " ...");
                        progress.flush();
                        Cell cell;
                        try {
                            ScenarioRunner.Outcome outcome = runner.run(s);
                            cell = cell(entry.getKey(), s, outcome, null);
                            if (out != null) {
                                outcome.write(out.resolve(cell.dir()));
                            }
                            progress.println(label + ": " + cell.summary() + " (" + cell.events() + " events)");
                        } catch (InfrastructureException e) {
                            // the cluster is shared by every cell: the rest would fail the same way
                            throw new InfrastructureException(label + ": " + e.getMessage(), e);
                        } catch (RuntimeException e) {
                            // a fault of the model in this cell; the other cells still say something
                            cell = cell(entry.getKey(), s, null, e.toString());
                            progress.println(label + ": error: " + e);
                            if (options.verbose) {
                                e.printStackTrace(progress);
                            }
                        }
                        cells.add(cell);
                        progress.flush();
                    }
                }
            }
        }
        printTable(cells, policyList, stdout);
        if (out != null) {
            Path json = out.resolve("matrix.json");
            Files.writeString(json, EventCodec.mapper().writer().with(SerializationFeature.INDENT_OUTPUT)
                    .writeValueAsString(new Matrix(engine.name(), options.seed, cells)) + "\n", StandardCharsets.UTF_8);
            stdout.println("wrote " + json + " and " + cells.size() + " cells' events.jsonl and report.json under " + out);
        }
        stdout.flush();
        if (!cells.stream().allMatch(Cell::complete)) {
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

    /** The cell of {@code outcome}, or of a run that failed with {@code error} (then {@code outcome} is null). */
    private Cell cell(String scenarioArg, Scenario s, ScenarioRunner.Outcome outcome, String error) {
        String dir = s.name() + "/" + s.arch() + "/" + s.policy();
        if (outcome == null) {
            return new Cell(s.name(), s.arch(), s.policy(), engine.name(), options.seed, "error", List.of(), 0, false, error,
                    dir, reproduce(scenarioArg, s));
        }
        List<String> kinds = List.copyOf(outcome.report().violations().stream().map(Violation::kind)
                .collect(Collectors.toCollection(TreeSet::new)));
        return new Cell(s.name(), s.arch(), s.policy(), engine.name(), options.seed, outcome.report().verdict(), kinds,
                outcome.lines().size(), outcome.complete(), null, dir, reproduce(scenarioArg, s));
    }

    /** The {@code shootdown run} command line that runs this cell on its own. */
    private String reproduce(String scenarioArg, Scenario s) {
        List<String> args = new ArrayList<>(List.of("shootdown", "run", "--scenario", scenarioArg, "--arch", s.arch(),
                "--policy", s.policy(), "--engine", engine.name(), "--seed", Long.toString(options.seed),
                "--livelock-threshold", Integer.toString(options.livelockThreshold)));
        if (options.faultsFile != null) {
            args.addAll(List.of("--faults", options.faultsFile.toString()));
        }
        if (engine == ScenarioRunner.Engine.sim) {
            args.addAll(List.of("--max-events", Long.toString(options.maxEvents)));
        } else {
            args.addAll(List.of("--run-timeout", Long.toString(options.runTimeoutSeconds)));
            if (options.bootstrapServers != null) {
                args.addAll(List.of("--bootstrap-servers", options.bootstrapServers));
            }
        }
        return args.stream().map(MatrixCommand::shellQuote).collect(Collectors.joining(" "));
    }

    private static String shellQuote(String arg) {
        return arg.matches("[A-Za-z0-9_./:=@%+,-]+") ? arg : "'" + arg.replace("'", "'\\''") + "'";
    }

    /** A row per (scenario, arch) in the order run, a column per policy. */
    private static void printTable(List<Cell> cells, List<String> policies, PrintWriter out) {
        Map<List<String>, Map<String, String>> rows = new LinkedHashMap<>();
        for (Cell c : cells) {
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
        int[] widths = new int[header.size()];
        for (List<String> line : table) {
            for (int i = 0; i < line.size(); i++) {
                widths[i] = Math.max(widths[i], line.get(i).length());
            }
        }
        for (List<String> line : table) {
            StringBuilder b = new StringBuilder();
            for (int i = 0; i < line.size(); i++) {
                b.append(i == 0 ? "" : "  ").append(String.format("%-" + widths[i] + "s", line.get(i)));
            }
            out.println(b.toString().stripTrailing());
        }
    }
}
