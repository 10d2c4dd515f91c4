package dev.shootdown.host;

import dev.shootdown.core.Decision;
import dev.shootdown.core.Lifecycle;
import dev.shootdown.core.NodeStateMachine;
import dev.shootdown.core.TimerRequest;
import dev.shootdown.event.ControlEvent;
import dev.shootdown.event.Envelope;
import dev.shootdown.event.Event;
import dev.shootdown.event.Routing;
import dev.shootdown.event.VectorClock;
import dev.shootdown.fault.FaultKind;
import dev.shootdown.fault.FaultMatcher;
import dev.shootdown.fault.FaultSpec;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.TreeMap;

/**
 * What every host does around a node's state machine, so the Kafka host, the deterministic
 * scheduler and the replayer behave alike: stamps envelopes (sequence, vector clock, cause, link
 * sequence numbers), keeps the node's simulated clock, delivers each sender-to-node link in order
 * across topics (holding early arrivals, dropping redeliveries), and arms timers.
 *
 * <p>A driver without a state machine is a pure source (the run controller).
 *
 * <p>Thread: the host's node thread only; not thread-safe. Times are simulated nanoseconds.
 */
public final class NodeDriver {

    /** What handling one input or timer produced: envelopes to publish, timers to arm. */
    public record Output(List<Envelope> envelopes, List<TimerRequest> timers) {
        public static final Output NONE = new Output(List.of(), List.of());
    }

    private record Held(Envelope envelope, long deliverAtNs) {}

    private final String runId;
    private final String nodeId;
    private final NodeStateMachine node;
    private final List<String> topology;

    private long seq;
    private long localNowNs;
    private VectorClock clock = VectorClock.EMPTY;
    private final Map<String, Long> sentOnLink = new HashMap<>();
    private final Map<String, Long> deliveredOnLink = new HashMap<>();
    private final Map<String, TreeMap<Long, Held>> held = new HashMap<>();
    private final Map<String, Long> armed = new HashMap<>();
    private long duplicatesDropped;
    /** The run's node-bug faults for this node (FaultKind#NODE_BUG), armed by its RunStarted. */
    private FaultMatcher bugs = FaultMatcher.NONE;
    private List<TimerRequest> recoveryTimers = List.of();

    public NodeDriver(String runId, NodeStateMachine node, List<String> topology) {
        this(runId, node.nodeId(), node, topology);
    }

    private NodeDriver(String runId, String nodeId, NodeStateMachine node, List<String> topology) {
        this.runId = Objects.requireNonNull(runId);
        this.nodeId = Objects.requireNonNull(nodeId);
        this.node = node;
        this.topology = List.copyOf(topology);
    }

    /**
     * Rebuilds {@code node} (fresh, as constructed) and its driver from a run's log: the node's
     * own events in sequence order, and before each of them the inputs addressed to the node that
     * its vector clock shows were delivered already; inputs the node {@linkplain
     * NodeStateMachine#keepsInput keeps} are applied as they go. The driver resumes with the
     * node's sequence, clock, time and link watermarks, so inputs it already delivered are
     * dropped when they come again, and everything after is delivered once.
     *
     * <p>Delivery is read off the vector clocks, which is exact while every node hears of a
     * sender's events only from the sender itself (Shootdown's star around the coordinator).
     *
     * @param log every event of the run recorded so far, in any order
     * @return the driver; {@link #recoveryTimers()} holds the timers to arm now
     * @throws IllegalStateException when the node's own history has a gap
     */
    public static NodeDriver recover(String runId, NodeStateMachine node, List<String> topology, Collection<Envelope> log) {
        NodeDriver d = new NodeDriver(runId, node, topology);
        String me = node.nodeId();
        List<Envelope> own = log.stream().filter(e -> e.node().equals(me) && e.run().equals(runId))
                .sorted(Comparator.comparingLong(Envelope::seq)).toList();
        Map<String, List<Envelope>> inputs = new TreeMap<>();
        for (Envelope e : log) {
            if (e.run().equals(runId) && !e.node().equals(me) && e.links().containsKey(me)) {
                inputs.computeIfAbsent(e.node(), k -> new ArrayList<>()).add(e);
            }
        }
        inputs.values().forEach(l -> l.sort(Comparator.comparingLong(e -> e.links().get(me))));
        Map<String, Integer> next = new HashMap<>();
        for (Envelope e : own) {
            if (e.seq() != d.seq + 1) {
                throw new IllegalStateException(me + ": cannot recover, its history has a gap before " + e.id());
            }
            for (Map.Entry<String, List<Envelope>> sender : inputs.entrySet()) {
                List<Envelope> from = sender.getValue();
                int i = next.getOrDefault(sender.getKey(), 0);
                while (i < from.size() && from.get(i).seq() <= e.clock().get(sender.getKey())
                        && from.get(i).links().get(me) == d.deliveredOnLink.getOrDefault(sender.getKey(), 0L) + 1) {
                    d.recoverInput(from.get(i));
                    i++;
                }
                next.put(sender.getKey(), i);
            }
            if (!(e.event() instanceof ControlEvent.TimerFired)) {
                node.evolve(e.event(), e.timeNs());
            }
            d.seq = e.seq();
            d.clock = d.clock.merge(e.clock());
            d.localNowNs = Math.max(d.localNowNs, e.timeNs());
            e.links().forEach((dest, linkSeq) -> d.sentOnLink.merge(dest, linkSeq, Math::max));
        }
        d.recoveryTimers = node.timersAfterRecovery(d.localNowNs);
        for (TimerRequest t : d.recoveryTimers) {
            d.armed.put(t.name(), t.fireAtNs());
        }
        return d;
    }

