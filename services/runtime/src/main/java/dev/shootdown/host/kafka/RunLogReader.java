package dev.shootdown.host.kafka;

import dev.shootdown.codec.EventCodec;
import dev.shootdown.codec.LogFormatException;
import dev.shootdown.host.CausalClock;
import dev.shootdown.log.CausalOrder;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.PartitionInfo;
import org.apache.kafka.common.TopicPartition;

/**
 * Reads a whole run back from its topics, from the first offset to the end offsets seen when
 * reading starts, and returns it in canonical causal order with the stored lines untouched.
 */
public final class RunLogReader {

    private RunLogReader() {}

    public static List<RecordedEvent> read(KafkaHostConfig config, String runId) throws InfrastructureException {
        return CausalOrder.sort(readRecorded(config, runId, RunTopics.names(runId)), RecordedEvent::envelope);
    }

    /** What {@link #stream} hands over: each event's stored line and its envelope, in canonical order. */
    public interface Sink {
        void accept(String line, dev.shootdown.event.Envelope envelope) throws java.io.IOException;
    }

    /**
     * Reads a whole run back, as {@link #read} does, but in memory that does not grow with the
     * run: each record's line is spooled, unchanged, to a file in {@code spool} per node and
     * partition (a node's records in one partition are in its sequence order: one producer, in
     * order), then the files of each node are merged by sequence and the nodes merged into the
     * canonical order ({@link CausalOrder#merge}), one event per node held. The spool files are
     * removed at the end. Returns how many events were handed over.
     */
    public static long stream(KafkaHostConfig config, String runId, java.nio.file.Path spool, Sink sink)
            throws InfrastructureException, java.io.IOException {
        java.nio.file.Files.createDirectories(spool);
        Map<String, Map<String, java.io.BufferedWriter>> files = new java.util.TreeMap<>();
        Map<String, List<java.nio.file.Path>> byNode = new java.util.TreeMap<>();
        try {
            try (KafkaConsumer<String, String> consumer = new KafkaConsumer<>(config.consumerProperties("shootdown-reader-" + runId))) {
                List<TopicPartition> partitions = new ArrayList<>();
                for (String topic : RunTopics.names(runId)) {
                    List<PartitionInfo> infos = consumer.partitionsFor(topic, config.requestTimeout());
                    if (infos == null || infos.isEmpty()) {
                        throw new InfrastructureException("run " + runId + " has no topic " + topic + " on " + config.bootstrapServers());
                    }
                    for (PartitionInfo info : infos) {
                        partitions.add(new TopicPartition(topic, info.partition()));
                    }
                }
                readToEnd(consumer, partitions, config, "reading run " + runId + " back", r -> {
                    dev.shootdown.event.Envelope e;
                    try {
                        e = EventCodec.decode(r.value());
                    } catch (LogFormatException bad) {
                        throw new InfrastructureException(r.topic() + "-" + r.partition() + " offset " + r.offset() + ": "
                                + bad.getMessage(), bad);
                    }
                    String partition = r.topic() + "-" + r.partition();
                    try {
                        java.io.BufferedWriter w = files.computeIfAbsent(e.node(), k -> new java.util.TreeMap<>()).get(partition);
                        if (w == null) {
                            List<java.nio.file.Path> paths = byNode.computeIfAbsent(e.node(), k -> new ArrayList<>());
                            java.nio.file.Path file = spool.resolve("spool-" + files.values().stream().mapToInt(Map::size).sum()
                                    + ".jsonl"); // one file per node and partition, numbered in order of first record
                            paths.add(file);
                            w = java.nio.file.Files.newBufferedWriter(file, java.nio.charset.StandardCharsets.UTF_8);
                            files.get(e.node()).put(partition, w);
                        }
                        w.write(r.value());
                        w.write('\n');
                    } catch (java.io.IOException io) {
                        throw new InfrastructureException("cannot spool run " + runId + " to " + spool + ": " + io.getMessage(), io);
                    }
                });
            } finally {
                for (Map<String, java.io.BufferedWriter> ws : files.values()) {
                    for (java.io.BufferedWriter w : ws.values()) {
                        w.close();
                    }
                }
            }
            List<NodeFiles> nodes = new ArrayList<>();
            try {
                for (List<java.nio.file.Path> paths : byNode.values()) {
                    nodes.add(new NodeFiles(paths));
                }
                long[] count = {0};
                CausalOrder.merge(nodes, RecordedEvent::envelope, r -> {
                    try {
                        sink.accept(r.line(), r.envelope());
                    } catch (java.io.IOException io) {
                        throw new java.io.UncheckedIOException(io);
                    }
                    count[0]++;
                });
                return count[0];
            } catch (java.io.UncheckedIOException io) {
                throw io.getCause();
            } finally {
                for (NodeFiles n : nodes) {
                    n.close();
                }
            }
        } finally {
            for (List<java.nio.file.Path> paths : byNode.values()) {
                for (java.nio.file.Path p : paths) {
                    java.nio.file.Files.deleteIfExists(p);
                }
            }
        }
    }

    /** One node's spool files, each in sequence order, read as one stream in sequence order. */
    private static final class NodeFiles implements java.util.Iterator<RecordedEvent>, AutoCloseable {
        private final List<java.io.BufferedReader> readers = new ArrayList<>();
        private final List<RecordedEvent> heads = new ArrayList<>();

