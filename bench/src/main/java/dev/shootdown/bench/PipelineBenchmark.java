package dev.shootdown.bench;

import dev.shootdown.broker.EmbeddedKafkaBroker;
import dev.shootdown.codec.LogFormatException;
import dev.shootdown.event.NodeIds;
import dev.shootdown.host.kafka.KafkaHostConfig;
import dev.shootdown.host.kafka.NodeObserver;
import dev.shootdown.host.kafka.RecordedEvent;
import dev.shootdown.host.kafka.RunTopics;
import dev.shootdown.scenario.Scenario;
import dev.shootdown.scenario.file.ScenarioFiles;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.HdrHistogram.Histogram;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.TopicPartition;

/**
 * Goal 1: simulated events per second through the Kafka host (every node a verticle, every event
 * a record on the run's topics) on the embedded broker, for a workload with many concurrent
 * shootdowns. The rate is the run's events over the time its simulation took: from the run
 * controller's status on the run's time topic (said with RunStarted, once every node is
 * deployed) to the last status (the broker's timestamps), which leaves out topic creation,
 * deployment and shutdown; the run's whole wall time is given beside it.
 *
 * <p>The reference, on the same broker right after: Kafka's own
 * {@code org.apache.kafka.tools.ProducerPerformance}, in a JVM of its own (kafka-tools is
 * published up to 4.3.1, with its own clients), sending records of the run's mean encoded size,
 * as many as the run had events (at least 100,000, so that its rate is not its start-up), to a
 * topic with the run topics' partitions, as fast as it can ({@code --throughput -1}).
 *
 * <p>Runs on the calling thread; the Kafka host uses its own Vert.x threads.
 */
final class PipelineBenchmark {

    /** The issue's goal: at least half of Kafka's raw rate. */
    static final double GOAL_RATIO = 0.5;
    /** Records of Kafka's EndToEndLatency for the critical path's bound. */
    static final long E2E_RECORDS = 2_000;
    private static final long MIN_REFERENCE_RECORDS = 100_000;

    private PipelineBenchmark() {}

