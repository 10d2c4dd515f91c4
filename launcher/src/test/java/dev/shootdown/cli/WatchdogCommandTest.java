package dev.shootdown.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.shootdown.codec.EventCodec;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A run a lost IPI keeps from ever meeting its end condition ends through the kernel's watchdog,
 * on the command line: with its liveness violations, in a bounded log, in {@code run} and in
 * {@code experiment}; {@code --stall-window} sets the window.
 */
class WatchdogCommandTest {

    static final String LOST_IPI = Path.of("..", "faults", "lost-ipi.yaml").toAbsolutePath().normalize().toString();

    @Test
    void aLostIpiEndsTheRunThroughTheWatchdogWithItsViolations(@TempDir Path dir) throws Exception {
        CliTest.Outcome o = CliTest.shootdown("run", "--scenario", "mprotect-downgrade", "--faults", LOST_IPI, "--engine", "sim",
                "--out", dir.toString());

        assertEquals(Shootdown.EXIT_VIOLATIONS, o.status(), o.out() + o.err());
        assertTrue(o.out().contains("  ended: the watchdog: shootdown 1 (mprotect on cpu0) made no progress for 800.000 us,"
                + " since 14.010 us: csd_lock_wait\n    waits for cpu1\n"), o.out());
        assertTrue(o.out().contains("VIOLATION non-responsive-csd-lock on cpu1"), o.out());
        assertTrue(o.out().contains("verdict: violations (9 violations)"), o.out());
        // the watchdog's own report is explained by the lost IPI, so it is not a violation of its own
        assertTrue(!o.out().contains("VIOLATION stall"), o.out());
        long events = Files.lines(dir.resolve("events.jsonl")).count();
        assertTrue(events < 2_000, "the run ended a stall window after the stall, not at --max-events: " + events);
        JsonNode report = EventCodec.mapper().readTree(dir.resolve("report.json").toFile());
        assertTrue(report.get("complete").asBoolean());
        assertTrue(report.get("ended").asText().startsWith("the watchdog: shootdown 1"), report.toString());
    }

    @Test
    void theStallWindowIsTheOptions(@TempDir Path dir) throws Exception {
        CliTest.Outcome o = CliTest.shootdown("run", "--scenario", "mprotect-downgrade", "--faults", LOST_IPI, "--engine", "sim",
                "--stall-window", "100000", "--out", dir.toString());

        assertEquals(Shootdown.EXIT_VIOLATIONS, o.status(), o.out() + o.err());
        assertTrue(o.out().contains("made no progress for 100.000 us, since 14.010 us"), o.out());
        JsonNode started = EventCodec.mapper().readTree(Files.readAllLines(dir.resolve("events.jsonl")).get(0));
        assertEquals(100_000, started.get("event").get("scenario").get("end").get("stallWindowNs").asLong(),
                "the run-started records the window the run used");

        CliTest.Outcome bad = CliTest.shootdown("run", "--scenario", "mprotect-downgrade", "--engine", "sim", "--stall-window", "0");
        assertEquals(Shootdown.EXIT_BAD_INPUT, bad.status());
        assertEquals("shootdown: --stall-window must be a positive number of nanoseconds, was 0\n", bad.err());
    }

    @Test
    void anExperimentShowsTheLostIpiCellsWithTheirVerdicts(@TempDir Path dir) throws Exception {
        Path spec = Files.writeString(dir.resolve("lost-ipi.yaml"), String.join("\n",
                "scenarios: [mprotect-downgrade, munmap-dma]",
                "archs: [x86]",
                "policies: [linux-6.6]",
                "faults: [" + LOST_IPI + "]",
                "seeds: [1]",
                "expect:",
                "  - {includes: [non-responsive-csd-lock, missing-cpu-invalidation]}",
                ""));
        CliTest.Outcome o = CliTest.shootdown("experiment", spec.toString(), "--out", dir.resolve("out").toString());

        assertEquals(Shootdown.EXIT_CLEAN, o.status(), o.out() + o.err());
        JsonNode cells = EventCodec.mapper().readTree(dir.resolve("out/experiment.json").toFile()).get("cells");
        assertEquals(2, cells.size());
        for (JsonNode cell : cells) {
            assertTrue(cell.get("met").asBoolean(), cell.toString());
        }
        assertTrue(List.of(o.out().split("\n")).stream().noneMatch(l -> l.contains("internal error")), o.out());
    }
}
