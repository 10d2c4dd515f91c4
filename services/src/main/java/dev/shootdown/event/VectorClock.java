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
        // A map built by with/merge is already a private copy: wrapping it saves a second copy per event.
        entries = Collections.unmodifiableSortedMap(entries instanceof Owned ? entries : new TreeMap<>(entries));
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
        Long old = entries.get(node);
        if (old != null && old == seq) {
            return this;
        }
        Owned copy = new Owned(entries);
        copy.put(node, seq);
        return new VectorClock(copy);
    }

    /** The entry-wise maximum of both clocks. */
    public VectorClock merge(VectorClock other) {
        if (covers(other)) {
            return this; // most inputs carry news of no node this one has not heard of
        }
        Owned copy = new Owned(entries);
        for (Map.Entry<String, Long> e : other.entries.entrySet()) {
            copy.merge(e.getKey(), e.getValue(), Math::max);
        }
        return new VectorClock(copy);
    }

    /** True when every entry of {@code other} is at most this clock's. */
    private boolean covers(VectorClock other) {
        for (Map.Entry<String, Long> e : other.entries.entrySet()) {
            Long mine = entries.get(e.getKey());
            if (mine == null || mine < e.getValue()) {
                return false;
            }
        }
        return true;
    }

    /** A copy only this class makes, and never hands out unwrapped. */
    private static final class Owned extends TreeMap<String, Long> {
        private static final long serialVersionUID = 1L;

        Owned(SortedMap<String, Long> entries) {
            super(entries);
        }
    }
}
