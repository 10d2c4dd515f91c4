package dev.shootdown.bench.jmh;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.shootdown.event.Envelope;
import dev.shootdown.host.NodeDriver;
import dev.shootdown.simulation.Machine;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.openjdk.jmh.results.RunResult;
import org.openjdk.jmh.runner.Runner;
import org.openjdk.jmh.runner.options.Options;
import org.openjdk.jmh.runner.options.OptionsBuilder;
import org.openjdk.jmh.runner.options.TimeValue;
import org.openjdk.jmh.runner.options.VerboseMode;

/**
 * Keeps the microbenchmarks compiling and working without timing anything worth reading: a
 * benchmark runs in this JVM (no fork, no warm-up, one measured iteration of 100 ms) and must
 * give a positive, finite score; and the node-step benchmark's replay must be the node's real
 * history (the same events the engine's run had). Asserts no speed.
 */
class JmhSmokeTest {

    private static RunResult runOnce(String benchmark, String param, String value) throws Exception {
        Options options = new OptionsBuilder()
                .include("^" + benchmark.replace(".", "\\.") + "$")
                .param(param, value)
                .forks(0)
                .warmupIterations(0)
                .measurementIterations(1)
                .measurementTime(TimeValue.milliseconds(100))
                .verbosity(VerboseMode.SILENT)
                .build();
        Collection<RunResult> results = new Runner(options).run();
        assertEquals(1, results.size(), "one result for " + benchmark);
        return results.iterator().next();
    }

    @Test
    @Timeout(value = 60, unit = TimeUnit.SECONDS)
    void aClockMergeAndANodeStepRunAndScore() throws Exception {
        for (RunResult r : List.of(
                runOnce(VectorClockBenchmark.class.getName() + ".merge", "nodes", "6"),
                runOnce(NodeStepBenchmark.class.getName() + ".step", "node", "coordinator"))) {
            double score = r.getPrimaryResult().getScore();
            assertTrue(score > 0 && Double.isFinite(score), r.getParams().getBenchmark() + " scored " + score);
            assertEquals("ns/op", r.getPrimaryResult().getScoreUnit());
            assertTrue(r.getPrimaryResult().getSampleCount() > 0, "no sample");
        }
    }

    @Test
    @Timeout(value = 60, unit = TimeUnit.SECONDS)
    void theReplayedStepsAreTheNodesRealHistory() {
        for (String node : List.of("cpu2", "coordinator")) {
            RecordedRun run = new RecordedRun("kswapd-reclaim", "x86", "series-v2", 1, List.of(node));
            NodeDriver driver = new NodeDriver(run.runId, Machine.fresh(node), run.scenario.nodeIds());
            List<Envelope> replayed = new ArrayList<>();
            for (RecordedRun.Step s : run.steps.get(node)) {
                replayed.addAll((s.input() != null ? driver.offer(s.input(), s.nowNs()) : driver.fire(s.timer(), s.nowNs())).envelopes());
            }
            List<Envelope> recorded = run.log.stream().filter(e -> e.node().equals(node)).toList();
            assertTrue(recorded.size() > 100, node + " emitted " + recorded.size() + " events");
            assertEquals(recorded, replayed, node + ": the replay emits what the run did");
        }
    }
}
