package dev.shootdown.cli;

import dev.shootdown.core.NodeStateMachine;
import dev.shootdown.cpu.Cpu;
import dev.shootdown.event.Envelope;
import dev.shootdown.event.NodeIds;
import dev.shootdown.host.LatencyModel;
import dev.shootdown.host.NodeDriver;
import dev.shootdown.host.sim.SimEngine;
import dev.shootdown.iommu.Iommu;
import dev.shootdown.kernel.file.KernelFiles;
import dev.shootdown.log.CausalOrder;
import dev.shootdown.mm.Coordinator;
import dev.shootdown.scenario.Arch;
import dev.shootdown.scenario.Scenario;
import dev.shootdown.scenario.Scenarios;
import dev.shootdown.simulation.Machine;
import dev.shootdown.simulation.RunInvariants;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A node's state rebuilt from the log: restarted anywhere in a run, it carries on as if nothing
 * happened to the simulated machine, and no event is lost or applied twice.
 */
class RecoveryTest {

    private static final Scenario SCENARIO = Scenarios.munmapDma();

    static NodeStateMachine fresh(String nodeId) {
        if (nodeId.equals(NodeIds.COORDINATOR)) {
            return new Coordinator(KernelFiles.catalog());
        }
        return nodeId.startsWith("cpu") ? new Cpu(nodeId) : new Iommu(nodeId);
    }

    private static SimEngine.Result run(long seed, List<SimEngine.Restart> restarts) {
        return new SimEngine("munmap-dma-sim-s" + seed, seed, SCENARIO, Machine.kernel(SCENARIO), Machine.stateMachines(SCENARIO), LatencyModel.defaults())
                .withRestarts(restarts, RecoveryTest::fresh)
                .run(1_000_000);
    }

    /** 4 nodes x 12 restart points x 2 seeds, plus runs restarting every node. */
    static Stream<Arguments> restartPoints() {
        List<Arguments> cases = new ArrayList<>();
        for (long seed : new long[] {7, 1234}) {
            for (String node : SCENARIO.nodeIds()) {
                for (long after = 10; after <= 450; after += 40) {
                    cases.add(Arguments.of(seed, List.of(new SimEngine.Restart(node, after))));
                }
            }
            List<SimEngine.Restart> all = new ArrayList<>();
            long after = 25;
            for (String node : SCENARIO.nodeIds()) {
                all.add(new SimEngine.Restart(node, after));
                all.add(new SimEngine.Restart(node, after + 200));
                after += 37;
            }
            cases.add(Arguments.of(seed, all));
        }
        return cases.stream();
    }

    @ParameterizedTest(name = "seed {0}, restarts {1}")
    @MethodSource("restartPoints")
    void aRestartedNodeCarriesOnFromTheLog(long seed, List<SimEngine.Restart> restarts) {
        SimEngine.Result result = run(seed, restarts);
        assertTrue(result.quiesced(), "every node quiesced after the restart");
        // A restart changes nothing in the simulated machine: the log is the fault-free run's, byte for byte.
        assertEquals(encoded(run(seed, List.of()).log()), encoded(result.log()), "the log with restarts " + restarts);
        // No event lost or duplicated: each node's sequence is gap-free and the causal order exists.
        List<Envelope> log = CausalOrder.sort(result.log(), e -> e);
        RunInvariants.assertMunmapDmaCorrect(log);
        RunInvariants.assertAuditClean(log);
    }

    /** The log in canonical causal order, one encoded line per event. */
    static List<String> encoded(List<Envelope> log) {
        return CausalOrder.sort(log, e -> e).stream().map(dev.shootdown.codec.EventCodec::encode).toList();
    }

    /** The seed's table with each kind of node restarted mid-run: mid-reclaim, mid-flush, mid-fault. */
    static Stream<Arguments> seedTableRestarts() {
        List<Arguments> cases = new ArrayList<>();
        String[][] rows = {{"smmu-permission-upgrade", "arm64"}, {"kswapd-reclaim", "x86"}, {"direct-reclaim-cross-mm", "x86"}};
        for (String[] row : rows) {
            for (String policy : Scenario.POLICIES) {
                for (String node : List.of(NodeIds.COORDINATOR, "cpu0", "iommu0")) {
                    cases.add(Arguments.of(row[0], row[1], policy, List.of(new SimEngine.Restart(node, 700),
                            new SimEngine.Restart(node, 1900))));
                }
            }
        }
        return cases.stream();
    }

