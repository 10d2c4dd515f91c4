package dev.shootdown.mm;

import dev.shootdown.core.Decision;
import dev.shootdown.core.Lifecycle;
import dev.shootdown.event.Access;
import dev.shootdown.event.ControlEvent;
import dev.shootdown.event.Event;
import dev.shootdown.event.FaultEvent;
import dev.shootdown.event.FaultEvent.FaultResult;
import dev.shootdown.event.FaultEvent.PageResponseCode;
import dev.shootdown.event.IpiEvent;
import dev.shootdown.event.IpiEvent.FlushKind;
import dev.shootdown.event.Kernel;
import dev.shootdown.event.NodeIds;
import dev.shootdown.event.PageTableEvent;
import dev.shootdown.event.SecondaryTlbEvent;
import dev.shootdown.event.SyscallEvent;
import dev.shootdown.event.WalkEvent;
import dev.shootdown.kernel.file.KernelFiles;
import dev.shootdown.scenario.Arch;
import dev.shootdown.scenario.Scenario;
import dev.shootdown.scenario.Scenarios;
import dev.shootdown.scenario.TaskOp;
import dev.shootdown.testing.NodeFixture;
import dev.shootdown.testing.TestRuns;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Pure tests of the kernel's mm: boot, page walks, handle_mm_fault for CPUs and devices, and
 * munmap through x86 flush_tlb_mm_range as merged in Linux 6.6 (IPIs and their acks, then the
 * secondary-TLB hook, then the free). Given/when/then, manual clock: {@code now} is advanced by hand.
 */
class CoordinatorTest extends NodeFixture<Coordinator> {

    private static final String COORD = NodeIds.COORDINATOR;
    private static final String CPU0 = "cpu0";
    private static final String CPU1 = "cpu1";
    private static final String IOMMU = "iommu0";
    private static final String DEV = "dev0";
    private static final long MM = 1;
    private static final int PASID = 1;
    private static final int PID0 = 100;
    private static final int PID1 = 101;
    private static final long BUF = Scenarios.BUFFER;
    private static final long PAGE = Kernel.PAGE_SIZE;
    private static final int PAGES = 16;
    private static final long BUF_END = BUF + PAGES * PAGE;
    private static final long PFN = Coordinator.FIRST_PFN;
    /** The first munmap's shootdown id. */
    private static final long SD = 1;

    private Coordinator coordinator;

    @BeforeEach
    void setUp() {
        coordinator = given(new Coordinator(KernelFiles.catalog()));
    }

    // ---------------------------------------------------------------- helpers

    /** Its kernel steps only ({@link KernelSteps}). */
    @Override
    protected Decision view(Decision decision) {
        return KernelSteps.of(decision);
    }

    /** x86 flush_tlb_mm_range calling the 6.6 hook for the munmap's mm on the initiating CPU. */
    private static SecondaryTlbEvent.SecondaryTlbHookCalled hookCalled(long start, long end, int notifiers) {
        return new SecondaryTlbEvent.SecondaryTlbHookCalled(CPU0, "flush_tlb_mm_range", "arch_invalidate_secondary_tlbs", MM, start,
                end, notifiers, SD);
    }

    private Decision boot(Scenario scenario) {
        return on(TestRuns.runStarted("r", 7, scenario));
    }

    /** A one-CPU machine: mm 1 with the given VMAs, task 100 on cpu0 and an optional device. */
    private static Scenario oneCpu(List<Scenario.VmaSpec> vmas, List<Scenario.DeviceSpec> devices, int deviceFaults) {
        return new Scenario("coordinator-test", Arch.X86, "linux-6.6", 1, devices.isEmpty() ? 0 : 1,
                List.of(new Scenario.MmSpec(MM, vmas)),
                List.of(new Scenario.TaskSpec(PID0, MM, 0, List.of(new TaskOp.Munmap(BUF, 1)))),
                devices, new Scenario.Timing(500, 800), new Scenario.EndCondition(deviceFaults));
    }

