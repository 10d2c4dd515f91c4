package dev.shootdown.host;

import dev.shootdown.event.Envelope;
import dev.shootdown.event.NodeIds;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * Simulated time for hosts whose nodes run apart (the Kafka host), kept by per-link promises
 * instead of global rounds: a node takes an input or timer as soon as nothing still on its way
 * can be due before it, and waits for no other node's progress than what can reach it.
 *
 * <p>Every node says a {@link Status} after it took something (and when what it can promise
 * grows): how many events it sent on each link, how many it has received on each, when its own
 * next input or timer is due, and the time before which it will emit nothing more. A receiver
 * uses a status only once it has received every event the status says was sent to it (the
 * events travel on other topics than the statuses), so a status never speaks for events it has
 * not seen.
 *
 * <p>The nodes are wired as a star around the kernel's mm ({@link LatencyModel#lookaheadNs(String,
 * String)}): a CPU or an IOMMU talks only to the mm, the mm to everyone, the run controller
 * starts everyone. That is what keeps promises from creeping. A leaf (CPU, IOMMU) hears only from
 * the mm, so its bound is the mm's promise plus the link's lookahead. The mm (the hub) does not
 * wait for leaves' promises, which would each rest on its own and grow by one round trip's
 * lookahead per exchange (the null-message scheme of Chandy, Misra and Bryant, where an idle
 * system creeps forward 150 ns per trip through the broker). It works out from each leaf's last
 * status what the leaf can do at the earliest: its next input or timer, or the first message the
 * mm sent it that it had not received then (the mm knows when each is due, as the leaf will
 * compute it), or RunStarted; and whatever the mm itself sends from now on comes back no sooner
 * than its own next input or timer plus the shortest round trip. So the mm's bound is
 * {@code min(min over leaves l of (E(l) + lookahead(l, mm)), next(mm) + round trip)}, the same
 * shortest-path bound a global snapshot would give, from statuses that arrive whenever they do.
 * The state machines' own knowledge of their future enters through their timers and inputs:
 * a CPU computing until t, an IOMMU waiting for its CMD_SYNC until t, the mm's next timer, all
 * widen the windows beyond the links' lookahead.
 *
 * <p>Every promise a node makes or derives is also checked: an input due before what its sender
 * promised, or what the mm worked out for it, fails the run loudly ({@link #checkArrival}),
 * whether or not the node would have taken anything out of order.
 *
 * <p>Pure bookkeeping for one node: not thread-safe, no I/O. The host feeds it every status of
 * the run in the order the statuses topic holds them (its own are ignored), asks for the
 * {@link #bound} after its node received or took something, and says the {@link #status} when
 * {@link #worthSaying} says so.
 */
public final class CausalClock {

    /**
     * What {@code node} said of itself: it has emitted {@code seq} events, taken {@code taken}
     * inputs and timers, sent {@code sent.get(d)}
     * on its link to each destination {@code d} and received {@code received.get(s)} on the link
     * from each sender {@code s}; its own next input or timer is due at {@code nextNs}
     * ({@link Long#MAX_VALUE}: none); it will emit nothing before {@code promiseNs}. {@code dueNs}:
     * when the last message it sent each destination is due there (the run controller's
     * RunStarted; empty for the nodes). {@code replyNs} (a CPU or an IOMMU): for the kinds of
     * input whose answer its state machine says comes later than any message could
     * ({@link dev.shootdown.core.NodeStateMachine#reactionTo}), how long after taking one the
     * first thing it sends reaches the mm at the soonest. {@code finished} (the mm only): nothing
     * is left to happen anywhere.
     */
    public record Status(String node, long seq, long taken, Map<String, Long> sent, Map<String, Long> received, long nextNs,
            long promiseNs, Map<String, Long> dueNs, Map<String, Long> replyNs, boolean quiesced, boolean finished) {
        public Status {
            Objects.requireNonNull(node, "node");
            sent = sent == null ? Map.of() : Map.copyOf(sent);
            received = received == null ? Map.of() : Map.copyOf(received);
            dueNs = dueNs == null ? Map.of() : Map.copyOf(dueNs);
            replyNs = replyNs == null ? Map.of() : Map.copyOf(replyNs);
        }

        /** How many events this status says its node sent {@code dest}. */
        public long sentTo(String dest) {
            return sent.getOrDefault(dest, 0L);
        }

        /** How many events this status says its node received from {@code sender}. */
        public long receivedFrom(String sender) {
            return received.getOrDefault(sender, 0L);
        }
    }

    /** What a node may not receive on a link: nothing after its {@code count}-th due before {@code atNs}. */
    private record Floor(long count, long atNs, java.util.function.Supplier<String> why) {}

    private final String self;
    private final String hub;
    private final boolean isHub;
    private final List<String> leaves = new ArrayList<>();
    private final LatencyModel latency;
    private final long skewNs;
    /** Per sender, its latest status whose sends to this node have all been received. */
    private final Map<String, Status> applied = new HashMap<>();
    /** Per sender, its statuses still waiting for events they say were sent to this node, in order. */
    private final Map<String, ArrayDeque<Status>> waiting = new HashMap<>();
    /** The position on the statuses topic of the last status taken (a rewind hands them over again). */
    private long lastPosition = -1;
    /** The hub's shortest round trip through a leaf. */
    private final long roundTripNs;
    private final Map<String, Floor> floors = new HashMap<>();
    /** Per sender, when the inputs received beyond its floor's count are due, in link order. */
    private final Map<String, ArrayDeque<long[]>> beyondFloor = new HashMap<>();

    /** The clock of node {@code self} of a run whose nodes are {@code topology}. */
    public CausalClock(String self, List<String> topology, LatencyModel latency) {
        this(self, topology, latency, 0);
    }

    /**
     * As {@link #CausalClock(String, List, LatencyModel)}, every promise this node says made
     * {@code skewNs} later than it can keep: a wrong promise, for tests and fault experiments,
     * which the receivers must catch.
     */
    public CausalClock(String self, List<String> topology, LatencyModel latency, long skewNs) {
        this.self = Objects.requireNonNull(self);
        this.latency = Objects.requireNonNull(latency);
        this.skewNs = skewNs;
        this.hub = hubOf(topology, latency);
        this.isHub = self.equals(hub);
        long rt = Long.MAX_VALUE;
        for (String n : topology) {
            if (!n.equals(hub)) {
                leaves.add(n);
                rt = Math.min(rt, plus(latency.lookaheadNs(hub, n), latency.lookaheadNs(n, hub)));
            }
        }
        this.roundTripNs = rt;
        if (!topology.contains(self)) {
            throw new IllegalArgumentException(self + " is not a node of the run " + topology);
        }
    }

    /**
     * The node every other one talks to and hears from, and the only one: the kernel's mm.
     *
     * @throws IllegalStateException when the latency model wires the nodes otherwise
     */
    static String hubOf(List<String> topology, LatencyModel latency) {
        for (String h : topology) {
            boolean star = true;
            for (String a : topology) {
                for (String b : topology) {
                    if (a.equals(b)) {
                        continue;
                    }
                    boolean linked = latency.lookaheadNs(a, b) != Long.MAX_VALUE;
                    if (linked != (a.equals(h) || b.equals(h))) {
                        star = false;
                    }
                }
            }
            if (star) {
                return h;
            }
        }
        throw new IllegalStateException("the time protocol needs the nodes wired as a star around the mm; the latency model wires "
                + topology + " otherwise");
    }

    /**
     * Takes a status said by any node of the run (or the run controller), at {@code position} on
     * the statuses topic (its offset). One at or before a position already taken is dropped:
     * statuses come again whenever the topic is read from the beginning (a restart, a newcomer
     * in the same process, a rewind), and an older one taken after a newer one would undo what
     * the newer one told.
     */
    public void onStatus(Status s, long position) {
        if (position <= lastPosition) {
            return;
        }
        lastPosition = position;
        if (!hears(s.node())) {
            return; // its own, or (a leaf) another leaf's
        }
        waiting.computeIfAbsent(s.node(), k -> new ArrayDeque<>()).add(s);
    }

    /** Uses each sender's latest status whose events to this node {@code node} has all received. */
    private void apply(ScheduledNode node) {
        for (Map.Entry<String, ArrayDeque<Status>> e : waiting.entrySet()) {
            ArrayDeque<Status> q = e.getValue();
            while (!q.isEmpty() && node.receivedOn(e.getKey()) >= q.peekFirst().sentTo(self)) {
                applied.put(e.getKey(), q.pollFirst());
            }
        }
    }

    /**
     * The time before which {@code node} (this clock's) can take whatever it has: nothing not yet
     * received can be due before it. {@link Long#MIN_VALUE} while it has heard too little to
     * tell; {@link Long#MAX_VALUE} when nothing can reach it any more.
     */
    public long bound(ScheduledNode node) {
        apply(node);
        long bound = Long.MAX_VALUE;
        Status control = applied.get(NodeIds.CONTROL);
        if (control == null) {
            return Long.MIN_VALUE; // RunStarted (or the controller's status) has not come
        }
        bound = Math.min(bound, floor(node, NodeIds.CONTROL, control.sentTo(self), plus(control.promiseNs(),
                latency.lookaheadNs(NodeIds.CONTROL, self)), () -> "the run controller promised nothing more"));
        if (!isHub) {
            Status mm = applied.get(hub);
            if (mm == null) {
                return Long.MIN_VALUE;
            }
            return Math.min(bound, floor(node, hub, mm.sentTo(self), plus(mm.promiseNs(), latency.lookaheadNs(hub, self)),
                    () -> hub + " promised to emit nothing before " + mm.promiseNs() + " ns"));
        }
        // When what each leaf does from its last status on reaches the mm at the earliest, leaving out what the mm sends it
        // from now on: its own next input or timer, its answer to each message the mm sent it that it had not received then
        // (as soon as its state machine says it can answer that kind), or to RunStarted.
        long[] earliest = new long[leaves.size()];
        for (int i = 0; i < leaves.size(); i++) {
            String leaf = leaves.get(i);
            Status s = applied.get(leaf);
            if (s != null && s.quiesced()) {
                earliest[i] = Long.MAX_VALUE; // it emits nothing ever again
                continue;
            }
            long toMm = latency.lookaheadNs(leaf, self);
            long e = s == null ? Long.MAX_VALUE : plus(s.nextNs(), toMm);
            Map<String, Long> reply = s == null ? Map.of() : s.replyNs();
            e = Math.min(e, node.earliestReply(leaf, s == null ? 0 : s.receivedFrom(self),
                    type -> reply.getOrDefault(type.typeName(), toMm)));
            if ((s == null ? 0 : s.receivedFrom(NodeIds.CONTROL)) < control.sentTo(leaf)) {
                e = Math.min(e, plus(control.dueNs().getOrDefault(leaf, Long.MIN_VALUE), toMm));
            }
            earliest[i] = e;
            bound = Math.min(bound, e);
        }
        // What the mm sends from now on is sent no sooner than its next input or timer, and comes back a round trip later.
        bound = Math.min(bound, plus(node.nextAtNs(), roundTripNs));
        long sends = Math.min(node.nextAtNs(), bound);
        for (int i = 0; i < leaves.size(); i++) {
            String leaf = leaves.get(i);
            Status s = applied.get(leaf);
            long fromLeaf = Math.min(earliest[i], plus(plus(sends, latency.lookaheadNs(self, leaf)), latency.lookaheadNs(leaf, self)));
            floor(node, leaf, s == null ? 0 : s.sentTo(self), fromLeaf, () -> "from " + leaf + "'s status (next input or timer at "
                    + (s == null ? "-" : s.nextNs()) + " ns, " + (s == null ? 0 : s.receivedFrom(self))
                    + " of the mm's events received, answers " + (s == null ? "{}" : s.replyNs()) + ") and the mm's own next at "
                    + sends + " ns, the mm worked out that nothing from " + leaf + " reaches it before " + fromLeaf + " ns");
        }
        return bound;
    }

    /**
     * Notes that {@code sender} can send this node nothing after its {@code count}-th event due
     * before {@code atNs}, checks what was received already, and returns {@code atNs}.
     */
    private long floor(ScheduledNode node, String sender, long count, long atNs, java.util.function.Supplier<String> why) {
        Floor f = floors.get(sender);
        if (f == null || f.count() < count || (f.count() == count && f.atNs() < atNs)) {
            Floor next = f != null && f.count() <= count && f.atNs() > atNs ? new Floor(count, f.atNs(), f.why())
                    : new Floor(count, atNs, why);
            floors.put(sender, next);
            ArrayDeque<long[]> beyond = beyondFloor.get(sender);
            while (beyond != null && !beyond.isEmpty() && beyond.peekFirst()[0] <= count) {
                beyond.pollFirst();
            }
            if (beyond != null && !beyond.isEmpty() && beyond.peekFirst()[1] < next.atNs()) {
                throw wrongPromise(sender, beyond.peekFirst()[0], beyond.peekFirst()[1], next);
            }
        }
        return atNs;
    }

    /**
     * Checks an input as {@code node} receives it against what its sender promised, or what was
     * worked out for it: nothing after the promise's count is due before the promised time.
     *
     * @throws WrongPromiseException when it is: a promise was wrong, and the run must stop
     */
    public void checkArrival(Envelope in, long linkSeq, long atNs) {
        Floor f = floors.get(in.node());
        if (f != null && linkSeq > f.count() && atNs < f.atNs()) {
            throw wrongPromise(in.node(), linkSeq, atNs, f);
        }
        if (f == null || linkSeq > f.count()) {
            beyondFloor.computeIfAbsent(in.node(), k -> new ArrayDeque<>()).add(new long[] {linkSeq, atNs});
        }
    }

    private WrongPromiseException wrongPromise(String sender, long linkSeq, long atNs, Floor f) {
        return new WrongPromiseException(self + ": event " + linkSeq + " from " + sender + " on its link is due at " + atNs
                + " ns, but after its event " + f.count() + " nothing was to be due before " + f.atNs() + " ns (" + f.why().get()
                + "): a wrong promise, the run stops");
    }

    /**
     * What {@code node} says of itself now, {@code bound} being its last {@link #bound}: it will
     * emit nothing before the earlier of its next input or timer and that bound.
     */
    public Status status(ScheduledNode node, long bound) {
        NodeDriver d = node.driver();
        long next = node.nextAtNs();
        long promise = promise(d, next, bound);
        Map<String, Long> received = new HashMap<>();
        received.put(NodeIds.CONTROL, node.receivedOn(NodeIds.CONTROL));
        if (isHub) {
            for (String leaf : leaves) {
                received.put(leaf, node.receivedOn(leaf));
            }
        } else {
            received.put(hub, node.receivedOn(hub));
        }
        return new Status(self, d.seq(), node.taken(), d.sentOnLinks(), received, next, promise, Map.of(),
                isHub ? Map.of() : replyNs(d), d.quiesced(), finished(next, bound));
    }

    /** The earlier of the node's next input or timer and its bound, as said (skewed for tests). */
    private long promise(NodeDriver d, long next, long bound) {
        // A node that quiesced emits nothing ever again, whatever it receives: a promise that needs no more saying (the
        // mm leaves a cluster's run once it quiesced, and the leaves still need to hear it to take its RunCompleted).
        long promise = d.quiesced() ? Long.MAX_VALUE : Math.min(next, bound);
        if (promise != Long.MAX_VALUE && promise != Long.MIN_VALUE) {
            promise += skewNs;
        }
        return promise;
    }

    private boolean finished(long next, long bound) {
        return isHub && bound == Long.MAX_VALUE && next == Long.MAX_VALUE;
    }

    /**
     * {@link #status}, when it is {@link #worthSaying} after {@code before}; null when not. Cheaper
     * than the two: the link counts are gathered only for a status that will be said (a node
     * asks after everything it took or heard).
     */
    public Status statusWorthSaying(ScheduledNode node, long bound, Status before) {
        if (before != null) {
            NodeDriver d = node.driver();
            long next = node.nextAtNs();
            boolean same = d.seq() == before.seq() && d.quiesced() == before.quiesced()
                    && finished(next, bound) == before.finished()
                    && (isHub ? promise(d, next, bound) <= before.promiseNs() : node.taken() == before.taken());
            if (same) {
                return null;
            }
        }
        return status(node, bound);
    }

    /**
     * Whether this node uses statuses said by {@code node}: a leaf hears only the mm and the run
     * controller, the mm everyone. A host may leave the others undelivered (it must still hand
     * over the ones heard in the order of their positions). Safe from any thread.
     */
    public boolean hears(String node) {
        return !node.equals(self) && (isHub || node.equals(hub) || node.equals(NodeIds.CONTROL));
    }

    /**
     * For each kind of input the node's state machine says it answers later than at once with
     * anything ({@link dev.shootdown.core.NodeStateMachine#reactionTo}): how long after taking
     * one the first thing it sends reaches the mm at the soonest.
     */
    private Map<String, Long> replyNs(NodeDriver d) {
        long toMm = latency.lookaheadNs(self, hub);
        Map<String, Long> out = new java.util.TreeMap<>();
        for (dev.shootdown.event.EventType type : dev.shootdown.event.EventType.values()) {
            dev.shootdown.core.Reaction r = d.reactionTo(type);
            if (r.equals(dev.shootdown.core.Reaction.ANY)) {
                continue;
            }
            long ns = plus(r.timersAfterNs(), toMm);
            for (dev.shootdown.event.Family f : r.sends()) {
                ns = Math.min(ns, latency.baseNs(f));
            }
            if (ns > toMm) {
                out.put(type.typeName(), ns);
            }
        }
        return out;
    }

    /**
     * True when {@code now} tells the others something {@code before} (this node's last status,
     * null for none) did not: the mm sent more or its promise grew (all a leaf reads of it); a
     * leaf took something (only then can what the mm works out for it grow).
     */
    public boolean worthSaying(Status now, Status before) {
        if (before == null || now.seq() != before.seq() || now.quiesced() != before.quiesced()
                || now.finished() != before.finished()) {
            return true;
        }
        return isHub ? now.promiseNs() > before.promiseNs() : now.taken() != before.taken();
    }

    private static long plus(long a, long b) {
        if (a == Long.MIN_VALUE || b == Long.MIN_VALUE) {
            return Long.MIN_VALUE;
        }
        return a == Long.MAX_VALUE || b == Long.MAX_VALUE || a > Long.MAX_VALUE - b ? Long.MAX_VALUE : a + b;
    }
}
