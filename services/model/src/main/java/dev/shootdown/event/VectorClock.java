package dev.shootdown.event;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonValue;
import java.util.AbstractMap;
import java.util.AbstractSet;
import java.util.Arrays;
import java.util.Collections;
import java.util.Comparator;
import java.util.Iterator;
import java.util.Map;
import java.util.NoSuchElementException;
import java.util.Set;
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
        entries = entries instanceof Entries ? entries : Entries.copyOf(entries);
    }

    @JsonValue
    @Override
    public SortedMap<String, Long> entries() {
        return entries;
    }

    /**
     * A clock of the given entries, which must be strictly ascending by node id (a decoder's fast
     * path, {@code EventCodec}); null when they are not, for the caller to take the general way. The arrays are kept, not copied: the caller must not change them afterwards.
     */
    public static VectorClock ofSorted(String[] nodes, long[] seqs) {
        if (nodes.length != seqs.length) {
            return null;
        }
        for (int i = 0; i < nodes.length; i++) {
            if (nodes[i] == null || (i > 0 && nodes[i - 1].compareTo(nodes[i]) >= 0)) {
                return null;
            }
        }
        return new VectorClock(new Entries(nodes, seqs));
    }

    /**
     * True when every entry but {@code except}'s is at most {@code placed}'s value for its node:
     * the events this clock depends on have been placed ({@code CausalOrder}). Without a boxed
     * value or an entry object per entry; a clock with a null entry throws as unboxing it would.
     */
    public boolean coveredBy(java.util.function.ToLongFunction<String> placed, String except) {
        if (entries instanceof Entries e) {
            for (int i = 0; i < e.keys.length; i++) {
                if (!e.keys[i].equals(except) && placed.applyAsLong(e.keys[i]) < e.values[i]) {
                    return false;
                }
            }
            return true;
        }
        for (Map.Entry<String, Long> c : entries.entrySet()) {
            if (!c.getKey().equals(except) && placed.applyAsLong(c.getKey()) < c.getValue()) {
                return false;
            }
        }
        return true;
    }

    /** The entry for {@code node}, 0 when absent. */
    public long get(String node) {
        Long v = entries.get(node);
        return v == null ? 0L : v;
    }

    /** This clock with {@code node}'s entry set to {@code seq}. */
    public VectorClock with(String node, long seq) {
        if (entries instanceof Entries e) {
            Entries changed = e.with(node, seq);
            return changed == e ? this : new VectorClock(changed);
        }
        TreeMap<String, Long> copy = new TreeMap<>(entries);
        copy.put(node, seq);
        return new VectorClock(copy);
    }

    /** The entry-wise maximum of both clocks. */
    public VectorClock merge(VectorClock other) {
        if (entries instanceof Entries mine && other.entries instanceof Entries theirs) {
            Entries merged = mine.max(theirs);
            return merged == mine ? this : new VectorClock(merged);
        }
        TreeMap<String, Long> copy = new TreeMap<>(entries);
        for (Map.Entry<String, Long> e : other.entries.entrySet()) {
            copy.merge(e.getKey(), e.getValue(), Math::max);
        }
        return new VectorClock(copy);
    }

    /**
     * The entries as two arrays sorted by node id, never changed once built: a clock is copied
     * for every event a node emits, and arrays copy without a node or a boxed value per entry
     * (the engine's profile, BENCHMARKS.md). Read-only as a map; ordered as a TreeMap would be.
     */
    private static final class Entries extends AbstractMap<String, Long> implements SortedMap<String, Long> {
        private final String[] keys;
        private final long[] values;

        private Entries(String[] keys, long[] values) {
            this.keys = keys;
            this.values = values;
        }

        /** A copy of {@code map}; a map with a null value keeps the old form, an unmodifiable TreeMap. */
        static SortedMap<String, Long> copyOf(Map<String, Long> map) {
            // Natural order, as before (a TreeMap rejects null keys); a decoded clock is a TreeMap already.
            SortedMap<String, Long> sorted = map instanceof TreeMap<String, Long> t && t.comparator() == null ? t : new TreeMap<>(map);
            if (sorted.containsValue(null)) {
                return Collections.unmodifiableSortedMap(new TreeMap<>(sorted));
            }
            String[] k = new String[sorted.size()];
            long[] v = new long[sorted.size()];
            int i = 0;
            for (Map.Entry<String, Long> e : sorted.entrySet()) {
                k[i] = e.getKey();
                v[i++] = e.getValue();
            }
            return new Entries(k, v);
        }

        Entries with(String node, long seq) {
            int i = Arrays.binarySearch(keys, node);
            if (i >= 0) {
                if (values[i] == seq) {
                    return this;
                }
                long[] v = values.clone();
                v[i] = seq;
                return new Entries(keys, v); // the same ids: the key array is shared
            }
            int at = -i - 1;
            String[] k = new String[keys.length + 1];
            long[] v = new long[keys.length + 1];
            System.arraycopy(keys, 0, k, 0, at);
            System.arraycopy(values, 0, v, 0, at);
            k[at] = node;
            v[at] = seq;
            System.arraycopy(keys, at, k, at + 1, keys.length - at);
            System.arraycopy(values, at, v, at + 1, keys.length - at);
            return new Entries(k, v);
        }

        /** The entry-wise maximum; this very instance when it already covers {@code other}. */
        Entries max(Entries other) {
            if (covers(other)) {
                return this;
            }
            String[] k = new String[keys.length + other.keys.length];
            long[] v = new long[k.length];
            int i = 0;
            int j = 0;
            int n = 0;
            while (i < keys.length || j < other.keys.length) {
                int c = i == keys.length ? 1 : j == other.keys.length ? -1 : keys[i].compareTo(other.keys[j]);
                if (c < 0) {
                    k[n] = keys[i];
                    v[n++] = values[i++];
                } else if (c > 0) {
                    k[n] = other.keys[j];
                    v[n++] = other.values[j++];
                } else {
                    k[n] = keys[i];
                    v[n++] = Math.max(values[i++], other.values[j++]);
                }
            }
            return new Entries(n == k.length ? k : Arrays.copyOf(k, n), n == v.length ? v : Arrays.copyOf(v, n));
        }

        private boolean covers(Entries other) {
            int i = 0;
            for (int j = 0; j < other.keys.length; j++) {
                while (i < keys.length && keys[i].compareTo(other.keys[j]) < 0) {
                    i++;
                }
                if (i == keys.length || !keys[i].equals(other.keys[j]) || values[i] < other.values[j]) {
                    return false;
                }
            }
            return true;
        }

        @Override
        public Long get(Object key) {
            int i = key instanceof String s ? Arrays.binarySearch(keys, s) : -1;
            return i >= 0 ? values[i] : null;
        }

        @Override
        public boolean containsKey(Object key) {
            return key instanceof String s && Arrays.binarySearch(keys, s) >= 0;
        }

        @Override
        public int size() {
            return keys.length;
        }

        @Override
        public Set<Map.Entry<String, Long>> entrySet() {
            return new AbstractSet<>() {
                @Override
                public Iterator<Map.Entry<String, Long>> iterator() {
                    return new Iterator<>() {
                        private int next;

                        @Override
                        public boolean hasNext() {
                            return next < keys.length;
                        }

                        @Override
                        public Map.Entry<String, Long> next() {
                            if (next >= keys.length) {
                                throw new NoSuchElementException();
                            }
                            int i = next++;
                            return new AbstractMap.SimpleImmutableEntry<>(keys[i], values[i]);
                        }
                    };
                }

                @Override
                public int size() {
                    return keys.length;
                }
            };
        }

        @Override
        public Comparator<? super String> comparator() {
            return null;
        }

        @Override
        public String firstKey() {
            if (keys.length == 0) {
                throw new NoSuchElementException();
            }
            return keys[0];
        }

        @Override
        public String lastKey() {
            if (keys.length == 0) {
                throw new NoSuchElementException();
            }
            return keys[keys.length - 1];
        }

        // Views are rare (no caller in the project): a sorted copy's, read-only.
        @Override
        public SortedMap<String, Long> subMap(String fromKey, String toKey) {
            return Collections.unmodifiableSortedMap(new TreeMap<>(this).subMap(fromKey, toKey));
        }

        @Override
        public SortedMap<String, Long> headMap(String toKey) {
            return Collections.unmodifiableSortedMap(new TreeMap<>(this).headMap(toKey));
        }

        @Override
        public SortedMap<String, Long> tailMap(String fromKey) {
            return Collections.unmodifiableSortedMap(new TreeMap<>(this).tailMap(fromKey));
        }
    }
}
