package dev.shootdown.host;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.shootdown.core.Decision;
import dev.shootdown.core.Lifecycle;
import dev.shootdown.core.NodeStateMachine;
import dev.shootdown.event.Envelope;
import dev.shootdown.event.Event;
import dev.shootdown.event.IpiEvent;
import dev.shootdown.event.Kernel;
import dev.shootdown.event.NodeIds;
import dev.shootdown.event.SyscallEvent;
import dev.shootdown.event.VectorClock;
import dev.shootdown.event.WalkEvent;
import dev.shootdown.scenario.Scenario;
import dev.shootdown.scenario.Scenarios;
import dev.shootdown.testing.TestRuns;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;

/** The time protocol's bookkeeping on its own: links, a leaf's bound, statuses taken once, a wrong promise caught. */
class CausalClockTest {

    private static final LatencyModel LATENCY = LatencyModel.defaults();
    private static final Scenario SCENARIO = Scenarios.munmapDma();
    private static final List<String> NODES = SCENARIO.nodeIds();

    /** A node that takes everything and does nothing. */
    private record Idle(String nodeId) implements NodeStateMachine {
        @Override
        public Lifecycle lifecycle() {
            return Lifecycle.RUNNING;
        }

        @Override
        public Decision onEvent(Event input, long nowNs) {
            return Decision.NONE;
        }

        @Override
        public void evolve(Event event) {
        }
    }

    private static CausalClock.Status mm(long sentToCpu0, long promiseNs) {
        return new CausalClock.Status(NodeIds.COORDINATOR, 1, 1, Map.of("cpu0", sentToCpu0), Map.of(), Long.MAX_VALUE, promiseNs,
                Map.of(), Map.of(), false, false);
    }

    @Test
    void eachLinkHasItsOwnLookahead() {
        assertEquals(50, LATENCY.lookaheadNs("coordinator", "cpu0"), "down to the initiator's own flush_tlb_func");
        assertEquals(50, LATENCY.lookaheadNs("coordinator", "iommu0"));
        assertEquals(100, LATENCY.lookaheadNs("cpu0", "coordinator"), "a system call");
        assertEquals(200, LATENCY.lookaheadNs("iommu0", "coordinator"), "a page walk");
        assertEquals(Long.MAX_VALUE, LATENCY.lookaheadNs("cpu0", "cpu1"), "IPIs are sent by the mm");
        assertEquals(Long.MAX_VALUE, LATENCY.lookaheadNs("cpu0", "iommu0"));
        assertEquals(Long.MAX_VALUE, LATENCY.lookaheadNs("coordinator", "coordinator"));
        assertEquals(50, LATENCY.lookaheadNs(NodeIds.CONTROL, "cpu1"));
        assertEquals("coordinator", CausalClock.hubOf(NODES, LATENCY), "the star's hub is the mm");
    }

    @Test
    void aLeafHearsOnlyTheMmAndTheRunControllerAndTheMmHearsEveryoneElse() {
        CausalClock leaf = new CausalClock("cpu1", NODES, LATENCY);
        assertTrue(leaf.hears("coordinator") && leaf.hears(NodeIds.CONTROL));
        assertFalse(leaf.hears("cpu0") || leaf.hears("iommu0") || leaf.hears("cpu1"), "another leaf's statuses, or its own");
        CausalClock mm = new CausalClock("coordinator", NODES, LATENCY);
        assertTrue(mm.hears("cpu0") && mm.hears("cpu1") && mm.hears("iommu0") && mm.hears(NodeIds.CONTROL));
        assertFalse(mm.hears("coordinator"), "its own");
    }

    @Test
    void aMessageFasterThanItsLinkIsRefused() {
        Envelope fromCpu = new Envelope("r", "cpu0", 3, 1, 1000, VectorClock.EMPTY.with("cpu0", 3), null,
                new TreeMap<>(Map.of("coordinator", 1L)), new SyscallEvent.TaskExited("coordinator", "cpu0", 100, 1, "done"));
        LATENCY.checkLink(fromCpu, "coordinator", 100);
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> LATENCY.checkLink(fromCpu, "coordinator", 99));
        assertTrue(e.getMessage().contains("cpu0#3") && e.getMessage().contains("under 100 ns"), e.getMessage());
        Envelope ipi = new Envelope("r", "cpu0", 4, 1, 1000, VectorClock.EMPTY.with("cpu0", 4), null,
                new TreeMap<>(Map.of("cpu1", 1L)), new IpiEvent.FlushTlb("cpu1", 1, 0, Kernel.TLB_FLUSH_ALL, 1, 1, true, false, 0, List.of()));
        assertThrows(IllegalStateException.class, () -> LATENCY.checkLink(ipi, "cpu1", 5_000), "cpu0 never messages cpu1");
    }

    @Test
    void aLeafRunsToTheMmsPromiseOnceItHasEveryEventTheStatusCountsAndTakesEachStatusOnce() {
        ScheduledNode cpu0 = ScheduledNode.rebuild("r", new Idle("cpu0"), NODES, LATENCY, List.of(), true);
        CausalClock clock = new CausalClock("cpu0", NODES, LATENCY);
        cpu0.checkArrivals(clock::checkArrival);
        NodeDriver control = NodeDriver.source("r", NodeIds.CONTROL, NODES);
        Envelope start = control.emit(TestRuns.runStarted("r", 1, SCENARIO), 0);
        assertEquals(Long.MIN_VALUE, clock.bound(cpu0), "nothing heard yet");
        clock.onStatus(new CausalClock.Status(NodeIds.CONTROL, 1, 0, control.sentOnLinks(), Map.of(), Long.MAX_VALUE,
                Long.MAX_VALUE, Map.of(), Map.of(), false, false), 0);
        cpu0.receive(start);
        clock.onStatus(mm(0, 1_000), 1);
        assertEquals(1_050, clock.bound(cpu0), "the mm emits nothing before 1,000 ns, and reaches cpu0 50 ns later at the soonest");

        clock.onStatus(mm(1, 5_000), 2);
        assertEquals(1_050, clock.bound(cpu0), "the status counts an event of the mm's that cpu0 has not received");
        NodeDriver coordinator = NodeDriver.source("r", NodeIds.COORDINATOR, NODES);
        cpu0.receive(coordinator.emit(new WalkEvent.PageWalkCompleted("cpu0", "cpu0", 1, -1, 0x1000, false, -1, -1, false), 900));
        assertEquals(5_050, clock.bound(cpu0));

        clock.onStatus(mm(0, 1_000), 1);
        clock.onStatus(mm(0, 1_000), 2);
        assertEquals(5_050, clock.bound(cpu0), "a status read again (a rewind) is not taken again");

        // The mm's next event, due at cpu0 200-300 ns after 4,000 ns: before what it promised after its first.
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> cpu0.receive(
                coordinator.emit(new WalkEvent.PageWalkCompleted("cpu0", "cpu0", 1, -1, 0x2000, false, -1, -1, false), 4_000)));
        assertTrue(e.getMessage().matches("cpu0: event 2 from coordinator on its link is due at 4\\d\\d\\d ns, but after its event 1 "
                + "nothing was to be due before 5050 ns \\(coordinator promised to emit nothing before 5000 ns\\): a wrong promise, "
                + "the run stops"), e.getMessage());
    }
}
