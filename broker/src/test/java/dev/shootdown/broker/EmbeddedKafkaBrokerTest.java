package dev.shootdown.broker;

import static java.util.concurrent.TimeUnit.SECONDS;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.Reader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executor;
import java.util.concurrent.Future;
import java.util.stream.Collectors;
import java.util.stream.IntStream;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.admin.OffsetSpec;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.RetriableException;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Runs real Kafka brokers (in this JVM, and one in a child JVM) and checks that what was
 * acknowledged is read back exactly, before and after a restart on the same directory.
 */
class EmbeddedKafkaBrokerTest {

    private static final String TOPIC = "events";
    private static final int PARTITIONS = 4;
    private static final int RECORDS = 1000;
    private static final Duration CLIENT_TIMEOUT = Duration.ofSeconds(30);
    /** Blocking reads of a child JVM's output, each on a daemon thread of its own (not the common pool). */
    private static final Executor NEW_THREAD = task -> {
        Thread thread = new Thread(task, "broker-jvm-output");
        thread.setDaemon(true);
        thread.start();
    };

    @Test
    @Timeout(value = 120, unit = SECONDS)
    void readsBackEveryAcknowledgedRecordExactly() throws Exception {
        long startNanos = System.nanoTime();
        try (EmbeddedKafkaBroker broker = EmbeddedKafkaBroker.start(null)) {
            System.out.printf("first start on a fresh temp dir: %d ms%n", millisSince(startNanos));
            assertTrue(broker.bootstrapServers().matches("127\\.0\\.0\\.1:\\d+"), broker.bootstrapServers());

            createTopicAndAwaitLeaders(broker, TOPIC);
            produce(broker, TOPIC, 0, RECORDS);

            assertEquals(expectedValues(0, RECORDS), consumeWithGroup(broker, TOPIC, "readback", RECORDS));
        }
    }

    @Test
    @Timeout(value = 180, unit = SECONDS)
    void restartOnTheSameDirectoryKeepsRecordsAndCommittedOffsets(@TempDir Path dir) throws Exception {
        String clusterId;
        try (EmbeddedKafkaBroker broker = EmbeddedKafkaBroker.start(dir)) {
            assertEquals(dir.toAbsolutePath().normalize(), broker.logDir());
            createTopicAndAwaitLeaders(broker, TOPIC);
            produce(broker, TOPIC, 0, RECORDS);
            assertEquals(expectedValues(0, RECORDS), consumeWithGroup(broker, TOPIC, "before-restart", RECORDS));
            clusterId = clusterId(dir);
        }
        assertTrue(Files.exists(dir.resolve("meta.properties")), "the log directory is kept on close");
        assertTrue(Files.exists(dir.resolve(".kafka_cleanshutdown")), "Kafka recorded a clean shutdown");

        long restartNanos = System.nanoTime();
        try (EmbeddedKafkaBroker broker = EmbeddedKafkaBroker.start(dir)) {
            System.out.printf("restart on an existing dir: %d ms%n", millisSince(restartNanos));
            assertEquals(clusterId, clusterId(dir), "the directory must not be formatted again");

            assertEquals(expectedValues(0, RECORDS), readFromBeginning(broker, TOPIC, RECORDS));
            try (Admin admin = admin(broker)) {
                Map<TopicPartition, OffsetAndMetadata> committed = admin
                        .listConsumerGroupOffsets("before-restart")
                        .partitionsToOffsetAndMetadata()
                        .get(CLIENT_TIMEOUT.toSeconds(), SECONDS);
                for (int p = 0; p < PARTITIONS; p++) {
                    OffsetAndMetadata offset = committed.get(new TopicPartition(TOPIC, p));
                    assertNotNull(offset, "committed offset of partition " + p);
                    assertEquals(RECORDS / PARTITIONS, offset.offset(), "committed offset of partition " + p);
                }
            }

            // Still writable, and the new records follow the old ones.
            produce(broker, TOPIC, RECORDS, RECORDS + 100);
            assertEquals(expectedValues(0, RECORDS + 100), readFromBeginning(broker, TOPIC, RECORDS + 100));
        }
    }

