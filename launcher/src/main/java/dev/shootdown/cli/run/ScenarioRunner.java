package dev.shootdown.cli.run;

import com.fasterxml.jackson.databind.SerializationFeature;
import dev.shootdown.audit.AuditReport;
import dev.shootdown.audit.Auditor;
import dev.shootdown.broker.BrokerStartException;
import dev.shootdown.broker.EmbeddedKafkaBroker;
import dev.shootdown.cli.report.HtmlReport;
import dev.shootdown.cli.report.IoFailure;
import dev.shootdown.cli.report.StreamingAudit;
import dev.shootdown.codec.EventCodec;
import dev.shootdown.event.Envelope;
import dev.shootdown.fault.FaultKind;
import dev.shootdown.fault.FaultPlan;
import dev.shootdown.fault.FaultSpec;
import dev.shootdown.host.ErrorLog;
import dev.shootdown.host.LatencyModel;
import dev.shootdown.host.NodeFailedException;
import dev.shootdown.host.kafka.InfrastructureException;
import dev.shootdown.host.kafka.KafkaHostConfig;
import dev.shootdown.host.kafka.KafkaRunner;
import dev.shootdown.host.kafka.NodeHost;
import dev.shootdown.host.kafka.RecordedEvent;
import dev.shootdown.host.kafka.RunLogReader;
import dev.shootdown.host.sim.SimEngine;
import dev.shootdown.log.CausalOrder;
import dev.shootdown.scenario.Scenario;
import dev.shootdown.simulation.Machine;
import java.io.BufferedWriter;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.LocalDateTime;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Runs a scenario on one engine, records its log and audits it: what {@code run} and
 * {@code matrix} share. On Kafka one runner holds one cluster (an embedded broker it started, or
 * {@code --bootstrap-servers}) for all its runs; close it to stop the broker. Progress lines go
 * to {@code progress}. Not thread-safe: one run at a time.
 */
public final class ScenarioRunner implements AutoCloseable {

    public enum Engine { kafka, sim }

    /** A finished run: the lines of its events.jsonl, in causal order, and its audit. */
    public record Outcome(String runId, List<String> lines, List<Envelope> log, AuditReport report, boolean complete) {

        /** Writes {@code dir/events.jsonl} and {@code dir/report.json}, creating {@code dir}. */
        void write(Path dir) throws IOException {
            Files.createDirectories(dir);
            try (BufferedWriter w = Files.newBufferedWriter(dir.resolve("events.jsonl"), StandardCharsets.UTF_8)) {
                for (String line : lines) {
                    w.write(line);
                    w.write('\n');
                }
            }
            writeReport(dir, report, log);
        }
    }

    /** Writes {@code dir/report.json} and {@code dir/report.html} for the audit of {@code log}. */
    public static void writeReport(Path dir, AuditReport report, List<Envelope> log) throws IOException {
        Files.writeString(dir.resolve("report.json"),
                EventCodec.mapper().writer().with(SerializationFeature.INDENT_OUTPUT).writeValueAsString(report) + "\n",
                StandardCharsets.UTF_8);
        Map<String, Envelope> byId = new HashMap<>();
        for (Envelope e : log) {
            byId.put(e.id(), e);
        }
        Files.writeString(dir.resolve("report.html"), HtmlReport.render(report, byId), StandardCharsets.UTF_8);
    }

    private final Engine engine;
    private final long seed;
    private final long maxEvents;
    private final Duration runTimeout;
    private final int livelockThreshold;
    private final PrintWriter progress;
    private final EmbeddedKafkaBroker broker;
    private final String bootstrapServers;
    private boolean clusterNodes;
    private Map<String, String> kafkaProperties = Map.of();
    /** The kernel variants by name: a scenario's policy names the one its coordinator runs. */
    private KernelCatalog kernels = new KernelCatalog();

    private ScenarioRunner(Engine engine, long seed, long maxEvents, Duration runTimeout, int livelockThreshold,
            PrintWriter progress, EmbeddedKafkaBroker broker, String bootstrapServers) {
        this.engine = engine;
        this.seed = seed;
        this.maxEvents = maxEvents;
        this.runTimeout = runTimeout;
        this.livelockThreshold = livelockThreshold;
        this.progress = progress;
        this.broker = broker;
        this.bootstrapServers = bootstrapServers;
    }

