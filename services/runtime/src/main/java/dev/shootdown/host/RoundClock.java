package dev.shootdown.host;

import dev.shootdown.event.NodeIds;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.TreeMap;

/**
 * Simulated time for hosts whose nodes run apart (the Kafka host), kept in rounds so that no
 * wall-clock time, message delay or process restart can change what a node does.
 *
 * <p>Round {@code k} lets each node {@code n} take the inputs and timers due before its own bound
 * {@code T(k, n)}, then say so with a {@link RoundDone}: how many events it has sent on each link,
 * when its own earliest input or timer is due, and when each message it sent that round is due at
 * its destination. From those every node knows, for each node {@code r}, the earliest time
 * {@code E(r)} at which {@code r} can take anything in round {@code k+1}. With {@code D(r, n)} the
 * shortest path from {@code r} to {@code n} over the
 * {@linkplain LatencyModel#lookaheadNs(String, String) lookaheads of the links} ({@code D(n, n)}:
 * the shortest way back to {@code n}, as a message to the mm and its answer),
 * {@code T(k+1, n) = min over r of E(r) + D(r, n)}: whatever {@code r} does from {@code E(r)} on,
 * directly or through others' answers, reaches {@code n} no sooner than that. Before it starts
 * round {@code k+1} a node waits until it has received every event the others said they sent it,
 * so it has everything due before its bound. Each node thus takes the same inputs in the same
 * order as on the deterministic engine (a conservative, synchronous parallel simulation in the
 * manner of Chandy and Misra, with the paths' lookaheads as the window). Per path rather than one
 * window for everyone (the smallest lookahead of all, 50 ns), the mm gets at least a system
 * call's round trip and the CPUs and IOMMUs what the mm's answer adds: on the benchmarks'
 * many-shootdown workload, 1.8 times fewer rounds.
 *
 * <p>The run controller ({@code control}) says round 0 once, for RunStarted. A node whose
 * RoundDone says it quiesced takes part in no later round. Pure bookkeeping: not thread-safe,
 * no I/O; the host feeds it every RoundDone of the run (its own included), in any order, as often
 * as they are read.
 */
public final class RoundClock {

    /**
     * {@code node} finished round {@code round}: it has emitted {@code seq} events, sent
     * {@code sent.get(d)} on its link to each destination {@code d}; its own earliest input or
     * timer is due at {@code nextNs} ({@link Long#MAX_VALUE}: none), and the earliest message it
     * sent each destination {@code d} that {@code d} may not have taken yet is due there at
     * {@code inFlight.get(d)}.
     */
    public record RoundDone(String node, long round, long seq, Map<String, Long> sent, long nextNs, Map<String, Long> inFlight,
            boolean quiesced) {
        public RoundDone {
            Objects.requireNonNull(node, "node");
            sent = Map.copyOf(sent);
            inFlight = inFlight == null ? Map.of() : Map.copyOf(inFlight);
        }
    }

    private final List<String> nodes;
    /** {@code distance[i][j]}: {@code D(nodes[i], nodes[j])}, {@link Long#MAX_VALUE} for no path. */
    private final long[][] distance;
    private final Map<String, Integer> index = new HashMap<>();
    private final TreeMap<Long, Map<String, RoundDone>> rounds = new TreeMap<>();
    private final Map<String, RoundDone> latest = new HashMap<>();
    private final Map<String, Long> quiescedIn = new HashMap<>();
    /** {@link #earliest} of each round once known: every node asks for several bounds of the same round. */
    private final TreeMap<Long, Map<String, Long>> earliestByRound = new TreeMap<>();

    /** @param nodes the run's topology (without the run controller) */
    public RoundClock(List<String> nodes, LatencyModel latency) {
        this.nodes = List.copyOf(nodes);
        int n = this.nodes.size();
        for (int i = 0; i < n; i++) {
            index.put(this.nodes.get(i), i);
        }
        long[][] link = new long[n][n];
        for (int i = 0; i < n; i++) {
            for (int j = 0; j < n; j++) {
                link[i][j] = latency.lookaheadNs(this.nodes.get(i), this.nodes.get(j));
            }
        }
        long[][] d = new long[n][];
        for (int i = 0; i < n; i++) {
            d[i] = link[i].clone();
        }
        for (int m = 0; m < n; m++) { // Floyd-Warshall, without the empty path: d[i][i] is a cycle
            for (int i = 0; i < n; i++) {
                if (d[i][m] == Long.MAX_VALUE) {
                    continue;
                }
                for (int j = 0; j < n; j++) {
                    if (d[m][j] != Long.MAX_VALUE && d[i][m] + d[m][j] < d[i][j]) {
                        d[i][j] = d[i][m] + d[m][j];
                    }
                }
            }
        }
        this.distance = d;
    }

