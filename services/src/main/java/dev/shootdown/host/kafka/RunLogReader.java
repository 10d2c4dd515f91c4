package dev.shootdown.host.kafka;

import dev.shootdown.codec.EventCodec;
import dev.shootdown.codec.LogFormatException;
import dev.shootdown.host.RoundClock;
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

    /** Every record of {@code topics} so far, in no particular order (a run still in flight may have gaps). */
    public static List<RecordedEvent> readRecorded(KafkaHostConfig config, String runId, List<String> topics)
            throws InfrastructureException {
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
                    events.add(new RecordedEvent(EventCodec.decode(r.value()), r.value()));
                } catch (LogFormatException e) {
                    throw new InfrastructureException(r.topic() + "-" + r.partition() + " offset " + r.offset() + ": " + e.getMessage(), e);
                }
            });
        }
        return events;
    }

    /** Every {@link RoundClock.RoundDone} of the run so far, in the order they were recorded. */
    public static List<RoundClock.RoundDone> readRounds(KafkaHostConfig config, String runId) throws InfrastructureException {
        List<RoundClock.RoundDone> rounds = new ArrayList<>();
        String topic = RunTopics.rounds(runId);
        try (KafkaConsumer<String, String> consumer = new KafkaConsumer<>(config.consumerProperties("shootdown-rounds-" + runId))) {
            readToEnd(consumer, List.of(new TopicPartition(topic, 0)), config, "reading the rounds of run " + runId, r -> {
                try {
                    rounds.add(RunTopics.decodeRound(r.value()));
                } catch (LogFormatException e) {
                    throw new InfrastructureException(topic + " offset " + r.offset() + ": " + e.getMessage(), e);
                }
            });
        }
        return rounds;
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
