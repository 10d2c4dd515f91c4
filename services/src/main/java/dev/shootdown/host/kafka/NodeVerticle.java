package dev.shootdown.host.kafka;

import dev.shootdown.codec.EventCodec;
import dev.shootdown.codec.LogFormatException;
import dev.shootdown.core.NodeStateMachine;
import dev.shootdown.event.Envelope;
import dev.shootdown.event.Family;
import dev.shootdown.event.Routing;
import dev.shootdown.event.NodeIds;
import dev.shootdown.host.NodeDriver;
import dev.shootdown.host.RoundClock;
import dev.shootdown.host.ScheduledNode;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.VerticleBase;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.OptionalLong;
import java.util.function.Predicate;
import org.apache.kafka.clients.consumer.CloseOptions;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.PartitionInfo;
import org.apache.kafka.common.TopicPartition;

/**
 * The Kafka host of one node: a Vert.x verticle whose context runs the node's state machine
 * (through a {@link ScheduledNode}), fed by a plain Kafka consumer polled on a Vert.x worker, and
 * publishing through an idempotent {@code acks=all} producer.
 *
 * <p>Simulated time is kept in rounds ({@link RoundClock}) on the run's rounds topic: the node
 * takes what is due before the round's bound once it has received everything the other nodes
 * said they sent it, publishes what that produced, and once the cluster acknowledged all of it
 * says it finished the round. No wall clock enters the simulation: a node that is slow, paused,
 * killed or cut off from the broker holds everyone's simulated time still until it is back, and
 * the log comes out the same as on the deterministic engine for the same seed.
 *
 * <p>Every start is a recovery: the node is rebuilt by re-executing the inputs the run's topics
 * hold for it ({@link ScheduledNode#rebuild}; nothing for a first start), publishes what a crash
 * cut off, and resumes at the round after the last one it said it finished. It reads its input
 * topics from the beginning and drops what it already received by link sequence numbers, so no
 * input is lost or taken twice, and no consumer group or committed offset is involved. Stopping
 * stops taking inputs, then waits until the cluster acknowledged everything the node emitted.
 *
 * <p>Threads: the node, the round bookkeeping and the sends run on the verticle's context; the
 * consumer belongs to its worker; producer callbacks hop back to the context.
 */
public class NodeVerticle extends VerticleBase {

    /** Families that carry events addressed to nodes; facts (page table, trace) are not consumed. */
    static final List<Family> INPUT_FAMILIES = List.of(
            Family.IPI, Family.SECONDARY_TLB, Family.WALK, Family.FAULT, Family.SYSCALL, Family.CONTROL);

    private final NodeHost host;
    private final NodeStateMachine machine;
    private ScheduledNode node;
    private RoundClock clock;
    private List<String> senders;
    /** The last round this instance (or, before a restart, its predecessor) said it finished; -1: none. */
    private long round = -1;
    /** Sends of the current round (or of the rebuild) not yet acknowledged, or a RoundDone in flight. */
    private boolean busy;
    private long roundBoundNs;
    private long recoveredEvents;
    private KafkaProducer<String, String> producer;
    private volatile boolean polling;
    private volatile boolean rewind;
    private boolean stopping;
    private boolean crashed;
    private boolean paused;
    private final List<Runnable> pausedBacklog = new ArrayList<>();
    private final List<InputFault> inputFaults = new ArrayList<>();
    private Future<Void> pollLoop;
    private volatile long crashAtSeq = -1;
    private final Promise<String> crashedAt = Promise.promise();

    /** The next {@code count} inputs {@code which} selects are held for {@code delayMs}, or taken twice. */
    private static final class InputFault {
        final Predicate<Envelope> which;
        long count;
        final long delayMs;
        final boolean duplicate;

        InputFault(Predicate<Envelope> which, long count, long delayMs, boolean duplicate) {
            this.which = which;
            this.count = count;
            this.delayMs = delayMs;
            this.duplicate = duplicate;
        }
    }

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

    private record Recovered(ScheduledNode node, List<RoundClock.RoundDone> rounds) {}

