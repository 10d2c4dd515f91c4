package dev.shootdown.host;

import dev.shootdown.core.NodeStateMachine;
import dev.shootdown.core.TimerRequest;
import dev.shootdown.event.ControlEvent;
import dev.shootdown.event.Envelope;
import dev.shootdown.event.EventType;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.PriorityQueue;
import java.util.Set;
import java.util.TreeMap;

/**
 * One node as every host runs it: its {@link NodeDriver}, and what waits for it (the inputs that
 * arrived, its armed timers) in the one order every host takes them: by simulated time, inputs
 * before timers, then inputs by sender and link sequence number, timers by name.
 *
 * <p>When an input is due is computed here from the message alone: its send time plus
 * {@link LatencyModel#sampleNs(Envelope, String, long)}, and never before the previous message on
 * the same link (links are FIFO). Nothing a host does (how fast Kafka delivers, when a process
 * restarts) enters it. So a node takes the same inputs at the same simulated times in the same
 * order on the deterministic engine and on the Kafka host, and the same seed gives the same log
 * on both. A node emits nothing that reaches another node sooner than its link's
 * {@link LatencyModel#lookaheadNs(String, String) lookahead} after it (each message is checked
 * against it as it is sent): that is what lets the Kafka host run every node up to a time bound
 * without waiting for each message ({@link CausalClock}). An input due before something the node
 * already took would mean a host broke that rule; it is refused, not taken late.
 *
 * <p>{@link #rebuild} is how a host restarts a node: a fresh instance re-executes the inputs the
 * log holds for it until it has emitted every event the log holds from it, checking each one.
 *
 * <p>Not thread-safe: the host's node thread only. Times are simulated nanoseconds.
 */
public final class ScheduledNode {

    /** An input (key: its sender) or a timer (key: its name), due at {@code atNs}. */
    private record Item(long atNs, Envelope input, String key, long linkSeq) {}

    private static final Comparator<Item> ORDER = Comparator.comparingLong(Item::atNs)
            .thenComparing(i -> i.input() == null)
            .thenComparing(Item::key)
            .thenComparingLong(Item::linkSeq);

    private final NodeDriver driver;
    private final String nodeId;
    private final Set<String> nodes;
    private final LatencyModel latency;
    private long seed;
    private boolean seeded;
    private final List<Envelope> beforeSeed = new ArrayList<>();
    private final PriorityQueue<Item> due = new PriorityQueue<>(ORDER);
    private final Map<String, Long> receivedOnLink = new HashMap<>();
    private final Map<String, Long> lastArrivalIn = new HashMap<>();
    private final Map<String, TreeMap<Long, Envelope>> early = new HashMap<>();
    private final Map<String, Long> lastArrivalOut = new HashMap<>();
    /** Each destination's {@link LatencyModel#lookaheadNs(String, String)} from this node. */
    private final Map<String, Long> lookaheadTo = new HashMap<>();
    /**
     * When each message this node sent is due at its destination, by destination, in link order
     * (FIFO links: the times never decrease), from the first one the destination may not have
     * received yet; kept only for a host that asks ({@link #earliestReply}).
     */
    private final Map<String, java.util.ArrayDeque<long[]>> sentArrivals = new HashMap<>();
    private boolean tracksArrivals;
    /** Told of each input as it is received, with when it is due. */
    private ArrivalCheck arrivalCheck;
    private long taken;
    /** When the last input or timer taken was due. */
    private long lastTakenNs = Long.MIN_VALUE;
    private final TreeMap<Long, Envelope> recordedAhead = new TreeMap<>();
    private final List<Envelope> unpublished = new ArrayList<>();

    public ScheduledNode(String runId, NodeStateMachine node, List<String> topology, LatencyModel latency) {
        this.driver = new NodeDriver(runId, node, topology);
        this.nodeId = node.nodeId();
        this.nodes = new HashSet<>(topology);
        this.latency = Objects.requireNonNull(latency);
    }

