package dev.shootdown.cli;

import com.fasterxml.jackson.databind.SerializationFeature;
import dev.shootdown.audit.AuditReport;
import dev.shootdown.audit.ShootdownSummary;
import dev.shootdown.cli.experiment.Cells;
import dev.shootdown.cli.report.ReportFile;
import dev.shootdown.cli.run.BadInputException;
import dev.shootdown.cli.run.KernelCatalog;
import dev.shootdown.cli.run.ScenarioRunner;
import dev.shootdown.codec.EventCodec;
import dev.shootdown.event.ControlEvent;
import dev.shootdown.event.Envelope;
import dev.shootdown.event.IpiEvent;
import dev.shootdown.event.Kernel;
import dev.shootdown.event.SecondaryTlbEvent;
import dev.shootdown.host.kafka.InfrastructureException;
import dev.shootdown.kernel.KernelVariant;
import dev.shootdown.kernel.file.KernelFileWriter;
import dev.shootdown.scenario.Arch;
import dev.shootdown.scenario.Scenario;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code shootdown compare}: one scenario and seed under two or more kernel variants, on the
 * deterministic engine, side by side: what the variants' rules say differently, each run's
 * verdict and violations, its shootdowns' order classes and hook calls, its CPU flushes and
 * secondary invalidations, and the first event where the logs part. This is how a developer sees
 * what their patch changes.
 */
@Command(name = "compare", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Run one scenario (and seed) under two or more kernel variants on the deterministic engine and show them "
                + "side by side: the rules that differ, verdict and violations by kind, each shootdown's order class and hook "
                + "calls (caller, mm, range, time), the counts of CPU flushes and secondary invalidations, and the first event "
                + "where the logs part. With --out, DIR/compare.json and a self-contained DIR/compare.html, and each run's "
                + "events.jsonl and report under DIR/KERNEL/.",
                "",
                "Exit status: 0 the runs ended and were compared, whatever their verdicts; 2 bad input; 3 a run did not end."},
        exitCodeListHeading = "")
final class CompareCommand implements Callable<Integer> {

    /** What compare.json holds. */
    record Comparison(String scenario, String arch, long seed, List<Side> kernels, List<RuleDifference> rules,
            List<Divergence> divergences) {}

    /**
     * One kernel's run, summed up: {@code cpuFlushes} counts the flush requests to CPUs (IPIs,
     * local flush_tlb_func calls, TLBIs), {@code secondaryInvalidations} the invalidation requests
     * to IOMMUs, of which {@code wholeMmSecondaryInvalidations} were for (0, -1UL).
     */
    record Side(String kernel, String description, String basedOn, String hook, String verdict, boolean complete,
            Map<String, Long> violations, long events, Map<String, Integer> orderClasses, long cpuFlushes,
            long secondaryInvalidations, long wholeMmSecondaryInvalidations, Map<String, Integer> hookCalls,
            long shootdownCount, List<ShootdownRow> shootdowns) {}

    /** How many shootdowns of each run compare.json lists (each run's report.json has them all). */
    static final int LISTED_SHOOTDOWNS = 1000;

    /** One shootdown of a run: its operation, order class, and every hook call. */
    record ShootdownRow(long id, String caller, String cpu, long mm, String order, Long lagNs, int cpuFlushes, int secondary,
            List<ShootdownSummary.HookCall> hookCalls) {}

    /** A rule whose value is not the same in every kernel: {@code values} in the kernels' order. */
    record RuleDifference(String rule, List<String> values, List<String> sources) {}

    /**
     * Where the log of {@code kernel} first differs from the first kernel's: the position in
     * causal order (run-started left out) and the event each has there, null past a log's end.
     */
    record Divergence(String kernel, long position, String first, String other) {}

    @Spec
    CommandSpec spec;

    @Option(names = "--scenario", required = true, paramLabel = "NAME|FILE",
            description = "A built-in scenario (${COMPLETION-CANDIDATES}) or a scenario file.",
            completionCandidates = ScenarioArgs.Names.class)
    String scenarioArg;