    /** The deterministic engine: virtual time, latencies from {@code seed}, at most {@code maxEvents} events a run. */
    public static ScenarioRunner sim(long seed, long maxEvents, int livelockThreshold, PrintWriter progress) {
        return new ScenarioRunner(Engine.sim, seed, maxEvents, null, livelockThreshold, progress, null, null);
    }

    /**
     * The Kafka host on {@code bootstrapServers}, or, when that is null, on an embedded broker
     * started now (data in {@code brokerDir}, or a temporary directory when that is null).
     */
    public static ScenarioRunner kafka(String bootstrapServers, Path brokerDir, long seed, Duration runTimeout, int livelockThreshold,
            PrintWriter progress) throws InfrastructureException {
        return kafka(bootstrapServers, brokerDir, seed, runTimeout, livelockThreshold, progress, false, Map.of());
    }

    /**
     * As above; with {@code clusterNodes} the nodes are {@code shootdown node} processes already
     * on {@code bootstrapServers}, and this only starts the run, waits for it and reads it back.
     */
    public static ScenarioRunner kafka(String bootstrapServers, Path brokerDir, long seed, Duration runTimeout, int livelockThreshold,
            PrintWriter progress, boolean clusterNodes, Map<String, String> kafkaProperties) throws InfrastructureException {
        EmbeddedKafkaBroker broker = null;
        String bootstrap = bootstrapServers;
        if (bootstrap == null) {
            progress.println("starting the embedded Kafka broker...");
            progress.flush();
            try {
                broker = EmbeddedKafkaBroker.start(brokerDir);
            } catch (BrokerStartException e) {
                throw new InfrastructureException("cannot start the embedded Kafka broker: " + e.getMessage(), e);
            }
            bootstrap = broker.bootstrapServers();
        }
        ScenarioRunner runner = new ScenarioRunner(Engine.kafka, seed, 0, runTimeout, livelockThreshold, progress, broker, bootstrap);
        runner.clusterNodes = clusterNodes;
        runner.kafkaProperties = Map.copyOf(kafkaProperties);
        return runner;
    }

    Engine engine() {
        return engine;
    }

    /** Runs use {@code kernels} (the built-ins and the command's --kernel files) for the variant a policy names. */
    public ScenarioRunner withKernels(KernelCatalog kernels) {
        this.kernels = kernels;
        return this;
    }

    /**
     * Runs {@code scenario} and audits its log. A Kafka run that does not finish in time is an
     * {@link InfrastructureException}; a deterministic run that hits the event limit is an
     * incomplete outcome, audited as far as it got.
     */
    public Outcome run(Scenario scenario) throws InfrastructureException {
        return run(scenario, seed);
    }

    /** As {@link #run(Scenario)}, with the latencies drawn from {@code seed} instead of this runner's. */
    public Outcome run(Scenario scenario, long seed) throws InfrastructureException {
        Recorded r = record(scenario, seed);
        return new Outcome(r.runId(), r.lines(), r.log(), Auditor.audit(r.log(), livelockThreshold), r.complete());
    }

    /** A run recorded whole, in causal order: its id, its events.jsonl lines, their envelopes, and whether it completed. */
    private record Recorded(String runId, List<String> lines, List<Envelope> log, boolean complete) {}

    private Recorded record(Scenario scenario, long seed) throws InfrastructureException {
        List<String> lines = new ArrayList<>();
        List<Envelope> log = new ArrayList<>();
        String runId;
        boolean complete;
        if (engine == Engine.sim) {
            runId = scenario.name() + "-sim-s" + seed;
            SimEngine.Result result;
            try {
                result = new SimEngine(runId, seed, scenario, kernels.of(scenario.policy()), Machine.stateMachines(scenario),
                        LatencyModel.defaults()).withFaults(infrastructureFaults(scenario), Machine::fresh).run(maxEvents);
            } catch (NodeFailedException e) {
                throw new InfrastructureException("run " + runId + " stopped: " + e.getMessage(), e);
            }
            for (Envelope e : CausalOrder.sort(result.log(), e -> e)) {
                log.add(e);
                lines.add(EventCodec.encode(e));
            }
            complete = result.quiesced();
        } else {
            runId = kafkaRunId(scenario);
            KafkaRunner.Result result = runOnKafka(runId, scenario, seed);
            for (RecordedEvent r : result.log()) {
                log.add(r.envelope());
                lines.add(r.line());
            }
            complete = !result.stalled();
        }
        return new Recorded(runId, lines, log, complete);
    }

