package dev.shootdown.testing;

import dev.shootdown.event.ControlEvent;
import dev.shootdown.kernel.KernelVariant;
import dev.shootdown.kernel.file.KernelFiles;
import dev.shootdown.scenario.Scenario;

/** Run-started events for tests, with the built-in kernel variant the scenario's policy names. */
public final class TestRuns {

    private TestRuns() {}

    public static KernelVariant kernel(Scenario s) {
        return KernelFiles.builtIn(s.policy()).orElseThrow();
    }

    public static ControlEvent.RunStarted runStarted(String runId, long seed, Scenario s) {
        return new ControlEvent.RunStarted(runId, seed, s, kernel(s));
    }
}
