package dev.shootdown.cli;

import com.fasterxml.jackson.databind.JsonNode;
import dev.shootdown.cli.experiment.Cells;
import dev.shootdown.codec.EventCodec;
import dev.shootdown.scenario.Scenario;
import dev.shootdown.scenario.Scenarios;
import dev.shootdown.scenario.file.ScenarioFiles;
import dev.shootdown.simulation.RunInvariants;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The command line as a user meets it: exit codes, one-line errors, the files a run writes. */
class CliTest {

    record Outcome(int status, String out, String err) {}

    /** direct-reclaim-cross-mm under series-v2 on the deterministic engine, written to {@code dir}: its events.jsonl lines. */
    static java.util.List<String> recordDirectReclaimV2(java.nio.file.Path dir) throws java.io.IOException {
        Outcome o = shootdown("run", "--scenario", "direct-reclaim-cross-mm", "--policy", "series-v2", "--engine", "sim", "--out",
                dir.toString());
        org.junit.jupiter.api.Assertions.assertEquals(Shootdown.EXIT_VIOLATIONS, o.status(), o.err());
        return java.nio.file.Files.readAllLines(dir.resolve("events.jsonl"));
    }

    /**
     * The cells of the table row of {@code out} ({@link Cells#printTable}) that starts at line
     * {@code first}: the columns where that line's cells start (after two spaces or more), each
     * cell with its wrapped continuation lines (the lines after it whose first column is blank)
     * joined by a space, or by nothing after a hyphen.
     */
    static java.util.List<String> tableRow(java.util.List<String> lines, int first) {
        String line = lines.get(first);
        java.util.List<Integer> starts = new java.util.ArrayList<>(java.util.List.of(0));
        for (int p = 2; p < line.length(); p++) {
            if (line.charAt(p) != ' ' && line.charAt(p - 1) == ' ' && line.charAt(p - 2) == ' ') {
                starts.add(p);
            }
        }
        java.util.List<StringBuilder> cells = new java.util.ArrayList<>();
        for (int i = first; i < lines.size() && (i == first || lines.get(i).startsWith(" ") && !lines.get(i).isBlank()); i++) {
            String l = lines.get(i);
            for (int c = 0; c < starts.size(); c++) {
                int from = Math.min(starts.get(c), l.length());
                int to = c + 1 < starts.size() ? Math.min(starts.get(c + 1), l.length()) : l.length();
                String part = l.substring(from, to).strip();
                if (cells.size() <= c) {
                    cells.add(new StringBuilder());
                }
                if (!part.isEmpty()) {
                    StringBuilder cell = cells.get(c);
                    boolean hyphen = cell.length() > 0 && cell.charAt(cell.length() - 1) == '-'; // a word broken after its hyphen
                    cell.append(cell.length() > 0 && !hyphen ? " " : "").append(part);
                }
            }
        }
        return cells.stream().map(StringBuilder::toString).toList();
    }

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
                "--policy must be one of linux-6.1, linux-6.5, series-v2, linux-6.6, linux-6.12, was 'linux-6.7'");
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
    void infrastructureFaultsNeedTheNodesInThisProcess() {
        Path plan = Path.of("..", "faults", "kill-mid-shootdown.yaml");
        assertOneLineBadInput(shootdown("run", "--scenario", "munmap-dma", "--bootstrap-servers", "127.0.0.1:1", "--nodes", "cluster",
                "--faults", plan.toString()), plan + ": faults[0].kind: infrastructure faults are done by the process that runs the"
                + " nodes, and with --nodes cluster they run elsewhere: kill -9 a node process and `shootdown cluster restart NODE`"
                + " instead");
    }

    @Test
    void theDeterministicEngineDoesAPlansInfrastructureFaultsAndLeavesTheRunAsWithout(@TempDir Path dir) throws Exception {
        Path plan = Files.writeString(dir.resolve("plan.yaml"), "faults:\n  - {kind: duplicate, count: 30}\n"
                + "  - {kind: kill, node: coordinator, afterEvents: 200}\n  - {kind: kill, node: cpu1, atEvent: \"cpu1#20\"}\n");
        Outcome faulted = shootdown("run", "--scenario", "munmap-dma", "--engine", "sim", "--faults", plan.toString(),
                "--out", dir.resolve("faulted").toString());
        Outcome clean = shootdown("run", "--scenario", "munmap-dma", "--engine", "sim", "--out", dir.resolve("clean").toString());
        assertEquals(Shootdown.EXIT_CLEAN, faulted.status(), faulted.err());
        JsonNode faults = EventCodec.mapper().readTree(dir.resolve("faulted/report.json").toFile()).get("faults");
        assertEquals(3, faults.size(), faults.toString());
        for (JsonNode f : faults) {
            assertTrue(f.get("detail").asText().matches("inputs of every node delivered twice, the next 30"
                    + "|(cpu1|coordinator) killed and rebuilt from the log at once .*"), f.toString());
        }
        List<String> withoutInjector = Files.readAllLines(dir.resolve("faulted/events.jsonl")).stream()
                .filter(l -> !l.contains("\"node\":\"injector\"")).toList();
        assertEquals(Files.readAllLines(dir.resolve("clean/events.jsonl")).size(), withoutInjector.size(),
                "the faults change nothing in the run but the injector's events");
        assertFalse(Files.list(dir.resolve("faulted")).anyMatch(f -> f.getFileName().toString().startsWith(".")),
                "no history or spool file is left");
        Path duplicates = Files.writeString(dir.resolve("duplicates.yaml"), "faults:\n  - {kind: duplicate, count: 30}\n");
        shootdown("run", "--scenario", "munmap-dma", "--engine", "sim", "--faults", duplicates.toString(),
                "--out", dir.resolve("duplicated").toString());
        assertEquals(1, EventCodec.mapper().readTree(dir.resolve("duplicated/report.json").toFile()).get("faults").size(),
                "a plan without kills is done too");
    }

    @Test
    void aBadFaultPlanIsOneLineNamingFileLineAndFieldBeforeAnythingRuns(@TempDir Path dir) throws Exception {
        Path plan = Files.writeString(dir.resolve("plan.yaml"), "faults:\n  - kind: lost-ipi\n    probability: 3\n");
        assertOneLineBadInput(shootdown("run", "--scenario", "munmap-dma", "--engine", "sim", "--faults", plan.toString(),
                "--out", dir.resolve("out").toString()), plan + ":3:5: faults[0].probability: expected a number in [0, 1], got 3");
        Path absent = Files.writeString(dir.resolve("cpu7.yaml"), "faults:\n  - {kind: lost-ipi, node: cpu7}\n");
        assertOneLineBadInput(shootdown("matrix", "--scenario", "munmap-dma", "--faults", absent.toString()),
                absent + ": faults[0].node: expected a node of the scenario (coordinator, cpu0, cpu1, iommu0), got 'cpu7'"
                        + " (scenario munmap-dma)");
        assertFalse(Files.exists(dir.resolve("out")), "nothing ran");
    }

    @Test
    void anExportedBuiltInRunsFromItsFileExactlyAsTheBuiltIn(@TempDir Path dir) throws Exception {
        Outcome export = shootdown("scenarios", "--export", "munmap-dma");
        assertEquals(Shootdown.EXIT_CLEAN, export.status(), export.err());
        Path file = Files.writeString(dir.resolve("mine.yaml"), export.out());
        Outcome fromFile = shootdown("run", "--scenario", file.toString(), "--engine", "sim", "--out", dir.resolve("a").toString());
        Outcome builtIn = shootdown("run", "--scenario", "munmap-dma", "--engine", "sim", "--out", dir.resolve("b").toString());
        assertEquals(Shootdown.EXIT_CLEAN, fromFile.status(), fromFile.out() + fromFile.err());
        assertEquals(Files.readAllLines(dir.resolve("b/events.jsonl")), Files.readAllLines(dir.resolve("a/events.jsonl")));
        assertEquals(builtIn.out().replace(dir.resolve("b").toString(), ""), fromFile.out().replace(dir.resolve("a").toString(), ""));
    }

    @Test
    void scenariosListsEveryBuiltInWithWhatItModels() {
        Outcome o = shootdown("scenarios");
        assertEquals(Shootdown.EXIT_CLEAN, o.status(), o.err());
        List<String> lines = o.out().lines().collect(Collectors.toList());
        assertEquals(Scenarios.names().size(), lines.size(), o.out());
        for (int i = 0; i < lines.size(); i++) {
            String name = Scenarios.names().get(i);
            Scenario s = Scenarios.builtIn(name).orElseThrow();
            String[] columns = lines.get(i).trim().split("\\s+", 4);
            assertEquals(List.of(name, s.arch().label(), s.policy()), List.of(columns).subList(0, 3), lines.get(i));
            assertTrue(columns.length == 4 && columns[3].length() > 20, "a description: " + lines.get(i));
        }
        assertOneLineBadInput(shootdown("scenarios", "--export", "nope"), "--export: unknown scenario 'nope'");
    }

    @Test
    void matrixPrintsAColumnPerPolicyAndWritesEachCellAndHowToRerunIt(@TempDir Path dir) throws Exception {
        Path out = dir.resolve("m");
        Outcome o = shootdown("matrix", "--engine", "sim", "--scenario", "munmap-dma", "--arch", "x86", "--out", out.toString());
        assertEquals(Shootdown.EXIT_CLEAN, o.status(), o.out() + o.err());
        List<String> table = o.out().lines().filter(l -> !l.startsWith("wrote ")).collect(Collectors.toList());
        assertEquals(2, table.size(), o.out());
        assertEquals(List.of("scenario", "arch", "linux-6.5", "series-v2", "linux-6.6"), List.of(table.get(0).split("\\s+")));
        assertTrue(table.get(1).startsWith("munmap-dma  x86  "), table.get(1));
        assertTrue(table.get(1).endsWith("  clean"), "munmap-dma on x86 under linux-6.6 is clean: " + table.get(1));
        assertTrue(o.err().contains("[3/3] munmap-dma x86 linux-6.6: clean"), "progress on stderr: " + o.err());

        JsonNode cells = EventCodec.mapper().readTree(out.resolve("matrix.json").toFile()).get("cells");
        assertEquals(3, cells.size());
        for (int i = 0; i < 3; i++) {
            JsonNode cell = cells.get(i);
            String policy = Scenario.POLICIES.get(i);
            assertEquals(List.of("munmap-dma", "x86", policy, "sim", 1L),
                    List.of(cell.get("scenario").asText(), cell.get("arch").asText(), cell.get("policy").asText(),
                            cell.get("engine").asText(), cell.get("seed").asLong()));
            Path cellDir = out.resolve("munmap-dma/x86/" + policy);
            assertEquals(cell.get("events").asLong(), Files.readAllLines(cellDir.resolve("events.jsonl")).size());
            JsonNode report = EventCodec.mapper().readTree(cellDir.resolve("report.json").toFile());
            assertEquals(report.get("verdict").asText(), cell.get("verdict").asText());
            assertEquals(policy, report.get("policy").asText());
        }
        assertEquals("clean", cells.get(2).get("verdict").asText());

        // the cell's command, run on its own, gives the same log
        String command = cells.get(2).get("command").asText();
        assertTrue(command.startsWith("shootdown run --scenario munmap-dma --arch x86 --kernel linux-6.6 --engine sim --seed 1"), command);
        List<String> args = new ArrayList<>(List.of(command.substring("shootdown ".length()).split(" ")));
        args.addAll(List.of("--out", dir.resolve("again").toString()));
        assertEquals(Shootdown.EXIT_CLEAN, shootdown(args.toArray(String[]::new)).status());
        assertEquals(Files.readAllLines(out.resolve("munmap-dma/x86/linux-6.6/events.jsonl")),
                Files.readAllLines(dir.resolve("again/events.jsonl")));
    }

    @Test
    void matrixRejectsBadChoicesBeforeRunningAnything(@TempDir Path dir) throws Exception {
        assertOneLineBadInput(shootdown("matrix", "--arch", "x86", "--arch", "sparc"), "--arch must be one of x86, arm64, was 'sparc'");
        assertOneLineBadInput(shootdown("matrix", "--policy", "linux-7"), "--policy must be one of");
        assertOneLineBadInput(shootdown("matrix", "--scenario", "nope"), "unknown scenario 'nope'");
        Path bad = Files.writeString(dir.resolve("bad.yaml"), "name: x\ncpus: many\n");
        assertOneLineBadInput(shootdown("matrix", "--scenario", bad.toString()), bad + ":2:1: cpus: expected an integer, got 'many'");
        assertOneLineBadInput(shootdown("matrix", "--bootstrap-servers", "h:1"), "apply to --engine kafka only");
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
        assertTrue(top.out().contains("run") && top.out().contains("matrix") && top.out().contains("scenarios"), top.out());
        Outcome run = shootdown("run", "--help");
        assertEquals(0, run.status());
        assertTrue(run.out().contains("--bootstrap-servers") && run.out().contains("munmap-dma"), run.out());
        Outcome matrix = shootdown("matrix", "--help");
        assertEquals(0, matrix.status());
        assertTrue(matrix.out().contains("--policy") && matrix.out().contains("--out"), matrix.out());
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
