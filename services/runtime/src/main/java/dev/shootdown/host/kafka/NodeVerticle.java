package dev.shootdown.host.kafka;

import dev.shootdown.codec.EventCodec;
import dev.shootdown.core.NodeStateMachine;
import dev.shootdown.event.Envelope;
import dev.shootdown.event.Routing;
import dev.shootdown.event.NodeIds;
import dev.shootdown.host.NodeDriver;
import dev.shootdown.host.RoundClock;
import dev.shootdown.host.ScheduledNode;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.VerticleBase;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.OptionalLong;
import java.util.function.Predicate;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;

/**
 * The Kafka host of one node: a Vert.x verticle whose context runs the node's state machine
 * (through a {@link ScheduledNode}), publishing through, and fed by, the Kafka clients the nodes
 * of its process share ({@link NodeTransport}: an idempotent {@code acks=all} producer, and a
 * consumer that hands each node what is addressed to it).
 *
 * <p>Simulated time is kept in rounds ({@link RoundClock}) on the run's rounds topic: the node
 * takes what is due before the round's bound once it has received everything the other nodes
 * said they sent it, publishes what that produced, and says it finished the round right behind
 * it, without waiting for the cluster's acknowledgements. No wall clock enters the simulation: a
 * node that is slow, paused, killed or cut off from the broker holds everyone's simulated time
 * still until it is back, and the log comes out the same as on the deterministic engine for the
 * same seed.
 *
 * <p>Every start is a recovery: the node is rebuilt by re-executing the inputs the run's topics
 * hold for it ({@link ScheduledNode#rebuild}; nothing for a first start), publishes what a crash
 * cut off, and resumes at the round after the last one it said it finished. The transport reads
 * the input topics from the beginning when it joins, and the node drops what it already received
 * by link sequence numbers, so no input is lost or taken twice, and no consumer group or
 * committed offset is involved. Stopping stops taking inputs, then waits until the cluster
 * acknowledged everything handed to the producer.
 *
 * <p>A kill ({@link #crash}) stops the node where it is: it hands nothing more to the producer
 * and takes no more input. What it had already handed to the shared producer is still sent, as
 * by a process whose writes had left it; in a cluster, where each node is a process of its own,
 * {@code kill -9} loses the producer's buffer too, and the successor re-emits what was lost.
 *
 * <p>Threads: the node, the round bookkeeping and the sends run on the verticle's context; the
 * transport's consumer thread and the producer's callbacks hop to it.
 */
public class NodeVerticle extends VerticleBase {

