package dev.shootdown.cli;

import dev.shootdown.core.Decision;
import dev.shootdown.core.Lifecycle;
import dev.shootdown.core.NodeStateMachine;
import dev.shootdown.core.TimerRequest;
import dev.shootdown.cpu.Cpu;
import dev.shootdown.event.Event;
import dev.shootdown.host.ErrorLog;
import dev.shootdown.host.LatencyModel;
import dev.shootdown.host.kafka.InfrastructureException;
import dev.shootdown.host.kafka.KafkaHostConfig;
import dev.shootdown.host.kafka.KafkaRunner;
import dev.shootdown.host.kafka.NodeHost;
import dev.shootdown.host.kafka.NodeVerticle;
import dev.shootdown.scenario.Scenario;
import dev.shootdown.scenario.Scenarios;
import dev.shootdown.simulation.Machine;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A node whose state machine throws, in the in-process Kafka host: it takes nothing more for the
 * run, the error is logged once, and the run ends at once naming the node and the error, instead
 * of waiting for its timeout. The CPU's real state machine runs, wrapped so that its 30th input
 * throws, as a bug in it would.
 */
@Timeout(value = 5, unit = TimeUnit.MINUTES)
class KafkaNodeFailureIT {

    @RegisterExtension
    static final EmbeddedBroker BROKER = new EmbeddedBroker();

    /** A state machine that throws on its {@code failAt}-th input, and is {@code inner} otherwise. */
    private static final class Failing implements NodeStateMachine {
        private final NodeStateMachine inner;
        private final int failAt;
        private int inputs;

        Failing(NodeStateMachine inner, int failAt) {
            this.inner = inner;
            this.failAt = failAt;
        }

        @Override
        public String nodeId() {
            return inner.nodeId();
        }

        @Override
        public Lifecycle lifecycle() {
            return inner.lifecycle();
        }

        @Override
        public Decision onEvent(Event input, long nowNs) {
            if (++inputs == failAt) {
                throw new IllegalStateException("a bug on input " + failAt);
            }
            return inner.onEvent(input, nowNs);
        }

        @Override
        public void evolve(Event event) {
            inner.evolve(event);
        }

        @Override
        public void evolve(Event event, long timeNs) {
            inner.evolve(event, timeNs);
        }

        @Override
        public boolean keepsInput(Event input) {
            return inner.keepsInput(input);
        }

        @Override
        public List<TimerRequest> timersAfterRecovery(long nowNs) {
            return inner.timersAfterRecovery(nowNs);
        }
    }

    @Test
    void aNodeWhoseStateMachineThrowsEndsTheRunAtOnceNamingItAndTheError() {
        Scenario scenario = Scenarios.munmapDma();
        String runId = "node-failure-" + Long.toHexString(System.nanoTime());
        KafkaHostConfig config = KafkaHostConfig.defaults(BROKER.bootstrapServers());
        ErrorLog errors = new ErrorLog();
        NodeHost host = new NodeHost(runId, scenario.nodeIds(), config, LatencyModel.defaults(), errors);
        long startNs = System.nanoTime();

        InfrastructureException e = assertThrows(InfrastructureException.class, () -> new KafkaRunner(config).run(host, 1,
                scenario, Machine.kernel(scenario),
                n -> n.equals("cpu1") ? new NodeVerticle(host, new Failing(new Cpu("cpu1"), 30)) : Machine.verticle(host, n),
                List.of(), Duration.ofSeconds(120), n -> { }));

        long seconds = TimeUnit.NANOSECONDS.toSeconds(System.nanoTime() - startNs);
        assertTrue(e.getMessage().startsWith("run " + runId + " stopped: cpu1: state machine failed "), e.getMessage());
        assertTrue(e.getMessage().endsWith("(IllegalStateException: a bug on input 30)"), e.getMessage());
        assertTrue(seconds < 60, "ended at once, not at the 120 s run timeout: " + seconds + " s");
        assertEquals(1, errors.distinct().stream().filter(l -> l.contains("state machine failed")).count(),
                "logged once: " + errors.distinct());
    }

    /**
     * The mm's promises 1 us later than it can keep: a node that receives an event due before
     * what was promised stops the run at once, naming the link, the event and the promise, and
     * takes nothing out of order.
     */
    @Test
    void aWrongPromiseStopsTheRunLoudly() {
        Scenario scenario = Scenarios.munmapDma();
        String runId = "wrong-promise-" + Long.toHexString(System.nanoTime());
        KafkaHostConfig config = KafkaHostConfig.defaults(BROKER.bootstrapServers());
        ErrorLog errors = new ErrorLog();
        NodeHost host = new NodeHost(runId, scenario.nodeIds(), config, LatencyModel.defaults(), errors);

        InfrastructureException e = assertThrows(InfrastructureException.class, () -> new KafkaRunner(config).run(host, 1,
                scenario, Machine.kernel(scenario),
                n -> n.equals("coordinator") ? new NodeVerticle(host, Machine.fresh(n), 1_000) : Machine.verticle(host, n),
                List.of(), Duration.ofSeconds(120), n -> { }));

        assertTrue(e.getMessage().startsWith("run " + runId + " stopped: "), e.getMessage());
        assertTrue(e.getMessage().matches(".*: event \\d+ from coordinator on its link is due at \\d+ ns, but after its event \\d+ "
                + "nothing was to be due before \\d+ ns \\(coordinator promised to emit nothing before \\d+ ns\\): a wrong "
                + "promise, the run stops\\)"), e.getMessage());
    }

    @Test
    void aNodeBugInTheFaultPlanEndsARunWithExitThreeOnBothEngines(@org.junit.jupiter.api.io.TempDir java.nio.file.Path dir)
            throws Exception {
        java.nio.file.Path plan = java.nio.file.Files.writeString(dir.resolve("bug.yaml"),
                "faults:\n  - kind: node-bug\n    node: cpu1\n    nth: 30\n");
        String bug = "cpu1: state machine failed%s (IllegalStateException: node-bug (fault 0 of the plan) on page-walk-completed"
                + " at 15231 ns: the state machine threw, as a bug in its code would)\n";

        CliTest.Outcome sim = CliTest.shootdown("run", "--scenario", "munmap-dma", "--engine", "sim", "--faults", plan.toString(),
                "--out", dir.resolve("sim").toString());
        assertEquals(Shootdown.EXIT_INFRASTRUCTURE, sim.status(), sim.out() + sim.err());
        assertEquals("shootdown: run munmap-dma-sim-s1 stopped: " + String.format(bug, ""), sim.err());

        CliTest.Outcome kafka = CliTest.shootdown("run", "--scenario", "munmap-dma", "--bootstrap-servers",
                BROKER.bootstrapServers(), "--faults", plan.toString(), "--out", dir.resolve("kafka").toString());
        assertEquals(Shootdown.EXIT_INFRASTRUCTURE, kafka.status(), kafka.out() + kafka.err());
        assertTrue(kafka.err().endsWith(" stopped: " + String.format(bug, "")), kafka.err()); // the same line as on the deterministic engine
    }
}