    /**
     * A fresh {@code node} brought to where the log shows its previous instance got: every input
     * the log holds for it is received, and taken in order until the node has emitted each of its
     * events the log holds, up to the first gap in its sequence (a crash can cut off the tail of
     * what a process was publishing, in any order across topics). Each re-emitted event must
     * equal the recorded one. Events emitted while rebuilding that the log lacks are kept for the
     * host to publish ({@link #takeUnpublished}); events the log holds beyond the gap are not
     * published again ({@link #isRecorded}).
     *
     * @throws IllegalStateException when the log contradicts itself or re-execution differs from it
     */
    public static ScheduledNode rebuild(String runId, NodeStateMachine node, List<String> topology, LatencyModel latency,
            Collection<Envelope> log) {
        return rebuild(runId, node, topology, latency, log, false);
    }

    /**
     * {@link #rebuild}, for a host that asks when what the node sent is due ({@link #earliestReply}):
     * what re-execution emits counts, since what a crash cut off may still be on its way.
     */
    public static ScheduledNode rebuild(String runId, NodeStateMachine node, List<String> topology, LatencyModel latency,
            Collection<Envelope> log, boolean tracksArrivals) {
        ScheduledNode n = new ScheduledNode(runId, node, topology, latency);
        n.tracksArrivals = tracksArrivals;
        TreeMap<Long, Envelope> own = new TreeMap<>();
        for (Envelope e : log) {
            if (!e.run().equals(runId)) {
                continue;
            }
            if (e.node().equals(n.nodeId)) {
                Envelope before = own.putIfAbsent(e.seq(), e);
                if (before != null && !before.equals(e)) {
                    throw new IllegalStateException(n.nodeId + ": the log holds two different events " + e.id());
                }
            } else {
                n.receive(e);
            }
        }
        long prefix = 0;
        while (own.containsKey(prefix + 1)) {
            prefix++;
        }
        n.recordedAhead.putAll(own.tailMap(prefix, false));
        while (n.driver.seq() < prefix) {
            if (n.nextAtNs() == Long.MAX_VALUE) {
                throw new IllegalStateException(n.nodeId + ": cannot rebuild: the log holds " + prefix
                        + " of its events but the inputs it holds for it explain only " + n.driver.seq());
            }
            for (Envelope e : n.step().envelopes()) {
                Envelope recorded = own.get(e.seq());
                if (recorded == null) {
                    n.unpublished.add(e);
                } else if (!recorded.equals(e)) {
                    throw new IllegalStateException(n.nodeId + ": re-executing its inputs gives " + e.event()
                            + " where the log holds " + recorded.event() + " as " + e.id());
                }
            }
        }
        return n;
    }

    /**
     * A rebuild fed the run's events one at a time, in the order they were published (the
     * deterministic engine's, where a node has received every input published before it steps):
     * inputs are received as they come, and each of the node's own events, when it comes, is
     * re-executed and checked then. What is held is the node and the inputs it has not taken,
     * not the log. The log must have no gap in the node's sequence.
     */
    public static Rebuilding rebuilding(String runId, NodeStateMachine node, List<String> topology, LatencyModel latency) {
        return new Rebuilding(runId, new ScheduledNode(runId, node, topology, latency));
    }

    /** See {@link #rebuilding}. */
    public static final class Rebuilding {
        private final String runId;
        private final ScheduledNode n;
        private final java.util.ArrayDeque<Envelope> emitted = new java.util.ArrayDeque<>();
        private long recorded;

        private Rebuilding(String runId, ScheduledNode n) {
            this.runId = runId;
            this.n = n;
        }

        /** The next event published in the run. */
        public void accept(Envelope e) {
            if (!e.run().equals(runId)) {
                return;
            }
            if (!e.node().equals(n.nodeId)) {
                n.receive(e);
                return;
            }
            if (e.seq() != recorded + 1) {
                throw new IllegalStateException(n.nodeId + ": cannot rebuild: its history has a gap before " + e.id());
            }
            while (emitted.isEmpty()) {
                if (n.nextAtNs() == Long.MAX_VALUE) {
                    throw new IllegalStateException(n.nodeId + ": cannot rebuild: the log holds " + e.id()
                            + " but the inputs it holds for it explain only " + n.driver.seq() + " of its events");
                }
                emitted.addAll(n.step().envelopes());
            }
            Envelope again = emitted.poll();
            if (!again.equals(e)) {
                throw new IllegalStateException(n.nodeId + ": re-executing its inputs gives " + again.event()
                        + " where the log holds " + e.event() + " as " + e.id());
            }
            recorded = e.seq();
        }

