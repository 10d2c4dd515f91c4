package dev.shootdown.host.kafka;

import dev.shootdown.codec.EventCodec;
import dev.shootdown.codec.LogFormatException;
import dev.shootdown.event.ControlEvent;
import dev.shootdown.event.Envelope;
import dev.shootdown.event.Family;
import dev.shootdown.event.NodeIds;
import dev.shootdown.event.Routing;
import dev.shootdown.host.NodeDriver;
import dev.shootdown.host.CausalClock;
import dev.shootdown.event.InjectionEvent;
import dev.shootdown.fault.FaultKind;
import dev.shootdown.fault.FaultSpec;
import dev.shootdown.kernel.KernelVariant;
import dev.shootdown.scenario.Scenario;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.Consumer;
import java.util.function.Function;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.PartitionInfo;
import org.apache.kafka.common.TopicPartition;

/**
 * The run controller of the Kafka host: creates the run's topics, deploys one verticle per node,
 * publishes RunStarted, waits until every node reports NodeQuiesced, undeploys, and reads the
 * whole log back from the topics. The nodes share nothing but those topics.
 */
public final class KafkaRunner {

    /**
     * The run's log as read back from Kafka, in causal order; whether every node quiesced; and
     * every verticle instance that ran, in deployment order.
     */
    public record Result(List<RecordedEvent> log, boolean quiesced, List<String> missingNodes, List<NodeVerticle> instances,
            boolean stalled) {}

    /** What a fault injector can do to the broker: a restart, down for a while. */
    public interface BrokerControl {
        void restart(Duration down) throws Exception;
    }

    /**
     * Once {@code nodeId} has recorded {@code afterEvents} events, undeploy its verticle and deploy
     * a new one (progress, not wall time, so the point holds on a slow machine).
     */
    public record Redeploy(String nodeId, long afterEvents) {}

    private final KafkaHostConfig config;
    /** Whether {@link Result#log} holds the run read back (false: the caller reads it itself, {@link RunLogReader#stream}). */
    private boolean readBack = true;

    /** This runner, its results without the log: the caller streams it back from the topics ({@link RunLogReader#stream}). */
    public KafkaRunner withoutLog() {
        this.readBack = false;
        return this;
    }

    public KafkaRunner(KafkaHostConfig config) {
        this.config = config;
    }

    /**
     * Runs one scenario, its coordinator running {@code kernel} (named as the scenario's policy).
     *
     * @param factory    builds a new verticle for a node id, over the same {@link NodeHost}; null when
     *                   the nodes run elsewhere ({@link ClusterNode}s, which join the run when its
     *                   RunStarted appears)
     * @param redeploys  verticles to replace while the run goes on
     * @param runTimeout how long to wait for every node to quiesce
     * @param progress   told each NodeQuiesced as it arrives
     */
    public Result run(NodeHost host, long seed, Scenario scenario, KernelVariant kernel, Function<String, NodeVerticle> factory,
            List<Redeploy> redeploys, Duration runTimeout, Consumer<String> progress) throws InfrastructureException {
        return run(host, seed, scenario, kernel, factory, redeploys, List.of(), null, runTimeout, progress);
    }