    /**
     * Runs {@code scenarioFile} with a window of {@code windowNs} on a fresh embedded broker, twice
     * (the first, unmeasured, warms the JVM up), then the reference.
     */
    static Row measure(Path scenarioFile, long windowNs, Path kafkaTools) throws Exception {
        Scenario loaded = ScenarioFiles.load(scenarioFile);
        Scenario scenario = loaded.withEnd(new Scenario.EndCondition(loaded.end().deviceFaults(), windowNs));
        try (EmbeddedKafkaBroker broker = EmbeddedKafkaBroker.start(null)) {
            KafkaHostConfig config = BenchKafka.config(broker.bootstrapServers());
            // Once first, as a throughput benchmark's warm-up: this JVM hosts the broker, its clients and every node, and
            // its JIT compilers took about a third of the two cores' time through the first runs (JFR, 2026-12-04).
            KafkaBenchRun cold = KafkaBenchRun.run(config, scenario, "warmup", NodeObserver.NONE);
            Statuses coldStatuses = statuses(broker.bootstrapServers(), cold.runId());
            double coldRate = cold.log().size() / (Math.max(coldStatuses.lastMs() - coldStatuses.firstMs(), 1) / 1e3);
            CpuUse before = CpuUse.now();
            KafkaBenchRun run = KafkaBenchRun.run(config, scenario, "bench", NodeObserver.NONE);
            CpuUse used = CpuUse.now().since(before);
            String runId = run.runId();
            double seconds = run.seconds();
            List<RecordedEvent> log = run.log();
            int recordSize = run.recordSize();
            if (log.size() != cold.log().size()) {
                throw new IllegalStateException("the same seed gave " + cold.log().size() + " events, then " + log.size());
            }

            Statuses r = statuses(broker.bootstrapServers(), runId);
            double runSeconds = Math.max(r.lastMs() - r.firstMs(), 1) / 1e3;
            double rate = log.size() / runSeconds;

            long records = Math.max(log.size(), MIN_REFERENCE_RECORDS);
            CpuUse beforeReference = CpuUse.now();
            ToolRun producer = producerPerformance(broker.bootstrapServers(), kafkaTools, records, recordSize,
                    config.partitions(), config.replicationFactor());
            double kafkaRate = producer.rate();
            CpuUse duringReference = CpuUse.now().since(beforeReference);
            // What a design that consumes each event once must also pay: Kafka's own consumer over the same records.
            double consumeRate = consumerPerformance(broker.bootstrapServers(), kafkaTools, records).rate();
            // processor time per event against the reference's per record: both runs keep the cores busy
            double ourUsPerEvent = used.cpuNs() / 1e3 / log.size();
            double refUsPerRecord = (duringReference.cpuNs() + producer.cpuNs()) / 1e3 / records;
            double produceAndConsume = 1 / (1 / kafkaRate + 1 / consumeRate);
            double ratio = rate / kafkaRate;
            // The bound the run's critical path allows: its hops one after another, each at Kafka's own latency.
            int hops = CriticalPath.hops(log.stream().map(RecordedEvent::envelope).toList());
            LatencyBenchmark.EndToEnd e2e = LatencyBenchmark.endToEndLatency(broker.bootstrapServers(), kafkaTools, E2E_RECORDS,
                    recordSize);
            double boundSeconds = hops * e2e.avgMs() / 1e3;
            return new Row(1, "pipeline", String.format(Locale.ROOT, "%s (%d CPUs, %d IOMMUs, %d mms) x86 linux-6.6, "
                            + "%,d ns simulated, %,d events", scenario.name(), scenario.cpus(), scenario.iommus(), scenario.mms().size(),
                    windowNs, log.size()), rate, "events/s",
                    "Kafka's ProducerPerformance, same broker, " + recordSize + "-byte records", kafkaRate,
                    "≥ 0.5 of Kafka's raw rate", Row.ratioAtLeast(ratio, GOAL_RATIO),
                    String.format(Locale.ROOT, "rate over the simulation (from the run controller's status, once every node is "
                                    + "deployed, to the last status, %.1f s); the whole run took %.1f s (%s events/s with topics, "
                                    + "deployment and shutdown); %,d status records (%.2f per event; the mm's: %,d); reference %,d "
                                    + "records; critical path: %,d hops between nodes (CriticalPath), at Kafka's EndToEndLatency "
                                    + "mean of %.3f ms (%,d records, acks=all) a bound of %.2f s, which the run took %.1f times; "
                                    + "the same run just before it, as the warm-up (not the row's rate): %s events/s; over the measured run "
                                    + "%s; during the reference %s; Kafka's ConsumerPerformance over the reference's records "
                                    + "(fetch rate, same broker): %s records/s, so producing and then consuming each record once "
                                    + "(every event of the run is consumed at least once, by its node's process) runs at "
                                    + "1 / (1/produce + 1/consume) = %s records/s on these cores, %.2f of the raw rate, against the "
                                    + "run's %.3f; processor time per event, this JVM over the measured run (with deployment and "
                                    + "shutdown): %.0f us, against the reference's per record (the broker's, and ProducerPerformance's "
                                    + "JVM's as last seen before it exited): %.0f us, %.1f times",
                            runSeconds, seconds, Row.format(log.size() / seconds), r.records(), r.records() / (double) log.size(),
                            r.mm(), records, hops, e2e.avgMs(), e2e.records(), boundSeconds,
                            runSeconds / Math.max(boundSeconds, 1e-9), Row.format(coldRate),
                            used.describe("this JVM (the broker, the clients, every node)"),
                            duringReference.describe("this JVM (the broker; ProducerPerformance runs in its own)"),
                            Row.format(consumeRate), Row.format(produceAndConsume), produceAndConsume / kafkaRate, ratio,
                            ourUsPerEvent, refUsPerRecord, ourUsPerEvent / refUsPerRecord)
                            + clientSettings());
        }
    }

    /** The suite's client settings over the host's defaults, as the row's last words (nothing without any). */
    static String clientSettings() {
        return BenchKafka.overrides().isEmpty() ? "" : "; Kafka client settings over the host's defaults: " + BenchKafka.overrides();
    }

    /**
     * The run's time topic: how many status records (the mm's among them), the broker's
     * timestamp of the run controller's (said with RunStarted, once every node is deployed) and
     * of the last record.
     */
    record Statuses(long records, long mm, long firstMs, long lastMs) {}

