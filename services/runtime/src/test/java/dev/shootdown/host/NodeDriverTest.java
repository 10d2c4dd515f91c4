package dev.shootdown.host;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.shootdown.core.Decision;
import dev.shootdown.core.Lifecycle;
import dev.shootdown.core.NodeStateMachine;
import dev.shootdown.core.TimerRequest;
import dev.shootdown.event.ControlEvent;
import dev.shootdown.event.Envelope;
import dev.shootdown.event.Event;
import dev.shootdown.event.PageTableEvent;
import dev.shootdown.event.WalkEvent;
import dev.shootdown.event.Access;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class NodeDriverTest {

    private static final List<String> TOPOLOGY = List.of("coordinator", "cpu0");

    /** A node that records what it was handed and answers every walk request. */
    private static final class Recorder implements NodeStateMachine {
        final List<Event> inputs = new ArrayList<>();
        final List<Long> times = new ArrayList<>();
        Lifecycle lifecycle = Lifecycle.RUNNING;

        @Override
        public String nodeId() {
            return "coordinator";
        }

        @Override
        public Lifecycle lifecycle() {
            return lifecycle;
        }

        @Override
        public Decision onEvent(Event input, long nowNs) {
            inputs.add(input);
            times.add(nowNs);
            if (input instanceof WalkEvent.PageWalkRequested w) {
                return new Decision(List.of(new WalkEvent.PageWalkCompleted(w.requester(), w.stream(), w.mm(), -1, w.va(), false, -1, -1, false)),
                        List.of(new TimerRequest("t", nowNs + 100)));
            }
            return Decision.NONE;
        }

        @Override
        public void evolve(Event own) {
        }
    }

    private static Envelope walkFromCpu(NodeDriver cpu, long va, long nowNs) {
        return cpu.emit(new WalkEvent.PageWalkRequested("coordinator", "cpu0", "cpu0", 1, -1, va, Access.READ), nowNs);
    }

    @Test
    void givenInputsArriveOutOfLinkOrder_whenOffered_thenTheyAreDeliveredInSendOrder() {
        Recorder node = new Recorder();
        NodeDriver driver = new NodeDriver("r", node, TOPOLOGY);
        NodeDriver cpu = NodeDriver.source("r", "cpu0", TOPOLOGY);
        Envelope first = walkFromCpu(cpu, 0x1000, 10);
        Envelope second = walkFromCpu(cpu, 0x2000, 20);

        NodeDriver.Output early = driver.offer(second, 25);
        assertTrue(early.envelopes().isEmpty(), "the second message waits for the first");
        assertTrue(driver.hasHeldInputs());

        NodeDriver.Output both = driver.offer(first, 15);
        assertEquals(List.of(0x1000L, 0x2000L), node.inputs.stream().map(e -> ((WalkEvent.PageWalkRequested) e).va()).toList());
        assertEquals(2, both.envelopes().size());
        assertEquals(List.of(15L, 25L), node.times);
        assertTrue(!driver.hasHeldInputs());
    }

    @Test
    void givenARedelivery_whenOffered_thenItIsDroppedOnce() {
        Recorder node = new Recorder();
        NodeDriver driver = new NodeDriver("r", node, TOPOLOGY);
        NodeDriver cpu = NodeDriver.source("r", "cpu0", TOPOLOGY);
        Envelope walk = walkFromCpu(cpu, 0x1000, 10);
        driver.offer(walk, 10);
        NodeDriver.Output again = driver.offer(walk, 50);
        assertTrue(again.envelopes().isEmpty());
        assertEquals(1, node.inputs.size());
        assertEquals(1, driver.duplicatesDropped());
    }

    @Test
    void outputsCarryCauseClockAndLinkSequence() {
        Recorder node = new Recorder();
        NodeDriver driver = new NodeDriver("r", node, TOPOLOGY);
        NodeDriver cpu = NodeDriver.source("r", "cpu0", TOPOLOGY);
        Envelope walk = walkFromCpu(cpu, 0x1000, 10);
        Envelope answer = driver.offer(walk, 12).envelopes().get(0);
        assertEquals(walk.id(), answer.cause());
        assertEquals(1, answer.seq());
        assertEquals(1L, answer.clock().get("cpu0"));
        assertEquals(1L, answer.clock().get("coordinator"));
        assertEquals(1L, answer.links().get("cpu0"));
        assertEquals(12, answer.timeNs());
        assertTrue(walk.happenedBefore(answer));
    }

    @Test
    void timersFireOnceAsLoggedInputsAndStaleOnesAreIgnored() {
        Recorder node = new Recorder();
        NodeDriver driver = new NodeDriver("r", node, TOPOLOGY);
        NodeDriver cpu = NodeDriver.source("r", "cpu0", TOPOLOGY);
        driver.offer(walkFromCpu(cpu, 0x1000, 10), 10); // arms "t" at 110
        assertTrue(driver.fire("t", 999).envelopes().isEmpty(), "a timer not armed for that time does nothing");
        NodeDriver.Output fired = driver.fire("t", 110);
        assertEquals(new ControlEvent.TimerFired("t", 110), fired.envelopes().get(0).event());
        assertEquals(new ControlEvent.TimerFired("t", 110), node.inputs.get(1));
        assertTrue(driver.fire("t", 110).envelopes().isEmpty(), "a timer fires once");
    }

    @Test
    void aQuiescedNodeReceivesNothingMore() {
        Recorder node = new Recorder();
        NodeDriver driver = new NodeDriver("r", node, TOPOLOGY);
        NodeDriver cpu = NodeDriver.source("r", "cpu0", TOPOLOGY);
        node.lifecycle = Lifecycle.QUIESCED;
        assertTrue(driver.offer(walkFromCpu(cpu, 0x1000, 10), 10).envelopes().isEmpty());
        assertTrue(node.inputs.isEmpty());
    }

    @Test
    void factsAreNotAddressedToAnyone() {
        NodeDriver cpu = NodeDriver.source("r", "cpu0", TOPOLOGY);
        Envelope fact = cpu.emit(new PageTableEvent.MmCreated(1), 0);
        assertTrue(fact.links().isEmpty());
    }
}
