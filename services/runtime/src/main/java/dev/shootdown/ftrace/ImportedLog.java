package dev.shootdown.ftrace;

import dev.shootdown.event.Directed;
import dev.shootdown.event.Envelope;
import dev.shootdown.event.Event;
import dev.shootdown.event.VectorClock;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.SortedMap;
import java.util.TreeMap;
import java.util.function.Consumer;

/**
 * The log an imported capture becomes: each event stamped as its node's host would stamp it
 * (per-node sequence, a vector clock merged from its cause and what it follows, per-link
 * sequence numbers for a directed event) and handed on as it is made.
 */
final class ImportedLog {

    private final String runId;
    private final Consumer<Envelope> out;
    private final Map<String, Node> nodes = new HashMap<>();

    ImportedLog(String runId, Consumer<Envelope> out) {
        this.runId = runId;
        this.out = out;
    }

    /** Stamps {@code event} of {@code node} and hands it on. */
    Envelope emit(String node, long timeNs, Envelope cause, List<Envelope> merge, Event event) {
        Node n = nodes.computeIfAbsent(node, k -> new Node());
        long seq = ++n.seq;
        VectorClock clock = n.clock;
        if (cause != null) {
            clock = clock.merge(cause.clock());
        }
        for (Envelope m : merge) {
            clock = clock.merge(m.clock());
        }
        clock = clock.with(node, seq);
        SortedMap<String, Long> links = new TreeMap<>();
        if (event instanceof Directed d && !d.target().equals(node)) {
            links.put(d.target(), n.sentOn.merge(d.target(), 1L, Long::sum));
        }
        Envelope e = new Envelope(runId, node, seq, Envelope.SCHEMA_VERSION, timeNs, clock,
                cause == null ? null : cause.id(), links, event);
        n.clock = clock;
        n.last = e;
        out.accept(e);
        return e;
    }

    /** Each node's latest envelope. */
    List<Envelope> lastOfEachNode() {
        List<Envelope> last = new ArrayList<>();
        nodes.values().forEach(n -> last.add(n.last));
        return last;
    }

    private static final class Node {
        long seq;
        VectorClock clock = VectorClock.EMPTY;
        Envelope last;
        final Map<String, Long> sentOn = new HashMap<>();
    }
}