    @Test
    @Timeout(value = 60, unit = SECONDS)
    void closeDeletesTheTemporaryDirectoryAndCanBeRepeated() throws Exception {
        EmbeddedKafkaBroker broker = EmbeddedKafkaBroker.start(null);
        Path dir = broker.logDir();
        assertTrue(Files.exists(dir.resolve("meta.properties")), "formatted " + dir);

        long closeNanos = System.nanoTime();
        broker.close();
        System.out.printf("close: %d ms%n", millisSince(closeNanos));
        assertFalse(Files.exists(dir), "temporary log directory deleted: " + dir);
        broker.close();
    }

    @Test
    @Timeout(value = 30, unit = SECONDS)
    void aLogDirectoryThatIsAFileFailsWithOneLine(@TempDir Path tmp) throws IOException {
        Path file = Files.writeString(tmp.resolve("not-a-dir"), "x");

        BrokerStartException e = assertThrows(BrokerStartException.class, () -> EmbeddedKafkaBroker.start(file));

        assertOneLine(e.getMessage());
        assertTrue(e.getMessage().contains(file.toString()), e.getMessage());
    }

    @Test
    @Timeout(value = 90, unit = SECONDS)
    void aSecondBrokerOnALockedDirectoryFailsAndTheFirstKeepsWorking(@TempDir Path dir) throws Exception {
        try (EmbeddedKafkaBroker first = EmbeddedKafkaBroker.start(dir)) {
            BrokerStartException e = assertThrows(BrokerStartException.class, () -> EmbeddedKafkaBroker.start(dir));
            System.out.println("second broker on the same dir: " + e.getMessage());
            assertOneLine(e.getMessage());

            createTopicAndAwaitLeaders(first, TOPIC);
            produce(first, TOPIC, 0, 100);
            assertEquals(expectedValues(0, 100), readFromBeginning(first, TOPIC, 100));
        }
    }

    @Test
    @Timeout(value = 10, unit = SECONDS)
    void theBrokerRunsWithoutLog4jCore() {
        assertThrows(ClassNotFoundException.class, () -> Class.forName("org.apache.logging.log4j.core.LoggerContext"));
    }

    @Test
    @Timeout(value = 120, unit = SECONDS)
    void mainRunsABrokerJvmThatStopsCleanlyOnSigterm(@TempDir Path dir) throws Exception {
        Process process = startBrokerJvm("--dir", dir.toString());
        try {
            CompletableFuture<String> stderr = drain(process.getErrorStream());
            BufferedReader stdout = reader(process.getInputStream());
            String line = CompletableFuture.supplyAsync(() -> readLine(stdout), NEW_THREAD).get(60, SECONDS);
            assertNotNull(line, () -> "broker JVM ended before it was ready: " + stderr.join());
            assertTrue(line.matches("bootstrap=127\\.0\\.0\\.1:\\d+"), line);
            String bootstrap = line.substring("bootstrap=".length());

            try (Admin admin = admin(bootstrap)) {
                assertEquals(1, admin.describeCluster().nodes().get(CLIENT_TIMEOUT.toSeconds(), SECONDS).size());
            }

            // SIGTERM. Not Process.destroy(), which also closes our ends of the child's stdout and stderr.
            assertTrue(process.toHandle().destroy(), "SIGTERM sent");
            assertTrue(process.waitFor(60, SECONDS), "broker JVM stopped after SIGTERM");
            assertEquals(null, readLine(stdout), "nothing on stdout but the bootstrap line");
            assertTrue(Files.exists(dir.resolve(".kafka_cleanshutdown")),
                    () -> "Kafka recorded a clean shutdown; stderr: " + stderr.join());
        } finally {
            process.destroyForcibly();
        }
    }

    @Test
    @Timeout(value = 60, unit = SECONDS)
    void mainRejectsBadArgumentsWithOneLineAndStatusOne() throws Exception {
        Process process = startBrokerJvm("--port", "eleven");
        try {
            CompletableFuture<String> stderr = drain(process.getErrorStream());
            assertTrue(process.waitFor(50, SECONDS), "broker JVM ended");
            assertEquals(1, process.exitValue());
            List<String> lines = stderr.get(10, SECONDS).lines()
                    .filter(l -> !l.startsWith("SLF4J"))
                    .collect(Collectors.toList());
            assertEquals(List.of("shootdown-broker: --port must be a number, not eleven"), lines);
        } finally {
            process.destroyForcibly();
        }
    }

    // ---------------------------------------------------------------------------------------------