    /** The Kafka host's configuration: the defaults for the cluster, with this runner's client properties. */
    private KafkaHostConfig hostConfig() {
        KafkaHostConfig defaults = KafkaHostConfig.defaults(bootstrapServers);
        return new KafkaHostConfig(bootstrapServers, kafkaProperties, defaults.partitions(), defaults.replicationFactor(),
                defaults.requestTimeout());
    }

    /** Kafka runs this process started: part of their ids, so that runs started at once never share one. */
    private static final java.util.concurrent.atomic.AtomicLong KAFKA_RUNS = new java.util.concurrent.atomic.AtomicLong();

    /**
     * A Kafka run's id: the scenario, arch and policy, the wall-clock time, a few random hex digits
     * and, after the first, how many runs this process started before it.
     */
    private static String kafkaRunId(Scenario scenario) {
        long before = KAFKA_RUNS.getAndIncrement();
        return String.join("-", scenario.name(), scenario.arch().label(), scenario.policy(),
                LocalDateTime.now().format(DateTimeFormatter.ofPattern("yyyyMMdd-HHmmss")),
                Long.toHexString(System.nanoTime() & 0xffff)) + (before == 0 ? "" : "-" + before);
    }

    /**
     * Whether several runs may share this runner at once: on the deterministic engine each cell
     * has a runner of its own; on Kafka with the nodes in this process each run has its own topics,
     * Vert.x and clients; the nodes of `shootdown node` processes take one run at a time.
     */
    public boolean runsConcurrently() {
        return engine == Engine.kafka && !clusterNodes;
    }

    /** Whether a run of {@code scenario} restarts the broker, and so may not share it with another run. */
    public static boolean restartsTheBroker(Scenario scenario) {
        return infrastructureFaults(scenario).stream().anyMatch(f -> f.kind() == FaultKind.BROKER_RESTART);
    }

    /**
     * A run written to its directory as it happened: its id, how many events events.jsonl holds,
     * the streamed audit (report.json and report.html are written), and whether it completed.
     */
    public record Written(String runId, long events, StreamingAudit.Result audit, boolean complete) {}

    /**
     * Runs {@code scenario} with the latencies of {@code seed} and writes {@code dir/events.jsonl},
     * {@code report.json} and {@code report.html} (the same bytes {@link Outcome#write} would for
     * events.jsonl and report.json). On the deterministic engine the run streams: each envelope is
     * put in the log's canonical order ({@link CausalOrder.Stream}), written and audited as it is
     * published, and none is kept, so memory is bounded by the simulated machine, not by the run's
     * length (a fault plan that rebuilds a node or hands nodes their inputs again reads them back
     * from a history file beside the log, removed at the end). A Kafka run is read back from its
     * topics the same way, spooled per node and merged.
     */
    public Written runTo(Scenario scenario, long seed, Path dir) throws InfrastructureException, IOException {
        Files.createDirectories(dir);
        Path eventsFile = dir.resolve("events.jsonl");
        try (BufferedWriter events = Files.newBufferedWriter(eventsFile, StandardCharsets.UTF_8);
                StreamingAudit audit = new StreamingAudit(dir, livelockThreshold)) {
            long[] written = {0};
            java.util.function.BiConsumer<String, Envelope> sink = (line, e) -> {
                try {
                    events.write(line);
                    events.write('\n');
                } catch (IOException x) {
                    throw new java.io.UncheckedIOException(IoFailure.named(eventsFile, "write", x));
                }
                written[0]++;
                audit.accept(e);
            };
            String runId;
            boolean complete;
            if (engine == Engine.sim) {
                runId = scenario.name() + "-sim-s" + seed;
                CausalOrder.Stream canonical = new CausalOrder.Stream(e -> sink.accept(EventCodec.encode(e), e));
                SimEngine.Result result;
                try {
                    result = new SimEngine(runId, seed, scenario, kernels.of(scenario.policy()), Machine.stateMachines(scenario),
                            LatencyModel.defaults()).withFaults(infrastructureFaults(scenario), Machine::fresh)
                            .streamTo(canonical::accept, dir.resolve(".history.jsonl")).run(maxEvents);
                } catch (NodeFailedException e) {
                    throw new InfrastructureException("run " + runId + " stopped: " + e.getMessage(), e);
                }
                canonical.finish();
                complete = result.quiesced();
            } else {
                runId = kafkaRunId(scenario);
                KafkaRunner.Result result = runOnKafka(runId, scenario, seed, false);
                Path spool = Files.createTempDirectory(dir, ".spool-");
                try {
                    RunLogReader.stream(hostConfig(), runId, spool, sink::accept);
                } finally {
                    Files.deleteIfExists(spool);
                }
                complete = !result.stalled();
            }
            try {
                events.flush();
            } catch (IOException x) {
                throw IoFailure.named(eventsFile, "write", x);
            }
            return new Written(runId, written[0], audit.finish(List.of()), complete);
        } catch (java.io.UncheckedIOException e) {
            throw e.getCause();
        }
    }

