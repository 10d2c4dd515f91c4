package dev.shootdown.host.replay;

import dev.shootdown.core.Decision;
import dev.shootdown.core.Lifecycle;
import dev.shootdown.core.NodeStateMachine;
import dev.shootdown.event.ControlEvent;
import dev.shootdown.event.Envelope;
import dev.shootdown.event.Event;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.Iterator;
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
 * <p>It streams ({@link Stream}): the log is taken one event at a time in causal order, and a
 * node's decision is re-executed as soon as its last recorded event has been read, so what is
 * held is each node's state machine, the decision being read and the inputs not yet delivered,
 * not the log.
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
        Stream stream = new Stream(freshNode);
        log.forEach(stream::accept);
        return stream.finish();
    }

    /**
     * A replay fed one event at a time, in a causal order (a log's canonical order, or the order
     * the events were published in). Nodes for which {@code freshNode} gives null (the run
     * controller) are skipped.
     */
    public static final class Stream {
        private final Function<String, NodeStateMachine> freshNode;
        /** Every node seen, sending or receiving; null for one with no state machine. */
        private final Map<String, NodeReplay> nodes = new TreeMap<>();
        private long position;
        private Divergence first;
        private long firstAt = Long.MAX_VALUE;

        public Stream(Function<String, NodeStateMachine> freshNode) {
            this.freshNode = freshNode;
        }

        /** The next event of the log. */
        public void accept(Envelope e) {
            long at = position++;
            for (String target : e.links().keySet()) {
                if (!target.equals(e.node())) {
                    NodeReplay r = node(target);
                    if (r != null) {
                        r.input(e);
                    }
                }
            }
            NodeReplay own = node(e.node());
            if (own != null) {
                own.own(e, at);
            }
        }

        /** The divergence found so far that comes first in the log, or null. */
        public Divergence divergence() {
            return first;
        }

        /** Re-executes the decisions still open (the last of each node) and gives the result. */
        public Result finish() {
            Map<String, Long> decisions = new TreeMap<>();
            for (NodeReplay r : nodes.values()) {
                if (r != null) {
                    r.close();
                    if (r.emitted) {
                        decisions.put(r.nodeId, r.decisions);
                    }
                }
            }
            return new Result(decisions, first);
        }

        private NodeReplay node(String id) {
            if (nodes.containsKey(id)) {
                return nodes.get(id);
            }
            NodeStateMachine machine = freshNode.apply(id);
            NodeReplay r = machine == null ? null : new NodeReplay(id, machine);
            nodes.put(id, r);
            return r;
        }

        private void diverged(Divergence d, long at) {
            if (at < firstAt) {
                first = d;
                firstAt = at;
            }
        }

        private final class NodeReplay {
            final String nodeId;
            final NodeStateMachine node;
            /** Inputs not delivered yet, per sender, in link order. */
            final Map<String, ArrayDeque<Envelope>> pending = new TreeMap<>();
            /** The decision being read: its head (the first own event, or the timer-fired), its cause, its events. */
            Envelope head;
            long headAt;
            String causeId;
            boolean timer;
            final List<Envelope> events = new ArrayList<>();
            final List<Long> positions = new ArrayList<>();
            long decisions;
            long lastTimeNs;
            boolean emitted;
            boolean stopped;

            NodeReplay(String nodeId, NodeStateMachine node) {
                this.nodeId = nodeId;
                this.node = node;
            }

            void input(Envelope in) {
                if (!stopped) {
                    pending.computeIfAbsent(in.node(), k -> new ArrayDeque<>()).add(in);
                }
            }

            void own(Envelope e, long at) {
                emitted = true;
                if (stopped) {
                    return;
                }
                if (e.event() instanceof ControlEvent.TimerFired) {
                    close();
                    open(e, at, e.id(), true);
                } else if (head != null && e.cause() != null && e.cause().equals(causeId)) {
                    events.add(e);
                    positions.add(at);
                } else {
                    close();
                    open(e, at, e.cause(), false);
                    events.add(e);
                    positions.add(at);
                }
            }

            private void open(Envelope e, long at, String cause, boolean timerFired) {
                head = e;
                headAt = at;
                causeId = cause;
                timer = timerFired;
            }

            /** Re-executes the decision read so far, if any. */
            void close() {
                if (head == null || stopped) {
                    return;
                }
                Divergence d = decide();
                head = null;
                events.clear();
                positions.clear();
                if (d != null) {
                    stopped = true;
                    pending.clear();
                }
            }

            private Divergence decide() {
                Envelope cause = timer ? head : causeId == null ? null : pendingInput(causeId);
                if (cause == null) {
                    return stop(new Divergence(nodeId, head.id(), "an event caused by " + head.cause(),
                            "no such input addressed to " + nodeId), headAt);
                }
                Divergence silent = deliverSilently();
                if (silent != null) {
                    return silent;
                }
                Decision decision = node.lifecycle() == Lifecycle.QUIESCED ? Decision.NONE
                        : node.onEvent(cause.event(), head.timeNs());
                decisions++;
                lastTimeNs = head.timeNs();
                if (!timer) {
                    ArrayDeque<Envelope> from = pending.get(cause.node());
                    if (from.peekFirst() == cause) {
                        from.removeFirst();
                    }
                }
                return compare(decision.events());
            }

            private Envelope pendingInput(String id) {
                ArrayDeque<Envelope> from = pending.get(id.substring(0, id.lastIndexOf('#')));
                if (from != null) {
                    for (Envelope in : from) {
                        if (in.id().equals(id)) {
                            return in;
                        }
                    }
                }
                return null;
            }

            /** Delivers every input the decision's clock shows received before it, except its cause. */
            private Divergence deliverSilently() {
                for (Map.Entry<String, ArrayDeque<Envelope>> sender : pending.entrySet()) {
                    ArrayDeque<Envelope> from = sender.getValue();
                    long seen = head.clock().get(sender.getKey());
                    for (Iterator<Envelope> it = from.iterator(); it.hasNext(); ) {
                        Envelope in = it.next();
                        if (in.seq() > seen || in.id().equals(causeId)) {
                            break;
                        }
                        Decision d = node.lifecycle() == Lifecycle.QUIESCED ? Decision.NONE : node.onEvent(in.event(), lastTimeNs);
                        if (!d.events().isEmpty()) {
                            return stop(new Divergence(nodeId, in.id(), "no events in answer to " + in.id(),
                                    d.events().size() + " events, the first " + d.events().get(0)), headAt);
                        }
                        it.remove();
                    }
                }
                return null;
            }

            private Divergence compare(List<Event> replayed) {
                int n = Math.max(events.size(), replayed.size());
                for (int k = 0; k < n; k++) {
                    Event r = k < events.size() ? events.get(k).event() : null;
                    Event p = k < replayed.size() ? replayed.get(k) : null;
                    if (r == null || !r.equals(p)) {
                        String at = r != null ? events.get(k).id()
                                : nodeId + " after " + (events.isEmpty() ? head.id() : events.get(events.size() - 1).id());
                        long position = r != null ? positions.get(k) : events.isEmpty() ? headAt : positions.get(events.size() - 1);
                        return stop(new Divergence(nodeId, at, r == null ? "nothing more" : r.toString(),
                                p == null ? "nothing more" : p.toString()), position);
                    }
                }
                return null;
            }

            private Divergence stop(Divergence d, long at) {
                diverged(d, at);
                return d;
            }
        }
    }
}