    private void recoverInput(Envelope in) {
        deliveredOnLink.put(in.node(), in.links().get(nodeId));
        clock = clock.merge(in.clock());
        if (node.keepsInput(in.event())) {
            node.evolve(in.event());
        }
    }

    /** The timers {@link #recover} armed for the rebuilt node; the host schedules them. */
    public List<TimerRequest> recoveryTimers() {
        return recoveryTimers;
    }

    /** How far each sender's link to this node has been delivered (for tests and diagnostics). */
    public long deliveredOn(String sender) {
        return deliveredOnLink.getOrDefault(sender, 0L);
    }

    /** A driver for a node that only emits (the run controller). */
    public static NodeDriver source(String runId, String nodeId, List<String> topology) {
        return new NodeDriver(runId, nodeId, null, topology);
    }

    public String nodeId() {
        return nodeId;
    }

    public long localNowNs() {
        return localNowNs;
    }

    /** The sequence number of the last event this node emitted (0 before its first). */
    public long seq() {
        return seq;
    }

    /** True when timer {@code name} is armed to fire at {@code fireAtNs} (not re-armed or cancelled since). */
    public boolean isArmed(String name, long fireAtNs) {
        Long at = armed.get(name);
        return at != null && at == fireAtNs;
    }

    /** Per destination, the link sequence number of the last event this node sent it. */
    public Map<String, Long> sentOnLinks() {
        return new TreeMap<>(sentOnLink);
    }

    /** What the node says taking an input of {@code type} can lead to at the soonest (a source: anything). */
    public dev.shootdown.core.Reaction reactionTo(dev.shootdown.event.EventType type) {
        return node == null ? dev.shootdown.core.Reaction.ANY : node.reactionTo(type);
    }

    /** True once the node handled RunCompleted: it takes no more inputs or timers. */
    public boolean quiesced() {
        return node != null && node.lifecycle() == Lifecycle.QUIESCED;
    }

    /** Redelivered inputs dropped so far (their link sequence number was already delivered). */
    public long duplicatesDropped() {
        return duplicatesDropped;
    }

    /** True while some input waits for a link predecessor that has not arrived yet. */
    public boolean hasHeldInputs() {
        for (TreeMap<Long, Held> waiting : held.values()) {
            if (!waiting.isEmpty()) {
                return true;
            }
        }
        return false;
    }

    /** True when {@code envelope} is addressed to this node. */
    public boolean isForMe(Envelope envelope) {
        return envelope.links().containsKey(nodeId);
    }

