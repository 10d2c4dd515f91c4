package dev.shootdown.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** The {@code ./shootdown} script at the repository root, as a user runs it, in its own process. */
@Timeout(value = 5, unit = TimeUnit.MINUTES)
class ShootdownScriptIT {

    private static final Path ROOT = Path.of(System.getProperty("user.dir")).getParent();

    private static String run(Path out, int expectedStatus, String... args) throws Exception {
        String[] command = new String[args.length + 1];
        command[0] = ROOT.resolve("shootdown").toString();
        System.arraycopy(args, 0, command, 1, args.length);
        Path output = out.resolve("output.txt");
        Process p = new ProcessBuilder(command).directory(ROOT.toFile()).redirectErrorStream(true)
                .redirectOutput(output.toFile()).start();
        assertTrue(p.waitFor(4, TimeUnit.MINUTES), "the script finished");
        String text = Files.readString(output, StandardCharsets.UTF_8);
        assertEquals(expectedStatus, p.exitValue(), text);
        return text;
    }

    @Test
    void theScriptRunsTheCommand(@TempDir Path dir) throws Exception {
        String text = run(dir, 0, "run", "--scenario", "munmap-dma", "--engine", "sim", "--seed", "3", "--out",
                dir.resolve("out").toString());
        assertTrue(text.contains("verdict: clean"), text);
        assertTrue(Files.size(dir.resolve("out").resolve("events.jsonl")) > 0);
    }

    @Test
    void installPutsTheCommandOnThePathAndItRunsFromAnyDirectory(@TempDir Path dir) throws Exception {
        Path prefix = dir.resolve("prefix");
        String text = run(dir, 0, "install", "--prefix", prefix.toString());
        Path command = prefix.resolve("bin/shootdown");
        assertTrue(text.contains("installed " + command + " (it runs " + ROOT.resolve("shootdown") + ")"), text);
        assertTrue(Files.isExecutable(command));

        Path elsewhere = Files.createDirectories(dir.resolve("elsewhere"));
        Path output = dir.resolve("installed.txt");
        Process p = new ProcessBuilder(command.toString(), "scenarios").directory(elsewhere.toFile()).redirectErrorStream(true)
                .redirectOutput(output.toFile()).start();
        assertTrue(p.waitFor(4, TimeUnit.MINUTES), "the installed command finished");
        String listed = Files.readString(output, StandardCharsets.UTF_8);
        assertEquals(0, p.exitValue(), listed);
        assertTrue(listed.contains("munmap-dma"), listed);
    }

    @Test
    void theScriptPassesTheExitStatusThrough(@TempDir Path dir) throws Exception {
        String text = run(dir, 2, "run", "--scenario", "no-such-scenario", "--engine", "sim");
        assertTrue(text.contains("unknown scenario 'no-such-scenario'"), text);
    }
}
