package dev.shootdown.bench;

import dev.shootdown.event.Access;
import dev.shootdown.event.Envelope;
import dev.shootdown.event.InShootdown;
import dev.shootdown.event.IpiEvent;
import dev.shootdown.event.Kernel;
import dev.shootdown.event.SecondaryTlbEvent;
import dev.shootdown.host.LatencyModel;
import dev.shootdown.host.sim.SimEngine;
import dev.shootdown.scenario.Arch;
import dev.shootdown.scenario.Scenario;
import dev.shootdown.scenario.Scenarios;
import dev.shootdown.scenario.TaskOp;
import dev.shootdown.simulation.Machine;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;

/**
 * Goal 5: how the deterministic engine's wall cost per shootdown grows with the CPUs, the IOMMUs
 * and the mms of the machine. Three sweeps, each varying one dimension with the others at the
 * base ({@link #BASE}); every point is timed in alternation with its sweep's base point, in the same
 * run, and reported as a ratio to it.
 *
 * <p>The workload ({@link #workload}): mm 1 has {@link #SHOOTDOWNS} one-page VMAs and a 4-page
 * buffer, all populated. Its thread on CPU 0 reads the buffer, then munmaps the VMAs one by one:
 * each munmap is one shootdown (one {@code mmu-gather-started}). A thread of mm 1 on every other
 * CPU reads the buffer once and then computes (its mm stays loaded, so every flush IPIs every CPU,
 * and the readers themselves publish no events in between). A device behind every IOMMU, with an
 * ATC, is bound to mm 1 with SVA and reads the buffer every {@link #DMA_PERIOD_NS}: every
 * shootdown invalidates every IOMMU's IOTLB and ATC. mms 2..N each have a populated 4-page
 * buffer and no task or device: the sweep asks whether the mere number of address spaces costs
 * anything per shootdown.
 *
 * <p>The cost of a shootdown is marginal: each configuration also runs its twin without the
 * munmaps (same machine, same window, same setup and DMA), and the twin's time is subtracted, so
 * building 1,000 mms is not charged to the shootdowns. Both are timed run by run, in the order
 * base, base's twin, point, point's twin, round after round.
 *
 * <p>Not thread-safe. Times are wall-clock ({@link System#nanoTime}); the runs are deterministic
 * (one seed), so every run of a configuration publishes the same events.
 */
final class ScaleBenchmark {

    /** Shootdowns per run: the munmaps of the thread on CPU 0. */
    static final int SHOOTDOWNS = 64;
    /** The devices' DMA period: slow, so that the DMA between shootdowns is a small part of the run. */
    static final long DMA_PERIOD_NS = 20_000;
    private static final long BUFFER = Scenarios.BUFFER;
    private static final long VMAS = Scenarios.HEAP;
    private static final long SEED = 1;

    /** A machine: CPUs, IOMMUs (one device each), mms. */
    record Config(int cpus, int iommus, int mms) {
        @Override
        public String toString() {
            return cpus + " CPUs, " + iommus + (iommus == 1 ? " IOMMU, " : " IOMMUs, ") + mms + (mms == 1 ? " mm" : " mms");
        }
    }

    /** The base every sweep varies one dimension of. */
    static final Config BASE = new Config(2, 1, 1);

    /** A sweep: the dimension it varies and its values, the first being the base's. */
    record Sweep(String dimension, List<Integer> values) {
        Config config(int value) {
            switch (dimension) {
                case "CPUs":
                    return new Config(value, BASE.iommus(), BASE.mms());
                case "IOMMUs":
                    return new Config(BASE.cpus(), value, BASE.mms());
                case "mms":
                    return new Config(BASE.cpus(), BASE.iommus(), value);
                default:
                    throw new IllegalArgumentException(dimension);
            }
        }
    }

    static final List<Integer> DEFAULT_CPUS = List.of(2, 4, 8, 16, 32, 64);
    static final List<Integer> DEFAULT_IOMMUS = List.of(1, 2, 4, 8);
    static final List<Integer> DEFAULT_MMS = List.of(1, 10, 100, 1000);

    /** What a configuration's run publishes (counted once, from the log of one run). */
    record Counts(long events, long twinEvents, long shootdowns, long ipis, long secondary, long window) {
        double eventsPerShootdown() {
            return (events - twinEvents) / (double) shootdowns;
        }
    }

