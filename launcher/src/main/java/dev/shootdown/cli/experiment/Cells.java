package dev.shootdown.cli.experiment;

import com.fasterxml.jackson.annotation.JsonInclude;
import dev.shootdown.cli.report.AuditPrinter;
import dev.shootdown.cli.run.KernelCatalog;
import dev.shootdown.cli.run.ScenarioRunner;
import dev.shootdown.host.kafka.InfrastructureException;
import dev.shootdown.scenario.Scenario;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.stream.Collectors;

/**
 * The cells of {@code matrix} and {@code experiment}: each one scenario under one architecture,
 * kernel variant, fault plan and seed, run and audited on its own, with the {@code shootdown run}
 * command that reruns it. Cells run on a fixed pool of threads: on the deterministic engine each
 * with an engine of its own, on Kafka each with its own topics and nodes on the one cluster. Results
 * come back in the order the cells were given, whatever order they finished in.
 */
public final class Cells {

    private Cells() {}

    /**
     * What one cell runs: {@code scenario} (already under its arch, policy and fault plan), named
     * on the command line by {@code scenarioArg}, its kernel variant (the scenario's policy) by
     * {@code kernelArg} (a built-in's name or a file); {@code faults} labels its fault plan
     * ({@code none} for none) and {@code faultsFile} is the file {@code run --faults} reads, null
     * for none. {@code dir} is where its files go, relative to the output directory.
     */
    public record Spec(String scenarioArg, String kernelArg, Scenario scenario, String faults, String faultsFile, long seed, String dir) {}

    /**
     * How every cell runs: the same for all of them, and part of each cell's command; the kernel
     * variants the cells' policies name.
     */
    public record Settings(ScenarioRunner.Engine engine, long maxEvents, int livelockThreshold, long runTimeoutSeconds,
            String bootstrapServers, KernelCatalog kernels) {}

    /**
     * One cell's result, as matrix.json and experiment.json hold it. {@code verdict} is the
     * report's ({@code clean} or {@code violations}), or {@code error} when the run itself failed,
     * with {@code error} saying why. {@code faults} is absent where no fault plan was chosen.
     */
    public record Result(String scenario, String arch, String policy, @JsonInclude(JsonInclude.Include.NON_NULL) String faults,
            String engine, long seed, String verdict, List<String> violations, long events, boolean complete, String error,
            String dir, String command) {

        /** What a table shows: clean, or the distinct violation kinds in alphabetical order. */
        public String summary() {
            if (error != null) {
                return "error";
            }
            String s = violations.isEmpty() ? "clean" : String.join(", ", violations);
            return complete ? s : s + " (incomplete)";
        }
    }

    /**
     * Hears of each cell as it starts and ends, on the thread that runs it: with more than one job,
     * from several threads at once.
     */
    public interface Listener {
        void onStarted(int index, Spec cell);

        /** {@code failure} is what stopped the run when {@code result} is an error, else null. */
        void onFinished(int index, Spec cell, Result result, RuntimeException failure);
    }

