package dev.shootdown.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.shootdown.codec.EventCodec;
import dev.shootdown.scenario.Scenarios;
import dev.shootdown.scenario.file.ScenarioFiles;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
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
                "unknown scenario 'nope': expected one of direct-reclaim-cross-mm, kswapd-reclaim, mprotect-downgrade, "
                        + "munmap-dma, smmu-permission-upgrade, or a .yaml, .yml or .json file");
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
        assertOneLineBadInput(shootdown("run", "--scenario", "munmap-dma", "--engine", "sim", "--arch", "sparc"),
                "--arch must be one of x86, arm64, was 'sparc'");
        assertOneLineBadInput(shootdown("run", "--scenario", "munmap-dma", "--engine", "sim", "--policy", "linux-6.7"),
                "--policy must be one of linux-6.5, series-v2, linux-6.6, was 'linux-6.7'");
        assertOneLineBadInput(shootdown("run", "--scenario", "munmap-dma", "--engine", "sim", "--livelock-threshold", "0"),
                "--livelock-threshold must be at least 1, was 0");
    }

    @Test
    void aBadScenarioFileIsOneLineNamingFileLineAndField(@TempDir Path dir) throws Exception {
        String good = ScenarioFiles.toYaml(Scenarios.munmapDma());
        Map<String, String> cases = new LinkedHashMap<>();
        cases.put("syntax.yaml", good.replace("cpus: 2", "cpus: [2"));
        cases.put("unknown.yaml", good.replace("ats: true", "atc: true"));
        cases.put("type.yml", good.replace("pasid: 1", "pasid: one"));
        cases.put("xref.yaml", good.replace("iommu: 0", "iommu: 1"));
        Map<String, String> expected = Map.of(
                "syntax.yaml", ":5:7: syntax error in cpus[0]: while parsing a flow sequence: expected ',' or ']'",
                "unknown.yaml", ": devices[0].atc: unknown field 'atc'; expected one of ats, dma, id, iommu, mm, pasid",
                "type.yml", ": devices[0].pasid: expected an integer, got 'one'",
                "xref.yaml", ": devices[0].iommu: expected an IOMMU index in [0, 1), got 1");
        for (Map.Entry<String, String> c : cases.entrySet()) {
            Path file = Files.writeString(dir.resolve(c.getKey()), c.getValue());
            Outcome o = shootdown("run", "--scenario", file.toString(), "--engine", "sim", "--out", dir.resolve("out").toString());
            assertOneLineBadInput(o, "shootdown: " + file + ":");
            assertTrue(o.err().matches("(?s)shootdown: \\Q" + file + "\\E:\\d+:\\d+: .*"), "line and column: " + o.err());
            assertTrue(o.err().contains(expected.get(c.getKey())), o.err());
        }
        Outcome verbose = shootdown("run", "--scenario", dir.resolve("xref.yaml").toString(), "--engine", "sim", "--verbose");
        assertEquals(Shootdown.EXIT_BAD_INPUT, verbose.status());
        assertTrue(verbose.err().contains("ScenarioFileException"), "--verbose shows the trace: " + verbose.err());
    }

    @Test
    void aBuiltInWrittenToAFileRunsExactlyAsTheBuiltIn(@TempDir Path dir) throws Exception {
        Path file = dir.resolve("mine.yaml");
        ScenarioFiles.write(Scenarios.munmapDma(), file);
        Outcome fromFile = shootdown("run", "--scenario", file.toString(), "--engine", "sim", "--out", dir.resolve("a").toString());
        Outcome builtIn = shootdown("run", "--scenario", "munmap-dma", "--engine", "sim", "--out", dir.resolve("b").toString());
        assertEquals(Shootdown.EXIT_CLEAN, fromFile.status(), fromFile.out() + fromFile.err());
        assertEquals(Files.readAllLines(dir.resolve("b/events.jsonl")), Files.readAllLines(dir.resolve("a/events.jsonl")));
        assertEquals(builtIn.out().replace(dir.resolve("b").toString(), ""), fromFile.out().replace(dir.resolve("a").toString(), ""));
    }

    @Test
    void archAndPolicyOverrideTheScenarios(@TempDir Path dir) throws Exception {
        Outcome o = shootdown("run", "--scenario", "munmap-dma", "--engine", "sim", "--arch", "arm64", "--policy", "series-v2",
                "--out", dir.toString());
        assertTrue(o.status() == Shootdown.EXIT_CLEAN || o.status() == Shootdown.EXIT_VIOLATIONS, o.out() + o.err());
        assertTrue(o.out().contains("Shootdown audit: munmap-dma on arm64, series-v2, engine sim"), o.out());
        JsonNode report = EventCodec.mapper().readTree(dir.resolve("report.json").toFile());
        assertEquals("arm64", report.get("arch").asText());
        assertEquals("series-v2", report.get("policy").asText());
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
