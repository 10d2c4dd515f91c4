package dev.shootdown.host.kafka;

import dev.shootdown.codec.EventCodec;
import dev.shootdown.codec.LogFormatException;
import dev.shootdown.event.ControlEvent;
import dev.shootdown.event.Envelope;
import dev.shootdown.event.Family;
import dev.shootdown.event.Routing;
import dev.shootdown.host.ErrorLog;
import dev.shootdown.host.LatencyModel;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
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
 * One node of a long-lived cluster, in its own process ({@code shootdown node}): it watches the
 * cluster for runs and takes its part in each run whose scenario names it. A run is found by its
 * control topic; its RunStarted gives the scenario and so the topology; the node then deploys its
 * verticle for that run, which, like every start of a {@link NodeVerticle}, rebuilds the node
 * from the run's topics and goes on from there. So a node that was down, or started late, joins a
 * run in progress; a run where it already reported NodeQuiesced is left alone.
 *
 * <p>Single-threaded: {@link #runUntilClosed} polls the control topics on the calling thread;
 * the verticles run on a Vert.x instance of their own.
 */
public final class ClusterNode implements AutoCloseable {

    /** What this node knows of one run from its control topic. */
    private static final class Run {
        final String id;
        List<String> topology;
        boolean quiescedHere;
        String deployment;
        /** What this node's verticle for the run records; a fatal error ends its part in the run. */
        final ErrorLog errors = new ErrorLog();
        /** Why this node failed in the run (its state machine threw), or null. */
        String failure;
        /** The control topic's end when the node first saw the run: read up to it before deciding. */
        final Map<TopicPartition, Long> catchUpTo = new HashMap<>();

        Run(String id) {
            this.id = id;
        }
    }

    private final String nodeId;
    private final KafkaHostConfig config;
    private final Function<NodeHost, NodeVerticle> factory;
    private final Consumer<String> log;
    private final Vertx vertx = Vertx.vertx();
    private final Map<String, Run> runs = new LinkedHashMap<>();
    /**
     * The nodes of each run announced on {@value ClusterTopics#RUNS}. Only those runs are joined: a
     * run whose controller hosts its own nodes (no {@code --nodes cluster}) is never announced,
     * and a second instance of its nodes would break its time protocol (the mm's promises rest on
     * knowing everything it sent).
     */
    private final Map<String, List<String>> announcedTopology = new java.util.HashMap<>();
    private KafkaProducer<String, String> presence;
    private volatile boolean closed;
    private volatile boolean ready;
    private final NodeObserver observer;
    private final String instance;
    private final long startedAtMs;
    /** Other nodes, by id: their latest heartbeat, and whether they were reported dead. */
    private final Map<String, Peer> peers = new java.util.TreeMap<>();
    private long nextHeartbeatMs;

    private static final class Peer {
        ClusterTopics.NodeHeartbeat last;
        boolean dead;
    }

    /**
     * What {@code /health} shows: ready once watching the cluster; the runs it is in; each peer,
     * up or dead; and the runs it failed in, with the error.
     */
    public record Health(boolean ready, String node, String instance, List<String> runs, Map<String, String> peers,
            Map<String, String> failed) {}


    /**
     * @param factory builds this node's verticle for a run's {@link NodeHost}
     * @param log     told what the node does, a line at a time ("joined run X", "left run X")
     */
    public ClusterNode(String nodeId, KafkaHostConfig config, Function<NodeHost, NodeVerticle> factory, Consumer<String> log) {
        this(nodeId, config, factory, log, NodeObserver.NONE);
    }

    /** As above, with every verticle reporting its inputs and outputs to {@code observer}. */
    public ClusterNode(String nodeId, KafkaHostConfig config, Function<NodeHost, NodeVerticle> factory, Consumer<String> log,
            NodeObserver observer) {
        this(nodeId, newInstance(), config, factory, log, observer);
    }

    /**
     * As above, as the process {@code instance} (from {@link #newInstance()}, made before the node id was
     * claimed with it: {@link IndexClaim}).
     */
    public ClusterNode(String nodeId, String instance, KafkaHostConfig config, Function<NodeHost, NodeVerticle> factory,
            Consumer<String> log, NodeObserver observer) {
        this.nodeId = nodeId;
        this.config = config;
        this.factory = factory;
        this.log = log;
        this.observer = observer;
        this.instance = instance;
        this.startedAtMs = startedAt(instance);
    }

    /** This process, as its heartbeats name it: host, pid and start time (now). */
    public static String newInstance() {
        String host;
        try {
            host = java.net.InetAddress.getLocalHost().getHostName();
        } catch (java.io.IOException unknown) {
            host = "localhost";
        }
        return host + "/pid " + ProcessHandle.current().pid() + "/started " + java.time.Instant.ofEpochMilli(System.currentTimeMillis());
    }

    /** This process, as its heartbeats name it. */
    public String instance() {
        return instance;
    }

    /** This node's health now. */
    public synchronized Health health() {
        Map<String, String> peerStates = new java.util.TreeMap<>();
        peers.forEach((id, p) -> peerStates.put(id, p.dead ? "dead" : "up"));
        Map<String, String> failed = new java.util.TreeMap<>();
        runs.values().forEach(r -> {
            if (r.failure != null) {
                failed.put(r.id, r.failure);
            }
        });
        return new Health(ready, nodeId, instance, List.copyOf(new java.util.TreeSet<>(activeRuns())), peerStates, failed);
    }

    public String nodeId() {
        return nodeId;
    }

    /** The runs this node has a verticle deployed for now. */
    public synchronized Set<String> activeRuns() {
        Set<String> out = new HashSet<>();
        runs.values().forEach(r -> {
            if (r.deployment != null) {
                out.add(r.id);
            }
        });
        return out;
    }

    /**
     * Watches the cluster until {@link #close()}: every {@code scanEvery}, lists the runs; reads
     * their control topics; joins and leaves runs. {@code ready} is called once, after the first
     * listing succeeded.
     */
    public void runUntilClosed(Duration scanEvery, Runnable ready) throws InfrastructureException {
        try (Admin admin = Admin.create(config.baseProperties());
                KafkaConsumer<String, String> consumer = new KafkaConsumer<>(config.consumerProperties("shootdown-node-" + nodeId));
                KafkaProducer<String, String> producer = new KafkaProducer<>(config.producerProperties("shootdown-node-" + nodeId))) {
            RunTopics.checkReachable(admin, config);
            ClusterTopics.create(admin, config);
            this.presence = producer;
            // Heartbeats of the last few seconds first: is this node id already taken, and who is around?
            TopicPartition presenceTopic = new TopicPartition(ClusterTopics.PRESENCE, 0);
            consumer.assign(List.of(presenceTopic));
            long since = System.currentTimeMillis() - 2 * ClusterTopics.PEER_DEAD_MS;
            var fromTime = consumer.offsetsForTimes(Map.of(presenceTopic, since), config.requestTimeout()).get(presenceTopic);
            if (fromTime == null) {
                consumer.seekToEnd(List.of(presenceTopic));
            } else {
                consumer.seek(presenceTopic, fromTime.offset());
            }
            long listenUntil = System.currentTimeMillis() + 2 * ClusterTopics.HEARTBEAT_MS + 200;
            while (System.currentTimeMillis() < listenUntil && !closed) {
                for (ConsumerRecord<String, String> r : consumer.poll(Duration.ofMillis(100))) {
                    onPresence(r);
                }
            }
            // Announced runs: every one, so that a node started while a run waits for it still joins it.
            TopicPartition runsTopic = new TopicPartition(ClusterTopics.RUNS, 0);
            List<TopicPartition> assigned = new ArrayList<>(List.of(presenceTopic, runsTopic));
            consumer.assign(assigned);
            consumer.seekToBeginning(List.of(runsTopic));
            long nextScan = 0;
            boolean first = true;
            while (!closed) {
                if (System.nanoTime() >= nextScan) {
                    for (String runId : RunTopics.runIds(admin, config)) {
                        if (!runs.containsKey(runId)) {
                            watch(runId, consumer, assigned);
                        }
                    }
                    nextScan = System.nanoTime() + scanEvery.toNanos();
                    if (first) {
                        first = false;
                        this.ready = true;
                        ready.run();
                    }
                }
                maybeHeartbeat();
                for (ConsumerRecord<String, String> r : consumer.poll(Duration.ofMillis(100))) {
                    if (r.topic().equals(ClusterTopics.RUNS)) {
                        onAnnounced(r, consumer, assigned);
                    } else if (r.topic().equals(ClusterTopics.PRESENCE)) {
                        onPresence(r);
                    } else {
                        onControl(r);
                    }
                }
                checkPeers();
                for (Run run : List.copyOf(runs.values())) {
                    checkFailed(run);
                    maybeDecide(run, consumer);
                }
            }
        } finally {
            leaveAll();
        }
    }

    private void watch(String runId, KafkaConsumer<String, String> consumer, List<TopicPartition> assigned) {
        Run run = new Run(runId);
        String topic = Routing.topic(runId, Family.CONTROL);
        List<TopicPartition> partitions = new ArrayList<>();
        List<PartitionInfo> infos = consumer.partitionsFor(topic, config.requestTimeout());
        for (PartitionInfo info : infos == null ? List.<PartitionInfo>of() : infos) {
            partitions.add(new TopicPartition(topic, info.partition()));
        }
        if (partitions.isEmpty()) {
            return; // listed before its metadata reached this client: looked at again on the next scan
        }
        consumer.endOffsets(partitions, config.requestTimeout()).forEach(run.catchUpTo::put);
        assigned.addAll(partitions);
        consumer.assign(assigned);
        consumer.seekToBeginning(partitions);
        run.topology = announcedTopology.get(runId);
        synchronized (this) {
            runs.put(runId, run);
        }
    }

    private void maybeHeartbeat() {
        long now = System.currentTimeMillis();
        if (now < nextHeartbeatMs) {
            return;
        }
        nextHeartbeatMs = now + ClusterTopics.HEARTBEAT_MS;
        presence.send(new ProducerRecord<>(ClusterTopics.PRESENCE, nodeId, ClusterTopics.encode(
                new ClusterTopics.NodeHeartbeat(nodeId, instance, now, List.copyOf(new java.util.TreeSet<>(activeRuns()))))));
    }

    /**
     * A heartbeat: a peer is up (or back); or this node's id is claimed by another process, in
     * which case the one that started later gives way.
     */
    private void onPresence(ConsumerRecord<String, String> r) throws InfrastructureException {
        ClusterTopics.NodeHeartbeat beat;
        try {
            if (!(ClusterTopics.decode(r.value(), ClusterTopics.Presence.class) instanceof ClusterTopics.NodeHeartbeat h)) {
                return; // a NodeJoined: for the run's controller
            }
            beat = h;
        } catch (com.fasterxml.jackson.core.JsonProcessingException bad) {
            log.accept("ignoring a bad presence record at offset " + r.offset() + ": " + bad.getOriginalMessage());
            return;
        }
        long now = System.currentTimeMillis();
        if (beat.node().equals(nodeId)) {
            // Alive after this process started (a process killed just before cannot beat then), and older: this one gives way.
            if (!beat.instance().equals(instance) && beat.atMs() >= startedAtMs && startedAt(beat.instance()) <= startedAtMs) {
                throw new InfrastructureException("node " + nodeId + " is already running: " + beat.instance() + " was heard from "
                        + (now - beat.atMs()) + " ms ago; every node id must be unique (another --index?)");
            }
            return;
        }
        synchronized (this) {
            Peer peer = peers.computeIfAbsent(beat.node(), k -> new Peer());
            if (peer.dead && now - beat.atMs() < ClusterTopics.PEER_DEAD_MS) {
                peer.dead = false;
                log.accept("peer " + beat.node() + " is back (" + beat.instance() + ")");
            }
            if (peer.last == null || beat.atMs() >= peer.last.atMs()) {
                peer.last = beat;
            }
        }
    }

    private static long startedAt(String instance) {
        int at = instance.lastIndexOf("/started ");
        try {
            return java.time.Instant.parse(instance.substring(at + "/started ".length())).toEpochMilli();
        } catch (RuntimeException unknown) {
            return Long.MIN_VALUE;
        }
    }

    /** Peers not heard from for {@link ClusterTopics#PEER_DEAD_MS} are reported dead, once. */
    private synchronized void checkPeers() {
        long now = System.currentTimeMillis();
        for (Map.Entry<String, Peer> p : peers.entrySet()) {
            Peer peer = p.getValue();
            if (!peer.dead && peer.last != null && now - peer.last.atMs() >= ClusterTopics.PEER_DEAD_MS) {
                peer.dead = true;
                log.accept("peer " + p.getKey() + " silent for " + (now - peer.last.atMs()) / 1000.0 + " s: presumed dead ("
                        + peer.last.instance() + ")");
            }
        }
    }

    /** A run about to start: watch its control topic, and join once it is read (unless this node is done with it). */
    private void onAnnounced(ConsumerRecord<String, String> r, KafkaConsumer<String, String> consumer, List<TopicPartition> assigned) {
        ClusterTopics.RunAnnounced announced;
        try {
            announced = ClusterTopics.decode(r.value(), ClusterTopics.RunAnnounced.class);
        } catch (com.fasterxml.jackson.core.JsonProcessingException bad) {
            log.accept("ignoring a bad announcement at offset " + r.offset() + ": " + bad.getOriginalMessage());
            return;
        }
        if (!announced.topology().contains(nodeId)) {
            return;
        }
        announcedTopology.put(announced.run(), List.copyOf(announced.topology()));
        if (!runs.containsKey(announced.run())) {
            watch(announced.run(), consumer, assigned);
        }
        Run run = runs.get(announced.run());
        if (run != null && run.topology == null) {
            run.topology = announced.topology();
        }
    }

    private void onControl(ConsumerRecord<String, String> r) {
        Envelope e;
        try {
            e = EventCodec.decode(r.value());
        } catch (LogFormatException bad) {
            log.accept("ignoring a bad record in " + r.topic() + " at offset " + r.offset() + ": " + bad.getMessage());
            return;
        }
        Run run = runs.get(e.run());
        if (run == null) {
            return;
        }
        if (e.event() instanceof ControlEvent.NodeQuiesced q && q.node().equals(nodeId)) {
            run.quiescedHere = true;
            if (run.deployment != null) {
                leave(run, "quiesced");
            }
        }
    }

    /**
     * The run's verticle recorded a fatal error (its state machine threw; the verticle already
     * stopped taking inputs): logged once, told to the run's controller on {@value
     * ClusterTopics#PRESENCE}, shown on /health, and the verticle undeployed. The node stays up for
     * other runs.
     */
    private void checkFailed(Run run) {
        java.util.Optional<String> fatal = run.errors.firstFatal();
        if (run.failure != null || fatal.isEmpty()) {
            return;
        }
        synchronized (this) {
            run.failure = fatal.get();
            run.quiescedHere = true; // not joined again
        }
        log.accept("failed in run " + run.id + ": " + fatal.get());
        presence.send(new ProducerRecord<>(ClusterTopics.PRESENCE, nodeId,
                ClusterTopics.encode(new ClusterTopics.NodeFailed(run.id, nodeId, instance, fatal.get()))));
        presence.flush();
        if (run.deployment != null) {
            leave(run, "failed");
        }
    }

    /** Once the control topic was read as far as it went when the run was found: join it, or not. */
    private void maybeDecide(Run run, KafkaConsumer<String, String> consumer) {
        if (run.deployment != null || run.quiescedHere || run.topology == null || !run.topology.contains(nodeId)) {
            return;
        }
        for (Map.Entry<TopicPartition, Long> p : run.catchUpTo.entrySet()) {
            if (consumer.position(p.getKey(), config.requestTimeout()) < p.getValue()) {
                return;
            }
        }
        NodeHost host = new NodeHost(run.id, run.topology, config, LatencyModel.defaults(), run.errors, observer);
        try {
            String deployment = await(vertx.deployVerticle(factory.apply(host)));
            synchronized (this) {
                run.deployment = deployment;
            }
            presence.send(new ProducerRecord<>(ClusterTopics.PRESENCE, nodeId,
                    ClusterTopics.encode(new ClusterTopics.NodeJoined(run.id, nodeId, ProcessHandle.current().pid()))));
            presence.flush();
            log.accept("joined run " + run.id);
        } catch (InfrastructureException e) {
            log.accept("cannot join run " + run.id + ": " + e.getMessage());
            run.quiescedHere = true; // not retried: the run's controller times out and names this node
        }
    }

    private void leave(Run run, String why) {
        try {
            await(vertx.undeploy(run.deployment));
            log.accept("left run " + run.id + " (" + why + ")");
        } catch (InfrastructureException e) {
            log.accept("leaving run " + run.id + " failed: " + e.getMessage());
        }
        synchronized (this) {
            run.deployment = null;
        }
    }

    private void leaveAll() {
        for (Run run : List.copyOf(runs.values())) {
            if (run.deployment != null) {
                leave(run, "node stopping");
            }
        }
        try {
            await(vertx.close());
        } catch (InfrastructureException e) {
            log.accept("closing Vert.x failed: " + e.getMessage());
        }
    }

    private <T> T await(Future<T> future) throws InfrastructureException {
        try {
            return future.toCompletionStage().toCompletableFuture().get(config.requestTimeout().toMillis() * 2, TimeUnit.MILLISECONDS);
        } catch (ExecutionException | TimeoutException e) {
            Throwable cause = e.getCause() == null ? e : e.getCause();
            throw new InfrastructureException(String.valueOf(cause.getMessage()), e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new InfrastructureException("interrupted");
        }
    }

    private static void sleep(long ms) {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** Stops watching; {@link #runUntilClosed} then undeploys every verticle (flushing its producer) and returns. */
    @Override
    public void close() {
        closed = true;
    }
}