    private static Scenario.DeviceSpec device() {
        return new Scenario.DeviceSpec(DEV, 0, PASID, MM, true, new Scenario.DmaProgram(BUF, 1, Access.WRITE, 1_000));
    }

    private static SyscallEvent.Munmap munmap(String cpu, int pid, long start, int pages) {
        return new SyscallEvent.Munmap(COORD, cpu, pid, MM, start, start + pages * PAGE);
    }

    private static IpiEvent.TlbFlushed ack(String cpu, long start, long end, long shootdownId) {
        return new IpiEvent.TlbFlushed(COORD, cpu, MM, start, end, FlushKind.PARTIAL, 1, 0, shootdownId);
    }

    private static SecondaryTlbEvent.SecondaryTlbsInvalidated secondaryDone(long start, long end, long shootdownId) {
        return new SecondaryTlbEvent.SecondaryTlbsInvalidated(COORD, IOMMU, MM, PASID, start, end, shootdownId);
    }

    /** free_pgtables of an mm's only VMA at {@code va} (0x7f0000000000: 512 GiB aligned): its PTE, PMD and PUD tables. */
    private static List<Event> tablesFreed(long va, long shootdownId) {
        return List.of(new PageTableEvent.PageTableFreed(MM, "pte", va, shootdownId),
                new PageTableEvent.PageTableFreed(MM, "pmd", va, shootdownId),
                new PageTableEvent.PageTableFreed(MM, "pud", va, shootdownId));
    }

    private static FaultEvent.DeviceFaultRaised deviceFault(long va, Access access) {
        return new FaultEvent.DeviceFaultRaised(COORD, IOMMU, DEV, PASID, MM, va, access);
    }

    private static FaultEvent.PageFaultRaised cpuFault(long va, Access access) {
        return new FaultEvent.PageFaultRaised(COORD, CPU0, PID0, MM, va, access);
    }

    /** munmap-dma booted, and cpu0's task unmapped the whole buffer (IPIs sent, nothing acked). */
    private void givenMunmapDmaUnmapping() {
        boot(Scenarios.munmapDma());
        now += 20_000;
        on(munmap(CPU0, PID0, BUF, PAGES));
    }

    /** munmap-dma with the buffer's munmap returned. */
    private void givenMunmapDmaUnmapped() {
        givenMunmapDmaUnmapping();
        now += 1_000;
        on(ack(CPU1, BUF, BUF_END, SD));
        on(ack(CPU0, BUF, BUF_END, SD));
        now += 2_000;
        on(secondaryDone(BUF, BUF_END, SD));
    }

    private static List<Event> freedThenReturned(int pages, long start, long end, long shootdownId) {
        List<Event> expected = new ArrayList<>();
        for (int i = 0; i < pages; i++) {
            expected.add(new PageTableEvent.FrameFreed(PFN + i, 1, shootdownId));
        }
        expected.add(new SyscallEvent.MunmapReturned(CPU0, PID0, MM, start, end, 0));
        expected.add(new PageTableEvent.MmuGatherFinished(shootdownId, MM, pages));
        return expected;
    }

    // ---------------------------------------------------------------- boot

    @Test
    void givenMunmapDma_whenRunStarted_thenTheMachineIsBootedInOrder() {
        Scenario s = Scenarios.munmapDma();

        Decision booted = boot(s);

        List<Event> expected = new ArrayList<>();
        expected.add(new PageTableEvent.MmCreated(MM));
        expected.add(new PageTableEvent.VmaMapped(MM, BUF, BUF_END, true));
        for (int i = 0; i < PAGES; i++) {
            expected.add(new PageTableEvent.FrameAllocated(PFN + i, 1));
            expected.add(new PageTableEvent.PteSet(MM, BUF + i * PAGE, PFN + i, 1, true));
        }
        expected.add(new SecondaryTlbEvent.SvaBound(IOMMU, DEV, PASID, MM, true));
        expected.add(new IpiEvent.TaskScheduled(CPU0, PID0, MM, 0, s.tasks().get(0).program()));
        expected.add(new IpiEvent.TaskScheduled(CPU1, PID1, MM, 0, s.tasks().get(1).program()));
        assertEquals(events(expected), booted);
        assertEquals(Lifecycle.RUNNING, coordinator.lifecycle());
        assertEquals(PAGES, coordinator.presentPtes(MM));
        assertEquals(0, coordinator.tlbGen(MM), "init_new_context: tlb_gen starts at 0");
    }

