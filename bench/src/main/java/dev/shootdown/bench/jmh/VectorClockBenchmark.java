package dev.shootdown.bench.jmh;

import dev.shootdown.event.VectorClock;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;

/**
 * {@link VectorClock} as a node driver uses it, on clocks of {@code nodes} entries (6: the
 * kswapd-reclaim machine with its control node; 66: the scale sweep's 64 CPUs): {@link #tick}
 * sets the node's own entry to its next sequence ({@code with}, once per event emitted),
 * {@link #merge} takes the entry-wise maximum with a sender's clock that has news for half of
 * the entries (once per input). The references do the same on a {@code TreeMap<String, Long>},
 * what the clock held before its entries became two arrays (BENCHMARKS.md, the engine's
 * profile): copy and put, copy and merge.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
public class VectorClockBenchmark {

    @Param({"6", "66"})
    public int nodes;

    private VectorClock mine;
    private VectorClock theirs;
    private TreeMap<String, Long> mineMap;
    private TreeMap<String, Long> theirsMap;
    private String self;
    private long seq;

    @Setup
    public void setUp() {
        TreeMap<String, Long> a = new TreeMap<>();
        TreeMap<String, Long> b = new TreeMap<>();
        for (int i = 0; i < nodes; i++) {
            String id = i == 0 ? "control" : i == 1 ? "coordinator" : "cpu" + (i - 2);
            a.put(id, 100L + i);
            b.put(id, 100L + i + (i % 2 == 0 ? 5 : -5)); // news for every other entry
        }
        self = "cpu0";
        seq = a.get(self);
        mine = new VectorClock(a);
        theirs = new VectorClock(b);
        mineMap = a;
        theirsMap = b;
    }

    @Benchmark
    public VectorClock tick() {
        return mine.with(self, ++seq);
    }

    @Benchmark
    public TreeMap<String, Long> tickReference() {
        TreeMap<String, Long> copy = new TreeMap<>(mineMap);
        copy.put(self, ++seq);
        return copy;
    }

    @Benchmark
    public VectorClock merge() {
        return mine.merge(theirs);
    }

    @Benchmark
    public TreeMap<String, Long> mergeReference() {
        TreeMap<String, Long> copy = new TreeMap<>(mineMap);
        for (Map.Entry<String, Long> e : theirsMap.entrySet()) {
            copy.merge(e.getKey(), e.getValue(), Math::max);
        }
        return copy;
    }
}
