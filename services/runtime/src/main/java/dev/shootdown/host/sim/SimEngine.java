package dev.shootdown.host.sim;

import dev.shootdown.core.NodeStateMachine;
import dev.shootdown.event.ControlEvent;
import dev.shootdown.event.Envelope;
import dev.shootdown.event.InjectionEvent;
import dev.shootdown.event.NodeIds;
import dev.shootdown.fault.FaultKind;
import dev.shootdown.fault.FaultSpec;
import dev.shootdown.host.LatencyModel;
import dev.shootdown.host.NodeDriver;
import dev.shootdown.host.NodeFailedException;
import dev.shootdown.host.ScheduledNode;
import dev.shootdown.kernel.KernelVariant;
import dev.shootdown.scenario.Scenario;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.HashSet;
import java.util.Objects;
import java.util.Set;
import java.util.TreeSet;
import java.util.function.Consumer;
import java.util.function.Function;

/**
 * The deterministic host: every node on one thread, in virtual time. Each node takes its inputs
 * and timers in {@link ScheduledNode}'s order, at delivery times computed from the messages and
 * the seed alone, so the same seed gives the same log, event for event, here and on the Kafka
 * host. The engine always steps the node whose next input or timer is due soonest.
 *
 * <p>By default the engine keeps the whole log (restarts rebuild nodes from it) and returns it in
 * {@link Result#log}. {@link #streamTo} hands every envelope to a sink instead, as it is
 * published, and keeps none: memory then holds only the nodes' state and what is in flight,
 * whatever the run's length (a run that must read its log back, to rebuild a node or hand inputs
 * again, reads it from a history file it writes beside). Publication order is a causal order: an envelope is published after
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
     * Restart {@code nodeId} once the log holds {@code afterEvents} events: its in-memory state,
     * timers and received inputs are lost, and a fresh instance is rebuilt from the log
     * ({@link ScheduledNode#rebuilding}), as a process restarted on the Kafka host is.
     */
    public record Restart(String nodeId, long afterEvents) {}

    private final String runId;
    private final long seed;
    private final Scenario scenario;
    private final KernelVariant kernel;
    private final LatencyModel latency;
    private final List<ScheduledNode> nodes = new ArrayList<>();
    private final Map<String, Integer> index = new HashMap<>();
    /** Each node's next time as last asked, and whether it may have changed since (see {@link #run}). */
    private long[] nextAt;
    private boolean[] stale;
    private final List<Envelope> log = new ArrayList<>();
    private final TreeSet<String> quiesced = new TreeSet<>();
    private final List<Restart> restarts = new ArrayList<>();
    private Function<String, NodeStateMachine> factory;
    private final List<FaultSpec> faults = new ArrayList<>();
    /** A duplicate fault at work on one node's inputs: how many more it delivers twice. */
    private record Duplicating(String node, FaultSpec fault, long[] left) {}

    private final List<Duplicating> duplicating = new ArrayList<>();
    /** The ids faults are planned at ({@code at-event}), and those of them published so far. */
    private final Set<String> wanted = new HashSet<>();
    private final Set<String> seen = new HashSet<>();
    private final Map<String, String> lastEventOf = new HashMap<>();
    private NodeDriver injector;
    /** Where envelopes go when the log is not kept; null: keep the log. */
    private Consumer<Envelope> sink;
    /** Where a streaming run keeps what it published, when it must read it back; null otherwise. */
    private java.nio.file.Path historyFile;
    private java.io.BufferedWriter historyOut;
    private long published;

    /**
     * A run of {@code scenario} whose coordinator runs {@code kernel}; the kernel variant's name
     * is the scenario's policy.
     */
    public SimEngine(String runId, long seed, Scenario scenario, KernelVariant kernel, List<NodeStateMachine> nodes,
            LatencyModel latency) {
        if (!kernel.name().equals(scenario.policy())) {
            throw new IllegalArgumentException("the scenario's policy is " + scenario.policy() + " but the kernel is " + kernel.name());
        }
        this.runId = runId;
        this.seed = seed;
        this.scenario = scenario;
        this.kernel = kernel;
        this.latency = latency;
        for (NodeStateMachine node : nodes) {
            index.put(node.nodeId(), this.nodes.size());
            this.nodes.add(new ScheduledNode(runId, node, scenario.nodeIds(), latency));
        }
        if (!index.keySet().equals(new LinkedHashSet<>(scenario.nodeIds())) || index.size() != nodes.size()) {
            throw new IllegalArgumentException("nodes " + index.keySet() + " do not match the scenario's " + scenario.nodeIds());
        }
    }

    /** Plans restarts; {@code factory} builds a fresh node for an id. */
    public SimEngine withRestarts(List<Restart> plan, Function<String, NodeStateMachine> factory) {
        for (Restart r : plan) {
            if (!index.containsKey(r.nodeId())) {
                throw new IllegalArgumentException("no node " + r.nodeId() + " to restart");
            }
        }
        this.restarts.addAll(plan);
        this.restarts.sort(Comparator.comparingLong(Restart::afterEvents));
        this.factory = factory;
        return this;
    }

    /**
     * Plans the infrastructure faults of a fault plan. On this engine a kill is a restart at once
     * (the node is rebuilt from the log: {@code factory}); a duplicate delivers the next inputs it
     * selects twice and a redelivery hands the node every input it received again (it must drop
     * them all); a pause, a delay or a broker restart has nothing
     * to act on, since there is no wall clock, wire or broker here. Each is recorded in the log as
     * a {@code fault-injected} event of the {@link NodeIds#INJECTOR}, which no node receives.
     */
    public SimEngine withFaults(List<FaultSpec> plan, Function<String, NodeStateMachine> factory) {
        for (FaultSpec f : plan) {
            if (f.kind().layer() != FaultKind.Layer.INFRASTRUCTURE) {
                throw new IllegalArgumentException(f.kind().kebab() + " is a model fault: the nodes inject it themselves");
            }
        }
        this.faults.addAll(plan);
        this.factory = factory;
        return this;
    }

    /**
     * Streams the run: every envelope goes to {@code sink} as it is published, in a causal order,
     * and none is kept in memory ({@link Result#log} is empty, {@link Result#events} counts them).
     * A run that rebuilds a node from the log (a restart or a kill) or hands nodes their inputs
     * again (a redelivery) reads the log back from {@code history}, a file this
     * engine writes as it publishes and removes at the end; null when the run does neither.
     *
     * @throws IllegalStateException at {@link #run} when the run needs its history and has none
     */
    public SimEngine streamTo(Consumer<Envelope> sink, java.nio.file.Path history) {
        this.sink = Objects.requireNonNull(sink);
        this.historyFile = history;
        return this;
    }

    /** {@link #streamTo(Consumer, java.nio.file.Path)} without a history file. */
    public SimEngine streamTo(Consumer<Envelope> sink) {
        return streamTo(sink, null);
    }

    /** True when this run's plan rebuilds a node from the log or hands nodes their inputs again. */
    private boolean readsHistory() {
        return !restarts.isEmpty() || faults.stream().anyMatch(f -> f.kind() == FaultKind.KILL || f.kind() == FaultKind.REDELIVER);
    }

    /** Hands {@code each} every envelope published so far, in publication order. */
    private void forEachPublished(Consumer<Envelope> each) {
        if (sink == null) {
            log.forEach(each);
            return;
        }
        try {
            historyOut.flush();
            try (java.io.BufferedReader in = java.nio.file.Files.newBufferedReader(historyFile,
                    java.nio.charset.StandardCharsets.UTF_8)) {
                for (String line = in.readLine(); line != null; line = in.readLine()) {
                    each.accept(dev.shootdown.codec.EventCodec.decode(line));
                }
            }
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(historyFile + ": cannot read the run's history back", e);
        } catch (dev.shootdown.codec.LogFormatException e) {
            throw new IllegalStateException(historyFile + ": the run's history does not decode: " + e.getMessage(), e);
        }
    }

    /**
     * Runs until every node quiesced, nothing is left to happen, or {@code maxEvents} were
     * published. The run may stop in the middle of handling an input: the events that input
     * produced are all published, so slightly more than {@code maxEvents} can be.
     *
     * @throws NodeFailedException when a node's state machine throws: the run cannot go on
     */
    public Result run(long maxEvents) {
        if (sink != null && readsHistory()) {
            if (historyFile == null) {
                throw new IllegalStateException("this run rebuilds nodes or hands them their inputs again from its log, and a"
                        + " streaming engine keeps none: give streamTo a history file");
            }
            try {
                historyOut = java.nio.file.Files.newBufferedWriter(historyFile, java.nio.charset.StandardCharsets.UTF_8);
            } catch (java.io.IOException e) {
                throw new java.io.UncheckedIOException(historyFile + ": cannot write the run's history", e);
            }
        }
        try {
            return runLoop(maxEvents);
        } finally {
            if (historyOut != null) {
                try {
                    historyOut.close();
                    java.nio.file.Files.deleteIfExists(historyFile);
                } catch (java.io.IOException e) {
                    throw new java.io.UncheckedIOException(historyFile + ": cannot remove the run's history", e);
                }
            }
        }
    }

    private Result runLoop(long maxEvents) {
        for (FaultSpec f : faults) {
            if (f.atEvent() != null) {
                wanted.add(f.atEvent());
            }
        }
        NodeDriver control = NodeDriver.source(runId, NodeIds.CONTROL, scenario.nodeIds());
        injector = NodeDriver.source(runId, NodeIds.INJECTOR, scenario.nodeIds());
        nextAt = new long[nodes.size()];
        stale = new boolean[nodes.size()];
        java.util.Arrays.fill(stale, true);
        publish(control.emit(new ControlEvent.RunStarted(runId, seed, scenario, kernel), 0L));
        long now = 0;
        while (quiesced.size() < nodes.size() && published < maxEvents) {
            while (!restarts.isEmpty() && published >= restarts.get(0).afterEvents()) {
                restart(restarts.remove(0).nodeId());
            }
            maybeInject(now);
            // A node's next time changes only when it steps, takes an input or is rebuilt (all mark it stale),
            // so only those are asked again; the earliest, the first in the topology at a tie, goes next.
            int next = -1;
            long at = Long.MAX_VALUE;
            for (int i = 0; i < nextAt.length; i++) {
                if (stale[i]) {
                    nextAt[i] = nodes.get(i).nextAtNs();
                    stale[i] = false;
                }
                if (nextAt[i] < at) {
                    at = nextAt[i];
                    next = i;
                }
            }
            if (next < 0) {
                break; // nothing left to happen: every node waits for something that will never come
            }
            now = at;
            stale[next] = true;
            List<Envelope> stepped;
            try {
                stepped = nodes.get(next).step().envelopes();
            } catch (RuntimeException e) {
                throw new NodeFailedException(nodes.get(next).nodeId(), e);
            }
            for (Envelope e : stepped) {
                publish(e);
            }
        }
        return new Result(List.copyOf(log), quiesced.size() == nodes.size(), now, published);
    }

    private void maybeInject(long now) {
        for (FaultSpec f : List.copyOf(faults)) {
            boolean due = f.atEvent() != null ? seen.contains(f.atEvent())
                    : published >= (f.afterEvents() == null ? 0 : f.afterEvents());
            if (!due || (f.node() != null && quiesced.contains(f.node()))) {
                continue;
            }
            faults.remove(f);
            String detail;
            String receiver = f.receiver();
            switch (f.kind()) {
                case KILL:
                    detail = f.node() + " killed and rebuilt from the log at once (this engine has no downtime)";
                    restart(f.node());
                    break;
                case DUPLICATE: {
                    // as on the Kafka host: the next inputs it selects, of each node it concerns, are delivered twice
                    long count = f.effectiveCount();
                    for (String node : receiver == null ? scenario.nodeIds() : List.of(receiver)) {
                        duplicating.add(new Duplicating(node, f, new long[] {count}));
                    }
                    detail = (f.link() != null ? "link " + f.link() : receiver != null ? "inputs of " + receiver : "inputs of every node")
                            + (f.topic() != null ? " on " + f.topic() : "") + (f.event() != null ? " of type " + f.event() : "")
                            + " delivered twice" + (count == Long.MAX_VALUE ? "" : ", the next " + count);
                    break;
                }
                case REDELIVER: {
                    long[] handed = {0};
                    forEachPublished(e -> {
                        for (String target : e.links().keySet()) {
                            if (index.containsKey(target) && (receiver == null || receiver.equals(target))) {
                                nodes.get(index.get(target)).receive(e);
                                stale[index.get(target)] = true;
                                handed[0]++;
                            }
                        }
                    });
                    detail = handed[0] + " inputs already received handed again to " + (receiver == null ? "every node" : receiver);
                    break;
                }
                default:
                    detail = "no effect on the deterministic engine: it has no wall clock, wire or broker";
            }
            String where = f.kind() == FaultKind.BROKER_RESTART ? "broker" : f.node() != null ? f.node()
                    : f.link() != null ? f.link() : "every node";
            String target = f.node() != null && lastEventOf.containsKey(f.node()) ? lastEventOf.get(f.node()) : f.atEvent();
            publish(injector.emit(new InjectionEvent.FaultInjected(f.kind().kebab(), FaultKind.Layer.INFRASTRUCTURE.label(),
                    where, target, detail), now));
        }
    }

    private void restart(String nodeId) {
        ScheduledNode.Rebuilding rebuilding = ScheduledNode.rebuilding(runId, factory.apply(nodeId), scenario.nodeIds(), latency);
        forEachPublished(rebuilding::accept);
        ScheduledNode rebuilt = rebuilding.finish();
        nodes.set(index.get(nodeId), rebuilt);
        stale[index.get(nodeId)] = true;
        for (Envelope e : rebuilt.takeUnpublished()) {
            publish(e);
        }
    }

    private void publish(Envelope e) {
        published++;
        if (!faults.isEmpty()) {
            if (wanted.contains(e.id())) {
                seen.add(e.id());
            }
            lastEventOf.put(e.node(), e.id());
        }
        if (sink != null) {
            sink.accept(e);
            if (historyOut != null) {
                try {
                    historyOut.write(dev.shootdown.codec.EventCodec.encode(e));
                    historyOut.write('\n');
                } catch (java.io.IOException x) {
                    throw new java.io.UncheckedIOException(historyFile + ": cannot write the run's history", x);
                }
            }
        } else {
            log.add(e);
        }
        if (e.event() instanceof ControlEvent.NodeQuiesced q) {
            quiesced.add(q.node());
        }
        for (String target : e.links().keySet()) {
            Integer i = index.get(target);
            if (i != null) { // not the run controller: it only counts NodeQuiesced, above
                nodes.get(i).receive(e);
                stale[i] = true;
                for (Duplicating d : duplicating) {
                    if (d.left()[0] > 0 && d.node().equals(target) && d.fault().selectsInput(e)) {
                        d.left()[0]--;
                        nodes.get(i).receive(e); // again: the node must drop it
                    }
                }
            }
        }
    }
}
