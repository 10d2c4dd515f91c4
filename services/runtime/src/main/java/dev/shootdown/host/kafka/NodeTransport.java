package dev.shootdown.host.kafka;

import dev.shootdown.codec.EventCodec;
import dev.shootdown.codec.LogFormatException;
import dev.shootdown.event.Envelope;
import dev.shootdown.event.Family;
import dev.shootdown.event.Routing;
import dev.shootdown.host.CausalClock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.apache.kafka.clients.consumer.CloseOptions;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.common.PartitionInfo;
import org.apache.kafka.common.TopicPartition;

/**
 * The Kafka clients of the nodes one process hosts for one run: a single idempotent producer
 * they all publish through, and a single consumer that reads the run's input topics and its
 * statuses topic once, decodes each record once, and hands it to each node it is addressed to
 * (a status to every node). Kafka's producer is made to be shared between threads, and one
 * consumer per process instead of one per node spares the broker a fetch per node for every
 * record: with a dozen nodes in one process that was most of a step's time.
 *
 * <p>A node joins by {@link #attach}, after it rebuilt itself from the log. Each attach reads
 * the topics again from the beginning, so the newcomer misses nothing the consumer read before
 * it came; the nodes already there drop what they already received by link sequence numbers.
 * The clients start with the first node and close after the last one left.
 *
 * <p>Threads: the consumer runs on a thread of its own, and calls the nodes' listeners on it;
 * they must hand over to their own thread. Attach, detach and rewind are thread-safe.
 */
public final class NodeTransport {

    /** Families that carry events addressed to nodes; facts (page table, trace) are not consumed. */
    static final List<Family> INPUT_FAMILIES = List.of(
            Family.IPI, Family.SECONDARY_TLB, Family.WALK, Family.FAULT, Family.SYSCALL, Family.CONTROL);

    /** What one node is given, on the consumer's thread. */
    public interface Listener {
        /** An envelope addressed to the node; {@code storedAtMs} is when Kafka stored it. */
        void onInput(Envelope in, long storedAtMs);

        /** A node (or the run controller) said its status, at {@code offset} on the statuses topic. */
        void onStatus(CausalClock.Status status, long offset);

        /**
         * Whether the node uses the statuses {@code node} says ({@link CausalClock#hears}); those it
         * does not are not handed over. Called on the transport's thread.
         */
        default boolean hears(String node) {
            return true;
        }
    }

    /** A node's place at the transport, to give back with {@link #detach}. */
    public static final class Attachment {
        private final String nodeId;
        private final Listener listener;

        private Attachment(String nodeId, Listener listener) {
            this.nodeId = nodeId;
            this.listener = listener;
        }
    }

    private final String runId;
    private final KafkaHostConfig config;
    private final dev.shootdown.host.ErrorLog errors;
    private final List<Attachment> attached = new CopyOnWriteArrayList<>();
    private KafkaProducer<String, String> producer;
    private Thread poller;
    private volatile boolean polling;
    private volatile boolean rewind;

    NodeTransport(String runId, KafkaHostConfig config, dev.shootdown.host.ErrorLog errors) {
        this.runId = runId;
        this.config = config;
        this.errors = errors;
    }

    /**
     * Adds {@code nodeId}'s listener, starting the clients if it is the first, and has the
     * consumer read everything again from the beginning.
     */
    public synchronized Attachment attach(String nodeId, Listener listener) {
        if (producer == null) {
            String clientId = "shootdown-" + runId + "-" + nodeId + "-process";
            producer = new KafkaProducer<>(config.producerProperties(clientId));
            KafkaConsumer<String, String> consumer = new KafkaConsumer<>(config.consumerProperties(clientId));
            try {
                List<TopicPartition> partitions = new ArrayList<>();
                for (Family f : INPUT_FAMILIES) {
                    String topic = Routing.topic(runId, f);
                    for (PartitionInfo info : consumer.partitionsFor(topic, config.requestTimeout())) {
                        partitions.add(new TopicPartition(topic, info.partition()));
                    }
                }
                partitions.add(new TopicPartition(RunTopics.time(runId), 0));
                consumer.assign(partitions);
                consumer.seekToBeginning(partitions);
            } catch (RuntimeException e) {
                consumer.close(CloseOptions.timeout(Duration.ZERO));
                producer.close(Duration.ZERO);
                producer = null;
                throw e;
            }
            polling = true;
            poller = new Thread(() -> poll(consumer), "shootdown-transport-" + runId);
            poller.setDaemon(true);
            poller.start();
        }
        Attachment a = new Attachment(nodeId, listener);
        attached.add(a);
        rewind = true;
        return a;
    }

    /** The producer every attached node publishes through (thread-safe). */
    public synchronized KafkaProducer<String, String> producer() {
        if (producer == null) {
            throw new IllegalStateException("no node is attached to the transport of run " + runId);
        }
        return producer;
    }

    /** Waits until everything handed to the producer so far is acknowledged (or failed); nothing when no client is open. */
    public void flush() {
        KafkaProducer<String, String> p;
        synchronized (this) {
            p = producer;
        }
        if (p != null) {
            p.flush();
        }
    }

    /** Reads every input topic again from the beginning (a consumer rewind: every attached node sees its inputs again). */
    public void rewind() {
        rewind = true;
    }

    /**
     * Takes {@code a}'s node off: it is given nothing more. The last one to leave closes the
     * clients: the producer after everything handed to it was acknowledged (or failed).
     * Blocks; call it off any event loop.
     */
    public void detach(Attachment a) {
        Thread stopping = null;
        KafkaProducer<String, String> closing = null;
        synchronized (this) {
            attached.remove(a);
            if (attached.isEmpty() && producer != null) {
                polling = false;
                stopping = poller;
                closing = producer;
                poller = null;
                producer = null;
            }
        }
        if (stopping != null) {
            try {
                stopping.join(Duration.ofSeconds(10).toMillis());
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            closing.close(Duration.ofSeconds(5));
        }
    }

    private void poll(KafkaConsumer<String, String> consumer) {
        String timeTopic = RunTopics.time(runId);
        try {
            while (polling) {
                if (rewind) {
                    rewind = false;
                    consumer.seekToBeginning(consumer.assignment());
                }
                for (ConsumerRecord<String, String> r : consumer.poll(Duration.ofMillis(20))) {
                    dispatch(r, timeTopic);
                }
            }
        } catch (RuntimeException e) {
            errors.record("transport", "the consumer of run " + runId + " failed", e);
        } finally {
            consumer.close(CloseOptions.timeout(Duration.ofSeconds(5)));
        }
    }

    private void dispatch(ConsumerRecord<String, String> r, String timeTopic) {
        try {
            if (r.topic().equals(timeTopic)) {
                // statuses are keyed by the node that said them; each is decoded once, if anyone here hears it
                CausalClock.Status status = r.key() == null ? RunTopics.decodeStatus(r.value()) : null;
                for (Attachment a : attached) {
                    if (a.listener.hears(status == null ? r.key() : status.node())) {
                        if (status == null) {
                            status = RunTopics.decodeStatus(r.value());
                        }
                        a.listener.onStatus(status, r.offset());
                    }
                }
                return;
            }
            Envelope in = EventCodec.decode(r.value());
            if (!in.run().equals(runId)) {
                return;
            }
            for (Attachment a : attached) {
                if (in.links().containsKey(a.nodeId)) {
                    a.listener.onInput(in, r.timestamp());
                }
            }
        } catch (LogFormatException e) {
            errors.record("transport", r.topic() + "-" + r.partition() + " offset " + r.offset() + ": " + e.getMessage(), null);
        }
    }
}
