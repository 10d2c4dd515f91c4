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
    private final ErrorLog errors = new ErrorLog();
    private final Vertx vertx = Vertx.vertx();
    private final Map<String, Run> runs = new LinkedHashMap<>();
    private KafkaProducer<String, String> presence;
    private volatile boolean closed;

    /**
     * @param factory builds this node's verticle for a run's {@link NodeHost}
     * @param log     told what the node does, a line at a time ("joined run X", "left run X")
     */
    public ClusterNode(String nodeId, KafkaHostConfig config, Function<NodeHost, NodeVerticle> factory, Consumer<String> log) {
        this.nodeId = nodeId;
        this.config = config;
        this.factory = factory;
        this.log = log;
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

    /** Errors the node's verticles recorded (sends that failed, and such). */
    public ErrorLog errors() {
        return errors;
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
            // Announced runs: every one, so that a node started while a run waits for it still joins it.
            TopicPartition runsTopic = new TopicPartition(ClusterTopics.RUNS, 0);
            List<TopicPartition> assigned = new ArrayList<>(List.of(runsTopic));
            consumer.assign(assigned);
            consumer.seekToBeginning(assigned);
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
                        ready.run();
                    }
                }
                for (ConsumerRecord<String, String> r : consumer.poll(Duration.ofMillis(100))) {
                    if (r.topic().equals(ClusterTopics.RUNS)) {
                        onAnnounced(r, consumer, assigned);
                    } else {
                        onControl(r);
                    }
                }
                for (Run run : List.copyOf(runs.values())) {
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
        synchronized (this) {
            runs.put(runId, run);
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
        if (e.event() instanceof ControlEvent.RunStarted s) {
            run.topology = s.scenario().nodeIds();
        } else if (e.event() instanceof ControlEvent.NodeQuiesced q && q.node().equals(nodeId)) {
            run.quiescedHere = true;
            if (run.deployment != null) {
                leave(run, "quiesced");
            }
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
        NodeHost host = new NodeHost(run.id, run.topology, config, LatencyModel.defaults(), errors);
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