    /**
     * Creates the topic, then waits until every partition answers a {@code listOffsets}: producing
     * before the partitions have a leader can lose records with an idempotent producer in Kafka
     * 4.4.0 (KAFKA-15591).
     */
    private static void createTopicAndAwaitLeaders(EmbeddedKafkaBroker broker, String topic) throws Exception {
        try (Admin admin = admin(broker)) {
            admin.createTopics(List.of(new NewTopic(topic, PARTITIONS, (short) 1)))
                    .all().get(CLIENT_TIMEOUT.toSeconds(), SECONDS);
            Map<TopicPartition, OffsetSpec> latest = IntStream.range(0, PARTITIONS).boxed()
                    .collect(Collectors.toMap(p -> new TopicPartition(topic, p), p -> OffsetSpec.latest()));
            long deadline = System.nanoTime() + CLIENT_TIMEOUT.toNanos();
            while (true) {
                try {
                    admin.listOffsets(latest).all().get(CLIENT_TIMEOUT.toSeconds(), SECONDS);
                    return;
                } catch (ExecutionException e) {
                    // A broker answers createTopics before its own metadata cache holds the topic:
                    // the first ListOffsets may be told the topic is unknown (seen in CI). Only a
                    // retriable error is waited out, as RunTopics.create does.
                    if (!(e.getCause() instanceof RetriableException) || System.nanoTime() > deadline) {
                        throw e;
                    }
                    Thread.sleep(50);
                }
            }
        }
    }

    /**
     * Sends records {@code from} (inclusive) to {@code to} (exclusive), record {@code i} to partition
     * {@code i % PARTITIONS}, and checks that each was acknowledged at the offset it must have.
     */
    private static void produce(EmbeddedKafkaBroker broker, String topic, int from, int to) throws Exception {
        Properties props = new Properties();
        props.setProperty(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, broker.bootstrapServers());
        props.setProperty(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, "true");
        props.setProperty(ProducerConfig.ACKS_CONFIG, "all");
        props.setProperty(ProducerConfig.LINGER_MS_CONFIG, "5");
        props.setProperty(ProducerConfig.REQUEST_TIMEOUT_MS_CONFIG, Long.toString(CLIENT_TIMEOUT.toMillis() / 2));
        props.setProperty(ProducerConfig.DELIVERY_TIMEOUT_MS_CONFIG, Long.toString(CLIENT_TIMEOUT.toMillis()));
        List<Future<RecordMetadata>> sends = new ArrayList<>();
        try (KafkaProducer<String, String> producer =
                     new KafkaProducer<>(props, new StringSerializer(), new StringSerializer())) {
            for (int i = from; i < to; i++) {
                sends.add(producer.send(new ProducerRecord<>(topic, i % PARTITIONS, key(i), value(i))));
            }
            producer.flush();
            for (int i = from; i < to; i++) {
                RecordMetadata metadata = sends.get(i - from).get(CLIENT_TIMEOUT.toSeconds(), SECONDS);
                assertEquals(i % PARTITIONS, metadata.partition(), "partition of record " + i);
                assertEquals(i / PARTITIONS, metadata.offset(), "offset of record " + i);
            }
        }
    }

