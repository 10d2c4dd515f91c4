package dev.shootdown.host;

import dev.shootdown.event.NodeIds;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.OptionalLong;
import java.util.TreeMap;

/**
 * Simulated time for hosts whose nodes run apart (the Kafka host), kept in rounds so that no
 * wall-clock time, message delay or process restart can change what a node does.
 *
 * <p>Round {@code k} lets every node take the inputs and timers due before a bound {@code T(k)},
 * then say so with a {@link RoundDone}: how many events it has sent on each link, and when the
 * earliest thing it knows of is due (its own next input or timer, or a message it sent this
 * round). {@code T(k+1)} is the earliest of those over every node, plus the
 * {@linkplain LatencyModel#lookaheadNs() lookahead}: whatever any node emits in round {@code k+1}
 * happens at or after that earliest time, so reaches no one before {@code T(k+1)}. Before it
 * starts round {@code k+1} a node waits until it has received every event the others said they
 * sent it, so it has everything due before the bound. Each node thus takes the same inputs in the
 * same order as on the deterministic engine (a conservative, synchronous parallel simulation in
 * the manner of Chandy and Misra, with the lookahead as the window).
 *
 * <p>The run controller ({@code control}) says round 0 once, for RunStarted. A node whose
 * RoundDone says it quiesced takes part in no later round. Pure bookkeeping: not thread-safe,
 * no I/O; the host feeds it every RoundDone of the run (its own included), in any order, as often
 * as they are read.
 */
public final class RoundClock {

    /**
     * {@code node} finished round {@code round}: it has emitted {@code seq} events, sent
     * {@code sent.get(d)} on its link to each destination {@code d}, and the earliest input, timer
     * or message in flight it knows of is due at {@code nextNs} ({@link Long#MAX_VALUE}: none).
     */
    public record RoundDone(String node, long round, long seq, Map<String, Long> sent, long nextNs, boolean quiesced) {
        public RoundDone {
            Objects.requireNonNull(node, "node");
            sent = Map.copyOf(sent);
        }
    }

    private final List<String> nodes;
    private final long lookaheadNs;
    private final TreeMap<Long, Map<String, RoundDone>> rounds = new TreeMap<>();
    private final Map<String, RoundDone> latest = new HashMap<>();
    private final Map<String, Long> quiescedIn = new HashMap<>();

    /** @param nodes the run's topology (without the run controller) */
    public RoundClock(List<String> nodes, long lookaheadNs) {
        this.nodes = List.copyOf(nodes);
        this.lookaheadNs = lookaheadNs;
    }

    public void onDone(RoundDone d) {
        rounds.computeIfAbsent(d.round(), k -> new HashMap<>()).putIfAbsent(d.node(), d);
        RoundDone before = latest.get(d.node());
        if (before == null || before.round() < d.round()) {
            latest.put(d.node(), d);
        }
        if (d.quiesced()) {
            quiescedIn.merge(d.node(), d.round(), Math::min);
        }
    }

    /** True when {@code node} takes part in round {@code k}: it had not quiesced by an earlier round. */
    public boolean active(String node, long k) {
        Long q = quiescedIn.get(node);
        return q == null || q >= k;
    }

    /**
     * The bound of round {@code k >= 1}, once every node taking part in round {@code k - 1} said
     * it finished it; {@link Long#MAX_VALUE} when nothing is left to happen anywhere.
     */
    public OptionalLong bound(long k) {
        Map<String, RoundDone> previous = rounds.getOrDefault(k - 1, Map.of());
        long earliest = Long.MAX_VALUE;
        for (String node : nodes) {
            if (!active(node, k - 1)) {
                continue;
            }
            RoundDone d = previous.get(node);
            if (d == null) {
                return OptionalLong.empty();
            }
            earliest = Math.min(earliest, d.nextNs());
        }
        if (k == 1) {
            RoundDone start = previous.get(NodeIds.CONTROL);
            if (start == null) {
                return OptionalLong.empty();
            }
            earliest = Math.min(earliest, start.nextNs());
        }
        return OptionalLong.of(earliest == Long.MAX_VALUE ? Long.MAX_VALUE : earliest + lookaheadNs);
    }

    /** How many events {@code sender} said it sent {@code receiver}, as of its latest RoundDone. */
    public long expected(String sender, String receiver) {
        RoundDone d = latest.get(sender);
        return d == null ? 0 : d.sent().getOrDefault(receiver, 0L);
    }

    /** The last round {@code node} said it finished, or -1. */
    public long lastRound(String node) {
        RoundDone d = latest.get(node);
        return d == null ? -1 : d.round();
    }

    /** True when every node quiesced, or the last round every active node finished left nothing to happen. */
    public boolean finished() {
        long k = Long.MAX_VALUE;
        for (String node : nodes) {
            if (active(node, Long.MAX_VALUE)) {
                k = Math.min(k, lastRound(node));
            }
        }
        if (k == Long.MAX_VALUE) {
            return true; // every node quiesced
        }
        OptionalLong next = k < 0 ? OptionalLong.empty() : bound(k + 1);
        return next.isPresent() && next.getAsLong() == Long.MAX_VALUE;
    }

    /** The latest bound every node has reached: how far simulated time got (0 before round 1). */
    public long reachedNs() {
        long reached = 0;
        for (long k = rounds.isEmpty() ? 1 : rounds.firstKey() + 1; rounds.containsKey(k - 1); k++) {
            OptionalLong b = bound(k);
            if (b.isEmpty() || b.getAsLong() == Long.MAX_VALUE) {
                break;
            }
            if (!everyActiveFinished(k)) {
                break;
            }
            reached = b.getAsLong();
        }
        return reached;
    }

    private boolean everyActiveFinished(long k) {
        Map<String, RoundDone> done = rounds.getOrDefault(k, Map.of());
        for (String node : nodes) {
            if (active(node, k) && !done.containsKey(node)) {
                return false;
            }
        }
        return true;
    }

    /** Forgets rounds before {@code k - 1}: a host that is at round {@code k} needs no older ones. */
    public void forgetBefore(long k) {
        rounds.headMap(k - 1).clear();
    }
}
