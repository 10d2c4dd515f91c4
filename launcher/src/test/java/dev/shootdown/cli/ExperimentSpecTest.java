package dev.shootdown.cli;

import dev.shootdown.cli.experiment.ExperimentSpec;
import dev.shootdown.cli.run.BadInputException;
import dev.shootdown.cli.run.ScenarioRunner;
import dev.shootdown.scenario.Scenarios;
import dev.shootdown.scenario.file.ScenarioFiles;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Experiment specs: what a good one means, and the one line each kind of mistake gets. */
class ExperimentSpecTest {

    /** The kinds the audit can report, as the error names them. */
    private static final String KINDS = "use-after-free, race-with-free, missing-cpu-invalidation, missing-secondary-invalidation, "
            + "stale-translation-use, wrong-mm-invalidation, kernel-oops, fault-livelock, atc-before-iotlb, "
            + "non-responsive-csd-lock, stall";


    @TempDir
    Path dir;

    private ExperimentSpec read(String yaml) throws Exception {
        return ExperimentSpec.read(Files.writeString(dir.resolve("spec.yaml"), yaml));
    }

    @Test
    void defaultsAndRanges() throws Exception {
        ExperimentSpec spec = read("scenarios: [munmap-dma]\nseeds: {from: 5, count: 3}\n");
        assertEquals("spec", spec.name());
        assertEquals(ScenarioRunner.Engine.sim, spec.engine());
        assertEquals(List.of("x86", "arm64"), spec.archs());
        assertEquals(List.of("linux-6.5", "series-v2", "linux-6.6"), spec.policies());
        assertEquals(List.of(ExperimentSpec.FaultsRef.NONE), spec.faults());
        assertEquals(List.of(5L, 6L, 7L), spec.seeds());
        assertEquals(2 * 3 * 3, spec.runs());
        assertEquals(List.of(1L), read("scenarios: [munmap-dma]\n").seeds());
        assertEquals(ScenarioRunner.Engine.kafka, read("scenarios: [munmap-dma]\nengine: kafka\n").engine());
    }

    @Test
    void filesAreRelativeToTheSpecAndJsonWorksToo() throws Exception {
        Path sub = Files.createDirectories(dir.resolve("sub"));
        ScenarioFiles.write(Scenarios.builtIn("munmap-dma").orElseThrow(), sub.resolve("mine.yaml"));
        Files.createDirectories(dir.resolve("plans"));
        Files.writeString(dir.resolve("plans/drop.yaml"), "faults:\n  - {kind: dropped-iotlb-invalidation, node: iommu0, nth: 1}\n");
        Path spec = Files.writeString(sub.resolve("spec.json"),
                "{\"scenarios\": [\"mine.yaml\"], \"faults\": [\"none\", \"../plans/drop.yaml\"], \"seeds\": [2, 9]}");

        ExperimentSpec s = ExperimentSpec.read(spec);
        assertEquals(sub.resolve("mine.yaml").toString(), s.scenarios().get(0).arg());
        assertEquals("drop", s.faults().get(1).label());
        assertEquals(dir.resolve("plans/drop.yaml").toString(), s.faults().get(1).file());
        assertEquals(1, s.faults().get(1).plan().faults().size());
        assertEquals(List.of(2L, 9L), s.seeds());
    }

    @Test
    void theFirstEntryThatSelectsACellApplies() throws Exception {
        ExperimentSpec spec = read("scenarios: [kswapd-reclaim]\narchs: [x86]\nexpect:\n"
                + "  - {policy: series-v2, violations: [kernel-oops]}\n"
                + "  - {violations: []}\n");
        assertEquals("kernel-oops", spec.expectationFor("kswapd-reclaim", "x86", "series-v2", "none").describe());
        assertEquals("clean", spec.expectationFor("kswapd-reclaim", "x86", "linux-6.6", "none").describe());
        assertTrue(spec.expect().get(0).metBy(List.of("kernel-oops")));
        assertFalse(spec.expect().get(0).metBy(List.of("kernel-oops", "use-after-free")), "violations: exactly these kinds");
        ExperimentSpec includes = read("scenarios: [kswapd-reclaim]\nexpect:\n  - {arch: x86, includes: [kernel-oops]}\n");
        assertTrue(includes.expect().get(0).metBy(List.of("kernel-oops", "use-after-free")), "includes: at least these");
        assertNull(includes.expectationFor("kswapd-reclaim", "arm64", "linux-6.6", "none"));
    }

