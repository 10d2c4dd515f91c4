package dev.shootdown.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.shootdown.codec.EventCodec;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The command line as a user meets it: exit codes, one-line errors, the files a run writes. */
class CliTest {

    record Outcome(int status, String out, String err) {}

    static Outcome shootdown(String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        int status = Shootdown.execute(new PrintWriter(out, true), new PrintWriter(err, true), args);
        return new Outcome(status, out.toString(), err.toString());
    }

    private static void assertOneLineBadInput(Outcome o, String expected) {
        assertEquals(Shootdown.EXIT_BAD_INPUT, o.status(), o.err());
        assertTrue(o.err().contains(expected), o.err());
        assertFalse(o.err().contains("Exception") || o.err().contains("\tat "), "no stack trace: " + o.err());
        assertTrue(o.err().lines().count() <= 2, "one line (and a hint): " + o.err());
    }

    @Test
    void unknownScenarioIsBadInputNamingTheChoices() {
        assertOneLineBadInput(shootdown("run", "--scenario", "nope", "--engine", "sim"),
                "unknown scenario 'nope': expected one of munmap-dma");
    }

    @Test
    void badFlagsAreBadInput() {
        assertOneLineBadInput(shootdown("run", "--scenario", "munmap-dma", "--engine", "warp"), "--engine");
        assertOneLineBadInput(shootdown("run", "--scenario", "munmap-dma", "--seed", "seven"), "--seed");
        assertOneLineBadInput(shootdown("run"), "--scenario");
        assertOneLineBadInput(shootdown("run", "--scenario", "munmap-dma", "--frobnicate"), "--frobnicate");
        assertOneLineBadInput(shootdown("run", "--scenario", "munmap-dma", "--engine", "sim", "--bootstrap-servers", "h:1"),
                "apply to --engine kafka only");
    }

    @Test
    void badValuesAreBadInputNamingTheFlag(@TempDir Path dir) throws Exception {
        Path file = Files.writeString(dir.resolve("a-file"), "x");
        assertOneLineBadInput(shootdown("run", "--scenario", "munmap-dma", "--engine", "sim", "--out", file.resolve("out").toString()),
                "--out " + file.resolve("out") + ": cannot create that directory");
        assertOneLineBadInput(shootdown("run", "--scenario", "munmap-dma", "--run-timeout", "0"), "--run-timeout must be a positive");
        assertOneLineBadInput(shootdown("run", "--scenario", "munmap-dma", "--engine", "sim", "--max-events", "-5"),
                "--max-events must be positive, was -5");
    }

    @Test
    void helpWorksOnEveryCommand() {
        Outcome top = shootdown("--help");
        assertEquals(0, top.status());
        assertTrue(top.out().contains("run"), top.out());
        Outcome run = shootdown("run", "--help");
        assertEquals(0, run.status());
        assertTrue(run.out().contains("--bootstrap-servers") && run.out().contains("munmap-dma"), run.out());
    }

    @Test
    void aDeterministicRunWritesTheLogAndACleanReport(@TempDir Path dir) throws Exception {
        Outcome o = shootdown("run", "--scenario", "munmap-dma", "--engine", "sim", "--seed", "7", "--out", dir.toString());
        assertEquals(Shootdown.EXIT_CLEAN, o.status(), o.out() + o.err());
        assertTrue(o.out().contains("order                  secondary-after-cpu"), o.out());
        assertTrue(o.out().contains("verdict: clean"), o.out());
        JsonNode report = EventCodec.mapper().readTree(dir.resolve("report.json").toFile());
        assertEquals("clean", report.get("verdict").asText());
        assertEquals(0, report.get("violations").size());
        assertEquals("secondary-after-cpu", report.get("shootdowns").get(0).get("order").asText());
        assertEquals(16, report.get("shootdowns").get(0).get("framesFreed").asInt());
        RunInvariants.assertMunmapDmaCorrect(RunInvariants.decode(Files.readAllLines(dir.resolve("events.jsonl"))));
    }
}
