package dev.shootdown.cli;

import dev.shootdown.cli.run.BadInputException;
import dev.shootdown.event.NodeIds;
import dev.shootdown.host.kafka.ClusterNode;
import dev.shootdown.host.kafka.IndexClaim;
import dev.shootdown.host.kafka.InfrastructureException;
import dev.shootdown.simulation.Machine;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpServer;
import io.vertx.core.http.HttpServerRequest;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.time.LocalTime;
import java.time.format.DateTimeFormatter;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/**
 * {@code shootdown node coordinator|cpu|iommu}: one service in its own process, against a Kafka
 * cluster, for {@code shootdown cluster}, compose and hand-made deployments. It takes its part in
 * every run on the cluster whose scenario names it ({@link ClusterNode}) until it is stopped
 * (SIGTERM or Ctrl-C), when it leaves its runs cleanly.
 */
@Command(name = "node", mixinStandardHelpOptions = true,
        description = "Run one node (the coordinator, a CPU or an IOMMU) against a Kafka cluster; it joins every run that "
                + "names it, until stopped.")
final class NodeCommand implements Callable<Integer> {

    enum Kind { coordinator, cpu, iommu }

    @Spec
    CommandSpec spec;

    @Parameters(index = "0", paramLabel = "KIND", description = "coordinator, cpu or iommu.")
    Kind kind;

    @Option(names = "--index", defaultValue = "0", paramLabel = "N|auto",
            description = "Which CPU or IOMMU: cpu0, cpu1...; auto: the lowest one no live node holds and no other replica claimed first (for scaled replicas). "
                    + "Default: ${DEFAULT-VALUE}")
    String index;

    @Option(names = "--index-file", paramLabel = "FILE",
            description = "With --index auto: where the node writes the id it claimed; started again with the file there (the "
                    + "same container after a crash), it claims that id again.")
    Path indexFile;

    @Option(names = "--bootstrap-servers", required = true, paramLabel = "HOST:PORT", description = "The Kafka cluster.")
    String bootstrapServers;

    @Mixin
    KafkaConfigOption kafkaConfig;

    @Option(names = "--http", defaultValue = "127.0.0.1:0", paramLabel = "HOST:PORT",
            description = "Where /health and /metrics are served (port 0: a free one, printed when ready). Default: ${DEFAULT-VALUE}")
    String http;

    /**
     * The node id this command runs as the process {@code instance}: {@code coordinator}, {@code cpuN}, {@code iommuN};
     * auto claims one on the cluster ({@link IndexClaim}), the one in {@code --index-file} first.
     */
    String nodeId(String instance) throws BadInputException, InfrastructureException {
        if (indexFile != null && !index.equals("auto")) {
            throw new BadInputException("--index-file goes with --index auto only");
        }
        if (kind == Kind.coordinator) {
            if (!index.equals("0")) {
                throw new BadInputException("there is one coordinator: --index does not apply to it");
            }
            return NodeIds.COORDINATOR;
        }
        if (index.equals("auto")) {
            IndexClaim.Previous previous = indexFile == null ? null : previous(indexFile);
            String won = IndexClaim.claim(KafkaConfigFile.config(bootstrapServers, kafkaConfig.file), kind.name(), instance,
                    previous);
            if (indexFile != null) {
                write(indexFile, new IndexClaim.Previous(won, instance));
            }
            return won;
        }
        int n;
        try {
            n = Integer.parseInt(index);
        } catch (NumberFormatException e) {
            n = -1;
        }
        if (n < 0) {
            throw new BadInputException("--index must be a number from 0, or auto, was '" + index + "'");
        }
        return kind.name() + n;
    }

    /** What {@code file} says this node's previous process ran as, or null where there is no file yet. */
    private static IndexClaim.Previous previous(Path file) throws BadInputException {
        if (!Files.exists(file)) {
            return null;
        }
        try {
            IndexClaim.Previous p = HEALTH_JSON.readValue(file.toFile(), IndexClaim.Previous.class);
            if (p.node() == null || p.instance() == null) {
                throw new BadInputException("--index-file " + file + ": expected {\"node\": ..., \"instance\": ...} as a node "
                        + "writes it, without " + (p.node() == null ? "node" : "instance"));
            }
            return p;
        } catch (IOException e) {
            throw new BadInputException("--index-file " + file + ": expected {\"node\": ..., \"instance\": ...} as a node "
                    + "writes it: " + e.getMessage().lines().findFirst().orElse(""));
        }
    }

