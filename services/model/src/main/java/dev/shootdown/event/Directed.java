package dev.shootdown.event;

/** An event addressed to one node: a request, a response, an IPI or its ack. */
public interface Directed {
    /** The node id this event is delivered to. */
    String target();
}
