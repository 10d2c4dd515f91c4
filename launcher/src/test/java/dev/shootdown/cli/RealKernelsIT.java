package dev.shootdown.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The validation harness, end to end: each kernel is captured from Debian's packages alone, booted
 * under QEMU with the harness's module and workloads (real-kernels/capture, which follows
 * docs/real-kernels.md), imported (clean), and the model's variant of it held against it: every
 * workload of real-kernels/workloads.yaml compared, each the same. Runs where QEMU is installed,
 * or wherever {@code SHOOTDOWN_REQUIRE_QEMU} is set (CI sets it; the script installs what it
 * lacks and keeps its downloads in its cache between runs).
 */
@Timeout(value = 40, unit = TimeUnit.MINUTES)
class RealKernelsIT {

    static final Path REAL = Path.of("..", "real-kernels");

    @ParameterizedTest
    @ValueSource(strings = {"linux-6.1", "linux-6.12", "linux-6.1-arm64", "linux-6.12-arm64"})
    void capturedFromDebianPackagesImportedCleanAndHeld(String kernel, @TempDir Path dir) throws IOException, InterruptedException {
        boolean required = System.getenv("SHOOTDOWN_REQUIRE_QEMU") != null;
        boolean arm64 = kernel.endsWith("-arm64");
        String qemu = arm64 ? "/usr/bin/qemu-system-aarch64" : "/usr/bin/qemu-system-x86_64";
        Assumptions.assumeTrue(required || Files.isExecutable(Path.of(qemu)),
                "no " + qemu + " installed (the harness installs it when SHOOTDOWN_REQUIRE_QEMU is set)");
        String variant = kernel.replace("-arm64", "");
        String arch = arm64 ? "arm64" : "x86";
        Path trace = dir.resolve(kernel + ".trace");
        Process capture = new ProcessBuilder(REAL.resolve("capture").toString(), kernel, trace.toString())
                .redirectErrorStream(true).redirectOutput(dir.resolve("capture.log").toFile()).start();
        assertTrue(capture.waitFor(25, TimeUnit.MINUTES), "real-kernels/capture " + kernel + " did not end");
        assertEquals(0, capture.exitValue(), "real-kernels/capture " + kernel + " failed:\n"
                + Files.readString(dir.resolve("capture.log")));

        CliTest.Outcome imported = CliTest.shootdown("import-ftrace", trace.toString(), "--arch", arch, "--out",
                dir.resolve("out").toString());
        assertEquals(Shootdown.EXIT_CLEAN, imported.status(), imported.out() + imported.err());
        assertTrue(imported.out().contains("verdict: clean (0 violations)"), imported.out());

        CliTest.Outcome held = CliTest.shootdown("hold", trace.toString(), "--kernel", variant, "--arch", arch, "--workloads",
                REAL.resolve("workloads.yaml").toString());
        assertEquals(Shootdown.EXIT_CLEAN, held.status(), held.out() + held.err());
        assertTrue(held.out().endsWith("8 of 8 workloads compared: the model matches the kernel\n"), held.out());
    }
}
