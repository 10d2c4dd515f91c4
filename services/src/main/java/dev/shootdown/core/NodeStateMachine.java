package dev.shootdown.core;

import dev.shootdown.event.Event;

/**
 * The contract every node (CPU, IOMMU, coordinator) implements: a deterministic state machine.
 *
 * <p>{@link #onEvent} takes one input and the current simulated time and returns the events to
 * emit and the timers to set. State changes only through {@link #evolve} of the node's own
 * events, so replaying a node's recorded events rebuilds its state. No clocks, threads, I/O or
 * randomness of its own: time is {@code nowNs}, ids are the host's {@code (node, seq)}.
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

    /** Applies one of this node's own events to its state. */
    void evolve(Event own);
}
