package dev.shootdown.scenario.file;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.shootdown.codec.EventCodec;
import dev.shootdown.scenario.Scenario;
import dev.shootdown.scenario.Scenarios;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Scenario files: the built-ins as files, defaults, and a one-line error for each kind of mistake. */
class ScenarioFilesTest {

    /** The repository's scenarios/ folder (tests run in the module's directory). */
    private static final Path SCENARIOS = Path.of("..", "..", "scenarios");

    /** A small valid scenario; the error cases below break one line of it. Line numbers matter. */
    private static final String DOC = """
            name: t
            arch: x86
            policy: linux-6.6
            cpus: 2
            iommus: 1
            mms:
              - mm: 1
                vmas:
                  - {start: 0x7f0000000000, pages: 4, writable: true, populate: true}
            tasks:
              - pid: 100
                mm: 1
                cpu: 0
                program:
                  - {op: touch, start: 0x7f0000000000, pages: 4, access: WRITE, rounds: 1}
                  - {op: munmap, start: 0x7f0000000000, pages: 4}
              - pid: 101
                mm: 1
                cpu: 1
                program: [{op: touch, start: 0x7f0000000000, pages: 4, access: read, rounds: 0}]
            devices:
              - id: dev0
                iommu: 0
                pasid: 1
                mm: 1
                ats: true
                dma: {start: 0x7f0000000000, pages: 4, accesses: [write], periodNs: 1000}
            timing: {cpuStepNs: 500, cmdqSyncNs: 800}
            end: {deviceFaults: 3}
            """;

    @TempDir
    Path dir;

    @Test
    void theScenariosFolderHoldsExactlyTheBuiltInsAsTheyAreInCode() throws Exception {
        List<String> files;
        try (Stream<Path> s = Files.list(SCENARIOS)) {
            files = s.map(p -> p.getFileName().toString()).sorted().collect(Collectors.toList());
        }
        assertEquals(Scenarios.names().stream().map(n -> n + ".yaml").sorted().collect(Collectors.toList()), files);
        for (String name : Scenarios.names()) {
            assertEquals(Scenarios.builtIn(name).orElseThrow(), ScenarioFiles.load(SCENARIOS.resolve(name + ".yaml")), name);
        }
    }

    @Test
    void everyBuiltInWrittenAsYamlLoadsBackEqual() throws Exception {
        for (String name : Scenarios.names()) {
            Scenario s = Scenarios.builtIn(name).orElseThrow();
            Path file = dir.resolve(name + ".yml");
            ScenarioFiles.write(s, file);
            assertEquals(s, ScenarioFiles.load(file), name);
            assertTrue(Files.readString(file).contains("start: 0x7f0000000000"), "addresses in hex");
        }
    }

    @Test
    void jsonHasTheSameFieldsAsTheLogsRunStarted() throws Exception {
        Scenario s = Scenarios.builtIn("kswapd-reclaim").orElseThrow();
        Path file = Files.writeString(dir.resolve("k.json"), EventCodec.mapper().writeValueAsString(s));
        assertEquals(s, ScenarioFiles.load(file));
    }

    @Test
    void optionalFieldsTakeTheirDefaults() throws Exception {
        String minimal = DOC.replace("iommus: 1\n", "").replaceAll("(?s)devices:.*(?=timing:)", "")
                .replace(", populate: true", "");
        Scenario s = ScenarioFiles.load(Files.writeString(dir.resolve("min.yaml"), minimal));
        assertEquals(0, s.iommus());
        assertEquals(List.of(), s.devices());
        assertEquals(Scenario.Memory.UNLIMITED, s.memory());
        assertNull(s.kswapd());
        assertEquals(new Scenario.VmaSpec(Scenarios.BUFFER, 4, true, false, false), s.mms().get(0).vmas().get(0));
        assertEquals(new Scenario.EndCondition(3, 0), s.end());
        Scenario withMemory = ScenarioFiles.load(Files.writeString(dir.resolve("mem.yaml"),
                DOC + "memory: {frames: 8, min: 1, low: 2, high: 4}\nkswapd: {cpu: 1}\n"));
        assertEquals(new Scenario.Memory(8, 1, 2, 4, 32), withMemory.memory());
        assertEquals(new Scenario.Kswapd(1), withMemory.kswapd());
    }