    /**
     * Runs one scenario and does the plan's infrastructure faults to it as it goes
     * ({@link FaultSpec}s of the {@link FaultKind.Layer#INFRASTRUCTURE} layer): kill (the node's
     * verticle dies as with {@code kill -9}, stays down {@code downMs}, and a new one rebuilds from
     * the log), pause, delay and duplicate of inputs, redelivery from the start, and broker restart
     * (through {@code broker}). Each is recorded in the log as a {@code fault-injected} event of
     * the {@link NodeIds#INJECTOR}, which no node receives.
     *
     * @throws IllegalArgumentException when a fault cannot be done here (no own verticles, no broker control)
     */
    public Result run(NodeHost host, long seed, Scenario scenario, KernelVariant kernel, Function<String, NodeVerticle> factory,
            List<Redeploy> redeploys, List<FaultSpec> faults, BrokerControl broker, Duration runTimeout,
            Consumer<String> progress) throws InfrastructureException {
        if (!kernel.name().equals(scenario.policy())) {
            throw new IllegalArgumentException("the scenario's policy is " + scenario.policy() + " but the kernel is " + kernel.name());
        }
        String runId = host.runId();
        for (FaultSpec f : faults) {
            if (f.kind().layer() != FaultKind.Layer.INFRASTRUCTURE) {
                throw new IllegalArgumentException(f.kind().kebab() + " is a model fault: the nodes inject it themselves");
            }
            if (factory == null) {
                throw new IllegalArgumentException("infrastructure faults need the run's own verticles; on a cluster of"
                        + " `shootdown node` processes, kill or stop the processes themselves");
            }
            if (f.kind() == FaultKind.BROKER_RESTART && broker == null) {
                throw new IllegalArgumentException("broker-restart needs the embedded broker (no --bootstrap-servers)");
            }
        }
        try (Admin admin = Admin.create(config.baseProperties())) {
            RunTopics.checkReachable(admin, config);
            RunTopics.create(admin, runId, config);
        }
        Vertx vertx = Vertx.vertx();
        Map<String, String> deployments = new LinkedHashMap<>();
        List<NodeVerticle> instances = new ArrayList<>();
        List<Redeploy> pending = new ArrayList<>(redeploys);
        List<FaultSpec> planned = new ArrayList<>();
        // Kills at one of the node's own events happen inside the node, exactly there (crashAfter).
        Map<String, java.util.TreeMap<Long, FaultSpec>> killsAt = new HashMap<>();
        for (FaultSpec f : faults) {
            if (f.kind() == FaultKind.KILL && f.atEvent() != null && f.atEvent().startsWith(f.node() + "#")) {
                killsAt.computeIfAbsent(f.node(), k -> new java.util.TreeMap<>())
                        .put(Long.parseLong(f.atEvent().substring(f.node().length() + 1)), f);
            } else {
                planned.add(f);
            }
        }
        Map<String, Future<String>> crashes = new HashMap<>();
        Map<String, String> lastEventOf = new HashMap<>();
        java.util.Set<String> seen = new java.util.HashSet<>();
        long total = 0;
        boolean stalled = false;
        Map<String, Long> recorded = new HashMap<>();
        TreeSet<String> quiesced = new TreeSet<>();
        try {
            if (factory == null && !redeploys.isEmpty()) {
                throw new IllegalArgumentException("redeploys need the run's own verticles; the nodes run elsewhere");
            }
            // Every node at once: each start reads the run's topics to rebuild itself, which takes a while.
            Map<String, Future<String>> deploying = new LinkedHashMap<>();
            for (String node : factory == null ? List.<String>of() : host.topology()) {
                NodeVerticle v = factory.apply(node);
                instances.add(v);
                deploying.put(node, vertx.deployVerticle(v));
            }
            for (Map.Entry<String, Future<String>> d : deploying.entrySet()) {
                deployments.put(d.getKey(), await(d.getValue(), "deploying " + d.getKey()));
            }
            killsAt.forEach((node, at) -> crashes.put(node, current(node, instances).crashAfter(at.firstKey())));
            try (KafkaProducer<String, String> producer = new KafkaProducer<>(config.producerProperties("shootdown-control-" + runId));
                    KafkaConsumer<String, String> consumer = new KafkaConsumer<>(
                            config.consumerProperties("shootdown-control-" + runId))) {
                String controlTopic = Routing.topic(runId, Family.CONTROL);
                // The control topic tells when nodes quiesce; the others, with it, how far each node got.
                List<String> watched = new ArrayList<>(pending.isEmpty() && planned.isEmpty() ? List.of(controlTopic)
                        : RunTopics.names(runId));
                String timeTopic = RunTopics.time(runId);
                watched.add(timeTopic);
                List<TopicPartition> partitions = new ArrayList<>();
                for (String topic : watched) {
                    for (PartitionInfo info : consumer.partitionsFor(topic, config.requestTimeout())) {
                        partitions.add(new TopicPartition(topic, info.partition()));
                    }
                }
                consumer.assign(partitions);
                consumer.seekToBeginning(partitions);
                if (factory == null) {
                    // The nodes run in processes of their own: one that fails says so on the presence topic.
                    TopicPartition presence = new TopicPartition(ClusterTopics.PRESENCE, 0);
                    List<TopicPartition> withPresence = new ArrayList<>(partitions);
                    withPresence.add(presence);
                    consumer.assign(withPresence);
                    consumer.seekToBeginning(partitions);
                    consumer.seekToEnd(List.of(presence));
                    consumer.position(presence, config.requestTimeout()); // fixed before the run is announced
                    awaitClusterNodes(host, producer, runTimeout);
                }
                NodeDriver control = NodeDriver.source(runId, NodeIds.CONTROL, host.topology());
                Envelope start = control.emit(new ControlEvent.RunStarted(runId, seed, scenario, kernel), 0L);
                producer.send(new ProducerRecord<>(controlTopic, Routing.key(start), EventCodec.encode(start)))
                        .get(config.requestTimeout().toMillis(), TimeUnit.MILLISECONDS);
                // The run controller's status: RunStarted, one event to each node, due at its delivery time; nothing after.
                Map<String, Long> runStartedDue = new java.util.TreeMap<>();
                for (String node : host.topology()) {
                    runStartedDue.put(node, start.timeNs() + host.latency().sampleNs(start, node, seed));
                }
                CausalClock.Status started = new CausalClock.Status(NodeIds.CONTROL, start.seq(), 0, control.sentOnLinks(), Map.of(),
                        Long.MAX_VALUE, Long.MAX_VALUE, runStartedDue, Map.of(), false, false);
                producer.send(new ProducerRecord<>(timeTopic, NodeIds.CONTROL, RunTopics.encode(started)))
                        .get(config.requestTimeout().toMillis(), TimeUnit.MILLISECONDS);

                Map<String, CausalClock.Status> latest = new HashMap<>();
                NodeDriver injector = NodeDriver.source(runId, NodeIds.INJECTOR, host.topology());
                long deadline = System.nanoTime() + runTimeout.toNanos();
                while ((quiesced.size() < host.topology().size() && !stalled
                        || crashes.values().stream().anyMatch(Future::isComplete)) && System.nanoTime() < deadline) {
                    for (ConsumerRecord<String, String> r : consumer.poll(Duration.ofMillis(50))) {
                        if (r.topic().equals(timeTopic)) {
                            CausalClock.Status status = RunTopics.decodeStatus(r.value());
                            latest.put(status.node(), status);
                            continue;
                        }
                        if (r.topic().equals(ClusterTopics.PRESENCE)) {
                            nodeFailed(runId, r);
                            continue;
                        }
                        Envelope e = EventCodec.decode(r.value());
                        recorded.merge(e.node(), 1L, Long::sum);
                        total++;
                        lastEventOf.put(e.node(), e.id());
                        if (!planned.isEmpty()) {
                            seen.add(e.id());
                        }
                        if (e.event() instanceof ControlEvent.NodeQuiesced q && quiesced.add(q.node())) {
                            progress.accept(q.node());
                        }
                    }
                    // The mm worked out that nothing is left to happen anywhere, yet some node never quiesced. (When every
                    // node's status says it quiesced, its NodeQuiesced, on the control topic, is still to be read: the
                    // consumer hands each topic's records over in its own time.)
                    stalled = quiesced.size() < host.topology().size() && finished(latest)
                            && !host.topology().stream().allMatch(n -> latest.containsKey(n) && latest.get(n).quiesced());
                    java.util.Optional<String> failed = host.errors().firstFatal();
                    if (failed.isPresent()) {
                        throw new InfrastructureException("run " + runId + " stopped: " + failed.get());
                    }
                    for (Map.Entry<String, Future<String>> crash : List.copyOf(crashes.entrySet())) {
                        if (!crash.getValue().isComplete()) {
                            continue;
                        }
                        String node = crash.getKey();
                        String killedAfter = crash.getValue().result(); // before the entry's value is the next kill's
                        java.util.TreeMap<Long, FaultSpec> at = killsAt.get(node);
                        FaultSpec f = at.pollFirstEntry().getValue();
                        // The next kill is armed before the new instance publishes anything.
                        String detail = restart(node, f, vertx, deployments, instances, factory, v -> {
                            if (at.isEmpty()) {
                                crashes.remove(node);
                            } else {
                                crashes.put(node, v.crashAfter(at.firstKey()));
                            }
                        });
                        Envelope injected = injector.emit(new InjectionEvent.FaultInjected(f.kind().kebab(),
                                FaultKind.Layer.INFRASTRUCTURE.label(), node, killedAfter,
                                node + " killed right after sending " + killedAfter + "; " + detail),
                                reachedNs(latest, host.topology()));
                        producer.send(new ProducerRecord<>(Routing.topic(runId, Family.INJECTION), Routing.key(injected),
                                EventCodec.encode(injected))).get(config.requestTimeout().toMillis(), TimeUnit.MILLISECONDS);
                    }
                    for (FaultSpec f : List.copyOf(planned)) {
                        boolean due = f.atEvent() != null ? seen.contains(f.atEvent())
                                : total >= (f.afterEvents() == null ? 0 : f.afterEvents());
                        if (due && (f.node() == null || !quiesced.contains(f.node()))) {
                            planned.remove(f);
                            String detail = inject(f, host, vertx, deployments, instances, factory, broker);
                            String where = f.kind() == FaultKind.BROKER_RESTART ? "broker" : f.node() != null ? f.node()
                                    : f.link() != null ? f.link() : "every node";
                            String target = f.node() != null && lastEventOf.containsKey(f.node()) ? lastEventOf.get(f.node())
                                    : f.atEvent();
                            Envelope injected = injector.emit(new InjectionEvent.FaultInjected(f.kind().kebab(),
                                    FaultKind.Layer.INFRASTRUCTURE.label(), where, target, detail), reachedNs(latest, host.topology()));
                            producer.send(new ProducerRecord<>(Routing.topic(runId, Family.INJECTION), Routing.key(injected),
                                    EventCodec.encode(injected))).get(config.requestTimeout().toMillis(), TimeUnit.MILLISECONDS);
                        }
                    }
                    for (Redeploy redeploy : List.copyOf(pending)) {
                        if (recorded.getOrDefault(redeploy.nodeId(), 0L) >= redeploy.afterEvents()
                                && !quiesced.contains(redeploy.nodeId())) {
                            pending.remove(redeploy);
                            String node = redeploy.nodeId();
                            await(vertx.undeploy(deployments.get(node)), "undeploying " + node);
                            NodeVerticle v = factory.apply(node);
                            instances.add(v);
                            deployments.put(node, await(vertx.deployVerticle(v), "redeploying " + node));
                        }
                    }
                }
            }
        } catch (ExecutionException | TimeoutException | LogFormatException e) {
            throw new InfrastructureException("run " + runId + " failed: " + e.getMessage(), e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new InfrastructureException("run " + runId + " interrupted");
        } finally {
            for (String id : deployments.values()) {
                try {
                    await(vertx.undeploy(id), "undeploying");
                } catch (InfrastructureException e) {
                    host.errors().record("control", e.getMessage(), null);
                }
            }
            try {
                await(vertx.close(), "closing Vert.x");
            } catch (InfrastructureException e) {
                host.errors().record("control", e.getMessage(), null);
            }
        }
        List<String> missing = new ArrayList<>(host.topology());
        missing.removeAll(quiesced);
        return new Result(readBack ? RunLogReader.read(config, runId) : List.of(), missing.isEmpty(), missing,
                List.copyOf(instances), stalled);
    }

    /** True when the mm's latest status says nothing is left to happen anywhere. */
    private static boolean finished(Map<String, CausalClock.Status> latest) {
        return latest.values().stream().anyMatch(CausalClock.Status::finished);
    }

    /**
     * How far simulated time got everywhere, as the statuses read so far tell: the earliest time
     * any node that has not quiesced may still emit something (0 before every node said one).
     */
    private static long reachedNs(Map<String, CausalClock.Status> latest, List<String> topology) {
        long reached = Long.MAX_VALUE;
        for (String node : topology) {
            CausalClock.Status s = latest.get(node);
            if (s == null) {
                return 0;
            }
            if (!s.quiesced()) {
                reached = Math.min(reached, s.promiseNs());
            }
        }
        return reached == Long.MAX_VALUE || reached < 0 ? 0 : reached;
    }

    /** Does {@code f} and says what was done, in one line. */
    private String inject(FaultSpec f, NodeHost host, Vertx vertx, Map<String, String> deployments, List<NodeVerticle> instances,
            Function<String, NodeVerticle> factory, BrokerControl broker) throws InfrastructureException {
        switch (f.kind()) {
            case KILL: {
                await(current(f.node(), instances).crash(), "killing " + f.node());
                return f.node() + " killed (it publishes nothing more; what it had not handed to the producer is lost); " + restart(f.node(), f, vertx, deployments, instances,
                        factory, v -> { });
            }
            case PAUSE: {
                long pauseMs = f.pauseMs() == null ? 200 : f.pauseMs();
                await(current(f.node(), instances).pause(pauseMs), "pausing " + f.node());
                return f.node() + " takes no input for " + pauseMs + " ms";
            }
            case DELAY:
            case DUPLICATE:
            case REDELIVER: {
                String receiver = f.receiver();
                java.util.function.Predicate<Envelope> which = f::selectsInput;
                long count = f.effectiveCount();
                for (String node : receiver == null ? host.topology() : List.of(receiver)) {
                    NodeVerticle v = current(node, instances);
                    if (f.kind() == FaultKind.DELAY) {
                        await(v.delayInputs(which, count, f.delayMs() == null ? 50 : f.delayMs()), "delaying inputs of " + node);
                    } else if (f.kind() == FaultKind.DUPLICATE) {
                        await(v.duplicateInputs(which, count), "duplicating inputs of " + node);
                    } else {
                        await(v.redeliver(), "redelivering to " + node);
                    }
                }
                String what = (f.link() != null ? "link " + f.link() : receiver != null ? "inputs of " + receiver : "inputs of every node")
                        + (f.topic() != null ? " on " + f.topic() : "") + (f.event() != null ? " of type " + f.event() : "");
                return f.kind() == FaultKind.DELAY ? what + " delayed by " + (f.delayMs() == null ? 50 : f.delayMs()) + " ms"
                                + (count == Long.MAX_VALUE ? "" : ", the next " + count)
                        : f.kind() == FaultKind.DUPLICATE ? what + " delivered twice" + (count == Long.MAX_VALUE ? "" : ", the next " + count)
                        : what + " read again from the beginning";
            }
            case BROKER_RESTART: {
                long downMs = f.downMs() == null ? 1000 : f.downMs();
                try {
                    broker.restart(Duration.ofMillis(downMs));
                } catch (Exception e) {
                    throw new InfrastructureException("restarting the broker failed: " + e.getMessage(), e);
                }
                return "the broker stopped, stayed down " + downMs + " ms and restarted with its data";
            }
            default:
                throw new IllegalArgumentException(f.kind().kebab() + " is not an infrastructure fault");
        }
    }

    /** Undeploys the dead instance of {@code node}, leaves it down, and deploys a new one, which rebuilds from the log. */
    private String restart(String node, FaultSpec f, Vertx vertx, Map<String, String> deployments, List<NodeVerticle> instances,
            Function<String, NodeVerticle> factory, Consumer<NodeVerticle> beforeStart) throws InfrastructureException {
        long downMs = f.downMs() == null ? 100 : f.downMs();
        await(vertx.undeploy(deployments.get(node)), "undeploying " + node);
        sleep(downMs);
        NodeVerticle v = factory.apply(node);
        beforeStart.accept(v);
        instances.add(v);
        deployments.put(node, await(vertx.deployVerticle(v), "restarting " + node));
        return "down " + downMs + " ms, restarted and rebuilt from the log with " + v.recoveredEvents() + " of its events";
    }

    private static NodeVerticle current(String node, List<NodeVerticle> instances) {
        for (int i = instances.size() - 1; i >= 0; i--) {
            if (instances.get(i).nodeId().equals(node)) {
                return instances.get(i);
            }
        }
        throw new IllegalArgumentException("no node " + node + " in this run");
    }

    private static void sleep(long ms) throws InfrastructureException {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new InfrastructureException("interrupted");
        }
    }