        /** The rebuilt node; what it emitted beyond the log is for the host to publish ({@link #takeUnpublished}). */
        public ScheduledNode finish() {
            n.unpublished.addAll(emitted);
            emitted.clear();
            return n;
        }
    }

    public String nodeId() {
        return nodeId;
    }

    public NodeDriver driver() {
        return driver;
    }

    /**
     * Takes an envelope from the log or the wire. Envelopes not addressed to this node, and
     * those already received (a redelivery), are ignored; one that comes before its predecessor
     * on the link waits for it.
     */
    public void receive(Envelope in) {
        Long linkSeq = in.links().get(nodeId);
        if (linkSeq == null) {
            return;
        }
        if (!seeded && !(in.event() instanceof ControlEvent.RunStarted)) {
            beforeSeed.add(in); // delivery times need the run's seed, which RunStarted brings
            return;
        }
        String sender = in.node();
        long have = receivedOnLink.getOrDefault(sender, 0L);
        if (linkSeq <= have) {
            return;
        }
        if (linkSeq > have + 1) {
            early.computeIfAbsent(sender, k -> new TreeMap<>()).putIfAbsent(linkSeq, in);
            return;
        }
        accept(in, linkSeq);
        TreeMap<Long, Envelope> waiting = early.get(sender);
        while (waiting != null && !waiting.isEmpty() && waiting.firstKey() <= receivedOnLink.get(sender) + 1) {
            Map.Entry<Long, Envelope> next = waiting.pollFirstEntry();
            if (next.getKey() == receivedOnLink.get(sender) + 1) {
                accept(next.getValue(), next.getKey());
            }
        }
        if (in.event() instanceof ControlEvent.RunStarted && !beforeSeed.isEmpty()) {
            List<Envelope> held = List.copyOf(beforeSeed);
            beforeSeed.clear();
            held.forEach(this::receive);
        }
    }

    private void accept(Envelope in, long linkSeq) {
        if (in.event() instanceof ControlEvent.RunStarted started) {
            seed = started.seed();
            seeded = true;
        }
        long at = Math.max(in.timeNs() + latency.sampleNs(in, nodeId, seed), lastArrivalIn.getOrDefault(in.node(), 0L));
        if (arrivalCheck != null) {
            arrivalCheck.received(in, linkSeq, at);
        }
        if (at <= lastTakenNs) {
            throw new IllegalStateException(nodeId + ": " + in.id() + " is due at " + at + " ns, but " + nodeId
                    + " already took what was due at " + lastTakenNs + " ns: its host let it run past an input still on its way");
        }
        lastArrivalIn.put(in.node(), at);
        receivedOnLink.put(in.node(), linkSeq);
        due.add(new Item(at, in, in.node(), linkSeq));
    }

    /** How far the link from {@code sender} has been received without a gap. */
    public long receivedOn(String sender) {
        return receivedOnLink.getOrDefault(sender, 0L);
    }

    /**
     * When the next input or timer is due, or {@link Long#MAX_VALUE} when nothing waits (or the
     * node quiesced: nothing it takes from here on has any effect).
     */
    public long nextAtNs() {
        Item head = head();
        return head == null ? Long.MAX_VALUE : head.atNs();
    }

    private Item head() {
        if (driver.quiesced()) {
            return null;
        }
        while (!due.isEmpty()) {
            Item h = due.peek();
            if (h.input() == null && !driver.isArmed(h.key(), h.atNs())) {
                due.poll(); // re-armed or cancelled since
                continue;
            }
            return h;
        }
        return null;
    }