    static Statuses statuses(String bootstrap, String runId) {
        TopicPartition tp = new TopicPartition(RunTopics.time(runId), 0);
        Map<String, Object> props = Map.of("bootstrap.servers", bootstrap, "key.deserializer", StringDeserializer.class.getName(),
                "value.deserializer", StringDeserializer.class.getName(), "enable.auto.commit", "false");
        try (KafkaConsumer<String, String> consumer = new KafkaConsumer<>(props)) {
            consumer.assign(List.of(tp));
            consumer.seekToBeginning(List.of(tp));
            long end = consumer.endOffsets(List.of(tp), Duration.ofSeconds(30)).get(tp);
            long started = -1;
            long last = -1;
            long read = 0;
            long mm = 0;
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
            while (read < end && System.nanoTime() < deadline) {
                for (ConsumerRecord<String, String> r : consumer.poll(Duration.ofMillis(200))) {
                    read++;
                    if (started < 0 && NodeIds.CONTROL.equals(r.key())) {
                        started = r.timestamp();
                    }
                    if (NodeIds.COORDINATOR.equals(r.key())) {
                        mm++;
                    }
                    last = r.timestamp();
                }
            }
            if (read < end || started < 0) {
                throw new IllegalStateException("read " + read + " of " + end + " status records of " + tp
                        + (started < 0 ? ", none from the run controller" : "") + " in 60 s");
            }
            return new Statuses(end, mm, started, last);
        }
    }

    private static final Pattern RATE = Pattern.compile("records sent, ([0-9.]+) records/sec");

    /**
     * Kafka's ConsumerPerformance against {@code bootstrap}, reading the {@code records} records
     * {@link #producerPerformance} wrote; returns its fetch rate (records per second, its join of
     * the group left out).
     */
    static ToolRun consumerPerformance(String bootstrap, Path kafkaTools, long records) throws IOException, InterruptedException {
        KafkaTool.Output run = KafkaTool.run(kafkaTools, "ConsumerPerformance", "--bootstrap-server", bootstrap, "--topic",
                PRODUCER_TOPIC, "--num-records", Long.toString(records), "--timeout", "60000");
        // a header line, then: start.time, end.time, MB, MB.sec, nMsg, nMsg.sec, rebalance.time.ms, fetch.time.ms,
        // fetch.MB.sec, fetch.nMsg.sec
        double fetchRate = -1;
        long consumed = -1;
        for (String line : run.out().split("\\R")) {
            String[] f = line.split(",\\s*");
            if (f.length >= 10 && f[4].trim().matches("[0-9]+")) {
                consumed = Long.parseLong(f[4].trim());
                fetchRate = Double.parseDouble(f[9].trim());
            }
        }
        if (run.exit() != 0 || fetchRate <= 0 || consumed < records) {
            throw run.failed(consumed + " of " + records + " records");
        }
        return new ToolRun(fetchRate, run.cpuNs());
    }

    private static final String PRODUCER_TOPIC = "bench-producer-performance";

    /** What one of Kafka's tools measured, and the processor time its JVM had used when last seen before it exited. */
    record ToolRun(double rate, long cpuNs) {}

    /** Kafka's ProducerPerformance against {@code bootstrap}, as fast as it can; returns its records per second. */
    static ToolRun producerPerformance(String bootstrap, Path kafkaTools, long records, int recordSize, int partitions,
            short replication) throws IOException, InterruptedException {
        String topic = PRODUCER_TOPIC;
        try (Admin admin = Admin.create(Map.of("bootstrap.servers", bootstrap))) {
            admin.createTopics(List.of(new NewTopic(topic, partitions, replication))).all().get(30, TimeUnit.SECONDS);
        } catch (java.util.concurrent.ExecutionException | java.util.concurrent.TimeoutException e) {
            throw new IllegalStateException("cannot create topic " + topic + ": " + e, e);
        }
        KafkaTool.Output run = KafkaTool.run(kafkaTools, "ProducerPerformance", "--topic", topic, "--num-records",
                Long.toString(records), "--record-size", Integer.toString(recordSize), "--throughput", "-1", "--producer-props",
                "bootstrap.servers=" + bootstrap);
        Matcher m = RATE.matcher(run.out());
        double last = -1;
        while (m.find()) {
            last = Double.parseDouble(m.group(1)); // the final summary is the last such line
        }
        if (run.exit() != 0 || last <= 0) {
            throw run.failed("");
        }
        return new ToolRun(last, run.cpuNs());
    }
}
