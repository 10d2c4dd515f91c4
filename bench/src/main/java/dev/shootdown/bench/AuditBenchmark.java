package dev.shootdown.bench;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import dev.shootdown.cli.Shootdown;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.lang.management.ManagementFactory;
import java.lang.management.MemoryPoolMXBean;
import java.lang.management.MemoryType;
import java.lang.management.MemoryUsage;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.atomic.AtomicLong;
import java.util.zip.GZIPInputStream;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * How fast {@code shootdown audit} goes, as a ratio to a reference taken in the same JVM, on the
 * same file, in the same run: the rate at which plain Jackson merely parses the file's lines into
 * trees ({@code ObjectMapper.readTree}, after the same decompression and line splitting). The
 * audit is the real command ({@code Shootdown.execute("audit", ...)}): it decodes envelopes,
 * places them in causal order, audits them and writes report.json and report.html. Beside each
 * rate it records the largest heap left after a collection while that phase ran (sampled every
 * 100 ms from the heap pools' collection usage): what the phase keeps live, against the -Xmx the
 * JVM was given. Results go to stdout and, with {@code --results FILE}, to a JSON file.
 */
@Command(name = "audit-benchmark", mixinStandardHelpOptions = true, sortOptions = false,
        description = "Benchmark `shootdown audit` against plain Jackson parsing of the same log, in one run.")
public final class AuditBenchmark implements Callable<Integer> {

    @Spec
    CommandSpec spec;

    @Option(names = "--log", required = true, paramLabel = "FILE", description = "The log (events.jsonl or .jsonl.gz).")
    Path log;

    @Option(names = "--out", defaultValue = "bench-out", paramLabel = "DIR",
            description = "Where the audit writes its report. Default: ${DEFAULT-VALUE}")
    Path out;

    @Option(names = "--results", paramLabel = "FILE", description = "Also write the measurements as JSON here.")
    Path results;

    public static void main(String[] args) {
        System.exit(new CommandLine(new AuditBenchmark()).execute(args));
    }

    /** One phase: how many lines or events, in how long, and the most heap it kept live. */
    record Phase(String name, long events, double seconds, long maxHeapAfterGcBytes) {
        double eventsPerSecond() {
            return events / Math.max(seconds, 1e-9);
        }
    }

    @Override
    public Integer call() throws Exception {
        PrintWriter stdout = spec.commandLine().getOut();
        long maxHeap = Runtime.getRuntime().maxMemory();
        stdout.printf(Locale.ROOT, "log %s (%,d bytes), -Xmx %d MiB, %d processors%n", log, Files.size(log), maxHeap >> 20,
                Runtime.getRuntime().availableProcessors());
        Result r = measure(log, out);
        Phase parse = r.parse();
        Phase audit = r.audit();
        stdout.printf(Locale.ROOT, "%-14s %,12d lines  %7.1f s  %,10.0f lines/s  max heap after GC %,d MiB%n", parse.name(),
                parse.events(), parse.seconds(), parse.eventsPerSecond(), parse.maxHeapAfterGcBytes() >> 20);
        if (r.status() != Shootdown.EXIT_CLEAN && r.status() != Shootdown.EXIT_VIOLATIONS) {
            spec.commandLine().getErr().println("audit-benchmark: the audit failed (exit " + r.status() + "): " + r.auditErr());
            return 1;
        }
        stdout.printf(Locale.ROOT, "%-14s %,12d events %7.1f s  %,10.0f events/s  max heap after GC %,d MiB%n", audit.name(),
                audit.events(), audit.seconds(), audit.eventsPerSecond(), audit.maxHeapAfterGcBytes() >> 20);
        double ratio = audit.eventsPerSecond() / parse.eventsPerSecond();
        stdout.printf(Locale.ROOT, "audit / parse rate: %.3f%n", ratio);
        if (results != null) {
            Map<String, Object> json = new LinkedHashMap<>();
            json.put("when", Instant.now().toString());
            json.put("log", log.toString());
            json.put("logBytes", Files.size(log));
            json.put("xmxMiB", maxHeap >> 20);
            json.put("processors", Runtime.getRuntime().availableProcessors());
            json.put("java", System.getProperty("java.version"));
            json.put("jacksonParse", parse);
            json.put("audit", audit);
            json.put("auditExit", r.status());
            json.put("auditToParseRate", ratio);
            ObjectMapper mapper = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
            Files.createDirectories(results.toAbsolutePath().getParent());
            mapper.writeValue(results.toFile(), json);
        }
        stdout.flush();
        return 0;
    }

    /** Both phases on one log, and the audit's exit status and stderr. */
    record Result(Phase parse, Phase audit, int status, String auditErr) {}

    /**
     * Measures the reference (plain Jackson parse of {@code log}'s lines), then the audit of
     * {@code log}, which writes its report in {@code out}. When the audit fails (an exit status
     * other than clean or violations) its phase counts no events.
     */
    static Result measure(Path log, Path out) throws Exception {
        Phase parse = measure("jackson-parse", () -> parseOnly(log));
        StringWriter auditOut = new StringWriter();
        StringWriter auditErr = new StringWriter();
        AtomicLong status = new AtomicLong();
        Phase audit = measure("audit", () -> {
            status.set(Shootdown.execute(new PrintWriter(auditOut), new PrintWriter(auditErr), "audit", "--log", log.toString(),
                    "--out", out.toString(), "--no-progress"));
            int s = (int) status.get();
            return s == Shootdown.EXIT_CLEAN || s == Shootdown.EXIT_VIOLATIONS ? auditedEvents(auditOut.toString()) : 0;
        });
        return new Result(parse, audit, (int) status.get(), auditErr.toString());
    }

    /** The reference: every line through Jackson's tree parser, nothing else. */
    static long parseOnly(Path log) throws IOException {
        ObjectMapper mapper = new ObjectMapper();
        long lines = 0;
        try (InputStream raw = Files.newInputStream(log);
                InputStream in = log.getFileName().toString().endsWith(".gz") ? new GZIPInputStream(raw, 1 << 16) : raw;
                BufferedReader reader = new BufferedReader(new InputStreamReader(in, StandardCharsets.UTF_8), 1 << 16)) {
            for (String line = reader.readLine(); line != null; line = reader.readLine()) {
                if (mapper.readTree(line) != null) {
                    lines++;
                }
            }
        }
        return lines;
    }

    /** The count the audit printed: "audited N events in ...". */
    static long auditedEvents(String stdout) {
        for (String line : stdout.split("\n")) {
            if (line.startsWith("audited ")) {
                return Long.parseLong(line.substring("audited ".length(), line.indexOf(" events")).replace(",", ""));
            }
        }
        throw new IllegalStateException("the audit printed no count: " + stdout);
    }

    interface Work {
        long run() throws Exception;
    }

    static Phase measure(String name, Work work) throws Exception {
        System.gc();
        HeapSampler sampler = new HeapSampler();
        sampler.start();
        long start = System.nanoTime();
        long n;
        try {
            n = work.run();
        } finally {
            sampler.stop();
        }
        return new Phase(name, n, (System.nanoTime() - start) / 1e9, sampler.max());
    }

    /** Samples the heap left after the latest collection of each heap pool, and keeps the largest sum. */
    private static final class HeapSampler {
        private final AtomicLong max = new AtomicLong();
        private volatile boolean running = true;
        private Thread thread;

        void start() {
            thread = new Thread(() -> {
                while (running) {
                    sample();
                    try {
                        Thread.sleep(100);
                    } catch (InterruptedException e) {
                        return;
                    }
                }
            }, "heap-sampler");
            thread.setDaemon(true);
            thread.start();
        }

        private void sample() {
            long sum = 0;
            for (MemoryPoolMXBean pool : ManagementFactory.getMemoryPoolMXBeans()) {
                MemoryUsage after = pool.getType() == MemoryType.HEAP ? pool.getCollectionUsage() : null;
                if (after != null) {
                    sum += after.getUsed();
                }
            }
            max.accumulateAndGet(sum, Math::max);
        }

        void stop() throws InterruptedException {
            running = false;
            thread.interrupt();
            thread.join();
            sample();
        }

        long max() {
            return max.get();
        }
    }
}