    static Stream<Arguments> mistakes() {
        String builtIns = String.join(", ", Scenarios.names());
        return Stream.of(
                Arguments.of("scenarios: [munmap-dma\n", "spec.yaml:2:1: syntax error"),
                Arguments.of("- munmap-dma\n", "spec.yaml:1:1: expected a mapping with the experiment's fields"),
                Arguments.of("archs: [x86]\n", "spec.yaml:1:1: scenarios: missing; expected a list of built-in scenarios"),
                Arguments.of("scenarios: [nope]\n", "spec.yaml:1:13: scenarios[0]: expected a built-in scenario (" + builtIns
                        + ") or a scenario file, got 'nope'"),
                Arguments.of("scenarios: munmap-dma\n", "spec.yaml:1:1: scenarios: expected a list of built-in scenarios or "
                        + "scenario files, got 'munmap-dma'"),
                Arguments.of("scenarios: [munmap-dma]\npolices: [linux-6.6]\n", "spec.yaml:2:1: polices: unknown field 'polices'; "
                        + "expected one of archs, engine, expect, faults, livelockThreshold, maxEvents, name, policies, scenarios, seeds"),
                Arguments.of("scenarios: [munmap-dma]\narchs: [x86, sparc]\n", "spec.yaml:2:14: archs[1]: expected one of x86, "
                        + "arm64, got 'sparc'"),
                Arguments.of("scenarios: [munmap-dma]\npolicies: [linux-6.6, linux-6.6]\n", "spec.yaml:2:23: policies[1]: expected "
                        + "each value once, got 'linux-6.6' again"),
                Arguments.of("scenarios: [munmap-dma]\nengine: warp\n", "spec.yaml:2:1: engine: expected sim or kafka, got 'warp'"),
                Arguments.of("scenarios: [munmap-dma]\nseeds: {from: 1}\n", "spec.yaml:2:1: seeds: expected {from: N, count: M}, "
                        + "got no count"),
                Arguments.of("scenarios: [munmap-dma]\nseeds: {from: 1, count: 0}\n", "spec.yaml:2:18: seeds.count: expected an "
                        + "integer > 0, got 0"),
                Arguments.of("scenarios: [munmap-dma]\nseeds: [1, two]\n", "spec.yaml:2:12: seeds[1]: expected an integer, got 'two'"),
                Arguments.of("scenarios: [munmap-dma]\nseeds: [4, 4]\n", "spec.yaml:2:12: seeds[1]: expected each seed once, got 4 again"),
                Arguments.of("scenarios: [munmap-dma]\nmaxEvents: -3\n", "spec.yaml:2:1: maxEvents: expected an integer > 0, got -3"),
                Arguments.of("scenarios: [munmap-dma]\nfaults: [none, lost.yaml]\n", "spec.yaml:2:16: faults[1]: expected 'none' or a "
                        + "fault-plan file, got 'lost.yaml'"),
                Arguments.of("scenarios: [munmap-dma]\nfaults: [{kind: lost-ipi}]\n", "spec.yaml:2:10: faults[0]: expected 'none' or "
                        + "the path of a fault-plan file, got a mapping"),
                Arguments.of("scenarios: [munmap-dma]\nexpect:\n  - {arch: arm64}\n", "spec.yaml:3:5: expect[0]: expected exactly one "
                        + "of violations (the exact kinds; [] for clean) or includes (at least these kinds), got neither"),
                Arguments.of("scenarios: [munmap-dma]\narchs: [x86]\nexpect:\n  - {arch: arm64, violations: []}\n",
                        "spec.yaml:4:6: expect[0].arch: expected one of this experiment's arch (x86), got 'arm64'"),
                Arguments.of("scenarios: [munmap-dma]\nexpect:\n  - {scenario: kswapd-reclaim, violations: []}\n",
                        "spec.yaml:3:6: expect[0].scenario: expected one of this experiment's scenario (munmap-dma), got 'kswapd-reclaim'"),
                Arguments.of("scenarios: [munmap-dma]\nexpect:\n  - {violations: [Use After Free]}\n", "spec.yaml:3:19: "
                        + "expect[0].violations[0]: expected a violation kind (" + KINDS + "), got 'Use After Free'"),
                Arguments.of("scenarios: [munmap-dma]\nexpect:\n  - {includes: [use-after-fre]}\n", "spec.yaml:3:17: "
                        + "expect[0].includes[0]: expected a violation kind (" + KINDS + "), got 'use-after-fre'"),
                Arguments.of("scenarios: [munmap-dma]\nexpect:\n  - {violations: []}\n  - {policy: linux-6.6, violations: []}\n",
                        "spec.yaml:4:5: expect[1]: expected an entry that applies to some cell, but every cell it selects is taken by "
                                + "an earlier entry"),
                Arguments.of("scenarios: [munmap-dma]\nexpect:\n  - {policy: linux-6.6, violation: []}\n", "spec.yaml:3:25: "
                        + "expect[0].violation: unknown field 'violation'; expected one of arch, faults, includes, policy, scenario, "
                        + "violations"),
                Arguments.of("scenarios: [munmap-dma]\nseeds: {from: 1, count: 200000}\n", "spec.yaml:2:18: seeds.count: expected "
                        + "at most 100000 seeds, got 200000"));
    }

