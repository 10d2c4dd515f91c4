package dev.shootdown.scenario;

import dev.shootdown.event.Access;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;

/** The built-in scenarios, by name. */
public final class Scenarios {

    /** Where process A's buffer lives. */
    public static final long BUFFER = 0x7f0000000000L;

    private static final Map<String, Scenario> BUILT_IN = new TreeMap<>();

    static {
        register(munmapDma());
    }

    private Scenarios() {}

    private static void register(Scenario s) {
        BUILT_IN.put(s.name(), s);
    }

    /** The scenario called {@code name}, if built in. */
    public static Optional<Scenario> builtIn(String name) {
        return Optional.ofNullable(BUILT_IN.get(name));
    }

    /** Every built-in scenario's name. */
    public static List<String> names() {
        return List.copyOf(BUILT_IN.keySet());
    }

    /**
     * munmap-dma: process A (mm 1) runs two threads, on CPU 0 and CPU 1, and is bound with SVA
     * (PASID 1) to a device with an ATC behind IOMMU 0. All three cache translations of a 16-page
     * buffer; the thread on CPU 0 then unmaps it while the device keeps doing DMA and the thread
     * on CPU 1 keeps reading. Afterwards every access must fault: CPU 1's thread gets SIGSEGV and
     * the device's page requests are answered INVALID, never a freed frame.
     */
    public static Scenario munmapDma() {
        int pages = 16;
        return new Scenario(
                "munmap-dma",
                "x86",
                "linux-6.6",
                2,
                1,
                List.of(new Scenario.MmSpec(1, List.of(new Scenario.VmaSpec(BUFFER, pages, true, true)))),
                List.of(
                        new Scenario.TaskSpec(100, 1, 0, List.of(
                                new TaskOp.Touch(BUFFER, pages, Access.WRITE, 2),
                                new TaskOp.Munmap(BUFFER, pages))),
                        new Scenario.TaskSpec(101, 1, 1, List.of(
                                new TaskOp.Touch(BUFFER, pages, Access.READ, 0)))),
                List.of(new Scenario.DeviceSpec("dev0", 0, 1, 1, true,
                        new Scenario.DmaProgram(BUFFER, pages, Access.WRITE, 1_000))),
                new Scenario.Timing(500, 800),
                new Scenario.EndCondition(3));
    }
}
