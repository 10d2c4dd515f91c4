package dev.shootdown.host;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Where adapters hand the errors they catch at the boundary. Never throws; counts each distinct
 * error (node, what, exception type and message) once, with how often it recurred (model:
 * Agrona's DistinctErrorLog). Thread-safe.
 */
public final class ErrorLog {

    private final Map<String, Integer> counts = new LinkedHashMap<>();
    /** The first error that ends the run (a state machine that threw), or null. */
    private String fatal;

    /** Records an error; {@code cause} may be null. */
    public void record(String node, String what, Throwable cause) {
        String key = node + ": " + what + (cause == null ? "" : " (" + cause.getClass().getSimpleName() + ": "
                + cause.getMessage() + ")");
        synchronized (counts) {
            counts.merge(key, 1, Integer::sum);
        }
    }

    /**
     * Records an error after which the node cannot go on (its state machine threw: its state may
     * hold what it never published); the run it belongs to must end, naming it.
     */
    public void fatal(String node, String what, Throwable cause) {
        record(node, what, cause);
        synchronized (counts) {
            if (fatal == null) {
                fatal = node + ": " + what + (cause == null ? "" : " (" + cause.getClass().getSimpleName() + ": "
                        + cause.getMessage() + ")");
            }
        }
    }

    /** The first fatal error, or empty. */
    public java.util.Optional<String> firstFatal() {
        synchronized (counts) {
            return java.util.Optional.ofNullable(fatal);
        }
    }

    public boolean isEmpty() {
        synchronized (counts) {
            return counts.isEmpty();
        }
    }

    /** One line per distinct error, with its count when it recurred. */
    public List<String> distinct() {
        synchronized (counts) {
            List<String> lines = new ArrayList<>();
            counts.forEach((k, n) -> lines.add(n == 1 ? k : k + " x" + n));
            return lines;
        }
    }
}
