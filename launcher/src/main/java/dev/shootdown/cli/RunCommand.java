package dev.shootdown.cli;

import com.fasterxml.jackson.databind.SerializationFeature;
import dev.shootdown.audit.AuditReport;
import dev.shootdown.audit.Auditor;
import dev.shootdown.broker.BrokerStartException;
import dev.shootdown.broker.EmbeddedKafkaBroker;
import dev.shootdown.codec.EventCodec;
import dev.shootdown.event.Envelope;
import dev.shootdown.host.ErrorLog;
import dev.shootdown.host.LatencyModel;
import dev.shootdown.host.kafka.InfrastructureException;
import dev.shootdown.host.kafka.KafkaHostConfig;
import dev.shootdown.host.kafka.KafkaRunner;
import dev.shootdown.host.kafka.NodeHost;
import dev.shootdown.host.kafka.RecordedEvent;
import dev.shootdown.host.sim.SimEngine;
import dev.shootdown.log.CausalOrder;
import dev.shootdown.scenario.Scenario;
import dev.shootdown.scenario.Scenarios;
import java.io.BufferedWriter;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.AccessDeniedException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.LocalDateTime;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/** {@code shootdown run}: simulate one scenario, record its log, audit it. */
@Command(name = "run", mixinStandardHelpOptions = true,
        description = "Run a scenario on the Kafka host (embedded broker by default) or the deterministic engine, "
                + "write DIR/events.jsonl and DIR/report.json, and print the audit.")
final class RunCommand implements Callable<Integer> {

    enum Engine { kafka, sim }

    @Spec
    CommandSpec spec;

    @Option(names = "--scenario", required = true, paramLabel = "NAME", description = "Built-in scenario: ${COMPLETION-CANDIDATES}",
            completionCandidates = ScenarioNames.class)
    String scenarioName;

    @Option(names = "--engine", defaultValue = "kafka", paramLabel = "ENGINE",
            description = "kafka (services over Kafka topics) or sim (deterministic, virtual time). Default: ${DEFAULT-VALUE}")
    Engine engine;

    @Option(names = "--seed", defaultValue = "1", paramLabel = "N", description = "Seed of the deterministic engine's latencies. Default: ${DEFAULT-VALUE}")
    long seed;

    @Option(names = "--bootstrap-servers", paramLabel = "HOST:PORT",
            description = "Use this Kafka cluster instead of starting an embedded broker.")
    String bootstrapServers;

    @Option(names = "--broker-dir", paramLabel = "DIR", description = "Data directory of the embedded broker (default: a temporary one).")
    Path brokerDir;

    @Option(names = "--out", defaultValue = "shootdown-out", paramLabel = "DIR", description = "Where events.jsonl and report.json go. Default: ${DEFAULT-VALUE}")
    Path out;

    @Option(names = "--run-timeout", defaultValue = "120", paramLabel = "SECONDS", description = "Give up on a Kafka run after this long. Default: ${DEFAULT-VALUE}")
    long runTimeoutSeconds;

    @Option(names = "--max-events", defaultValue = "5000000", paramLabel = "N", description = "Stop a deterministic run after this many events. Default: ${DEFAULT-VALUE}")
    long maxEvents;

    @Option(names = "--verbose", description = "Show stack traces of failures.")
    boolean verbose;

    static final class ScenarioNames implements Iterable<String> {
        @Override
        public Iterator<String> iterator() {
            return Scenarios.names().iterator();
        }
    }

