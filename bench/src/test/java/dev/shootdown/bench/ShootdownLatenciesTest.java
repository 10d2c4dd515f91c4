package dev.shootdown.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.shootdown.audit.AuditReport;
import dev.shootdown.audit.Auditor;
import dev.shootdown.audit.ShootdownSummary;
import dev.shootdown.event.Envelope;
import dev.shootdown.event.IpiEvent;
import dev.shootdown.event.PageTableEvent;
import dev.shootdown.event.SecondaryTlbEvent;
import dev.shootdown.host.LatencyModel;
import dev.shootdown.host.sim.SimEngine;
import dev.shootdown.scenario.Scenario;
import dev.shootdown.scenario.file.ScenarioFiles;
import dev.shootdown.simulation.Machine;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The latency benchmark's matching of each shootdown's PTE change to its last completion, and its
 * hop count, on a log of the benchmark's own workload from the deterministic engine (seed 1), with
 * publication times made up from the simulated ones.
 */
class ShootdownLatenciesTest {

    static List<Envelope> log;
    static AuditReport audit;

    @BeforeAll
    static void run() throws Exception {
        Scenario s = ScenarioFiles.load(Path.of("scenarios/latency-munmap.yaml"));
        log = new ArrayList<>();
        new SimEngine("latency-sim-s1", 1, s, Machine.kernel(s), Machine.stateMachines(s), LatencyModel.defaults()).streamTo(log::add).run(1_000_000);
        audit = Auditor.audit(log);
    }

    /** Every event published at its simulated time, as if the host were instantaneous. */
    private static Map<String, Long> atSimulatedTimes() {
        Map<String, Long> at = new HashMap<>();
        for (Envelope e : log) {
            at.put(e.id(), e.timeNs());
        }
        return at;
    }

    @Test
    void givenBackToBackMunmaps_whenPublishedAtSimulatedTime_thenEachEndsAtItsSecondaryCompletionThreeHopsAway() {
        ShootdownLatencies.Result r = ShootdownLatencies.measure(log, audit.shootdowns(), atSimulatedTimes());

        assertEquals(200, audit.shootdowns().size());
        assertEquals(200, r.samples().size(), r.toString());
        assertEquals(0, r.incomplete() + r.unpublished() + r.notAfterPteChange(), r.toString());
        Map<String, Envelope> byId = byId();
        for (ShootdownLatencies.Sample s : r.samples()) {
            ShootdownSummary sd = summary(s.shootdownId());
            // x86 linux-6.6: the hook runs once every IPI is acknowledged, so the IOMMU finishes last
            assertTrue(byId.get(s.lastCompletion()).event() instanceof SecondaryTlbEvent.SecondaryTlbsInvalidated, s.toString());
            assertEquals(sd.secondary().get(0).event(), s.lastCompletion());
            assertTrue(byId.get(s.pteChange()).event() instanceof PageTableEvent.PteCleared, s.toString());
            assertEquals(sd.pteChangeNs(), byId.get(s.pteChange()).timeNs());
            assertEquals(sd.secondary().get(0).completedNs() - sd.pteChangeNs(), s.latencyNs());
            // FlushTlb to the last CPU to acknowledge, its TlbFlushed back, InvalidateSecondaryTlbs to the
            // IOMMU; the IOMMU's CMD_SYNC waits are timers in between, attributed to its own steps
            assertEquals(3, s.hops(), s.toString());
        }
    }

    @Test
    void givenACpuFlushPublishedLast_thenItIsTheLastCompletionOneHopAway() {
        Map<String, Long> at = atSimulatedTimes();
        ShootdownSummary first = audit.shootdowns().get(0);
        ShootdownSummary.CpuFlush viaIpi = first.cpuFlushes().stream().filter(ShootdownSummary.CpuFlush::viaIpi).findFirst()
                .orElseThrow();
        at.put(viaIpi.event(), 1_000_000_000L);

        ShootdownLatencies.Sample s = ShootdownLatencies.measure(log, List.of(first), at).samples().get(0);

        assertEquals(viaIpi.event(), s.lastCompletion());
        assertTrue(byId().get(s.lastCompletion()).event() instanceof IpiEvent.TlbFlushed);
        assertEquals(1_000_000_000L - first.pteChangeNs(), s.latencyNs());
        assertEquals(1, s.hops(), "the FlushTlb from the coordinator; the munmap request came before the PTE change");
    }

    @Test
    void givenACompletionNeverSeenPublished_thenTheShootdownIsCountedNotMeasured() {
        Map<String, Long> at = atSimulatedTimes();
        at.remove(audit.shootdowns().get(3).cpuFlushes().get(0).event());

        ShootdownLatencies.Result r = ShootdownLatencies.measure(log, audit.shootdowns(), at);

        assertEquals(199, r.samples().size());
        assertEquals(1, r.unpublished());
        assertTrue(r.samples().stream().noneMatch(s -> s.shootdownId() == audit.shootdowns().get(3).id()));
    }

    @Test
    void givenALogCutInTheMiddleOfAShootdown_thenThatShootdownIsIncomplete() {
        ShootdownSummary last = audit.shootdowns().get(audit.shootdowns().size() - 1);
        int cut = 0;
        while (!log.get(cut).id().equals(last.cpuFlushes().get(0).event())) {
            cut++;
        }
        List<Envelope> truncated = log.subList(0, cut + 1);
        AuditReport partial = Auditor.audit(truncated);

        ShootdownLatencies.Result r = ShootdownLatencies.measure(truncated, partial.shootdowns(), atSimulatedTimes());

        assertEquals(200, r.shootdowns());
        assertEquals(199, r.samples().size());
        assertEquals(1, r.incomplete());
    }

    @Test
    void hopsStopAtTheRequestSentBeforeThePteChange() {
        Map<String, Envelope> byId = byId();
        ShootdownSummary first = audit.shootdowns().get(0);
        ShootdownLatencies.Sample s = ShootdownLatencies.measure(log, List.of(first), atSimulatedTimes()).samples().get(0);
        Envelope pte = byId.get(s.pteChange());
        assertNotNull(pte.cause(), "the munmap request from cpu0 caused the PTE change");
        Envelope request = byId.get(pte.cause());
        assertTrue(request.happenedBefore(pte));

        // from the PTE change to itself: nothing crossed
        assertEquals(0, ShootdownLatencies.hops(pte, pte, byId, Map.of()));
        // the request itself is not after the PTE change, so the IPI path has one hop, not two
        Envelope ipiAck = byId.get(first.cpuFlushes().stream().filter(ShootdownSummary.CpuFlush::viaIpi).findFirst()
                .orElseThrow().event());
        assertEquals(1, ShootdownLatencies.hops(pte, ipiAck, byId, Map.of()));
    }

    private static Map<String, Envelope> byId() {
        Map<String, Envelope> byId = new HashMap<>();
        for (Envelope e : log) {
            byId.put(e.id(), e);
        }
        return byId;
    }

    private static ShootdownSummary summary(long id) {
        return audit.shootdowns().stream().filter(sd -> sd.id() == id).findFirst().orElseThrow();
    }
}