    @Test
    void givenAVmaWithoutPopulate_whenRunStarted_thenNoFrameIsAllocated() {
        Decision booted = boot(oneCpu(List.of(new Scenario.VmaSpec(BUF, 4, true, false)), List.of(), 0));

        assertEquals(events(
                new PageTableEvent.MmCreated(MM),
                new PageTableEvent.VmaMapped(MM, BUF, BUF + 4 * PAGE, true),
                new IpiEvent.TaskScheduled(CPU0, PID0, MM, 0, List.of(new TaskOp.Munmap(BUF, 1)))), booted);
        assertEquals(0, coordinator.presentPtes(MM));
    }

    // ---------------------------------------------------------------- page walks

    @Test
    void givenAPresentPte_whenACpuWalksAnAddressInsideThePage_thenThePteIsReturned() {
        boot(Scenarios.munmapDma());
        long va = BUF + 3 * PAGE + 0x10;

        Decision d = on(new WalkEvent.PageWalkRequested(COORD, CPU1, CPU1, MM, -1, va, Access.READ));

        assertEquals(events(new WalkEvent.PageWalkCompleted(CPU1, CPU1, MM, -1, va, true, PFN + 3, 1, true)), d);
    }

    @Test
    void givenNoPte_whenTheIommuWalks_thenTheWalkReportsNotPresent() {
        boot(Scenarios.munmapDma());
        long va = BUF_END;

        Decision d = on(new WalkEvent.PageWalkRequested(COORD, IOMMU, "dev0", MM, PASID, va, Access.WRITE));

        assertEquals(events(new WalkEvent.PageWalkCompleted(IOMMU, "dev0", MM, PASID, va, false, -1, -1, false)), d);
    }

    // ---------------------------------------------------------------- munmap: flush_tlb_mm_range, 6.6 order

    /**
     * The buffer is munmap-dma's only VMA: free_pgtables (floor 0, ceiling 0) frees its PTE table,
     * the PMD table and the PUD table above it, each adding its first page to the gather's range
     * (here inside it already) and setting freed_tables; x86 merges VMAs, so one flush in
     * tlb_finish_mmu, flush_tlb_mm_range with freed_tables.
     */
    @Test
    void givenMappedBuffer_whenMunmap_thenPtesAreClearedTablesFreedAndIpisSentButNoSecondaryInvalidationNorFreeYet() {
        boot(Scenarios.munmapDma());
        now += 20_000;

        Decision d = on(munmap(CPU0, PID0, BUF, PAGES));

        List<Event> expected = new ArrayList<>();
        expected.add(new PageTableEvent.MmuGatherStarted(SD, MM, BUF, BUF_END, "munmap", CPU0, PID0));
        expected.add(new PageTableEvent.VmaUnmapped(MM, BUF, BUF_END));
        for (int i = 0; i < PAGES; i++) {
            expected.add(new PageTableEvent.PteCleared(MM, BUF + i * PAGE, PFN + i, 1, SD));
        }
        expected.addAll(tablesFreed(BUF, SD));
        expected.add(new PageTableEvent.TlbFlushCalled(SD, CPU0, "tlb_flush_mmu_tlbonly", "flush_tlb_mm_range", MM, BUF, BUF_END, 12,
                true));
        expected.add(new PageTableEvent.MmTlbGenIncremented(MM, 1, BUF, BUF_END, SD));
        expected.add(new IpiEvent.FlushTlb(CPU0, MM, BUF, BUF_END, 1, 1, false, true, SD));
        expected.add(new IpiEvent.FlushTlb(CPU1, MM, BUF, BUF_END, 1, 1, true, true, SD));
        assertEquals(events(expected), d);
        assertEquals(1, coordinator.tlbGen(MM));
        assertEquals(0, coordinator.presentPtes(MM));
    }

