package dev.shootdown.host.kafka;

import dev.shootdown.codec.EventCodec;
import dev.shootdown.core.NodeStateMachine;
import dev.shootdown.event.Envelope;
import dev.shootdown.event.Routing;
import dev.shootdown.host.CausalClock;
import dev.shootdown.host.ScheduledNode;
import io.vertx.core.Future;
import io.vertx.core.Promise;
import io.vertx.core.VerticleBase;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Predicate;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;

/**
 * The Kafka host of one node: a Vert.x verticle whose context runs the node's state machine
 * (through a {@link ScheduledNode}), publishing through, and fed by, the Kafka clients the nodes
 * of its process share ({@link NodeTransport}: an idempotent {@code acks=all} producer, and a
 * consumer that hands each node what is addressed to it).
 *
 * <p>Simulated time is kept by per-link promises ({@link CausalClock}) on the run's time topic:
 * whenever it received something, the node takes what is due before its bound (nothing still on
 * its way can be due sooner), publishes what that produced, and says its status right behind it,
 * without waiting for the cluster's acknowledgements. No wall clock enters the simulation: a node
 * that is slow, paused, killed or cut off from the broker holds still the simulated time of
 * those who wait for it until it is back, and the log comes out the same as on the deterministic
 * engine for the same seed.
 *
 * <p>Every start is a recovery: the node is rebuilt by re-executing the inputs the run's topics
 * hold for it ({@link ScheduledNode#rebuild}; nothing for a first start), publishes what a crash
 * cut off, says its status, and goes on. The transport reads
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
 * <p>Threads: the node, the time bookkeeping and the sends run on the verticle's context; the
 * transport's consumer thread and the producer's callbacks hop to it.
 */
public class NodeVerticle extends VerticleBase {

    private final NodeHost host;
    private final NodeStateMachine machine;
    private final long promiseSkewNs;
    private ScheduledNode node;
    private CausalClock clock;
    /** The last status this instance said (null: none yet). */
    private CausalClock.Status said;
    /** An {@link #advance} is queued on the context. */
    private boolean advancing;
    /** What a restart cut off is being published again; nothing is taken before it is acknowledged. */
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
        this(host, machine, 0);
    }

    /**
     * A node whose every promise is {@code promiseSkewNs} later than it can keep: a wrong
     * promise, which the others must catch and stop the run for (tests and fault experiments).
     */
    public NodeVerticle(NodeHost host, NodeStateMachine machine, long promiseSkewNs) {
        this.host = host;
        this.machine = machine;
        this.promiseSkewNs = promiseSkewNs;
    }

    public String nodeId() {
        return machine.nodeId();
    }

    /** How many of its own events this instance found in the log when it started (0 on a first start). */
    public long recoveredEvents() {
        return recoveredEvents;
    }

    private record Recovered(ScheduledNode node, List<RunLogReader.StatusRecord> statuses) {}

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
            List<RunLogReader.StatusRecord> statuses = RunLogReader.readStatuses(host.config(), host.runId());
            return new Recovered(ScheduledNode.rebuild(host.runId(), machine, host.topology(), host.latency(), log, true), statuses);
        }).compose(recovered -> {
            node = recovered.node();
            clock = new CausalClock(machine.nodeId(), host.topology(), host.latency(), promiseSkewNs);
            recovered.statuses().forEach(r -> clock.onStatus(r.status(), r.offset()));
            node.checkArrivals(clock::checkArrival);
            CausalClock hearing = clock; // read on the transport's thread: only its final fields
            return vertx.executeBlocking(() -> host.transport().attach(machine.nodeId(), new NodeTransport.Listener() {
                @Override
                public void onInput(Envelope in, long storedAtMs) {
                    context.runOnContext(v -> onRecord(in, storedAtMs));
                }

                @Override
                public void onStatus(CausalClock.Status status, long offset) {
                    long handedOverNs = System.nanoTime();
                    context.runOnContext(v -> onStatusSaid(status, offset, handedOverNs));
                }

                @Override
                public boolean hears(String node) {
                    return hearing.hears(node);
                }
            }));
        }).compose(attached -> {
            attachment = attached;
            producer = host.transport().producer();
            List<Envelope> cutOff = node.takeUnpublished();
            if (cutOff.isEmpty()) {
                advance();
            } else {
                busy = true;
                publish(cutOff).onComplete(v -> {
                    busy = false;
                    advance();
                });
            }
            return Future.succeededFuture();
        });
    }

    private void onStatusSaid(CausalClock.Status status, long offset, long handedOverNs) {
        if (stopping) {
            return; // not taken: the next instance reads it again
        }
        clock.onStatus(status, offset);
        host.observer().onStatusHeard(machine.nodeId(), status, handedOverNs);
        scheduleAdvance();
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
            scheduleAdvance();
        } catch (RuntimeException e) {
            failed("refused " + in.id(), e);
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
     * the middle of whatever it was publishing: the rest of the batch is never sent. Completes
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
                scheduleAdvance();
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

    /** Has {@link #advance} run once the context is free: what arrived meanwhile is taken in one go. */
    private void scheduleAdvance() {
        if (!advancing) {
            advancing = true;
            context.runOnContext(v -> {
                advancing = false;
                advance();
            });
        }
    }

    /**
     * Takes everything due before the bound (again while taking widens it), publishes what that
     * produced, and says the node's status behind it when it tells the others something new.
     */
    private void advance() {
        if (stopping || busy) {
            return;
        }
        List<Envelope> out = new ArrayList<>();
        long bound;
        try {
            bound = clock.bound(node);
            while (node.nextAtNs() < bound) {
                out.addAll(node.runUntil(bound));
                bound = clock.bound(node);
            }
        } catch (dev.shootdown.host.WrongPromiseException e) {
            failed("the time protocol stopped the run", e);
            return;
        } catch (RuntimeException e) {
            failed("state machine failed", e);
            return;
        }
        publish(out);
        CausalClock.Status status = clock.statusWorthSaying(node, bound, said);
        if (status != null) {
            say(status);
        }
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
                acked.complete(); // a failure is recorded; the node goes on (the run is then marked failed)
            }));
            if (e.seq() == crashAtSeq) {
                crashNow();
                crashedAt.complete(e.id());
            }
        }
        return Future.all(acks).mapEmpty();
    }

    /**
     * Says this node's status and goes on at once: neither the events before it nor the status
     * wait for the cluster's acknowledgement. The others read the status's link counts and wait
     * for those events anyway, and the idempotent producer keeps each partition in order, so
     * waiting here would only put a produce round trip on every step's critical path. If the
     * process dies before they are recorded, its next instance rebuilds from what was: events
     * lost with it are emitted again by re-execution, and its status is said again from where the
     * rebuilt node stands. Every status is a claim about a deterministic future, so one said by a
     * predecessor stays true for its successor.
     */
    private void say(CausalClock.Status status) {
        if (crashed) {
            return;
        }
        said = status;
        host.observer().onStatusSaid(machine.nodeId(), status);
        producer.send(new ProducerRecord<>(RunTopics.time(host.runId()), machine.nodeId(), RunTopics.encode(status)),
                (metadata, error) -> {
                    if (error != null && !crashed) { // a killed process records nothing
                        context.runOnContext(v -> host.errors().record(machine.nodeId(), "status " + status.seq() + " was not recorded", error));
                    }
                });
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
