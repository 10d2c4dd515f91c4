package dev.shootdown.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.condition.EnabledOnOs;
import org.junit.jupiter.api.condition.OS;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * A disk that fills while a run is written ends the command with one line naming the file it
 * could not write, exit 3, and no stack trace: each file of the output directory in turn is
 * Linux's /dev/full (every write fails with ENOSPC), as a full disk would make it.
 */
@EnabledOnOs(OS.LINUX)
class FullDiskTest {

    static final String NO_SPACE = "No space left on device";

    @ParameterizedTest
    @ValueSource(strings = {"events.jsonl", ".report-violations.jsonl.spool", ".report-shootdowns.jsonl.spool", "report.json",
            "report.html"})
    void aRunWhoseFileCannotBeWrittenSaysWhichAndExitsThree(String file, @TempDir Path dir) throws IOException {
        Path out = dir.resolve("out");
        Files.createDirectories(out);
        Files.createSymbolicLink(out.resolve(file), Path.of("/dev/full"));

        CliTest.Outcome o = CliTest.shootdown("run", "--scenario", "direct-reclaim-cross-mm", "--kernel", "series-v2", "--engine",
                "sim", "--out", out.toString());

        assertEquals(Shootdown.EXIT_INFRASTRUCTURE, o.status(), o.out() + o.err());
        assertEquals("shootdown: I/O error: " + out.resolve(file) + ": cannot write: " + NO_SPACE + "\n", o.err());
    }

    @ParameterizedTest
    @ValueSource(strings = {"events.jsonl", ".report-violations.jsonl.spool", "report.json"})
    void anExperimentWhoseCellCannotBeWrittenSaysWhichAndStops(String file, @TempDir Path dir) throws IOException {
        Path spec = dir.resolve("spec.yaml");
        Files.writeString(spec, """
                name: full-disk
                engine: sim
                scenarios: [direct-reclaim-cross-mm]
                archs: [x86]
                policies: [linux-6.6, series-v2]
                faults: [none]
                seeds: {from: 1, count: 1}
                """);
        Path cell = dir.resolve("out/direct-reclaim-cross-mm/x86/none/series-v2/seed-1");
        Files.createDirectories(cell);
        Files.createSymbolicLink(cell.resolve(file), Path.of("/dev/full"));

        CliTest.Outcome o = CliTest.shootdown("experiment", spec.toString(), "--out", dir.resolve("out").toString(),
                "--no-progress");

        assertEquals(Shootdown.EXIT_INFRASTRUCTURE, o.status(), o.out() + o.err());
        assertEquals("shootdown: I/O error: " + cell.resolve(file) + ": cannot write: " + NO_SPACE + "\n", o.err());
    }
}