    @Test
    void givenIpisInFlight_whenTheFirstAckArrives_thenNothingHappensAndTheLastAckCallsTheSecondaryHook() {
        givenMunmapDmaUnmapping();

        now += 1_000;
        Decision first = on(ack(CPU1, BUF, BUF_END, SD));
        assertEquals(Decision.NONE, first);

        now += 300;
        Decision last = on(ack(CPU0, BUF, BUF_END, SD));
        assertEquals(events(hookCalled(BUF, BUF_END, 1), new SecondaryTlbEvent.InvalidateSecondaryTlbs(IOMMU, MM, PASID, BUF, BUF_END, SD)),
                last);
    }

    @Test
    void givenTheSecondaryHookCalled_whenTheIommuCompletes_thenFramesAreFreedThenMunmapReturnsThenTheGatherFinishes() {
        givenMunmapDmaUnmapping();
        on(ack(CPU0, BUF, BUF_END, SD));
        on(ack(CPU1, BUF, BUF_END, SD));

        now += 2_000;
        Decision done = on(secondaryDone(BUF, BUF_END, SD));

        assertEquals(events(freedThenReturned(PAGES, BUF, BUF_END, SD)), done);
    }

    @Test
    void givenAnAckForAnUnknownShootdown_whenItArrives_thenTheCoordinatorRefusesIt() {
        givenMunmapDmaUnmapping();

        IllegalStateException e = assertThrows(IllegalStateException.class, () -> on(ack(CPU1, BUF, BUF_END, 99)));
        assertTrue(e.getMessage().contains("cpu1") && e.getMessage().contains("99"), e.getMessage());
    }

    @Test
    void givenNoDeviceBound_whenTheLastAckArrives_thenTheGatherFinishesAtOnce() {
        boot(oneCpu(List.of(new Scenario.VmaSpec(BUF, 2, true, true)), List.of(), 0));
        long end = BUF + 2 * PAGE;
        on(munmap(CPU0, PID0, BUF, 2));

        Decision d = on(ack(CPU0, BUF, end, SD));

        List<Event> expected = new ArrayList<>(List.of(hookCalled(BUF, end, 0)));
        expected.addAll(freedThenReturned(2, BUF, end, SD));
        assertEquals(events(expected), d);
    }

    @Test
    void givenFreedFrames_whenTheNextPageIsAllocated_thenTheLastFreedFrameIsReusedWithTheNextEpoch() {
        long other = BUF + 0x100000;
        boot(oneCpu(List.of(new Scenario.VmaSpec(BUF, 2, true, true), new Scenario.VmaSpec(other, 2, true, false)),
                List.of(), 0));
        on(munmap(CPU0, PID0, BUF, 2));
        on(ack(CPU0, BUF, BUF + 2 * PAGE, SD));

        Decision fault = on(cpuFault(other, Access.WRITE));

        // The page allocator's per-CPU lists are LIFO: the hottest, last freed page goes first.
        assertEquals(events(
                new PageTableEvent.FrameAllocated(PFN + 1, 2),
                new PageTableEvent.PteSet(MM, other, PFN + 1, 2, true),
                new FaultEvent.PageFaultHandled(CPU0, PID0, MM, other, FaultResult.RETRY)), fault);
    }