    /** Reads {@code expected} records as consumer group {@code group}, commits, and checks nothing follows. */
    private static Map<Integer, List<String>> consumeWithGroup(EmbeddedKafkaBroker broker, String topic,
                                                               String group, int expected) {
        Properties props = consumerProps(broker);
        props.setProperty(ConsumerConfig.GROUP_ID_CONFIG, group);
        props.setProperty(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        props.setProperty(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
        try (KafkaConsumer<String, String> consumer =
                     new KafkaConsumer<>(props, new StringDeserializer(), new StringDeserializer())) {
            consumer.subscribe(List.of(topic));
            Map<Integer, List<String>> values = poll(consumer, expected);
            consumer.commitSync(CLIENT_TIMEOUT);
            return values;
        }
    }

    /** Reads {@code expected} records from the start of every partition, without a group. */
    private static Map<Integer, List<String>> readFromBeginning(EmbeddedKafkaBroker broker, String topic,
                                                                int expected) {
        try (KafkaConsumer<String, String> consumer =
                     new KafkaConsumer<>(consumerProps(broker), new StringDeserializer(), new StringDeserializer())) {
            List<TopicPartition> partitions = IntStream.range(0, PARTITIONS)
                    .mapToObj(p -> new TopicPartition(topic, p)).collect(Collectors.toList());
            consumer.assign(partitions);
            consumer.seekToBeginning(partitions);
            return poll(consumer, expected);
        }
    }

    /**
     * Polls until {@code expected} records arrived (failing after 60 s), then once more to catch
     * extra (duplicate) records. Checks each record's key against its value.
     *
     * @return values by partition, in the order read
     */
    private static Map<Integer, List<String>> poll(KafkaConsumer<String, String> consumer, int expected) {
        Map<Integer, List<String>> values = new TreeMap<>();
        int count = 0;
        long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
        boolean extraPollDone = false;
        while (!extraPollDone) {
            if (count >= expected) {
                extraPollDone = true;
            } else if (System.nanoTime() > deadline) {
                fail("read " + count + " of " + expected + " records before the deadline");
            }
            Duration wait = count >= expected ? Duration.ofMillis(500) : Duration.ofMillis(200);
            for (ConsumerRecord<String, String> record : consumer.poll(wait)) {
                int i = Integer.parseInt(record.key().substring("key-".length()));
                assertEquals(value(i), record.value(), "value of " + record.key());
                values.computeIfAbsent(record.partition(), p -> new ArrayList<>()).add(record.value());
                count++;
            }
        }
        assertEquals(expected, count, "records read");
        return values;
    }

    private static Properties consumerProps(EmbeddedKafkaBroker broker) {
        Properties props = new Properties();
        props.setProperty(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, broker.bootstrapServers());
        props.setProperty(ConsumerConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, Long.toString(CLIENT_TIMEOUT.toMillis()));
        return props;
    }

    /** What a partition must hold after records {@code from}..{@code to}-1 were produced. */
    private static Map<Integer, List<String>> expectedValues(int from, int to) {
        Map<Integer, List<String>> values = new TreeMap<>();
        for (int i = from; i < to; i++) {
            values.computeIfAbsent(i % PARTITIONS, p -> new ArrayList<>()).add(value(i));
        }
        return values;
    }

    private static String key(int i) {
        return "key-" + i;
    }

    private static String value(int i) {
        return "value-" + i + "-" + Integer.toHexString(i * 0x9E3779B1);
    }

    private static Admin admin(EmbeddedKafkaBroker broker) {
        return admin(broker.bootstrapServers());
    }

    private static Admin admin(String bootstrapServers) {
        Properties props = new Properties();
        props.setProperty(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers);
        props.setProperty(AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, Long.toString(CLIENT_TIMEOUT.toMillis()));
        return Admin.create(props);
    }

    private static String clusterId(Path dir) throws IOException {
        Properties meta = new Properties();
        try (Reader in = Files.newBufferedReader(dir.resolve("meta.properties"))) {
            meta.load(in);
        }
        String id = meta.getProperty("cluster.id");
        assertNotNull(id, "cluster.id in meta.properties");
        return id;
    }

    private static void assertOneLine(String message) {
        assertNotNull(message);
        assertFalse(message.isBlank(), "message is empty");
        assertFalse(message.contains("\n") || message.contains("\r"), () -> "not one line: " + message);
    }

    private static long millisSince(long startNanos) {
        return Duration.ofNanos(System.nanoTime() - startNanos).toMillis();
    }

    // Child JVM ----------------------------------------------------------------------------------

    private static Process startBrokerJvm(String... args) throws IOException {
        List<String> command = new ArrayList<>(List.of(
                Paths.get(System.getProperty("java.home"), "bin", "java").toString(),
                "-Xmx256m",
                "-cp", System.getProperty("java.class.path"),
                EmbeddedKafkaBroker.class.getName()));
        command.addAll(List.of(args));
        return new ProcessBuilder(command).start();
    }

    private static BufferedReader reader(InputStream in) {
        return new BufferedReader(new InputStreamReader(in, StandardCharsets.UTF_8));
    }

    private static String readLine(BufferedReader reader) {
        try {
            return reader.readLine();
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    /** Reads the stream to its end on another thread, so the child never blocks on a full pipe. */
    private static CompletableFuture<String> drain(InputStream in) {
        return CompletableFuture.supplyAsync(() -> {
            try (BufferedReader reader = reader(in)) {
                return reader.lines().collect(Collectors.joining("\n"));
            } catch (IOException e) {
                throw new IllegalStateException(e);
            }
        }, NEW_THREAD);
    }
}
