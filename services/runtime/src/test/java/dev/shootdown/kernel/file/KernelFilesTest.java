package dev.shootdown.kernel.file;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.shootdown.kernel.Hook;
import dev.shootdown.kernel.KernelVariant;
import dev.shootdown.kernel.Rules;
import dev.shootdown.scenario.Scenario;
import dev.shootdown.scenario.file.ScenarioFileException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Kernel variant files: the built-ins of kernels/ (each rule with its source), extends, the
 * resolved form, and a one-line error for each kind of mistake.
 */
class KernelFilesTest {

    /** The repository's kernels/ folder (tests run in the module's directory). */
    private static final Path KERNELS = Path.of("..", "..", "kernels");

    /** A kernel file, then a function, then the version it was read in ("(v6.6", "(v6.0 on"), or the v2 patch mail. */
    private static final java.util.regex.Pattern SOURCE = java.util.regex.Pattern.compile(
            "^((arch|mm|include)/[a-z0-9_/.-]+\\.[ch] [a-z_0-9]+ \\((v6\\.\\d+|\\[PATCH v2 \\d/5\\])|arch/(x86|arm64)/Kconfig \\(v6\\.\\d+)");

    @TempDir
    Path dir;

    @Test
    void theBuiltInsAreTheFilesOfKernelsAndThePoliciesScenariosName() throws Exception {
        List<String> files;
        try (Stream<Path> s = Files.list(KERNELS)) {
            files = s.filter(p -> p.toString().endsWith(".yaml")).map(p -> p.getFileName().toString().replace(".yaml", "")).sorted()
                    .toList();
        }
        assertEquals(files, KernelFiles.BUILT_INS.stream().sorted().toList(), "every file of kernels/ is a built-in, and back");
        assertEquals(KernelFiles.BUILT_INS, Scenario.KERNELS);
        assertTrue(Scenario.KERNELS.containsAll(Scenario.POLICIES), "the seed's kernels are built-ins");
        for (String name : KernelFiles.BUILT_INS) {
            assertEquals(Files.readString(KERNELS.resolve(name + ".yaml")), KernelFiles.builtInText(name), "the jar ships the file");
            assertEquals(name, KernelFiles.builtIn(name).orElseThrow().name());
        }
    }

    /**
     * Every rule names where it comes from: a kernel file, a function and a version, or the patch
     * mail it is from.
     */
    @Test
    void everyRuleOfEveryBuiltInNamesItsKernelSource() {
        for (String name : KernelFiles.BUILT_INS) {
            for (var section : KernelFileWriter.rules(KernelFiles.builtIn(name).orElseThrow()).entrySet()) {
                for (var function : section.getValue().entrySet()) {
                    String source = function.getValue().get("source");
                    String where = name + " " + section.getKey() + "." + function.getKey();
                    assertTrue(SOURCE.matcher(source).find(), where + ": expected FILE FUNCTION (VERSION...) or the patch mail: " + source);
                }
            }
        }
    }

    @Test
    void seriesV2IsLinux66WithTheV2PatchsTwoX86Rules() {
        KernelVariant v66 = KernelFiles.builtIn("linux-6.6").orElseThrow();
        KernelVariant v2 = KernelFiles.builtIn("series-v2").orElseThrow();
        assertEquals("linux-6.6", v2.basedOn());
        assertNull(v66.basedOn());
        assertEquals(v66.generic(), v2.generic());
        assertEquals(v66.arm64(), v2.arm64());
        assertNull(v2.x86().archTlbbatchAddPending().hook());
        assertEquals(new Hook(Hook.HookMm.CURRENT_MM, List.of(Hook.Bound.ZERO, Hook.Bound.ALL), Hook.Position.AFTER_FLUSH),
                v2.x86().archTlbbatchFlush().hook());
        assertEquals(v66.x86().flushTlbMmRange(), v2.x86().flushTlbMmRange());
        assertTrue(v2.x86().archTlbbatchFlush().source().contains("[PATCH v2 3/5]"), v2.x86().archTlbbatchFlush().source());
    }

    @Test
    void theExampleIsLinux66PlusOneRule() throws Exception {
        KernelVariant example = KernelFiles.load(KERNELS.resolve("examples/v2-batch-hook-on-6.6.yaml"));
        KernelVariant v66 = KernelFiles.builtIn("linux-6.6").orElseThrow();
        assertEquals("linux-6.6", example.basedOn());
        Map<String, Map<String, Map<String, String>>> a = KernelFileWriter.rules(v66);
        Map<String, Map<String, Map<String, String>>> b = KernelFileWriter.rules(example);
        List<String> changed = new ArrayList<>();
        for (var section : a.entrySet()) {
            for (var function : section.getValue().entrySet()) {
                if (!function.getValue().equals(b.get(section.getKey()).get(function.getKey()))) {
                    changed.add(section.getKey() + "." + function.getKey());
                }
            }
        }
        assertEquals(List.of("x86.arch_tlbbatch_flush"), changed);
        assertEquals(Hook.HookMm.CURRENT_MM, example.x86().archTlbbatchFlush().hook().mm());
        assertEquals(v66.x86().archTlbbatchAddPending(), example.x86().archTlbbatchAddPending(), "6.6's add_pending hook stays");
    }

