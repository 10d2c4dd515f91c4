package dev.shootdown.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.shootdown.audit.AuditReport;
import dev.shootdown.audit.Auditor;
import dev.shootdown.broker.EmbeddedKafkaBroker;
import dev.shootdown.codec.EventCodec;
import dev.shootdown.event.Envelope;
import dev.shootdown.event.InShootdown;
import dev.shootdown.event.InjectionEvent;
import dev.shootdown.event.NodeIds;
import dev.shootdown.fault.FaultKind;
import dev.shootdown.fault.FaultSpec;
import dev.shootdown.host.ErrorLog;
import dev.shootdown.host.LatencyModel;
import dev.shootdown.host.kafka.KafkaHostConfig;
import dev.shootdown.host.kafka.KafkaRunner;
import dev.shootdown.host.kafka.NodeHost;
import dev.shootdown.host.kafka.RecordedEvent;
import dev.shootdown.host.sim.SimEngine;
import dev.shootdown.scenario.Arch;
import dev.shootdown.scenario.Scenario;
import dev.shootdown.scenario.Scenarios;
import dev.shootdown.simulation.Machine;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Infrastructure faults change nothing in the simulated machine. Each of the seed's three outcomes
 * runs on the Kafka host while its nodes are killed (the verticle dies as with kill -9, losing what
 * it had not sent, and a new one rebuilds from the log), paused, fed delayed, duplicated and
 * redelivered inputs, and while the broker restarts. Each run's log, less the injector's own
 * events, is the fault-free log of the deterministic engine for the same run id and seed, byte for
 * byte, so no event was lost and no input took effect twice; and its report is the fault-free one.
 */
@Timeout(value = 10, unit = TimeUnit.MINUTES)
class KafkaInfrastructureFaultsIT {

    @RegisterExtension
    static final EmbeddedBroker BROKER = new EmbeddedBroker();

    /** Kill points per run: across the three runs at least 50, every kind of node killed many times. */
    private static final int KILLS_PER_RUN = 18;