    /** The shortest path's lookahead from {@code from} to {@code to} (back to itself when they are the same node). */
    public long distanceNs(String from, String to) {
        return distance[index.get(from)][index.get(to)];
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
     * When each node taking part in round {@code k} can take something at the earliest, once
     * every node taking part in round {@code k - 1} said it finished it (empty until then):
     * its own next input or timer, or a message sent to it in round {@code k - 1}.
     * {@link Long#MAX_VALUE} for a node with nothing left to take.
     */
    private Optional<Map<String, Long>> earliest(long k) {
        Map<String, Long> known = earliestByRound.get(k);
        if (known != null) {
            return Optional.of(known);
        }
        Map<String, RoundDone> previous = rounds.getOrDefault(k - 1, Map.of());
        Map<String, Long> earliest = new HashMap<>();
        List<RoundDone> said = new ArrayList<>();
        for (String node : nodes) {
            if (!active(node, k - 1)) {
                continue;
            }
            RoundDone d = previous.get(node);
            if (d == null) {
                return Optional.empty();
            }
            said.add(d);
        }
        if (k == 1) {
            RoundDone start = previous.get(NodeIds.CONTROL);
            if (start == null) {
                return Optional.empty();
            }
            said.add(start);
        }
        for (RoundDone d : said) {
            if (nodes.contains(d.node()) && active(d.node(), k)) {
                earliest.merge(d.node(), d.nextNs(), Math::min);
            }
            d.inFlight().forEach((dest, at) -> {
                if (active(dest, k)) {
                    earliest.merge(dest, at, Math::min);
                }
            });
        }
        earliestByRound.put(k, earliest); // final: round k - 1 is complete, and later copies of its RoundDones are ignored
        return Optional.of(earliest);
    }

    /**
     * The bound of round {@code k >= 1} for {@code node}, once every node taking part in round
     * {@code k - 1} said it finished it; {@link Long#MAX_VALUE} when nothing is left to happen
     * that could reach it.
     */
    public OptionalLong bound(long k, String node) {
        Optional<Map<String, Long>> earliest = earliest(k);
        if (earliest.isEmpty()) {
            return OptionalLong.empty();
        }
        int to = index.get(node);
        long bound = Long.MAX_VALUE;
        for (Map.Entry<String, Long> e : earliest.get().entrySet()) {
            long path = distance[index.get(e.getKey())][to];
            if (e.getValue() != Long.MAX_VALUE && path != Long.MAX_VALUE) {
                bound = Math.min(bound, e.getValue() + path);
            }
        }
        return OptionalLong.of(bound);
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

    /** True when every node's RoundDone said it quiesced. */
    public boolean allQuiesced() {
        return nodes.stream().allMatch(quiescedIn::containsKey);
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
        Optional<Map<String, Long>> next = k < 0 ? Optional.empty() : earliest(k + 1);
        return next.isPresent() && next.get().values().stream().allMatch(at -> at == Long.MAX_VALUE);
    }

    /**
     * How far simulated time got everywhere: the smallest bound of the latest round every node
     * taking part in it has finished (0 before round 1).
     */
    public long reachedNs() {
        long reached = 0;
        for (long k = rounds.isEmpty() ? 1 : rounds.firstKey() + 1; rounds.containsKey(k - 1); k++) {
            if (!everyActiveFinished(k)) {
                break;
            }
            long least = Long.MAX_VALUE;
            for (String node : nodes) {
                if (active(node, k)) {
                    OptionalLong b = bound(k, node);
                    if (b.isEmpty()) {
                        return reached;
                    }
                    least = Math.min(least, b.getAsLong());
                }
            }
            if (least == Long.MAX_VALUE) {
                break;
            }
            reached = Math.max(reached, least);
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
        earliestByRound.headMap(k).clear();
    }
}
