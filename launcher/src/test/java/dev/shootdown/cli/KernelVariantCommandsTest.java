package dev.shootdown.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.shootdown.codec.EventCodec;
import dev.shootdown.event.ControlEvent;
import dev.shootdown.event.Envelope;
import dev.shootdown.kernel.KernelVariant;
import dev.shootdown.kernel.file.KernelFiles;
import dev.shootdown.log.LogFile;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Kernel variants on the command line: {@code --kernel FILE} on run, the variant recorded whole in
 * run-started (so the log replays and audits without the file), logs recorded before variants
 * were recorded, bad variant files, and {@code shootdown kernels}.
 */
class KernelVariantCommandsTest {

    /** The repository's example: linux-6.6 plus v2's arch_tlbbatch_flush hook. */
    static final Path EXAMPLE = Path.of("..", "kernels", "examples", "v2-batch-hook-on-6.6.yaml");

    @TempDir
    Path dir;

    private static ControlEvent.RunStarted runStarted(Path log) throws IOException {
        for (Envelope e : LogFile.read(log).ordered()) {
            if (e.event() instanceof ControlEvent.RunStarted s) {
                return s;
            }
        }
        throw new AssertionError("no run-started in " + log);
    }

    /**
     * The example variant, as a user's file (a copy, so it can be deleted): under it kswapd's
     * batch flush hands current->mm, NULL, to the hook, as v2 did. The run records the whole
     * resolved variant, and the log replays to the run's own report after the file is gone.
     */
    @Test
    void aUserVariantFileRunsIsRecordedWholeAndTheLogReplaysWithoutTheFile() throws Exception {
        Path file = Files.copy(EXAMPLE, dir.resolve("my-patch.yaml"));
        Path out = dir.resolve("run");

        CliTest.Outcome o = CliTest.shootdown("run", "--scenario", "kswapd-reclaim", "--kernel", file.toString(), "--engine", "sim",
                "--out", out.toString());

        assertEquals(Shootdown.EXIT_VIOLATIONS, o.status(), o.out() + o.err());
        assertTrue(o.out().contains("Shootdown audit: kswapd-reclaim on x86, v2-batch-hook-on-6.6"), o.out());
        assertTrue(o.out().contains("VIOLATION kernel-oops"), o.out());
        ControlEvent.RunStarted started = runStarted(out.resolve("events.jsonl"));
        assertEquals("v2-batch-hook-on-6.6", started.scenario().policy());
        assertEquals(KernelFiles.load(file), started.kernel(), "the resolved variant, every rule");

        Files.delete(file);
        CliTest.Outcome replay = CliTest.shootdown("replay", "--log", out.resolve("events.jsonl").toString(), "--out",
                dir.resolve("replay").toString());
        assertEquals(Shootdown.EXIT_VIOLATIONS, replay.status(), replay.out() + replay.err());
        assertTrue(replay.out().contains("every node emitted exactly what the log recorded"), replay.out());
        assertEquals(Files.readString(out.resolve("report.json")), Files.readString(dir.resolve("replay/report.json")));
    }

    @Test
    void theSameVariantUnderPolicyAndKernelNamesGivesTheSameLog() throws Exception {
        CliTest.shootdown("run", "--scenario", "munmap-dma", "--policy", "linux-6.5", "--engine", "sim", "--out",
                dir.resolve("policy").toString());
        CliTest.shootdown("run", "--scenario", "munmap-dma", "--kernel", "linux-6.5", "--engine", "sim", "--out",
                dir.resolve("kernel").toString());
        assertEquals(Files.readString(dir.resolve("policy/events.jsonl")), Files.readString(dir.resolve("kernel/events.jsonl")));
        assertEquals(KernelFiles.builtIn("linux-6.5").orElseThrow(), runStarted(dir.resolve("kernel/events.jsonl")).kernel());
    }

    /**
     * A log recorded by the build before variants were recorded (schema 1, munmap-dma under
     * linux-6.6): it audits to the report that build wrote; replaying it re-executes today's
     * linux-6.6, whose munmap now frees the page tables and says which flush it calls, so the
     * replay parts from the log and says so in one line.
     */
    @Test
    void aLogRecordedBeforeVariantsWereRecordedStillAuditsAndItsReplaySaysInOneLineWhereTodaysRulesPart() throws Exception {
        Path log = dir.resolve("old.jsonl.gz");
        try (InputStream in = getClass().getResourceAsStream("/logs/munmap-dma-x86-linux-6.6-schema1.jsonl.gz")) {
            Files.copy(in, log);
        }
        assertEquals(1, LogFile.read(log).ordered().get(0).schema());

        CliTest.Outcome audit = CliTest.shootdown("audit", "--log", log.toString(), "--out", dir.resolve("audit").toString());
        assertEquals(Shootdown.EXIT_CLEAN, audit.status(), audit.out() + audit.err());
        JsonNode expected;
        try (InputStream in = getClass().getResourceAsStream("/logs/munmap-dma-x86-linux-6.6-schema1.report.json")) {
            expected = EventCodec.mapper().readTree(in);
        }
        JsonNode actual = EventCodec.mapper().readTree(dir.resolve("audit/report.json").toFile());
        // what reports gained since that build: why the run ended (its run-completed's reason)
        assertEquals("every task finished and every device faulted on the changed range 3 times", actual.get("ended").asText());
        ((com.fasterxml.jackson.databind.node.ObjectNode) actual).remove("ended");
        assertEquals(expected, actual, "the old build's own report, and nothing else changed");

        CliTest.Outcome replay = CliTest.shootdown("replay", "--log", log.toString(), "--out", dir.resolve("replay").toString());
        assertEquals(Shootdown.EXIT_BAD_INPUT, replay.status(), replay.out() + replay.err());
        assertEquals(1, replay.err().lines().count(), "one line: " + replay.err());
        assertTrue(replay.err().startsWith("shootdown: coordinator diverges at coordinator#104: the log has MmTlbGenIncremented"),
                replay.err());
        assertTrue(replay.err().contains("re-executing the node gives PageTableFreed"), replay.err());
        assertTrue(replay.err().contains("recorded before runs recorded their kernel variant, schema 1: the replay ran today's "
                + "built-in linux-6.6"), replay.err());
    }