    /** Writes {@code claimed} to {@code file}, whole or not at all. */
    private static void write(Path file, IndexClaim.Previous claimed) throws BadInputException {
        try {
            Path parent = file.toAbsolutePath().getParent();
            Files.createDirectories(parent);
            Path tmp = Files.createTempFile(parent, ".index", ".tmp");
            HEALTH_JSON.writeValue(tmp.toFile(), claimed);
            Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        } catch (IOException e) {
            throw new BadInputException("--index-file " + file + ": cannot write it (" + e.getMessage() + ")");
        }
    }

    @Override
    public Integer call() throws Exception {
        String instance = ClusterNode.newInstance();
        String nodeId = nodeId(instance);
        PrintWriter out = spec.commandLine().getOut();
        DateTimeFormatter time = DateTimeFormatter.ofPattern("HH:mm:ss.SSS");
        int colon = http.lastIndexOf(':');
        int httpPort;
        try {
            httpPort = Integer.parseInt(http.substring(colon + 1));
        } catch (RuntimeException e) {
            throw new BadInputException("--http must be HOST:PORT, was '" + http + "'");
        }
        String httpHost = http.substring(0, Math.max(0, colon));
        ClusterNode[] self = new ClusterNode[1];
        NodeMetrics metrics = new NodeMetrics(() -> self[0].health());
        ClusterNode node = new ClusterNode(nodeId, instance, KafkaConfigFile.config(bootstrapServers, kafkaConfig.file),
                host -> Machine.verticle(host, nodeId), line -> {
                    synchronized (out) {
                        out.println(LocalTime.now().format(time) + " " + nodeId + ": " + line);
                        out.flush();
                    }
                }, metrics);
        self[0] = node;
        Vertx web = Vertx.vertx();
        HttpServer server;
        try {
            server = web.createHttpServer().requestHandler(req -> serve(req, node, metrics)).listen(httpPort, httpHost)
                    .toCompletionStage().toCompletableFuture().get(30, TimeUnit.SECONDS);
        } catch (ExecutionException e) {
            web.close();
            throw new BadInputException("--http " + http + ": cannot listen there (" + e.getCause().getMessage() + ")");
        }
        String httpAddress = httpHost + ":" + server.actualPort();
        CountDownLatch stopped = new CountDownLatch(1);
        Thread hook = new Thread(() -> {
            node.close();
            try {
                stopped.await();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }, "shootdown-node-stop");
        Runtime.getRuntime().addShutdownHook(hook);
        try {
            node.runUntilClosed(Duration.ofMillis(250), () -> {
                synchronized (out) {
                    out.println(LocalTime.now().format(time) + " " + nodeId + ": ready on " + bootstrapServers + ", http "
                            + httpAddress);
                    out.flush();
                }
            });
        } catch (InfrastructureException e) {
            Runtime.getRuntime().removeShutdownHook(hook);
            throw e;
        } finally {
            web.close();
            synchronized (out) {
                out.println(LocalTime.now().format(time) + " " + nodeId + ": stopped");
                out.flush();
            }
            stopped.countDown();
        }
        return 0;
    }

    /** {@code /health}: 200 once the node watches the cluster, 503 before; JSON with its runs and peers. {@code /metrics}: Prometheus. */
    private static void serve(HttpServerRequest req, ClusterNode node, NodeMetrics metrics) {
        switch (req.path()) {
            case "/health" -> {
                ClusterNode.Health h = node.health();
                req.response().setStatusCode(h.ready() ? 200 : 503).putHeader("content-type", "application/json")
                        .end(HEALTH_JSON.valueToTree(h).toString());
            }
            case "/metrics" -> req.response().putHeader("content-type", "text/plain; version=0.0.4; charset=utf-8")
                    .end(metrics.scrape());
            default -> req.response().setStatusCode(404).end("/health or /metrics\n");
        }
    }

    private static final com.fasterxml.jackson.databind.ObjectMapper HEALTH_JSON = new com.fasterxml.jackson.databind.ObjectMapper();
}