    @Test
    void givenNoFreedFrame_whenAPageIsAllocated_thenTheNextFreshFrameGetsEpochOne() {
        long other = BUF + 0x100000;
        boot(oneCpu(List.of(new Scenario.VmaSpec(BUF, 2, true, true), new Scenario.VmaSpec(other, 2, true, false)),
                List.of(), 0));
        on(munmap(CPU0, PID0, BUF, 2)); // frames gathered but not yet freed: not reusable

        Decision fault = on(cpuFault(other + PAGE, Access.READ));

        assertEquals(events(
                new PageTableEvent.FrameAllocated(PFN + 2, 1),
                new PageTableEvent.PteSet(MM, other + PAGE, PFN + 2, 1, true),
                new FaultEvent.PageFaultHandled(CPU0, PID0, MM, other + PAGE, FaultResult.RETRY)), fault);
    }

    @Test
    void givenMoreThanTheSinglePageFlushCeiling_whenMunmap_thenTheWholeMmIsFlushedOnCpusAndSecondaryTlbs() {
        int pages = KernelFiles.builtIn("linux-6.6").orElseThrow().x86().flushTlbMmRange().ceiling() + 1;
        long end = BUF + pages * PAGE;
        boot(oneCpu(List.of(new Scenario.VmaSpec(BUF, pages, true, true)), List.of(device()), 1));

        Decision d = on(munmap(CPU0, PID0, BUF, pages));

        List<Event> events = d.events();
        assertEquals(new PageTableEvent.MmuGatherStarted(SD, MM, BUF, end, "munmap", CPU0, PID0), events.get(0));
        assertEquals(List.of(
                new PageTableEvent.TlbFlushCalled(SD, CPU0, "tlb_flush_mmu_tlbonly", "flush_tlb_mm_range", MM, BUF, end, 12, true),
                new PageTableEvent.MmTlbGenIncremented(MM, 1, 0, Kernel.TLB_FLUSH_ALL, SD),
                new IpiEvent.FlushTlb(CPU0, MM, 0, Kernel.TLB_FLUSH_ALL, 1, 1, false, true, SD)),
                events.subList(events.size() - 3, events.size()));
        assertEquals(2 + pages + 3 + 3, events.size(), "gather, unmap, the PTEs, three page tables, the flush");

        Decision hook = on(ack(CPU0, 0, Kernel.TLB_FLUSH_ALL, SD));
        assertEquals(events(hookCalled(0, Kernel.TLB_FLUSH_ALL, 1),
                new SecondaryTlbEvent.InvalidateSecondaryTlbs(IOMMU, MM, PASID, 0, Kernel.TLB_FLUSH_ALL, SD)),
                hook);

        Decision done = on(secondaryDone(0, Kernel.TLB_FLUSH_ALL, SD));
        assertEquals(new SyscallEvent.MunmapReturned(CPU0, PID0, MM, BUF, end, 0), done.events().get(pages),
                "munmap returns its own range, not the widened flush range");
    }

    @Test
    void givenExactlyTheSinglePageFlushCeiling_whenMunmap_thenTheRangeIsFlushed() {
        int pages = KernelFiles.builtIn("linux-6.6").orElseThrow().x86().flushTlbMmRange().ceiling();
        long end = BUF + pages * PAGE;
        boot(oneCpu(List.of(new Scenario.VmaSpec(BUF, pages, true, true)), List.of(device()), 1));

        Decision d = on(munmap(CPU0, PID0, BUF, pages));

        assertEquals(new IpiEvent.FlushTlb(CPU0, MM, BUF, end, 1, 1, false, true, SD), d.events().get(d.events().size() - 1));
        assertEquals(events(hookCalled(BUF, end, 1), new SecondaryTlbEvent.InvalidateSecondaryTlbs(IOMMU, MM, PASID, BUF, end, SD)),
                on(ack(CPU0, BUF, end, SD)));
    }

