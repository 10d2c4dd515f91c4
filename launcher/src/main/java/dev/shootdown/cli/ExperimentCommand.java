package dev.shootdown.cli;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonUnwrapped;
import com.fasterxml.jackson.databind.SerializationFeature;
import dev.shootdown.cli.experiment.Cells;
import dev.shootdown.cli.experiment.ExperimentSpec;
import dev.shootdown.cli.run.BadInputException;
import dev.shootdown.cli.run.KernelCatalog;
import dev.shootdown.cli.run.ScenarioRunner;
import dev.shootdown.codec.EventCodec;
import dev.shootdown.host.kafka.InfrastructureException;
import dev.shootdown.scenario.Arch;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.stream.Collectors;
import me.tongfei.progressbar.ConsoleProgressBarConsumer;
import me.tongfei.progressbar.ProgressBar;
import me.tongfei.progressbar.ProgressBarBuilder;
import me.tongfei.progressbar.ProgressBarStyle;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/**
 * {@code shootdown experiment SPEC}: the runs of an {@link ExperimentSpec} (scenarios x archs x
 * policies x fault plans x seeds), on a fixed pool of threads on the deterministic engine, as a
 * table with a row per (scenario, arch, fault plan) and a column per policy, each cell aggregated
 * over the seeds; with {@code --out}, experiment.json and experiment.html. What it prints and
 * writes depends on the spec alone, not on {@code --jobs} nor on the order runs finish in.
 */
@Command(name = "experiment", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Run an experiment spec (YAML or JSON: scenarios, archs, policies, faults, seeds, engine, expect) "
                + "and print a table: a row per scenario, arch and fault plan, a column per policy, each cell its verdict over "
                + "the seeds (e.g. 'kernel-oops' on every seed, or '2/3 clean; 1/3 use-after-free'). A cell whose expectation "
                + "failed starts with '!'. With --out, DIR/experiment.json holds every run and the `shootdown run` command "
                + "that reproduces it, and DIR/experiment.html shows the table with a link to each run's report.",
                "",
                "Exit status: 0 every run ended and every expectation was met; 1 an expectation of the spec was not met; "
                        + "2 bad input (the spec, a flag); 3 a run failed or stopped incomplete, or the cluster failed."},
        exitCodeListHeading = "")
final class ExperimentCommand implements Callable<Integer> {

    /** One run of the experiment as experiment.json holds it: the cell, what it was expected to give, and whether it did. */
    record Run(@JsonUnwrapped Cells.Result result, @JsonInclude(JsonInclude.Include.NON_NULL) String expected,
            @JsonInclude(JsonInclude.Include.NON_NULL) Boolean met) {}

    /** What experiment.json holds. */
    record Experiment(String name, String spec, String engine, List<String> scenarios, List<String> archs, List<String> policies,
            List<String> faults, List<Long> seeds, long maxEvents, int livelockThreshold, long runs, long checked, long unmet,
            long failed, List<Run> cells) {}

    @Spec
    CommandSpec spec;

    @Parameters(index = "0", paramLabel = "SPEC", description = "The experiment spec: a .yaml, .yml or .json file.")
    Path specFile;

    @Option(names = "--jobs", paramLabel = "N",
            description = "Runs at a time: on the deterministic engine each with an engine of its own, on Kafka each with its own "
                    + "topics and nodes on the one cluster (a run whose fault plan restarts the broker runs alone). "
                    + "Default: the number of processors (${DEFAULT-VALUE}).")
    int jobs = Runtime.getRuntime().availableProcessors();

    @Option(names = "--out", paramLabel = "DIR",
            description = "Write DIR/experiment.json, DIR/experiment.html, and each run's events.jsonl, report.json and report.html "
                    + "in DIR/SCENARIO/ARCH/FAULTS/POLICY/seed-N/.")
    Path out;

    @Option(names = "--progress", negatable = true,
            description = "Show a progress bar on stderr. Default: only when stderr is a terminal.")
    Boolean progress;

    @Option(names = "--bootstrap-servers", paramLabel = "HOST:PORT",
            description = "With engine: kafka, use this Kafka cluster instead of starting an embedded broker.")
    String bootstrapServers;

    @Option(names = "--broker-dir", paramLabel = "DIR", description = "With engine: kafka, the embedded broker's data directory.")
    Path brokerDir;

    @Option(names = "--run-timeout", defaultValue = "120", paramLabel = "SECONDS",
            description = "With engine: kafka, give up on a run after this long. Default: ${DEFAULT-VALUE}")
    long runTimeoutSeconds;

    @Option(names = "--kernel", paramLabel = "NAME|FILE",
            description = "Also run every cell under this kernel variant (a built-in or a variant file), as a column after the "
                    + "spec's policies; repeatable. Expectations without a policy apply to it too.")
    List<String> kernelArgs = new ArrayList<>();