    @Option(names = "--kernel", required = true, paramLabel = "NAME|FILE",
            description = "A kernel variant: a built-in (linux-6.1, linux-6.5, series-v2, linux-6.6, linux-6.12) or a variant file; two or more.")
    List<String> kernelArgs = new ArrayList<>();

    @Option(names = "--arch", paramLabel = "ARCH", description = "x86 or arm64. Default: the scenario's.")
    String arch;

    @Option(names = "--seed", defaultValue = "1", paramLabel = "N", description = "Seed of the latencies. Default: ${DEFAULT-VALUE}")
    long seed;

    @Option(names = "--out", paramLabel = "DIR", description = "Write DIR/compare.json, DIR/compare.html and each run under DIR/KERNEL/.")
    Path out;

    @Option(names = "--shootdowns", defaultValue = "3", paramLabel = "N",
            description = "How many shootdowns of each run to list with their hook calls (compare.json lists up to "
                    + LISTED_SHOOTDOWNS + ", each run's report.json all). "
                    + "Default: ${DEFAULT-VALUE}")
    int shownShootdowns;

    @Option(names = "--max-events", defaultValue = "5000000", paramLabel = "N",
            description = "Stop a run after this many events. Default: ${DEFAULT-VALUE}")
    long maxEvents;

    @Option(names = "--livelock-threshold", defaultValue = "16", paramLabel = "K",
            description = "Report a device livelock after K faults on one address. Default: ${DEFAULT-VALUE}")
    int livelockThreshold;

    @Override
    public Integer call() throws BadInputException, IOException {
        if (kernelArgs.size() < 2) {
            throw new BadInputException("--kernel: give two or more kernel variants to compare, got " + kernelArgs.size());
        }
        if (maxEvents <= 0) {
            throw new BadInputException("--max-events must be positive, was " + maxEvents);
        }
        if (shownShootdowns < 0) {
            throw new BadInputException("--shootdowns must be 0 or more, was " + shownShootdowns);
        }
        AuditOptions.checkedThreshold(livelockThreshold);
        KernelCatalog kernels = new KernelCatalog();
        List<KernelVariant> variants = new ArrayList<>();
        for (String arg : kernelArgs) {
            KernelVariant v = kernels.resolve("--kernel", arg);
            if (variants.stream().anyMatch(o -> o.name().equals(v.name()))) {
                throw new BadInputException("--kernel " + arg + ": " + v.name() + " is already compared");
            }
            variants.add(v);
        }
        Scenario base = ScenarioArgs.scenario(scenarioArg, new HashSet<>(kernels.fileNames()));
        Arch onArch = arch == null ? base.arch() : Arch.of(ScenarioArgs.choice("--arch", arch, Scenario.ARCHES));
        if (out != null) {
            RunCommand.createOutputDirectory(out);
        }
        PrintWriter stdout = spec.commandLine().getOut();
        // Each run streams to its directory (events.jsonl and the report), and is then read back from there as a
        // stream to sum it up and to find where the logs part: nothing holds a whole log.
        Path runs = out != null ? out : Files.createTempDirectory("shootdown-compare");
        List<Path> dirs = new ArrayList<>();
        List<ScenarioRunner.Written> outcomes = new ArrayList<>();
        Comparison c;
        try {
            for (KernelVariant v : variants) {
                Path dir = runs.resolve(v.name());
                try (ScenarioRunner runner = ScenarioRunner.sim(seed, maxEvents, livelockThreshold,
                        new PrintWriter(PrintWriter.nullWriter()))) {
                    outcomes.add(runner.withKernels(kernels).runTo(base.with(onArch, v.name()), seed, dir));
                    dirs.add(dir);
                } catch (InfrastructureException e) {
                    throw new IllegalStateException(e.getMessage(), e);
                }
            }
            c = compare(base.name(), onArch.label(), variants, outcomes, dirs);
        } finally {
            if (out == null) {
                ShrinkCommand.deleteTree(runs);
            }
        }
        print(c, stdout);
        if (out != null) {
            Path json = out.resolve("compare.json");
            Files.writeString(json, EventCodec.mapper().writer().with(SerializationFeature.INDENT_OUTPUT).writeValueAsString(c) + "\n",
                    StandardCharsets.UTF_8);
            Path html = out.resolve("compare.html");
            Files.writeString(html, ComparePage.render(c), StandardCharsets.UTF_8);
            stdout.println("wrote " + json + ", " + html + " and each run's events.jsonl and report under " + out + "/KERNEL/");
        }
        stdout.flush();
        for (int i = 0; i < outcomes.size(); i++) {
            if (!outcomes.get(i).complete()) {
                spec.commandLine().getErr().println("shootdown: the run under " + variants.get(i).name()
                        + " stopped at --max-events " + maxEvents + " before it ended");
                return Shootdown.EXIT_INFRASTRUCTURE;
            }
        }
        return Shootdown.EXIT_CLEAN;
    }