    @Test
    void givenAnUnpopulatedRange_whenMunmap_thenNoFlushIsNeededAndItReturnsAtOnce() {
        boot(oneCpu(List.of(new Scenario.VmaSpec(BUF, 2, true, false)), List.of(device()), 1));
        long end = BUF + 2 * PAGE;

        Decision d = on(munmap(CPU0, PID0, BUF, 2));

        assertEquals(events(
                new PageTableEvent.MmuGatherStarted(SD, MM, BUF, end, "munmap", CPU0, PID0),
                new PageTableEvent.VmaUnmapped(MM, BUF, end),
                new SyscallEvent.MunmapReturned(CPU0, PID0, MM, BUF, end, 0),
                new PageTableEvent.MmuGatherFinished(SD, MM, 0)), d);
        assertEquals(0, coordinator.tlbGen(MM));
    }

    @Test
    void givenTwoMunmaps_whenTheSecondStarts_thenItGetsTheNextShootdownIdAndTlbGen() {
        boot(oneCpu(List.of(new Scenario.VmaSpec(BUF, 4, true, true)), List.of(), 0));
        on(munmap(CPU0, PID0, BUF, 1));
        on(ack(CPU0, BUF, BUF + PAGE, SD));

        Decision d = on(munmap(CPU0, PID0, BUF + PAGE, 1));

        assertEquals(events(
                new PageTableEvent.MmuGatherStarted(2, MM, BUF + PAGE, BUF + 2 * PAGE, "munmap", CPU0, PID0),
                new PageTableEvent.VmaUnmapped(MM, BUF + PAGE, BUF + 2 * PAGE),
                new PageTableEvent.PteCleared(MM, BUF + PAGE, PFN + 1, 1, 2),
                // the rest of the VMA still needs the page tables: free_pgtables frees none
                new PageTableEvent.TlbFlushCalled(2, CPU0, "tlb_flush_mmu_tlbonly", "flush_tlb_mm_range", MM, BUF + PAGE,
                        BUF + 2 * PAGE, 12, false),
                new PageTableEvent.MmTlbGenIncremented(MM, 2, BUF + PAGE, BUF + 2 * PAGE, 2),
                new IpiEvent.FlushTlb(CPU0, MM, BUF + PAGE, BUF + 2 * PAGE, 2, 2, false, false, 2)), d);
        assertEquals(2, coordinator.tlbGen(MM));
        assertEquals(2, coordinator.presentPtes(MM));
    }

    // ---------------------------------------------------------------- faults

    @Test
    void givenAnUnmappedAddress_whenADeviceFaults_thenThePageResponseIsInvalid() {
        givenMunmapDmaUnmapped();

        Decision d = on(deviceFault(BUF, Access.WRITE));

        assertEquals(events(new FaultEvent.PageResponseSent(IOMMU, DEV, PASID, BUF, PageResponseCode.INVALID)), d);
    }

    @Test
    void givenAMappedAddress_whenADeviceFaults_thenThePageResponseIsSuccessWithoutANewFrame() {
        boot(Scenarios.munmapDma());

        Decision d = on(deviceFault(BUF + PAGE, Access.WRITE));

        assertEquals(events(new FaultEvent.PageResponseSent(IOMMU, DEV, PASID, BUF + PAGE, PageResponseCode.SUCCESS)), d);
        assertEquals(PAGES, coordinator.presentPtes(MM));
    }

    @Test
    void givenAVmaWithoutPte_whenADeviceFaults_thenAPageIsMappedAndTheResponseIsSuccess() {
        boot(oneCpu(List.of(new Scenario.VmaSpec(BUF, 2, true, false)), List.of(device()), 1));

        Decision d = on(deviceFault(BUF + PAGE, Access.WRITE));

        assertEquals(events(
                new PageTableEvent.FrameAllocated(PFN, 1),
                new PageTableEvent.PteSet(MM, BUF + PAGE, PFN, 1, true),
                new FaultEvent.PageResponseSent(IOMMU, DEV, PASID, BUF + PAGE, PageResponseCode.SUCCESS)), d);
        assertEquals(1, coordinator.presentPtes(MM));
    }

