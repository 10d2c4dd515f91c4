package dev.shootdown.testing;

import dev.shootdown.core.Decision;
import dev.shootdown.core.NodeStateMachine;
import dev.shootdown.core.TimerRequest;
import dev.shootdown.event.ControlEvent;
import dev.shootdown.event.Event;
import java.util.List;

/**
 * The given/when/then of a node state machine's tests, with a manual clock. A test class extends
 * it for its node: <b>given</b> a node ({@link #given}) brought to a state by the inputs it is
 * fed, <b>when</b> one more input arrives ({@link #on}) or a timer fires ({@link #fire}) at
 * {@link #now}, which the test moves by hand, <b>then</b> the decision equals the events and
 * timers expected ({@link #events}, {@link #eventsAndTimer}). No host, no mocks: the state machine
 * itself, as every host runs it.
 *
 * @param <N> the node under test
 */
public abstract class NodeFixture<N extends NodeStateMachine> {

    /** The node under test. */
    protected N node;
    /** The simulated time, in nanoseconds, at which the next input arrives. */
    protected long now;

    /** Starts from {@code fresh}, a node that has seen nothing, at time 0; returns it. */
    protected N given(N fresh) {
        node = fresh;
        now = 0;
        return fresh;
    }

    /** What the test compares of a decision: all of it, unless a test class looks at a part. */
    protected Decision view(Decision decision) {
        return decision;
    }

    /** How the node decides on an input: by itself, unless a test class records its steps too. */
    protected Decision decide(Event input) {
        return node.onEvent(input, now);
    }

    /** The node's decision for {@code input} arriving at {@link #now}. */
    protected Decision on(Event input) {
        return view(decide(input));
    }

    /** The node's decision when its timer {@code timer} fires at {@link #now}. */
    protected Decision fire(String timer) {
        return on(new ControlEvent.TimerFired(timer, now));
    }

    /** A decision that emits {@code events} and sets no timer. */
    protected static Decision events(Event... events) {
        return new Decision(List.of(events), List.of());
    }

    /** A decision that emits {@code events} and sets no timer. */
    protected static Decision events(List<Event> events) {
        return new Decision(events, List.of());
    }

    /** A decision that emits {@code events} and sets {@code timer} for {@code atNs}. */
    protected static Decision eventsAndTimer(String timer, long atNs, Event... events) {
        return new Decision(List.of(events), List.of(new TimerRequest(timer, atNs)));
    }
}