    @ParameterizedTest(name = "{0} {1} {2}")
    @CsvSource({"kswapd-reclaim, x86, series-v2", "direct-reclaim-cross-mm, x86, series-v2",
        "smmu-permission-upgrade, arm64, linux-6.5"})
    void killingEveryKindOfNodeManyTimesChangesNothing(String name, String arch, String policy) throws Exception {
        Scenario scenario = Scenarios.builtIn(name).orElseThrow().with(Arch.of(arch), policy);
        String runId = "kills-" + name + "-" + Long.toHexString(System.nanoTime());
        long seed = 7;
        List<Envelope> reference = reference(runId, seed, scenario);

        List<FaultSpec> plan = new ArrayList<>();
        List<String> nodes = scenario.nodeIds();
        int step = reference.size() / (KILLS_PER_RUN + 1);
        java.util.Set<String> chosen = new java.util.HashSet<>();
        int plannedMidShootdown = 0;
        for (int i = 1; i <= KILLS_PER_RUN; i++) {
            // Each node in turn, right after one of its events, every other time in the middle of a shootdown.
            String node = nodes.get(i % nodes.size());
            boolean midShootdown = i % 2 == 0;
            Envelope at = null;
            for (int k = i * step; k < reference.size() && at == null; k++) {
                Envelope e = reference.get(k);
                if (e.node().equals(node) && !chosen.contains(e.id()) && (!midShootdown || inFlight(reference, e.id()))) {
                    at = e;
                }
            }
            for (int k = i * step; k >= 0 && at == null; k--) {
                Envelope e = reference.get(k);
                if (e.node().equals(node) && !chosen.contains(e.id()) && (!midShootdown || inFlight(reference, e.id()))) {
                    at = e;
                }
            }
            for (int k = i * step; k >= 0 && at == null; k--) { // this node has no shootdown left to interrupt
                Envelope e = reference.get(k);
                if (e.node().equals(node) && !chosen.contains(e.id())) {
                    at = e;
                }
            }
            chosen.add(at.id());
            plannedMidShootdown += inFlight(reference, at.id()) ? 1 : 0;
            plan.add(killAt(node, at.id()));
        }
        // The other faults a link or a process can suffer, between the kills.
        plan.add(at(FaultSpec.of(FaultKind.PAUSE, "cpu0"), step / 2));
        plan.add(at(FaultSpec.of(FaultKind.DELAY, NodeIds.COORDINATOR).withCount(20), step + step / 3));
        plan.add(at(FaultSpec.of(FaultKind.DUPLICATE, null).withCount(30), 2 * step + step / 3));
        plan.add(at(FaultSpec.of(FaultKind.REDELIVER, "iommu0"), 3 * step + step / 3));

        List<Envelope> log = runOnKafka(BROKER.bootstrapServers(), runId, seed, scenario, plan, null);
        assertSameRun(reference, log);
        List<Envelope> kills = injected(log, "kill");
        assertEquals(KILLS_PER_RUN, kills.size(), () -> "every kill point was reached before the run ended: planned "
                + plan.stream().filter(f -> f.kind() == FaultKind.KILL).map(FaultSpec::atEvent).toList() + ", done "
                + kills.stream().map(k -> ((InjectionEvent.FaultInjected) k.event()).target()).toList());
        for (String node : nodes) {
            assertTrue(kills.stream().anyMatch(k -> ((InjectionEvent.FaultInjected) k.event()).node().equals(node)),
                    node + " was killed");
        }
        for (Envelope k : kills) {
            assertNotNull(((InjectionEvent.FaultInjected) k.event()).target(), () -> "a kill names the event it came after: " + EventCodec.encode(k));
        }
        long midShootdown = kills.stream().filter(k -> inFlight(log, ((InjectionEvent.FaultInjected) k.event()).target())).count();
        assertEquals(plannedMidShootdown, midShootdown, "kills in the middle of a shootdown");
        if (!name.equals("smmu-permission-upgrade")) { // its one shootdown is a handful of events in a fault storm
            // Half are aimed there; a node with no shootdown left near its kill point is killed elsewhere
            // (direct-reclaim's few shootdowns give 8 of 18, kswapd's many 9 or more).
            assertTrue(midShootdown >= KILLS_PER_RUN / 3, "kills in the middle of a shootdown: " + midShootdown);
        }
        assertEquals(4, log.stream().filter(e -> e.node().equals(NodeIds.INJECTOR)).count() - kills.size(),
                "the pause, the delay, the duplicates and the redelivery were done and recorded");
    }

    @Test
    void restartingTheBrokerTwiceMidRunChangesNothing() throws Exception {
        Scenario scenario = Scenarios.builtIn("kswapd-reclaim").orElseThrow().with(Arch.X86, "series-v2");
        String runId = "broker-restart-" + Long.toHexString(System.nanoTime());
        List<Envelope> reference = reference(runId, 7, scenario);
        List<FaultSpec> plan = List.of(
                at(FaultSpec.of(FaultKind.BROKER_RESTART, null), reference.size() / 3),
                at(FaultSpec.of(FaultKind.BROKER_RESTART, null), 2 * reference.size() / 3));
        try (EmbeddedKafkaBroker broker = EmbeddedKafkaBroker.start(null)) {
            List<Envelope> log = runOnKafka(broker.bootstrapServers(), runId, 7, scenario, plan, broker::restart);
            assertEquals(2, injected(log, "broker-restart").size());
            assertSameRun(reference, log);
        }
    }

    private static List<Envelope> reference(String runId, long seed, Scenario scenario) {
        return new SimEngine(runId, seed, scenario, Machine.kernel(scenario), Machine.stateMachines(scenario), LatencyModel.defaults()).run(1_000_000).log();
    }

