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
import java.util.List;
import org.apache.kafka.clients.consumer.CloseOptions;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.PartitionInfo;
import org.apache.kafka.common.TopicPartition;

/**
 * The Kafka host of one node: a Vert.x verticle whose context runs the node's state machine
 * (through a {@link NodeDriver}), fed by a plain Kafka consumer polled on a Vert.x worker, and
 * publishing through an idempotent {@code acks=all} producer. Timers are Vert.x timers that turn
 * into inputs on the same context.
 *
 * <p>Every start is a recovery: the node is rebuilt from what the run's topics hold
 * ({@link NodeDriver#recover}; nothing for a first start), re-arms the timers its state needs, and
 * reads its input topics from the beginning; the driver drops inputs it already delivered by their
 * link sequence numbers. So a redeployed verticle loses no input and applies none twice, and
 * no consumer group or committed offset is involved. Stopping stops taking inputs and timers, then
 * waits until the cluster acknowledged everything the node emitted.
 *
 * <p>Threads: the state machine, the driver and the bookkeeping run on the verticle's context;
 * the consumer belongs to its worker; producer callbacks hop back to the context.
 */
public class NodeVerticle extends VerticleBase {

    /** Families that carry events addressed to nodes; facts (page table, trace) are not consumed. */
    static final List<Family> INPUT_FAMILIES = List.of(
            Family.IPI, Family.SECONDARY_TLB, Family.WALK, Family.FAULT, Family.SYSCALL, Family.CONTROL);

    private final NodeHost host;
    private final NodeStateMachine machine;
    private NodeDriver driver;
    private long recoveredEvents;
    private KafkaProducer<String, String> producer;
    private volatile boolean polling;
    private boolean stopping;
    private Future<Void> pollLoop;

    public NodeVerticle(NodeHost host, NodeStateMachine machine) {
        this.host = host;
        this.machine = machine;
    }

    public String nodeId() {
        return machine.nodeId();
    }

    /** How many of its own events this instance found in the log when it started (0 on a first start). */
    public long recoveredEvents() {
        return recoveredEvents;
    }

    @Override
    public Future<?> start() {
        String clientId = "shootdown-" + host.runId() + "-" + machine.nodeId();
        return vertx.executeBlocking(() -> {
            List<String> topics = RunTopics.names(host.runId());
            List<Envelope> log = new ArrayList<>();
            for (RecordedEvent r : RunLogReader.readRecorded(host.config(), host.runId(), topics)) {
                log.add(r.envelope());
            }
            recoveredEvents = log.stream().filter(e -> e.node().equals(machine.nodeId())).count();
            return NodeDriver.recover(host.runId(), machine, host.topology(), log);
        }).compose(recovered -> {
            driver = recovered;
            producer = new KafkaProducer<>(host.config().producerProperties(clientId));
            KafkaConsumer<String, String> consumer = new KafkaConsumer<>(host.config().consumerProperties(clientId));
            List<TopicPartition> partitions = new ArrayList<>();
            for (Family f : INPUT_FAMILIES) {
                String topic = Routing.topic(host.runId(), f);
                for (PartitionInfo info : consumer.partitionsFor(topic, host.config().requestTimeout())) {
                    partitions.add(new TopicPartition(topic, info.partition()));
                }
            }
            consumer.assign(partitions);
            consumer.seekToBeginning(partitions);
            schedule(driver.recoveryTimers());
            polling = true;
            pollLoop = vertx.executeBlocking(() -> poll(consumer), false);
            return Future.succeededFuture();
        });
    }

    private Void poll(KafkaConsumer<String, String> consumer) {
        try {
            while (polling) {
                for (ConsumerRecord<String, String> r : consumer.poll(Duration.ofMillis(20))) {
                    TopicPartition tp = new TopicPartition(r.topic(), r.partition());
                    long offset = r.offset();
                    String value = r.value();
                    long storedAtMs = r.timestamp();
                    context.runOnContext(v -> onRecord(tp, offset, value, storedAtMs));
                }
            }
        } catch (RuntimeException e) {
            host.errors().record(machine.nodeId(), "consumer failed", e);
        } finally {
            consumer.close(CloseOptions.timeout(Duration.ofSeconds(5)));
        }
        return null;
    }

    private void onRecord(TopicPartition tp, long offset, String value, long storedAtMs) {
        if (stopping) {
            return; // not delivered: the next instance reads it again
        }
        try {
            Envelope in = EventCodec.decode(value);
            if (in.run().equals(host.runId()) && driver.isForMe(in)) {
                host.observer().onInput(machine.nodeId(), in, storedAtMs);
                long deliverAt = in.timeNs() + host.latency().baseNs(in.event());
                handle(driver.offer(in, deliverAt));
            }
        } catch (LogFormatException e) {
            host.errors().record(machine.nodeId(), tp + " offset " + offset + ": " + e.getMessage(), null);
        } catch (RuntimeException e) {
            host.errors().record(machine.nodeId(), "state machine failed on " + tp + " offset " + offset, e);
        }
    }

    private void handle(NodeDriver.Output out) {
        for (Envelope e : out.envelopes()) {
            send(e);
        }
        schedule(out.timers());
    }

    private void schedule(List<TimerRequest> timers) {
        for (TimerRequest t : timers) {
            if (!t.isCancel()) {
                long delayMs = Math.max(1, (t.fireAtNs() - driver.localNowNs()) / host.config().simNsPerWallMs());
                vertx.setTimer(delayMs, id -> onTimer(t));
            }
        }
    }

    private void onTimer(TimerRequest t) {
        if (stopping) {
            return;
        }
        try {
            handle(driver.fire(t.name(), t.fireAtNs()));
        } catch (RuntimeException e) {
            host.errors().record(machine.nodeId(), "state machine failed on timer " + t.name(), e);
        }
    }

    private void send(Envelope e) {
        host.observer().onOutput(machine.nodeId(), e);
        ProducerRecord<String, String> record = new ProducerRecord<>(
                Routing.topic(host.runId(), e.event().family()), Routing.key(e), EventCodec.encode(e));
        producer.send(record, (metadata, error) -> {
            if (error != null) {
                host.errors().record(machine.nodeId(), "event " + e.id() + " was not recorded", error);
            }
        });
    }

    @Override
    public Future<?> stop() {
        stopping = true; // on the context: no input or timer is handled from here on
        polling = false;
        Future<Void> polled = pollLoop == null ? Future.succeededFuture() : pollLoop;
        return polled.eventually(() -> vertx.executeBlocking(() -> {
            if (producer != null) {
                producer.flush(); // everything emitted is acknowledged (or its failure recorded)
                producer.close(Duration.ofSeconds(5));
            }
            return null;
        }));
    }
}
