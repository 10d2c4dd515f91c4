package dev.shootdown.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code shootdown import-ftrace FILE}: a real kernel's capture as a log that audit reads like a run's. */
class ImportFtraceCommandTest {

    static final Path CAPTURES = Path.of("..", "real-kernels", "captures");
    static final String K612 = "linux-6.12.117-deb13-cloud-amd64.trace";

    @Test
    void importsAuditsAndPrintsTheWorkloadsShootdowns(@TempDir Path out) throws IOException {
        CliTest.Outcome o = CliTest.shootdown("import-ftrace", CAPTURES.resolve(K612).toString(), "--out", out.toString());

        assertEquals(Shootdown.EXIT_CLEAN, o.status(), o.err());
        assertEquals("", o.err());
        assertTrue(o.out().startsWith("imported " + K612 + " (648 lines, sha256 "), o.out());
        assertTrue(o.out().contains("mm 4 = 0xffff89e441070b00 (first seen in tlbprobe-148)"), o.out());
        assertTrue(o.out().contains("what a trace cannot show, so this audit does not check:"), o.out());
        // the table of the workload's shootdowns, then the steps of the first that called the hook and freed frames
        assertTrue(o.out().contains("""
                    83  munmap               cpu0    4        2                1         1    17  secondary-after-cpu   +108.000 us
                """), o.out());
        assertTrue(o.out().contains("""
                   101  madvise_pageout      cpu0    6        2                8         1     8  secondary-before-cpu  -23.000 us
                """), o.out());
        assertTrue(o.out().contains("shootdown 83: munmap [0x7f8c757d8000, 0x7f8c757e8000) of mm 4 by cpu0"), o.out());
        assertTrue(o.out().contains("arch_invalidate_secondary_tlbs(mm 4, 0x7f8c757d8000, 0x7f8c757e8000)"), o.out());
        assertTrue(o.out().contains("(the steps of shootdown 83, the first that called the hook and freed frames;"), o.out());
        assertTrue(!o.out().contains("     1  flush_tlb_mm_range"), "the boot's own flushes are in report.json only");
        assertTrue(o.out().contains("verdict: clean (0 violations)"), o.out());
        assertTrue(Files.readString(out.resolve("report.html")).contains("id=\"shootdown-83\""), "its timeline is drawn");

        // The log it wrote is audited by `audit` into the same report, and refused by `replay` in one line.
        CliTest.Outcome audit = CliTest.shootdown("audit", "--log", out.resolve("events.jsonl").toString(), "--out",
                out.resolve("again").toString());
        assertEquals(Shootdown.EXIT_CLEAN, audit.status(), audit.err());
        assertEquals(Files.readString(out.resolve("report.json")), Files.readString(out.resolve("again/report.json")));
        // --all prints every shootdown as an imported one (no PTE values in a trace), from the report written
        CliTest.Outcome all = CliTest.shootdown("audit", "--log", out.resolve("events.jsonl").toString(), "--out",
                out.resolve("all").toString(), "--all");
        assertEquals(Shootdown.EXIT_CLEAN, all.status(), all.err());
        assertTrue(all.out().contains("\nshootdown 83: munmap [0x7f8c757d8000, 0x7f8c757e8000) of mm 4 by cpu0\n"), all.out());
        assertTrue(!all.out().contains("PTE change"), all.out());
        assertTrue(all.out().contains("\nverdict: clean (0 violations)\n"), all.out());
        CliTest.Outcome replay = CliTest.shootdown("replay", "--log", out.resolve("events.jsonl").toString(), "--out",
                out.resolve("replayed").toString());
        assertEquals(Shootdown.EXIT_BAD_INPUT, replay.status());
        assertEquals("shootdown: log " + out.resolve("events.jsonl") + " was imported from a kernel trace (" + K612
                + "): it has no simulated nodes to replay; `shootdown audit --log` audits it\n", replay.err());
    }

    @Test
    void aBrokenKernelsCaptureExitsOneWithTheViolation(@TempDir Path dir) throws IOException {
        List<String> lines = new ArrayList<>(Files.readAllLines(CAPTURES.resolve(K612)));
        lines.removeIf(l -> l.contains("3.790755: stlb_secondary:")); // the munmap's secondary TLB never invalidated
        Path capture = dir.resolve("broken.trace");
        Files.write(capture, lines);

        CliTest.Outcome o = CliTest.shootdown("import-ftrace", capture.toString(), "--out", dir.resolve("out").toString());

        assertEquals(Shootdown.EXIT_VIOLATIONS, o.status(), o.err());
        assertTrue(o.out().contains("VIOLATION missing-secondary-invalidation on stlb at 0x7f8c757d8000"), o.out());
    }

    @Test
    void badInputIsOneLineAndExitTwo(@TempDir Path dir) throws IOException {
        Path capture = dir.resolve("bad.trace");
        Files.write(capture, List.of("# tracer: nop", "not a line of ftrace"));

        CliTest.Outcome bad = CliTest.shootdown("import-ftrace", capture.toString(), "--out", dir.resolve("out").toString());
        assertEquals(Shootdown.EXIT_BAD_INPUT, bad.status());
        assertEquals("shootdown: bad.trace:2: expected an ftrace event line, TASK-PID [CPU] FLAGS SECONDS: EVENT: ...,"
                + " found `not a line of ftrace`\n", bad.err());

        CliTest.Outcome missing = CliTest.shootdown("import-ftrace", dir.resolve("nope.trace").toString());
        assertEquals(Shootdown.EXIT_BAD_INPUT, missing.status());
        assertEquals("shootdown: " + dir.resolve("nope.trace") + ": no such file\n", missing.err());

        CliTest.Outcome arch = CliTest.shootdown("import-ftrace", CAPTURES.resolve(K612).toString(), "--arch", "riscv",
                "--out", dir.resolve("out2").toString());
        assertEquals(Shootdown.EXIT_BAD_INPUT, arch.status());
        assertEquals("shootdown: --arch: expected x86 or arm64, found riscv\n", arch.err());
    }
}
