package dev.shootdown.broker;

import java.io.IOException;
import java.net.BindException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.time.Duration;
import java.util.Collection;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

import kafka.server.KafkaConfig;
import kafka.server.KafkaRaftServer;
import kafka.tools.StorageTool;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.DescribeClusterOptions;
import org.apache.kafka.common.Node;
import org.apache.kafka.common.utils.Time;
import org.apache.kafka.common.utils.Utils;
import org.apache.logging.log4j.LogManager;
import org.apache.logging.log4j.Logger;

/**
 * A single-node Apache Kafka 4.4 broker in KRaft mode ({@code process.roles=broker,controller}),
 * run in this JVM from Kafka's own server classes.
 *
 * <h2>Contract</h2>
 * <ul>
 *   <li>{@link #start(Path)} returns only once the broker answers requests: a {@code describeCluster}
 *       from an {@link Admin} client must succeed within 30 s and list this node. Otherwise the
 *       half-started broker is shut down and {@link BrokerStartException} is thrown.</li>
 *   <li>The log directory is formatted once, the way {@code kafka-storage.sh format} does, using
 *       {@link StorageTool}; a directory that already holds {@code meta.properties} is not formatted
 *       again, so starting on the directory of a closed broker brings back its topics, records and
 *       committed offsets (under a new port).</li>
 *   <li>Both listeners (client and controller) bind to 127.0.0.1 only, on ports that are free
 *       when chosen. The controller quorum is static ({@code controller.quorum.voters}), so both
 *       ports may change from one start on a directory to the next.</li>
 *   <li>Internal topics (consumer offsets, transaction state, share-group state) have replication
 *       factor and min ISR 1 and 4 partitions; topics are never auto-created.</li>
 *   <li>{@link #close()} shuts the broker down and waits for it; it is idempotent and never
 *       throws.</li>
 *   <li>Nothing here calls {@code System.exit}. Kafka itself still halts the JVM on a fault it deems
 *       fatal (for instance when its only log directory fails), as a standalone broker would.</li>
 *   <li>Kafka logs through SLF4J, and a little through log4j-api (as does this class); neither
 *       needs {@code log4j-core}. The application chooses the SLF4J provider and levels, and should
 *       put {@code log4j-to-slf4j} on the class path so that log4j-api output reaches SLF4J too.</li>
 * </ul>
 *
 * <h2>Threads</h2>
 * {@link #start(Path)} may be called from any thread, also concurrently for different directories;
 * it blocks the caller until the broker is ready or has failed. The broker then runs on Kafka's own
 * threads, which are not daemon threads: a JVM exits only after {@link #close()} (or a shutdown hook
 * calling it). {@link #bootstrapServers()} and {@link #logDir()} are immutable and safe from any
 * thread. {@link #close()} may be called from any thread, shutdown hooks included; concurrent callers
 * wait until the first one has finished shutting down.
 *
 * <h2>Separate JVM</h2>
 * {@link #main(String[])} runs the same broker as a process of its own; see there.
 */
public final class EmbeddedKafkaBroker implements AutoCloseable {

    /** The only address the broker listens on. */
    private static final String HOST = "127.0.0.1";

    private static final int NODE_ID = 1;
    private static final String BROKER_LISTENER = "PLAINTEXT";
    private static final String CONTROLLER_LISTENER = "CONTROLLER";
    private static final int INTERNAL_TOPIC_PARTITIONS = 4;
    /** The log cleaner's dedupe buffer lives on the heap; Kafka's default is 128 MiB. */
    private static final long CLEANER_DEDUPE_BUFFER_BYTES = 2L * 1024 * 1024;

    private static final long READY_TIMEOUT_SECONDS = 30;
    private static final Duration READY_TIMEOUT = Duration.ofSeconds(READY_TIMEOUT_SECONDS);
    private static final Duration ADMIN_CLOSE_TIMEOUT = Duration.ofSeconds(5);
    /** Tries when a port chosen free was taken by someone else before the broker could bind it. */
    private static final int START_ATTEMPTS = 3;

