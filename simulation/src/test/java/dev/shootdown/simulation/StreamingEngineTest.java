package dev.shootdown.simulation;

import dev.shootdown.event.Envelope;
import dev.shootdown.host.LatencyModel;
import dev.shootdown.host.sim.SimEngine;
import dev.shootdown.log.CausalOrder;
import dev.shootdown.scenario.Arch;
import dev.shootdown.scenario.Scenario;
import dev.shootdown.scenario.Scenarios;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The deterministic engine streaming its log to a sink instead of keeping it. */
class StreamingEngineTest {

    private static SimEngine engine(Scenario s, long seed) {
        return new SimEngine(s.name() + "-sim-s" + seed, seed, s, Machine.kernel(s), Machine.stateMachines(s), LatencyModel.defaults());
    }

    @Test
    void aStreamedRunPublishesTheKeptLogInTheSameOrderAndKeepsNothing() {
        for (Scenario s : List.of(Scenarios.munmapDma(), Scenarios.kswapdReclaim())) {
            SimEngine.Result kept = engine(s, 3).run(1_000_000);
            List<Envelope> streamed = new ArrayList<>();
            SimEngine.Result result = engine(s, 3).streamTo(streamed::add).run(1_000_000);

            assertEquals(kept.log(), streamed, s.name());
            assertTrue(result.log().isEmpty(), s.name() + ": nothing kept");
            assertEquals(streamed.size(), result.events(), s.name());
            assertEquals(kept.log().size(), kept.events(), s.name());
            assertEquals(kept.quiesced(), result.quiesced(), s.name());
            assertEquals(kept.endTimeNs(), result.endTimeNs(), s.name());
        }
    }

    @Test
    void theCanonicalOrderStreamedIsTheWholeLogsSortedOrderEventForEvent() {
        int compared = 0;
        for (Scenario base : List.of(Scenarios.munmapDma(), Scenarios.kswapdReclaim(), Scenarios.directReclaimCrossMm(),
                Scenarios.mprotectDowngrade(), Scenarios.smmuPermissionUpgrade())) {
            for (String arch : List.of("x86", "arm64")) {
                for (String kernel : List.of("linux-6.6", "series-v2", "linux-6.1", "linux-6.12")) {
                    Scenario s = base.with(Arch.of(arch), kernel);
                    for (long seed = 1; seed <= 2; seed++) {
                        List<Envelope> sorted = CausalOrder.sort(engine(s, seed).run(1_000_000).log(), e -> e);
                        List<Envelope> streamed = new ArrayList<>();
                        CausalOrder.Stream canonical = new CausalOrder.Stream(streamed::add);
                        engine(s, seed).streamTo(canonical::accept).run(1_000_000);
                        canonical.finish();
                        assertEquals(sorted, streamed, s.name() + " " + arch + " " + kernel + " seed " + seed);
                        compared += sorted.size();
                    }
                }
            }
        }
        assertTrue(compared > 100_000, "events compared: " + compared);
    }

    @Test
    void theCanonicalMergeOfPerNodeStreamsIsTheWholeLogsSortedOrder() {
        for (Scenario s : List.of(Scenarios.kswapdReclaim().with(Arch.X86, "series-v2"), Scenarios.directReclaimCrossMm(),
                Scenarios.smmuPermissionUpgrade().with(Arch.ARM64, "linux-6.5"))) {
            List<Envelope> log = engine(s, 7).run(1_000_000).log();
            Map<String, List<Envelope>> byNode = new java.util.TreeMap<>();
            for (Envelope e : log) {
                byNode.computeIfAbsent(e.node(), k -> new ArrayList<>()).add(e);
            }
            List<java.util.Iterator<Envelope>> streams = new ArrayList<>();
            byNode.values().forEach(events -> streams.add(events.stream()
                    .sorted(java.util.Comparator.comparingLong(Envelope::seq)).iterator()));
            List<Envelope> merged = new ArrayList<>();
            CausalOrder.merge(streams, e -> e, merged::add);
            assertEquals(CausalOrder.sort(log, e -> e), merged, s.name());
        }
        // a node's stream missing an event is a gap, named
        List<Envelope> log = engine(Scenarios.munmapDma(), 1).run(1_000_000).log();
        List<Envelope> withoutCpu1Third = log.stream().filter(e -> !e.id().equals("cpu1#3")).toList();
        Map<String, List<Envelope>> byNode = new java.util.TreeMap<>();
        withoutCpu1Third.forEach(e -> byNode.computeIfAbsent(e.node(), k -> new ArrayList<>()).add(e));
        IllegalArgumentException gap = assertThrows(IllegalArgumentException.class, () -> CausalOrder.merge(
                byNode.values().stream().map(List::iterator).toList(), e -> e, e -> { }));
        assertTrue(gap.getMessage().startsWith("the log has a gap: event cpu1#3 is not in the log"), gap.getMessage());
    }

