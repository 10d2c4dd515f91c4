package dev.shootdown.core;

/**
 * A node's place in a run.
 *
 * <pre>
 *   CREATED --RunStarted--> RUNNING --RunCompleted--> QUIESCED
 * </pre>
 */
public enum Lifecycle {
    /** Built, not yet told which scenario it runs. */
    CREATED,
    /** Simulating: handles inputs and timers. */
    RUNNING,
    /** Told the run is over: ignores timers and inputs, emits nothing. */
    QUIESCED;

    /** Checks a transition against the table above. */
    public Lifecycle transitionTo(Lifecycle next, String nodeId) {
        boolean ok = (this == CREATED && next == RUNNING) || (this == RUNNING && next == QUIESCED);
        if (!ok) {
            throw new IllegalStateException(nodeId + ": bad lifecycle transition " + this + " -> " + next);
        }
        return next;
    }
}
