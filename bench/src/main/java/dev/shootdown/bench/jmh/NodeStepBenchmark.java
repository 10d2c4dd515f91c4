package dev.shootdown.bench.jmh;

import dev.shootdown.codec.EventCodec;
import dev.shootdown.event.Envelope;
import dev.shootdown.host.NodeDriver;
import dev.shootdown.simulation.Machine;
import java.util.List;
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
 * One state-machine step of a node through its {@link NodeDriver}, as the hosts take it: an input
 * envelope delivered ({@code offer}: link order, the clock merged, {@code onEvent}, the outputs
 * stamped) or a timer fired ({@code fire}). The steps are those the node took in a
 * kswapd-reclaim x86 series-v2 run (seed 1, {@link RecordedRun}), replayed in order on a fresh
 * node and driver; at the end of the history a fresh pair starts over (built inside the timed
 * code, once per pass: a few hundred to a few thousand steps). {@code node}: {@code cpu2} (the busiest CPU: a
 * thread reading the DMA buffer over and over, so TLB fills, accesses, page faults and the
 * reclaim's flush IPIs) or {@code coordinator} (the mm: faults, walks, reclaim batches, the
 * secondary-TLB hook). Reference: {@link #encodeReference}, Jackson encoding one
 * of the envelopes the node emitted in that run, in turn ({@link EventCodec#encode}): the work
 * any host does per event to write the log, as in the suite's engine row.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
public class NodeStepBenchmark {

    @Param({"cpu2", "coordinator"})
    public String node;

    private RecordedRun run;
    private List<RecordedRun.Step> steps;
    private List<Envelope> emitted;
    private NodeDriver driver;
    private int next;
    private int nextEncoded;

    @Setup
    public void setUp() {
        run = new RecordedRun("kswapd-reclaim", "x86", "series-v2", 1, List.of(node));
        steps = run.steps.get(node);
        emitted = run.log.stream().filter(e -> e.node().equals(node)).toList();
        restart();
    }

    private void restart() {
        driver = new NodeDriver(run.runId, Machine.fresh(node), run.scenario.nodeIds());
        next = 0;
    }

    /** The next step of the node's history; returns what it produced. */
    @Benchmark
    public NodeDriver.Output step() {
        if (next == steps.size()) {
            restart();
        }
        RecordedRun.Step s = steps.get(next++);
        return s.input() != null ? driver.offer(s.input(), s.nowNs()) : driver.fire(s.timer(), s.nowNs());
    }

    @Benchmark
    public String encodeReference() {
        Envelope e = emitted.get(nextEncoded);
        nextEncoded = nextEncoded + 1 == emitted.size() ? 0 : nextEncoded + 1;
        return EventCodec.encode(e);
    }
}