    private static List<Envelope> runOnKafka(String bootstrap, String runId, long seed, Scenario scenario, List<FaultSpec> plan,
            KafkaRunner.BrokerControl broker) throws Exception {
        KafkaHostConfig config = KafkaHostConfig.defaults(bootstrap);
        ErrorLog errors = new ErrorLog();
        NodeHost host = new NodeHost(runId, scenario.nodeIds(), config, LatencyModel.defaults(), errors);
        KafkaRunner.Result result = new KafkaRunner(config).run(host, seed, scenario, Machine.kernel(scenario), n -> Machine.verticle(host, n), List.of(),
                plan, broker, Duration.ofMinutes(4), n -> { });
        assertTrue(result.quiesced(), "not quiesced: " + result.missingNodes());
        // Errors a kill leaves behind (a send cut off by the crash) are expected; nothing else is.
        for (String e : errors.distinct()) {
            assertTrue(e.contains("was not recorded") || e.contains("closed"), e);
        }
        return result.log().stream().map(RecordedEvent::envelope).toList();
    }

    /** The faulted run is the reference run plus the injector's events: same events, same report. */
    private static void assertSameRun(List<Envelope> reference, List<Envelope> log) {
        List<Envelope> simulated = log.stream().filter(e -> !e.node().equals(NodeIds.INJECTOR)).toList();
        assertEquals(sortedLines(reference).size(), sortedLines(simulated).size(), "as many events as the fault-free run");
        List<String> expected = sortedLines(reference);
        List<String> actual = sortedLines(simulated);
        for (int i = 0; i < expected.size(); i++) {
            assertEquals(expected.get(i), actual.get(i), "first difference at sorted line " + i);
        }
        JsonNode faultFree = EventCodec.mapper().valueToTree(Auditor.audit(dev.shootdown.log.CausalOrder.sort(reference, e -> e)));
        AuditReport faulted = Auditor.audit(log);
        ObjectNode withFaults = EventCodec.mapper().valueToTree(faulted);
        long injected = log.size() - simulated.size();
        assertEquals(faultFree.get("stats").get("events").asLong() + injected, withFaults.get("stats").get("events").asLong());
        ((ObjectNode) withFaults.get("stats")).put("events", faultFree.get("stats").get("events").asLong());
        assertEquals(injected, withFaults.get("faultsInjected").asLong(), "the report counts the injected faults");
        assertEquals(injected, withFaults.get("faults").size(), "the report lists the injected faults");
        withFaults.remove("faults");
        withFaults.remove("faultsInjected");
        assertEquals(faultFree.toPrettyString(), withFaults.toPrettyString(), "the report is the fault-free run's");
    }

    private static List<String> sortedLines(List<Envelope> log) {
        return log.stream().map(EventCodec::encode).sorted().toList();
    }

    private static List<Envelope> injected(List<Envelope> log, String kind) {
        return log.stream().filter(e -> e.event() instanceof InjectionEvent.FaultInjected f && f.fault().equals(kind)).toList();
    }

    /** True when some shootdown had begun, but not ended, at event {@code id}. */
    private static boolean inFlight(List<Envelope> log, String id) {
        Envelope at = log.stream().filter(e -> e.id().equals(id)).findFirst()
                .orElseThrow(() -> new AssertionError("no event " + id + " in the log"));
        Map<Long, boolean[]> shootdowns = new HashMap<>(); // [0]: some event before, [1]: some event not before
        for (Envelope e : log) {
            if (e.event() instanceof InShootdown s && s.shootdownId() > 0) {
                boolean before = e == at || e.happenedBefore(at);
                boolean[] seen = shootdowns.computeIfAbsent(s.shootdownId(), k -> new boolean[2]);
                seen[before ? 0 : 1] = true;
            }
        }
        return shootdowns.values().stream().anyMatch(b -> b[0] && b[1]);
    }

    private static FaultSpec killAt(String node, String eventId) {
        FaultSpec f = FaultSpec.of(FaultKind.KILL, node);
        return new FaultSpec(f.kind(), f.node(), null, null, null, null, null, null, null, null, null, null, null, eventId, null,
                null, null, 20L);
    }

    private static FaultSpec at(FaultSpec f, long afterEvents) {
        return new FaultSpec(f.kind(), f.node(), f.link(), f.topic(), f.event(), f.afterNs(), f.untilNs(), f.nth(), f.count(),
                f.probability(), f.delayNs(), f.depth(), f.retryNs(), f.atEvent(), afterEvents,
                f.pauseMs(), f.delayMs(), f.downMs());
    }
}
