package dev.shootdown.core;

import dev.shootdown.event.Event;
import java.util.ArrayList;
import java.util.List;

/**
 * Collects one decision. {@link #emit} applies the event to the node's state at once (the
 * event-sourcing "apply"), so later steps of the same decision see its effect, and the state
 * never changes except through an emitted event.
 */
public final class Decider {
    private final NodeStateMachine node;
    private final List<Event> events = new ArrayList<>();
    private final List<TimerRequest> timers = new ArrayList<>();
    /** The simulated time the decision is made at, or -1: not given, the node keeps no time. */
    private final long nowNs;

    public Decider(NodeStateMachine node) {
        this(node, -1);
    }

    /** A decision at simulated time {@code nowNs}: each emitted event is applied with it ({@link NodeStateMachine#evolve(Event, long)}). */
    public Decider(NodeStateMachine node, long nowNs) {
        this.node = node;
        this.nowNs = nowNs;
    }

    public void emit(Event event) {
        events.add(event);
        if (nowNs < 0) {
            node.evolve(event);
        } else {
            node.evolve(event, nowNs);
        }
    }

    public void timer(String name, long fireAtNs) {
        timers.add(new TimerRequest(name, fireAtNs));
    }

    public void cancelTimer(String name) {
        timers.add(TimerRequest.cancel(name));
    }

    public Decision decision() {
        return events.isEmpty() && timers.isEmpty() ? Decision.NONE : new Decision(events, timers);
    }
}
