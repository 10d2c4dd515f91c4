package dev.shootdown.core;

import dev.shootdown.event.ControlEvent;
import dev.shootdown.event.Event;
import dev.shootdown.event.EventType;
import java.util.List;

/**
 * The contract every node (CPU, IOMMU, coordinator) implements: a deterministic state machine.
 *
 * <p>{@link #onEvent} takes one input and the current simulated time and returns the events to
 * emit and the timers to set. State changes only through {@link #evolve}: of the node's own
 * events, and of the few inputs it keeps as state ({@link #keepsInput}: the run's start, and the
 * acknowledgements a node waits for). Replaying those from the log rebuilds the node's state
 * ({@code NodeDriver.recover}). No clocks, threads, I/O or randomness of its own: time is
 * {@code nowNs}, ids are the host's {@code (node, seq)}.
 *
 * <p>Thread: whichever single thread the host runs it on; never called concurrently.
 */
public interface NodeStateMachine {

    /** This node's id ({@code coordinator}, {@code cpu0}, {@code iommu0}). */
    String nodeId();

    /** Where this node is in the run. */
    Lifecycle lifecycle();

    /**
     * Handles one input (another node's event, or this node's own {@code TimerFired}).
     *
     * @param input the input event
     * @param nowNs the simulated time at which the node handles it, in nanoseconds
     */
    Decision onEvent(Event input, long nowNs);

    /** Applies one of this node's own events, or an input it {@linkplain #keepsInput keeps}, to its state. */
    void evolve(Event event);

    /**
     * Applies one of this node's own events, emitted at simulated time {@code timeNs}: a node whose
     * state keeps when things happened (a watchdog's deadline) overrides this; by default the time
     * is not kept. Recovery replays own events through this, with the times the log recorded.
     */
    default void evolve(Event event, long timeNs) {
        evolve(event);
    }

    /** True for inputs whose arrival changes this node's state by themselves ({@link #evolve} applies them). */
    default boolean keepsInput(Event input) {
        return input instanceof ControlEvent.RunStarted;
    }

    /**
     * The timers a node rebuilt from the log needs, given its state: timers are not recorded, so
     * recovery re-arms them from {@code nowNs}.
     */
    default List<TimerRequest> timersAfterRecovery(long nowNs) {
        return List.of();
    }

    /**
     * What taking an input of {@code type} can lead to at the soonest, from now on, whatever else
     * this node's state holds: the families of the events it may send at once, and how soon any
     * timer it arms may fire. The Kafka host's time protocol lets the node's neighbours run ahead
     * of it by as much; a claim the node breaks stops the run loudly. By default: anything, at once.
     */
    default Reaction reactionTo(EventType type) {
        return Reaction.ANY;
    }
}