    /**
     * One point of a sweep.
     *
     * @param ratio the point's wall ns per shootdown over the base's, timed alternately
     */
    record Point(String sweep, int value, Config config, Counts counts, double nsPerShootdown, double baseNsPerShootdown,
            double ratio, int rounds) {}

    private ScaleBenchmark() {}

    /** The parametric workload (see the class comment); {@code munmaps} 0 is the twin. */
    static Scenario workload(Config c, int munmaps, long windowNs) {
        List<Scenario.MmSpec> mms = new ArrayList<>();
        List<Scenario.VmaSpec> mm1 = new ArrayList<>();
        mm1.add(new Scenario.VmaSpec(BUFFER, 4, true, true));
        for (int k = 0; k < SHOOTDOWNS; k++) {
            mm1.add(new Scenario.VmaSpec(vma(k), 1, true, true));
        }
        mms.add(new Scenario.MmSpec(1, mm1));
        for (int m = 2; m <= c.mms(); m++) {
            mms.add(new Scenario.MmSpec(m, List.of(new Scenario.VmaSpec(BUFFER, 4, true, true))));
        }
        List<Scenario.TaskSpec> tasks = new ArrayList<>();
        List<TaskOp> unmapper = new ArrayList<>();
        unmapper.add(new TaskOp.Touch(BUFFER, 1, Access.READ, 1));
        for (int k = 0; k < munmaps; k++) {
            unmapper.add(new TaskOp.Munmap(vma(k), 1));
        }
        unmapper.add(new TaskOp.Compute(1_000_000_000_000L));
        tasks.add(new Scenario.TaskSpec(100, 1, 0, unmapper));
        for (int cpu = 1; cpu < c.cpus(); cpu++) {
            tasks.add(new Scenario.TaskSpec(100 + cpu, 1, cpu,
                    List.of(new TaskOp.Touch(BUFFER, 1, Access.READ, 1), new TaskOp.Compute(1_000_000_000_000L))));
        }
        List<Scenario.DeviceSpec> devices = new ArrayList<>();
        for (int i = 0; i < c.iommus(); i++) {
            devices.add(new Scenario.DeviceSpec("dev" + i, i, 1, 1, true,
                    new Scenario.DmaProgram(BUFFER, 4, Access.READ, DMA_PERIOD_NS)));
        }
        return new Scenario("scale", Arch.X86, "linux-6.6", c.cpus(), c.iommus(), mms, tasks, devices,
                new Scenario.Timing(500, 800), new Scenario.EndCondition(0, windowNs), Scenario.Memory.UNLIMITED, null);
    }

    private static long vma(int k) {
        return VMAS + 2L * k * Kernel.PAGE_SIZE; // a page apart, so that the VMAs do not merge
    }

    /**
     * Runs {@code c} once with a long window, finds when its last shootdown's events were
     * published, and closes the window 10 us after; counts the run's events, shootdowns, IPIs and
     * secondary-TLB invalidations in that window, and the twin's events.
     */
    static Counts count(Config c) {
        long[] lastShootdownNs = new long[1];
        Set<Long> ids = new HashSet<>();
        run(workload(c, SHOOTDOWNS, 1_000_000_000L), e -> {
            if (e.event() instanceof InShootdown s && s.shootdownId() >= 0) {
                ids.add(s.shootdownId());
                lastShootdownNs[0] = Math.max(lastShootdownNs[0], e.timeNs());
            }
        }, 2_000_000);
        long window = lastShootdownNs[0] + 10_000;
        long[] n = new long[3];
        ids.clear();
        long events = run(workload(c, SHOOTDOWNS, window), e -> {
            if (e.event() instanceof InShootdown s && s.shootdownId() >= 0) {
                ids.add(s.shootdownId());
            }
            if (e.event() instanceof IpiEvent.FlushTlb) {
                n[0]++;
            }
            if (e.event() instanceof SecondaryTlbEvent.InvalidateSecondaryTlbs) {
                n[1]++;
            }
        }, Long.MAX_VALUE);
        long twin = run(workload(c, 0, window), e -> { }, Long.MAX_VALUE);
        if (ids.isEmpty()) {
            throw new IllegalStateException(c + ": the run had no shootdown");
        }
        return new Counts(events, twin, ids.size(), n[0], n[1], window);
    }