        NodeFiles(List<java.nio.file.Path> paths) throws java.io.IOException {
            for (java.nio.file.Path p : paths) {
                java.io.BufferedReader r = java.nio.file.Files.newBufferedReader(p, java.nio.charset.StandardCharsets.UTF_8);
                readers.add(r);
                heads.add(read(r));
            }
        }

        private static RecordedEvent read(java.io.BufferedReader r) {
            try {
                String line = r.readLine();
                return line == null ? null : new RecordedEvent(EventCodec.decode(line), line);
            } catch (java.io.IOException e) {
                throw new java.io.UncheckedIOException(e);
            } catch (LogFormatException e) {
                throw new IllegalStateException("a spooled line no longer decodes: " + e.getMessage(), e);
            }
        }

        @Override
        public boolean hasNext() {
            return heads.stream().anyMatch(java.util.Objects::nonNull);
        }

        @Override
        public RecordedEvent next() {
            int least = -1;
            for (int i = 0; i < heads.size(); i++) {
                if (heads.get(i) != null && (least < 0 || heads.get(i).envelope().seq() < heads.get(least).envelope().seq())) {
                    least = i;
                }
            }
            if (least < 0) {
                throw new java.util.NoSuchElementException();
            }
            RecordedEvent out = heads.get(least);
            heads.set(least, read(readers.get(least)));
            return out;
        }

        @Override
        public void close() throws java.io.IOException {
            for (java.io.BufferedReader r : readers) {
                r.close();
            }
        }
    }

    /** Every record of {@code topics} so far, in no particular order (a run still in flight may have gaps). */
    public static List<RecordedEvent> readRecorded(KafkaHostConfig config, String runId, List<String> topics)
            throws InfrastructureException {
        return readRecorded(config, runId, topics, e -> true);
    }

    /** The records of {@code topics} so far whose envelope {@code keep} accepts, in no particular order. */
    public static List<RecordedEvent> readRecorded(KafkaHostConfig config, String runId, List<String> topics,
            java.util.function.Predicate<dev.shootdown.event.Envelope> keep) throws InfrastructureException {
        List<RecordedEvent> events = new ArrayList<>();
        try (KafkaConsumer<String, String> consumer = new KafkaConsumer<>(config.consumerProperties("shootdown-reader-" + runId))) {
            List<TopicPartition> partitions = new ArrayList<>();
            for (String topic : topics) {
                List<PartitionInfo> infos = consumer.partitionsFor(topic, config.requestTimeout());
                if (infos == null || infos.isEmpty()) {
                    throw new InfrastructureException("run " + runId + " has no topic " + topic + " on "
                            + config.bootstrapServers());
                }
                for (PartitionInfo info : infos) {
                    partitions.add(new TopicPartition(topic, info.partition()));
                }
            }
            readToEnd(consumer, partitions, config, "reading run " + runId + " back", r -> {
                try {
                    dev.shootdown.event.Envelope e = EventCodec.decode(r.value());
                    if (keep.test(e)) {
                        events.add(new RecordedEvent(e, r.value()));
                    }
                } catch (LogFormatException e) {
                    throw new InfrastructureException(r.topic() + "-" + r.partition() + " offset " + r.offset() + ": " + e.getMessage(), e);
                }
            });
        }
        return events;
    }

    /** A status and its offset on the run's time topic. */
    public record StatusRecord(long offset, CausalClock.Status status) {}

    /** Every {@link CausalClock.Status} of the run so far, in the order they were recorded, with their offsets. */
    public static List<StatusRecord> readStatuses(KafkaHostConfig config, String runId) throws InfrastructureException {
        List<StatusRecord> statuses = new ArrayList<>();
        String topic = RunTopics.time(runId);
        try (KafkaConsumer<String, String> consumer = new KafkaConsumer<>(config.consumerProperties("shootdown-time-" + runId))) {
            readToEnd(consumer, List.of(new TopicPartition(topic, 0)), config, "reading the statuses of run " + runId, r -> {
                try {
                    statuses.add(new StatusRecord(r.offset(), RunTopics.decodeStatus(r.value())));
                } catch (LogFormatException e) {
                    throw new InfrastructureException(topic + " offset " + r.offset() + ": " + e.getMessage(), e);
                }
            });
        }
        return statuses;
    }

    /** What is done with each record read. */
    private interface RecordHandler {
        void accept(ConsumerRecord<String, String> record) throws InfrastructureException;
    }

    /** Reads {@code partitions} from their beginning to the end offsets they have now, handing each record to {@code each}. */
    private static void readToEnd(KafkaConsumer<String, String> consumer, List<TopicPartition> partitions, KafkaHostConfig config,
            String what, RecordHandler each) throws InfrastructureException {
        consumer.assign(partitions);
        consumer.seekToBeginning(partitions);
        Map<TopicPartition, Long> end = consumer.endOffsets(partitions, config.requestTimeout());
        long deadline = System.nanoTime() + config.requestTimeout().toNanos() * 4;
        while (!caughtUp(consumer, end)) {
            if (System.nanoTime() > deadline) {
                throw new InfrastructureException(what + " from " + config.bootstrapServers() + " did not reach the end offsets in time");
            }
            for (ConsumerRecord<String, String> r : consumer.poll(Duration.ofMillis(100))) {
                each.accept(r);
            }
        }
    }

    private static boolean caughtUp(KafkaConsumer<String, String> consumer, Map<TopicPartition, Long> end) {
        for (Map.Entry<TopicPartition, Long> e : end.entrySet()) {
            if (consumer.position(e.getKey()) < e.getValue()) {
                return false;
            }
        }
        return true;
    }
}
