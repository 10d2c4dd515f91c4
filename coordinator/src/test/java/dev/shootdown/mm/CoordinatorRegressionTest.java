package dev.shootdown.mm;

import dev.shootdown.core.Decision;
import dev.shootdown.event.Access;
import dev.shootdown.event.FaultEvent;
import dev.shootdown.event.IpiEvent;
import dev.shootdown.event.Kernel;
import dev.shootdown.event.SecondaryTlbEvent;
import dev.shootdown.event.SyscallEvent;
import dev.shootdown.kernel.file.KernelFiles;
import dev.shootdown.scenario.Arch;
import dev.shootdown.scenario.Scenario;
import dev.shootdown.scenario.TaskOp;
import dev.shootdown.testing.TestRuns;
import java.util.List;
import org.junit.jupiter.api.Test;
import static org.junit.jupiter.api.Assertions.assertEquals;

/** Regressions found while writing {@link CoordinatorTest}: the end condition and per-PASID completions. */
class CoordinatorRegressionTest {
    static final long BUF = 0x7f0000000000L;
    static final long PAGE = Kernel.PAGE_SIZE;

    @Test
    void givenTwoMunmaps_whenDeviceFaultsPrecedeOnlyTheFirstReturn_thenTheRunDoesNotCompleteAfterTheLast() {
        Coordinator c = new Coordinator(KernelFiles.catalog());
        long now = 0;
        Scenario s = new Scenario("two-munmaps", Arch.X86, "linux-6.6", 2, 1,
                List.of(new Scenario.MmSpec(1, List.of(new Scenario.VmaSpec(BUF, 2, true, true)))),
                List.of(new Scenario.TaskSpec(100, 1, 0, List.of(new TaskOp.Munmap(BUF, 1))),
                        new Scenario.TaskSpec(101, 1, 1, List.of(new TaskOp.Munmap(BUF + PAGE, 1)))),
                List.of(new Scenario.DeviceSpec("dev0", 0, 1, 1, false, new Scenario.DmaProgram(BUF, 2, Access.WRITE, 1_000))),
                new Scenario.Timing(500, 800), new Scenario.EndCondition(1));
        c.onEvent(TestRuns.runStarted("r", 1, s), now);
        // Task 100 unmaps page 0; the shootdown completes.
        c.onEvent(new SyscallEvent.Munmap("coordinator", "cpu0", 100, 1, BUF, BUF + PAGE), now);
        c.onEvent(new IpiEvent.TlbFlushed("coordinator", "cpu0", 1, BUF, BUF + PAGE, IpiEvent.FlushKind.PARTIAL, 1, 1, 1), now);
        c.onEvent(new IpiEvent.TlbFlushed("coordinator", "cpu1", 1, BUF, BUF + PAGE, IpiEvent.FlushKind.PARTIAL, 1, 1, 1), now);
        c.onEvent(new SecondaryTlbEvent.SecondaryTlbsInvalidated("coordinator", "iommu0", 1, 1, BUF, BUF + PAGE, 1), now);
        c.onEvent(new SyscallEvent.TaskExited("coordinator", "cpu0", 100, 1, "exit"), now);
        // The device faults on page 0 once: that satisfies EndCondition(1) for the first munmap only.
        c.onEvent(new FaultEvent.DeviceFaultRaised("coordinator", "iommu0", "dev0", 1, 1, BUF, Access.WRITE), now);
        // Task 101 then unmaps page 1 and exits.
        c.onEvent(new SyscallEvent.Munmap("coordinator", "cpu1", 101, 1, BUF + PAGE, BUF + 2 * PAGE), now);
        // cpu0's task exited, so cpu0 is lazy; but page 1 was the mm's last VMA, free_pgtables frees its page
        // tables, and with freed_tables native_flush_tlb_multi IPIs lazy CPUs too: cpu0 and cpu1 both flush.
        c.onEvent(new IpiEvent.TlbFlushed("coordinator", "cpu1", 1, BUF + PAGE, BUF + 2 * PAGE, IpiEvent.FlushKind.PARTIAL, 2, 1, 2), now);
        c.onEvent(new IpiEvent.TlbFlushed("coordinator", "cpu0", 1, BUF + PAGE, BUF + 2 * PAGE, IpiEvent.FlushKind.LAZY, 1, 0, 2), now);
        c.onEvent(new SecondaryTlbEvent.SecondaryTlbsInvalidated("coordinator", "iommu0", 1, 1, BUF + PAGE, BUF + 2 * PAGE, 2), now);

        Decision exited = c.onEvent(new SyscallEvent.TaskExited("coordinator", "cpu1", 101, 1, "exit"), now);

        // Scenario.EndCondition: "page requests answered after the last munmap returned" -- none yet.
        assertEquals(Decision.NONE, exited);
    }

    @Test
    void givenTwoDevicesOfTheMmBehindOneIommuWithTheirOwnPasids_whenOnlyOneInvalidationCompleted_thenNoFrameIsFreed() {
        Coordinator c = new Coordinator(KernelFiles.catalog());
        long now = 0;
        Scenario s = new Scenario("two-pasids", Arch.X86, "linux-6.6", 1, 1,
                List.of(new Scenario.MmSpec(1, List.of(new Scenario.VmaSpec(BUF, 1, true, true)))),
                List.of(new Scenario.TaskSpec(100, 1, 0, List.of(new TaskOp.Munmap(BUF, 1)))),
                List.of(new Scenario.DeviceSpec("dev0", 0, 1, 1, true, new Scenario.DmaProgram(BUF, 1, Access.WRITE, 1_000)),
                        new Scenario.DeviceSpec("dev1", 0, 2, 1, true, new Scenario.DmaProgram(BUF, 1, Access.WRITE, 1_000))),
                new Scenario.Timing(500, 800), new Scenario.EndCondition(1));
        c.onEvent(TestRuns.runStarted("r", 1, s), now);
        c.onEvent(new SyscallEvent.Munmap("coordinator", "cpu0", 100, 1, BUF, BUF + PAGE), now);
        Decision hook = c.onEvent(new IpiEvent.TlbFlushed("coordinator", "cpu0", 1, BUF, BUF + PAGE, IpiEvent.FlushKind.PARTIAL, 1, 1, 1), now);
        assertEquals(List.of(
                new SecondaryTlbEvent.SecondaryTlbHookCalled("cpu0", "flush_tlb_mm_range", "arch_invalidate_secondary_tlbs", 1, BUF,
                        BUF + PAGE, 2, 1),
                new SecondaryTlbEvent.InvalidateSecondaryTlbs("iommu0", 1, 1, BUF, BUF + PAGE, 1),
                new SecondaryTlbEvent.InvalidateSecondaryTlbs("iommu0", 1, 2, BUF, BUF + PAGE, 1)), hook.events());

        Decision firstDone = c.onEvent(
                new SecondaryTlbEvent.SecondaryTlbsInvalidated("coordinator", "iommu0", 1, 1, BUF, BUF + PAGE, 1), now);

        assertEquals(Decision.NONE, firstDone, "PASID 2's IOTLB/ATC may still map the frame");
    }
}
