package dev.shootdown.fault.file;

import dev.shootdown.codec.EventCodec;
import dev.shootdown.event.ControlEvent;
import dev.shootdown.event.Envelope;
import dev.shootdown.event.VectorClock;
import dev.shootdown.fault.FaultKind;
import dev.shootdown.fault.FaultPlan;
import dev.shootdown.fault.FaultSpec;
import dev.shootdown.scenario.Arch;
import dev.shootdown.scenario.Scenario;
import dev.shootdown.scenario.Scenarios;
import dev.shootdown.testing.TestRuns;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Fault plan files: every kind reads, a one-line error for each kind of mistake, and the plan inside a scenario. */
class FaultPlansTest {

    /** A plan with one fault of every kind; the error cases below break one line of it. Line numbers matter. */
    private static final String DOC = """
            seed: 42
            faults:
              - kind: lost-ipi
                node: cpu1
                nth: 1
              - kind: dropped-iotlb-invalidation
                node: iommu0
                event: invalidate-secondary-tlbs
                probability: 0.5
              - kind: late-cmd-sync
                delayNs: 20000
                afterNs: 1000
                untilNs: 90000
              - kind: atc-before-iotlb
                count: 2
              - kind: fast-device-retry
                retryNs: 100
              - kind: prq-overflow
                depth: 2
              - kind: kill
                node: coordinator
                afterEvents: 300
                downMs: 50
              - kind: pause
                node: cpu0
                atEvent: cpu0#20
                pauseMs: 200
              - kind: delay
                link: coordinator>cpu1
                delayMs: 5
              - kind: duplicate
                topic: ipi
                probability: 0.1
              - kind: redeliver
                node: iommu0
              - kind: broker-restart
                afterEvents: 1000
                downMs: 2000
              - kind: node-bug
                node: cpu1
                event: page-walk-completed
                nth: 3
            """;

    @TempDir
    Path dir;

    private FaultPlan read(String name, String text) throws Exception {
        return FaultPlans.read(Files.writeString(dir.resolve(name), text));
    }

    private void assertError(String name, String text, String expected) throws Exception {
        Path file = Files.writeString(dir.resolve(name), text);
        FaultPlanException e = assertThrows(FaultPlanException.class, () -> FaultPlans.read(file));
        assertEquals(file + expected, e.getMessage());
        assertEquals(1, e.getMessage().lines().count(), "one line");
    }

    @Test
    void aPlanWithEveryKindReadsAsWritten() throws Exception {
        FaultPlan plan = read("all.yaml", DOC);

        assertEquals(42, plan.seed());
        assertEquals(FaultKind.values().length, plan.faults().size());
        assertEquals(List.of(FaultKind.values()), plan.faults().stream().map(FaultSpec::kind).toList());
        FaultSpec lost = plan.faults().get(0);
        assertEquals("cpu1", lost.node());
        assertEquals(1L, lost.nth());
        assertEquals(1L, lost.effectiveCount(), "nth alone injects once");
        assertEquals(0.5, plan.faults().get(1).effectiveProbability());
        assertEquals(Long.MAX_VALUE, plan.faults().get(1).effectiveCount(), "no nth, no count: unlimited");
        assertEquals(20000L, plan.faults().get(2).delayNs());
        assertEquals(2, plan.faults().get(5).depth());
        assertEquals("coordinator>cpu1", plan.faults().get(8).link());
        assertEquals(6, plan.of(FaultKind.Layer.INFRASTRUCTURE).get(0).index(), "kill is faults[6]");
        FaultSpec bug = plan.faults().get(12);
        assertEquals(FaultKind.NODE_BUG, bug.kind());
        assertEquals("page-walk-completed", bug.event());
        assertEquals(FaultKind.Layer.MODEL, bug.kind().layer());
        assertEquals(12, plan.of(FaultKind.Layer.MODEL).get(6).index(), "node-bug is a model fault: its node injects it");
    }

    @Test
    void aNodeBugNamesTheNodeWhoseCodeFails() throws Exception {
        assertError("bug.yaml", "faults:\n  - kind: node-bug\n    nth: 3\n", ":2:5: faults[0].node: missing; node-bug needs node");
    }

    @Test
    void yamlAndJsonReadTheSameAndAPlanWrittenReadsBackEqual() throws Exception {
        FaultPlan plan = read("all.yaml", DOC);
        Path yml = dir.resolve("again.yml");
        FaultPlans.write(plan, yml);
        assertEquals(plan, FaultPlans.read(yml));
        String json = EventCodec.mapper().writeValueAsString(plan);
        assertEquals(plan, read("plan.json", json));
    }

    @Test
    void theExamplePlansInTheFaultsFolderRead() throws Exception {
        List<Path> plans;
        try (Stream<Path> files = Files.list(Path.of("..", "..", "faults"))) {
            plans = files.filter(p -> p.toString().endsWith(".yaml") && !p.getFileName().toString().startsWith("scenario-"))
                    .sorted().toList();
        }
        assertTrue(plans.size() >= 4, "faults/ holds the example plans: " + plans);
        for (Path p : plans) {
            assertTrue(!FaultPlans.read(p).isEmpty(), p + " has faults");
        }
    }

