package dev.shootdown.bench;

import dev.shootdown.audit.ShootdownSummary;
import dev.shootdown.event.Envelope;
import dev.shootdown.event.InShootdown;
import dev.shootdown.event.PageTableEvent;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * Goal 2's measure, per shootdown of a run's log: from its PTE change to its last completion,
 * the wall time between the two events' publication, and how many cross-node messages lie on the
 * causal path between them.
 *
 * <ul>
 *   <li><b>PTE change</b>: the shootdown's first {@code pte-cleared} or
 *       {@code pte-protection-changed} in log order (the audit's {@code pteChangeNs}):
 *       {@code ptep_get_and_clear} in munmap or reclaim, the write-protection of mprotect.</li>
 *   <li><b>Completions</b>: the audit's CPU flushes ({@code tlb-flushed}: {@code flush_tlb_func}
 *       done and acknowledged, local or by IPI, on x86; {@code tlbi-completed} on arm64) and
 *       secondary-TLB invalidations ({@code secondary-tlbs-invalidated}: the IOMMU's IOTLB and
 *       the ATC invalidated and synced with CMD_SYNC). Once all of them are done no CPU TLB,
 *       IOTLB or ATC can hold the old translation: what {@code tlb_finish_mmu} (or the reclaim
 *       batch) waits for before the frames are freed.</li>
 *   <li><b>Last completion</b>: of those, the one published last on the wall clock.</li>
 *   <li><b>Hops</b>: the events on the path from the last completion back to the PTE change
 *       follow each event's {@code cause} (the input its node was handling), counting a hop each
 *       time the cause is another node's event, until the PTE change or an event not after it
 *       (the request that started the shootdown, sent before its PTE changed). An event without
 *       a cause is a timer's firing: the log does not record which step armed the timer, so the
 *       path goes on from the latest earlier event of the same shootdown on the same node.</li>
 * </ul>
 *
 * <p>A shootdown that never completed (an unacknowledged flush, a secondary invalidation without
 * its completion: in flight when the run's window closed), changed no PTE, or whose events were
 * not seen published is counted, not measured. Pure: no clocks, no I/O; any thread.
 */
final class ShootdownLatencies {

    /**
     * One measured shootdown.
     *
     * @param pteChangeAtNs when the PTE change was published ({@link System#nanoTime})
     * @param latencyNs     wall nanoseconds from the PTE change's publication to the last completion's
     * @param hops          cross-node messages on the causal path between them
     */
    record Sample(long shootdownId, String caller, String pteChange, String lastCompletion, long pteChangeAtNs, long latencyNs,
            int hops) {}

    /**
     * The measured shootdowns, in the audit's order, and those left out: {@code incomplete}
     * (never completed, or no PTE change), {@code unpublished} (an event of it not seen
     * published), {@code notAfterPteChange} (its last completion does not causally follow its
     * PTE change).
     */
    record Result(List<Sample> samples, int shootdowns, int incomplete, int unpublished, int notAfterPteChange) {
        Result {
            samples = List.copyOf(samples);
        }
    }

    private ShootdownLatencies() {}

    /**
     * @param log         the run's log, in causal order (as {@code KafkaRunner} reads it back)
     * @param shootdowns  the audit's summaries of that log
     * @param publishedNs per event id, when its node handed it to the producer ({@link System#nanoTime})
     */
    static Result measure(List<Envelope> log, List<ShootdownSummary> shootdowns, Map<String, Long> publishedNs) {
        Map<String, Envelope> byId = new HashMap<>();
        Map<Long, Envelope> firstPteChange = new HashMap<>();
        Map<Long, Map<String, TreeMap<Long, Envelope>>> stepsByNode = new HashMap<>();
        for (Envelope e : log) {
            byId.put(e.id(), e);
            if (e.event() instanceof InShootdown s && s.shootdownId() >= 0) {
                stepsByNode.computeIfAbsent(s.shootdownId(), k -> new HashMap<>())
                        .computeIfAbsent(e.node(), k -> new TreeMap<>()).put(e.seq(), e);
                if (e.event() instanceof PageTableEvent.PteCleared || e.event() instanceof PageTableEvent.PteProtectionChanged) {
                    firstPteChange.putIfAbsent(s.shootdownId(), e);
                }
            }
        }
        List<Sample> samples = new ArrayList<>();
        int incomplete = 0;
        int unpublished = 0;
        int notAfter = 0;
        for (ShootdownSummary sd : shootdowns) {
            Envelope pte = firstPteChange.get(sd.id());
            List<String> completions = completions(sd);
            if (pte == null || completions == null) {
                incomplete++;
                continue;
            }
            Long pteAt = publishedNs.get(pte.id());
            String last = null;
            long lastAt = Long.MIN_VALUE;
            boolean seen = pteAt != null;
            for (String id : completions) {
                Long at = publishedNs.get(id);
                if (at == null || !byId.containsKey(id)) {
                    seen = false;
                } else if (at > lastAt || at == lastAt && byId.get(id).timeNs() > byId.get(last).timeNs()) {
                    last = id;
                    lastAt = at;
                }
            }
            if (!seen) {
                unpublished++;
                continue;
            }
            Envelope completion = byId.get(last);
            if (!atOrAfter(completion, pte)) {
                notAfter++;
                continue;
            }
            int hops = hops(pte, completion, byId, stepsByNode.getOrDefault(sd.id(), Map.of()));
            samples.add(new Sample(sd.id(), sd.caller(), pte.id(), last, pteAt, lastAt - pteAt, hops));
        }
        return new Result(samples, shootdowns.size(), incomplete, unpublished, notAfter);
    }

    /** The ids of a shootdown's completions, or null when it never completed. */
    private static List<String> completions(ShootdownSummary sd) {
        if (sd.pteChangeNs() == null || !sd.unacknowledged().isEmpty()) {
            return null;
        }
        List<String> ids = new ArrayList<>();
        for (ShootdownSummary.CpuFlush f : sd.cpuFlushes()) {
            ids.add(f.event());
        }
        for (ShootdownSummary.SecondaryInvalidation s : sd.secondary()) {
            if (s.completedNs() == null) {
                return null;
            }
            ids.add(s.event());
        }
        return ids.isEmpty() ? null : ids;
    }

    /**
     * Cross-node messages on the causal path from {@code pteChange} to {@code completion} (see the
     * class comment); {@code steps}: the shootdown's events per node, by sequence number.
     */
    static int hops(Envelope pteChange, Envelope completion, Map<String, Envelope> byId,
            Map<String, TreeMap<Long, Envelope>> steps) {
        int hops = 0;
        Envelope x = completion;
        while (!x.id().equals(pteChange.id())) {
            Envelope next;
            if (x.cause() != null) {
                next = byId.get(x.cause());
                if (next == null) {
                    throw new IllegalArgumentException(x.id() + " names cause " + x.cause() + ", which is not in the log");
                }
                if (!atOrAfter(next, pteChange)) {
                    return hops; // the request that started it, sent before the PTE changed
                }
                if (!next.node().equals(x.node())) {
                    hops++;
                }
            } else {
                // A timer fired: it was armed by an earlier step of this shootdown on this node.
                TreeMap<Long, Envelope> onNode = steps.get(x.node());
                var earlier = onNode == null ? null : onNode.lowerEntry(x.seq());
                if (earlier == null || !atOrAfter(earlier.getValue(), pteChange)) {
                    return hops;
                }
                next = earlier.getValue();
            }
            x = next;
        }
        return hops;
    }

    /** True when {@code e} is {@code change} or causally follows it. */
    private static boolean atOrAfter(Envelope e, Envelope change) {
        return e.clock().get(change.node()) >= change.seq();
    }
}