    @Test
    void syntaxErrorsNameTheLineAndColumn() throws Exception {
        assertError("bad-indent.yaml", DOC.replace("    mm: 1\n    cpu: 0", "    mm: 1\n   cpu: 0"),
                ":13:4: syntax error in tasks[0]: while parsing a block collection: expected <block end>, but found '<block mapping start>'");
        assertError("tab.yaml", DOC.replace("  - pid: 101", "\t- pid: 101"),
                ":17:1: syntax error in tasks[0].program[0]: while scanning for the next token: found character '\\t(TAB)'");
        assertError("dup.yaml", DOC.replace("cpus: 2", "cpus: 2\ncpus: 3"), ":5:5: syntax error in cpus: Duplicate field 'cpus'");
        assertError("s.json", "{\"name\": \"t\",\n  \"cpus\": }", ":2:11: syntax error in cpus: Unexpected character ('}'");
    }

    @Test
    void unknownFieldsWrongTypesAndMissingFieldsNameTheFieldPath() throws Exception {
        assertError("unknown.yaml", DOC.replace("ats: true", "atc: true"),
                ":26:5: devices[0].atc: unknown field 'atc'; expected one of ats, dma, id, iommu, mm, pasid");
        assertError("type.yaml", DOC.replace("iommu: 0", "iommu: first"), ":23:5: devices[0].iommu: expected an integer, got 'first'");
        assertError("float.yaml", DOC.replace("cpus: 2", "cpus: 2.5"), ":4:1: cpus: expected an integer, got '2.5'");
        assertError("list.yaml", DOC.replace("ats: true", "ats: [true]"), ":26:5: devices[0].ats: expected true or false");
        assertError("missing.yaml", DOC.replace("    pasid: 1\n", ""), ":22:5: devices[0].pasid: missing; this field is required");
        assertError("missing-top.yaml", DOC.replaceAll("timing: .*\n", ""), ":1:1: timing: missing; this field is required");
        assertError("null.yaml", DOC.replace("cpus: 2", "cpus:"), ":4:1: cpus: expected a value, got null");
        assertError("enum.yaml", DOC.replace("access: WRITE", "access: scribble"),
                ":15:54: tasks[0].program[0].access: expected one of read, write, got 'scribble'");
        assertError("op.yaml", DOC.replace("op: munmap", "op: unmap"),
                ":16:9: tasks[0].program[1]: expected op: one of touch, munmap, mprotect, compute, madvise, memory-reclaim, got op 'unmap'");
        assertError("advice.yaml", DOC.replace("op: munmap, start: 0x7f0000000000, pages: 4",
                "op: madvise, start: 0x7f0000000000, pages: 4, advice: cold"),
                ":16:56: tasks[0].program[1].advice: expected one of pageout, got 'cold'");
        assertError("rounds.yaml", DOC.replace("rounds: 1", "rounds: -1"),
                ":15:9: tasks[0].program[0]: touch needs pages > 0 and rounds >= 0");
    }