    private final NodeHost host;
    private final NodeStateMachine machine;
    private ScheduledNode node;
    private RoundClock clock;
    private List<String> senders;
    /** The last round this instance (or, before a restart, its predecessor) said it finished; -1: none. */
    private long round = -1;
    /** What a restart cut off is being published again; no round starts before it is acknowledged. */
    private boolean busy;
    private long recoveredEvents;
    private KafkaProducer<String, String> producer;
    private NodeTransport.Attachment attachment;
    private boolean stopping;
    private boolean crashed;
    private boolean paused;
    private final List<Runnable> pausedBacklog = new ArrayList<>();
    private final List<InputFault> inputFaults = new ArrayList<>();
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
        return vertx.executeBlocking(() -> {
            host.transport().flush(); // what a killed predecessor handed to the process's producer is in the log
            List<Envelope> log = new ArrayList<>();
            // only what rebuilding this node reads: its own events and those addressed to it
            String me = machine.nodeId();
            for (RecordedEvent r : RunLogReader.readRecorded(host.config(), host.runId(), RunTopics.names(host.runId()),
                    e -> e.node().equals(me) || e.links().containsKey(me))) {
                log.add(r.envelope());
            }
            recoveredEvents = log.stream().filter(e -> e.node().equals(machine.nodeId())).count();
            List<RoundClock.RoundDone> rounds = RunLogReader.readRounds(host.config(), host.runId());
            return new Recovered(ScheduledNode.rebuild(host.runId(), machine, host.topology(), host.latency(), log, true), rounds);
        }).compose(recovered -> {
            node = recovered.node();
            clock = new RoundClock(host.topology(), host.latency());
            recovered.rounds().forEach(clock::onDone);
            round = clock.lastRound(machine.nodeId());
            senders = new ArrayList<>(host.topology());
            senders.add(NodeIds.CONTROL);
            senders.remove(machine.nodeId());
            return vertx.executeBlocking(() -> host.transport().attach(machine.nodeId(), new NodeTransport.Listener() {
                @Override
                public void onInput(Envelope in, long storedAtMs) {
                    context.runOnContext(v -> onRecord(in, storedAtMs));
                }

                @Override
                public void onRound(RoundClock.RoundDone done) {
                    context.runOnContext(v -> onRoundDone(done));
                }
            }));
        }).compose(attached -> {
            attachment = attached;
            producer = host.transport().producer();
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

    private void onRoundDone(RoundClock.RoundDone done) {
        if (stopping) {
            return; // not taken: the next instance reads it again
        }
        clock.onDone(done);
        maybeAdvance();
    }

    private void onRecord(Envelope in, long storedAtMs) {
        if (stopping) {
            return; // not taken: the next instance reads it again
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
            failed("state machine failed on " + in.id(), e);
        }
    }

    // Infrastructure faults, done to this instance by a fault injector (KafkaRunner). Each runs on the context.

    /**
     * Dies as {@code kill -9} would: takes nothing more and publishes nothing more. Undeploy it
     * afterwards; a new instance rebuilds from the log.
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
        if (attachment != null) {
            NodeTransport.Attachment leaving = attachment;
            attachment = null;
            vertx.executeBlocking(() -> {
                host.transport().detach(leaving);
                return null;
            });
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
        return onContext(host.transport()::rewind);
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
     * Starts the next round when it can: every node said it finished the previous one, and everything the others said they sent this node has arrived.
     */
    private void maybeAdvance() {
        if (stopping || busy) {
            return;
        }
        if (round < 0) {
            sayDone(0);
            return;
        }
        long k = round + 1;
        if (!clock.active(machine.nodeId(), k)) {
            return; // quiesced
        }
        OptionalLong bound = clock.bound(k, machine.nodeId());
        if (bound.isEmpty() || bound.getAsLong() == Long.MAX_VALUE) {
            return; // a node has not finished round k - 1, or nothing is left to happen
        }
        for (String sender : senders) {
            if (node.receivedOn(sender) < clock.expected(sender, machine.nodeId())) {
                return;
            }
        }
        List<Envelope> out;
        try {
            out = node.runUntil(bound.getAsLong());
        } catch (RuntimeException e) {
            failed("state machine failed in round " + k, e);
            return;
        }
        publish(out);
        sayDone(k);
    }

    /** The state machine threw: its state may hold what it never published, so it takes nothing more for this run. */
    private void failed(String what, RuntimeException e) {
        stopping = true;
        host.errors().fatal(machine.nodeId(), what, e);
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

    /**
     * Says this node finished round {@code k} and goes on at once: neither the round's events nor
     * this RoundDone wait for the cluster's acknowledgement. The others read the RoundDone's link
     * counts and wait for those events anyway, and the idempotent producer keeps each partition in
     * order, so waiting here would only put a produce round trip on every round's critical path.
     * If the process dies before they are recorded, its next instance rebuilds from what was:
     * events lost with it are emitted again by re-execution, and a lost RoundDone is said again,
     * its counts and next time taken from where the rebuilt node stands (every one of its sends
     * is counted and every one in flight is in its next time, so the bounds stay safe).
     */
    private void sayDone(long k) {
        if (crashed) {
            return;
        }
        NodeDriver driver = node.driver();
        // What it sent this round (and, after a restart, what re-execution sent) that a destination may not have taken:
        // due at or after that destination's bound of this round.
        Map<String, Long> inFlight = node.takeSentArrivals(dest -> k == 0 ? Long.MIN_VALUE
                : clock.bound(k, dest).orElse(Long.MIN_VALUE));
        RoundClock.RoundDone done = new RoundClock.RoundDone(machine.nodeId(), k, driver.seq(), driver.sentOnLinks(),
                node.nextAtNs(), inFlight, driver.quiesced());
        producer.send(new ProducerRecord<>(RunTopics.rounds(host.runId()), machine.nodeId(), RunTopics.encode(done)),
                (metadata, error) -> {
                    if (error != null && !crashed) { // a killed process records nothing
                        context.runOnContext(v -> host.errors().record(machine.nodeId(), "round " + k + " was not recorded", error));
                    }
                });
        round = k;
        clock.onDone(done);
        clock.forgetBefore(k);
        context.runOnContext(v -> maybeAdvance()); // not a recursion: a node left alone goes on round after round
    }

    @Override
    public Future<?> stop() {
        stopping = true; // on the context: no input is taken from here on
        NodeTransport.Attachment leaving = attachment;
        attachment = null;
        return vertx.executeBlocking(() -> {
            if (!crashed) {
                host.transport().flush(); // everything emitted is acknowledged (or its failure recorded)
            }
            if (leaving != null) {
                host.transport().detach(leaving);
            }
            return null;
        });
    }
}
