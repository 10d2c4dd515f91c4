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

    /** Records an error; {@code cause} may be null. */
    public void record(String node, String what, Throwable cause) {
        String key = node + ": " + what + (cause == null ? "" : " (" + cause.getClass().getSimpleName() + ": "
                + cause.getMessage() + ")");
        synchronized (counts) {
            counts.merge(key, 1, Integer::sum);
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