    @Override
    public Integer call() throws BadInputException, InfrastructureException, IOException {
        if (jobs < 1) {
            throw new BadInputException("--jobs must be at least 1, was " + jobs);
        }
        if (runTimeoutSeconds <= 0) {
            throw new BadInputException("--run-timeout must be a positive number of seconds, was " + runTimeoutSeconds);
        }
        ExperimentSpec experiment = ExperimentSpec.read(specFile);
        KernelCatalog kernels = new KernelCatalog();
        Map<String, String> columns = new LinkedHashMap<>(); // a variant's name -> the argument that names it
        experiment.policies().forEach(p -> columns.put(p, p));
        for (String arg : kernelArgs) {
            String name = kernels.resolve("--kernel", arg).name();
            if (columns.containsKey(name)) {
                throw new BadInputException("--kernel " + arg + ": the experiment already has a column " + name);
            }
            columns.put(name, arg);
        }
        if (experiment.engine() == ScenarioRunner.Engine.sim && (bootstrapServers != null || brokerDir != null)) {
            throw new BadInputException("--bootstrap-servers and --broker-dir apply to a spec with engine: kafka only");
        }
        if (out != null) {
            RunCommand.createOutputDirectory(out);
        }
        PrintWriter stdout = spec.commandLine().getOut();
        PrintWriter stderr = spec.commandLine().getErr();
        List<Cells.Spec> cells = cells(experiment, columns);
        Cells.Settings settings = new Cells.Settings(experiment.engine(), experiment.maxEvents(), experiment.livelockThreshold(),
                runTimeoutSeconds, bootstrapServers, kernels);
        long startNs = System.nanoTime();
        List<Cells.Result> results;
        try (ProgressBar bar = progressBar(cells.size());
                ScenarioRunner kafka = experiment.engine() == ScenarioRunner.Engine.kafka
                        ? ScenarioRunner.kafka(bootstrapServers, brokerDir, 1, java.time.Duration.ofSeconds(runTimeoutSeconds),
                                experiment.livelockThreshold(), stderr)
                        : null) {
            results = Cells.run(cells, settings, kafka, jobs, out, stderr, new Cells.Listener() {
                @Override
                public void onStarted(int index, Cells.Spec cell) {}

                @Override
                public void onFinished(int index, Cells.Spec cell, Cells.Result result, RuntimeException failure) {
                    synchronized (stderr) {
                        if (failure != null) {
                            stderr.println("shootdown: " + Cells.label(cell) + " seed " + cell.seed() + ": error: " + failure);
                            if (Shootdown.verbose(spec)) {
                                failure.printStackTrace(stderr);
                            }
                            stderr.flush();
                        }
                        if (bar != null) {
                            bar.step();
                            bar.setExtraMessage(" " + Cells.label(cell) + " seed " + cell.seed());
                        }
                    }
                }
            });
        }
        List<Run> runs = new ArrayList<>();
        for (Cells.Result r : results) {
            ExperimentSpec.Expectation e = experiment.expectationFor(r.scenario(), r.arch(), r.policy(), r.faults());
            runs.add(new Run(r, e == null ? null : e.describe(), e == null ? null : r.error() == null && r.complete()
                    && e.metBy(r.violations())));
        }
        long checked = runs.stream().filter(r -> r.met() != null).count();
        long unmet = runs.stream().filter(r -> Boolean.FALSE.equals(r.met())).count();
        long failed = runs.stream().filter(r -> !r.result().complete()).count();
        Experiment summary = new Experiment(experiment.name(), specFile.toString(), experiment.engine().name(),
                experiment.scenarios().stream().map(s -> s.scenario().name()).toList(), experiment.archs(),
                List.copyOf(columns.keySet()),
                experiment.faults().stream().map(ExperimentSpec.FaultsRef::label).toList(), experiment.seeds(),
                experiment.maxEvents(), experiment.livelockThreshold(), runs.size(), checked, unmet, failed, runs);
        print(summary, stdout);
        stderr.printf(Locale.ROOT, "%d runs in %.1f s, %d at a time%n", runs.size(), (System.nanoTime() - startNs) / 1e9,
                Math.min(jobs, runs.size()));
        stderr.flush();
        if (out != null) {
            Path json = out.resolve("experiment.json");
            Files.writeString(json, EventCodec.mapper().writer().with(SerializationFeature.INDENT_OUTPUT).writeValueAsString(summary)
                    + "\n", StandardCharsets.UTF_8);
            Path html = out.resolve("experiment.html");
            Files.writeString(html, ExperimentPage.render(summary, rows(summary)), StandardCharsets.UTF_8);
            stdout.println("wrote " + json + ", " + html + " and each run's events.jsonl, report.json and report.html under " + out);
        }
        stdout.flush();
        if (failed > 0) {
            return Shootdown.EXIT_INFRASTRUCTURE;
        }
        return unmet > 0 ? Shootdown.EXIT_VIOLATIONS : Shootdown.EXIT_CLEAN;
    }

