package dev.shootdown.simulation;

import dev.shootdown.audit.AuditReport;
import dev.shootdown.audit.Auditor;
import dev.shootdown.audit.ShootdownSummary;
import dev.shootdown.audit.Violation;
import dev.shootdown.event.Envelope;
import dev.shootdown.host.LatencyModel;
import dev.shootdown.host.sim.SimEngine;
import dev.shootdown.scenario.Arch;
import dev.shootdown.scenario.Scenario;
import dev.shootdown.scenario.Scenarios;
import dev.shootdown.scenario.file.ScenarioFiles;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The auditor's memory is bounded by the live simulated state, not by the length of the log: on
 * a steady workload (the seed's reclaim scenarios with their tasks touching memory forever, so
 * reclaim, faults, frees and reallocations go on), what it holds after 150k events is no more
 * than what it held in the first 30k. And what it hands to a sink along the way is what its own
 * report lists: the same violations and shootdowns, in the same order.
 */
class BoundedAuditTest {

    private static final int EVENTS = 150_000;
    private static final int WARMUP = 30_000;

    @TempDir
    Path dir;

    @ParameterizedTest(name = "{0} {1}")
    @CsvSource({
        "kswapd-reclaim, linux-6.6",
        "kswapd-reclaim, series-v2",
        "direct-reclaim-cross-mm, series-v2",
        "direct-reclaim-cross-mm, linux-6.5",
    })
    void whatTheAuditorHoldsDoesNotGrowWithTheLog(String name, String policy) throws Exception {
        List<Envelope> log = steadyRun(name, policy);
        assertTrue(log.size() >= EVENTS, "the workload ran for the whole budget: " + log.size());

        List<Violation> violations = new ArrayList<>();
        List<ShootdownSummary> shootdowns = new ArrayList<>();
        Auditor streaming = new Auditor(Auditor.DEFAULT_FAULT_LIVELOCK_THRESHOLD, new Auditor.Sink() {
            @Override
            public void onViolation(Violation violation) {
                violations.add(violation);
            }

            @Override
            public void onShootdown(ShootdownSummary shootdown) {
                shootdowns.add(shootdown);
            }
        });
        long warmupMax = 0;
        long laterMax = 0;
        int maxShootdowns = 0;
        int maxFrames = 0;
        for (int i = 0; i < log.size(); i++) {
            streaming.accept(log.get(i));
            if (i % 500 == 0) {
                Auditor.LiveState live = streaming.liveState();
                long held = live.total();
                maxShootdowns = Math.max(maxShootdowns, live.shootdowns());
                maxFrames = Math.max(maxFrames, live.frameAllocations());
                if (i < WARMUP) {
                    warmupMax = Math.max(warmupMax, held);
                } else {
                    laterMax = Math.max(laterMax, held);
                }
            }
        }
        AuditReport settled = streaming.finish();
        assertTrue(warmupMax > 0);
        assertTrue(laterMax <= warmupMax + warmupMax / 4, "held at most " + warmupMax + " entries in the first " + WARMUP
                + " events, then up to " + laterMax + ": " + streaming.liveState());
        // Shootdowns and frame allocations really came and went: far more than were ever held at once.
        assertTrue(shootdowns.size() > 20 * maxShootdowns, shootdowns.size() + " shootdowns, up to " + maxShootdowns + " held");
        assertTrue(settled.stats().framesFreed() > 20 * maxFrames,
                settled.stats().framesFreed() + " frames freed, up to " + maxFrames + " allocations held");

        AuditReport whole = Auditor.audit(log);
        assertEquals(whole.violations(), violations);
        assertEquals(whole.shootdowns(), shootdowns);
        assertEquals(whole.stats(), settled.stats());
        assertEquals(whole.verdict(), settled.verdict());
        assertEquals(whole.violations().size(), streaming.violationCount());
        assertTrue(settled.violations().isEmpty() && settled.shootdowns().isEmpty(), "they went to the sink");
    }

    /** The built-in scenario with every task touching its memory forever and no end window. */
    private List<Envelope> steadyRun(String name, String policy) throws Exception {
        Scenario builtIn = Scenarios.builtIn(name).orElseThrow().with(Arch.X86, policy);
        String yaml = ScenarioFiles.toYaml(builtIn);
        String steady = yaml.replace("rounds: 1\n", "rounds: 0\n").replaceAll("afterNs: \\d+", "afterNs: 1000000000");
        assertNotEquals(yaml, steady);
        Path file = dir.resolve(name + ".yaml");
        Files.writeString(file, steady);
        Scenario s = ScenarioFiles.load(file);
        SimEngine.Result r = new SimEngine("bounded-" + name, 7, s, Machine.kernel(s), Machine.stateMachines(s), LatencyModel.defaults())
                .run(EVENTS);
        return r.log();
    }
}