    /** Takes the next due input or timer; returns what it produced (timers are already armed here). */
    public NodeDriver.Output step() {
        Item h = head();
        if (h == null) {
            return NodeDriver.Output.NONE;
        }
        due.poll();
        lastTakenNs = h.atNs();
        taken++;
        NodeDriver.Output out = h.input() != null ? driver.offer(h.input(), h.atNs()) : driver.fire(h.key(), h.atNs());
        for (TimerRequest t : out.timers()) {
            if (!t.isCancel()) {
                due.add(new Item(t.fireAtNs(), null, t.name(), 0));
            }
        }
        for (Envelope e : out.envelopes()) {
            noteSent(e);
        }
        return out;
    }

    /** Takes every input and timer due before {@code boundNs}, in order; returns the events emitted. */
    public List<Envelope> runUntil(long boundNs) {
        List<Envelope> out = new ArrayList<>();
        while (nextAtNs() < boundNs) {
            out.addAll(step().envelopes());
        }
        return out;
    }

    private void noteSent(Envelope e) {
        for (String dest : e.links().keySet()) {
            if (nodes.contains(dest)) {
                long sampled = latency.sampleNs(e, dest, seed);
                if (sampled < lookaheadTo.computeIfAbsent(dest, d -> latency.lookaheadNs(nodeId, d))) {
                    latency.checkLink(e, dest, sampled); // throws, naming the message
                }
                long at = Math.max(e.timeNs() + sampled, lastArrivalOut.getOrDefault(dest, 0L));
                lastArrivalOut.put(dest, at);
                if (tracksArrivals) {
                    sentArrivals.computeIfAbsent(dest, d -> new java.util.ArrayDeque<>())
                            .add(new long[] {e.links().get(dest), at, e.event().type().ordinal()});
                }
            }
        }
    }

    /**
     * The earliest {@code dest} can answer the messages this node sent it after its
     * {@code received}-th on that link: the least of each one's due time plus
     * {@code replyNs} of its type; {@link Long#MAX_VALUE} when it sent none. Forgets the ones
     * before, so ask with a {@code received} that never decreases. Messages are due in link order.
     */
    public long earliestReply(String dest, long received, java.util.function.ToLongFunction<EventType> replyNs) {
        if (!tracksArrivals) {
            throw new IllegalStateException(nodeId + " was not built to track when what it sent is due");
        }
        java.util.ArrayDeque<long[]> sent = sentArrivals.get(dest);
        if (sent == null) {
            return Long.MAX_VALUE;
        }
        while (!sent.isEmpty() && sent.peekFirst()[0] <= received) {
            sent.pollFirst();
        }
        long earliest = Long.MAX_VALUE;
        for (long[] m : sent) {
            long reply = replyNs.applyAsLong(TYPES[(int) m[2]]);
            if (reply != Long.MAX_VALUE) {
                earliest = Math.min(earliest, m[1] > Long.MAX_VALUE - reply ? Long.MAX_VALUE : m[1] + reply);
            }
        }
        return earliest;
    }

    private static final EventType[] TYPES = EventType.values();

    /** Told of each input this node receives (once, in link order), with when it is due. */
    public interface ArrivalCheck {
        /** @throws IllegalStateException when {@code in} may not be due at {@code atNs} */
        void received(Envelope in, long linkSeq, long atNs);
    }

    /** Has {@code check} told of every input received from here on. */
    public void checkArrivals(ArrivalCheck check) {
        this.arrivalCheck = check;
    }

    /** How many inputs and timers this node has taken (a rebuild's included). */
    public long taken() {
        return taken;
    }

    /** The events {@link #rebuild} re-emitted that the log did not hold; the host publishes them. */
    public List<Envelope> takeUnpublished() {
        List<Envelope> out = List.copyOf(unpublished);
        unpublished.clear();
        return out;
    }

    /**
     * True when the log already holds {@code e} (recorded beyond a gap before a crash): the host
     * does not publish it again.
     *
     * @throws IllegalStateException when the log holds a different event under its id
     */
    public boolean isRecorded(Envelope e) {
        Envelope recorded = recordedAhead.remove(e.seq());
        if (recorded == null) {
            return false;
        }
        if (!recorded.equals(e)) {
            throw new IllegalStateException(nodeId + ": re-executing its inputs gives " + e.event() + " where the log holds "
                    + recorded.event() + " as " + e.id());
        }
        return true;
    }
}
