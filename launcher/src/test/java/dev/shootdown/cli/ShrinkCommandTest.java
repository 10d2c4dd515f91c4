package dev.shootdown.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.shootdown.codec.EventCodec;
import dev.shootdown.fault.FaultKind;
import dev.shootdown.fault.FaultPlan;
import dev.shootdown.fault.FaultSpec;
import dev.shootdown.fault.file.FaultPlans;
import dev.shootdown.scenario.Scenario;
import dev.shootdown.scenario.TaskOp;
import dev.shootdown.scenario.file.ScenarioFiles;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code shootdown shrink} on the repository's deliberately noisy case (faults/noisy.yaml on
 * munmap-dma with an observation window): the shrunk case still fails the same way when run, is
 * small enough to read, and is 1-minimal (no single fault, task step or task can go).
 */
@Timeout(value = 5, unit = TimeUnit.MINUTES)
class ShrinkCommandTest {

    static final Path NOISY = Path.of("..", "faults", "noisy.yaml");
    static final Path WINDOW = Path.of("..", "faults", "scenarios", "munmap-dma-window.yaml");

    private static TreeSet<String> kinds(Path report) throws Exception {
        TreeSet<String> kinds = new TreeSet<>();
        for (JsonNode v : EventCodec.mapper().readTree(report.toFile()).get("violations")) {
            kinds.add(v.get("kind").asText());
        }
        return kinds;
    }

    @Test
    void theNoisyCaseShrinksToOneFaultAndAFewStepsThatStillFailTheSameWay(@TempDir Path dir) throws Exception {
        Path original = dir.resolve("original");
        CliTest.Outcome run = CliTest.shootdown("run", "--scenario", WINDOW.toString(), "--faults", NOISY.toString(), "--engine", "sim",
                "--seed", "3", "--out", original.toString());
        assertEquals(Shootdown.EXIT_VIOLATIONS, run.status(), run.out() + run.err());
        TreeSet<String> failure = kinds(original.resolve("report.json"));
        assertTrue(failure.contains("use-after-free"), failure.toString());

        Path out = dir.resolve("shrunk");
        CliTest.Outcome o = CliTest.shootdown("shrink", "--scenario", WINDOW.toString(), "--faults", NOISY.toString(), "--seed", "3",
                "--no-progress", "--out", out.toString());
        assertEquals(Shootdown.EXIT_CLEAN, o.status(), o.out() + o.err());
        assertTrue(o.out().contains("it fails with " + String.join(", ", failure)), o.out());

        FaultPlan plan = FaultPlans.read(out.resolve("faults.yaml"));
        Scenario scenario = ScenarioFiles.load(out.resolve("scenario.yaml"));
        Scenario noisy = ScenarioFiles.load(WINDOW);
        // Of eleven faults only the dropped IOTLB invalidation explains a use-after-free.
        assertEquals(List.of(FaultKind.DROPPED_IOTLB_INVALIDATION), plan.faults().stream().map(FaultSpec::kind).toList());
        int steps = scenario.tasks().stream().mapToInt(t -> t.program().size()).sum();
        assertTrue(steps < noisy.tasks().stream().mapToInt(t -> t.program().size()).sum(), "steps " + steps);
        long lines = Files.readAllLines(out.resolve("scenario.yaml")).size() + Files.readAllLines(out.resolve("faults.yaml")).size();
        assertTrue(lines <= 60, "a person reads it in a minute: " + lines + " lines");

        // The written files, run as the command says, fail the same way.
        Path again = dir.resolve("again");
        CliTest.Outcome rerun = CliTest.shootdown("run", "--scenario", out.resolve("scenario.yaml").toString(), "--faults",
                out.resolve("faults.yaml").toString(), "--engine", "sim", "--seed", "3", "--out", again.toString());
        assertEquals(Shootdown.EXIT_VIOLATIONS, rerun.status(), rerun.out() + rerun.err());
        assertEquals(failure, kinds(again.resolve("report.json")));
        assertTrue(o.out().contains("reproduce: shootdown run --scenario " + out.resolve("scenario.yaml") + " --faults "
                + out.resolve("faults.yaml") + " --engine sim --seed 3"), o.out());
        assertEquals(Files.readString(out.resolve("events.jsonl")), Files.readString(again.resolve("events.jsonl")),
                "the shrunk run written beside the files is the one they give");

        // 1-minimal: without any one of its faults, task steps or tasks it no longer fails that way.
        for (Scenario smaller : oneSmaller(scenario)) {
            assertFalse(failure.equals(kindsOf(smaller, plan, dir)), "still fails without a part: " + ScenarioFiles.toYaml(smaller));
        }
        for (int i = 0; i < plan.faults().size(); i++) {
            List<FaultSpec> fewer = new ArrayList<>(plan.faults());
            fewer.remove(i);
            assertFalse(failure.equals(kindsOf(scenario, new FaultPlan(plan.seed(), fewer), dir)), "still fails without fault " + i);
        }
    }

