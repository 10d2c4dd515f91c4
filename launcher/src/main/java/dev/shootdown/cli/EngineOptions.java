package dev.shootdown.cli;

import dev.shootdown.cli.run.BadInputException;
import dev.shootdown.cli.run.ScenarioRunner;
import dev.shootdown.fault.FaultKind;
import dev.shootdown.fault.FaultPlan;
import dev.shootdown.fault.FaultSpec;
import dev.shootdown.fault.file.FaultPlanException;
import dev.shootdown.fault.file.FaultPlans;
import dev.shootdown.host.kafka.InfrastructureException;
import dev.shootdown.scenario.Scenario;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.time.Duration;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** The options of how scenarios run and are audited, shared by {@code run} and {@code matrix} (a picocli mixin). */
final class EngineOptions {

    @Option(names = "--seed", defaultValue = "1", paramLabel = "N", description = "Seed of the latencies. Default: ${DEFAULT-VALUE}")
    long seed;

    @Option(names = "--bootstrap-servers", paramLabel = "HOST:PORT",
            description = "Use this Kafka cluster instead of starting an embedded broker.")
    String bootstrapServers;

    @Mixin
    KafkaConfigOption kafkaConfig;

    @Option(names = "--nodes", defaultValue = "in-process", paramLabel = "WHERE",
            description = "in-process (this command runs every node) or cluster (the nodes are `shootdown node` processes "
                    + "on --bootstrap-servers, which join the run). Default: ${DEFAULT-VALUE}")
    String nodes;

    @Option(names = "--broker-dir", paramLabel = "DIR", description = "Data directory of the embedded broker (default: a temporary one).")
    Path brokerDir;

    @Option(names = "--run-timeout", defaultValue = "120", paramLabel = "SECONDS",
            description = "Give up on a Kafka run after this long. Default: ${DEFAULT-VALUE}")
    long runTimeoutSeconds;

    @Option(names = "--max-events", defaultValue = "5000000", paramLabel = "N",
            description = "Stop a deterministic run after this many events. Default: ${DEFAULT-VALUE}")
    long maxEvents;

    @Option(names = "--livelock-threshold", defaultValue = "16", paramLabel = "K",
            description = "Report a device livelock after K faults on one address. Default: ${DEFAULT-VALUE}")
    int livelockThreshold;

    @Option(names = "--stall-window", paramLabel = "NS",
            description = "End a run whose shootdown made no progress for this long in simulated time (the kernel's "
                    + "watchdog), with what is stuck. Default: the scenario's end.stallWindowNs, or 1000 times its longest "
                    + "step (cpuStepNs, cmdqSyncNs).")
    Long stallWindowNs;

    @Option(names = "--faults", paramLabel = "FILE",
            description = "Inject the faults of this fault plan (.yaml, .yml or .json) into every run.")
    Path faultsFile;

    private FaultPlan faultPlan;

    /** The plan of --faults, read once; {@link FaultPlan#NONE} without the option. */
    FaultPlan faultPlan() throws BadInputException {
        if (faultPlan == null) {
            try {
                faultPlan = faultsFile == null ? FaultPlan.NONE : FaultPlans.read(faultsFile);
            } catch (FaultPlanException e) {
                throw new BadInputException(e.getMessage(), e);
            }
        }
        return faultPlan;
    }

    /**
     * {@code scenario} as this command runs it: with the plan of --faults, checked against its
     * nodes, and the watchdog's --stall-window; unchanged without the options.
     */
    Scenario withFaults(Scenario scenario) throws BadInputException {
        if (stallWindowNs != null) {
            scenario = scenario.withEnd(scenario.end().withStallWindowNs(stallWindowNs));
        }
        FaultPlan plan = faultPlan();
        if (plan.isEmpty()) {
            return scenario;
        }
        try {
            plan.checkNodes(scenario.nodeIds());
        } catch (IllegalArgumentException e) {
            throw new BadInputException(faultsFile + ": " + e.getMessage() + " (scenario " + scenario.name() + ")", e);
        }
        if (nodes.equals("cluster") && !plan.of(FaultKind.Layer.INFRASTRUCTURE).isEmpty()) {
            throw new BadInputException(faultsFile + ": faults[" + plan.of(FaultKind.Layer.INFRASTRUCTURE).get(0).index()
                    + "].kind: infrastructure faults are done by the process that runs the nodes, and with --nodes cluster"
                    + " they run elsewhere: kill -9 a node process and `shootdown cluster restart NODE` instead");
        }
        return scenario.withFaults(plan);
    }

    /** One line for a run's header: the plan's file and its faults, or null without one. */
    String faultsHeader() throws BadInputException {
        FaultPlan plan = faultPlan();
        if (faultsFile == null) {
            return null;
        }
        StringBuilder b = new StringBuilder("faults from " + faultsFile + ": " + plan.faults().size() + " fault"
                + (plan.faults().size() == 1 ? "" : "s"));
        String sep = " (";
        for (FaultSpec f : plan.faults()) {
            b.append(sep).append(f.kind().kebab()).append(f.node() == null ? "" : " on " + f.node());
            sep = ", ";
        }
        b.append(plan.faults().isEmpty() ? "" : ")");
        b.append(plan.seed() == 0 ? ", run's seed" : ", seed " + plan.seed());
        return b.toString();
    }

    void validate(ScenarioRunner.Engine engine) throws BadInputException {
        if (engine == ScenarioRunner.Engine.sim && (bootstrapServers != null || brokerDir != null)) {
            throw new BadInputException("--bootstrap-servers and --broker-dir apply to --engine kafka only");
        }
        if (!nodes.equals("in-process") && !nodes.equals("cluster")) {
            throw new BadInputException("--nodes must be in-process or cluster, was '" + nodes + "'");
        }
        if (nodes.equals("cluster") && (engine != ScenarioRunner.Engine.kafka || bootstrapServers == null)) {
            throw new BadInputException("--nodes cluster needs --engine kafka and the cluster's --bootstrap-servers");
        }
        if (kafkaConfig.file != null && engine != ScenarioRunner.Engine.kafka) {
            throw new BadInputException("--kafka-config applies to --engine kafka only");
        }
        if (runTimeoutSeconds <= 0) {
            throw new BadInputException("--run-timeout must be a positive number of seconds, was " + runTimeoutSeconds);
        }
        if (maxEvents <= 0) {
            throw new BadInputException("--max-events must be positive, was " + maxEvents);
        }
        if (stallWindowNs != null && stallWindowNs <= 0) {
            throw new BadInputException("--stall-window must be a positive number of nanoseconds, was " + stallWindowNs);
        }
        AuditOptions.checkedThreshold(livelockThreshold);
        faultPlan();
    }

    /** A runner for {@code engine}; on Kafka this starts the embedded broker unless --bootstrap-servers is given. */
    ScenarioRunner runner(ScenarioRunner.Engine engine, PrintWriter progress) throws InfrastructureException, BadInputException {
        return engine == ScenarioRunner.Engine.sim
                ? ScenarioRunner.sim(seed, maxEvents, livelockThreshold, progress)
                : ScenarioRunner.kafka(bootstrapServers, brokerDir, seed, Duration.ofSeconds(runTimeoutSeconds),
                        livelockThreshold, progress, nodes.equals("cluster"), KafkaConfigFile.config(
                                bootstrapServers == null ? "embedded" : bootstrapServers, kafkaConfig.file).clientProperties());
    }
}
