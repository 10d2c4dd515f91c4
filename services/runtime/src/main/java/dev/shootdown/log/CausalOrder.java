package dev.shootdown.log;

import dev.shootdown.event.Envelope;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.SortedMap;
import java.util.TreeMap;
import java.util.function.Consumer;
import java.util.function.Function;
import java.util.function.ToLongFunction;

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
                if (ready(e, n -> emitted.getOrDefault(n, 0L)) && (bestEnvelope == null || before(e, bestEnvelope))) {
                    best = head;
                    bestEnvelope = e;
                }
            }
            if (best == null) {
                List<T> blocked = new ArrayList<>();
                byNode.values().forEach(rest -> blocked.addAll(rest.values()));
                return new Partial<>(out, blocked,
                        describeGap(byNode, n -> emitted.getOrDefault(n, 0L), envelopeOf, true));
            }
            byNode.get(bestEnvelope.node()).pollFirstEntry();
            emitted.put(bestEnvelope.node(), bestEnvelope.seq());
            out.add(best);
        }
        return new Partial<>(out, List.of(), "");
    }

    /**
     * The canonical order of a log given as one stream per node, each in sequence order: the same
     * order {@link #sort} gives the whole log, holding one item per node (the greedy choice of
     * {@link #sort} only ever looks at each node's next event). {@code out} gets each item in turn.
     *
     * @throws IllegalArgumentException when something cannot be placed (a gap, or a stream out of
     *                                  sequence order)
     */
    public static <T> void merge(List<? extends java.util.Iterator<T>> nodes, Function<T, Envelope> envelopeOf,
            Consumer<T> out) {
        List<T> heads = new ArrayList<>(nodes.size());
        for (java.util.Iterator<T> it : nodes) {
            heads.add(it.hasNext() ? it.next() : null);
        }
        Map<String, Long> placed = new HashMap<>();
        while (true) {
            int best = -1;
            Envelope bestEnvelope = null;
            for (int i = 0; i < heads.size(); i++) {
                T head = heads.get(i);
                if (head == null) {
                    continue;
                }
                Envelope e = envelopeOf.apply(head);
                if (ready(e, n -> placed.getOrDefault(n, 0L)) && (bestEnvelope == null || before(e, bestEnvelope))) {
                    best = i;
                    bestEnvelope = e;
                }
            }
            if (best < 0) {
                Map<String, TreeMap<Long, T>> held = new TreeMap<>();
                for (T head : heads) {
                    if (head != null) {
                        Envelope e = envelopeOf.apply(head);
                        held.computeIfAbsent(e.node(), k -> new TreeMap<>()).put(e.seq(), head);
                    }
                }
                if (held.isEmpty()) {
                    return;
                }
                throw new IllegalArgumentException("the log has a gap: "
                        + describeGap(held, n -> placed.getOrDefault(n, 0L), envelopeOf, true));
            }
            out.accept(heads.get(best));
            placed.put(bestEnvelope.node(), bestEnvelope.seq());
            java.util.Iterator<T> it = nodes.get(best);
            heads.set(best, it.hasNext() ? it.next() : null);
        }
    }

    /**
     * The canonical order, streamed: envelopes handed over in a causal order whose simulated
     * times never decrease (the deterministic engine's publication order) come out in exactly
     * the order {@link #sort} gives the whole log, each once no later envelope can precede it.
     * Every envelope earlier in simulated time than the latest one handed over is let out: all
     * it depends on is earlier or as early in simulated time, so it is ready before anything
     * later, and {@link #sort}'s tie-break by time puts it first. Memory holds the envelopes of
     * the latest simulated instant, not the log. Not thread-safe.
     */
    public static final class Stream {
        private final Consumer<Envelope> out;
        private final Map<String, TreeMap<Long, Envelope>> held = new TreeMap<>();
        private final Map<String, Long> placed = new HashMap<>();
        private long latestNs = Long.MIN_VALUE;
        private long holding;

        public Stream(Consumer<Envelope> out) {
            this.out = out;
        }

        /**
         * The next envelope of the log.
         *
         * @throws IllegalStateException when it is earlier in simulated time than one before it,
         *                               or repeats one
         */
        public void accept(Envelope e) {
            if (e.timeNs() < latestNs) {
                throw new IllegalStateException("event " + e.id() + " at " + e.timeNs() + " ns comes after one at " + latestNs
                        + " ns: the stream's simulated times must not decrease");
            }
            if (e.timeNs() > latestNs) {
                release(e.timeNs());
                latestNs = e.timeNs();
            }
            if (e.seq() <= placed.getOrDefault(e.node(), 0L)
                    || held.computeIfAbsent(e.node(), k -> new TreeMap<>()).putIfAbsent(e.seq(), e) != null) {
                throw new IllegalStateException("event " + e.id() + " appears twice in the log");
            }
            holding++;
        }

        /**
         * Lets out everything still held; the stream is then over.
         *
         * @throws IllegalStateException when something held cannot be placed (a gap)
         */
        public void finish() {
            release(Long.MAX_VALUE);
            if (holding > 0) {
                throw new IllegalStateException("the log has a gap: "
                        + describeGap(held, n -> placed.getOrDefault(n, 0L), e -> e, true));
            }
        }

        /** Lets out, in canonical order, every held envelope earlier than {@code beforeNs} that can be placed. */
        private void release(long beforeNs) {
            while (holding > 0) {
                Envelope best = null;
                for (TreeMap<Long, Envelope> node : held.values()) {
                    if (node.isEmpty()) {
                        continue;
                    }
                    Envelope head = node.firstEntry().getValue();
                    if (head.timeNs() < beforeNs && ready(head, n -> placed.getOrDefault(n, 0L))
                            && (best == null || before(head, best))) {
                        best = head;
                    }
                }
                if (best == null) {
                    return;
                }
                held.get(best.node()).pollFirstEntry();
                placed.put(best.node(), best.seq());
                holding--;
                out.accept(best);
            }
        }
    }

    /**
     * True when {@code e} can come next: its node's previous seq and every event its clock
     * depends on have been placed ({@code placed}: the last placed seq of a node, 0 for none).
     */
    static boolean ready(Envelope e, ToLongFunction<String> placed) {
        if (placed.applyAsLong(e.node()) != e.seq() - 1) {
            return false;
        }
        return e.clock().coveredBy(placed, e.node());
    }

    /** The tie-break between events that are both ready: simulated time, then node, then seq. */
    static boolean before(Envelope a, Envelope b) {
        if (a.timeNs() != b.timeNs()) {
            return a.timeNs() < b.timeNs();
        }
        int byNode = a.node().compareTo(b.node());
        return byNode != 0 ? byNode < 0 : a.seq() < b.seq();
    }

    /** Why events cannot be placed: {@code what}, and the held event that needs the missing one (null if none). */
    record Gap<T>(String what, T needing) {}

    /**
     * Why none of the events left in {@code byNode} (per node, by seq, none placed yet) can come
     * next. {@code certain}: every event of the log was seen, so what is absent is not in the
     * log; otherwise (a streaming reader that stopped holding events) it may also have come too
     * late to be held.
     */
    static <T> String describeGap(Map<String, ? extends SortedMap<Long, T>> byNode, ToLongFunction<String> placed,
            Function<T, Envelope> envelopeOf, boolean certain) {
        return gapOf(byNode, placed, envelopeOf, certain).what();
    }

    /**
     * The first event missing from the log, and the held event that needs it: first a node whose
     * next held event does not follow its last placed one (its predecessor is missing), else an
     * event whose vector clock depends on an event of another node that is neither placed nor
     * held (the first such one of that node is the missing one).
     */
    static <T> Gap<T> gapOf(Map<String, ? extends SortedMap<Long, T>> byNode, ToLongFunction<String> placed,
            Function<T, Envelope> envelopeOf, boolean certain) {
        String absent = certain ? " is not in the log" : " is not in the log or came too late";
        for (Map.Entry<String, ? extends SortedMap<Long, T>> node : byNode.entrySet()) {
            if (node.getValue().isEmpty()) {
                continue;
            }
            T head = node.getValue().get(node.getValue().firstKey());
            Envelope e = envelopeOf.apply(head);
            long have = placed.applyAsLong(e.node());
            if (have != e.seq() - 1) {
                return new Gap<>("event " + Envelope.id(e.node(), have + 1) + absent + "; " + e.id()
                        + ", the next event of " + e.node() + ", follows it", head);
            }
        }
        for (Map.Entry<String, ? extends SortedMap<Long, T>> node : byNode.entrySet()) {
            if (node.getValue().isEmpty()) {
                continue;
            }
            T head = node.getValue().get(node.getValue().firstKey());
            Envelope e = envelopeOf.apply(head);
            for (Map.Entry<String, Long> c : e.clock().entries().entrySet()) {
                long next = placed.applyAsLong(c.getKey()) + 1;
                SortedMap<Long, T> other = byNode.get(c.getKey());
                if (next <= c.getValue() && (other == null || !other.containsKey(next))) {
                    String depends = next == c.getValue() ? " depends on it"
                            : " depends on it (its clock has " + Envelope.id(c.getKey(), c.getValue()) + ")";
                    return new Gap<>("event " + Envelope.id(c.getKey(), next) + absent + "; " + e.id() + depends, head);
                }
            }
        }
        return new Gap<>("no event can come next", null);
    }
}
