package dev.shootdown.host.sim;

import dev.shootdown.core.NodeStateMachine;
import dev.shootdown.core.TimerRequest;
import dev.shootdown.event.ControlEvent;
import dev.shootdown.event.Envelope;
import dev.shootdown.event.NodeIds;
import dev.shootdown.host.LatencyModel;
import dev.shootdown.host.NodeDriver;
import dev.shootdown.scenario.Scenario;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.PriorityQueue;
import java.util.SplittableRandom;
import java.util.TreeSet;
import java.util.function.Consumer;
import java.util.function.Function;

/**
 * The deterministic host: every node on one thread, virtual time, a seeded random source for
 * message latencies. Each sender-to-receiver link is FIFO, as the Kafka host makes it. The same
 * seed gives the same log, event for event.
 *
 * <p>By default the engine keeps the whole log (restarts rebuild nodes from it) and returns it in
 * {@link Result#log}. {@link #streamTo} hands every envelope to a sink instead, as it is
 * published, and keeps none: memory then holds only the nodes' state and what is in flight,
 * whatever the run's length. Publication order is a causal order: an envelope is published after
 * every event its vector clock covers (each node's events in sequence order, each input before
 * anything its delivery caused). It is not {@code CausalOrder}'s canonical order, whose ties go
 * by simulated time.
 *
 * <p>Not thread-safe; {@link #run} is called once.
 */
public final class SimEngine {

    /**
     * The recorded log in emission order (empty when the run {@linkplain #streamTo streamed}),
     * whether every node quiesced, the simulated time of the last step, and how many events were
     * published.
     */
    public record Result(List<Envelope> log, boolean quiesced, long endTimeNs, long events) {

        /** A result whose event count is the log's size. */
        public Result(List<Envelope> log, boolean quiesced, long endTimeNs) {
            this(log, quiesced, endTimeNs, log.size());
        }
    }

    /**
     * Restart {@code nodeId} once the log holds {@code afterEvents} events: its in-memory state and
     * timers are lost, a fresh instance is rebuilt from the log ({@link NodeDriver#recover}) and
     * its inputs are delivered again from the log, as a Kafka consumer reading from the start would.
     */
    public record Restart(String nodeId, long afterEvents) {}

    private record Pending(long atNs, long order, String target, Envelope envelope, TimerRequest timer, long generation) {}

    private final String runId;
    private final long seed;
    private final Scenario scenario;
    private final Map<String, NodeDriver> drivers = new LinkedHashMap<>();
    private final LatencyModel latency;
    private final SplittableRandom random;
    private final PriorityQueue<Pending> queue = new PriorityQueue<>(
            (a, b) -> a.atNs != b.atNs ? Long.compare(a.atNs, b.atNs) : Long.compare(a.order, b.order));
    private final Map<String, Long> lastArrivalOnLink = new HashMap<>();
    private final List<Envelope> log = new ArrayList<>();
    private final TreeSet<String> quiesced = new TreeSet<>();
    private long order;
    private final List<Restart> restarts = new ArrayList<>();
    private Function<String, NodeStateMachine> factory;
    private final Map<String, Long> generation = new HashMap<>();
    /** Where envelopes go when the log is not kept; null: keep the log. */
    private Consumer<Envelope> sink;
    private long published;

    public SimEngine(String runId, long seed, Scenario scenario, List<NodeStateMachine> nodes, LatencyModel latency) {
        this.runId = runId;
        this.seed = seed;
        this.scenario = scenario;
        this.latency = latency;
        this.random = new SplittableRandom(seed);
        for (NodeStateMachine node : nodes) {
            drivers.put(node.nodeId(), new NodeDriver(runId, node, scenario.nodeIds()));
        }
        if (!drivers.keySet().equals(new LinkedHashSet<>(scenario.nodeIds()))) {
            throw new IllegalArgumentException("nodes " + drivers.keySet() + " do not match the scenario's " + scenario.nodeIds());
        }
    }