    @Test
    void givenAReadOnlyVma_whenADeviceWrites_thenThePageResponseIsInvalid() {
        boot(oneCpu(List.of(new Scenario.VmaSpec(BUF, 2, false, false)), List.of(device()), 1));

        Decision d = on(deviceFault(BUF, Access.WRITE));

        assertEquals(events(new FaultEvent.PageResponseSent(IOMMU, DEV, PASID, BUF, PageResponseCode.INVALID)), d);
        assertEquals(0, coordinator.presentPtes(MM));
    }

    @Test
    void givenNoVma_whenACpuFaults_thenTheTaskGetsSigsegv() {
        boot(Scenarios.munmapDma());
        long va = BUF_END + PAGE;

        Decision d = on(cpuFault(va, Access.READ));

        assertEquals(events(new FaultEvent.PageFaultHandled(CPU0, PID0, MM, va, FaultResult.SIGSEGV)), d);
    }

    @Test
    void givenAReadOnlyVma_whenACpuWrites_thenTheTaskGetsSigsegvAndAReadIsMapped() {
        boot(oneCpu(List.of(new Scenario.VmaSpec(BUF, 2, false, false)), List.of(), 0));

        assertEquals(events(new FaultEvent.PageFaultHandled(CPU0, PID0, MM, BUF, FaultResult.SIGSEGV)),
                on(cpuFault(BUF, Access.WRITE)));
        assertEquals(events(
                new PageTableEvent.FrameAllocated(PFN, 1),
                new PageTableEvent.PteSet(MM, BUF, PFN, 1, false),
                new FaultEvent.PageFaultHandled(CPU0, PID0, MM, BUF, FaultResult.RETRY)),
                on(cpuFault(BUF, Access.READ)));
    }

    @Test
    void givenAHoleUnmappedInTheMiddleOfAVma_whenCpusFault_thenOnlyTheHoleSegfaults() {
        boot(oneCpu(List.of(new Scenario.VmaSpec(BUF, 4, true, true)), List.of(), 0));
        on(munmap(CPU0, PID0, BUF + PAGE, 2));
        on(ack(CPU0, BUF + PAGE, BUF + 3 * PAGE, SD));

        assertEquals(FaultResult.RETRY, handled(on(cpuFault(BUF, Access.WRITE))));
        assertEquals(FaultResult.SIGSEGV, handled(on(cpuFault(BUF + PAGE, Access.READ))));
        assertEquals(FaultResult.SIGSEGV, handled(on(cpuFault(BUF + 2 * PAGE, Access.READ))));
        assertEquals(FaultResult.RETRY, handled(on(cpuFault(BUF + 3 * PAGE, Access.WRITE))));
        assertEquals(2, coordinator.presentPtes(MM), "the spurious faults on mapped pages allocate nothing");
    }

    private static FaultResult handled(Decision d) {
        assertEquals(1, d.events().size(), d.toString());
        return ((FaultEvent.PageFaultHandled) d.events().get(0)).result();
    }

    // ---------------------------------------------------------------- end of the run

    @Test
    void givenTheMunmapReturnedAndTasksExited_whenTheLastRequiredDeviceFaultIsAnswered_thenTheRunCompletes() {
        givenMunmapDmaUnmapped();
        on(new SyscallEvent.TaskExited(COORD, CPU1, PID1, MM, "SIGSEGV"));
        on(new SyscallEvent.TaskExited(COORD, CPU0, PID0, MM, "exit"));

        now += 1_000;
        assertEquals(events(new FaultEvent.PageResponseSent(IOMMU, DEV, PASID, BUF, PageResponseCode.INVALID)),
                on(deviceFault(BUF, Access.WRITE)));
        now += 1_000;
        assertEquals(events(new FaultEvent.PageResponseSent(IOMMU, DEV, PASID, BUF + PAGE, PageResponseCode.INVALID)),
                on(deviceFault(BUF + PAGE, Access.WRITE)));
        now += 1_000;
        Decision third = on(deviceFault(BUF + 2 * PAGE, Access.WRITE));

        assertEquals(events(
                new FaultEvent.PageResponseSent(IOMMU, DEV, PASID, BUF + 2 * PAGE, PageResponseCode.INVALID),
                new ControlEvent.RunCompleted("every task finished and every device faulted on the changed range 3 times"),
                new ControlEvent.NodeQuiesced(NodeIds.CONTROL, COORD)), third);
        assertEquals(Lifecycle.QUIESCED, coordinator.lifecycle());
    }

