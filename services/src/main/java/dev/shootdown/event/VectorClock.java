package dev.shootdown.event;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonValue;
import java.util.Collections;
import java.util.Map;
import java.util.SortedMap;
import java.util.TreeMap;

/**
 * A vector clock over node ids: entry n is the sequence number of the latest event of node n
 * that causally precedes (or is) the stamped event. Immutable; serialized as a sorted JSON object.
 *
 * <p>Event a (node A, seq s) happens before event b iff {@code b.clock.get(A) >= s} and a != b.
 */
public record VectorClock(SortedMap<String, Long> entries) {

    public static final VectorClock EMPTY = new VectorClock(new TreeMap<>());

    @JsonCreator
    public VectorClock {
        entries = Collections.unmodifiableSortedMap(new TreeMap<>(entries));
    }

    @JsonValue
    @Override
    public SortedMap<String, Long> entries() {
        return entries;
    }

    /** The entry for {@code node}, 0 when absent. */
    public long get(String node) {
        Long v = entries.get(node);
        return v == null ? 0L : v;
    }

    /** This clock with {@code node}'s entry set to {@code seq}. */
    public VectorClock with(String node, long seq) {
        TreeMap<String, Long> copy = new TreeMap<>(entries);
        copy.put(node, seq);
        return new VectorClock(copy);
    }

    /** The entry-wise maximum of both clocks. */
    public VectorClock merge(VectorClock other) {
        TreeMap<String, Long> copy = new TreeMap<>(entries);
        for (Map.Entry<String, Long> e : other.entries.entrySet()) {
            copy.merge(e.getKey(), e.getValue(), Math::max);
        }
        return new VectorClock(copy);
    }
}