    @Test
    void aBadVariantFileIsOneLineWithItsFileLineColumnAndFieldAndExitTwo() throws Exception {
        Path bad = Files.writeString(dir.resolve("bad.yaml"), "name: bad\nextends: linux-6.6\ndescription: x\nx86:\n"
                + "  flush_tlb_mm_range:\n    hook: {mm: everyone, range: [start, end], at: after-flush}\n");
        for (String command : List.of("run", "matrix", "compare", "shrink")) {
            List<String> args = new java.util.ArrayList<>(List.of(command, "--scenario", "munmap-dma", "--kernel", bad.toString()));
            if (command.equals("compare")) {
                args.addAll(List.of("--kernel", "linux-6.6"));
            }
            CliTest.Outcome o = CliTest.shootdown(args.toArray(String[]::new));
            assertEquals(Shootdown.EXIT_BAD_INPUT, o.status(), command + ": " + o.err());
            assertEquals("shootdown: --kernel " + bad + ":6:12: x86.flush_tlb_mm_range.hook.mm: expected mm | current->mm, got "
                    + "\"everyone\"\n", o.err(), command);
        }
        CliTest.Outcome both = CliTest.shootdown("run", "--scenario", "munmap-dma", "--kernel", "linux-6.6", "--policy", "linux-6.5");
        assertEquals(Shootdown.EXIT_BAD_INPUT, both.status());
        assertEquals("shootdown: --kernel and --policy both name the kernel variant: give one of them\n", both.err());
        CliTest.Outcome unknown = CliTest.shootdown("run", "--scenario", "munmap-dma", "--kernel", "linux-6.7");
        assertEquals("shootdown: --kernel unknown kernel 'linux-6.7': expected one of linux-6.1, linux-6.5, series-v2, linux-6.6, linux-6.12 (shootdown "
                + "kernels), or a .yaml, .yml or .json kernel variant file\n", unknown.err());
        Path taken = Files.writeString(dir.resolve("taken.yaml"), "name: linux-6.6\nextends: linux-6.5\ndescription: x\n");
        CliTest.Outcome clash = CliTest.shootdown("run", "--scenario", "munmap-dma", "--kernel", taken.toString());
        assertEquals("shootdown: --kernel " + taken + ": its name linux-6.6 is a built-in kernel's; give the variant a name of its "
                + "own (name: ...)\n", clash.err());
    }

    @Test
    void kernelsListsTheBuiltInsExportsOneAndResolvesAFile() throws Exception {
        CliTest.Outcome list = CliTest.shootdown("kernels");
        assertEquals(Shootdown.EXIT_CLEAN, list.status());
        List<String> lines = list.out().lines().toList();
        assertEquals(KernelFiles.BUILT_INS.size(), lines.size(), list.out());
        for (int i = 0; i < lines.size(); i++) {
            KernelVariant v = KernelFiles.builtIn(KernelFiles.BUILT_INS.get(i)).orElseThrow();
            assertTrue(lines.get(i).startsWith(v.name() + " ") && lines.get(i).contains(v.description()), lines.get(i));
        }
        assertTrue(list.out().contains("(extends linux-6.6)"), list.out());

        CliTest.Outcome export = CliTest.shootdown("kernels", "--export", "series-v2");
        assertEquals(Files.readString(Path.of("..", "kernels", "series-v2.yaml")), export.out());

        CliTest.Outcome resolved = CliTest.shootdown("kernels", "--resolved", EXAMPLE.toString());
        Path written = Files.writeString(dir.resolve("resolved.yaml"), resolved.out());
        KernelVariant back = KernelFiles.load(written);
        KernelVariant original = KernelFiles.load(EXAMPLE);
        assertEquals(original.x86(), back.x86());
        assertEquals(original.arm64(), back.arm64());
        assertEquals(original.generic(), back.generic());

        CliTest.Outcome bad = CliTest.shootdown("kernels", "--export", "linux-4.2");
        assertEquals(Shootdown.EXIT_BAD_INPUT, bad.status());
        assertFalse(bad.err().contains("\tat "), bad.err());
    }
}
