package dev.shootdown.host.kafka;

import dev.shootdown.event.Envelope;
import dev.shootdown.host.CausalClock;

/**
 * What a node verticle reports as it works, for a service's metrics: each input it delivers to
 * its state machine, each event it publishes, and the statuses of the time protocol it says and
 * hears. Called on the verticle's thread; must be quick.
 */
public interface NodeObserver {

    /** {@code in} was delivered to the node; {@code recordTimestampMs} is when Kafka stored it. */
    void onInput(String node, Envelope in, long recordTimestampMs);

    /** The node published {@code out}. */
    void onOutput(String node, Envelope out);

    /** The node said {@code status} on the run's time topic ({@link CausalClock}); called just before it is sent. */
    default void onStatusSaid(String node, CausalClock.Status status) {}

    /**
     * The node took {@code status}, said by another node (one it {@linkplain CausalClock#hears
     * hears}); the process's consumer had handed it over at {@code handedOverNs}
     * ({@link System#nanoTime}).
     */
    default void onStatusHeard(String node, CausalClock.Status status, long handedOverNs) {}

    NodeObserver NONE = new NodeObserver() {
        @Override
        public void onInput(String node, Envelope in, long recordTimestampMs) {}

        @Override
        public void onOutput(String node, Envelope out) {}
    };
}
