package dev.shootdown.host.kafka;

import dev.shootdown.codec.EventCodec;
import dev.shootdown.codec.LogFormatException;
import dev.shootdown.core.NodeStateMachine;
import dev.shootdown.core.TimerRequest;
import dev.shootdown.event.Envelope;
import dev.shootdown.event.Family;
import dev.shootdown.event.Routing;
import dev.shootdown.host.NodeDriver;
import io.vertx.core.Future;
import io.vertx.core.VerticleBase;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;

/**
 * The Kafka host of one node: a Vert.x verticle whose event-loop context runs the node's state
 * machine (through a {@link NodeDriver}), fed by a plain Kafka consumer polled on a Vert.x
 * worker, publishing through an idempotent {@code acks=all} producer. Timers are Vert.x timers
 * that turn into inputs on the same context.
 *
 * <p>No input is lost across a redeploy: consumed offsets are committed only once every event
 * the node emitted so far is acknowledged by the cluster and no input is held back waiting for
 * its link predecessor.
 *
 * <p>Threads: the state machine, the driver and the bookkeeping run on the verticle's context;
 * the consumer belongs to its worker; producer callbacks hop back to the context.
 */
public class NodeVerticle extends VerticleBase {

    /** Families that carry events addressed to nodes; facts (page table, trace) are not consumed. */
    private static final List<Family> INPUT_FAMILIES = List.of(
            Family.IPI, Family.SECONDARY_TLB, Family.WALK, Family.FAULT, Family.SYSCALL, Family.CONTROL);

    private final NodeHost host;
    private final NodeStateMachine machine;
    private NodeDriver driver;
    private KafkaProducer<String, String> producer;
    private volatile boolean polling;
    private Future<Void> pollLoop;
    private final ConcurrentHashMap<TopicPartition, OffsetAndMetadata> committable = new ConcurrentHashMap<>();
    private final Map<TopicPartition, Long> consumed = new HashMap<>();
    private int unacknowledged;

    public NodeVerticle(NodeHost host, NodeStateMachine machine) {
        this.host = host;
        this.machine = machine;
    }

    public String nodeId() {
        return machine.nodeId();
    }

    @Override
    public Future<?> start() {
        driver = new NodeDriver(host.runId(), machine, host.topology());
        String clientId = "shootdown-" + host.runId() + "-" + machine.nodeId();
        producer = new KafkaProducer<>(host.config().producerProperties(clientId));
        KafkaConsumer<String, String> consumer = new KafkaConsumer<>(
                host.config().consumerProperties("shootdown." + host.runId() + "." + machine.nodeId(), clientId));
        List<String> topics = new ArrayList<>();
        for (Family f : INPUT_FAMILIES) {
            topics.add(Routing.topic(host.runId(), f));
        }
        consumer.subscribe(topics);
        polling = true;
        pollLoop = vertx.executeBlocking(() -> poll(consumer), false);
        return Future.succeededFuture();
    }

    private Void poll(KafkaConsumer<String, String> consumer) {
        try {
            while (polling) {
                for (ConsumerRecord<String, String> r : consumer.poll(Duration.ofMillis(20))) {
                    TopicPartition tp = new TopicPartition(r.topic(), r.partition());
                    long offset = r.offset();
                    String value = r.value();
                    context.runOnContext(v -> onRecord(tp, offset, value));
                }
                commit(consumer, false);
            }
            commit(consumer, true);
        } catch (RuntimeException e) {
            host.errors().record(machine.nodeId(), "consumer failed", e);
        } finally {
            consumer.close(Duration.ofSeconds(5));
        }
        return null;
    }

    private void commit(KafkaConsumer<String, String> consumer, boolean sync) {
        if (committable.isEmpty()) {
            return;
        }
        Map<TopicPartition, OffsetAndMetadata> offsets = new HashMap<>(committable);
        offsets.forEach(committable::remove);
        if (sync) {
            consumer.commitSync(offsets);
        } else {
            consumer.commitAsync(offsets, (o, e) -> {
                if (e != null) {
                    host.errors().record(machine.nodeId(), "offset commit failed", e);
                }
            });
        }
    }

    private void onRecord(TopicPartition tp, long offset, String value) {
        try {
            Envelope in = EventCodec.decode(value);
            if (in.run().equals(host.runId()) && driver.isForMe(in)) {
                long deliverAt = in.timeNs() + host.latency().baseNs(in.event());
                handle(driver.offer(in, deliverAt));
            }
        } catch (LogFormatException e) {
            host.errors().record(machine.nodeId(), tp + " offset " + offset + ": " + e.getMessage(), null);
        } catch (RuntimeException e) {
            host.errors().record(machine.nodeId(), "state machine failed on " + tp + " offset " + offset, e);
        }
        consumed.put(tp, offset + 1);
        maybeMarkCommittable();
    }

    private void handle(NodeDriver.Output out) {
        for (Envelope e : out.envelopes()) {
            send(e);
        }
        for (TimerRequest t : out.timers()) {
            if (!t.isCancel()) {
                long delayMs = Math.max(1, (t.fireAtNs() - driver.localNowNs()) / host.config().simNsPerWallMs());
                vertx.setTimer(delayMs, id -> onTimer(t));
            }
        }
    }

    private void onTimer(TimerRequest t) {
        try {
            handle(driver.fire(t.name(), t.fireAtNs()));
        } catch (RuntimeException e) {
            host.errors().record(machine.nodeId(), "state machine failed on timer " + t.name(), e);
        }
    }

    private void send(Envelope e) {
        unacknowledged++;
        ProducerRecord<String, String> record = new ProducerRecord<>(
                Routing.topic(host.runId(), e.event().family()), Routing.key(e), EventCodec.encode(e));
        producer.send(record, (metadata, error) -> context.runOnContext(v -> {
            unacknowledged--;
            if (error != null) {
                host.errors().record(machine.nodeId(), "event " + e.id() + " was not recorded", error);
            }
            maybeMarkCommittable();
        }));
    }

    private void maybeMarkCommittable() {
        if (unacknowledged == 0 && !driver.hasHeldInputs()) {
            consumed.forEach((tp, next) -> committable.put(tp, new OffsetAndMetadata(next)));
        }
    }

    @Override
    public Future<?> stop() {
        polling = false;
        return pollLoop.eventually(() -> vertx.executeBlocking(() -> {
            producer.flush();
            producer.close(Duration.ofSeconds(5));
            return null;
        }));
    }
}