    /** Plans restarts; {@code factory} builds a fresh node for an id. */
    public SimEngine withRestarts(List<Restart> plan, Function<String, NodeStateMachine> factory) {
        if (sink != null && !plan.isEmpty()) {
            throw new IllegalStateException("restarts need the run's log to rebuild a node from, and a streaming engine"
                    + " (streamTo) keeps no log");
        }
        for (Restart r : plan) {
            if (!drivers.containsKey(r.nodeId())) {
                throw new IllegalArgumentException("no node " + r.nodeId() + " to restart");
            }
        }
        this.restarts.addAll(plan);
        this.restarts.sort(Comparator.comparingLong(Restart::afterEvents));
        this.factory = factory;
        return this;
    }

    /**
     * Streams the run: every envelope goes to {@code sink} as it is published, in a causal order,
     * and none is kept ({@link Result#log} is empty, {@link Result#events} counts them). Restarts
     * cannot be combined with it: they rebuild a node from the log.
     *
     * @throws IllegalStateException when restarts are planned
     */
    public SimEngine streamTo(Consumer<Envelope> sink) {
        if (!restarts.isEmpty()) {
            throw new IllegalStateException("restarts need the run's log to rebuild a node from, and a streaming engine"
                    + " (streamTo) keeps no log");
        }
        this.sink = Objects.requireNonNull(sink);
        return this;
    }

    /**
     * Runs until every node quiesced, or {@code maxEvents} were published. The run may stop in
     * the middle of handling an input: the events that input produced are all published, so
     * slightly more than {@code maxEvents} can be.
     */
    public Result run(long maxEvents) {
        NodeDriver control = NodeDriver.source(runId, NodeIds.CONTROL, scenario.nodeIds());
        publish(control.emit(new ControlEvent.RunStarted(runId, seed, scenario), 0L));
        long now = 0;
        while (!queue.isEmpty() && quiesced.size() < drivers.size() && published < maxEvents) {
            while (!restarts.isEmpty() && published >= restarts.get(0).afterEvents()) {
                restart(restarts.remove(0).nodeId(), now);
            }
            Pending p = queue.poll();
            now = p.atNs;
            if (p.timer != null && p.generation != generation.getOrDefault(p.target, 0L)) {
                continue; // a timer of an instance that was restarted since
            }
            NodeDriver driver = drivers.get(p.target);
            NodeDriver.Output out = p.timer != null
                    ? driver.fire(p.timer.name(), p.timer.fireAtNs())
                    : driver.offer(p.envelope, p.atNs);
            for (Envelope e : out.envelopes()) {
                publish(e);
            }
            for (TimerRequest t : out.timers()) {
                if (!t.isCancel()) {
                    queue.add(new Pending(t.fireAtNs(), order++, p.target, null, t, generation.getOrDefault(p.target, 0L)));
                }
            }
        }
        return new Result(List.copyOf(log), quiesced.size() == drivers.size(), now, published);
    }

    private void restart(String nodeId, long now) {
        long gen = generation.merge(nodeId, 1L, Long::sum);
        NodeDriver recovered = NodeDriver.recover(runId, factory.apply(nodeId), scenario.nodeIds(), log);
        drivers.put(nodeId, recovered);
        for (TimerRequest t : recovered.recoveryTimers()) {
            queue.add(new Pending(Math.max(now, t.fireAtNs()), order++, nodeId, null, t, gen));
        }
        // Re-read every input from the start of the log; the driver drops what it already delivered.
        for (Envelope e : log) {
            if (e.links().containsKey(nodeId)) {
                queue.add(new Pending(now, order++, nodeId, e, null, gen));
            }
        }
    }

    private void publish(Envelope e) {
        published++;
        if (sink != null) {
            sink.accept(e);
        } else {
            log.add(e);
        }
        if (e.event() instanceof ControlEvent.NodeQuiesced q) {
            quiesced.add(q.node());
        }
        for (String target : e.links().keySet()) {
            if (!drivers.containsKey(target)) {
                continue; // the run controller: it only counts NodeQuiesced, above
            }
            String link = e.node() + ">" + target;
            long at = e.timeNs() + latency.sampleNs(e.event(), random);
            at = Math.max(at, lastArrivalOnLink.getOrDefault(link, 0L));
            lastArrivalOnLink.put(link, at);
            queue.add(new Pending(at, order++, target, e, null, 0L));
        }
    }
}