    private Comparison compare(String scenario, String onArch, List<KernelVariant> variants,
            List<ScenarioRunner.Written> outcomes, List<Path> dirs) throws IOException {
        List<Side> sides = new ArrayList<>();
        for (int i = 0; i < variants.size(); i++) {
            sides.add(side(variants.get(i), outcomes.get(i), dirs.get(i)));
        }
        List<Divergence> divergences = new ArrayList<>();
        for (int i = 1; i < variants.size(); i++) {
            Divergence d = divergence(variants.get(i).name(), dirs.get(0).resolve("events.jsonl"), dirs.get(i).resolve("events.jsonl"));
            if (d != null) {
                divergences.add(d);
            }
        }
        return new Comparison(scenario, onArch, seed, sides, ruleDifferences(variants), divergences);
    }

    private static Side side(KernelVariant v, ScenarioRunner.Written o, Path dir) throws IOException {
        AuditReport r = o.audit().report();
        Map<String, Integer> hooks = new TreeMap<>();
        List<ShootdownRow> shootdowns = new ArrayList<>();
        long[] count = {0};
        ReportFile.eachShootdown(dir.resolve("report.json"), s -> {
            for (ShootdownSummary.HookCall h : s.hookCalls()) {
                hooks.merge(h.caller(), 1, Integer::sum);
            }
            if (count[0]++ < LISTED_SHOOTDOWNS) {
                shootdowns.add(new ShootdownRow(s.id(), s.caller(), s.cpu(), s.mm(), s.order(), s.lagNs(), s.cpuFlushes().size(),
                        s.secondary().size(), s.hookCalls()));
            }
        });
        // What the kernel asked for, from the log: flush_tlb_func runs (IPIs and local calls) and
        // TLBIs; each IOMMU's invalidation request, and those of the whole address space.
        long cpuFlushes = 0;
        long secondary = 0;
        long wholeMm = 0;
        try (LogReader log = new LogReader(dir.resolve("events.jsonl"))) {
            for (Envelope e = log.next(); e != null; e = log.next()) {
                if (e.event() instanceof IpiEvent.FlushTlb || e.event() instanceof IpiEvent.Tlbi) {
                    cpuFlushes++;
                } else if (e.event() instanceof SecondaryTlbEvent.InvalidateSecondaryTlbs inv) {
                    secondary++;
                    wholeMm += inv.start() == 0 && inv.end() == Kernel.TLB_FLUSH_ALL ? 1 : 0;
                }
            }
        }
        return new Side(v.name(), v.description(), v.basedOn(), v.hook(), r.verdict(), o.complete(), r.violationKinds(),
                o.events(), r.stats().orderClasses(), cpuFlushes, secondary, wholeMm, hooks, count[0], shootdowns);
    }

    /** A log this command wrote, one envelope per line, in its order. */
    private static final class LogReader implements AutoCloseable {
        private final java.io.BufferedReader in;
        private final Path file;
        private long line;

        LogReader(Path file) throws IOException {
            this.file = file;
            this.in = Files.newBufferedReader(file, StandardCharsets.UTF_8);
        }