    private static long run(Scenario s, java.util.function.Consumer<Envelope> look, long maxEvents) {
        long[] count = new long[1];
        new SimEngine("scale-sim-s" + SEED, SEED, s, Machine.kernel(s), Machine.stateMachines(s), LatencyModel.defaults())
                .streamTo(e -> {
                    count[0]++;
                    look.accept(e);
                })
                .run(maxEvents);
        return count[0];
    }

    /** One timed run; returns its wall nanoseconds. */
    private static long time(Scenario s, long expectedEvents) {
        long start = System.nanoTime();
        long events = run(s, e -> { }, Long.MAX_VALUE);
        long ns = System.nanoTime() - start;
        if (events != expectedEvents) {
            throw new IllegalStateException("a deterministic run published " + events + " events, not " + expectedEvents);
        }
        return ns;
    }

    /** A configuration ready to time: its run, its twin and their counts. */
    private record Prepared(Config config, Counts counts, Scenario run, Scenario twin) {
        static Prepared of(Config c) {
            Counts k = count(c);
            return new Prepared(c, k, workload(c, SHOOTDOWNS, k.window()), workload(c, 0, k.window()));
        }

        /** Times the run and its twin once each; adds their nanoseconds to {@code acc}. */
        void timeOnce(long[] acc) {
            acc[0] += time(run, counts.events());
            acc[1] += time(twin, counts.twinEvents());
        }

        double nsPerShootdown(long[] acc, int rounds) {
            // never below a tenth of the run's own time per shootdown: the twin's noise must not make it vanish
            double marginal = (acc[0] - acc[1]) / (double) rounds / counts.shootdowns();
            double floor = acc[0] / (double) rounds / counts.shootdowns() / 10;
            return Math.max(marginal, floor);
        }
    }

    /**
     * Measures every point of {@code sweep} against its base: per point, a warm-up of a third of
     * {@code seconds} then rounds of base and point (each with its twin) until {@code seconds} are
     * spent, at least 3 rounds. The base's own point is reported with ratio 1.
     */
    static List<Point> measure(Sweep sweep, double seconds, java.io.PrintWriter progress) {
        Prepared base = Prepared.of(sweep.config(sweep.values().get(0)));
        List<Point> points = new ArrayList<>();
        for (int value : sweep.values()) {
            Prepared p = value == sweep.values().get(0) ? base : Prepared.of(sweep.config(value));
            long warmUntil = System.nanoTime() + (long) (seconds / 3 * 1e9);
            long[] scratch = new long[2];
            do {
                base.timeOnce(scratch);
                p.timeOnce(scratch);
            } while (System.nanoTime() < warmUntil);
            long[] b = new long[2];
            long[] q = new long[2];
            int rounds = 0;
            long until = System.nanoTime() + (long) (seconds * 1e9);
            while (rounds < 3 || System.nanoTime() < until) {
                base.timeOnce(b);
                p.timeOnce(q);
                rounds++;
            }
            double baseNs = base.nsPerShootdown(b, rounds);
            double ns = p.nsPerShootdown(q, rounds);
            Point point = new Point(sweep.dimension(), value, p.config(), p.counts(), ns, baseNs, ns / baseNs, rounds);
            points.add(point);
            if (progress != null) {
                progress.println(String.format(Locale.ROOT, "  %s %d: %,.0f ns/shootdown, base %,.0f, ratio %.2f (%d rounds)",
                        sweep.dimension(), value, ns, baseNs, point.ratio(), rounds));
                progress.flush();
            }
        }
        return points;
    }

    /**
     * Warms the engine up on the workload before the first sweep, for at least {@code seconds}
     * (a mid-sized machine and the base, alternately): without it the first sweep's base is timed
     * while the JIT is still compiling, and its early rounds cost several times the later ones.
     */
    static void warmUp(double seconds) {
        Prepared a = Prepared.of(BASE);
        Prepared b = Prepared.of(new Config(16, 4, 10));
        long[] scratch = new long[2];
        long until = System.nanoTime() + (long) (seconds * 1e9);
        do {
            a.timeOnce(scratch);
            b.timeOnce(scratch);
        } while (System.nanoTime() < until);
    }

