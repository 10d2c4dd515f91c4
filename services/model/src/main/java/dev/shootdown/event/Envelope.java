package dev.shootdown.event;

import java.util.Collections;
import java.util.Objects;
import java.util.SortedMap;
import java.util.TreeMap;

/**
 * One event as it travels and is recorded: the event plus where it came from and what caused it.
 *
 * @param run       the run this event belongs to
 * @param node      the emitting node
 * @param seq       the emitting node's sequence number, from 1, without gaps
 * @param schema    the log schema version ({@link #SCHEMA_VERSION})
 * @param timeNs    simulated time at which the node emitted it, in nanoseconds
 * @param clock     the causal clock; its entry for {@code node} equals {@code seq}
 * @param cause     id of the input event the node was handling, or null (run start, timers)
 * @param links     per destination node, this event's sequence number on the link from
 *                  {@code node} to it: receivers deliver each link in order, across topics
 * @param event     the event itself
 */
public record Envelope(
        String run,
        String node,
        long seq,
        int schema,
        long timeNs,
        VectorClock clock,
        String cause,
        SortedMap<String, Long> links,
        Event event) {

    /**
     * The schema version this build writes and reads (and every older one): 2 added the kernel
     * variant to run-started, tlb-flush-called and page-table-freed; 3 added the events of a log
     * imported from a kernel trace (trace-imported, trace-marker, sva-unbound); 4 added
     * madvise(MADV_PAGEOUT) (madvise, madvise-returned, pte-young-cleared, reclaim-pages-called)
     * and the kernel variant's madvise_cold_or_pageout_pte_range rule, stall-detected (the watchdog)
     * and the scenario's end.stallWindowNs; 5 added a write to a memory cgroup's memory.reclaim
     * (memory-reclaim, memory-reclaim-returned).
     */
    public static final int SCHEMA_VERSION = 5;

    public Envelope {
        Objects.requireNonNull(run, "run");
        Objects.requireNonNull(node, "node");
        Objects.requireNonNull(clock, "clock");
        Objects.requireNonNull(event, "event");
        if (seq <= 0) {
            throw new IllegalArgumentException("seq must be positive, was " + seq);
        }
        links = links == null ? Collections.emptySortedMap() : Collections.unmodifiableSortedMap(new TreeMap<>(links));
    }

    /** The event's id, {@code node#seq}: unique within a run. */
    public String id() {
        return id(node, seq);
    }

    public static String id(String node, long seq) {
        return node + "#" + seq;
    }

    /** True when this event causally precedes {@code other} (vector-clock order). */
    public boolean happenedBefore(Envelope other) {
        return other != this && other.clock.get(node) >= seq && !(other.node.equals(node) && other.seq == seq);
    }
}
