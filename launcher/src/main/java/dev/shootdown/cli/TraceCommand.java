package dev.shootdown.cli;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.shootdown.audit.Violation;
import dev.shootdown.cli.run.BadInputException;
import dev.shootdown.event.Envelope;
import dev.shootdown.log.LogStream;
import dev.shootdown.trace.TraceFilter;
import dev.shootdown.trace.TraceLine;
import dev.shootdown.trace.WhyChain;
import java.io.BufferedWriter;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.Callable;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code shootdown trace}: a run's log as text, one line per event in the manner of
 * {@code trace-cmd report} ({@link TraceLine}), filtered ({@link TraceFilter}), around one event, or
 * the chain that led to one ({@link WhyChain}). Streaming: the log is read line by line, in memory
 * that does not grow with it.
 */
@Command(name = "trace", mixinStandardHelpOptions = true,
        description = "Print a run's log as text, one line per event (time in us, node, id, kernel function or hardware "
                + "step, fields; addresses in hex), filtered, around one event, or the chain that led to one (--why).")
final class TraceCommand implements Callable<Integer> {

    @Spec
    CommandSpec spec;

    @ArgGroup(exclusive = true, multiplicity = "1")
    LogSource source;

    @Option(names = "--bootstrap-servers", paramLabel = "HOST:PORT", description = "The cluster that holds --run.")
    String bootstrapServers;

    @Mixin
    KafkaConfigOption kafkaConfig;

    @Option(names = "--node", split = ",", paramLabel = "NODE", description = "Only these nodes' events (cpu0,iommu0,...).")
    List<String> nodes = new ArrayList<>();

    @Option(names = "--mm", paramLabel = "MM", description = "Only events of this mm (a device's, by its PASID's binding).")
    Long mm;

    @Option(names = "--addr", paramLabel = "ADDR|START-END",
            description = "Only events that name an address in this page (ADDR) or range ([START, END)); hex with 0x, or decimal.")
    String addr;

    @Option(names = "--shootdown", paramLabel = "ID", description = "Only the events of this shootdown.")
    Long shootdown;

    @Option(names = "--type", split = ",", paramLabel = "TYPE",
            description = "Only events of these types: the log's (dma-completed) or the step's (DMA, flush_tlb_func).")
    List<String> types = new ArrayList<>();

    @Option(names = "--from", paramLabel = "US", description = "Only events at or after this simulated time, in microseconds.")
    Double fromUs;

    @Option(names = "--to", paramLabel = "US", description = "Only events at or before this simulated time, in microseconds.")
    Double toUs;

    @Option(names = "--around", paramLabel = "EVENT", description = "Only the events just before and after EVENT (an id, cpu0#12).")
    String around;

    @Option(names = "--context", defaultValue = "10", paramLabel = "N",
            description = "With --around: how many events on each side. Default: ${DEFAULT-VALUE}")
    int context;

    @Option(names = "--why", paramLabel = "EVENT",
            description = "The chain that led to EVENT: the shootdowns that changed its page, its frame's life, the "
                    + "auditor's evidence and verdict. The other filters narrow it.")
    String why;

    @Override
    public Integer call() throws Exception {
        source.check(bootstrapServers);
        if (around != null && why != null) {
            throw new BadInputException("--around and --why: one or the other");
        }
        if (context < 0) {
            throw new BadInputException("--context must be 0 or more, was " + context);
        }
        TraceFilter filter = filter();
        PrintWriter err = spec.commandLine().getErr();
        // Buffered, not flushed per line (the command's own writer flushes every println); a reader that went away
        // (| head) stops the reading.
        Lines out = new Lines(new BufferedWriter(spec.commandLine().getOut(), 1 << 16));
        Path spool = null;
        try {
            Path log = source.log;
            if (source.run != null) {
                spool = Files.createTempDirectory("shootdown-trace-");
                log = spool.resolve("events.jsonl");
                try (BufferedWriter w = Files.newBufferedWriter(log)) {
                    new ClusterRuns(bootstrapServers, kafkaConfig.file).stream(source.run, spool, (line, envelope) -> {
                        w.write(line);
                        w.write('\n');
                    });
                }
            }
            String name = source.log != null ? source.log.toString() : "run " + source.run;
            List<String> problems = new ArrayList<>();
            if (why != null) {
                whyChain(log, name, filter, out, problems);
            } else {
                TraceFilter.Pasids pasids = new TraceFilter.Pasids();
                Window window = around == null ? null : new Window(around, context);
                read(log, name, problems, e -> {
                    ObjectNode fields = TraceLine.fields(e);
                    pasids.observe(fields);
                    String step = TraceLine.step(e.event());
                    if (filter.matches(e, fields, step, pasids)) {
                        if (window == null) {
                            out.println(TraceLine.format(e, fields, step));
                        } else {
                            window.offer(e.id(), () -> TraceLine.format(e, fields, step), out);
                        }
                    }
                    return !out.gone() && (window == null || !window.done());
                });
                if (window != null && !window.found) {
                    out.flush();
                    throw new BadInputException("--around " + around + ": no such event in " + name
                            + (filter.equals(TraceFilter.ALL) ? "" : " (among the events the filters keep)"));
                }
            }
            out.flush();
            problems.forEach(p -> err.println("shootdown: " + p));
            err.flush();
            return problems.isEmpty() ? Shootdown.EXIT_CLEAN : Shootdown.EXIT_BAD_INPUT;
        } finally {
            out.flush();
            if (spool != null) {
                try (var files = Files.list(spool)) {
                    for (Path p : files.toList()) {
                        Files.deleteIfExists(p);
                    }
                }
                Files.deleteIfExists(spool);
            }
        }
    }

