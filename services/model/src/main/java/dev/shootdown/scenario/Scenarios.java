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
    private static final Map<String, String> SUMMARIES = new TreeMap<>();

    /**
     * The observation window of the scenarios that never end by themselves (reclaim, a device
     * that faults forever): 1 ms of simulated time, 4 s of wall time on the Kafka host.
     */
    public static final long WINDOW_NS = 1_000_000;

    /** Where a process's growing heap lives (the stress-ng --bigheap allocations). */
    public static final long HEAP = 0x7f1000000000L;

    static {
        register(munmapDma(), "munmap(2) of a buffer two CPUs and a device (SVA, ATC) are using");
        register(smmuPermissionUpgrade(), "a device writes copy-on-write pages that the fault handler makes writable in place");
        register(kswapdReclaim(), "kswapd, a kernel thread with no mm, reclaims a buffer a device is writing");
        register(directReclaimCrossMm(), "one process's page faults reclaim another's buffer, which a device is writing");
        register(mprotectDowngrade(), "mprotect(2) makes a buffer read-only while a device keeps writing it");
    }

    private Scenarios() {}

    private static void register(Scenario s, String summary) {
        BUILT_IN.put(s.name(), s);
        SUMMARIES.put(s.name(), summary);
    }

    /** One line on what the built-in {@code name} models (its factory's Javadoc says more). */
    public static String summary(String name) {
        return SUMMARIES.getOrDefault(name, "");
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
                Arch.X86,
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

    /**
     * smmu-permission-upgrade: process A's 4-page buffer is writable, but its PTEs are read-only,
     * as fork leaves copy-on-write pages whose other user has exited. A device (no ATS) reads and
     * then writes each page. The read caches the read-only translation in the IOTLB; the write
     * faults through PRI, and the fault handler reuses the page with ptep_set_access_flags. What
     * the secondary TLB sees of that upgrade is the question (the seed's arm64 livelock).
     */
    public static Scenario smmuPermissionUpgrade() {
        int pages = 4;
        return new Scenario(
                "smmu-permission-upgrade",
                Arch.ARM64,
                "linux-6.6",
                1,
                1,
                List.of(new Scenario.MmSpec(1, List.of(new Scenario.VmaSpec(BUFFER, pages, true, true, true)))),
                List.of(new Scenario.TaskSpec(100, 1, 0, List.of(new TaskOp.Touch(BUFFER, pages, Access.READ, 0)))),
                List.of(new Scenario.DeviceSpec("dev0", 0, 1, 1, false,
                        new Scenario.DmaProgram(BUFFER, pages, List.of(Access.READ, Access.WRITE), 1_000))),
                new Scenario.Timing(500, 800),
                new Scenario.EndCondition(0, WINDOW_NS),
                Scenario.Memory.UNLIMITED,
                null);
    }

    /**
     * kswapd-reclaim: process A (mm 1) grows its heap on CPU 1 (stress-ng --bigheap) while a
     * second thread reads its 16-page DMA buffer on CPU 2 and a device with an ATC writes that
     * buffer. A third, short-lived thread ran on CPU 0 and exited, so CPU 0 is lazy on mm 1 when
     * kswapd0 (a kernel thread: current->mm == NULL) runs there. Memory is 48 frames; below the
     * low watermark kswapd reclaims the oldest folios, A's buffer, with a batched flush.
     */
    public static Scenario kswapdReclaim() {
        int bufferPages = 16;
        int heapPages = 64;
        return new Scenario(
                "kswapd-reclaim",
                Arch.X86,
                "linux-6.6",
                3,
                1,
                List.of(new Scenario.MmSpec(1, List.of(
                        new Scenario.VmaSpec(BUFFER, bufferPages, true, true),
                        new Scenario.VmaSpec(HEAP, heapPages, true, false)))),
                List.of(
                        new Scenario.TaskSpec(102, 1, 0, List.of(new TaskOp.Touch(BUFFER, 1, Access.READ, 1))),
                        new Scenario.TaskSpec(100, 1, 1, List.of(new TaskOp.Touch(HEAP, heapPages, Access.WRITE, 1))),
                        new Scenario.TaskSpec(101, 1, 2, List.of(new TaskOp.Touch(BUFFER, bufferPages, Access.READ, 0)))),
                List.of(new Scenario.DeviceSpec("dev0", 0, 1, 1, true,
                        new Scenario.DmaProgram(BUFFER, bufferPages, Access.WRITE, 1_000))),
                new Scenario.Timing(500, 800),
                new Scenario.EndCondition(0, WINDOW_NS),
                new Scenario.Memory(32, 4, 14, 20, 8),
                new Scenario.Kswapd(0));
    }

    /**
     * direct-reclaim-cross-mm: process A (mm 1) reads its 16-page buffer once on CPU 0, then
     * computes there, and is bound to a device with an ATC that keeps writing the buffer. Process B (mm 2) grows its heap on CPU 1.
     * Memory is 24 frames and there is no kswapd: B's page faults reclaim directly, in B's
     * context (current->mm is B's mm), and the oldest folios are A's buffer. B computes for
     * 200 us first, so the device has cached the whole buffer when reclaim starts.
     */
    public static Scenario directReclaimCrossMm() {
        int bufferPages = 16;
        int heapPages = 32;
        return new Scenario(
                "direct-reclaim-cross-mm",
                Arch.X86,
                "linux-6.6",
                2,
                1,
                List.of(
                        new Scenario.MmSpec(1, List.of(new Scenario.VmaSpec(BUFFER, bufferPages, true, true))),
                        new Scenario.MmSpec(2, List.of(new Scenario.VmaSpec(HEAP, heapPages, true, false)))),
                List.of(
                        new Scenario.TaskSpec(100, 1, 0, List.of(
                                new TaskOp.Touch(BUFFER, bufferPages, Access.READ, 1),
                                new TaskOp.Compute(WINDOW_NS))),
                        new Scenario.TaskSpec(200, 2, 1, List.of(
                                new TaskOp.Compute(200_000),
                                new TaskOp.Touch(HEAP, heapPages, Access.WRITE, 1)))),
                List.of(new Scenario.DeviceSpec("dev0", 0, 1, 1, true,
                        new Scenario.DmaProgram(BUFFER, bufferPages, Access.WRITE, 1_000))),
                new Scenario.Timing(500, 800),
                new Scenario.EndCondition(0, WINDOW_NS),
                new Scenario.Memory(24, 2, 2, 2, 8),
                null);
    }

    /**
     * mprotect-downgrade: process A's thread on CPU 0 writes its 8-page buffer, makes it
     * read-only with mprotect, then reads it; a thread on CPU 1 reads it throughout; a device
     * with an ATC keeps writing it. After mprotect returns no write may succeed: the device's
     * page requests must be answered INVALID.
     */
    public static Scenario mprotectDowngrade() {
        int pages = 8;
        return new Scenario(
                "mprotect-downgrade",
                Arch.X86,
                "linux-6.6",
                2,
                1,
                List.of(new Scenario.MmSpec(1, List.of(new Scenario.VmaSpec(BUFFER, pages, true, true)))),
                List.of(
                        new Scenario.TaskSpec(100, 1, 0, List.of(
                                new TaskOp.Touch(BUFFER, pages, Access.WRITE, 2),
                                new TaskOp.Mprotect(BUFFER, pages, false),
                                new TaskOp.Touch(BUFFER, pages, Access.READ, 1))),
                        new Scenario.TaskSpec(101, 1, 1, List.of(new TaskOp.Touch(BUFFER, pages, Access.READ, 3)))),
                List.of(new Scenario.DeviceSpec("dev0", 0, 1, 1, true,
                        new Scenario.DmaProgram(BUFFER, pages, Access.WRITE, 1_000))),
                new Scenario.Timing(500, 800),
                new Scenario.EndCondition(3, 0),
                Scenario.Memory.UNLIMITED,
                null);
    }
}
