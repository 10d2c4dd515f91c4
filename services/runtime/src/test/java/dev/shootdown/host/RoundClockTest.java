package dev.shootdown.host;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.shootdown.event.IpiEvent;
import dev.shootdown.event.NodeIds;
import dev.shootdown.event.SyscallEvent;
import dev.shootdown.event.VectorClock;
import dev.shootdown.event.Envelope;
import dev.shootdown.event.Kernel;
import java.util.List;
import java.util.Map;
import java.util.OptionalLong;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;

class RoundClockTest {

    private static final List<String> NODES = List.of("coordinator", "cpu0", "cpu1", "iommu0");
    private static final LatencyModel LATENCY = LatencyModel.defaults();

    private static RoundClock.RoundDone done(String node, long round, long next, Map<String, Long> inFlight) {
        return new RoundClock.RoundDone(node, round, 0, Map.of(), next, inFlight, false);
    }

    private static RoundClock started(Map<String, Long> runStartedDue) {
        RoundClock clock = new RoundClock(NODES, LATENCY);
        clock.onDone(done(NodeIds.CONTROL, 0, Long.MAX_VALUE, runStartedDue));
        for (String n : NODES) {
            clock.onDone(done(n, 0, Long.MAX_VALUE, Map.of()));
        }
        return clock;
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
    }

    @Test
    void windowsFollowTheShortestPathsThroughTheMm() {
        RoundClock clock = new RoundClock(NODES, LATENCY);
        assertEquals(150, clock.distanceNs("coordinator", "coordinator"), "to a CPU and back: 50 + 100");
        assertEquals(150, clock.distanceNs("cpu0", "cpu1"), "a system call, then the mm's answer");
        assertEquals(150, clock.distanceNs("cpu0", "cpu0"));
        assertEquals(250, clock.distanceNs("iommu0", "iommu0"), "a page walk and its answer");
        assertEquals(250, clock.distanceNs("iommu0", "cpu1"));
        assertEquals(150, clock.distanceNs("cpu1", "iommu0"));
        assertEquals(50, clock.distanceNs("coordinator", "iommu0"));
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
    void roundOneIsBoundedByWhenRunStartedReachesEachNode() {
        RoundClock clock = started(Map.of("coordinator", 60L, "cpu0", 70L, "cpu1", 80L, "iommu0", 90L));
        // The mm hears from a CPU no sooner than a system call after the CPU starts, from the IOMMU a page walk after.
        assertEquals(OptionalLong.of(170), clock.bound(1, "coordinator"));
        // A CPU hears only from the mm, as soon as a function call after the mm starts.
        assertEquals(OptionalLong.of(110), clock.bound(1, "cpu0"));
        assertEquals(OptionalLong.of(110), clock.bound(1, "iommu0"));
        assertEquals(0, clock.reachedNs(), "no node finished round 1 yet");
    }

    @Test
    void aBoundWaitsForEveryNodeOfThePreviousRound() {
        RoundClock clock = started(Map.of("coordinator", 60L, "cpu0", 70L, "cpu1", 80L, "iommu0", 90L));
        clock.onDone(done("coordinator", 1, 500, Map.of("cpu0", 160L)));
        clock.onDone(done("cpu0", 1, Long.MAX_VALUE, Map.of()));
        clock.onDone(done("cpu1", 1, 400, Map.of()));
        assertTrue(clock.bound(2, "cpu0").isEmpty(), "iommu0 has not finished round 1");
        clock.onDone(done("iommu0", 1, Long.MAX_VALUE, Map.of()));
        assertEquals(110, clock.reachedNs(), "every node got to its round-1 bound, the least of which is 110");
        // cpu0 can take the mm's message at 160 at the earliest, cpu1 its own input at 400, the mm its own at 500.
        assertEquals(OptionalLong.of(260), clock.bound(2, "coordinator"), "cpu0 at 160 + 100");
        assertEquals(OptionalLong.of(310), clock.bound(2, "cpu0"), "cpu0 at 160, then the mm's answer to it: + 150");
        assertEquals(OptionalLong.of(310), clock.bound(2, "iommu0"), "cpu0 at 160, then the mm: + 150");
        assertEquals(OptionalLong.of(310), clock.bound(2, "cpu1"));
        assertFalse(clock.finished());
    }

    @Test
    void aBoundComesFromWhatCanReachTheNodeAndARunWithNothingLeftIsFinished() {
        RoundClock clock = started(Map.of("coordinator", 60L, "cpu0", 70L, "cpu1", 80L, "iommu0", 90L));
        clock.onDone(done("coordinator", 1, Long.MAX_VALUE, Map.of()));
        clock.onDone(done("cpu0", 1, Long.MAX_VALUE, Map.of()));
        clock.onDone(done("cpu1", 1, 300, Map.of()));
        clock.onDone(done("iommu0", 1, Long.MAX_VALUE, Map.of()));
        assertEquals(OptionalLong.of(450), clock.bound(2, "cpu0"), "cpu1 at 300, through the mm");
        assertEquals(OptionalLong.of(400), clock.bound(2, "coordinator"));
        assertEquals(OptionalLong.of(450), clock.bound(2, "cpu1"), "cpu1's own input could come back to it");
        assertFalse(clock.finished(), "cpu1 still has an input at 300");
        clock.onDone(done("coordinator", 2, Long.MAX_VALUE, Map.of()));
        clock.onDone(done("cpu0", 2, Long.MAX_VALUE, Map.of()));
        clock.onDone(done("cpu1", 2, Long.MAX_VALUE, Map.of()));
        clock.onDone(done("iommu0", 2, Long.MAX_VALUE, Map.of()));
        assertEquals(OptionalLong.of(Long.MAX_VALUE), clock.bound(3, "cpu0"));
        assertTrue(clock.finished());
    }

    @Test
    void aQuiescedNodeTakesPartInNoLaterRoundButWhatItSentStillCounts() {
        RoundClock clock = started(Map.of("coordinator", 60L, "cpu0", 70L, "cpu1", 80L, "iommu0", 90L));
        clock.onDone(new RoundClock.RoundDone("cpu1", 1, 5, Map.of("coordinator", 2L), Long.MAX_VALUE, Map.of("coordinator", 180L),
                true));
        clock.onDone(done("coordinator", 1, Long.MAX_VALUE, Map.of()));
        clock.onDone(done("cpu0", 1, Long.MAX_VALUE, Map.of()));
        clock.onDone(done("iommu0", 1, Long.MAX_VALUE, Map.of()));
        assertFalse(clock.active("cpu1", 2));
        assertEquals(2, clock.expected("cpu1", "coordinator"));
        assertEquals(OptionalLong.of(230), clock.bound(2, "cpu0"), "the mm takes cpu1's last message at 180");
        assertEquals(OptionalLong.of(330), clock.bound(2, "coordinator"), "what the mm does at 180 could come back at 330");
        clock.onDone(done("coordinator", 2, Long.MAX_VALUE, Map.of()));
        clock.onDone(done("cpu0", 2, Long.MAX_VALUE, Map.of()));
        clock.onDone(done("iommu0", 2, Long.MAX_VALUE, Map.of()));
        assertTrue(clock.finished(), "round 3 waits for no one's RoundDone from cpu1");
    }
}
