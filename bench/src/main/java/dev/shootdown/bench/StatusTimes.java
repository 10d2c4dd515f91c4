package dev.shootdown.bench;

import dev.shootdown.event.NodeIds;
import dev.shootdown.host.CausalClock;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ConcurrentLinkedQueue;
import org.HdrHistogram.Histogram;

/**
 * Where the time between the mm's statuses goes on the Kafka host, from the nodes' own
 * {@link System#nanoTime} stamps (every node is a verticle of this JVM): when each status was
 * said, when the process's consumer handed it to a node that hears it, and when that node took it.
 * Split into the time protocol's legs: a status through Kafka (said, to handed over), its hand-over
 * to the node's verticle, and how long a node took, after the last status it took, to say its
 * next.
 */
final class StatusTimes {

    private record Said(String node, String key, long ns) {}

    private record Heard(String node, String saidBy, String key, long handedOverNs, long ns) {}

    private final ConcurrentLinkedQueue<Said> said = new ConcurrentLinkedQueue<>();
    private final ConcurrentLinkedQueue<Heard> heard = new ConcurrentLinkedQueue<>();

    private static String key(CausalClock.Status s) {
        // unique per node: a node says a status only when its sequence, its promise (the mm) or what it took (a leaf) moved
        return s.node() + "/" + s.seq() + "/" + s.taken() + "/" + s.promiseNs() + "/" + s.quiesced() + "/" + s.finished();
    }

    /** {@code node} said {@code s} at {@code atNs}. */
    void said(String node, CausalClock.Status s, long atNs) {
        said.add(new Said(node, key(s), atNs));
    }

    /** {@code node} took {@code s} at {@code atNs}; its process's consumer had handed it over at {@code handedOverNs}. */
    void heard(String node, CausalClock.Status s, long handedOverNs, long atNs) {
        heard.add(new Heard(node, s.node(), key(s), handedOverNs, atNs));
    }

    /** The legs' medians (and the mm's cycle), in ms, as a row's notes. */
    String describe() {
        Map<String, Long> saidAt = new HashMap<>();
        for (Said s : said) {
            saidAt.put(s.key(), s.ns());
        }
        Histogram toLeaf = new Histogram(3);
        Histogram toMm = new Histogram(3);
        Histogram handOver = new Histogram(3);
        Map<String, List<Long>> heardBy = new HashMap<>();
        for (Heard h : heard) {
            heardBy.computeIfAbsent(h.node(), k -> new ArrayList<>()).add(h.ns());
            handOver.recordValue(Math.max(1, h.ns() - h.handedOverNs()));
            Long at = saidAt.get(h.key());
            if (at == null || h.saidBy().equals(NodeIds.CONTROL)) {
                continue;
            }
            (h.saidBy().equals(NodeIds.COORDINATOR) ? toLeaf : toMm).recordValue(Math.max(1, h.handedOverNs() - at));
        }
        heardBy.values().forEach(l -> l.sort(Comparator.naturalOrder()));
        Histogram mmAnswer = new Histogram(3);
        Histogram leafAnswer = new Histogram(3);
        Histogram cycle = new Histogram(3);
        List<Said> ordered = new ArrayList<>(said);
        ordered.sort(Comparator.comparingLong(Said::ns));
        long lastMm = -1;
        for (Said s : ordered) {
            boolean mm = s.node().equals(NodeIds.COORDINATOR);
            if (mm) {
                if (lastMm >= 0) {
                    cycle.recordValue(Math.max(1, s.ns() - lastMm));
                }
                lastMm = s.ns();
            }
            List<Long> took = heardBy.getOrDefault(s.node(), List.of());
            int i = java.util.Collections.binarySearch(took, s.ns());
            int before = (i >= 0 ? i : -i - 1) - 1;
            if (before >= 0) {
                (mm ? mmAnswer : leafAnswer).recordValue(Math.max(1, s.ns() - took.get(before)));
            }
        }
        return String.format(Locale.ROOT, "the time protocol's legs (p50, from the nodes' own clocks): a status of the mm through "
                        + "Kafka to a leaf's consumer %s ms (%,d), a leaf's to the mm's %s ms (%,d), handed over to the node's verticle "
                        + "%s ms, a leaf says its next status %s ms after the last status it took, the mm %s ms; %s ms from one of the "
                        + "mm's statuses to its next (%,d)",
                ms(toLeaf), toLeaf.getTotalCount(), ms(toMm), toMm.getTotalCount(), ms(handOver), ms(leafAnswer), ms(mmAnswer),
                ms(cycle), cycle.getTotalCount());
    }

    private static String ms(Histogram h) {
        return h.getTotalCount() == 0 ? "-" : String.format(Locale.ROOT, "%.2f", h.getValueAtPercentile(50) / 1e6);
    }
}