    @Test
    void aResolvedVariantWrittenOutReadsBackToTheSameRules() throws Exception {
        for (String name : KernelFiles.BUILT_INS) {
            KernelVariant v = KernelFiles.builtIn(name).orElseThrow();
            Path file = Files.writeString(dir.resolve(name + "-resolved.yaml"), KernelFileWriter.toYaml(v));
            KernelVariant back = KernelFiles.load(file);
            assertEquals(new KernelVariant(v.name(), v.description(), null, v.hook(), v.generic(), v.x86(), v.arm64()), back, name);
        }
    }

    @Test
    void aChildWithoutASourceIsMarkedAsChangedByItOverTheSourceItReplaces() throws Exception {
        Path file = Files.writeString(dir.resolve("patch.yaml"), """
                name: my-patch
                extends: linux-6.6
                description: one threshold changed
                x86:
                  flush_tlb_mm_range:
                    tlb_single_page_flush_ceiling: 64
                """);
        KernelVariant v = KernelFiles.load(file);
        Rules.FlushTlbMmRange r = v.x86().flushTlbMmRange();
        assertEquals(64, r.ceiling());
        assertEquals(KernelFiles.builtIn("linux-6.6").orElseThrow().x86().flushTlbMmRange().hook(), r.hook(), "the other key stays");
        assertTrue(r.source().startsWith("changed by my-patch (patch.yaml); was: arch/x86/mm/tlb.c flush_tlb_mm_range (v6.6"),
                r.source());
    }

    @Test
    void aFileCanExtendAFileBesideIt() throws Exception {
        Files.writeString(dir.resolve("base.yaml"), """
                name: base
                extends: linux-6.5
                description: 6.5 with a hook in flush_tlb_mm_range
                x86:
                  flush_tlb_mm_range:
                    hook: {mm: mm, range: [start, end], at: before-flush}
                    source: a test
                """);
        Path child = Files.writeString(dir.resolve("child.yaml"), """
                name: child
                extends: base.yaml
                description: and the ceiling at 1
                x86:
                  flush_tlb_mm_range:
                    tlb_single_page_flush_ceiling: 1
                """);
        KernelVariant v = KernelFiles.load(child);
        assertEquals(1, v.x86().flushTlbMmRange().ceiling());
        assertEquals(Hook.Position.BEFORE_FLUSH, v.x86().flushTlbMmRange().hook().at());
        assertEquals("invalidate_range", v.hook(), "from linux-6.5, two files up");
    }