    /** The suite's row for a measured sweep: its largest point against its base. */
    static Row row(Sweep sweep, List<Point> points) {
        Point first = points.get(0);
        Point last = points.get(points.size() - 1);
        double growth = last.value() / (double) first.value();
        double ratio = last.ratio();
        // the cost grows with the dimension at the exponent log(ratio) / log(growth): 1 is linear, 0 flat
        double exponent = growth > 1 ? Math.log(Math.max(ratio, 1e-9)) / Math.log(growth) : 0;
        String target;
        String verdict;
        if (sweep.dimension().equals("mms")) {
            target = "flat per shootdown: at most 1.5x the base's cost";
            verdict = ratio <= 1.5 ? String.format(Locale.ROOT, "met (%.2fx for %.0fx the mms)", ratio, growth)
                    : String.format(Locale.ROOT, "missed: %.2fx for %.0fx the mms (exponent %.2f)", ratio, growth, exponent);
        } else {
            target = "at most linear in the " + sweep.dimension() + ": at most " + Row.format(growth) + "x the base's cost";
            verdict = ratio <= growth
                    ? String.format(Locale.ROOT, "met (%.2fx for %.0fx the %s: exponent %.2f)", ratio, growth, sweep.dimension(), exponent)
                    : String.format(Locale.ROOT, "missed: %.2fx for %.0fx the %s (exponent %.2f)", ratio, growth, sweep.dimension(), exponent);
        }
        StringBuilder also = new StringBuilder("cost ratio per point:");
        for (Point p : points) {
            also.append(String.format(Locale.ROOT, " %d: %.2fx (%s ns);", p.value(), p.ratio(), Row.format(p.nsPerShootdown())));
        }
        also.append(String.format(Locale.ROOT, " %.1f events, %.1f IPIs, %.1f secondary invalidations per shootdown at %d "
                + "(%.1f, %.1f, %.1f at %d); wall ns per event %s at %d, %s at %d",
                last.counts().eventsPerShootdown(), last.counts().ipis() / (double) last.counts().shootdowns(),
                last.counts().secondary() / (double) last.counts().shootdowns(), last.value(),
                first.counts().eventsPerShootdown(), first.counts().ipis() / (double) first.counts().shootdowns(),
                first.counts().secondary() / (double) first.counts().shootdowns(), first.value(),
                Row.format(first.nsPerShootdown() / first.counts().eventsPerShootdown()), first.value(),
                Row.format(last.nsPerShootdown() / last.counts().eventsPerShootdown()), last.value()));
        if (points.size() > 2) {
            Point prev = points.get(points.size() - 2);
            also.append(String.format(Locale.ROOT, "; exponent over the last step (%d to %d): %.2f", prev.value(), last.value(),
                    Math.log(last.ratio() / prev.ratio()) / Math.log(last.value() / (double) prev.value())));
        }
        String workload = String.format(Locale.ROOT, "%s %d to %d (base %s), %d munmaps of mm 1, twin subtracted",
                sweep.dimension(), first.value(), last.value(), first.config(), first.counts().shootdowns());
        return new Row(5, "scale", workload, 1e9 / last.nsPerShootdown(), "shootdowns/s", "base point " + first.config(),
                1e9 / last.baseNsPerShootdown(), target, verdict, also.toString());
    }

    /** Every point as a Markdown table: absolute and relative cost, and the run's fan-out. */
    static String pointsTable(List<Point> points) {
        StringBuilder b = new StringBuilder();
        b.append("| sweep | value | machine | wall ns/shootdown | base's ns/shootdown (same rounds) | cost ratio | events/shootdown | "
                + "IPIs/shootdown | secondary invalidations/shootdown | shootdowns per run | rounds |\n");
        b.append("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n");
        for (Point p : points) {
            Counts k = p.counts();
            b.append(String.format(Locale.ROOT, "| %s | %d | %s | %s | %s | %.2f | %.1f | %.1f | %.1f | %d | %d |%n", p.sweep(), p.value(),
                    p.config(), Row.format(p.nsPerShootdown()), Row.format(p.baseNsPerShootdown()), p.ratio(), k.eventsPerShootdown(),
                    k.ipis() / (double) k.shootdowns(), k.secondary() / (double) k.shootdowns(), k.shootdowns(), p.rounds()));
        }
        return b.toString();
    }
}