    /**
     * Offers an input that arrived at simulated time {@code deliverAtNs}. Inputs not addressed to
     * this node are ignored; early ones are held until their link predecessors arrive.
     */
    public Output offer(Envelope in, long deliverAtNs) {
        Long linkSeq = in.links().get(nodeId);
        if (linkSeq == null || node == null) {
            return Output.NONE;
        }
        long expected = deliveredOnLink.getOrDefault(in.node(), 0L) + 1;
        if (linkSeq < expected) {
            duplicatesDropped++;
            return Output.NONE;
        }
        if (linkSeq > expected) {
            held.computeIfAbsent(in.node(), k -> new TreeMap<>()).putIfAbsent(linkSeq, new Held(in, deliverAtNs));
            return Output.NONE;
        }
        List<Envelope> envelopes = new ArrayList<>();
        List<TimerRequest> timers = new ArrayList<>();
        deliver(in, deliverAtNs, envelopes, timers);
        TreeMap<Long, Held> waiting = held.get(in.node());
        while (waiting != null && !waiting.isEmpty()
                && waiting.firstKey() == deliveredOnLink.getOrDefault(in.node(), 0L) + 1) {
            Held next = waiting.pollFirstEntry().getValue();
            deliver(next.envelope(), next.deliverAtNs(), envelopes, timers);
        }
        return new Output(envelopes, timers);
    }

    private void deliver(Envelope in, long deliverAtNs, List<Envelope> out, List<TimerRequest> timers) {
        deliveredOnLink.put(in.node(), in.links().get(nodeId));
        localNowNs = Math.max(localNowNs, deliverAtNs);
        clock = clock.merge(in.clock());
        if (node.lifecycle() == Lifecycle.QUIESCED) {
            return;
        }
        if (in.event() instanceof ControlEvent.RunStarted started) {
            bugs = started.scenario().faults().matcherFor(nodeId, started.seed());
        }
        maybeBug(in.event());
        Decision decision = node.onEvent(in.event(), localNowNs);
        stampAll(decision, in.id(), out, timers);
    }

    /**
     * A {@code node-bug} of the run's fault plan that hits this input: the state machine throws,
     * as a bug in its code would (before it sees the input, so nothing of it is decided).
     */
    private void maybeBug(Event input) {
        if (!bugs.armed()) {
            return;
        }
        String type = input.type().typeName();
        FaultSpec bug = bugs.maybeInject(FaultKind.NODE_BUG, localNowNs, f -> f.event() == null || f.event().equals(type));
        if (bug != null) {
            throw new IllegalStateException("node-bug (fault " + bugs.indexOf(bug) + " of the plan) on " + type + " at "
                    + localNowNs + " ns: the state machine threw, as a bug in its code would");
        }
    }

    /**
     * Fires timer {@code name} armed for {@code fireAtNs}. A timer that was re-armed or cancelled
     * since, or that fires after the node quiesced, does nothing.
     */
    public Output fire(String name, long fireAtNs) {
        Long at = armed.get(name);
        if (node == null || at == null || at != fireAtNs || node.lifecycle() == Lifecycle.QUIESCED) {
            return Output.NONE;
        }
        armed.remove(name);
        localNowNs = Math.max(localNowNs, fireAtNs);
        List<Envelope> envelopes = new ArrayList<>();
        List<TimerRequest> timers = new ArrayList<>();
        ControlEvent.TimerFired fired = new ControlEvent.TimerFired(name, fireAtNs);
        maybeBug(fired);
        Envelope firedEnvelope = stamp(fired, null);
        envelopes.add(firedEnvelope);
        Decision decision = node.onEvent(fired, localNowNs);
        stampAll(decision, firedEnvelope.id(), envelopes, timers);
        return new Output(envelopes, timers);
    }

    /** Emits an event that no input caused (the run controller's RunStarted). */
    public Envelope emit(Event event, long nowNs) {
        localNowNs = Math.max(localNowNs, nowNs);
        return stamp(event, null);
    }

    private void stampAll(Decision decision, String causeId, List<Envelope> out, List<TimerRequest> timers) {
        for (Event e : decision.events()) {
            out.add(stamp(e, causeId));
        }
        for (TimerRequest t : decision.timers()) {
            if (t.isCancel()) {
                armed.remove(t.name());
            } else {
                armed.put(t.name(), t.fireAtNs());
            }
            timers.add(t);
        }
    }

    private Envelope stamp(Event event, String causeId) {
        seq++;
        clock = clock.with(nodeId, seq);
        TreeMap<String, Long> links = new TreeMap<>();
        for (String destination : Routing.destinations(event, topology)) {
            links.put(destination, sentOnLink.merge(destination, 1L, Long::sum));
        }
        return new Envelope(runId, nodeId, seq, Envelope.SCHEMA_VERSION, localNowNs, clock, causeId, links, event);
    }
}