    @Test
    void eachKindOfMistakeIsOneLineWithItsFileLineColumnAndField() throws Exception {
        String head = "name: bad\nextends: linux-6.6\ndescription: x\n";
        assertError("at.yaml", head + "x86:\n  flush_tlb_mm_range:\n    hook: {mm: mm, range: [start, end], at: sideways}\n",
                ":6:41: x86.flush_tlb_mm_range.hook.at: expected before-flush, before-wait, after-flush, got \"sideways\"");
        assertError("mm.yaml", head + "x86:\n  arch_tlbbatch_flush:\n    hook: {mm: mm, range: [0, -1], at: after-flush}\n",
                ":6:12: x86.arch_tlbbatch_flush.hook.mm: expected current->mm (this function has no mm argument), got \"mm\"");
        assertError("fixed.yaml", head + "generic:\n  try_to_unmap_one:\n    hook: {mm: mm, range: [start, end], at: after-flush}\n",
                ":6:41: generic.try_to_unmap_one.hook.at: unknown field: expected none, or {mm: mm | current->mm, range: [start, end]}"
                        + " (this call site has one place only)");
        assertError("range.yaml", head + "arm64:\n  flush_tlb_mm:\n    hook: {mm: mm, range: [0, 42], at: after-flush}\n",
                ":6:31: arm64.flush_tlb_mm.hook.range[1]: expected start, end, 0 or -1, got 42");
        assertError("function.yaml", head + "arm64:\n  flush_tlb_range:\n    hook: none\n",
                ":5:3: arm64.flush_tlb_range: unknown function: expected one of flush_tlb_mm, __flush_tlb_range, __flush_tlb_range_op");
        assertError("key.yaml", head + "x86:\n  flush_tlb_mm_range:\n    ceiling: 33\n",
                ":6:5: x86.flush_tlb_mm_range.ceiling: unknown field: expected tlb_single_page_flush_ceiling, hook or source");
        assertError("int.yaml", head + "x86:\n  flush_tlb_mm_range:\n    tlb_single_page_flush_ceiling: -3\n",
                ":6:5: x86.flush_tlb_mm_range.tlb_single_page_flush_ceiling: expected a whole number of at least 0, got -3");
        assertError("enum.yaml", head + "x86:\n  arch_tlbbatch_should_defer:\n    defer: sometimes\n",
                ":6:5: x86.arch_tlbbatch_should_defer.defer: expected one of if-other-cpu-in-mm-cpumask, always, never, got \"sometimes\"");
        assertError("section.yaml", head + "riscv:\n  flush_tlb_mm: {hook: none}\n",
                ":4:1: riscv: unknown field: expected one of name, description, extends, hook, generic, x86, arm64");
        assertError("name.yaml", "name: my patch\nextends: linux-6.6\ndescription: x\n",
                ":1:1: name: expected letters, digits, '.', '_' or '-' (it becomes part of run ids), got 'my patch'");
        assertError("nodescription.yaml", "name: p\nextends: linux-6.6\n", ":1:1: expected description");
        assertError("extends.yaml", "name: p\nextends: linux-9.9\ndescription: x\n",
                ":2:1: extends: expected a built-in kernel (linux-6.1, linux-6.5, series-v2, linux-6.6, linux-6.12) or a .yaml, .yml or .json file, got 'linux-9.9'");
        assertError("missing.yaml", "name: p\nextends: nowhere.yaml\ndescription: x\n", ":2:1: extends: no such file: ");
        assertError("root.yaml", "name: p\ndescription: x\nhook: invalidate_range\n",
                ":1:1: expected the section generic (a file that extends nothing gives every section)");
        assertError("duplicate.yaml", head + "x86:\n  mmu_gather: {merge_vmas: true}\n  mmu_gather: {merge_vmas: false}\n",
                ":6:13: syntax error in x86.mmu_gather: Duplicate field 'mmu_gather'");
        Files.writeString(dir.resolve("loop-a.yaml"), "name: a\nextends: loop-b.yaml\ndescription: x\n");
        assertError("loop-b.yaml", "name: b\nextends: loop-a.yaml\ndescription: x\n", ":2:1: extends: extends itself through ");
    }

    @Test
    void aRootFileGivesEveryRuleEachWithItsSource() throws Exception {
        String full = KernelFileWriter.toYaml(KernelFiles.builtIn("linux-6.6").orElseThrow());
        String withoutSource = full.replaceFirst("(?m)^    source: .*\\n", "");
        assertError("nosource.yaml", withoutSource,
                ":6:3: generic.mmu_notifier_invalidate_range_end: expected source: the kernel file, function and version this rule comes from");
        String withoutFunction = full.replaceFirst("(?s)  mmu_gather:\\n    merge_vmas: true\\n    source: [^\\n]*\\n", "");
        assertError("nofunction.yaml", withoutFunction, ":18:1: x86: expected mmu_gather (a file that extends nothing gives every function of x86)");
    }

    @Test
    void namesAndFilesResolveAndAnUnknownNameIsOneLine() throws Exception {
        assertEquals("series-v2", KernelFiles.resolve("series-v2").name());
        ScenarioFileException e = assertThrows(ScenarioFileException.class, () -> KernelFiles.resolve("linux-6.7"));
        assertEquals("unknown kernel 'linux-6.7': expected one of linux-6.1, linux-6.5, series-v2, linux-6.6, linux-6.12 (shootdown kernels), or a .yaml, .yml"
                + " or .json kernel variant file", e.getMessage());
        assertEquals("v2-batch-hook-on-6.6", KernelFiles.resolve(KERNELS.resolve("examples/v2-batch-hook-on-6.6.yaml").toString()).name());
        assertFalse(KernelFiles.builtIn("my-patch").isPresent());
    }

    /** The one-line message starts with the file, then {@code expected} (":LINE:COL: path: what"). */
    private void assertError(String fileName, String content, String expected) throws Exception {
        Path file = Files.writeString(dir.resolve(fileName), content);
        ScenarioFileException e = assertThrows(ScenarioFileException.class, () -> KernelFiles.load(file), fileName);
        assertFalse(e.getMessage().contains("\n"), "one line: " + e.getMessage());
        assertTrue(e.getMessage().startsWith(file + expected), "expected " + file + expected + "\n     got " + e.getMessage());
    }
}