        /** The next envelope other than run-started (whose variant differs by design), or null at the end. */
        Envelope next() throws IOException {
            for (String text = in.readLine(); text != null; text = in.readLine()) {
                line++;
                Envelope e;
                try {
                    e = EventCodec.decode(text);
                } catch (dev.shootdown.codec.LogFormatException x) {
                    throw new IOException(file + ":" + line + ": " + x.getMessage(), x);
                }
                if (!(e.event() instanceof ControlEvent.RunStarted)) {
                    return e;
                }
            }
            return null;
        }

        @Override
        public void close() throws IOException {
            in.close();
        }
    }

    /** The rules whose values differ between the variants, as a file writes them. */
    static List<RuleDifference> ruleDifferences(List<KernelVariant> variants) {
        List<Map<String, Map<String, Map<String, String>>>> all = variants.stream().map(KernelFileWriter::rules).toList();
        List<RuleDifference> out = new ArrayList<>();
        if (!variants.stream().allMatch(v -> v.hook().equals(variants.get(0).hook()))) {
            out.add(new RuleDifference("hook", variants.stream().map(KernelVariant::hook).toList(),
                    variants.stream().map(v -> "").toList()));
        }
        for (var section : all.get(0).entrySet()) {
            for (var function : section.getValue().entrySet()) {
                for (String key : function.getValue().keySet()) {
                    if (key.equals("source")) {
                        continue;
                    }
                    List<String> values = new ArrayList<>();
                    List<String> sources = new ArrayList<>();
                    for (var rules : all) {
                        Map<String, String> f = rules.get(section.getKey()).get(function.getKey());
                        values.add(f.get(key));
                        sources.add(f.get("source"));
                    }
                    if (values.stream().distinct().count() > 1) {
                        out.add(new RuleDifference(section.getKey() + "." + function.getKey() + "." + key, values, sources));
                    }
                }
            }
        }
        return out;
    }

    /**
     * The first envelope, in causal order and leaving run-started out, where the log {@code other}
     * differs from the log {@code first}; both are read side by side as streams.
     */
    static Divergence divergence(String kernel, Path first, Path other) throws IOException {
        try (LogReader a = new LogReader(first); LogReader b = new LogReader(other)) {
            long position = 0;
            while (true) {
                Envelope x = a.next();
                Envelope y = b.next();
                position++;
                if (x == null && y == null) {
                    return null;
                }
                if (x == null || !x.equals(y)) {
                    return new Divergence(kernel, position, x == null ? null : describe(x), y == null ? null : describe(y));
                }
            }
        }
    }

    /** {@code coordinator#161 t=38.149us tlb-flush-called {...}}: an event as one line of the log would say it, shortened. */
    static String describe(Envelope e) {
        String json = EventCodec.encode(e);
        int at = json.indexOf("\"event\":");
        String event = at < 0 ? json : json.substring(at + 8, json.length() - 1);
        return e.id() + " t=" + String.format(Locale.ROOT, "%.3fus", e.timeNs() / 1000.0) + " " + event;
    }