    @Test
    void publicationOrderIsCausal() {
        List<Envelope> streamed = new ArrayList<>();
        engine(Scenarios.kswapdReclaim(), 11).streamTo(streamed::add).run(1_000_000);
        Map<String, Long> seen = new HashMap<>();
        for (Envelope e : streamed) {
            assertEquals(seen.getOrDefault(e.node(), 0L) + 1, e.seq(), e.id() + " follows its node's previous event");
            e.clock().entries().forEach((node, seq) -> assertTrue(seen.getOrDefault(node, 0L) >= seq || node.equals(e.node()),
                    e.id() + " depends on " + node + "#" + seq + ", published later"));
            seen.put(e.node(), e.seq());
        }
    }

    @Test
    void theEventLimitCountsStreamedEvents() {
        long[] count = {0};
        SimEngine.Result r = engine(Scenarios.kswapdReclaim(), 1).streamTo(e -> count[0]++).run(500);
        assertTrue(r.events() >= 500 && r.events() < 600, "stopped at the limit: " + r.events());
        assertEquals(count[0], r.events());
        assertTrue(!r.quiesced());
    }

    /** Every infrastructure fault the deterministic engine acts on, planned in munmap-dma and kswapd-reclaim. */
    private static List<dev.shootdown.fault.FaultSpec> plan() throws Exception {
        List<dev.shootdown.fault.FaultSpec> plan = new ArrayList<>(dev.shootdown.fault.file.FaultPlans
                .read(java.nio.file.Path.of("..").resolve("faults/kill-mid-shootdown.yaml"))
                .of(dev.shootdown.fault.FaultKind.Layer.INFRASTRUCTURE).stream()
                .map(dev.shootdown.fault.FaultPlan.Indexed::spec).toList());
        plan.add(new dev.shootdown.fault.FaultSpec(dev.shootdown.fault.FaultKind.REDELIVER, "iommu0", null, null, null, null,
                null, null, null, null, null, null, null, null, 300L, null, null, null));
        return plan;
    }

    @Test
    void aStreamedRunThatRebuildsNodesReadsItsHistoryBackAndPublishesTheKeptLog(@org.junit.jupiter.api.io.TempDir
            java.nio.file.Path dir) throws Exception {
        List<SimEngine.Restart> restarts = List.of(new SimEngine.Restart("iommu0", 150), new SimEngine.Restart("cpu0", 400));
        for (Scenario s : List.of(Scenarios.munmapDma(), Scenarios.kswapdReclaim().with(Arch.X86, "series-v2"))) {
            SimEngine.Result kept = engine(s, 5).withFaults(plan(), Machine::fresh).withRestarts(restarts, Machine::fresh)
                    .run(1_000_000);
            List<Envelope> streamed = new ArrayList<>();
            java.nio.file.Path history = dir.resolve(s.name() + ".history");
            SimEngine.Result result = engine(s, 5).withFaults(plan(), Machine::fresh).withRestarts(restarts, Machine::fresh)
                    .streamTo(streamed::add, history).run(1_000_000);

            assertEquals(kept.log(), streamed, s.name());
            assertTrue(result.log().isEmpty(), s.name() + ": nothing kept");
            long injected = streamed.stream().filter(e -> e.event() instanceof dev.shootdown.event.InjectionEvent.FaultInjected)
                    .count();
            assertEquals(4, injected, s.name() + ": the two kills, the duplicate and the redelivery");
            assertTrue(streamed.stream().anyMatch(e -> e.event() instanceof dev.shootdown.event.InjectionEvent.FaultInjected f
                    && f.detail().matches("[1-9][0-9]* inputs already received handed again to iommu0")),
                    s.name() + ": the redelivery read the history back");
            assertTrue(!java.nio.file.Files.exists(history), s.name() + ": the history file is removed at the end");
        }
    }

    @Test
    void aStreamedRunThatMustReadItsHistoryNeedsAFileForIt() {
        Scenario s = Scenarios.munmapDma();
        List<SimEngine.Restart> plan = List.of(new SimEngine.Restart("cpu0", 100));
        IllegalStateException e = assertThrows(IllegalStateException.class,
                () -> engine(s, 1).withRestarts(plan, Machine::fresh).streamTo(x -> {}).run(1_000_000));
        assertTrue(e.getMessage().contains("give streamTo a history file"), e.getMessage());
    }
}
