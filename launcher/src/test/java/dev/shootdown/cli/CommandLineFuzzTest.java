package dev.shootdown.cli;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Coverage-guided fuzzing (Jazzer) of the command line: a command that reads the user's input
 * (run on the deterministic engine, compare, experiment, audit, import-ftrace, hold, scenarios,
 * kernels; shrink, whose delta debugging runs the scenario hundreds of times, is left out) with up
 * to eight fuzzed arguments, half of them picked from the words these commands take, in a process environment of its own (no
 * SHOOTDOWN_* defaults). Every input must end in exit 0, 1 or 2; bad input (2) gets one line
 * starting with "shootdown: " (and picocli's "try '... --help'" after a parameter error), and
 * nothing prints a stack trace. Arguments that would reach out of this JVM are left out (a Kafka
 * cluster, node processes, --verbose, which prints stack traces by design), and the commands that
 * run simulations are held to the deterministic engine, a small event limit and a scratch
 * directory. Under {@code mvn test} the seeds and past findings run (src/test/resources/
 * dev/shootdown/cli/CommandLineFuzzTestInputs/commandLine); with {@code JAZZER_FUZZ=1} it fuzzes
 * for {@code maxDuration} (.ci/run does).
 */
class CommandLineFuzzTest {

    private static final List<String> COMMANDS = List.of("run", "compare", "experiment", "audit", "import-ftrace", "hold",
            "scenarios", "kernels");
    /** The commands that run simulations: held to the deterministic engine and a small event limit. */
    private static final List<String> SIMULATE = List.of("run", "compare");
    private static final List<String> FORBIDDEN = List.of("--bootstrap-servers", "--nodes", "--broker-dir", "--verbose",
            "--run-timeout", "--engine", "--max-events", "--out", "--jobs", "--prefix", "--run");

    /**
     * Words the fuzzer may pick whole (half its arguments): the options these commands take, and
     * values that exist here, so that inputs reach past the parser into the commands.
     */
    private static final List<String> TOKENS = List.of("--scenario", "--kernel", "--policy", "--arch", "--seed", "--faults",
            "--log", "--workloads", "--stall-window", "--livelock-threshold", "--json", "--quiet", "--all", "--strict", "--help",
            "--export", "--resolved", "--seeds", "--cpus", "--iommus", "munmap-dma", "mprotect-downgrade", "kswapd-reclaim",
            "direct-reclaim-cross-mm", "smmu-permission-upgrade", "linux-6.1", "linux-6.6", "linux-6.12", "series-v2", "x86",
            "arm64", "0", "1", "-1", "3", "100000", "9223372036854775807", "", "-", "..",
            repo("faults/lost-ipi.yaml"), repo("faults/node-bug.yaml"), repo("faults/kill-mid-shootdown.yaml"),
            repo("kernels/examples/v2-batch-hook-on-6.6.yaml"), repo("kernels/linux-6.1.yaml"),
            repo("real-kernels/workloads.yaml"),
            repo("real-kernels/scenarios/memcg-reclaim.yaml"),
            repo("real-kernels/captures/linux-6.12.117-deb13-cloud-amd64.trace"), repo("README.md"), repo("scenarios"));

    private static String repo(String path) {
        return Path.of("..").resolve(path).toAbsolutePath().normalize().toString();
    }

    private static final Path DIR;

    static {
        try {
            DIR = Files.createTempDirectory("shootdown-cli-fuzz");
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    @FuzzTest(maxDuration = "5s")
    void commandLine(FuzzedDataProvider data) {
        String command = data.pickValue(COMMANDS);
        List<String> args = new ArrayList<>(List.of(command));
        int n = data.consumeInt(0, 8);
        for (int i = 0; i < n; i++) {
            String arg = data.consumeBoolean() ? data.pickValue(TOKENS) : data.consumeString(60);
            for (String f : FORBIDDEN) {
                if (arg.startsWith(f) || arg.startsWith("@")) {
                    return; // not this JVM's to try (see the class comment); @FILE reads arguments from a file
                }
            }
            args.add(arg);
        }
        if (SIMULATE.contains(command)) {
            args.addAll(List.of("--engine", "sim", "--max-events", "20000"));
        }
        if (!command.equals("scenarios") && !command.equals("kernels")) {
            args.addAll(List.of("--out", DIR.resolve("out").toString()));
        }
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        int status = Shootdown.execute(new PrintWriter(out, true), new PrintWriter(err, true), Map.of(), args.toArray(String[]::new));

        String said = "args " + args + "\nstatus " + status + "\nstderr:\n" + err;
        assertTrue(status == Shootdown.EXIT_CLEAN || status == Shootdown.EXIT_VIOLATIONS || status == Shootdown.EXIT_BAD_INPUT,
                said);
        // a stack frame is a line of its own ("\tat pkg.Class.method(File.java:12)"); an argument echoed may hold "\tat "
        assertFalse(err.toString().lines().anyMatch(l -> l.matches("\\tat [\\w$.<>/]+\\(.*\\)")), "no stack trace: " + said);
        if (status == Shootdown.EXIT_BAD_INPUT) {
            List<String> lines = err.toString().lines().toList();
            assertTrue(!lines.isEmpty() && lines.get(0).startsWith("shootdown: "), said);
            assertTrue(lines.size() == 1 || lines.size() == 2 && lines.get(1).startsWith("try '") && lines.get(1).endsWith(" --help'"),
                    "one line: " + said);
        }
    }
}
