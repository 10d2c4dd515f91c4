package dev.shootdown.audit;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SortedMap;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * Violations grouped as they are found, in memory that does not grow with their number: counts
 * by kind, the first of each kind, and one {@link ViolationGroup} per shootdown and kind, for the
 * first {@link #MAX_GROUPS} such pairs (the rest are counted). Not thread-safe.
 */
public final class ViolationGroups {

    /** Groups kept in full; a run with more has the rest counted only. */
    public static final int MAX_GROUPS = 10_000;
    /** Nodes named per group. */
    public static final int MAX_NODES = 8;

    private final SortedMap<String, Long> byKind = new TreeMap<>();
    private final Map<String, Violation> firstOfKind = new LinkedHashMap<>();
    private final Map<String, Open> groups = new LinkedHashMap<>();
    private long groupsNotKept;

    private static final class Open {
        final Violation first;
        long count;
        final TreeSet<String> nodes = new TreeSet<>();
        final TreeSet<Long> mms = new TreeSet<>();
        String lowest;
        String highest;

        Open(Violation first) {
            this.first = first;
        }
    }

    /** The next violation found. */
    public void add(Violation v) {
        byKind.merge(v.kind(), 1L, Long::sum);
        firstOfKind.putIfAbsent(v.kind(), v);
        String key = v.shootdown() + "|" + v.kind();
        Open g = groups.get(key);
        if (g == null) {
            if (groups.size() >= MAX_GROUPS) {
                groupsNotKept++;
                return;
            }
            g = new Open(v);
            groups.put(key, g);
        }
        g.count++;
        if (g.nodes.size() < MAX_NODES || g.nodes.contains(v.node())) {
            g.nodes.add(v.node());
        }
        if (g.mms.size() < MAX_NODES) {
            g.mms.add(v.mm());
        }
        if (g.lowest == null || compareVa(v.va(), g.lowest) < 0) {
            g.lowest = v.va();
        }
        if (g.highest == null || compareVa(v.va(), g.highest) > 0) {
            g.highest = v.va();
        }
    }

    /** How many violations of each kind, by kind. */
    public SortedMap<String, Long> byKind() {
        return new TreeMap<>(byKind);
    }

    /** The first violation of each kind, in the order the kinds were first found. */
    public List<Violation> firstOfEachKind() {
        return List.copyOf(firstOfKind.values());
    }

    /** The groups kept, in the order they were opened. */
    public List<ViolationGroup> groups() {
        List<ViolationGroup> out = new ArrayList<>(groups.size());
        for (Open g : groups.values()) {
            out.add(new ViolationGroup(g.first.shootdown(), g.first.kind(), g.count, List.copyOf(g.nodes), List.copyOf(g.mms),
                    g.lowest, g.highest, g.first));
        }
        return out;
    }

    /** Groups beyond {@link #MAX_GROUPS}, counted but not kept. */
    public long groupsNotKept() {
        return groupsNotKept;
    }

    /** Two addresses as the auditor writes them (hex, 0x...), by value; anything else after them, as text. */
    static int compareVa(String a, String b) {
        Long x = parse(a);
        Long y = parse(b);
        if (x != null && y != null) {
            return Long.compareUnsigned(x, y);
        }
        if (x != null) {
            return -1;
        }
        return y != null ? 1 : a.compareTo(b);
    }

    private static Long parse(String va) {
        if (va == null || !va.startsWith("0x") || va.length() > 18) {
            return null;
        }
        try {
            return Long.parseUnsignedLong(va.substring(2), 16);
        } catch (NumberFormatException e) {
            return null;
        }
    }
}
