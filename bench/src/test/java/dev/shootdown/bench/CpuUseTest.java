package dev.shootdown.bench;

import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class CpuUseTest {

    /** Busy work on this thread shows in the process's processor time; the JIT's share is a part of it. */
    @Test
    void countsTheProcessorTimeSpentBetweenTwoReadings() {
        CpuUse before = CpuUse.now();
        long x = 0;
        long until = System.nanoTime() + 300_000_000L;
        while (System.nanoTime() < until) {
            x += Long.numberOfTrailingZeros(x + System.nanoTime());
        }
        CpuUse used = CpuUse.now().since(before);
        assertTrue(x >= 0);
        assertTrue(used.cpuNs() >= 250_000_000L, "300 ms of spinning, yet " + used.cpuNs() + " ns of processor time");
        assertTrue(used.jitNs() <= used.cpuNs() && used.gcNs() <= used.cpuNs(), used.toString());
        assertTrue(used.describe("the test").contains("of processor time in 0.3 s"), used.describe("the test"));
    }
}