    /** The file that formatting writes into a log directory. */
    static final String META_PROPERTIES = "meta.properties";

    /** Through log4j-api, which Kafka itself uses too; route it to SLF4J with log4j-to-slf4j. */
    static final Logger LOG = LogManager.getLogger(EmbeddedKafkaBroker.class);

    private KafkaRaftServer server;
    private final Properties settings;
    private final Path logDir;
    private final boolean ownsLogDir;
    private final String bootstrapServers;

    /** Guarded by {@code this}. */
    private boolean closed;

    private EmbeddedKafkaBroker(KafkaRaftServer server, Properties settings, Path logDir, boolean ownsLogDir, int port) {
        this.server = server;
        this.settings = settings;
        this.logDir = logDir;
        this.ownsLogDir = ownsLogDir;
        this.bootstrapServers = HOST + ":" + port;
    }

    /**
     * Starts a broker on a free loopback port and waits until it answers requests.
     *
     * @param logDirOrNull the directory for Kafka's data and metadata logs, created if missing and
     *                     formatted if it holds no {@code meta.properties}; it is kept on
     *                     {@link #close()}. {@code null} means a fresh temporary directory that
     *                     {@link #close()} deletes.
     * @return the running broker; the caller must {@link #close()} it
     * @throws BrokerStartException if any step fails; the broker is then already shut down and a
     *                              temporary directory deleted
     */
    public static EmbeddedKafkaBroker start(Path logDirOrNull) throws BrokerStartException {
        return start(logDirOrNull, 0);
    }

