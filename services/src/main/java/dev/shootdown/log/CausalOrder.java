package dev.shootdown.log;

import dev.shootdown.event.Envelope;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.function.Function;

/**
 * The canonical order of a run's log: a topological order of happens-before (vector clocks),
 * ties broken by simulated time, then node id, then sequence. Two hosts that recorded the same
 * events write the same file, whatever order Kafka's partitions returned them in.
 */
public final class CausalOrder {

    private CausalOrder() {}

    /**
     * What could be ordered of a log with holes: the causally ordered prefix, the events that
     * could not be placed, and why the first of them could not ({@code ""} when none).
     */
    public record Partial<T>(List<T> ordered, List<T> blocked, String gap) {
        public Partial {
            ordered = List.copyOf(ordered);
            blocked = List.copyOf(blocked);
        }
    }

    /** Sorts {@code items} by the causal order of their envelopes; a duplicate or a gap throws. */
    public static <T> List<T> sort(List<T> items, Function<T, Envelope> envelopeOf) {
        Partial<T> p = sortPartially(items, envelopeOf);
        if (!p.blocked().isEmpty()) {
            throw new IllegalArgumentException("the log has a gap: " + p.gap());
        }
        return p.ordered();
    }

    /**
     * Orders as much of {@code items} as the vector clocks allow: everything after a missing
     * event of a node, or depending on one, is left in {@link Partial#blocked}. A duplicate
     * (node, seq) throws.
     */
    public static <T> Partial<T> sortPartially(List<T> items, Function<T, Envelope> envelopeOf) {
        Map<String, TreeMap<Long, T>> byNode = new TreeMap<>();
        for (T item : items) {
            Envelope e = envelopeOf.apply(item);
            T previous = byNode.computeIfAbsent(e.node(), k -> new TreeMap<>()).put(e.seq(), item);
            if (previous != null) {
                throw new IllegalArgumentException("event " + e.id() + " appears twice in the log");
            }
        }
        Map<String, Long> emitted = new HashMap<>();
        List<T> out = new ArrayList<>(items.size());
        while (out.size() < items.size()) {
            T best = null;
            Envelope bestEnvelope = null;
            for (Map.Entry<String, TreeMap<Long, T>> node : byNode.entrySet()) {
                if (node.getValue().isEmpty()) {
                    continue;
                }
                T head = node.getValue().firstEntry().getValue();
                Envelope e = envelopeOf.apply(head);
                if (ready(e, emitted) && (bestEnvelope == null || before(e, bestEnvelope))) {
                    best = head;
                    bestEnvelope = e;
                }
            }
            if (best == null) {
                List<T> blocked = new ArrayList<>();
                byNode.values().forEach(rest -> blocked.addAll(rest.values()));
                return new Partial<>(out, blocked, describeGap(byNode, emitted, envelopeOf));
            }
            byNode.get(bestEnvelope.node()).pollFirstEntry();
            emitted.put(bestEnvelope.node(), bestEnvelope.seq());
            out.add(best);
        }
        return new Partial<>(out, List.of(), "");
    }

    private static boolean ready(Envelope e, Map<String, Long> emitted) {
        if (emitted.getOrDefault(e.node(), 0L) != e.seq() - 1) {
            return false;
        }
        for (Map.Entry<String, Long> c : e.clock().entries().entrySet()) {
            if (!c.getKey().equals(e.node()) && emitted.getOrDefault(c.getKey(), 0L) < c.getValue()) {
                return false;
            }
        }
        return true;
    }

    private static boolean before(Envelope a, Envelope b) {
        if (a.timeNs() != b.timeNs()) {
            return a.timeNs() < b.timeNs();
        }
        int byNode = a.node().compareTo(b.node());
        return byNode != 0 ? byNode < 0 : a.seq() < b.seq();
    }

    private static <T> String describeGap(Map<String, TreeMap<Long, T>> byNode, Map<String, Long> emitted,
            Function<T, Envelope> envelopeOf) {
        for (Map.Entry<String, TreeMap<Long, T>> node : byNode.entrySet()) {
            if (node.getValue().isEmpty()) {
                continue;
            }
            Envelope e = envelopeOf.apply(node.getValue().firstEntry().getValue());
            long have = emitted.getOrDefault(e.node(), 0L);
            if (have != e.seq() - 1) {
                return "event " + Envelope.id(e.node(), have + 1) + " is missing (next present: " + e.id() + ")";
            }
            for (Map.Entry<String, Long> c : e.clock().entries().entrySet()) {
                if (emitted.getOrDefault(c.getKey(), 0L) < c.getValue() && !byNode.getOrDefault(c.getKey(), new TreeMap<>())
                        .containsKey(emitted.getOrDefault(c.getKey(), 0L) + 1)) {
                    return "event " + e.id() + " depends on " + Envelope.id(c.getKey(), c.getValue())
                            + ", which is not in the log";
                }
            }
        }
        return "no event can come next";
    }
}