    /** The runs in the order of the table: scenario, arch, fault plan, policy (each column's variant), seed. */
    private static List<Cells.Spec> cells(ExperimentSpec experiment, Map<String, String> columns) {
        List<Cells.Spec> cells = new ArrayList<>();
        for (ExperimentSpec.ScenarioRef s : experiment.scenarios()) {
            for (String arch : experiment.archs()) {
                for (ExperimentSpec.FaultsRef faults : experiment.faults()) {
                    for (var column : columns.entrySet()) {
                        String policy = column.getKey();
                        for (long seed : experiment.seeds()) {
                            String dir = String.join("/", s.scenario().name(), arch, faults.label(), policy, "seed-" + seed);
                            cells.add(new Cells.Spec(s.arg(), column.getValue(), s.scenario().with(Arch.of(arch), policy).withFaults(faults.plan()),
                                    faults.label(), faults.file(), seed, dir));
                        }
                    }
                }
            }
        }
        return cells;
    }

    /** A row of the table: a scenario, arch and fault plan, and its runs by policy (in seed order). */
    record Row(String scenario, String arch, String faults, Map<String, List<Run>> byPolicy) {}

    static List<Row> rows(Experiment e) {
        Map<List<String>, Row> rows = new LinkedHashMap<>();
        for (Run r : e.cells()) {
            Cells.Result c = r.result();
            rows.computeIfAbsent(List.of(c.scenario(), c.arch(), c.faults()), k -> new Row(c.scenario(), c.arch(), c.faults(),
                    new LinkedHashMap<>())).byPolicy().computeIfAbsent(c.policy(), k -> new ArrayList<>()).add(r);
        }
        return List.copyOf(rows.values());
    }

    /**
     * A cell of the table: the runs' summaries over the seeds, the most frequent first
     * ({@code kernel-oops} when every seed agrees, {@code 2/3 clean; 1/3 use-after-free} when
     * not), behind a {@code !} when one of them missed its expectation.
     */
    static String aggregate(List<Run> runs) {
        Map<String, Long> counts = runs.stream().collect(Collectors.groupingBy(r -> r.result().summary(), LinkedHashMap::new,
                Collectors.counting()));
        String text;
        if (counts.size() == 1) {
            text = counts.keySet().iterator().next();
        } else {
            text = counts.entrySet().stream()
                    .sorted(Map.Entry.<String, Long>comparingByValue().reversed().thenComparing(Map.Entry.comparingByKey()))
                    .map(c -> c.getValue() + "/" + runs.size() + " " + c.getKey()).collect(Collectors.joining("; "));
        }
        return unmet(runs) ? "! " + text : text;
    }

    static boolean unmet(List<Run> runs) {
        return runs.stream().anyMatch(r -> Boolean.FALSE.equals(r.met()));
    }

    private static void print(Experiment e, PrintWriter out) {
        out.printf(Locale.ROOT, "experiment %s: %s x %s x %s x %s x %s = %d runs, engine %s%n%n", e.name(),
                count(e.scenarios().size(), "scenario", "scenarios"), count(e.archs().size(), "arch", "archs"),
                count(e.faults().size(), "fault plan", "fault plans"), count(e.policies().size(), "policy", "policies"),
                count(e.seeds().size(), "seed", "seeds"), e.runs(), e.engine());
        List<List<String>> table = new ArrayList<>();
        List<String> header = new ArrayList<>(List.of("scenario", "arch", "faults"));
        header.addAll(e.policies());
        table.add(header);
        List<Row> rows = rows(e);
        for (Row row : rows) {
            List<String> line = new ArrayList<>(List.of(row.scenario(), row.arch(), row.faults()));
            for (String policy : e.policies()) {
                line.add(aggregate(row.byPolicy().getOrDefault(policy, List.of())));
            }
            table.add(line);
        }
        Cells.printTable(table, out);
        out.println();
        if (e.checked() == 0) {
            out.println("no expectations in the spec");
        } else if (e.unmet() == 0) {
            out.printf(Locale.ROOT, "expectations: all %d runs checked met them%n", e.checked());
        } else {
            out.printf(Locale.ROOT, "expectations: %d of %d runs checked did NOT meet them:%n", e.unmet(), e.checked());
            for (Run r : e.cells()) {
                if (Boolean.FALSE.equals(r.met())) {
                    Cells.Result c = r.result();
                    out.printf(Locale.ROOT, "  ! %s %s %s faults %s seed %d: expected %s, got %s%n    %s%n", c.scenario(), c.arch(),
                            c.policy(), c.faults(), c.seed(), r.expected(), c.summary(), c.command());
                }
            }
        }
        if (e.failed() > 0) {
            out.printf(Locale.ROOT, "%d run(s) failed or stopped incomplete: see 'error' and '(incomplete)' above%n", e.failed());
        }
    }

    private static String count(int n, String one, String many) {
        return n + " " + (n == 1 ? one : many);
    }

    /** A bar over the runs, on stderr, when asked for or when stderr is a terminal; null otherwise. */
    private ProgressBar progressBar(int runs) {
        boolean show = progress != null ? progress : System.console() != null;
        if (!show) {
            return null;
        }
        return new ProgressBarBuilder().setTaskName("experiment").setInitialMax(runs).setUnit(" runs", 1)
                .setStyle(ProgressBarStyle.ASCII).setConsumer(new ConsoleProgressBarConsumer(System.err))
                .setUpdateIntervalMillis(250).continuousUpdate().build();
    }
}