    @Override
    public Integer call() throws Exception {
        Scenario scenario = Scenarios.builtIn(scenarioName).orElseThrow(() -> new BadInputException(
                "unknown scenario '" + scenarioName + "': expected one of " + String.join(", ", Scenarios.names())));
        if (engine == Engine.sim && (bootstrapServers != null || brokerDir != null)) {
            throw new BadInputException("--bootstrap-servers and --broker-dir apply to --engine kafka only");
        }
        if (runTimeoutSeconds <= 0) {
            throw new BadInputException("--run-timeout must be a positive number of seconds, was " + runTimeoutSeconds);
        }
        if (maxEvents <= 0) {
            throw new BadInputException("--max-events must be positive, was " + maxEvents);
        }
        try {
            Files.createDirectories(out);
        } catch (IOException e) {
            String why = e instanceof FileAlreadyExistsException ? "a file is in the way: " + e.getMessage()
                    : e instanceof AccessDeniedException ? "permission denied: " + e.getMessage()
                    : String.valueOf(e.getMessage());
            throw new BadInputException("--out " + out + ": cannot create that directory (" + why + ")");
        }
        PrintWriter stdout = spec.commandLine().getOut();
        List<String> lines = new ArrayList<>();
        List<Envelope> log = new ArrayList<>();
        boolean complete;
        String runId;
        if (engine == Engine.sim) {
            runId = scenario.name() + "-sim-s" + seed;
            SimEngine.Result result = new SimEngine(runId, seed, scenario, Machine.stateMachines(scenario),
                    LatencyModel.defaults()).run(maxEvents);
            for (Envelope e : CausalOrder.sort(result.log(), e -> e)) {
                log.add(e);
                lines.add(EventCodec.encode(e));
            }
            complete = result.quiesced();
            if (!complete) {
                stdout.println("warning: the deterministic run stopped at " + maxEvents + " events before every node quiesced");
            }
        } else {
            runId = scenario.name() + "-" + LocalDateTime.now().format(DateTimeFormatter.ofPattern("yyyyMMdd-HHmmss"))
                    + "-" + Long.toHexString(System.nanoTime() & 0xffff);
            KafkaRunner.Result result = runOnKafka(runId, scenario, stdout);
            for (RecordedEvent r : result.log()) {
                log.add(r.envelope());
                lines.add(r.line());
            }
            complete = result.quiesced();
            if (!complete) {
                throw new InfrastructureException("run " + runId + " did not finish within " + runTimeoutSeconds
                        + " s: no NodeQuiesced from " + result.missingNodes());
            }
        }
        AuditReport report = Auditor.audit(log);
        writeOutputs(lines, report);
        AuditPrinter.print(report, engine.name(), stdout);
        stdout.println("wrote " + out.resolve("events.jsonl") + " (" + lines.size() + " events) and " + out.resolve("report.json"));
        stdout.flush();
        if (!complete) {
            return Shootdown.EXIT_INFRASTRUCTURE;
        }
        return report.violations().isEmpty() ? Shootdown.EXIT_CLEAN : Shootdown.EXIT_VIOLATIONS;
    }

    private KafkaRunner.Result runOnKafka(String runId, Scenario scenario, PrintWriter stdout) throws InfrastructureException {
        EmbeddedKafkaBroker broker = null;
        try {
            String bootstrap = bootstrapServers;
            if (bootstrap == null) {
                stdout.println("starting the embedded Kafka broker...");
                stdout.flush();
                broker = EmbeddedKafkaBroker.start(brokerDir);
                bootstrap = broker.bootstrapServers();
            }
            stdout.println("run " + runId + " on Kafka at " + bootstrap);
            stdout.flush();
            KafkaHostConfig config = KafkaHostConfig.defaults(bootstrap);
            ErrorLog errors = new ErrorLog();
            NodeHost host = new NodeHost(runId, scenario.nodeIds(), config, LatencyModel.defaults(), errors);
            KafkaRunner.Result result = new KafkaRunner(config).run(host, seed, scenario, node -> Machine.verticle(host, node),
                    List.of(), Duration.ofSeconds(runTimeoutSeconds), node -> {
                        stdout.println("  " + node + " quiesced");
                        stdout.flush();
                    });
            if (!errors.isEmpty()) {
                throw new InfrastructureException("run " + runId + " hit errors: " + String.join("; ", errors.distinct()));
            }
            return result;
        } catch (BrokerStartException e) {
            throw new InfrastructureException("cannot start the embedded Kafka broker: " + e.getMessage(), e);
        } finally {
            if (broker != null) {
                broker.close();
            }
        }
    }

    private void writeOutputs(List<String> lines, AuditReport report) throws IOException {
        try (BufferedWriter w = Files.newBufferedWriter(out.resolve("events.jsonl"), StandardCharsets.UTF_8)) {
            for (String line : lines) {
                w.write(line);
                w.write('\n');
            }
        }
        Files.writeString(out.resolve("report.json"),
                EventCodec.mapper().writer().with(SerializationFeature.INDENT_OUTPUT).writeValueAsString(report) + "\n",
                StandardCharsets.UTF_8);
    }
}