    /** A node process said it failed in this run (its state machine threw): the run ends, naming it. */
    private static void nodeFailed(String runId, ConsumerRecord<String, String> r) throws InfrastructureException {
        ClusterTopics.Presence said;
        try {
            said = ClusterTopics.decode(r.value(), ClusterTopics.Presence.class);
        } catch (com.fasterxml.jackson.core.JsonProcessingException bad) {
            return; // not ours to judge: a node's own record it could not write well
        }
        if (said instanceof ClusterTopics.NodeFailed failed && failed.run().equals(runId)) {
            throw new InfrastructureException("run " + runId + " stopped: " + failed.error() + " (in the `shootdown node`"
                    + " process " + failed.instance() + ")");
        }
    }

    /**
     * The nodes run elsewhere ({@link ClusterNode}): announce the run with the nodes it needs and
     * wait until each has joined it (deployed and reading the run's topics), so that the run
     * starts with every node there, as it does when this runner deploys them itself.
     */
    private void awaitClusterNodes(NodeHost host, KafkaProducer<String, String> producer, Duration timeout)
            throws InfrastructureException, ExecutionException, TimeoutException, InterruptedException {
        String runId = host.runId();
        try (Admin admin = Admin.create(config.baseProperties());
                KafkaConsumer<String, String> presence = new KafkaConsumer<>(config.consumerProperties("shootdown-control-presence-" + runId))) {
            ClusterTopics.create(admin, config);
            TopicPartition tp = new TopicPartition(ClusterTopics.PRESENCE, 0);
            presence.assign(List.of(tp));
            presence.seekToEnd(List.of(tp));
            presence.position(tp, config.requestTimeout()); // fixes the start before the announcement
            producer.send(new ProducerRecord<>(ClusterTopics.RUNS, runId,
                    ClusterTopics.encode(new ClusterTopics.RunAnnounced(runId, host.topology()))))
                    .get(config.requestTimeout().toMillis(), TimeUnit.MILLISECONDS);
            TreeSet<String> waiting = new TreeSet<>(host.topology());
            waiting.remove(NodeIds.CONTROL);
            long deadline = System.nanoTime() + timeout.toNanos();
            while (!waiting.isEmpty() && System.nanoTime() < deadline) {
                for (ConsumerRecord<String, String> r : presence.poll(Duration.ofMillis(50))) {
                    try {
                        if (ClusterTopics.decode(r.value(), ClusterTopics.Presence.class) instanceof ClusterTopics.NodeJoined joined
                                && joined.run().equals(runId)) {
                            waiting.remove(joined.node());
                        }
                    } catch (com.fasterxml.jackson.core.JsonProcessingException bad) {
                        host.errors().record("control", "a bad presence record at offset " + r.offset(), null);
                    }
                }
            }
            if (!waiting.isEmpty()) {
                throw new InfrastructureException("run " + runId + ": no `shootdown node` joined it within " + timeout.toSeconds()
                        + " s for " + waiting + " (is one running for each on " + config.bootstrapServers() + "?)");
            }
        }
    }

    private <T> T await(Future<T> future, String what) throws InfrastructureException {
        try {
            return future.toCompletionStage().toCompletableFuture().get(config.requestTimeout().toMillis() * 2,
                    TimeUnit.MILLISECONDS);
        } catch (ExecutionException | TimeoutException e) {
            Throwable cause = e.getCause() == null ? e : e.getCause();
            throw new InfrastructureException(what + " failed: " + cause.getMessage(), e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new InfrastructureException(what + " interrupted");
        }
    }
}