    @ParameterizedTest(name = "{0} {1} {2}, restarts {3}")
    @MethodSource("seedTableRestarts")
    void aRestartedNodeGivesTheSameVerdicts(String scenario, String arch, String policy, List<SimEngine.Restart> restarts) {
        Scenario s = Scenarios.builtIn(scenario).orElseThrow().with(Arch.of(arch), policy);
        SimEngine.Result result = new SimEngine(scenario + "-restarts", 7, s, Machine.kernel(s), Machine.stateMachines(s), LatencyModel.defaults())
                .withRestarts(restarts, RecoveryTest::fresh)
                .run(1_000_000);
        assertTrue(result.quiesced(), "every node quiesced after the restarts");
        List<Envelope> log = CausalOrder.sort(result.log(), e -> e);
        SimEngine.Result faultFree = new SimEngine(scenario + "-restarts", 7, s, Machine.kernel(s), Machine.stateMachines(s), LatencyModel.defaults())
                .run(1_000_000);
        assertEquals(encoded(faultFree.log()), encoded(result.log()), "the log with restarts " + restarts);
        assertEquals(KernelModelTest.expected(scenario, arch, policy),
                KernelModelTest.kinds(dev.shootdown.audit.Auditor.audit(log)));
    }

    @Test
    void everyNodeRecoveredFromAWholeRunEndsInTheStateTheOriginalEndedIn() {
        List<NodeStateMachine> originals = Machine.stateMachines(SCENARIO);
        SimEngine.Result result = new SimEngine("r", 7, SCENARIO, Machine.kernel(SCENARIO), originals, LatencyModel.defaults()).run(1_000_000);
        for (NodeStateMachine original : originals) {
            NodeStateMachine copy = fresh(original.nodeId());
            NodeDriver driver = NodeDriver.recover("r", copy, SCENARIO.nodeIds(), result.log());
            assertEquals(original.lifecycle(), copy.lifecycle(), original.nodeId());
            long ownEvents = result.log().stream().filter(e -> e.node().equals(original.nodeId())).count();
            Envelope last = driver.emit(new dev.shootdown.event.PageTableEvent.MmCreated(99), driver.localNowNs());
            assertEquals(ownEvents + 1, last.seq(), "the recovered driver continues the sequence");
            if (original instanceof Cpu cpu) {
                Cpu c = (Cpu) copy;
                assertEquals(cpu.loadedMm(), c.loadedMm());
                assertEquals(cpu.isLazy(), c.isLazy());
                assertEquals(cpu.tlbEntries(1), c.tlbEntries(1));
            } else if (original instanceof Iommu iommu) {
                Iommu c = (Iommu) copy;
                assertEquals(iommu.iotlbEntries(1), c.iotlbEntries(1));
                assertEquals(iommu.atcEntries("dev0"), c.atcEntries("dev0"));
            } else {
                Coordinator coordinator = (Coordinator) original;
                Coordinator c = (Coordinator) copy;
                assertEquals(coordinator.tlbGen(1), c.tlbGen(1));
                assertEquals(coordinator.presentPtes(1), c.presentPtes(1));
            }
        }
    }

    @Test
    void aRecoveredDriverDropsWhatItAlreadyDeliveredAndTakesTheRest() {
        List<NodeStateMachine> originals = Machine.stateMachines(SCENARIO);
        SimEngine.Result result = new SimEngine("r", 7, SCENARIO, Machine.kernel(SCENARIO), originals, LatencyModel.defaults()).run(1_000_000);
        int cut = result.log().size() / 2;
        List<Envelope> prefix = result.log().subList(0, cut);
        NodeDriver cpu1 = NodeDriver.recover("r", new Cpu("cpu1"), SCENARIO.nodeIds(), prefix);
        List<Envelope> toCpu1 = result.log().stream().filter(e -> e.links().containsKey("cpu1")).toList();
        long delivered = cpu1.deliveredOn(NodeIds.COORDINATOR);
        assertTrue(delivered > 0, "cpu1 had heard from the coordinator by mid-run");
        for (Envelope e : toCpu1) {
            cpu1.offer(e, e.timeNs());
        }
        long fromCoordinator = toCpu1.stream().filter(e -> e.node().equals(NodeIds.COORDINATOR)).count();
        assertEquals(fromCoordinator, cpu1.deliveredOn(NodeIds.COORDINATOR), "everything after the cut delivered once");
        assertEquals(delivered + 1, cpu1.duplicatesDropped(), "what was delivered before the cut (and RunStarted) is dropped");
    }
}
