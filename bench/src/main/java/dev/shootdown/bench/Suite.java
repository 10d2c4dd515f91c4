package dev.shootdown.bench;

import dev.shootdown.scenario.Scenario;
import dev.shootdown.scenario.Scenarios;
import dev.shootdown.scenario.file.ScenarioFileException;
import dev.shootdown.scenario.file.ScenarioFiles;
import dev.shootdown.simulation.Machine;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * The benchmark suite: runs each benchmark, prints one table of rates, each beside a reference
 * measured in the same run, and writes it to BENCHMARKS.md with the command that reproduces it
 * and the machine it ran on. The table goes between two markers; what BENCHMARKS.md says outside
 * them (the profile, by hand) is kept.
 *
 * <p>Runs on the calling thread; the benchmarks are timed with {@link System#nanoTime}.
 */
@Command(name = "bench/run", mixinStandardHelpOptions = true, sortOptions = false,
        description = "Run the benchmark suite, print its table and write it to BENCHMARKS.md.")
public final class Suite implements Callable<Integer> {

    static final String BEGIN = "<!-- suite:begin (written by dev.shootdown.bench.Suite; edit outside the markers) -->";
    static final String END = "<!-- suite:end -->";
    static final String SCALE_BEGIN = "<!-- suite:scale:begin (written by dev.shootdown.bench.Suite; edit outside the markers) -->";
    static final String SCALE_END = "<!-- suite:scale:end -->";
    static final String LATENCY_BEGIN = "<!-- suite:latency:begin (written by dev.shootdown.bench.Suite; edit outside the markers) -->";
    static final String LATENCY_END = "<!-- suite:latency:end -->";
    /** The run-in-a-small-heap row's own section (goal 6), so that --only run keeps the others. */
    static final String RUN_BEGIN = "<!-- suite:run:begin (written by dev.shootdown.bench.Suite; edit outside the markers) -->";
    static final String RUN_END = "<!-- suite:run:end -->";

    /** The benchmarks, by the name {@code --only} takes. */
    static final List<String> BENCHMARKS = List.of("pipeline", "latency", "concurrency", "cluster", "engine", "audit", "trace", "run",
            "scale");
    /** The pipeline row's own section (goal 1), so that --only pipeline keeps the others. */
    static final String PIPELINE_BEGIN = "<!-- suite:pipeline:begin (written by dev.shootdown.bench.Suite; edit outside the markers) -->";
    static final String PIPELINE_END = "<!-- suite:pipeline:end -->";
    /** The concurrency row's own section (goal 8), so that --only concurrency keeps the others. */
    static final String CONCURRENCY_BEGIN = "<!-- suite:concurrency:begin (written by dev.shootdown.bench.Suite; edit outside the markers) -->";
    static final String CONCURRENCY_END = "<!-- suite:concurrency:end -->";
    /** The trace and export rows' own section (goal 7), so that --only trace keeps the others. */
    static final String TRACE_BEGIN = "<!-- suite:trace:begin (written by dev.shootdown.bench.Suite; edit outside the markers) -->";
    static final String TRACE_END = "<!-- suite:trace:end -->";

    @Spec
    CommandSpec spec;

    @Option(names = "--quick", description = "A short run: 1 s per measurement, a 200,000-event audit log.")
    boolean quick;

    @Option(names = "--seconds", paramLabel = "S",
            description = "Seconds per measurement (each reference as long, plus a third of it each to warm up, the engine at least 1 s). "
                    + "Default: 8, or 1 with --quick.")
    Double seconds;

    @Option(names = "--audit-events", paramLabel = "N",
            description = "Events in the audit's log. Default: 10000000, or 200000 with --quick.")
    Long auditEvents;

    @Option(names = "--only", split = ",", paramLabel = "NAME",
            description = "Run only these benchmarks: pipeline, latency, concurrency, cluster, engine, audit, trace, run, scale. "
                    + "Default: all.")
    List<String> only;

    @Option(names = "--cell", paramLabel = "SCENARIO:ARCH:POLICY",
            description = "The engine's cells instead of the seed cells (repeatable), e.g. kswapd-reclaim:x86:series-v2.")
    List<String> cells;

    @Option(names = "--pipeline-scenario", defaultValue = "bench/scenarios/pipeline-many.yaml", paramLabel = "FILE",
            description = "The pipeline benchmark's workload. Default: ${DEFAULT-VALUE}")
    Path pipelineScenario;

    @Option(names = "--pipeline-window-ns", paramLabel = "NS",
            description = "Simulated time of the pipeline's run. Default: 100000, or 20000 with --quick.")
    Long pipelineWindowNs;

    @Option(names = "--kafka-client", paramLabel = "KEY=VALUE",
            description = "A Kafka client setting for the pipeline and latency rows' runs, over the host's defaults (repeatable), "
                    + "e.g. linger.ms=5 or fetch.max.wait.ms=10: what one setting buys.")
    Map<String, String> kafkaClient;

    @Option(names = "--pipeline-wide-scenario", defaultValue = "bench/scenarios/pipeline-wide.yaml", paramLabel = "FILE",
            description = "The pipeline benchmark's wide workload (64 CPUs, 8 IOMMUs, 256 mms). Default: ${DEFAULT-VALUE}")
    Path pipelineWideScenario;

    @Option(names = "--pipeline-wide-window-ns", paramLabel = "NS",
            description = "Simulated time of the wide workload's run. Default: 100000, or 10000 with --quick.")
    Long pipelineWideWindowNs;

    @Option(names = "--latency-scenario", defaultValue = "bench/scenarios/latency-munmap.yaml", paramLabel = "FILE",
            description = "The latency benchmark's workload. Default: ${DEFAULT-VALUE}")
    Path latencyScenario;

    @Option(names = "--latency-window-ns", paramLabel = "NS",
            description = "Simulated time of the latency benchmark's run. Default: the scenario's own, or 60000 with --quick.")
    Long latencyWindowNs;

    @Option(names = "--latency-e2e-records", paramLabel = "N",
            description = "Records Kafka's EndToEndLatency sends, one at a time. Default: 5000, or 1000 with --quick.")
    Long latencyE2eRecords;

    @Option(names = "--kafka-tools", defaultValue = "bench/target/kafka-tools", paramLabel = "DIR",
            description = "Kafka's tools and their own clients, copied there by the build. Default: ${DEFAULT-VALUE}")
    Path kafkaTools;

    @Option(names = "--run-window-ns", paramLabel = "NS",
            description = "The run benchmark's observation window, simulated ns (the audit's scenario: about 9.8 events per simulated us)."
                    + " Default: 1050000000 (about 10.3 million events), or 20000000 with --quick.")
    Long runWindowNs;

    @Option(names = "--concurrency-jobs", defaultValue = "4", paramLabel = "N",
            description = "The concurrency row's --jobs, against --jobs 1. Default: ${DEFAULT-VALUE}")
    int concurrencyJobs;

    @Option(names = "--audit-scenario", defaultValue = GenerateLog.DEFAULT_SCENARIO, paramLabel = "FILE",
            description = "The scenario whose run the audit's log holds. Default: ${DEFAULT-VALUE}")
    String auditScenario;

    @Option(names = "--work", defaultValue = "bench/target/work", paramLabel = "DIR",
            description = "Where the audit's log (kept and reused: the same N gives the same bytes) and report go. "
                    + "Default: ${DEFAULT-VALUE}")
    Path work;

    @Option(names = "--out", defaultValue = "BENCHMARKS.md", paramLabel = "FILE",
            description = "The Markdown file the table is written to. Default: ${DEFAULT-VALUE}")
    Path out;

    @Option(names = "--scale-cpus", split = ",", paramLabel = "N",
            description = "The scale benchmark's CPU sweep, base first. Default: 2,4,8,16,32,64.")
    List<Integer> scaleCpus;

    @Option(names = "--scale-iommus", split = ",", paramLabel = "N",
            description = "The scale benchmark's IOMMU sweep, base first. Default: 1,2,4,8.")
    List<Integer> scaleIommus;

    @Option(names = "--scale-mms", split = ",", paramLabel = "N",
            description = "The scale benchmark's mm sweep, base first. Default: 1,10,100,1000.")
    List<Integer> scaleMms;

    @Option(names = "--scale-seconds", paramLabel = "S",
            description = "Seconds per point of the scale sweeps (base and point alternating, plus a third to warm up). "
                    + "Default: 4, or 1 with --quick.")
    Double scaleSeconds;

    @Option(names = "--scale-svg", defaultValue = "bench/results/scale.svg", paramLabel = "FILE",
            description = "Where the scale sweeps' plot is written (not with --no-write). Default: ${DEFAULT-VALUE}")
    Path scaleSvg;

    @Option(names = "--no-write", description = "Print the table only.")
    boolean noWrite;

    /** The rows measured by the last {@link #call}. */
    final List<Row> rows = new ArrayList<>();
    /** The latency benchmark's measurement in the last {@link #call}, or null. */
    LatencyBenchmark.Result latency;
    /** The scale sweeps' points measured by the last {@link #call}. */
    final List<ScaleBenchmark.Point> scalePoints = new ArrayList<>();

    public static void main(String[] args) {
        System.exit(new CommandLine(new Suite()).execute(args));
    }

    @Override
    public Integer call() throws Exception {
        PrintWriter stdout = spec.commandLine().getOut();
        PrintWriter stderr = spec.commandLine().getErr();
        double s = seconds != null ? seconds : quick ? 1 : 8;
        long n = auditEvents != null ? auditEvents : quick ? 200_000 : 10_000_000;
        if (!(s > 0) || n <= 0) {
            throw new CommandLine.ParameterException(spec.commandLine(), "--seconds and --audit-events must be positive");
        }
        Set<String> selected = new LinkedHashSet<>(only == null ? BENCHMARKS : only);
        for (String name : selected) {
            if (!BENCHMARKS.contains(name)) {
                throw new CommandLine.ParameterException(spec.commandLine(),
                        "--only takes " + String.join(", ", BENCHMARKS) + "; got '" + name + "'");
            }
        }
        // The latency benchmark's input is checked before any benchmark runs.
        Scenario scenario = selected.contains("latency") ? latencyScenario() : null;
        long records = latencyE2eRecords != null ? latencyE2eRecords : quick ? 1000 : 5000;
        if (records <= 0) {
            throw new CommandLine.ParameterException(spec.commandLine(), "--latency-e2e-records must be positive, got " + records);
        }
        Instant started = Instant.now();
        BenchKafka.override(kafkaClient);
        if (selected.contains("pipeline")) {
            long window = pipelineWindowNs != null ? pipelineWindowNs : quick ? 20_000 : 100_000;
            progress(stderr, "pipeline: " + pipelineScenario + ", " + window + " ns simulated, on an embedded broker");
            rows.add(PipelineBenchmark.measure(pipelineScenario, window, kafkaTools));
            long wideWindow = pipelineWideWindowNs != null ? pipelineWideWindowNs : quick ? 10_000 : 100_000;
            progress(stderr, "pipeline: " + pipelineWideScenario + ", " + wideWindow + " ns simulated, on an embedded broker");
            rows.add(PipelineBenchmark.measure(pipelineWideScenario, wideWindow, kafkaTools));
            progress(stderr, "  " + line(rows.get(rows.size() - 1)));
        }
        if (selected.contains("latency")) {
            progress(stderr, "latency: " + latencyScenario + ", " + scenario.end().afterNs() + " ns simulated, on an embedded broker, "
                    + "then Kafka's EndToEndLatency for " + records + " records");
            latency = LatencyBenchmark.measure(scenario, kafkaTools, records);
            rows.add(latency.row());
            progress(stderr, "  " + line(rows.get(rows.size() - 1)));
        }
        if (selected.contains("concurrency")) {
            progress(stderr, "concurrency: shootdown matrix --engine kafka, --jobs 1 then --jobs " + concurrencyJobs
                    + ", on an embedded broker");
            rows.add(ConcurrencyBenchmark.measure(concurrencyJobs, work));
            progress(stderr, "  " + line(rows.get(rows.size() - 1)));
        }
        if (selected.contains("cluster")) {
            progress(stderr, "cluster: " + ClusterBenchmark.SCENARIO + " on `shootdown cluster up`, then in one process");
            rows.add(ClusterBenchmark.measure(work));
            progress(stderr, "  " + line(rows.get(rows.size() - 1)));
        }
        if (selected.contains("engine")) {
            for (EngineBenchmark.Cell cell : engineCells()) {
                progress(stderr, "engine: " + cell + ", " + s + " s");
                rows.add(EngineBenchmark.measure(cell, s));
                progress(stderr, "  " + line(rows.get(rows.size() - 1)));
            }
        }
        if (selected.contains("audit")) {
            progress(stderr, "audit: a " + n + "-event log");
            rows.add(auditRow(n, stderr));
            progress(stderr, "  " + line(rows.get(rows.size() - 1)));
        }
        if (selected.contains("trace")) {
            progress(stderr, "trace: shootdown trace and export --format chrome-trace of a " + n + "-event log");
            for (Row row : TraceBenchmark.measure(auditLog(n, stderr), work)) {
                rows.add(row);
                progress(stderr, "  " + line(row));
            }
        }
        if (selected.contains("run")) {
            long window = runWindowNs != null ? runWindowNs : quick ? 20_000_000L : 1_050_000_000L;
            progress(stderr, "run: shootdown run of " + auditScenario + ", " + window + " ns simulated, in -Xmx"
                    + RunBenchmark.XMX_MIB + "m");
            for (Row row : RunBenchmark.measure(Path.of(auditScenario), window, work)) {
                rows.add(row);
                progress(stderr, "  " + line(row));
            }
        }
        if (selected.contains("scale")) {
            double ss = scaleSeconds != null ? scaleSeconds : quick ? 1 : 4;
            if (!(ss > 0)) {
                throw new CommandLine.ParameterException(spec.commandLine(), "--scale-seconds must be positive");
            }
            List<ScaleBenchmark.Sweep> sweeps = List.of(
                    new ScaleBenchmark.Sweep("CPUs", scaleCpus != null ? scaleCpus : ScaleBenchmark.DEFAULT_CPUS),
                    new ScaleBenchmark.Sweep("IOMMUs", scaleIommus != null ? scaleIommus : ScaleBenchmark.DEFAULT_IOMMUS),
                    new ScaleBenchmark.Sweep("mms", scaleMms != null ? scaleMms : ScaleBenchmark.DEFAULT_MMS));
            for (ScaleBenchmark.Sweep sweep : sweeps) {
                if (sweep.values().isEmpty() || sweep.values().stream().anyMatch(v -> v <= 0)) {
                    throw new CommandLine.ParameterException(spec.commandLine(), "--scale-" + sweep.dimension().toLowerCase(Locale.ROOT)
                            + " takes positive counts, the base first; got " + sweep.values());
                }
            }
            progress(stderr, "scale: warming up for " + Math.max(ss, 1.0) + " s");
            ScaleBenchmark.warmUp(Math.max(ss, 1.0));
            for (ScaleBenchmark.Sweep sweep : sweeps) {
                progress(stderr, "scale: " + sweep.dimension() + " " + sweep.values() + ", " + ss + " s per point");
                List<ScaleBenchmark.Point> points = ScaleBenchmark.measure(sweep, ss, stderr);
                scalePoints.addAll(points);
                rows.add(ScaleBenchmark.row(sweep, points));
                progress(stderr, "  " + line(rows.get(rows.size() - 1)));
            }
        }
        String table = table(rows);
        String scaleText = "";
        if (!scalePoints.isEmpty()) {
            List<Row> scaleRows = new ArrayList<>();
            for (Row r : rows) {
                if (r.goal() == 5) {
                    scaleRows.add(r);
                }
            }
            scaleText += table(scaleRows) + "\nScale, every point (goal 5; ScaleBenchmark): wall ns per shootdown on the deterministic engine, "
                    + "the sweep's base timed in alternation with it in the same rounds, and the cost ratio of the two.\n\n"
                    + ScaleBenchmark.pointsTable(scalePoints);
            if (!noWrite) {
                Path svg = scaleSvg.toAbsolutePath();
                Files.createDirectories(svg.getParent());
                Files.writeString(svg, ScalePlot.svg(scalePoints, "Cost per shootdown vs machine size (deterministic engine)"));
                Path base = out.toAbsolutePath().getParent();
                String link = (base == null ? svg : base.relativize(svg)).toString().replace('\\', '/');
                scaleText += "\n![Cost per shootdown over the base's, per sweep](" + link + ")\n";
                stderr.println("wrote " + scaleSvg);
            }
        }
        String latencyText = "";
        String runText = "";
        List<Row> traceRows = new ArrayList<>();
        List<Row> concurrencyRows = new ArrayList<>();
        List<Row> pipelineRows = new ArrayList<>();
        for (Row r : rows) {
            if (r.goal() == 1) {
                pipelineRows.add(r);
            }
            if (r.goal() == 8 || r.goal() == 9) {
                concurrencyRows.add(r);
            }
            if (r.goal() == 7) {
                traceRows.add(r);
            }
            if (r.goal() == 2) {
                latencyText = table(List.of(r));
            }
            if (r.goal() == 6) {
                runText = table(List.of(r));
            }
        }
        stdout.println(table);
        if (!scaleText.isEmpty()) {
            stdout.println(scaleText);
        }
        stdout.flush();
        if (!noWrite) {
            Instant ended = Instant.now();
            // The main table holds every row of one full run: a run of some benchmarks (--only) writes
            // only the sections of its own (the scale sweeps, latency, pipeline, ...), so that no row of
            // the full run is lost to a partial one; it writes the main table only where there is none yet.
            boolean mainTableKept = Files.exists(out) && Files.readString(out).contains(BEGIN);
            if (only == null || (!mainTableKept && rows.stream().anyMatch(r -> r.goal() == 3 || r.goal() == 4))) {
                write(out, section(table, command(), started, ended), BEGIN, END);
            } else if (rows.stream().anyMatch(r -> r.goal() == 3 || r.goal() == 4)) {
                stderr.println("bench/run: the engine and audit rows go to the main table, which only a run of every benchmark "
                        + "rewrites: printed above, not written");
            }
            if (!pipelineRows.isEmpty()) {
                write(out, section(table(pipelineRows), command(), started, ended, PIPELINE_BEGIN, PIPELINE_END), PIPELINE_BEGIN,
                        PIPELINE_END);
            }
            if (!latencyText.isEmpty()) {
                write(out, section(latencyText, command(), started, ended, LATENCY_BEGIN, LATENCY_END), LATENCY_BEGIN, LATENCY_END);
            }
            if (!concurrencyRows.isEmpty()) {
                write(out, section(table(concurrencyRows), command(), started, ended, CONCURRENCY_BEGIN, CONCURRENCY_END),
                        CONCURRENCY_BEGIN, CONCURRENCY_END);
            }
            if (!traceRows.isEmpty()) {
                write(out, section(table(traceRows), command(), started, ended, TRACE_BEGIN, TRACE_END), TRACE_BEGIN, TRACE_END);
            }
            if (!runText.isEmpty()) {
                write(out, section(runText, command(), started, ended, RUN_BEGIN, RUN_END), RUN_BEGIN, RUN_END);
            }
            if (!scaleText.isEmpty()) {
                write(out, section(scaleText, command(), started, ended, SCALE_BEGIN, SCALE_END), SCALE_BEGIN, SCALE_END);
            }
            stderr.println("wrote " + out);
        }
        return 0;
    }

    /** The latency benchmark's scenario, with the window the options give; bad input is a parameter error. */
    private Scenario latencyScenario() {
        Scenario loaded;
        try {
            loaded = ScenarioFiles.load(latencyScenario);
        } catch (ScenarioFileException e) {
            throw new CommandLine.ParameterException(spec.commandLine(), "--latency-scenario: " + e.getMessage());
        }
        Long window = latencyWindowNs != null ? latencyWindowNs : quick ? Long.valueOf(60_000) : null;
        if (window == null) {
            if (loaded.end().afterNs() <= 0) {
                throw new CommandLine.ParameterException(spec.commandLine(), "--latency-scenario " + latencyScenario
                        + " has no end.afterNs: give --latency-window-ns");
            }
            return loaded;
        }
        if (window <= 0) {
            throw new CommandLine.ParameterException(spec.commandLine(), "--latency-window-ns must be positive, got " + window);
        }
        return loaded.withEnd(new Scenario.EndCondition(loaded.end().deviceFaults(), window));
    }

    private List<EngineBenchmark.Cell> engineCells() {
        if (cells == null) {
            return EngineBenchmark.SEED_CELLS;
        }
        List<EngineBenchmark.Cell> parsed = new ArrayList<>();
        for (String c : cells) {
            String[] p = c.split(":");
            if (p.length != 3) {
                throw new CommandLine.ParameterException(spec.commandLine(), "--cell takes SCENARIO:ARCH:POLICY, got '" + c + "'");
            }
            if (Scenarios.builtIn(p[0]).isEmpty() || !Scenario.ARCHES.contains(p[1]) || !Scenario.POLICIES.contains(p[2])) {
                throw new CommandLine.ParameterException(spec.commandLine(), "--cell " + c + ": expected a built-in scenario ("
                        + String.join(", ", Scenarios.names()) + "), an arch (" + String.join(", ", Scenario.ARCHES)
                        + ") and a policy (" + String.join(", ", Scenario.POLICIES) + ")");
            }
            parsed.add(new EngineBenchmark.Cell(p[0], p[1], p[2]));
        }
        return parsed;
    }

    /** The audit's (and the trace's) log of {@code events} events, generated once into {@link #work} and reused. */
    private Path auditLog(long events, PrintWriter stderr) throws Exception {
        Files.createDirectories(work);
        // gzip keeps a 10M-event log at ~230 MB instead of 3.6 GB; both phases read it through the same gunzip.
        String stem = Path.of(auditScenario).getFileName().toString().replaceFirst("\\.(yaml|yml|json)$", "");
        Path log = work.resolve(stem + "-" + events + (events > 1_000_000 ? ".jsonl.gz" : ".jsonl"));
        if (!Files.exists(log)) {
            StringWriter genOut = new StringWriter();
            Path partial = work.resolve("partial-" + log.getFileName());
            int status = new CommandLine(new GenerateLog()).setOut(new PrintWriter(genOut)).setErr(stderr)
                    .execute("--scenario", auditScenario, "--events", Long.toString(events), "--out", partial.toString(),
                            "--progress-every", "1000000");
            if (status != 0) {
                throw new IllegalStateException("generating the audit's log failed (exit " + status + "): " + genOut);
            }
            Files.move(partial, log);
        }
        return log;
    }

    private Row auditRow(long events, PrintWriter stderr) throws Exception {
        String stem = Path.of(auditScenario).getFileName().toString().replaceFirst("\\.(yaml|yml|json)$", "");
        Path log = auditLog(events, stderr);
        AuditBenchmark.Result r = AuditBenchmark.measure(log, work.resolve("audit-report"));
        if (r.audit().events() == 0) {
            throw new IllegalStateException("the audit failed (exit " + r.status() + "): " + r.auditErr());
        }
        double ratio = r.audit().eventsPerSecond() / r.parse().eventsPerSecond();
        long xmx = Runtime.getRuntime().maxMemory() >> 20;
        return new Row(4, "audit", String.format(Locale.ROOT, "%s, %,d events (%,d MB file%s)", stem,
                r.audit().events(), Files.size(log) / 1_000_000, log.toString().endsWith(".gz") ? ", gzip" : ""), r.audit().eventsPerSecond(), "events/s",
                "plain Jackson parse of the same file", r.parse().eventsPerSecond(), "≥ 0.5 of the parse rate, heap bounded",
                Row.ratioAtLeast(ratio, 0.5), String.format(Locale.ROOT,
                        "largest heap after a GC: audit %d MiB, parse %d MiB, of -Xmx %d MiB; audit exit %d",
                        r.audit().maxHeapAfterGcBytes() >> 20, r.parse().maxHeapAfterGcBytes() >> 20, xmx, r.status()));
    }

    private static void progress(PrintWriter stderr, String line) {
        stderr.println(line);
        stderr.flush();
    }

    private static String line(Row r) {
        return String.format(Locale.ROOT, "%s %s: %s %s, reference %s, ratio %.3f; %s", r.name(), r.workload(),
                Row.format(r.rate()), r.unit(), Row.format(r.refRate()), r.ratio(), r.verdict());
    }

    /** The rows as a Markdown table. */
    static String table(List<Row> rows) {
        StringBuilder b = new StringBuilder();
        b.append("| goal | benchmark | workload | rate | reference (same run) | ratio | goal's target | verdict | also |\n");
        b.append("| --- | --- | --- | --- | --- | --- | --- | --- | --- |\n");
        for (Row r : rows) {
            b.append(String.format(Locale.ROOT, "| %d | %s | %s | %s %s | %s: %s %s | %.3f | %s | %s | %s |%n", r.goal(), r.name(),
                    r.workload(), Row.format(r.rate()), r.unit(), r.refName(), Row.format(r.refRate()), r.unit(), r.ratio(),
                    r.target(), r.verdict(), r.also()));
        }
        return b.toString();
    }

    /** How this run can be repeated: the script's command line when it passed one, else this JVM's. */
    String command() {
        String fromScript = System.getProperty("bench.command");
        if (fromScript != null && !fromScript.isBlank()) {
            return fromScript.strip();
        }
        return "java " + String.join(" ", ManagementFactory.getRuntimeMXBean().getInputArguments())
                + " -cp \"$CP\" dev.shootdown.bench.Suite " + String.join(" ", spec.commandLine().getParseResult().originalArgs());
    }

    /** The generated part of BENCHMARKS.md: the command, the machine and the table. */
    static String section(String table, String command, Instant started, Instant ended) {
        return section(table, command, started, ended, BEGIN, END);
    }

    /** The same between other markers. */
    static String section(String table, String command, Instant started, Instant ended, String begin, String end) {
        return begin + "\n\n"
                + "Measured " + started.truncatedTo(ChronoUnit.SECONDS) + " to " + ended.truncatedTo(ChronoUnit.SECONDS)
                + " with:\n\n```\n" + command + "\n```\n\n"
                + "Machine: " + machine() + "\n\n"
                + table + "\n" + end + "\n";
    }

    /** Cores, memory, CPU model, JVM and OS of this machine. */
    static String machine() {
        Runtime rt = Runtime.getRuntime();
        String cpu = firstValue(Path.of("/proc/cpuinfo"), "model name");
        String mem = firstValue(Path.of("/proc/meminfo"), "MemTotal");
        return String.format(Locale.ROOT, "%d cores%s, %s memory, JVM %s %s (%s, -Xmx %d MiB, %s), %s %s %s",
                rt.availableProcessors(), cpu == null ? "" : " (" + cpu + ")",
                mem == null ? "unknown" : memory(mem), System.getProperty("java.vm.name"), System.getProperty("java.runtime.version"),
                System.getProperty("java.vm.vendor"), rt.maxMemory() >> 20,
                ManagementFactory.getGarbageCollectorMXBeans().isEmpty() ? "?"
                        : ManagementFactory.getGarbageCollectorMXBeans().get(0).getName(),
                System.getProperty("os.name"), System.getProperty("os.version"), System.getProperty("os.arch"));
    }

    private static String memory(String memTotal) {
        String kb = memTotal.replace("kB", "").strip();
        try {
            return String.format(Locale.ROOT, "%.1f GiB", Long.parseLong(kb) / 1024.0 / 1024.0);
        } catch (NumberFormatException e) {
            return memTotal;
        }
    }

    private static String firstValue(Path file, String key) {
        try {
            for (String l : Files.readAllLines(file, StandardCharsets.UTF_8)) {
                if (l.startsWith(key) && l.contains(":")) {
                    return l.substring(l.indexOf(':') + 1).strip();
                }
            }
        } catch (IOException | RuntimeException e) {
            return null; // not Linux: the machine line says less
        }
        return null;
    }

    /** Replaces the section between the markers in {@code file}, or creates the file around it. */
    static void write(Path file, String section) throws IOException {
        write(file, section, BEGIN, END);
    }

    /** Replaces the section between {@code begin} and {@code end} in {@code file}, or appends it. */
    static void write(Path file, String section, String begin, String end) throws IOException {
        String before = "# Benchmarks\n\nWritten by `bench/run` (bench/README.md). Every rate is beside a reference "
                + "measured in the same run, on the same machine.\n\n";
        String after = "";
        if (Files.exists(file)) {
            String old = Files.readString(file);
            int b = old.indexOf(begin);
            int e = old.indexOf(end);
            if (b >= 0 && e > b) {
                before = old.substring(0, b);
                after = old.substring(e + end.length()).replaceFirst("^\n", "");
            } else {
                before = old.endsWith("\n") ? old + "\n" : old + "\n\n";
            }
        }
        Path parent = file.toAbsolutePath().getParent();
        if (parent != null) {
            Files.createDirectories(parent);
        }
        Files.writeString(file, before + section + after);
    }
}