    @Override
    public Future<?> start() {
        String clientId = "shootdown-" + host.runId() + "-" + machine.nodeId();
        String roundsTopic = RunTopics.rounds(host.runId());
        return vertx.executeBlocking(() -> {
            List<Envelope> log = new ArrayList<>();
            for (RecordedEvent r : RunLogReader.readRecorded(host.config(), host.runId(), RunTopics.names(host.runId()))) {
                log.add(r.envelope());
            }
            recoveredEvents = log.stream().filter(e -> e.node().equals(machine.nodeId())).count();
            List<RoundClock.RoundDone> rounds = RunLogReader.readRounds(host.config(), host.runId());
            return new Recovered(ScheduledNode.rebuild(host.runId(), machine, host.topology(), host.latency(), log), rounds);
        }).compose(recovered -> {
            node = recovered.node();
            clock = new RoundClock(host.topology(), host.latency().lookaheadNs());
            recovered.rounds().forEach(clock::onDone);
            round = clock.lastRound(machine.nodeId());
            senders = new ArrayList<>(host.topology());
            senders.add(NodeIds.CONTROL);
            senders.remove(machine.nodeId());
            producer = new KafkaProducer<>(host.config().producerProperties(clientId));
            KafkaConsumer<String, String> consumer = new KafkaConsumer<>(host.config().consumerProperties(clientId));
            List<TopicPartition> partitions = new ArrayList<>();
            for (Family f : INPUT_FAMILIES) {
                String topic = Routing.topic(host.runId(), f);
                for (PartitionInfo info : consumer.partitionsFor(topic, host.config().requestTimeout())) {
                    partitions.add(new TopicPartition(topic, info.partition()));
                }
            }
            partitions.add(new TopicPartition(roundsTopic, 0));
            consumer.assign(partitions);
            consumer.seekToBeginning(partitions);
            polling = true;
            pollLoop = vertx.executeBlocking(() -> poll(consumer, roundsTopic), false);
            List<Envelope> cutOff = node.takeUnpublished();
            if (cutOff.isEmpty()) {
                maybeAdvance();
            } else {
                busy = true;
                publish(cutOff).onComplete(v -> {
                    busy = false;
                    maybeAdvance();
                });
            }
            return Future.succeededFuture();
        });
    }

    private Void poll(KafkaConsumer<String, String> consumer, String roundsTopic) {
        try {
            while (polling) {
                if (rewind) {
                    rewind = false;
                    consumer.seekToBeginning(consumer.assignment());
                }
                for (ConsumerRecord<String, String> r : consumer.poll(Duration.ofMillis(20))) {
                    TopicPartition tp = new TopicPartition(r.topic(), r.partition());
                    long offset = r.offset();
                    String value = r.value();
                    long storedAtMs = r.timestamp();
                    boolean isRound = r.topic().equals(roundsTopic);
                    context.runOnContext(v -> onRecord(tp, offset, value, storedAtMs, isRound));
                }
            }
        } catch (RuntimeException e) {
            host.errors().record(machine.nodeId(), "consumer failed", e);
        } finally {
            consumer.close(CloseOptions.timeout(Duration.ofSeconds(5)));
        }
        return null;
    }

    private void onRecord(TopicPartition tp, long offset, String value, long storedAtMs, boolean isRound) {
        if (stopping) {
            return; // not taken: the next instance reads it again
        }
        try {
            if (isRound) {
                clock.onDone(RunTopics.decodeRound(value));
            } else {
                Envelope in = EventCodec.decode(value);
                if (!in.run().equals(host.runId()) || !in.links().containsKey(machine.nodeId())) {
                    return;
                }
                if (paused) {
                    pausedBacklog.add(() -> take(in, storedAtMs));
                    return;
                }
                InputFault fault = inputFaultFor(in);
                if (fault != null && !fault.duplicate) {
                    vertx.setTimer(Math.max(1, fault.delayMs), id -> take(in, storedAtMs));
                    return;
                }
                take(in, storedAtMs);
                if (fault != null) {
                    take(in, storedAtMs); // the copy: dropped by its link sequence number
                }
                return;
            }
            maybeAdvance();
        } catch (LogFormatException e) {
            host.errors().record(machine.nodeId(), tp + " offset " + offset + ": " + e.getMessage(), null);
        } catch (RuntimeException e) {
            host.errors().record(machine.nodeId(), "state machine failed on " + tp + " offset " + offset, e);
        }
    }

    private InputFault inputFaultFor(Envelope in) {
        for (InputFault f : inputFaults) {
            if (f.count > 0 && f.which.test(in)) {
                f.count--;
                return f;
            }
        }
        return null;
    }

    private void take(Envelope in, long storedAtMs) {
        if (stopping) {
            return;
        }
        try {
            host.observer().onInput(machine.nodeId(), in, storedAtMs);
            node.receive(in);
            maybeAdvance();
        } catch (RuntimeException e) {
            host.errors().record(machine.nodeId(), "state machine failed on " + in.id(), e);
        }
    }

    // Infrastructure faults, done to this instance by a fault injector (KafkaRunner). Each runs on the context.

    /**
     * Dies as {@code kill -9} would: takes nothing more, and what the producer had not sent yet is
     * lost (it is closed without waiting). Undeploy it afterwards; a new instance rebuilds from the log.
     */
    public Future<Void> crash() {
        return onContext(this::crashNow);
    }

    /**
     * Dies as {@code kill -9} would right after handing its event {@code seq} to the producer, in
     * the middle of whatever it was publishing: the rest of the round is never sent. Completes
     * with that event's id once it happened.
     */
    public Future<String> crashAfter(long seq) {
        crashAtSeq = seq; // volatile: armed for the next publish, wherever this is called from
        return crashedAt.future();
    }

    private void crashNow() {
        stopping = true;
        crashed = true;
        polling = false;
        if (producer != null) {
            producer.close(Duration.ZERO);
        }
    }