    @Test
    void eachKindOfMistakeIsOneLineNamingFileLineColumnAndField() throws Exception {
        assertError("syntax.yaml", DOC.replace("nth: 1", "nth: [1"),
                ":6:9: syntax error in faults[0].nth[0]: while parsing a flow sequence: expected ',' or ']', but got :");
        assertError("top.yaml", "sed: 1\nfaults: []\n", ":1:1: sed: unknown field 'sed'; expected one of seed, faults");
        assertError("nolist.yaml", "seed: 1\n", ":1:1: faults: missing; a plan lists its faults (an empty list is a plan"
                + " without faults)");
        assertError("kind.yaml", DOC.replace("kind: lost-ipi", "kind: lost-ipo"),
                ":3:5: faults[0].kind: expected one of lost-ipi, dropped-iotlb-invalidation, late-cmd-sync, atc-before-iotlb,"
                        + " fast-device-retry, prq-overflow, kill, pause, delay, duplicate, redeliver, broker-restart,"
                        + " node-bug, got 'lost-ipo'");
        assertError("probability.yaml", DOC.replace("probability: 0.5", "probability: 3"),
                ":9:5: faults[1].probability: expected a number in [0, 1], got 3");
        assertError("unknown.yaml", DOC.replace("nth: 1", "nht: 1"),
                ":5:5: faults[0].nht: unknown field 'nht'; expected one of kind, node, event, afterNs, untilNs, nth, count,"
                        + " probability");
        assertError("notapplicable.yaml", DOC.replace("nth: 1", "delayNs: 5"),
                ":5:5: faults[0].delayNs: does not apply to lost-ipi, which takes kind, node, event, afterNs, untilNs, nth,"
                        + " count, probability");
        assertError("required.yaml", DOC.replace("    delayNs: 20000\n", ""),
                ":10:5: faults[2].delayNs: missing; late-cmd-sync needs delayNs");
        assertError("nodekind.yaml", DOC.replace("node: cpu1", "node: iommu0"),
                ":4:5: faults[0].node: expected a CPU (cpu0, cpu1, ...): lost-ipi happens there, got 'iommu0'");
        assertError("nodeform.yaml", DOC.replace("node: cpu0", "node: gpu0"),
                ":25:5: faults[7].node: expected a node id (coordinator, cpu0, iommu0, ...), got 'gpu0'");
        assertError("event.yaml", DOC.replace("event: invalidate-secondary-tlbs", "event: flush-tlb"),
                ":8:5: faults[1].event: dropped-iotlb-invalidation hits invalidate-secondary-tlbs events only, got 'flush-tlb'");
        assertError("window.yaml", DOC.replace("untilNs: 90000", "untilNs: 10"),
                ":13:5: faults[2].untilNs: expected a time after afterNs (1000), got 10");
        assertError("nth.yaml", DOC.replace("nth: 1", "nth: 0"), ":5:5: faults[0].nth: expected an integer >= 1, got 0");
        assertError("type.yaml", DOC.replace("depth: 2", "depth: deep"),
                ":19:5: faults[5].depth: expected an integer >= 0, got 'deep'");
        assertError("link.yaml", DOC.replace("link: coordinator>cpu1", "link: coordinator-cpu1"),
                ":29:5: faults[8].link: expected sender>receiver, e.g. coordinator>cpu1, got 'coordinator-cpu1'");
        assertError("topic.yaml", DOC.replace("topic: ipi", "topic: ipis"),
                ":32:5: faults[9].topic: expected one of ipi, secondary-tlb, walk, fault, syscall, pagetable, trace, control,"
                        + " injection, got 'ipis'");
        assertError("atevent.yaml", DOC.replace("atEvent: cpu0#20", "atEvent: twenty"),
                ":26:5: faults[7].atEvent: expected an event id node#seq, e.g. cpu1#40, got 'twenty'");
        assertError("brokernode.yaml", DOC.replace("afterEvents: 1000", "node: cpu0"),
                ":37:5: faults[11].node: does not apply to broker-restart, which takes kind, event, afterNs, untilNs, nth,"
                        + " count, probability, afterEvents, atEvent, downMs");
        assertError("plan.txt", DOC, ": expected a .yaml, .yml or .json fault plan");
    }

    @Test
    void nodesAreCheckedAgainstTheScenarioWhenTheRunStarts() throws Exception {
        FaultPlan plan = read("all.yaml", DOC.replace("node: cpu1", "node: cpu7"));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> plan.checkNodes(Scenarios.munmapDma().nodeIds()));
        assertEquals("faults[0].node: expected a node of the scenario (coordinator, cpu0, cpu1, iommu0), got 'cpu7'",
                e.getMessage());
        read("all.yaml", DOC).checkNodes(Scenarios.munmapDma().nodeIds());
    }

    @Test
    void thePlanTravelsInTheScenarioAndAFaultFreeScenarioIsWrittenAsBefore() throws Exception {
        Scenario plain = Scenarios.munmapDma();
        FaultPlan plan = read("all.yaml", DOC);
        Scenario faulted = plain.withFaults(plan);

        Envelope started = new Envelope("r", "control", 1, 1, 0, VectorClock.EMPTY.with("control", 1), null, null,
                TestRuns.runStarted("r", 1, faulted));
        String line = EventCodec.encode(started);
        assertEquals(started, EventCodec.decode(line));
        assertTrue(line.contains("\"faults\":{\"seed\":42"), line);

        String plainLine = EventCodec.encode(new Envelope("r", "control", 1, 1, 0, VectorClock.EMPTY.with("control", 1), null,
                null, TestRuns.runStarted("r", 1, plain)));
        assertTrue(!plainLine.contains("faults"), "an empty plan is left out: " + plainLine);
        assertEquals(plainLine, EventCodec.encode(new Envelope("r", "control", 1, 1, 0, VectorClock.EMPTY.with("control", 1),
                null, null, TestRuns.runStarted("r", 1, plain.withFaults(FaultPlan.NONE)))));
        assertEquals(FaultPlan.NONE, ((ControlEvent.RunStarted) EventCodec.decode(plainLine).event()).scenario().faults(),
                "a log from before plans reads with no faults");
        assertEquals(plan, faulted.with(Arch.ARM64, "linux-6.5").faults(), "--arch and --policy keep the plan");
    }
}