    /** A deterministic run audited as it streamed, nothing written: how many events, the report's header, whether it ended. */
    public record Audited(long events, AuditReport report, boolean complete) {}

    /**
     * Runs {@code scenario} on the deterministic engine and audits it as it streams, keeping
     * neither the log nor the violations and shootdowns one by one: the report has their counts by
     * kind and their groups ({@link AuditReport#violationKinds}, {@link AuditReport#violationGroups}),
     * not the lists. For what runs many candidates and needs only their verdicts ({@code shrink}).
     */
    public Audited audited(Scenario scenario, Path scratch) throws IOException, InfrastructureException {
        if (engine != Engine.sim) {
            throw new IllegalStateException("audited runs are for the deterministic engine");
        }
        String runId = scenario.name() + "-sim-s" + seed;
        Auditor auditor = new Auditor(livelockThreshold, new Auditor.Sink() {
            @Override
            public void onViolation(dev.shootdown.audit.Violation violation) {}

            @Override
            public void onShootdown(dev.shootdown.audit.ShootdownSummary shootdown) {}
        });
        CausalOrder.Stream canonical = new CausalOrder.Stream(auditor::accept);
        SimEngine.Result result;
        Path history = Files.createTempFile(scratch, ".history-", ".jsonl");
        try {
            result = new SimEngine(runId, seed, scenario, kernels.of(scenario.policy()), Machine.stateMachines(scenario),
                    LatencyModel.defaults()).withFaults(infrastructureFaults(scenario), Machine::fresh)
                    .streamTo(canonical::accept, history).run(maxEvents);
        } catch (NodeFailedException e) {
            throw new InfrastructureException("run " + runId + " stopped: " + e.getMessage(), e);
        } finally {
            Files.deleteIfExists(history);
        }
        canonical.finish();
        return new Audited(result.events(), auditor.finish(), result.quiesced());
    }

    private KafkaRunner.Result runOnKafka(String runId, Scenario scenario, long seed) throws InfrastructureException {
        return runOnKafka(runId, scenario, seed, true);
    }

    /** A Kafka run; with {@code readBack} false its result has no log (it is streamed back from the topics after). */
    private KafkaRunner.Result runOnKafka(String runId, Scenario scenario, long seed, boolean readBack)
            throws InfrastructureException {
        progress.println("run " + runId + " on Kafka at " + bootstrapServers + (clusterNodes ? ", nodes on the cluster" : ""));
        progress.flush();
        KafkaHostConfig config = hostConfig();
        ErrorLog errors = new ErrorLog();
        NodeHost host = new NodeHost(runId, scenario.nodeIds(), config, LatencyModel.defaults(), errors);
        KafkaRunner runner = readBack ? new KafkaRunner(config) : new KafkaRunner(config).withoutLog();
        KafkaRunner.Result result = runner.run(host, seed, scenario, kernels.of(scenario.policy()),
                clusterNodes ? null : node -> Machine.verticle(host, node), List.of(), infrastructureFaults(scenario),
                broker == null ? null : broker::restart, runTimeout, node -> {
                    progress.println("  " + node + " quiesced");
                    progress.flush();
                });
        if (!errors.isEmpty()) {
            throw new InfrastructureException("run " + runId + " hit errors: " + String.join("; ", errors.distinct()));
        }
        if (!result.quiesced() && !result.stalled()) {
            throw new InfrastructureException("run " + runId + " did not finish within " + runTimeout.toSeconds()
                    + " s: no NodeQuiesced from " + result.missingNodes()
                    + (clusterNodes ? " (is a `shootdown node` process running for each of them on " + bootstrapServers + "?)" : ""));
        }
        return result;
    }

    /** The plan's infrastructure faults: the hosts do them (the nodes inject the model faults themselves). */
    private static List<FaultSpec> infrastructureFaults(Scenario scenario) {
        return scenario.faults().of(FaultKind.Layer.INFRASTRUCTURE).stream().map(FaultPlan.Indexed::spec).toList();
    }

    @Override
    public void close() {
        if (broker != null) {
            broker.close();
        }
    }
}
