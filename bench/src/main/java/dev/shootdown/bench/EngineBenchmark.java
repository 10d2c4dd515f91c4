package dev.shootdown.bench;

import dev.shootdown.codec.EventCodec;
import dev.shootdown.event.Envelope;
import dev.shootdown.host.LatencyModel;
import dev.shootdown.host.sim.SimEngine;
import dev.shootdown.scenario.Arch;
import dev.shootdown.scenario.Scenario;
import dev.shootdown.scenario.Scenarios;
import dev.shootdown.simulation.Machine;
import java.lang.management.ManagementFactory;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * Goal 3: the deterministic engine's events per second and seeds per minute, on the calling
 * thread alone. A seed is a whole run of a built-in scenario (nodes built, run until every node
 * quiesces or the observation window closes, at most {@link #MAX_EVENTS_PER_SEED} events), its
 * envelopes handed to a counting sink ({@link SimEngine#streamTo}) so that nothing else is timed;
 * seeds 1, 2, 3, ... until the time budget is spent.
 *
 * <p>The reference, measured right after on the same thread: Jackson encoding the envelopes of
 * the same runs ({@link EventCodec#encode}), the work every host does to write the log. A ratio
 * above 1 means the engine produces events faster than they can be merely encoded.
 *
 * <p>Not thread-safe. Times are wall-clock ({@link System#nanoTime}).
 */
final class EngineBenchmark {

    /** The cap the launcher's {@code run --max-events} defaults to. */
    static final long MAX_EVENTS_PER_SEED = 5_000_000;
    /** The goal: a million events per second on one core. */
    static final double GOAL_EVENTS_PER_SECOND = 1_000_000;
    /** Envelopes kept for the reference: enough to defeat caches, bounded in memory. */
    private static final int REFERENCE_ENVELOPES = 200_000;

    /** A scenario at an arch and policy: one cell of the table. */
    record Cell(String scenario, String arch, String policy) {
        Scenario build() {
            return Scenarios.builtIn(scenario).orElseThrow(() -> new IllegalArgumentException("no scenario " + scenario))
                    .with(Arch.of(arch), policy);
        }

        @Override
        public String toString() {
            return scenario + " " + arch + " " + policy;
        }
    }

    /** The seed scenarios of the domain (outcomes 1 and 2), and the fix on the arm64 livelock's cell. */
    static final List<Cell> SEED_CELLS = List.of(
            new Cell("smmu-permission-upgrade", "arm64", "linux-6.5"),
            new Cell("kswapd-reclaim", "x86", "series-v2"),
            new Cell("direct-reclaim-cross-mm", "x86", "series-v2"),
            new Cell("smmu-permission-upgrade", "arm64", "linux-6.6"));

    private EngineBenchmark() {}

    /**
     * Measures {@code cell} for about {@code seconds}, and the reference for as long, in
     * alternating slices of at most half a second, so that a load that comes and goes on a shared
     * machine slows both alike. Each is warmed up first, for a third of {@code seconds} (the engine
     * for at least a second).
     */
    static Row measure(Cell cell, double seconds) {
        Scenario scenario = cell.build();
        List<Envelope> kept = new ArrayList<>();
        // At least a second: the JIT needs about that before the first cell of a short run is warm.
        long warmUntil = System.nanoTime() + (long) (Math.max(seconds / 3, 1.0) * 1e9);
        for (long seed = 1_000_000; System.nanoTime() < warmUntil || kept.isEmpty(); seed++) {
            runSeed(cell, scenario, seed, kept);
        }
        Encoder encoder = new Encoder(kept);
        encoder.encodeFor((long) (seconds / 3 * 1e9));
        encoder.encoded = 0;
        encoder.nanos = 0;

        long sliceNs = (long) (Math.min(0.5, seconds / 4) * 1e9);
        long events = 0;
        long seeds = 0;
        long engineNs = 0;
        long allocated = 0;
        while (engineNs < seconds * 1e9) {
            long allocatedBefore = allocatedBytes();
            long start = System.nanoTime();
            long end = start + sliceNs;
            long now;
            do {
                events += runSeed(cell, scenario, seeds + 1, null);
                seeds++;
                now = System.nanoTime();
            } while (now < end);
            engineNs += now - start;
            allocated += allocatedBytes() - allocatedBefore;
            encoder.encodeFor(sliceNs);
        }
        double rate = events / (engineNs / 1e9);
        double encodeRate = encoder.encoded / (encoder.nanos / 1e9);
        double seedsPerMinute = seeds * 60 / (engineNs / 1e9);
        return new Row(3, "engine", cell.toString(), rate, "events/s", "Jackson encode of the same envelopes", encodeRate,
                "≥ 1,000,000 events/s on one core", Row.atLeast(rate, GOAL_EVENTS_PER_SECOND, "events/s"),
                String.format(Locale.ROOT, "%s seeds/min (%d seeds, %,d events each on average); %,d bytes allocated per event",
                        Row.format(seedsPerMinute), seeds, events / seeds, allocated / events));
    }

    /** Bytes this thread allocated so far (HotSpot's per-thread counter, exact up to the current TLAB). */
    static long allocatedBytes() {
        return ((com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean()).getCurrentThreadAllocatedBytes();
    }

    /** Runs one seed to its end; returns the events published. Adds them to {@code keep} when given. */
    static long runSeed(Cell cell, Scenario scenario, long seed, List<Envelope> keep) {
        long[] count = new long[1];
        SimEngine engine = new SimEngine(cell.scenario + "-sim-s" + seed, seed, scenario, Machine.kernel(scenario), Machine.stateMachines(scenario),
                LatencyModel.defaults())
                .streamTo(keep == null ? e -> count[0]++ : e -> {
                    count[0]++;
                    if (keep.size() < REFERENCE_ENVELOPES) {
                        keep.add(e);
                    }
                });
        engine.run(MAX_EVENTS_PER_SEED);
        return count[0];
    }

    /** The reference: encodes the kept envelopes round and round, counting envelopes and time. */
    private static final class Encoder {
        private final List<Envelope> envelopes;
        private int next;
        private long chars;
        long encoded;
        long nanos;

        Encoder(List<Envelope> envelopes) {
            this.envelopes = envelopes;
        }

        void encodeFor(long durationNs) {
            long start = System.nanoTime();
            long end = start + durationNs;
            long now;
            do {
                for (int i = 0; i < 1000; i++) {
                    chars += EventCodec.encode(envelopes.get(next)).length(); // used, so the JIT keeps the call
                    next = next + 1 == envelopes.size() ? 0 : next + 1;
                }
                encoded += 1000;
                now = System.nanoTime();
            } while (now < end);
            nanos += now - start;
            if (chars == 0) {
                throw new IllegalStateException("nothing was encoded");
            }
        }
    }
}