    /**
     * @param port the client port, or 0 for a free one
     * @see #start(Path)
     */
    private static EmbeddedKafkaBroker start(Path logDirOrNull, int port) throws BrokerStartException {
        keepTheJvm();
        long startNanos = System.nanoTime();
        boolean ownsLogDir = logDirOrNull == null;
        Path dir = KafkaLogDir.prepare(logDirOrNull);
        try {
            if (port != 0) {
                requirePortFree(port);
            }
            BrokerStartException bindFailure = null;
            for (int attempt = 1; attempt <= START_ATTEMPTS; attempt++) {
                int brokerPort = port != 0 ? port : freePort(-1);
                int controllerPort = freePort(brokerPort);
                Properties settings = settings(dir, brokerPort, controllerPort);
                KafkaConfig config = kafkaConfig(settings);
                boolean formatted = KafkaLogDir.formatIfNeeded(settings, dir);
                try {
                    KafkaRaftServer server = launch(config, HOST + ":" + brokerPort);
                    LOG.info("Kafka broker ready at {}:{} (controller port {}, log dir {}{}) in {} ms",
                            HOST, brokerPort, controllerPort, dir, formatted ? ", newly formatted" : "",
                            TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - startNanos));
                    return new EmbeddedKafkaBroker(server, settings, dir, ownsLogDir, brokerPort);
                } catch (BrokerStartException e) {
                    if (!causedByBindFailure(e)) {
                        throw e;
                    }
                    LOG.warn("Port taken between choosing and binding it (attempt {} of {}): {}",
                            attempt, START_ATTEMPTS, e.getMessage());
                    bindFailure = e;
                }
            }
            throw bindFailure;
        } catch (BrokerStartException | RuntimeException e) {
            if (ownsLogDir) {
                deleteQuietly(dir);
            }
            throw e;
        }
    }

    /** The address clients bootstrap from: {@code "127.0.0.1:PORT"}. */
    public String bootstrapServers() {
        return bootstrapServers;
    }

    /** The absolute directory holding this broker's data and metadata logs. */
    public Path logDir() {
        return logDir;
    }

    /**
     * The broker shares its JVM with the command that started it: a fatal fault inside Kafka (its
     * fault handlers call {@code Exit.exit} or {@code Exit.halt}, as after a shutdown abandoned on
     * a hung raft thread) must fail the broker, not end the whole process without a word. Kafka's
     * exit and halt procedures are replaced, once, by one that logs what Kafka asked for.
     */
    private static synchronized void keepTheJvm() {
        if (!jvmKept) {
            org.apache.kafka.common.utils.internals.Exit.setExitProcedure((status, message) ->
                    LOG.error("Kafka asked to exit the JVM with status {} ({}); the embedded broker is failed, the process goes on",
                            status, message));
            org.apache.kafka.common.utils.internals.Exit.setHaltProcedure((status, message) ->
                    LOG.error("Kafka asked to halt the JVM with status {} ({}); the embedded broker is failed, the process goes on",
                            status, message));
            jvmKept = true;
        }
    }

    private static boolean jvmKept;

    /** How long {@link #close} waits for Kafka's own shutdown. */
    static final java.time.Duration SHUTDOWN_TIMEOUT = java.time.Duration.ofSeconds(30);

    /**
     * A broker restart as clients see it: shuts the broker down (its data stays), leaves it down
     * for {@code down}, and starts it again on the same ports and log directory. Blocks until it
     * answers again.
     *
     * @throws BrokerStartException when it does not come back; it is then down
     * @throws IllegalStateException when the broker was closed
     */
    public synchronized void restart(Duration down) throws BrokerStartException {
        if (closed) {
            throw new IllegalStateException("the broker at " + bootstrapServers + " is closed");
        }
        long startNanos = System.nanoTime();
        stopQuietly(server);
        server = null;
        try {
            Thread.sleep(down.toMillis());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new BrokerStartException("interrupted while the broker at " + bootstrapServers + " was down", e);
        }
        server = launch(kafkaConfig(settings), bootstrapServers);
        LOG.info("Kafka broker at {} restarted in {} ms", bootstrapServers,
                TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - startNanos));
    }

    /**
     * Shuts the broker down and waits until it has stopped (at most {@link #SHUTDOWN_TIMEOUT}),
     * then deletes the log directory if {@link #start(Path)} created it. Calling it again does
     * nothing; a concurrent caller waits for the first. Never throws: a failure while shutting
     * down is logged.
     */
    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        long startNanos = System.nanoTime();
        // KRaft's shutdown can hang with its raft-io thread spinning (seen once with Kafka 4.4 in
        // ensureNotRaftLeader); it runs on a daemon thread so a hang costs SHUTDOWN_TIMEOUT, not the JVM.
        KafkaRaftServer running = server;
        Thread shutdown = new Thread(() -> {
            if (running == null) {
                return; // a restart that did not come back
            }
            try {
                running.shutdown();
                running.awaitShutdown();
            } catch (Exception e) {
                LOG.warn("Kafka broker at {} did not shut down cleanly: {}", bootstrapServers, oneLine(e), e);
            }
        }, "shootdown-broker-shutdown");
        shutdown.setDaemon(true);
        shutdown.start();
        try {
            shutdown.join(SHUTDOWN_TIMEOUT.toMillis());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        if (shutdown.isAlive()) {
            LOG.warn("Kafka broker at {} did not stop within {} s; abandoning its threads", bootstrapServers,
                    SHUTDOWN_TIMEOUT.toSeconds());
        }
        if (ownsLogDir) {
            deleteQuietly(logDir);
        }
        LOG.info("Kafka broker at {} stopped in {} ms", bootstrapServers,
                TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - startNanos));
    }

    @Override
    public String toString() {
        return "EmbeddedKafkaBroker[" + bootstrapServers + ", " + logDir + "]";
    }

    // ---------------------------------------------------------------------------------------------
    // Steps of start()

    /**
     * The broker's whole configuration. Every key is checked against Kafka's own list, because
     * Kafka only logs an unknown (for instance misspelt) key and then ignores it.
     */
    private static Properties settings(Path dir, int brokerPort, int controllerPort)
            throws BrokerStartException {
        Map<String, String> settings = Map.ofEntries(
                Map.entry("process.roles", "broker,controller"),
                Map.entry("node.id", Integer.toString(NODE_ID)),
                // A static quorum: unlike a dynamic one (kafka-storage format --standalone), it does
                // not store the controller's address in the log, so that port may change.
                Map.entry("controller.quorum.voters", NODE_ID + "@" + HOST + ":" + controllerPort),
                Map.entry("controller.listener.names", CONTROLLER_LISTENER),
                Map.entry("listeners", BROKER_LISTENER + "://" + HOST + ":" + brokerPort
                        + "," + CONTROLLER_LISTENER + "://" + HOST + ":" + controllerPort),
                Map.entry("advertised.listeners", BROKER_LISTENER + "://" + HOST + ":" + brokerPort),
                Map.entry("listener.security.protocol.map",
                        BROKER_LISTENER + ":PLAINTEXT," + CONTROLLER_LISTENER + ":PLAINTEXT"),
                Map.entry("inter.broker.listener.name", BROKER_LISTENER),
                Map.entry("log.dirs", dir.toString()),
                Map.entry("auto.create.topics.enable", "false"),
                Map.entry("default.replication.factor", "1"),
                Map.entry("min.insync.replicas", "1"),
                Map.entry("offsets.topic.replication.factor", "1"),
                Map.entry("offsets.topic.num.partitions", Integer.toString(INTERNAL_TOPIC_PARTITIONS)),
                Map.entry("transaction.state.log.replication.factor", "1"),
                Map.entry("transaction.state.log.min.isr", "1"),
                Map.entry("transaction.state.log.num.partitions",
                        Integer.toString(INTERNAL_TOPIC_PARTITIONS)),
                Map.entry("share.coordinator.state.topic.replication.factor", "1"),
                Map.entry("share.coordinator.state.topic.min.isr", "1"),
                Map.entry("share.coordinator.state.topic.num.partitions",
                        Integer.toString(INTERNAL_TOPIC_PARTITIONS)),
                Map.entry("group.initial.rebalance.delay.ms", "0"),
                Map.entry("log.cleaner.dedupe.buffer.size", Long.toString(CLEANER_DEDUPE_BUFFER_BYTES)));
        Set<String> known;
        try {
            known = KafkaConfig.configDef().names();
        } catch (RuntimeException e) {
            throw new BrokerStartException("cannot load Kafka's configuration definitions: " + oneLine(e), e);
        }
        Properties props = new Properties();
        for (Map.Entry<String, String> setting : settings.entrySet()) {
            if (!known.contains(setting.getKey())) {
                throw new BrokerStartException("invalid broker configuration: Kafka has no setting named "
                        + setting.getKey());
            }
            props.setProperty(setting.getKey(), setting.getValue());
        }
        return props;
    }

    private static KafkaConfig kafkaConfig(Properties settings) throws BrokerStartException {
        try {
            return KafkaConfig.fromProps(settings, false);
        } catch (RuntimeException e) {
            throw new BrokerStartException("invalid broker configuration: " + oneLine(e), e);
        }
    }

    /** Starts the server and waits until it answers; shuts it down again if either fails. */
    private static KafkaRaftServer launch(KafkaConfig config, String bootstrapServers)
            throws BrokerStartException {
        KafkaRaftServer server = null;
        try {
            server = new KafkaRaftServer(config, Time.SYSTEM);
            server.startup();
        } catch (Exception e) {
            stopQuietly(server);
            throw new BrokerStartException("Kafka server failed to start at " + bootstrapServers
                    + ": " + oneLine(e), e);
        }
        try {
            awaitReady(bootstrapServers);
            return server;
        } catch (BrokerStartException e) {
            stopQuietly(server);
            throw e;
        }
    }

    /** Succeeds once a {@code describeCluster} through the client listener lists this node. */
    private static void awaitReady(String bootstrapServers) throws BrokerStartException {
        int timeoutMs = (int) READY_TIMEOUT.toMillis();
        Properties props = new Properties();
        props.setProperty(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers);
        props.setProperty(AdminClientConfig.CLIENT_ID_CONFIG, "shootdown-broker-readiness");
        props.setProperty(AdminClientConfig.REQUEST_TIMEOUT_MS_CONFIG, Integer.toString(timeoutMs));
        props.setProperty(AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, Integer.toString(timeoutMs));
        String failure = "readiness check: describeCluster at " + bootstrapServers;
        Admin admin;
        try {
            admin = Admin.create(props);
        } catch (RuntimeException e) {
            throw new BrokerStartException(failure + " could not create an admin client: " + oneLine(e), e);
        }
        try {
            Collection<Node> nodes = admin.describeCluster(new DescribeClusterOptions().timeoutMs(timeoutMs))
                    .nodes()
                    .get(timeoutMs, TimeUnit.MILLISECONDS);
            if (nodes.stream().noneMatch(node -> node.id() == NODE_ID)) {
                throw new BrokerStartException(failure + " did not list node " + NODE_ID + ": " + nodes);
            }
        } catch (ExecutionException e) {
            Throwable cause = e.getCause() == null ? e : e.getCause();
            throw new BrokerStartException(failure + " failed: " + oneLine(cause), cause);
        } catch (TimeoutException e) {
            throw new BrokerStartException(failure + " got no answer within " + READY_TIMEOUT_SECONDS + " s", e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new BrokerStartException(failure + " was interrupted", e);
        } finally {
            admin.close(ADMIN_CLOSE_TIMEOUT);
        }
    }

    // ---------------------------------------------------------------------------------------------
    // Helpers

    /** A port on 127.0.0.1 that was free a moment ago, other than {@code avoid}. */
    private static int freePort(int avoid) throws BrokerStartException {
        try {
            while (true) {
                try (ServerSocket socket = new ServerSocket(0, 1, InetAddress.getByName(HOST))) {
                    if (socket.getLocalPort() != avoid) {
                        return socket.getLocalPort();
                    }
                }
            }
        } catch (IOException e) {
            throw new BrokerStartException("cannot find a free port on " + HOST + ": " + oneLine(e), e);
        }
    }

    private static void requirePortFree(int port) throws BrokerStartException {
        if (port < 1 || port > 65535) {
            throw new BrokerStartException("port " + port + " is not a valid TCP port");
        }
        try {
            new ServerSocket(port, 1, InetAddress.getByName(HOST)).close();
        } catch (IOException e) {
            throw new BrokerStartException("port " + port + " on " + HOST + " is not free: " + oneLine(e), e);
        }
    }

    private static boolean causedByBindFailure(Throwable failure) {
        for (Throwable t = failure; t != null; t = t.getCause()) {
            if (t instanceof BindException) {
                return true;
            }
        }
        return false;
    }

    private static void stopQuietly(KafkaRaftServer server) {
        if (server == null) {
            return;
        }
        try {
            server.shutdown();
            server.awaitShutdown();
        } catch (Exception e) {
            LOG.warn("Shutting down a Kafka server that failed to start also failed: {}", oneLine(e), e);
        }
    }

    static void deleteQuietly(Path dir) {
        try {
            Utils.delete(dir.toFile());
        } catch (IOException | RuntimeException e) {
            LOG.warn("Could not delete {}: {}", dir, oneLine(e));
        }
    }

    /** The exception's type and message on one line. */
    static String oneLine(Throwable t) {
        String message = t.getMessage();
        return oneLine(t.getClass().getSimpleName() + (message == null || message.isBlank() ? "" : ": " + message));
    }

    static String oneLine(String text) {
        return text.strip().replaceAll("\\s*\\R\\s*", " ");
    }

    // ---------------------------------------------------------------------------------------------
    // Separate JVM

    /**
     * Runs a broker as a process of its own.
     *
     * <pre>
     * java ... dev.shootdown.broker.EmbeddedKafkaBroker [--dir DIR] [--port N] [--verbose]
     * </pre>
     * <ul>
     *   <li>{@code --dir DIR}: the log directory, formatted on first use and reused afterwards;
     *       without it, a temporary directory deleted on exit.</li>
     *   <li>{@code --port N}: the client port on 127.0.0.1; without it (or with 0), a free one.
     *       The controller port is always a free one.</li>
     *   <li>{@code --verbose}: start time on stderr, and stack traces with errors.</li>
     * </ul>
     * Once the broker answers requests, prints exactly one line, {@code bootstrap=127.0.0.1:PORT},
     * on stdout. It then runs until the JVM is asked to stop (SIGTERM, SIGINT), when a shutdown hook
     * closes the broker cleanly. On bad arguments or a failed start it prints one line on stderr
     * and the JVM exits with status 1 (by letting an exception end {@code main}, as
     * {@code System.exit} is not used).
     */
    public static void main(String[] args) {
        boolean verbose = false;
        Path dir = null;
        int port = 0;
        EmbeddedKafkaBroker broker;
        try {
            for (int i = 0; i < args.length; i++) {
                switch (args[i]) {
                    case "--dir" -> dir = Paths.get(requireValue(args, ++i, "--dir"));
                    case "--port" -> port = parsePort(requireValue(args, ++i, "--port"));
                    case "--verbose" -> verbose = true;
                    default -> throw new IllegalArgumentException("unknown argument " + args[i]
                            + " (usage: [--dir DIR] [--port N] [--verbose])");
                }
            }
            long startNanos = System.nanoTime();
            broker = start(dir, port);
            if (verbose) {
                System.err.printf("broker started in %d ms, log dir %s%n",
                        TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - startNanos), broker.logDir());
            }
        } catch (IllegalArgumentException | BrokerStartException e) {
            System.err.println("shootdown-broker: " + e.getMessage());
            if (verbose) {
                e.printStackTrace();
            }
            throw StartFailed.endMain();
        }

        try {
            Runtime.getRuntime().addShutdownHook(new Thread(broker::close, "shootdown-broker-shutdown"));
        } catch (IllegalStateException shutdownInProgress) {
            broker.close();
            return;
        }
        System.out.println("bootstrap=" + broker.bootstrapServers());
        System.out.flush();
        // Returns once the broker has stopped: after the shutdown hook's close(), normally.
        broker.server.awaitShutdown();
        broker.close();
    }

    private static String requireValue(String[] args, int index, String option) {
        if (index >= args.length || args[index].startsWith("--")) {
            throw new IllegalArgumentException(option + " needs a value");
        }
        return args[index];
    }

    private static int parsePort(String value) {
        try {
            int port = Integer.parseInt(value);
            if (port < 0 || port > 65535) {
                throw new IllegalArgumentException("--port must be 0..65535, not " + value);
            }
            return port;
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("--port must be a number, not " + value, e);
        }
    }

    /**
     * Ends {@code main} with exit status 1 once the error has been printed: the Java launcher
     * exits with status 1 when {@code main} throws, and {@link #endMain()} makes the main thread's
     * uncaught-exception handler skip this type, so the JVM prints nothing more for it.
     */
    private static final class StartFailed extends RuntimeException {
        private static final long serialVersionUID = 1L;

        private StartFailed() {
            super("broker did not start", null, false, false);
        }

        static StartFailed endMain() {
            Thread main = Thread.currentThread();
            Thread.UncaughtExceptionHandler previous = main.getUncaughtExceptionHandler();
            main.setUncaughtExceptionHandler((thread, e) -> {
                if (!(e instanceof StartFailed)) {
                    previous.uncaughtException(thread, e);
                }
            });
            return new StartFailed();
        }
    }
}