    private void print(Comparison c, PrintWriter out) {
        out.printf(Locale.ROOT, "compare %s on %s, seed %d, deterministic engine: %s%n%n", c.scenario(), c.arch(), c.seed(),
                String.join(" vs ", c.kernels().stream().map(Side::kernel).toList()));
        List<List<String>> table = new ArrayList<>();
        List<String> header = new ArrayList<>(List.of(""));
        c.kernels().forEach(s -> header.add(s.kernel()));
        table.add(header);
        for (var r : rows().entrySet()) {
            List<String> line = new ArrayList<>(List.of(r.getKey()));
            c.kernels().forEach(side -> line.add(r.getValue().apply(side)));
            table.add(line);
        }
        Cells.printTable(table, out);
        out.println();
        if (c.rules().isEmpty()) {
            out.println("rules: the same in every variant");
        } else {
            out.println("rules that differ:");
            for (RuleDifference d : c.rules()) {
                out.println("  " + d.rule());
                for (int i = 0; i < d.values().size(); i++) {
                    out.printf("    %-" + width(c) + "s %s%n", c.kernels().get(i).kernel(), d.values().get(i));
                }
            }
        }
        out.println();
        for (Side s : c.kernels()) {
            out.println(s.kernel() + ": " + s.shootdownCount() + " shootdown" + (s.shootdownCount() == 1 ? "" : "s")
                    + (s.shootdownCount() > shownShootdowns ? ", the first " + Math.min(shownShootdowns, s.shootdowns().size()) : ""));
            for (ShootdownRow sd : s.shootdowns().subList(0, Math.min(shownShootdowns, s.shootdowns().size()))) {
                out.println("  #" + sd.id() + " " + sd.caller() + " on " + sd.cpu() + (sd.mm() == 0 ? "" : ", mm " + sd.mm()) + ": "
                        + (sd.order() == null ? "no order" : sd.order()) + ", " + sd.cpuFlushes() + " CPU flush"
                        + (sd.cpuFlushes() == 1 ? "" : "es") + ", " + sd.secondary() + " secondary invalidation"
                        + (sd.secondary() == 1 ? "" : "s"));
                for (String call : hookCalls(sd.hookCalls())) {
                    out.println("      " + call);
                }
            }
        }
        out.println();
        if (c.divergences().isEmpty()) {
            out.println("the logs are the same, event for event (run-started aside)");
        }
        for (Divergence d : c.divergences()) {
            out.println("the logs part at event " + d.position() + " (causal order, run-started aside):");
            out.printf("  %-" + width(c) + "s %s%n", c.kernels().get(0).kernel(), d.first() == null ? "(its log ended)" : d.first());
            out.printf("  %-" + width(c) + "s %s%n", d.kernel(), d.other() == null ? "(its log ended)" : d.other());
        }
    }

    /** Hook calls as lines, runs of the same call folded: {@code arch_tlbbatch_add_pending(mm 1, 0x0, -1) at 15.205us x8}. */
    static List<String> hookCalls(List<ShootdownSummary.HookCall> calls) {
        List<String> lines = new ArrayList<>();
        int i = 0;
        while (i < calls.size()) {
            ShootdownSummary.HookCall h = calls.get(i);
            int j = i + 1;
            while (j < calls.size() && sameCall(h, calls.get(j))) {
                j++;
            }
            lines.add(h.hook() + " from " + h.caller() + "(" + (h.mm() == 0 ? "NULL" : "mm " + h.mm()) + ", " + h.start() + ", "
                    + h.end() + ") at " + String.format(Locale.ROOT, "%.3fus", h.timeNs() / 1000.0) + (j - i > 1 ? " x" + (j - i) : ""));
            i = j;
        }
        return lines;
    }

    private static boolean sameCall(ShootdownSummary.HookCall a, ShootdownSummary.HookCall b) {
        return a.caller().equals(b.caller()) && a.mm() == b.mm() && a.start().equals(b.start()) && a.end().equals(b.end());
    }

    private static int width(Comparison c) {
        return c.kernels().stream().mapToInt(s -> s.kernel().length()).max().orElse(1);
    }

    private static String join(Map<String, ? extends Number> counts) {
        return String.join(", ", counts.entrySet().stream().map(e -> e.getKey() + " " + e.getValue()).toList());
    }


    /** For the page: the same rows as the text table. */
    static Map<String, java.util.function.Function<Side, String>> rows() {
        Map<String, java.util.function.Function<Side, String>> rows = new LinkedHashMap<>();
        rows.put("verdict", s -> s.verdict() + (s.complete() ? "" : " (incomplete)"));
        rows.put("violations", s -> s.violations().isEmpty() ? "-" : join(s.violations()));
        rows.put("events", s -> Long.toString(s.events()));
        rows.put("shootdowns", s -> Long.toString(s.shootdownCount()));
        rows.put("order classes", s -> s.orderClasses().isEmpty() ? "-" : join(s.orderClasses()));
        rows.put("CPU flush requests", s -> Long.toString(s.cpuFlushes()));
        rows.put("secondary invalidations", s -> s.secondaryInvalidations() + " (" + s.wholeMmSecondaryInvalidations() + " of the whole mm)");
        rows.put("hook calls", s -> s.hookCalls().isEmpty() ? "-" : join(s.hookCalls()));
        return rows;
    }
}
