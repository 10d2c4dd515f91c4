package dev.shootdown.host.kafka;

import dev.shootdown.codec.EventCodec;
import dev.shootdown.codec.LogFormatException;
import dev.shootdown.event.ControlEvent;
import dev.shootdown.event.Envelope;
import dev.shootdown.event.Family;
import dev.shootdown.event.NodeIds;
import dev.shootdown.event.Routing;
import dev.shootdown.host.NodeDriver;
import dev.shootdown.host.RoundClock;
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
    public record Result(List<RecordedEvent> log, boolean quiesced, List<String> missingNodes, List<NodeVerticle> instances) {}

    /**
     * Once {@code nodeId} has recorded {@code afterEvents} events, undeploy its verticle and deploy
     * a new one (progress, not wall time, so the point holds on a slow machine).
     */
    public record Redeploy(String nodeId, long afterEvents) {}

    private final KafkaHostConfig config;

    public KafkaRunner(KafkaHostConfig config) {
        this.config = config;
    }

    /**
     * Runs one scenario.
     *
     * @param factory    builds a new verticle for a node id, over the same {@link NodeHost}; null when
     *                   the nodes run elsewhere ({@link ClusterNode}s, which join the run when its
     *                   RunStarted appears)
     * @param redeploys  verticles to replace while the run goes on
     * @param runTimeout how long to wait for every node to quiesce
     * @param progress   told each NodeQuiesced as it arrives
     */
    public Result run(NodeHost host, long seed, Scenario scenario, Function<String, NodeVerticle> factory,
            List<Redeploy> redeploys, Duration runTimeout, Consumer<String> progress) throws InfrastructureException {
        String runId = host.runId();
        try (Admin admin = Admin.create(config.baseProperties())) {
            RunTopics.checkReachable(admin, config);
            RunTopics.create(admin, runId, config);
        }
        Vertx vertx = Vertx.vertx();
        Map<String, String> deployments = new LinkedHashMap<>();
        List<NodeVerticle> instances = new ArrayList<>();
        List<Redeploy> pending = new ArrayList<>(redeploys);
        Map<String, Long> recorded = new HashMap<>();
        TreeSet<String> quiesced = new TreeSet<>();
        try {
            if (factory == null && !redeploys.isEmpty()) {
                throw new IllegalArgumentException("redeploys need the run's own verticles; the nodes run elsewhere");
            }
            for (String node : factory == null ? List.<String>of() : host.topology()) {
                NodeVerticle v = factory.apply(node);
                instances.add(v);
                deployments.put(node, await(vertx.deployVerticle(v), "deploying " + node));
            }
            try (KafkaProducer<String, String> producer = new KafkaProducer<>(config.producerProperties("shootdown-control-" + runId));
                    KafkaConsumer<String, String> consumer = new KafkaConsumer<>(
                            config.consumerProperties("shootdown-control-" + runId))) {
                String controlTopic = Routing.topic(runId, Family.CONTROL);
                // The control topic tells when nodes quiesce; the others, with it, how far each node got.
                List<String> watched = new ArrayList<>(pending.isEmpty() ? List.of(controlTopic) : RunTopics.names(runId));
                String roundsTopic = RunTopics.rounds(runId);
                watched.add(roundsTopic);
                List<TopicPartition> partitions = new ArrayList<>();
                for (String topic : watched) {
                    for (PartitionInfo info : consumer.partitionsFor(topic, config.requestTimeout())) {
                        partitions.add(new TopicPartition(topic, info.partition()));
                    }
                }
                consumer.assign(partitions);
                consumer.seekToBeginning(partitions);

                if (factory == null) {
                    awaitClusterNodes(host, producer, runTimeout);
                }
                NodeDriver control = NodeDriver.source(runId, NodeIds.CONTROL, host.topology());
                Envelope start = control.emit(new ControlEvent.RunStarted(runId, seed, scenario), 0L);
                producer.send(new ProducerRecord<>(controlTopic, Routing.key(start), EventCodec.encode(start)))
                        .get(config.requestTimeout().toMillis(), TimeUnit.MILLISECONDS);
                // Round 0 of the run controller: RunStarted, one event to each node, due at its delivery time.
                long due = Long.MAX_VALUE;
                for (String node : host.topology()) {
                    due = Math.min(due, start.timeNs() + host.latency().sampleNs(start, node, seed));
                }
                RoundClock.RoundDone started = new RoundClock.RoundDone(NodeIds.CONTROL, 0, start.seq(), control.sentOnLinks(), due,
                        false);
                producer.send(new ProducerRecord<>(roundsTopic, NodeIds.CONTROL, RunTopics.encode(started)))
                        .get(config.requestTimeout().toMillis(), TimeUnit.MILLISECONDS);

                RoundClock clock = new RoundClock(host.topology(), host.latency().lookaheadNs());
                long deadline = System.nanoTime() + runTimeout.toNanos();
                boolean stalled = false;
                while (quiesced.size() < host.topology().size() && !stalled && System.nanoTime() < deadline) {
                    for (ConsumerRecord<String, String> r : consumer.poll(Duration.ofMillis(50))) {
                        if (r.topic().equals(roundsTopic)) {
                            clock.onDone(RunTopics.decodeRound(r.value()));
                            continue;
                        }
                        Envelope e = EventCodec.decode(r.value());
                        recorded.merge(e.node(), 1L, Long::sum);
                        if (e.event() instanceof ControlEvent.NodeQuiesced q && quiesced.add(q.node())) {
                            progress.accept(q.node());
                        }
                    }
                    // Every node finished a round that left nothing to happen, yet some never quiesced.
                    stalled = quiesced.size() < host.topology().size() && clock.finished();
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
        return new Result(RunLogReader.read(config, runId), missing.isEmpty(), missing, List.copyOf(instances));
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
