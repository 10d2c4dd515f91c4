package dev.shootdown.fuzz;

import static org.junit.jupiter.api.Assertions.assertFalse;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.shootdown.codec.EventCodec;
import dev.shootdown.codec.LogFormatException;
import dev.shootdown.fault.file.FaultPlanException;
import dev.shootdown.fault.file.FaultPlans;
import dev.shootdown.kernel.file.KernelFiles;
import dev.shootdown.scenario.file.ScenarioFileException;
import dev.shootdown.scenario.file.ScenarioFiles;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Coverage-guided fuzzing (Jazzer) of every reader of user input: scenario files, fault plans,
 * kernel variant files, log lines. Each input must either read or be refused with the reader's
 * own exception and a one-line message; any other exception is a finding. Under {@code mvn test}
 * each target runs its seeds and past findings (src/test/resources/dev/shootdown/fuzz/
 * InputFuzzTestInputs/TARGET); with {@code JAZZER_FUZZ=1} and {@code -Dtest=InputFuzzTest#TARGET}
 * it fuzzes that target for {@code maxDuration} (.ci/run does each); runs again continue from the
 * corpus Jazzer keeps in services/.cifuzz-corpus.
 */
class InputFuzzTest {

    private static final Path DIR;

    static {
        try {
            DIR = Files.createTempDirectory("shootdown-fuzz");
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static Path write(String name, byte[] bytes) {
        try {
            return Files.write(DIR.resolve(name), bytes);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static void oneLine(Exception e) {
        assertFalse(e.getMessage() == null || e.getMessage().contains("\n"), "one line: " + e.getMessage());
    }

    @FuzzTest(maxDuration = "5s")
    void scenarioFile(FuzzedDataProvider data) {
        Path file = write("scenario.yaml", data.consumeRemainingAsBytes());
        try {
            ScenarioFiles.load(file);
        } catch (ScenarioFileException e) {
            oneLine(e);
        }
    }

    @FuzzTest(maxDuration = "5s")
    void faultPlan(FuzzedDataProvider data) {
        Path file = write("faults.yaml", data.consumeRemainingAsBytes());
        try {
            FaultPlans.read(file);
        } catch (FaultPlanException e) {
            oneLine(e);
        }
    }

    @FuzzTest(maxDuration = "5s")
    void kernelVariant(FuzzedDataProvider data) {
        Path file = write("kernel.yaml", data.consumeRemainingAsBytes());
        try {
            KernelFiles.load(file);
        } catch (ScenarioFileException e) {
            oneLine(e);
        }
    }

    @FuzzTest(maxDuration = "5s")
    void logLine(FuzzedDataProvider data) {
        try {
            EventCodec.decode(data.consumeRemainingAsString());
        } catch (LogFormatException e) {
            oneLine(e);
        }
    }
}