    @ParameterizedTest
    @MethodSource("mistakes")
    void eachMistakeIsOneLineNamingTheFileLineAndField(String yaml, String expected) throws Exception {
        Files.writeString(dir.resolve("spec.yaml"), yaml);
        CliTest.Outcome o = CliTest.shootdown("experiment", dir.resolve("spec.yaml").toString());
        assertEquals(Shootdown.EXIT_BAD_INPUT, o.status(), o.out() + o.err());
        String err = o.err().replace(dir + "/", "");
        assertTrue(err.startsWith("shootdown: " + expected), err);
        assertEquals(1, err.lines().count(), "one line: " + err);
        assertFalse(err.contains("Exception") || err.contains("\tat "), err);
    }

    @Test
    void aPlanNamingANodeAScenarioLacksIsRefusedBeforeAnythingRuns() throws Exception {
        Files.writeString(dir.resolve("cpu1.yaml"), "faults:\n  - {kind: lost-ipi, node: cpu1, nth: 1}\n");
        BadInputException e = assertThrows(BadInputException.class,
                () -> read("scenarios: [smmu-permission-upgrade]\nfaults: [cpu1.yaml]\n"));
        assertEquals(dir.resolve("spec.yaml") + ":2:10: faults[0]: " + dir.resolve("cpu1.yaml") + ": faults[0].node: expected a node "
                + "of the scenario (coordinator, cpu0, iommu0), got 'cpu1' (scenario smmu-permission-upgrade)", e.getMessage());
        Files.writeString(dir.resolve("bad.yaml"), "faults:\n  - {kind: lost-ipi, probability: 3}\n");
        BadInputException bad = assertThrows(BadInputException.class, () -> read("scenarios: [munmap-dma]\nfaults: [bad.yaml]\n"));
        assertTrue(bad.getMessage().startsWith(dir.resolve("spec.yaml") + ":2:10: faults[0]: the fault plan does not load: "
                + dir.resolve("bad.yaml") + ":2:"), bad.getMessage());
    }

    @Test
    void aFlagThatDoesNotFitTheSpecIsBadInput() throws Exception {
        Path spec = Files.writeString(dir.resolve("s.yaml"), "scenarios: [munmap-dma]\n");
        CliTest.Outcome jobs = CliTest.shootdown("experiment", spec.toString(), "--jobs", "0");
        assertEquals(Shootdown.EXIT_BAD_INPUT, jobs.status());
        assertTrue(jobs.err().contains("--jobs must be at least 1, was 0"), jobs.err());
        CliTest.Outcome matrixJobs = CliTest.shootdown("matrix", "--scenario", "munmap-dma", "--jobs", "0");
        assertEquals(Shootdown.EXIT_BAD_INPUT, matrixJobs.status());
        assertEquals("shootdown: --jobs must be at least 1, was 0\n", matrixJobs.err());
        CliTest.Outcome kafka = CliTest.shootdown("experiment", spec.toString(), "--bootstrap-servers", "h:1");
        assertEquals(Shootdown.EXIT_BAD_INPUT, kafka.status());
        assertTrue(kafka.err().contains("apply to a spec with engine: kafka only"), kafka.err());
        CliTest.Outcome missing = CliTest.shootdown("experiment", dir.resolve("absent.yaml").toString());
        assertEquals(Shootdown.EXIT_BAD_INPUT, missing.status());
        assertTrue(missing.err().contains("absent.yaml: cannot read the file"), missing.err());
    }
}
