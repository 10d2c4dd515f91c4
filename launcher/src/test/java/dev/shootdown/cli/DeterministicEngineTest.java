package dev.shootdown.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.shootdown.audit.AuditReport;
import dev.shootdown.audit.Auditor;
import dev.shootdown.codec.EventCodec;
import dev.shootdown.event.Envelope;
import dev.shootdown.host.LatencyModel;
import dev.shootdown.host.sim.SimEngine;
import dev.shootdown.log.CausalOrder;
import dev.shootdown.scenario.Scenario;
import dev.shootdown.scenario.Scenarios;
import java.util.List;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.LongRange;

/** The deterministic engine over many seeds: same seed, same bytes; every seed, a correct run. */
class DeterministicEngineTest {

    private static List<Envelope> run(long seed) {
        Scenario s = Scenarios.munmapDma();
        SimEngine.Result r = new SimEngine("munmap-dma-sim-s" + seed, seed, s, Machine.stateMachines(s), LatencyModel.defaults())
                .run(1_000_000);
        assertTrue(r.quiesced(), "seed " + seed + ": every node quiesced");
        return CausalOrder.sort(r.log(), e -> e);
    }

    private static String bytes(List<Envelope> log) {
        StringBuilder sb = new StringBuilder();
        log.forEach(e -> sb.append(EventCodec.encode(e)).append('\n'));
        return sb.toString();
    }

    @Property(tries = 40)
    void sameSeedGivesTheSameLogByteForByte(@ForAll @LongRange(min = 0, max = 1_000_000) long seed) {
        assertEquals(bytes(run(seed)), bytes(run(seed)));
    }

    @Property(tries = 200)
    void everySeedUnmapsSafely(@ForAll @LongRange(min = 0, max = Long.MAX_VALUE / 2) long seed) {
        List<Envelope> log = run(seed);
        RunInvariants.assertMunmapDmaCorrect(log);
        Auditor auditor = new Auditor();
        log.forEach(auditor::accept);
        AuditReport report = auditor.finish();
        assertEquals("clean", report.verdict(), () -> "seed " + seed + ": " + report.violations());
        assertEquals("secondary-after-cpu", report.shootdowns().get(0).order());
        assertTrue(report.complete());
    }

    @Property(tries = 10)
    void differentSeedsGiveDifferentInterleavings(@ForAll @LongRange(min = 0, max = 1_000_000) long seed) {
        assertNotEquals(bytes(run(seed)), bytes(run(seed + 1)));
    }
}