    private void whyChain(Path log, String name, TraceFilter filter, Lines out, List<String> problems)
            throws BadInputException, IOException {
        WhyChain chain = new WhyChain(why);
        TraceFilter.Pasids pasids = new TraceFilter.Pasids();
        read(log, name, problems, e -> {
            ObjectNode fields = TraceLine.fields(e);
            pasids.observe(fields);
            chain.find(e, fields, pasids);
            return true;
        });
        if (chain.target() == null) {
            throw new BadInputException("--why " + why + ": no such event in " + name);
        }
        List<String> ignored = new ArrayList<>();
        TraceFilter.Pasids again = new TraceFilter.Pasids();
        read(log, name, ignored, e -> {
            ObjectNode fields = TraceLine.fields(e);
            again.observe(fields);
            return chain.collect(e, fields, again);
        });
        TraceFilter.Pasids third = new TraceFilter.Pasids();
        read(log, name, ignored, e -> {
            ObjectNode fields = TraceLine.fields(e);
            third.observe(fields);
            String step = TraceLine.step(e.event());
            if (chain.includes(e, fields) && filter.matches(e, fields, step, third)) {
                out.println(TraceLine.format(e, fields, step));
            }
            return !e.id().equals(why) && !out.gone();
        });
        List<Violation> violations = chain.violations();
        if (violations.isEmpty()) {
            out.println("audit: no violation names " + why);
        }
        for (Violation v : violations) {
            out.println("audit: " + v.kind() + ": " + v.explanation() + " (" + String.join(", ", v.events()) + ")");
        }
    }

    /** The command's output: lines, buffered, and whether whoever read them went away. */
    private static final class Lines extends PrintWriter {
        private long lines;
        private boolean gone;

        Lines(java.io.Writer out) {
            super(out, false);
        }

        @Override
        public void println(String line) {
            super.println(line);
            if ((++lines & 0xfff) == 0) {
                gone = checkError(); // flushes: every 4,096 lines
            }
        }

        boolean gone() {
            return gone;
        }
    }

    /** What to do with each event read; false stops the reading. */
    private interface EachEvent {
        boolean accept(Envelope e) throws IOException;
    }

    /** Reads {@code log} in causal order, each event to {@code each}; its problems, in one line each, to {@code problems}. */
    private static void read(Path log, String name, List<String> problems, EachEvent each) throws BadInputException, IOException {
        try (LogStream stream = AuditOptions.open(log)) {
            try {
                for (Envelope e = stream.next(); e != null; e = stream.next()) {
                    if (!each.accept(e)) {
                        return;
                    }
                }
            } catch (IOException e) {
                problems.add(name + ": unreadable after line " + stream.linesRead() + " (" + e.getMessage() + ")");
            }
            stream.problems().forEach(p -> problems.add(p.describe(Path.of(name))));
            if (stream.problemCount() > stream.problems().size()) {
                problems.add(name + ": and " + (stream.problemCount() - stream.problems().size()) + " more problems");
            }
        }
    }

    /** The events on each side of one, for --around: the last {@code context} lines held until it comes. */
    private static final class Window {
        final String id;
        final int context;
        final ArrayDeque<String> before = new ArrayDeque<>();
        boolean found;
        int after;

        Window(String id, int context) {
            this.id = id;
            this.context = context;
        }

        /** Whether every line after the event is out. */
        boolean done() {
            return found && after >= context;
        }

        void offer(String eventId, java.util.function.Supplier<String> line, Lines out) {
            if (found) {
                if (after++ < context) {
                    out.println(line.get());
                }
                return;
            }
            if (eventId.equals(id)) {
                found = true;
                before.forEach(l -> out.println(l));
                before.clear();
                out.println(line.get());
                return;
            }
            if (context > 0) {
                if (before.size() == context) {
                    before.removeFirst();
                }
                before.addLast(line.get());
            }
        }
    }

    private TraceFilter filter() throws BadInputException {
        Long from = null;
        Long to = null;
        if (addr != null) {
            int dash = addr.indexOf('-', 1);
            if (dash < 0) {
                long a = address(addr, "--addr");
                from = a & -4096L;
                to = from + 4096;
            } else {
                from = address(addr.substring(0, dash), "--addr");
                to = address(addr.substring(dash + 1), "--addr");
                if (Long.compareUnsigned(from, to) >= 0) {
                    throw new BadInputException("--addr " + addr + ": the range's start must be below its end");
                }
            }
        }
        return new TraceFilter(Set.copyOf(nodes), mm, from, to, why != null, shootdown, Set.copyOf(types),
                fromUs == null ? null : Math.round(fromUs * 1000), toUs == null ? null : Math.round(toUs * 1000));
    }

    private static long address(String text, String option) throws BadInputException {
        String t = text.strip();
        try {
            return t.startsWith("0x") || t.startsWith("0X") ? Long.parseUnsignedLong(t.substring(2), 16) : Long.parseUnsignedLong(t);
        } catch (NumberFormatException e) {
            throw new BadInputException(option + ": expected an address (0x7f0000000000, or decimal) or START-END, got '" + text + "'");
        }
    }
}