    @Test
    void givenEnoughDeviceFaults_whenTheLastTaskExits_thenTheRunCompletesOnThatExit() {
        givenMunmapDmaUnmapped();
        on(new SyscallEvent.TaskExited(COORD, CPU0, PID0, MM, "exit"));
        for (int i = 0; i < 3; i++) {
            assertEquals(1, on(deviceFault(BUF + i * PAGE, Access.WRITE)).events().size(), "task 101 still runs");
        }

        Decision d = on(new SyscallEvent.TaskExited(COORD, CPU1, PID1, MM, "SIGSEGV"));

        assertEquals(events(
                new ControlEvent.RunCompleted("every task finished and every device faulted on the changed range 3 times"),
                new ControlEvent.NodeQuiesced(NodeIds.CONTROL, COORD)), d);
    }

    @Test
    void givenDeviceFaultsBeforeTheMunmapReturned_whenTheMunmapReturns_thenTheyDoNotCount() {
        givenMunmapDmaUnmapping();
        on(new SyscallEvent.TaskExited(COORD, CPU1, PID1, MM, "SIGSEGV"));
        on(ack(CPU0, BUF, BUF_END, SD));
        on(ack(CPU1, BUF, BUF_END, SD));
        for (int i = 0; i < 3; i++) {
            on(deviceFault(BUF + i * PAGE, Access.WRITE)); // PTEs are gone, the flush is not done
        }
        Decision returned = on(secondaryDone(BUF, BUF_END, SD));
        assertEquals(events(freedThenReturned(PAGES, BUF, BUF_END, SD)), returned);
        Decision exited = on(new SyscallEvent.TaskExited(COORD, CPU0, PID0, MM, "exit"));
        assertEquals(Decision.NONE, exited);

        FaultEvent.PageResponseSent invalid = new FaultEvent.PageResponseSent(IOMMU, DEV, PASID, BUF, PageResponseCode.INVALID);
        assertEquals(events(invalid), on(deviceFault(BUF, Access.WRITE)));
        assertEquals(events(invalid), on(deviceFault(BUF, Access.WRITE)));
        Decision third = on(deviceFault(BUF, Access.WRITE));

        assertEquals(events(invalid,
                new ControlEvent.RunCompleted("every task finished and every device faulted on the changed range 3 times"),
                new ControlEvent.NodeQuiesced(NodeIds.CONTROL, COORD)), third);
    }

    @Test
    void givenAShootdownInFlight_whenEverythingElseIsDone_thenTheRunDoesNotComplete() {
        // The buffer is unmapped and answered; a second munmap is still waiting for its IPI ack.
        boot(oneCpu(List.of(new Scenario.VmaSpec(BUF, 2, true, true)), List.of(device()), 1));
        on(munmap(CPU0, PID0, BUF, 1));
        on(ack(CPU0, BUF, BUF + PAGE, SD));
        on(secondaryDone(BUF, BUF + PAGE, SD));
        on(munmap(CPU0, PID0, BUF + PAGE, 1));
        // Fed out of a real task's order on purpose: only the shootdown in flight holds the run open.
        on(new SyscallEvent.TaskExited(COORD, CPU0, PID0, MM, "exit"));

        Decision d = on(deviceFault(BUF, Access.WRITE));

        assertEquals(events(new FaultEvent.PageResponseSent(IOMMU, DEV, PASID, BUF, PageResponseCode.INVALID)), d);
        assertEquals(Lifecycle.RUNNING, coordinator.lifecycle());
    }
}
