package dev.shootdown.host;

/**
 * A node's state machine threw while its host stepped it: its state may hold what it never
 * published, so the run cannot go on. Names the node and what it threw, in one line.
 */
public final class NodeFailedException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    private final String node;

    public NodeFailedException(String node, RuntimeException cause) {
        super(node + ": state machine failed (" + cause.getClass().getSimpleName() + ": " + cause.getMessage() + ")", cause);
        this.node = node;
    }

    /** The node whose state machine threw. */
    public String node() {
        return node;
    }
}
