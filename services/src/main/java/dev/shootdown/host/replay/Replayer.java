package dev.shootdown.host.replay;

import dev.shootdown.core.Decision;
import dev.shootdown.core.Lifecycle;
import dev.shootdown.core.NodeStateMachine;
import dev.shootdown.event.ControlEvent;
import dev.shootdown.event.Envelope;
import dev.shootdown.event.Event;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.function.Function;

/**
 * The third host of the node state machines: it re-executes every node of a recorded run from
 * the inputs the log says it received, and checks that each decision emits exactly the events
 * the log recorded, in order. A log that was edited, cut, or reordered within a node does not
 * survive it.
 *
 * <p>The inputs a node received before each of its decisions are read off its vector clocks, as
 * {@code NodeDriver.recover} does; an input whose handling emitted nothing is delivered before
 * the next decision that saw it, at the time of the node's previous decision. A decision is the
 * run of consecutive own events that share a cause: the input that caused it, or the node's own
 * {@code timer-fired}.
 *
 * <p>Single-threaded; the nodes must be fresh.
 */
public final class Replayer {

    /** Where a node's replay first differed from its log. */
    public record Divergence(String node, String event, String recorded, String replayed) {
        /** One line a kernel developer can act on. */
        public String describe() {
            return node + " diverges at " + event + ": the log has " + recorded + ", re-executing the node gives " + replayed;
        }
    }

    /** Decisions re-executed per node, and the first divergence (null when none). */
    public record Result(Map<String, Long> decisions, Divergence divergence) {
        public Result {
            decisions = Map.copyOf(decisions);
        }
    }

    private Replayer() {}

    /**
     * Replays every node that emitted events in {@code log} (given in causal order); the run
     * controller ({@code control}), which has no state machine, is skipped. The first divergence
     * in causal order is returned.
     */
    public static Result replay(List<Envelope> log, Function<String, NodeStateMachine> freshNode) {
        Map<String, Long> position = new HashMap<>();
        for (int i = 0; i < log.size(); i++) {
            position.put(log.get(i).id(), (long) i);
        }
        Map<String, List<Envelope>> own = new TreeMap<>();
        for (Envelope e : log) {
            own.computeIfAbsent(e.node(), k -> new ArrayList<>()).add(e);
        }
        Map<String, Long> decisions = new TreeMap<>();
        Divergence first = null;
        long firstAt = Long.MAX_VALUE;
        for (String nodeId : own.keySet()) {
            NodeStateMachine node = freshNode.apply(nodeId);
            if (node == null) {
                continue;
            }
            NodeReplay r = new NodeReplay(nodeId, node, own.get(nodeId), inputsOf(nodeId, log));
            Divergence d = r.run();
            decisions.put(nodeId, r.decisions);
            if (d != null && position.getOrDefault(d.event(), Long.MAX_VALUE) < firstAt) {
                first = d;
                firstAt = position.getOrDefault(d.event(), Long.MAX_VALUE);
            } else if (d != null && first == null) {
                first = d;
            }
        }
        return new Result(decisions, first);
    }

    /** Inputs addressed to {@code nodeId}, per sender, in link order. */
    private static Map<String, List<Envelope>> inputsOf(String nodeId, List<Envelope> log) {
        Map<String, List<Envelope>> inputs = new TreeMap<>();
        for (Envelope e : log) {
            if (!e.node().equals(nodeId) && e.links().containsKey(nodeId)) {
                inputs.computeIfAbsent(e.node(), k -> new ArrayList<>()).add(e);
            }
        }
        inputs.values().forEach(l -> l.sort(Comparator.comparingLong(e -> e.links().get(nodeId))));
        return inputs;
    }

    private static final class NodeReplay {
        final String nodeId;
        final NodeStateMachine node;
        final List<Envelope> own;
        final Map<String, List<Envelope>> inputs;
        final Map<String, Integer> next = new HashMap<>();
        final Map<String, Envelope> byId = new HashMap<>();
        long decisions;
        long lastTimeNs;

        NodeReplay(String nodeId, NodeStateMachine node, List<Envelope> own, Map<String, List<Envelope>> inputs) {
            this.nodeId = nodeId;
            this.node = node;
            this.own = own;
            this.inputs = inputs;
            inputs.values().forEach(l -> l.forEach(e -> byId.put(e.id(), e)));
        }

        Divergence run() {
            int i = 0;
            while (i < own.size()) {
                Envelope head = own.get(i);
                Envelope cause;
                int start = i;
                if (head.event() instanceof ControlEvent.TimerFired) {
                    cause = head;
                    start = i + 1;
                } else {
                    cause = head.cause() == null ? null : byId.get(head.cause());
                    if (cause == null) {
                        return new Divergence(nodeId, head.id(), "an event caused by " + head.cause(),
                                "no such input addressed to " + nodeId);
                    }
                }
                int end = start;
                String causeId = cause.id();
                while (end < own.size() && causeId.equals(own.get(end).cause())) {
                    end++;
                }
                Divergence silent = deliverSilently(head, causeId);
                if (silent != null) {
                    return silent;
                }
                Decision decision = node.lifecycle() == Lifecycle.QUIESCED ? Decision.NONE
                        : node.onEvent(cause.event(), head.timeNs());
                decisions++;
                lastTimeNs = head.timeNs();
                if (cause != head) {
                    markDelivered(cause);
                }
                List<Event> recorded = new ArrayList<>();
                for (int k = start; k < end; k++) {
                    recorded.add(own.get(k).event());
                }
                Divergence d = compare(own, start, recorded, decision.events());
                if (d != null) {
                    return d;
                }
                i = end;
            }
            return null;
        }

        /** Delivers every input the decision's clock shows received before it, except its cause. */
        private Divergence deliverSilently(Envelope decisionHead, String causeId) {
            for (Map.Entry<String, List<Envelope>> sender : inputs.entrySet()) {
                List<Envelope> from = sender.getValue();
                int k = next.getOrDefault(sender.getKey(), 0);
                while (k < from.size() && from.get(k).seq() <= decisionHead.clock().get(sender.getKey())
                        && !from.get(k).id().equals(causeId)) {
                    Envelope in = from.get(k);
                    Decision d = node.lifecycle() == Lifecycle.QUIESCED ? Decision.NONE : node.onEvent(in.event(), lastTimeNs);
                    if (!d.events().isEmpty()) {
                        return new Divergence(nodeId, in.id(), "no events in answer to " + in.id(),
                                d.events().size() + " events, the first " + d.events().get(0));
                    }
                    k++;
                }
                next.put(sender.getKey(), k);
            }
            return null;
        }

        private void markDelivered(Envelope cause) {
            List<Envelope> from = inputs.get(cause.node());
            int k = next.getOrDefault(cause.node(), 0);
            if (k < from.size() && from.get(k).id().equals(cause.id())) {
                next.put(cause.node(), k + 1);
            }
        }

        private Divergence compare(List<Envelope> own, int start, List<Event> recorded, List<Event> replayed) {
            int n = Math.max(recorded.size(), replayed.size());
            for (int k = 0; k < n; k++) {
                Event r = k < recorded.size() ? recorded.get(k) : null;
                Event p = k < replayed.size() ? replayed.get(k) : null;
                if (r == null || !r.equals(p)) {
                    String at = r != null ? own.get(start + k).id()
                            : nodeId + " after " + own.get(start + recorded.size() - 1).id();
                    return new Divergence(nodeId, at, r == null ? "nothing more" : r.toString(),
                            p == null ? "nothing more" : p.toString());
                }
            }
            return null;
        }
    }
}