    @Test
    void crossReferencesAndRangesAreCheckedAtTheFieldThatBreaksThem() throws Exception {
        assertError("arch.yaml", DOC.replace("arch: x86", "arch: sparc"), ":2:1: arch: expected one of x86, arm64, got 'sparc'");
        assertError("policy.yaml", DOC.replace("linux-6.6", "linux-6.7"),
                ":3:1: policy: expected a built-in kernel (linux-6.1, linux-6.5, series-v2, linux-6.6, linux-6.12) or the name of a variant given with"
                        + " --kernel FILE, got 'linux-6.7'");
        assertError("iommu.yaml", DOC.replace("iommu: 0", "iommu: 1"), ":23:5: devices[0].iommu: expected an IOMMU index in [0, 1), got 1");
        assertError("task-mm.yaml", DOC.replace("  mm: 1\n    cpu: 1", "  mm: 2\n    cpu: 1"),
                ":18:5: tasks[1].mm: expected a declared mm (1), got 2");
        assertError("device-mm.yaml", DOC.replace("  mm: 1\n    ats", "  mm: 7\n    ats"),
                ":25:5: devices[0].mm: expected a declared mm (1), got 7");
        assertError("cpu.yaml", DOC.replace("cpu: 1", "cpu: 2"), ":19:5: tasks[1].cpu: expected a CPU in [0, 2), got 2");
        assertError("one-per-cpu.yaml", DOC.replace("cpu: 1", "cpu: 0"),
                ":19:5: tasks[1].cpu: expected a free CPU: cpu 0 already runs pid 100 (one task per CPU)");
        assertError("pid.yaml", DOC.replace("pid: 101", "pid: 100"), ":17:5: tasks[1].pid: duplicate pid 100");
        assertError("mm-id.yaml", DOC.replace("tasks:", "  - {mm: 1, vmas: []}\ntasks:"), ":10:6: mms[1].mm: duplicate mm id 1");
        assertError("device-id.yaml", DOC.replace("timing:", "  - {id: dev0, iommu: 0, pasid: 2, mm: 1, ats: false,"
                + " dma: {start: 0, pages: 1, accesses: [read], periodNs: 10}}\ntiming:"), ":28:6: devices[1].id: duplicate device id 'dev0'");
        assertError("pages.yaml", DOC.replace("pages: 4, writable", "pages: 0, writable"),
                ":9:33: mms[0].vmas[0].pages: expected a number > 0, got 0");
        assertError("end.yaml", DOC.replace("end: {deviceFaults: 3}", "end: {afterNs: 0}"),
                ":29:1: end: expected deviceFaults > 0 or afterNs > 0; as written the run never ends");
        assertError("memory.yaml", DOC + "memory: {frames: 8, min: 2, low: 1, high: 4}\n",
                ":30:29: memory.low: expected min <= low <= high <= frames, got 2, 1, 4, 8");
        assertError("memory-high.yaml", DOC + "memory: {frames: 8, min: 2, low: 3, high: 9}\n",
                ":30:10: memory.frames: expected min <= low <= high <= frames, got 2, 3, 9, 8");
        assertError("kswapd.yaml", DOC + "kswapd: {cpu: 2}\n", ":30:10: kswapd.cpu: expected a CPU in [0, 2), got 2");
        assertError("cpus.yaml", DOC.replace("cpus: 2", "cpus: 0"), ":4:1: cpus: expected a number of CPUs >= 1, got 0");
        assertError("memory-reclaim.yaml", DOC.replace("{op: munmap, start: 0x7f0000000000, pages: 4}",
                "{op: memory-reclaim, pages: 33}"), ":16:9: tasks[0].program[1]: memory-reclaim needs pages from 1 to 32"
                + " (SWAP_CLUSTER_MAX: the model runs one shrink_folio_list pass)");
    }

    @Test
    void aVmaCanBeMlockedAndATaskCanWriteToMemoryReclaim() throws Exception {
        Scenario s = ScenarioFiles.load(Files.writeString(dir.resolve("memcg.yaml"), DOC
                .replace("populate: true}", "populate: true, mlocked: true}")
                .replace("{op: munmap, start: 0x7f0000000000, pages: 4}", "{op: memory-reclaim, pages: 8}")));
        assertEquals(new Scenario.VmaSpec(Scenarios.BUFFER, 4, true, true, false, true), s.mms().get(0).vmas().get(0));
        assertEquals(new dev.shootdown.scenario.TaskOp.MemoryReclaim(8), s.tasks().get(0).program().get(1));
        // as a log's run-started holds them: a scenario without mlocked VMAs leaves the field out
        String json = EventCodec.mapper().writeValueAsString(Scenarios.munmapDma());
        assertFalse(json.contains("mlocked"), json);
        assertEquals(Scenarios.munmapDma(), EventCodec.mapper().readValue(json, Scenario.class));
        String locked = EventCodec.mapper().writeValueAsString(s);
        assertEquals(s, EventCodec.mapper().readValue(locked, Scenario.class));
    }

    @Test
    void aFileThatIsNotAScenarioSaysSo() throws Exception {
        Path txt = Files.writeString(dir.resolve("s.txt"), DOC);
        ScenarioFileException e = assertThrows(ScenarioFileException.class, () -> ScenarioFiles.load(txt));
        assertEquals(txt + ": expected a .yaml, .yml or .json scenario file", e.getMessage());
        Path missing = dir.resolve("nope.yaml");
        e = assertThrows(ScenarioFileException.class, () -> ScenarioFiles.load(missing));
        assertTrue(e.getMessage().startsWith(missing + ": cannot read the file (java.nio.file.NoSuchFileException"), e.getMessage());
        assertError("list-doc.yaml", "- 1\n- 2\n", ":1:1: expected a mapping with the scenario's fields");
    }

    /** The one-line message starts with the file, then {@code expected} (":LINE:COL: path: what"). */
    private void assertError(String fileName, String content, String expected) throws Exception {
        Path file = Files.writeString(dir.resolve(fileName), content);
        ScenarioFileException e = assertThrows(ScenarioFileException.class, () -> ScenarioFiles.load(file), fileName);
        assertFalse(e.getMessage().contains("\n"), "one line: " + e.getMessage());
        assertTrue(e.getMessage().startsWith(file + expected), "expected " + file + expected + "\n     got " + e.getMessage());
    }
}