    /**
     * Runs {@code cells}, writing each cell's events.jsonl, report.json and report.html under
     * {@code out} (unless it is null) as it ends. Up to {@code jobs} cells run at a time: on the
     * deterministic engine each with an engine of its own; on Kafka ({@code kafka} is the runner
     * holding the cluster) each with its own topics and nodes on the one cluster, except that a
     * cell whose fault plan restarts the broker runs alone, and that the nodes of {@code shootdown
     * node} processes take one run at a time. A cell whose model fails is an {@code error} result
     * and the others go on; a failure of the cluster or of writing the files stops them all.
     */
    public static List<Result> run(List<Spec> cells, Settings settings, ScenarioRunner kafka, int jobs, Path out, PrintWriter progress,
            Listener listener) throws InfrastructureException, IOException {
        Result[] results = new Result[cells.size()];
        boolean onKafka = settings.engine() == ScenarioRunner.Engine.kafka;
        if ((onKafka && !kafka.runsConcurrently()) || jobs <= 1) {
            for (int i = 0; i < cells.size(); i++) {
                results[i] = runOne(i, cells.get(i), settings, kafka, out, progress, listener);
            }
            return List.of(results);
        }
        ExecutorService pool = Executors.newFixedThreadPool(Math.min(jobs, Math.max(1, cells.size())), r -> {
            Thread t = new Thread(r, "shootdown-cell");
            t.setDaemon(true);
            return t;
        });
        try {
            List<Future<Result>> futures = new ArrayList<>();
            // a broker restart would pull the broker from under the other runs: such a cell takes it alone
            java.util.concurrent.locks.ReadWriteLock broker = new java.util.concurrent.locks.ReentrantReadWriteLock(true);
            for (int i = 0; i < cells.size(); i++) {
                int index = i;
                futures.add(pool.submit(() -> {
                    if (!onKafka) {
                        return runOne(index, cells.get(index), settings, null, out, progress, listener);
                    }
                    java.util.concurrent.locks.Lock lock = ScenarioRunner.restartsTheBroker(cells.get(index).scenario())
                            ? broker.writeLock() : broker.readLock();
                    lock.lockInterruptibly();
                    try {
                        return runOne(index, cells.get(index), settings, kafka, out, progress, listener);
                    } finally {
                        lock.unlock();
                    }
                }));
            }
            for (int i = 0; i < cells.size(); i++) {
                results[i] = futures.get(i).get();
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new InfrastructureException("interrupted while the cells ran", e);
        } catch (ExecutionException e) {
            if (e.getCause() instanceof IOException io) {
                throw io;
            }
            if (e.getCause() instanceof UncheckedIOException io) {
                throw io.getCause();
            }
            if (e.getCause() instanceof InfrastructureException ie) {
                throw ie;
            }
            throw new IllegalStateException("a cell's thread failed: " + e.getCause(), e.getCause());
        } finally {
            pool.shutdownNow();
        }
        return List.of(results);
    }

    /** The I/O failure among {@code e}'s causes and suppressed exceptions, if one is there. */
    private static IOException ioFailureIn(Throwable e) {
        Set<Throwable> seen = Collections.newSetFromMap(new IdentityHashMap<>());
        ArrayDeque<Throwable> todo = new ArrayDeque<>(List.of(e));
        while (!todo.isEmpty()) {
            Throwable t = todo.poll();
            if (!seen.add(t)) {
                continue;
            }
            if (t instanceof IOException io) {
                return io;
            }
            if (t.getCause() != null) {
                todo.add(t.getCause());
            }
            todo.addAll(List.of(t.getSuppressed()));
        }
        return null;
    }

    private static Result runOne(int index, Spec cell, Settings settings, ScenarioRunner kafka, Path out, PrintWriter progress,
            Listener listener) throws InfrastructureException, IOException {
        listener.onStarted(index, cell);
        ScenarioRunner runner = (kafka != null ? kafka
                : ScenarioRunner.sim(cell.seed(), settings.maxEvents(), settings.livelockThreshold(), progress))
                .withKernels(settings.kernels());
        Result result;
        RuntimeException failure = null;
        try {
            // written as it runs (the cell's directory, or a scratch one when nothing is kept): bounded memory
            Path dir = out != null ? out.resolve(cell.dir()) : Files.createTempDirectory("shootdown-cell-");
            try {
                ScenarioRunner.Written run = runner.runTo(cell.scenario(), cell.seed(), dir);
                List<String> kinds = List.copyOf(run.audit().report().violationKinds().keySet());
                result = result(cell, settings, run.audit().report().verdict(), kinds, run.events(), run.complete(), null);
            } finally {
                if (out == null) {
                    deleteTree(dir);
                }
            }
        } catch (InfrastructureException e) {
            // the cluster is shared by every cell: the rest would fail the same way
            throw new InfrastructureException(label(cell) + ": " + e.getMessage(), e);
        } catch (UncheckedIOException e) {
            throw e.getCause();
        } catch (RuntimeException e) {
            IOException io = ioFailureIn(e);
            if (io != null) {
                throw io; // the machine's, not the model's: every other cell would meet it too
            }
            // a fault of the model in this cell; the other cells still say something
            failure = e;
            result = result(cell, settings, "error", List.of(), 0, false, e.toString());
        }
        listener.onFinished(index, cell, result, failure);
        return result;
    }

    private static void deleteTree(Path dir) throws IOException {
        try (java.util.stream.Stream<Path> paths = Files.walk(dir)) {
            for (Path p : paths.sorted(java.util.Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        }
    }

    private static Result result(Spec cell, Settings settings, String verdict, List<String> kinds, long events, boolean complete,
            String error) {
        Scenario s = cell.scenario();
        return new Result(s.name(), s.arch().label(), s.policy(), cell.faults(),
                settings.engine().name(), cell.seed(), verdict, kinds, events, complete, error, cell.dir(), command(cell, settings));
    }

    /** The {@code shootdown run} command line that runs {@code cell} on its own. */
    static String command(Spec cell, Settings settings) {
        Scenario s = cell.scenario();
        List<String> args = new ArrayList<>(List.of("shootdown", "run", "--scenario", cell.scenarioArg(), "--arch", s.arch().label(),
                "--kernel", cell.kernelArg()));
        if (cell.faultsFile() != null) {
            args.addAll(List.of("--faults", cell.faultsFile()));
        }
        args.addAll(List.of("--engine", settings.engine().name(), "--seed", Long.toString(cell.seed()),
                "--livelock-threshold", Integer.toString(settings.livelockThreshold())));
        if (settings.engine() == ScenarioRunner.Engine.sim) {
            args.addAll(List.of("--max-events", Long.toString(settings.maxEvents())));
        } else {
            args.addAll(List.of("--run-timeout", Long.toString(settings.runTimeoutSeconds())));
            if (settings.bootstrapServers() != null) {
                args.addAll(List.of("--bootstrap-servers", settings.bootstrapServers()));
            }
        }
        return args.stream().map(Cells::shellQuote).collect(Collectors.joining(" "));
    }

    static String shellQuote(String arg) {
        return arg.matches("[A-Za-z0-9_./:=@%+,-]+") ? arg : "'" + arg.replace("'", "'\\''") + "'";
    }

    /** A table whose columns are as wide as their widest value, two spaces apart, trailing blanks trimmed. */
    /**
     * Prints {@code table} (its first line the header) in columns two spaces apart, in at most
     * {@link AuditPrinter#WIDTH} columns: when the natural widths do not fit, the widest column
     * narrows first (to {@link #MIN_COLUMN}, or its longest word, at least) and its cells wrap at
     * spaces onto more lines.
     */
    public static void printTable(List<List<String>> table, PrintWriter out) {
        int[] widths = new int[table.stream().mapToInt(List::size).max().orElse(0)];
        int[] narrowest = new int[widths.length]; // no word is cut: a column keeps its longest word's width
        for (List<String> line : table) {
            for (int i = 0; i < line.size(); i++) {
                widths[i] = Math.max(widths[i], line.get(i).length());
                for (String piece : line.get(i).split("[ ]|(?<=-)")) {
                    narrowest[i] = Math.max(narrowest[i], Math.max(Math.min(MIN_COLUMN, widths[i]), piece.length()));
                }
            }
        }
        int total = java.util.Arrays.stream(widths).sum() + 2 * Math.max(0, widths.length - 1);
        while (total > AuditPrinter.WIDTH) {
            int widest = -1;
            for (int i = 0; i < widths.length; i++) {
                if (i > 0 && widths[i] > narrowest[i] && (widest < 0 || widths[i] > widths[widest])) { // the row labels stay whole
                    widest = i;
                }
            }
            if (widest < 0) {
                break; // too many columns to fit: each keeps the narrowest width that still reads
            }
            widths[widest]--;
            total--;
        }
        for (List<String> line : table) {
            List<List<String>> cells = new ArrayList<>();
            int height = 1;
            for (int i = 0; i < line.size(); i++) {
                List<String> wrapped = wrap(line.get(i), Math.max(1, widths[i]));
                cells.add(wrapped);
                height = Math.max(height, wrapped.size());
            }
            for (int row = 0; row < height; row++) {
                StringBuilder b = new StringBuilder();
                for (int i = 0; i < cells.size(); i++) {
                    String part = row < cells.get(i).size() ? cells.get(i).get(row) : "";
                    b.append(i == 0 ? "" : "  ").append(String.format("%-" + Math.max(1, widths[i]) + "s", part));
                }
                out.println(b.toString().stripTrailing());
            }
        }
    }

    /** The narrowest a column of {@link #printTable} gets. */
    static final int MIN_COLUMN = 12;

    /**
     * {@code text} in lines of at most {@code width}, broken at spaces; a longer word is broken
     * after a hyphen ({@code missing-secondary-} / {@code invalidation}), or else cut.
     */
    static List<String> wrap(String text, int width) {
        List<String> lines = new ArrayList<>();
        StringBuilder line = new StringBuilder();
        for (String word : text.split(" ", -1)) {
            while (word.length() > width) {
                if (line.length() > 0) {
                    lines.add(line.toString());
                    line.setLength(0);
                }
                int cut = word.lastIndexOf('-', width - 1) + 1;
                cut = cut > 0 ? cut : width;
                lines.add(word.substring(0, cut));
                word = word.substring(cut);
            }
            if (line.length() > 0 && line.length() + 1 + word.length() > width) {
                lines.add(line.toString());
                line.setLength(0);
            }
            line.append(line.length() > 0 ? " " : "").append(word);
        }
        lines.add(line.toString());
        return lines;
    }

    public static String label(Spec cell) {
        Scenario s = cell.scenario();
        List<String> parts = new ArrayList<>(Arrays.asList(s.name(), s.arch().label(), s.policy()));
        if (cell.faults() != null) {
            parts.add("faults " + cell.faults());
        }
        return String.join(" ", parts);
    }
}
