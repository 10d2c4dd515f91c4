package dev.shootdown.bench;

import dev.shootdown.event.Envelope;
import dev.shootdown.log.CausalOrder;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * A run's critical path in messages between nodes: the longest chain of events in which each
 * follows the one before on the same node (a node takes its inputs one at a time) or was caused by
 * it ({@link Envelope#cause()}), counting a step from one node to another as a hop. However time
 * is kept, a run on Kafka cannot end sooner than that many hops through the broker one after
 * another: with Kafka's own end-to-end latency per hop, the bound its critical path allows.
 */
final class CriticalPath {

    private CriticalPath() {}

    /** The hops on {@code log}'s longest causal chain. */
    static int hops(List<Envelope> log) {
        Map<String, Integer> depth = new HashMap<>();
        Map<String, Integer> lastOnNode = new HashMap<>();
        int max = 0;
        for (Envelope e : CausalOrder.sort(log, x -> x)) {
            int d = lastOnNode.getOrDefault(e.node(), 0);
            if (e.cause() != null) {
                Integer c = depth.get(e.cause());
                if (c != null) {
                    String causeNode = e.cause().substring(0, e.cause().lastIndexOf('#'));
                    d = Math.max(d, c + (causeNode.equals(e.node()) ? 0 : 1));
                }
            }
            depth.put(e.id(), d);
            lastOnNode.put(e.node(), d);
            max = Math.max(max, d);
        }
        return max;
    }
}