    /** Takes no input for {@code pauseMs}, as a process stopped with SIGSTOP, then takes what arrived meanwhile. */
    public Future<Void> pause(long pauseMs) {
        return onContext(() -> {
            paused = true;
            vertx.setTimer(Math.max(1, pauseMs), id -> {
                paused = false;
                List<Runnable> backlog = List.copyOf(pausedBacklog);
                pausedBacklog.clear();
                backlog.forEach(Runnable::run);
                maybeAdvance();
            });
        });
    }

    /** Holds each of the next {@code count} inputs {@code which} selects for {@code delayMs} before taking it. */
    public Future<Void> delayInputs(Predicate<Envelope> which, long count, long delayMs) {
        return onContext(() -> inputFaults.add(new InputFault(which, count, delayMs, false)));
    }

    /** Takes each of the next {@code count} inputs {@code which} selects twice. */
    public Future<Void> duplicateInputs(Predicate<Envelope> which, long count) {
        return onContext(() -> inputFaults.add(new InputFault(which, count, 0, true)));
    }

    /** Reads every input topic again from the beginning, as after a consumer rewind. */
    public Future<Void> redeliver() {
        return onContext(() -> rewind = true);
    }

    private Future<Void> onContext(Runnable action) {
        Promise<Void> done = Promise.promise();
        context.runOnContext(v -> {
            action.run();
            done.complete();
        });
        return done.future();
    }

    /**
     * Starts the next round when it can: the previous one is acknowledged, every node said it
     * finished it, and everything the others said they sent this node has arrived.
     */
    private void maybeAdvance() {
        if (stopping || busy) {
            return;
        }
        if (round < 0) {
            sayDone(0, 0);
            return;
        }
        long k = round + 1;
        if (!clock.active(machine.nodeId(), k)) {
            return; // quiesced
        }
        OptionalLong bound = clock.bound(k);
        if (bound.isEmpty() || bound.getAsLong() == Long.MAX_VALUE) {
            return; // a node has not finished round k - 1, or nothing is left to happen
        }
        for (String sender : senders) {
            if (node.receivedOn(sender) < clock.expected(sender, machine.nodeId())) {
                return;
            }
        }
        roundBoundNs = bound.getAsLong();
        busy = true;
        publish(node.runUntil(roundBoundNs)).onComplete(v -> sayDone(k, roundBoundNs));
    }

    /** Publishes {@code events} (those the log does not hold yet); completes on the context once all are acknowledged. */
    private Future<Void> publish(List<Envelope> events) {
        List<Future<Void>> acks = new ArrayList<>();
        for (Envelope e : events) {
            if (crashed) {
                break;
            }
            if (node.isRecorded(e)) {
                continue; // recorded before a crash, beyond a gap in what reached the broker
            }
            host.observer().onOutput(machine.nodeId(), e);
            Promise<Void> acked = Promise.promise();
            acks.add(acked.future());
            ProducerRecord<String, String> record = new ProducerRecord<>(
                    Routing.topic(host.runId(), e.event().family()), Routing.key(e), EventCodec.encode(e));
            producer.send(record, (metadata, error) -> context.runOnContext(v -> {
                if (error != null && !crashed) { // a killed process records nothing; its successor re-publishes
                    host.errors().record(machine.nodeId(), "event " + e.id() + " was not recorded", error);
                }
                acked.complete(); // a failure is recorded; the round goes on (the run is then marked failed)
            }));
            if (e.seq() == crashAtSeq) {
                crashNow();
                crashedAt.complete(e.id());
            }
        }
        return Future.all(acks).mapEmpty();
    }

    private void sayDone(long k, long boundNs) {
        if (crashed) {
            return;
        }
        busy = true;
        NodeDriver driver = node.driver();
        long next = Math.min(node.nextAtNs(), node.sentDueNotBefore(boundNs));
        RoundClock.RoundDone done = new RoundClock.RoundDone(machine.nodeId(), k, driver.seq(), driver.sentOnLinks(), next,
                driver.quiesced());
        producer.send(new ProducerRecord<>(RunTopics.rounds(host.runId()), machine.nodeId(), RunTopics.encode(done)),
                (metadata, error) -> context.runOnContext(v -> {
                    if (error != null) {
                        if (!crashed) { // a killed process records nothing
                            host.errors().record(machine.nodeId(), "round " + k + " was not recorded", error);
                        }
                        return; // stays busy: without its RoundDone nobody can go on, and the run times out
                    }
                    round = k;
                    clock.onDone(done);
                    clock.forgetBefore(k);
                    busy = false;
                    maybeAdvance();
                }));
    }

    @Override
    public Future<?> stop() {
        stopping = true; // on the context: no input is taken from here on
        polling = false;
        Future<Void> polled = pollLoop == null ? Future.succeededFuture() : pollLoop;
        return polled.eventually(() -> vertx.executeBlocking(() -> {
            if (producer != null && !crashed) {
                producer.flush(); // everything emitted is acknowledged (or its failure recorded)
                producer.close(Duration.ofSeconds(5));
            }
            return null;
        }));
    }
}
