package dev.shootdown.mm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.shootdown.core.Decision;
import dev.shootdown.core.Lifecycle;
import dev.shootdown.core.TimerRequest;
import dev.shootdown.event.ControlEvent;
import dev.shootdown.event.Event;
import dev.shootdown.event.FaultEvent;
import dev.shootdown.event.IpiEvent;
import dev.shootdown.event.NodeIds;
import dev.shootdown.event.SecondaryTlbEvent;
import dev.shootdown.event.SyscallEvent;
import dev.shootdown.kernel.file.KernelFiles;
import dev.shootdown.scenario.Scenario;
import dev.shootdown.scenario.Scenarios;
import dev.shootdown.testing.TestRuns;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The kernel's watchdog in the coordinator: a shootdown that made no progress for the stall
 * window ends the run with what it waits for (csd_lock_wait for a CPU whose IPI was lost, the
 * hook for an IOMMU that never answers); progress moves the deadline; a coordinator rebuilt
 * from the log keeps the same deadline. munmap-dma on x86 linux-6.6: cpu0 unmaps 4 pages that
 * cpu1 and a device read.
 */
class WatchdogTest {

    private static final String COORD = NodeIds.COORDINATOR;

    private Coordinator coordinator;
    private final RecordedSteps log = new RecordedSteps();
    private Scenario scenario;

    @BeforeEach
    void setUp() {
        coordinator = new Coordinator(KernelFiles.catalog());
        log.clear();
        scenario = Scenarios.munmapDma();
        on(TestRuns.runStarted("r", 1, scenario), 0);
    }

    private Decision on(Event input, long nowNs) {
        return log.on(coordinator, input, nowNs);
    }

    private static long watchdogAt(Decision d) {
        long at = -2;
        for (TimerRequest t : d.timers()) {
            if (t.name().equals(Coordinator.WATCHDOG_TIMER)) {
                at = t.fireAtNs();
            }
        }
        return at;
    }

    private static <T extends Event> List<T> of(Decision d, Class<T> type) {
        return d.events().stream().filter(type::isInstance).map(type::cast).toList();
    }

    /** cpu0's munmap of the buffer at {@code nowNs}: its flush IPIs go out in the same decision. */
    private Decision munmap(long nowNs) {
        long buf = Scenarios.BUFFER;
        return on(new SyscallEvent.Munmap(COORD, "cpu0", 100, 1, buf, buf + 4 * dev.shootdown.event.Kernel.PAGE_SIZE), nowNs);
    }

    private static IpiEvent.TlbFlushed ack(IpiEvent.FlushTlb f) {
        return new IpiEvent.TlbFlushed(COORD, f.target(), f.mm(), f.start(), f.end(), IpiEvent.FlushKind.FULL, 1, 1,
                f.shootdownId());
    }

    @Test
    void aLostIpiLeavesTheInitiatorInCsdLockWaitAndTheWatchdogEndsTheRunNamingIt() {
        Decision started = munmap(10_000);
        List<IpiEvent.FlushTlb> ipis = of(started, IpiEvent.FlushTlb.class);
        long window = scenario.stallWindowNs();
        assertEquals(800_000, window, "1000 times the longer step of munmap-dma (cmdqSyncNs 800)");
        assertEquals(10_000 + window, watchdogAt(started), "armed a window after the shootdown's last step");

        // cpu0 answers, cpu1's IPI is lost: the coordinator emits nothing, the deadline stays.
        IpiEvent.FlushTlb own = ipis.stream().filter(f -> f.target().equals("cpu0")).findFirst().orElseThrow();
        Decision afterAck = on(ack(own), 12_000);
        assertTrue(afterAck.events().isEmpty(), afterAck.toString());
        assertEquals(-2, watchdogAt(afterAck), "no progress, no new deadline");

        Decision fired = on(new ControlEvent.TimerFired(Coordinator.WATCHDOG_TIMER, 10_000 + window), 10_000 + window);

        FaultEvent.StallDetected stall = of(fired, FaultEvent.StallDetected.class).get(0);
        assertEquals(new FaultEvent.StallDetected("cpu0", "task100", 1, "csd_lock_wait", List.of("cpu1"), 10_000, window), stall);
        ControlEvent.RunCompleted done = of(fired, ControlEvent.RunCompleted.class).get(0);
        assertEquals("the watchdog: shootdown 1 (munmap on cpu0) made no progress for 800.000 us, since 10.000 us: "
                + "csd_lock_wait waits for cpu1", done.reason());
        assertEquals(Lifecycle.QUIESCED, coordinator.lifecycle());
    }

    @Test
    void progressMovesTheDeadlineAndAFinishedShootdownCancelsIt() {
        Decision started = munmap(10_000);
        long window = scenario.stallWindowNs();
        Decision last = null;
        long now = 20_000;
        List<Event> pending = new ArrayList<>(started.events());
        // answer every IPI and invalidation, each a while later: each answer the coordinator acts on moves the deadline
        while (!pending.isEmpty()) {
            Event e = pending.remove(0);
            Event answer = e instanceof IpiEvent.FlushTlb f ? ack(f)
                    : e instanceof SecondaryTlbEvent.InvalidateSecondaryTlbs i
                            ? new SecondaryTlbEvent.SecondaryTlbsInvalidated(COORD, i.target(), i.mm(), i.pasid(), i.start(), i.end(),
                                    i.shootdownId())
                            : null;
            if (answer == null) {
                continue;
            }
            now += 5_000;
            last = on(answer, now);
            long at = watchdogAt(last);
            if (!last.events().isEmpty() && !of(last, SyscallEvent.MunmapReturned.class).isEmpty()) {
                assertEquals(new TimerRequest(Coordinator.WATCHDOG_TIMER, -1), last.timers().get(last.timers().size() - 1),
                        "the munmap returned: nothing left to watch");
            } else if (!last.events().isEmpty()) {
                assertEquals(now + window, at, "progress at " + now + ": " + last.events());
            }
            pending.addAll(last.events());
        }
        assertFalse(of(last, SyscallEvent.MunmapReturned.class).isEmpty(), "the munmap completed");

        // a watchdog timer the host still had would find nothing stuck
        Decision late = on(new ControlEvent.TimerFired(Coordinator.WATCHDOG_TIMER, 10_000 + window), 10_000 + window);
        assertTrue(of(late, FaultEvent.StallDetected.class).isEmpty(), late.toString());
        assertEquals(Lifecycle.RUNNING, coordinator.lifecycle());
    }

    @Test
    void aCoordinatorRebuiltFromTheLogArmsTheSameDeadline() {
        Decision started = munmap(10_000);
        long due = watchdogAt(started);

        Coordinator twin = log.rebuilt(10_000);

        assertTrue(twin.timersAfterRecovery(10_000).contains(new TimerRequest(Coordinator.WATCHDOG_TIMER, due)),
                twin.timersAfterRecovery(10_000).toString());
    }
}