    private static List<Scenario> oneSmaller(Scenario s) {
        List<Scenario> smaller = new ArrayList<>();
        for (int t = 0; t < s.tasks().size(); t++) {
            List<Scenario.TaskSpec> tasks = new ArrayList<>(s.tasks());
            tasks.remove(t);
            smaller.add(withTasks(s, tasks));
            for (int o = 0; o < s.tasks().get(t).program().size(); o++) {
                List<TaskOp> program = new ArrayList<>(s.tasks().get(t).program());
                program.remove(o);
                List<Scenario.TaskSpec> edited = new ArrayList<>(s.tasks());
                Scenario.TaskSpec task = edited.get(t);
                edited.set(t, new Scenario.TaskSpec(task.pid(), task.mm(), task.cpu(), program));
                smaller.add(withTasks(s, edited));
            }
        }
        return smaller;
    }

    private static Scenario withTasks(Scenario s, List<Scenario.TaskSpec> tasks) {
        return new Scenario(s.name(), s.arch(), s.policy(), s.cpus(), s.iommus(), s.mms(), tasks, s.devices(), s.timing(), s.end(),
                s.memory(), s.kswapd());
    }

    private static TreeSet<String> kindsOf(Scenario s, FaultPlan plan, Path dir) throws Exception {
        Path scenarioFile = Files.createTempFile(dir, "candidate", ".yaml");
        Path planFile = Files.createTempFile(dir, "plan", ".yaml");
        ScenarioFiles.write(s, scenarioFile);
        Files.writeString(planFile, FaultPlans.toYaml(plan));
        Path out = Files.createTempDirectory(dir, "run");
        CliTest.Outcome o = CliTest.shootdown("run", "--scenario", scenarioFile.toString(), "--faults", planFile.toString(), "--engine",
                "sim", "--seed", "3", "--max-events", "200000", "--out", out.toString());
        return o.status() == Shootdown.EXIT_INFRASTRUCTURE || !Files.exists(out.resolve("report.json")) ? new TreeSet<>()
                : kinds(out.resolve("report.json"));
    }

    @Test
    void aCleanRunHasNothingToShrink(@TempDir Path dir) {
        CliTest.Outcome o = CliTest.shootdown("shrink", "--scenario", "munmap-dma", "--no-progress", "--out", dir.toString());
        assertEquals(Shootdown.EXIT_BAD_INPUT, o.status(), o.out() + o.err());
        assertEquals("shootdown: the run is clean (scenario munmap-dma, x86, linux-6.6, seed 1): there is no failure to shrink",
                o.err().strip());
    }

    @Test
    void aViolationTheRunDoesNotReportIsBadInput(@TempDir Path dir) {
        CliTest.Outcome o = CliTest.shootdown("shrink", "--scenario", "kswapd-reclaim", "--policy", "series-v2", "--violation",
                "use-after-free", "--no-progress", "--out", dir.toString());
        assertEquals(Shootdown.EXIT_BAD_INPUT, o.status(), o.out() + o.err());
        assertEquals("shootdown: --violation use-after-free: the run does not report it; it reports kernel-oops", o.err().strip());
    }
}
