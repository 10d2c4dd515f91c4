package dev.shootdown.host.kafka;

import dev.shootdown.event.Envelope;

/**
 * What a node verticle reports as it works, for a service's metrics: each input it delivers to
 * its state machine and each event it publishes. Called on the verticle's thread; must be quick.
 */
public interface NodeObserver {

    /** {@code in} was delivered to the node; {@code recordTimestampMs} is when Kafka stored it. */
    void onInput(String node, Envelope in, long recordTimestampMs);

    /** The node published {@code out}. */
    void onOutput(String node, Envelope out);

    NodeObserver NONE = new NodeObserver() {
        @Override
        public void onInput(String node, Envelope in, long recordTimestampMs) {}

        @Override
        public void onOutput(String node, Envelope out) {}
    };
}
