package dev.shootdown.bench;

import dev.shootdown.codec.EventCodec;
import dev.shootdown.event.Envelope;
import dev.shootdown.host.LatencyModel;
import dev.shootdown.host.sim.SimEngine;
import dev.shootdown.scenario.Arch;
import dev.shootdown.scenario.Scenario;
import dev.shootdown.scenario.Scenarios;
import dev.shootdown.scenario.file.ScenarioFileException;
import dev.shootdown.scenario.file.ScenarioFiles;
import dev.shootdown.simulation.Machine;
import java.io.BufferedWriter;
import java.io.FilterOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.io.OutputStreamWriter;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import java.util.zip.GZIPOutputStream;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * Generates the log of a real simulated run, of any length, without holding it in memory: the
 * deterministic engine ({@link SimEngine#streamTo}) hands every envelope to a writer that encodes
 * it as one line of events.jsonl ({@link EventCodec#encode}) as it is published. Memory stays at
 * what the nodes and the messages in flight need, whatever {@code --events} is.
 *
 * <p>The file is in the engine's publication order, a causal order (every event after the events
 * its vector clock covers), not the canonical order {@code shootdown run} sorts its log into. The
 * run is cut after exactly {@code --events} events, so in-flight shootdowns have no end in the
 * log and there is no RunCompleted: a truncated run. The same arguments give the same bytes.
 */
@Command(name = "generate-log", mixinStandardHelpOptions = true, sortOptions = false,
        description = "Run a scenario on the deterministic engine and stream its first N events to an events.jsonl file "
                + "(gzip when FILE ends in .gz), in causal order, without keeping the log in memory.")
public final class GenerateLog implements Callable<Integer> {

    /** The run stopped (every node quiesced, or nothing was left to do) before --events events. */
    public static final int EXIT_ENDED_EARLY = 3;
    /** An I/O failure writing the file. */
    public static final int EXIT_IO = 1;

    /**
     * The observation window that replaces the scenario's when the window is not kept: 10^15 ns,
     * about 11.6 days of simulated time. The soak scenario publishes ~14 events per simulated
     * microsecond, so this is ~10^10 times more than any --events a disk can hold, and far from
     * overflowing a long when the engine adds latencies to it.
     */
    static final long ENDLESS_NS = 1_000_000_000_000_000L;

    static final String DEFAULT_SCENARIO = "bench/scenarios/soak-kswapd.yaml";

    @Spec
    CommandSpec spec;

    @Option(names = "--scenario", defaultValue = DEFAULT_SCENARIO, paramLabel = "FILE|NAME",
            description = "A .yaml, .yml or .json scenario file, or a built-in scenario's name. Default: ${DEFAULT-VALUE}")
    String scenarioArg;

    @Option(names = "--events", defaultValue = "1000000", paramLabel = "N",
            description = "Write exactly this many events; the run stops there. Default: ${DEFAULT-VALUE}")
    long events;

    @Option(names = "--seed", defaultValue = "1", paramLabel = "N", description = "Seed of the latencies. Default: ${DEFAULT-VALUE}")
    long seed;

    @Option(names = "--arch", paramLabel = "ARCH", description = "x86 or arm64. Default: the scenario's.")
    String arch;

    @Option(names = "--policy", paramLabel = "POLICY", description = "linux-6.5, series-v2 or linux-6.6. Default: the scenario's.")
    String policy;

    @Option(names = "--out", required = true, paramLabel = "FILE", description = "The events.jsonl to write; FILE.gz is gzipped.")
    Path out;

    @Option(names = "--keep-window",
            description = "Keep the scenario's end.afterNs. By default it is replaced by an endless window ("
                    + ENDLESS_NS + " ns), so that --events alone ends the run. Either way, a run that ends before N "
                    + "events exits with " + EXIT_ENDED_EARLY + ".")
    boolean keepWindow;

    @Option(names = "--progress-every", defaultValue = "1000000", paramLabel = "N",
            description = "Print a progress line to stderr every N events (0: never). Default: ${DEFAULT-VALUE}")
    long progressEvery;

    public static void main(String[] args) {
        System.exit(run(args));
    }

    /** Runs the command line {@code args} on the process's stdout and stderr; returns the exit code. */
    public static int run(String... args) {
        return new CommandLine(new GenerateLog()).execute(args);
    }

    @Override
    public Integer call() throws Exception {
        PrintWriter stdout = spec.commandLine().getOut();
        PrintWriter stderr = spec.commandLine().getErr();
        if (events <= 0) {
            throw new CommandLine.ParameterException(spec.commandLine(), "--events must be positive, was " + events);
        }
        if (progressEvery < 0) {
            throw new CommandLine.ParameterException(spec.commandLine(), "--progress-every must be 0 or more, was " + progressEvery);
        }
        Scenario scenario = scenario(spec.commandLine());
        String runId = scenario.name() + "-sim-s" + seed;
        Path parent = out.toAbsolutePath().getParent();
        if (parent != null) {
            Files.createDirectories(parent);
        }
        boolean gzip = out.getFileName().toString().toLowerCase(Locale.ROOT).endsWith(".gz");
        stderr.printf("generating %d events of %s (%s, %s, seed %d, window %s) into %s%s%n", events, runId, scenario.arch(),
                scenario.policy(), seed, keepWindow ? scenario.end().afterNs() + " ns" : "endless", out, gzip ? " (gzip)" : "");
        stderr.flush();

        long started = System.nanoTime();
        Writing writing;
        SimEngine.Result result;
        try (CountingOutputStream raw = new CountingOutputStream(Files.newOutputStream(out))) {
            CountingOutputStream text = gzip ? new CountingOutputStream(new GZIPOutputStream(raw, 1 << 16)) : raw;
            try (Writer w = new BufferedWriter(new OutputStreamWriter(text, StandardCharsets.UTF_8), 1 << 20)) {
                writing = new Writing(w, text, events, progressEvery, started, stderr);
                result = new SimEngine(runId, seed, scenario, Machine.kernel(scenario), Machine.stateMachines(scenario), LatencyModel.defaults())
                        .streamTo(writing::accept)
                        .run(events);
            }
            writing.uncompressedBytes = text.count;
        } catch (UncheckedIOException e) {
            stderr.println("cannot write " + out + ": " + e.getCause());
            return EXIT_IO;
        } catch (IOException e) {
            stderr.println("cannot write " + out + ": " + e);
            return EXIT_IO;
        }
        double seconds = (System.nanoTime() - started) / 1e9;
        long fileBytes = Files.size(out);
        stdout.printf("wrote %d events to %s: %d bytes%s in %.1f s (%.0f events/s), simulated time %.3f ms%n",
                writing.written, out, fileBytes,
                gzip ? " (" + writing.uncompressedBytes + " bytes uncompressed)" : "",
                seconds, writing.written / seconds, writing.lastTimeNs / 1e6);
        stdout.flush();
        if (writing.written < events) {
            stderr.println("the run ended after " + writing.written + " of the " + events + " events asked for ("
                    + (result.quiesced() ? "every node quiesced: the scenario's end condition was met"
                            : "nothing was left to do") + " at " + result.endTimeNs() + " ns)"
                    + (keepWindow ? "; drop --keep-window or lengthen end.afterNs" : ""));
            return EXIT_ENDED_EARLY;
        }
        return 0;
    }

    private Scenario scenario(CommandLine cl) throws IOException {
        Scenario s;
        var builtIn = Scenarios.builtIn(scenarioArg);
        if (builtIn.isPresent()) {
            s = builtIn.get();
        } else {
            Path file = Path.of(scenarioArg);
            if (!Files.exists(file)) {
                throw new CommandLine.ParameterException(cl, "no scenario file " + file.toAbsolutePath()
                        + (scenarioArg.equals(DEFAULT_SCENARIO) ? " (run from the repository's root, or give --scenario)" : "")
                        + "; built-in scenarios: " + String.join(", ", Scenarios.names()));
            }
            try {
                s = ScenarioFiles.load(file);
            } catch (ScenarioFileException e) {
                throw new CommandLine.ParameterException(cl, e.getMessage());
            }
        }
        s = s.with(arch == null ? s.arch() : Arch.of(choice(cl, "--arch", arch, Scenario.ARCHES)),
                policy == null ? s.policy() : choice(cl, "--policy", policy, Scenario.POLICIES));
        if (keepWindow) {
            return s;
        }
        return new Scenario(s.name(), s.arch(), s.policy(), s.cpus(), s.iommus(), s.mms(), s.tasks(), s.devices(), s.timing(),
                new Scenario.EndCondition(s.end().deviceFaults(), ENDLESS_NS), s.memory(), s.kswapd());
    }

    private static String choice(CommandLine cl, String flag, String value, List<String> allowed) {
        if (!allowed.contains(value)) {
            throw new CommandLine.ParameterException(cl,
                    flag + " must be one of " + String.join(", ", allowed) + ", was '" + value + "'");
        }
        return value;
    }

    /** The sink: writes the first {@code limit} envelopes, one line each, and reports progress. */
    private static final class Writing {
        private final Writer w;
        private final CountingOutputStream bytes;
        private final long limit;
        private final long progressEvery;
        private final long startedNs;
        private final PrintWriter progress;
        long written;
        long lastTimeNs;
        long uncompressedBytes;

        Writing(Writer w, CountingOutputStream bytes, long limit, long progressEvery, long startedNs, PrintWriter progress) {
            this.w = w;
            this.bytes = bytes;
            this.limit = limit;
            this.progressEvery = progressEvery;
            this.startedNs = startedNs;
            this.progress = progress;
        }

        void accept(Envelope e) {
            if (written >= limit) {
                return; // the engine finishes the step it stopped in; those events are past the cut
            }
            try {
                w.write(EventCodec.encode(e));
                w.write('\n');
            } catch (IOException ex) {
                throw new UncheckedIOException(ex);
            }
            written++;
            lastTimeNs = e.timeNs();
            if (progressEvery > 0 && written % progressEvery == 0) {
                double s = (System.nanoTime() - startedNs) / 1e9;
                Runtime rt = Runtime.getRuntime();
                progress.printf("  %,d events, %,d MB written, %.1f s, simulated %.3f ms, heap used %d MB%n", written,
                        bytes.count >> 20, s, lastTimeNs / 1e6, (rt.totalMemory() - rt.freeMemory()) >> 20);
                progress.flush();
            }
        }
    }

    /** Counts the bytes that pass (before they reach the buffers below it). */
    private static final class CountingOutputStream extends FilterOutputStream {
        long count;

        CountingOutputStream(OutputStream out) {
            super(out);
        }

        @Override
        public void write(int b) throws IOException {
            out.write(b);
            count++;
        }

        @Override
        public void write(byte[] b, int off, int len) throws IOException {
            out.write(b, off, len);
            count += len;
        }
    }
}
