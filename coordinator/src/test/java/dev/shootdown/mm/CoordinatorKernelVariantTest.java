package dev.shootdown.mm;

import dev.shootdown.core.Decision;
import dev.shootdown.core.Lifecycle;
import dev.shootdown.core.TimerRequest;
import dev.shootdown.event.Access;
import dev.shootdown.event.ControlEvent;
import dev.shootdown.event.Event;
import dev.shootdown.event.FaultEvent;
import dev.shootdown.event.FaultEvent.FaultResult;
import dev.shootdown.event.IpiEvent;
import dev.shootdown.event.IpiEvent.FlushKind;
import dev.shootdown.event.Kernel;
import dev.shootdown.event.NodeIds;
import dev.shootdown.event.PageTableEvent;
import dev.shootdown.event.SecondaryTlbEvent;
import dev.shootdown.event.SyscallEvent;
import dev.shootdown.event.WalkEvent;
import dev.shootdown.kernel.Hook;
import dev.shootdown.kernel.KernelVariant;
import dev.shootdown.kernel.Rules;
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
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Pure tests of where each kernel variant ({@link KernelVariant}) and architecture calls the
 * secondary-TLB hook, and what the flows around it emit: batched reclaim (direct and kswapd),
 * munmap, the write-protect reuse fault, mprotect, the end window and recovery from the log.
 * Given/when/then, manual clock: {@code now} is advanced by hand.
 */
class CoordinatorKernelVariantTest extends NodeFixture<Coordinator> {

    private static final String COORD = NodeIds.COORDINATOR;
    private static final String CPU0 = "cpu0";
    private static final String CPU1 = "cpu1";
    private static final String CPU2 = "cpu2";
    private static final String IOMMU = "iommu0";
    private static final String DEV = "dev0";
    private static final long MM = 1;
    private static final long MM2 = 2;
    private static final int PASID = 1;
    private static final int PID0 = 100;
    private static final int PID1 = 101;
    private static final int PID_B = 200;
    private static final long BUF = Scenarios.BUFFER;
    private static final long HEAP = Scenarios.HEAP;
    private static final long PAGE = Kernel.PAGE_SIZE;
    private static final long PFN = Coordinator.FIRST_PFN;
    private static final long ALL = Kernel.TLB_FLUSH_ALL;
    private static final long SD = 1;
    private static final String HOOK_66 = "arch_invalidate_secondary_tlbs";
    private static final String HOOK_65 = "invalidate_range";

    private Coordinator coordinator;
    /** What the coordinator was given and decided: the log a recovery replays. */
    private final RecordedSteps log = new RecordedSteps();

    @BeforeEach
    void setUp() {
        coordinator = given(new Coordinator(KernelFiles.catalog()));
        log.clear();
    }

    // ---------------------------------------------------------------- helpers

    /** The coordinator's decision, logged whole: the log a recovery replays. */
    @Override
    protected Decision decide(Event input) {
        return log.on(node, input, now);
    }

    /** Compared by its kernel steps only ({@link KernelSteps}). */
    @Override
    protected Decision view(Decision decision) {
        return KernelSteps.of(decision);
    }

    private Decision boot(Scenario scenario) {
        return on(TestRuns.runStarted("r", 7, scenario));
    }

    /** Every event the coordinator emitted so far, in order. */
    private List<Event> emitted() {
        List<Event> all = new ArrayList<>();
        for (RecordedSteps.Step s : log.steps()) {
            all.addAll(s.decision().events());
        }
        return all;
    }

    private static int indexOf(List<Event> events, Class<? extends Event> type) {
        for (int i = 0; i < events.size(); i++) {
            if (type.isInstance(events.get(i))) {
                return i;
            }
        }
        return -1;
    }

    private static Scenario.DeviceSpec device(long mm, boolean ats, long start, int pages) {
        return new Scenario.DeviceSpec(DEV, 0, PASID, mm, ats, new Scenario.DmaProgram(start, pages, Access.WRITE, 1_000));
    }

    private static List<TaskOp> touch(long start, Access access) {
        return List.of(new TaskOp.Touch(start, 1, access, 0));
    }

    /**
     * A two-CPU x86 machine: mm 1 has a 2-page populated buffer (the LRU's oldest folios, bound to
     * the device) and an unpopulated heap; tasks 100 (cpu0) and 101 (cpu1) of mm 1. Memory is
     * {@code memory}; reclaim isolates 2 folios per pass.
     */
    private static Scenario oneMmReclaim(String policy, Scenario.Memory memory, Scenario.Kswapd kswapd) {
        return new Scenario("reclaim-test", Arch.X86, policy, 2, 1,
                List.of(new Scenario.MmSpec(MM, List.of(new Scenario.VmaSpec(BUF, 2, true, true),
                        new Scenario.VmaSpec(HEAP, 4, true, false)))),
                List.of(new Scenario.TaskSpec(PID0, MM, 0, touch(HEAP, Access.WRITE)),
                        new Scenario.TaskSpec(PID1, MM, 1, touch(BUF, Access.READ))),
                List.of(device(MM, true, BUF, 2)),
                new Scenario.Timing(500, 800), new Scenario.EndCondition(0), memory, kswapd);
    }

    /** 3 frames, 2 taken by the buffer at boot: 1 free, at the min watermark; no kswapd. */
    private static final Scenario.Memory AT_MIN = new Scenario.Memory(3, 1, 1, 1, 2);
    /** 4 frames, 2 taken at boot: 2 free, at the low watermark, above min. */
    private static final Scenario.Memory AT_LOW = new Scenario.Memory(4, 0, 2, 3, 2);

    private static FaultEvent.PageFaultRaised cpuFault(String cpu, int pid, long mm, long va, Access access) {
        return new FaultEvent.PageFaultRaised(COORD, cpu, pid, mm, va, access);
    }

    private static FaultEvent.DeviceFaultRaised deviceFault(long va, Access access) {
        return new FaultEvent.DeviceFaultRaised(COORD, IOMMU, DEV, PASID, MM, va, access);
    }

    private static IpiEvent.TlbFlushed flushed(String cpu, long mm, long start, long end, long shootdownId) {
        return new IpiEvent.TlbFlushed(COORD, cpu, mm, start, end, FlushKind.FULL, 2, 1, shootdownId);
    }

    private static IpiEvent.TlbiCompleted tlbiDone(String cpu, long start, long end, long shootdownId) {
        return new IpiEvent.TlbiCompleted(COORD, cpu, MM, start, end, 1, shootdownId);
    }

    private static SecondaryTlbEvent.SecondaryTlbsInvalidated secondaryDone(long start, long end, long shootdownId) {
        return new SecondaryTlbEvent.SecondaryTlbsInvalidated(COORD, IOMMU, MM, PASID, start, end, shootdownId);
    }

    private static SecondaryTlbEvent.SecondaryTlbHookCalled hook(String cpu, String caller, String hookName, long mm, long start,
            long end, int notifiers, long shootdownId) {
        return new SecondaryTlbEvent.SecondaryTlbHookCalled(cpu, caller, hookName, mm, start, end, notifiers, shootdownId);
    }

    private static SecondaryTlbEvent.InvalidateSecondaryTlbs invalidate(long start, long end, long shootdownId) {
        return new SecondaryTlbEvent.InvalidateSecondaryTlbs(IOMMU, MM, PASID, start, end, shootdownId);
    }

    /**
     * try_to_unmap_flush_dirty calling arch_tlbbatch_flush on {@code cpu} (shootdown {@code sd}),
     * before the dirty folio just unmapped is written out: no mm, the whole address space.
     */
    private static PageTableEvent.TlbFlushCalled batchCalledDirty(String cpu, long sd) {
        return new PageTableEvent.TlbFlushCalled(sd, cpu, "try_to_unmap_flush_dirty", "arch_tlbbatch_flush", 0, 0, ALL, 0, false);
    }

    private static PageTableEvent.TlbFlushCalled batchCalledDirty(String cpu) {
        return batchCalledDirty(cpu, SD);
    }

    /** arch_tlbbatch_flush's IPI: no mm, TLB_GENERATION_INVALID, the batch's tlb_gens. */
    private static IpiEvent.FlushTlb batchFlush(String cpu, boolean viaIpi, long mm, long tlbGen) {
        return new IpiEvent.FlushTlb(cpu, 0, 0, ALL, Coordinator.TLB_GENERATION_INVALID, Coordinator.TLB_GENERATION_INVALID,
                viaIpi, false, SD, List.of(new IpiEvent.MmTlbGen(mm, tlbGen)));
    }

    // ---------------------------------------------------------------- 1. x86 linux-6.6 direct reclaim

    /** Booted at the min watermark; task 100 faults on the heap: direct reclaim up to the first hook. */
    private Decision givenDirectReclaimAtTheFirstHook66() {
        boot(oneMmReclaim("linux-6.6", AT_MIN, null));
        assertEquals(1, coordinator.freeFrameCount());
        now += 10_000;
        return on(cpuFault(CPU0, PID0, MM, HEAP, Access.WRITE));
    }

    @Test
    void givenX86Linux66AtTheMinWatermark_whenACpuFaults_thenDirectReclaimUnmapsTheFirstFolioAndWaitsInTheHook() {
        Decision d = givenDirectReclaimAtTheFirstHook66();

        assertEquals(events(
                new PageTableEvent.MemoryPressure(1, "__alloc_pages_direct_reclaim", "pid:" + PID0),
                new PageTableEvent.TlbFlushStarted(SD, "direct-reclaim", CPU0, "task" + PID0, PID0, MM, 0, 0, ALL, "pid:" + PID0),
                new PageTableEvent.PteCleared(MM, BUF, PFN, 1, SD),
                new PageTableEvent.TlbBatchAddPending(SD, MM, BUF),
                new PageTableEvent.MmTlbGenIncremented(MM, 1, 0, ALL, SD),
                hook(CPU0, "arch_tlbbatch_add_pending", HOOK_66, MM, 0, ALL, 1, SD),
                invalidate(0, ALL, SD)), d);
        assertEquals(1, coordinator.presentPtes(MM), "the second folio waits for the synchronous hook");
    }

    /**
     * mm/vmscan.c shrink_folio_list: the folio is dirty in the swap cache, so
     * try_to_unmap_flush_dirty flushes its batch before pageout(), and the next folio is unmapped
     * only once every CPU acknowledged.
     */
    @Test
    void givenX86Linux66DirectReclaim_whenAFoliosHookCompletes_thenItsBatchIsFlushedBeforeTheNextFolio() {
        givenDirectReclaimAtTheFirstHook66();

        now += 1_000;
        Decision first = on(secondaryDone(0, ALL, SD));
        assertEquals(events(
                batchCalledDirty(CPU0),
                new PageTableEvent.TlbBatchFlushStarted(SD, List.of(CPU0, CPU1)),
                batchFlush(CPU0, false, MM, 1),
                batchFlush(CPU1, true, MM, 1)), first);

        now += 1_000;
        assertEquals(Decision.NONE, on(flushed(CPU1, MM, 0, ALL, SD)), "cpu0 has not acked yet");
        Decision second = on(flushed(CPU0, MM, 0, ALL, SD));
        assertEquals(events(
                new PageTableEvent.PteCleared(MM, BUF + PAGE, PFN + 1, 1, SD),
                new PageTableEvent.TlbBatchAddPending(SD, MM, BUF + PAGE),
                new PageTableEvent.MmTlbGenIncremented(MM, 2, 0, ALL, SD),
                hook(CPU0, "arch_tlbbatch_add_pending", HOOK_66, MM, 0, ALL, 1, SD),
                invalidate(0, ALL, SD)), second);

        now += 1_000;
        Decision batch = on(secondaryDone(0, ALL, SD));
        assertEquals(events(
                batchCalledDirty(CPU0),
                new PageTableEvent.TlbBatchFlushStarted(SD, List.of(CPU0, CPU1)),
                batchFlush(CPU0, false, MM, 2),
                batchFlush(CPU1, true, MM, 2)), batch);

        List<Event> all = emitted();
        List<Integer> hooks = new ArrayList<>();
        List<Integer> batches = new ArrayList<>();
        for (int i = 0; i < all.size(); i++) {
            if (all.get(i) instanceof SecondaryTlbEvent.SecondaryTlbHookCalled) {
                hooks.add(i);
            } else if (all.get(i) instanceof PageTableEvent.TlbBatchFlushStarted) {
                batches.add(i);
            }
        }
        assertEquals(2, hooks.size());
        assertEquals(2, batches.size());
        assertTrue(hooks.get(0) < batches.get(0) && batches.get(0) < hooks.get(1) && hooks.get(1) < batches.get(1),
                "6.6: each folio's whole-mm hook is logged before its own batch's IPIs");
    }

    @Test
    void givenX86Linux66DirectReclaimBatchFlushed_whenTheCpusAck_thenFoliosAreFreedAndTheFaultRetriesOnTheLastFreedFrame() {
        givenDirectReclaimAtTheFirstHook66();
        on(secondaryDone(0, ALL, SD));
        on(flushed(CPU1, MM, 0, ALL, SD));
        on(flushed(CPU0, MM, 0, ALL, SD));
        on(secondaryDone(0, ALL, SD));

        now += 1_000;
        assertEquals(Decision.NONE, on(flushed(CPU1, MM, 0, ALL, SD)), "cpu0 has not acked yet");
        Decision done = on(flushed(CPU0, MM, 0, ALL, SD));

        assertEquals(events(
                new PageTableEvent.FrameFreed(PFN, 1, SD),
                new PageTableEvent.FrameFreed(PFN + 1, 1, SD),
                new PageTableEvent.TlbFlushFinished(SD, 2),
                new PageTableEvent.FrameAllocated(PFN + 1, 2),
                new PageTableEvent.PteSet(MM, HEAP, PFN + 1, 2, true),
                new FaultEvent.PageFaultHandled(CPU0, PID0, MM, HEAP, FaultResult.RETRY)), done);
        assertEquals(2, coordinator.freeFrameCount());
    }

    // ---------------------------------------------------------------- 2. x86 series-v2 kswapd: the NULL mm

    /** Booted at the low watermark with kswapd0 on cpu1; task 100's fault wakes it. */
    private Decision givenKswapdReclaimV2() {
        boot(oneMmReclaim("series-v2", AT_LOW, new Scenario.Kswapd(1)));
        now += 10_000;
        return on(cpuFault(CPU0, PID0, MM, HEAP, Access.WRITE));
    }

    /** v2 adds no hook to arch_tlbbatch_add_pending; try_to_unmap_flush_dirty flushes the first folio's batch at once. */
    @Test
    void givenX86SeriesV2BelowLow_whenAFaultWakesKswapd_thenTheFirstFoliosBatchIsFlushedWithoutAnyHookAndTheFaultIsServed() {
        Decision d = givenKswapdReclaimV2();

        assertEquals(events(
                new PageTableEvent.MemoryPressure(2, "wakeup_kswapd", "pid:" + PID0),
                new PageTableEvent.TlbFlushStarted(SD, "kswapd", CPU1, "kswapd0", -1, 0, 0, 0, ALL, ""),
                new PageTableEvent.PteCleared(MM, BUF, PFN, 1, SD),
                new PageTableEvent.TlbBatchAddPending(SD, MM, BUF),
                new PageTableEvent.MmTlbGenIncremented(MM, 1, 0, ALL, SD),
                batchCalledDirty(CPU1),
                new PageTableEvent.TlbBatchFlushStarted(SD, List.of(CPU0, CPU1)),
                batchFlush(CPU0, true, MM, 1),
                batchFlush(CPU1, false, MM, 1),
                new PageTableEvent.FrameAllocated(PFN + 2, 1),
                new PageTableEvent.PteSet(MM, HEAP, PFN + 2, 1, true),
                new FaultEvent.PageFaultHandled(CPU0, PID0, MM, HEAP, FaultResult.RETRY)), d);
    }

    @Test
    void givenX86SeriesV2KswapdBatch_whenTheCpusAck_thenArchTlbbatchFlushCallsTheHookWithANullMmAndOopses() {
        givenKswapdReclaimV2();

        now += 1_000;
        assertEquals(Decision.NONE, on(flushed(CPU0, MM, 0, ALL, SD)));
        Decision d = on(flushed(CPU1, MM, 0, ALL, SD));

        assertEquals(2, d.events().size(), d.toString());
        assertEquals(hook(CPU1, "arch_tlbbatch_flush", HOOK_66, 0, 0, ALL, 0, SD), d.events().get(0));
        FaultEvent.KernelOops oops = (FaultEvent.KernelOops) d.events().get(1);
        assertEquals(CPU1, oops.cpu());
        assertEquals("kswapd0", oops.comm());
        assertEquals("mm_has_notifiers", oops.function());
        assertEquals("arch_tlbbatch_flush", oops.caller());
        assertEquals(SD, oops.shootdownId());
        assertTrue(oops.message().contains("NULL"), oops.message());
    }

    @Test
    void givenKswapdOopsedInSeriesV2_whenMoreInputsArrive_thenItsShootdownNeverFreesNorFinishes() {
        givenKswapdReclaimV2();
        on(flushed(CPU0, MM, 0, ALL, SD));
        on(flushed(CPU1, MM, 0, ALL, SD));
        int before = emitted().size();

        now += 1_000;
        on(new WalkEvent.PageWalkRequested(COORD, CPU1, CPU1, MM, -1, BUF, Access.READ));
        on(cpuFault(CPU0, PID0, MM, HEAP + PAGE, Access.WRITE));
        now += 1_000;
        on(new WalkEvent.PageWalkRequested(COORD, CPU1, CPU1, MM, -1, HEAP, Access.READ));

        List<Event> after = emitted().subList(before, emitted().size());
        for (Event e : after) {
            assertFalse(e instanceof PageTableEvent.FrameFreed || e instanceof PageTableEvent.TlbFlushFinished
                    || e instanceof SecondaryTlbEvent.SecondaryTlbHookCalled || e instanceof PageTableEvent.TlbFlushStarted,
                    "the oopsed kswapd does nothing more: " + e);
        }
        assertTrue(after.contains(new FaultEvent.PageFaultHandled(CPU0, PID0, MM, HEAP + PAGE, FaultResult.RETRY)),
                "the machine goes on: " + after);
    }

    // ---------------------------------------------------------------- 3. x86 series-v2 direct reclaim of another mm

    /** mm 1's buffer (bound to the device) is the LRU's oldest; task 200 of mm 2 on cpu1 reclaims. */
    private static Scenario crossMmReclaim(String policy) {
        return new Scenario("cross-mm-test", Arch.X86, policy, 2, 1,
                List.of(new Scenario.MmSpec(MM, List.of(new Scenario.VmaSpec(BUF, 2, true, true))),
                        new Scenario.MmSpec(MM2, List.of(new Scenario.VmaSpec(HEAP, 4, true, false)))),
                List.of(new Scenario.TaskSpec(PID0, MM, 0, touch(BUF, Access.READ)),
                        new Scenario.TaskSpec(PID_B, MM2, 1, touch(HEAP, Access.WRITE))),
                List.of(device(MM, true, BUF, 2)),
                new Scenario.Timing(500, 800), new Scenario.EndCondition(0), AT_MIN, null);
    }

    @Test
    void givenX86SeriesV2_whenAnotherMmReclaimsThePagesDirectly_thenTheHookNamesTheReclaimersMmAndFreesWithoutSecondaryFlush() {
        boot(crossMmReclaim("series-v2"));
        now += 10_000;

        Decision fault = on(cpuFault(CPU1, PID_B, MM2, HEAP, Access.WRITE));
        assertEquals(events(
                new PageTableEvent.MemoryPressure(1, "__alloc_pages_direct_reclaim", "pid:" + PID_B),
                new PageTableEvent.TlbFlushStarted(SD, "direct-reclaim", CPU1, "task" + PID_B, PID_B, MM2, 0, 0, ALL,
                        "pid:" + PID_B),
                new PageTableEvent.PteCleared(MM, BUF, PFN, 1, SD),
                new PageTableEvent.TlbBatchAddPending(SD, MM, BUF),
                new PageTableEvent.MmTlbGenIncremented(MM, 1, 0, ALL, SD),
                batchCalledDirty(CPU1),
                new PageTableEvent.TlbBatchFlushStarted(SD, List.of(CPU0)),
                batchFlush(CPU0, true, MM, 1)), fault);

        // Each folio's batch: the IPI, then v2's hook with current->mm, the reclaimer's (mm 2), no notifier on it.
        now += 1_000;
        Decision first = on(flushed(CPU0, MM, 0, ALL, SD));
        assertEquals(events(
                hook(CPU1, "arch_tlbbatch_flush", HOOK_66, MM2, 0, ALL, 0, SD),
                new PageTableEvent.PteCleared(MM, BUF + PAGE, PFN + 1, 1, SD),
                new PageTableEvent.TlbBatchAddPending(SD, MM, BUF + PAGE),
                new PageTableEvent.MmTlbGenIncremented(MM, 2, 0, ALL, SD),
                batchCalledDirty(CPU1),
                new PageTableEvent.TlbBatchFlushStarted(SD, List.of(CPU0)),
                batchFlush(CPU0, true, MM, 2)), first);

        now += 1_000;
        Decision acked = on(flushed(CPU0, MM, 0, ALL, SD));
        assertEquals(events(
                hook(CPU1, "arch_tlbbatch_flush", HOOK_66, MM2, 0, ALL, 0, SD),
                new PageTableEvent.FrameFreed(PFN, 1, SD),
                new PageTableEvent.FrameFreed(PFN + 1, 1, SD),
                new PageTableEvent.TlbFlushFinished(SD, 2),
                new PageTableEvent.FrameAllocated(PFN + 1, 2),
                new PageTableEvent.PteSet(MM2, HEAP, PFN + 1, 2, true),
                new FaultEvent.PageFaultHandled(CPU1, PID_B, MM2, HEAP, FaultResult.RETRY)), acked);
        assertEquals(-1, indexOf(emitted(), SecondaryTlbEvent.InvalidateSecondaryTlbs.class),
                "mm 1's IOMMU never hears of the unmap: its device may DMA into the freed frames");
    }

    @Test
    void givenX86Linux66_whenAnotherMmReclaimsThePagesDirectly_thenTheHookNamesTheMmWhosePtesWereCleared() {
        boot(crossMmReclaim("linux-6.6"));

        Decision fault = on(cpuFault(CPU1, PID_B, MM2, HEAP, Access.WRITE));

        List<Event> events = fault.events();
        assertEquals(List.of(hook(CPU1, "arch_tlbbatch_add_pending", HOOK_66, MM, 0, ALL, 1, SD), invalidate(0, ALL, SD)),
                events.subList(events.size() - 2, events.size()));
    }

    // ---------------------------------------------------------------- 4. linux-6.5 munmap: the hook before the CPU flush

    private static final int DMA_PAGES = 16;
    private static final long DMA_END = BUF + DMA_PAGES * PAGE;

    private static SyscallEvent.Munmap munmap(String cpu, int pid, long start, long end) {
        return new SyscallEvent.Munmap(COORD, cpu, pid, MM, start, end);
    }

    private static List<Event> freedReturnedFinished(int pages, String cpu, int pid, long start, long end) {
        List<Event> expected = new ArrayList<>();
        for (int i = 0; i < pages; i++) {
            expected.add(new PageTableEvent.FrameFreed(PFN + i, 1, SD));
        }
        expected.add(new SyscallEvent.MunmapReturned(cpu, pid, MM, start, end, 0));
        expected.add(new PageTableEvent.MmuGatherFinished(SD, MM, pages));
        return expected;
    }

    @Test
    void givenX86Linux65_whenMunmap_thenRangeEndCallsInvalidateRangeBeforeAnyCpuFlush() {
        boot(Scenarios.munmapDma().with(Arch.X86, "linux-6.5"));
        now += 20_000;

        Decision d = on(munmap(CPU0, PID0, BUF, DMA_END));

        List<Event> expected = new ArrayList<>();
        expected.add(new PageTableEvent.MmuGatherStarted(SD, MM, BUF, DMA_END, "munmap", CPU0, PID0));
        expected.add(new PageTableEvent.VmaUnmapped(MM, BUF, DMA_END));
        for (int i = 0; i < DMA_PAGES; i++) {
            expected.add(new PageTableEvent.PteCleared(MM, BUF + i * PAGE, PFN + i, 1, SD));
        }
        expected.add(hook(CPU0, "mmu_notifier_invalidate_range_end", HOOK_65, MM, BUF, DMA_END, 1, SD));
        expected.add(invalidate(BUF, DMA_END, SD));
        assertEquals(events(expected), d);
        assertEquals(0, coordinator.tlbGen(MM), "no inc_mm_tlb_gen before the hook returned");
    }

    /**
     * 6.5, x86 (MMU_GATHER_MERGE_VMAS): after range_end's invalidate_range, free_pgtables frees the
     * buffer's page tables (the mm's only VMA), tlb_finish_mmu flushes the CPUs with freed_tables,
     * and tlb_flush_mmu_tlbonly calls invalidate_range a second time over the gather's range,
     * after the CPU flush and before the free (the 6.1 capture in shared/real-kernel-traces).
     */
    @Test
    void givenX86Linux65MunmapInTheRangeEndHook_whenItReturns_thenTheCpuFlushThenTlbonlysInvalidateRangeThenTheFree() {
        boot(Scenarios.munmapDma().with(Arch.X86, "linux-6.5"));
        on(munmap(CPU0, PID0, BUF, DMA_END));

        now += 2_000;
        Decision flush = on(secondaryDone(BUF, DMA_END, SD));
        assertEquals(events(
                new PageTableEvent.PageTableFreed(MM, "pte", BUF, SD),
                new PageTableEvent.PageTableFreed(MM, "pmd", BUF, SD),
                new PageTableEvent.PageTableFreed(MM, "pud", BUF, SD),
                new PageTableEvent.TlbFlushCalled(SD, CPU0, "tlb_flush_mmu_tlbonly", "flush_tlb_mm_range", MM, BUF, DMA_END, 12, true),
                new PageTableEvent.MmTlbGenIncremented(MM, 1, BUF, DMA_END, SD),
                new IpiEvent.FlushTlb(CPU0, MM, BUF, DMA_END, 1, 1, false, true, SD),
                new IpiEvent.FlushTlb(CPU1, MM, BUF, DMA_END, 1, 1, true, true, SD)), flush);

        now += 1_000;
        assertEquals(Decision.NONE, on(flushed(CPU1, MM, BUF, DMA_END, SD)));
        Decision again = on(flushed(CPU0, MM, BUF, DMA_END, SD));
        assertEquals(events(hook(CPU0, "tlb_flush_mmu_tlbonly", HOOK_65, MM, BUF, DMA_END, 1, SD), invalidate(BUF, DMA_END, SD)),
                again);

        Decision done = on(secondaryDone(BUF, DMA_END, SD));
        assertEquals(events(freedReturnedFinished(DMA_PAGES, CPU0, PID0, BUF, DMA_END)), done);
    }

    // ---------------------------------------------------------------- 5. arm64 linux-6.6 munmap: TLBI broadcast

    /** arm64: 3 CPUs, but only cpu0 ever ran mm 1; a 4-page buffer bound to the device. */
    private static Scenario arm64ThreeCpus(String policy, boolean wrprotect) {
        return new Scenario("arm64-test", Arch.ARM64, policy, 3, 1,
                List.of(new Scenario.MmSpec(MM, List.of(new Scenario.VmaSpec(BUF, 4, true, true, wrprotect)))),
                List.of(new Scenario.TaskSpec(PID0, MM, 0, touch(BUF, Access.READ))),
                List.of(device(MM, false, BUF, 4)),
                new Scenario.Timing(500, 800), new Scenario.EndCondition(0));
    }

    private static final long END4 = BUF + 4 * PAGE;

    /** __flush_tlb_range's TLBIs of [start, end) on every CPU (arm64 broadcasts; no cpumask). */
    private static List<Event> tlbis(String op, long start, long end) {
        List<Event> l = new ArrayList<>();
        for (String cpu : List.of(CPU0, CPU1, CPU2)) {
            l.add(new IpiEvent.Tlbi(cpu, op, MM, start, end, SD));
        }
        return l;
    }

    /**
     * arm64 does not merge VMAs: tlb_end_vma flushes the buffer's VMA as soon as its PTEs are
     * cleared, __flush_tlb_range's TLBIs to every CPU; in 6.6 its hook comes after dsb(ish), so not
     * in this decision.
     */
    @Test
    void givenArm64Linux66_whenMunmap_thenTlbEndVmaFlushesTheVmaWithTlbisToEveryCpuAndTheHookWaitsForTheDsb() {
        boot(arm64ThreeCpus("linux-6.6", false));

        Decision d = on(munmap(CPU0, PID0, BUF, END4));

        List<Event> expected = new ArrayList<>();
        expected.add(new PageTableEvent.MmuGatherStarted(SD, MM, BUF, END4, "munmap", CPU0, PID0));
        expected.add(new PageTableEvent.VmaUnmapped(MM, BUF, END4));
        for (int i = 0; i < 4; i++) {
            expected.add(new PageTableEvent.PteCleared(MM, BUF + i * PAGE, PFN + i, 1, SD));
        }
        expected.add(new PageTableEvent.TlbFlushCalled(SD, CPU0, "tlb_flush_mmu_tlbonly", "__flush_tlb_range", MM, BUF, END4, 12, false));
        expected.addAll(tlbis("VALE1IS", BUF, END4));
        assertEquals(events(expected), d);
        assertEquals(-1, indexOf(d.events(), PageTableEvent.MmTlbGenIncremented.class), "arm64 has no tlb_gen");
        assertEquals(0, coordinator.tlbGen(MM));
    }

    /**
     * 6.6's __flush_tlb_range calls the hook after dsb(ish) with start and end, but the
     * __flush_tlb_range_op loop advanced start to end: the SMMU gets an empty range (end, end),
     * which its driver reads as the whole ASID.
     */
    @Test
    void givenArm64Linux66Munmap_whenEveryTlbiCompleted_thenTheHookIsCalledWithStartAdvancedToEnd() {
        boot(arm64ThreeCpus("linux-6.6", false));
        on(munmap(CPU0, PID0, BUF, END4));

        assertEquals(Decision.NONE, on(tlbiDone(CPU2, BUF, END4, SD)));
        assertEquals(Decision.NONE, on(tlbiDone(CPU0, BUF, END4, SD)), "cpu2 never ran mm 1, but dsb(ish) waits for it too");
        Decision d = on(tlbiDone(CPU1, BUF, END4, SD));

        assertEquals(events(hook(CPU0, "__flush_tlb_range", HOOK_66, MM, END4, END4, 1, SD), invalidate(END4, END4, SD)), d);
    }

    /**
     * Then free_pgtables frees the VMA's PTE, PMD and PUD tables (the mm's only VMA), and
     * tlb_finish_mmu flushes their range: last_level false (VAE1IS), the stride PMD_SIZE as only
     * tables were cleared, so the 2 MiB around the table's first page; its hook again (end, end).
     * Only then are the frames freed.
     */
    @Test
    void givenArm64Linux66MunmapsHookReturned_whenTheTablesAreFreed_thenTheirFlushAndHookComeBeforeAnyFrameIsFreed() {
        boot(arm64ThreeCpus("linux-6.6", false));
        on(munmap(CPU0, PID0, BUF, END4));
        for (String cpu : List.of(CPU0, CPU1, CPU2)) {
            on(tlbiDone(cpu, BUF, END4, SD));
        }

        Decision tables = on(secondaryDone(END4, END4, SD));

        long pmdEnd = BUF + (1L << 21);
        List<Event> expected = new ArrayList<>(List.of(
                new PageTableEvent.PageTableFreed(MM, "pte", BUF, SD),
                new PageTableEvent.PageTableFreed(MM, "pmd", BUF, SD),
                new PageTableEvent.PageTableFreed(MM, "pud", BUF, SD),
                new PageTableEvent.TlbFlushCalled(SD, CPU0, "tlb_flush_mmu_tlbonly", "__flush_tlb_range", MM, BUF, BUF + PAGE, 21, true)));
        expected.addAll(tlbis("VAE1IS", BUF, pmdEnd));
        assertEquals(events(expected), tables);
        for (String cpu : List.of(CPU0, CPU1)) {
            assertEquals(Decision.NONE, on(tlbiDone(cpu, BUF, pmdEnd, SD)));
        }
        assertEquals(events(hook(CPU0, "__flush_tlb_range", HOOK_66, MM, pmdEnd, pmdEnd, 1, SD), invalidate(pmdEnd, pmdEnd, SD)),
                on(tlbiDone(CPU2, BUF, pmdEnd, SD)));

        assertEquals(events(freedReturnedFinished(4, CPU0, PID0, BUF, END4)), on(secondaryDone(pmdEnd, pmdEnd, SD)));
    }

    /**
     * A variant that calls __flush_tlb_range's hook after the TLBIs but before dsb(ish) (6.9 to
     * 6.12.19, or a patch): the hook and the TLBIs run concurrently, and the function returns only
     * once both completed, whichever is last.
     */
    @Test
    void givenArm64HookBeforeTheDsb_whenTheSecondaryCompletesFirst_thenTheFunctionWaitsForTheLastTlbi() {
        KernelVariant base = KernelFiles.builtIn("linux-6.6").orElseThrow();
        KernelVariant.Arm64 a = base.arm64();
        Hook beforeWait = new Hook(Hook.HookMm.MM, List.of(Hook.Bound.START, Hook.Bound.END), Hook.Position.BEFORE_WAIT);
        KernelVariant variant = new KernelVariant("hook-before-dsb", "test", "linux-6.6", base.hook(), base.generic(), base.x86(),
                new KernelVariant.Arm64(a.flushTlbMm(), new Rules.FlushTlbRange(a.flushTlbRange().maxTlbiOps(), beforeWait, "test"),
                        a.flushTlbRangeOp(), a.flushTlbPageNosync(), a.archTlbbatchShouldDefer(), a.archTlbbatchFlush(),
                        a.archFlushTlbBatchedPending(), a.mmuGather()));
        Scenario s = arm64ThreeCpus("linux-6.6", false);
        s = new Scenario(s.name(), s.arch(), "hook-before-dsb", s.cpus(), s.iommus(), s.mms(), s.tasks(), s.devices(), s.timing(),
                s.end());
        on(new ControlEvent.RunStarted("r", 7, s, variant));

        Decision d = on(munmap(CPU0, PID0, BUF, END4));
        List<Event> tail = d.events().subList(d.events().size() - 5, d.events().size());
        List<Event> expected = new ArrayList<>(tlbis("VALE1IS", BUF, END4));
        expected.add(hook(CPU0, "__flush_tlb_range", HOOK_66, MM, END4, END4, 1, SD));
        expected.add(invalidate(END4, END4, SD));
        assertEquals(expected, tail, "the TLBIs, then the hook with the loop's start, in one decision");

        assertEquals(Decision.NONE, on(secondaryDone(END4, END4, SD)));
        assertEquals(Decision.NONE, on(tlbiDone(CPU0, BUF, END4, SD)));
        assertEquals(Decision.NONE, on(tlbiDone(CPU1, BUF, END4, SD)));
        Decision last = on(tlbiDone(CPU2, BUF, END4, SD));
        assertEquals(new PageTableEvent.PageTableFreed(MM, "pte", BUF, SD), last.events().get(0),
                "__flush_tlb_range returned: unmap_region goes on to free_pgtables");
    }

    // ---------------------------------------------------------------- 6. write fault on a write-protected PTE

    private static FaultEvent.PageResponseSent response(long va, FaultEvent.PageResponseCode code) {
        return new FaultEvent.PageResponseSent(IOMMU, DEV, PASID, va, code);
    }

    private static List<Event> flushPageStarted(long va) {
        return List.of(
                new PageTableEvent.TlbFlushStarted(SD, "ptep_set_access_flags", CPU0, Coordinator.IOPF_COMM, -1, 0, MM, va,
                        va + PAGE, "dev:" + DEV),
                new PageTableEvent.PteProtectionChanged(MM, va, PFN + (va - BUF) / PAGE, 1, true, "ptep_set_access_flags", SD),
                new PageTableEvent.TlbFlushCalled(SD, CPU0, "ptep_set_access_flags", "flush_tlb_page", MM, va, va + PAGE, 12, false),
                new IpiEvent.Tlbi(CPU0, "VALE1IS", MM, va, va + PAGE, SD),
                new IpiEvent.Tlbi(CPU1, "VALE1IS", MM, va, va + PAGE, SD),
                new IpiEvent.Tlbi(CPU2, "VALE1IS", MM, va, va + PAGE, SD));
    }

    @Test
    void givenArm64Linux65_whenADeviceWritesAWriteProtectedPte_thenFlushTlbPageReachesOnlyTheCpus() {
        boot(arm64ThreeCpus("linux-6.5", true));
        long va = BUF + PAGE;

        Decision d = on(deviceFault(va, Access.WRITE));

        assertEquals(events(flushPageStarted(va)), d);
        assertEquals(Decision.NONE, on(tlbiDone(CPU0, va, va + PAGE, SD)));
        assertEquals(Decision.NONE, on(tlbiDone(CPU2, va, va + PAGE, SD)));
        Decision last = on(tlbiDone(CPU1, va, va + PAGE, SD));
        assertEquals(events(new PageTableEvent.TlbFlushFinished(SD, 0), response(va, FaultEvent.PageResponseCode.SUCCESS)),
                last);
        assertEquals(-1, indexOf(emitted(), SecondaryTlbEvent.SecondaryTlbHookCalled.class),
                "6.5: ptep_set_access_flags never tells the SMMU");
    }

    @Test
    void givenArm64Linux66_whenADeviceWritesAWriteProtectedPte_thenFlushTlbPageNosyncCallsTheHookAndTheResponseWaitsForIt() {
        boot(arm64ThreeCpus("linux-6.6", true));
        long va = BUF + PAGE;

        Decision d = on(deviceFault(va, Access.WRITE));

        List<Event> expected = new ArrayList<>(flushPageStarted(va));
        expected.add(hook(CPU0, "__flush_tlb_page_nosync", HOOK_66, MM, va, va + PAGE, 1, SD));
        expected.add(invalidate(va, va + PAGE, SD));
        assertEquals(events(expected), d);
        for (String cpu : List.of(CPU0, CPU1, CPU2)) {
            assertEquals(Decision.NONE, on(tlbiDone(cpu, va, va + PAGE, SD)), "the hook has not returned: " + cpu);
        }
        Decision done = on(secondaryDone(va, va + PAGE, SD));
        assertEquals(events(new PageTableEvent.TlbFlushFinished(SD, 0), response(va, FaultEvent.PageResponseCode.SUCCESS)),
                done);
    }

    @Test
    void givenArm64Linux66FlushPage_whenTheSecondaryCompletesBeforeTheTlbis_thenTheResponseWaitsForTheLastTlbi() {
        boot(arm64ThreeCpus("linux-6.6", true));
        on(deviceFault(BUF, Access.WRITE));

        assertEquals(Decision.NONE, on(secondaryDone(BUF, BUF + PAGE, SD)));
        assertEquals(Decision.NONE, on(tlbiDone(CPU0, BUF, BUF + PAGE, SD)));
        assertEquals(Decision.NONE, on(tlbiDone(CPU1, BUF, BUF + PAGE, SD)));
        assertEquals(events(new PageTableEvent.TlbFlushFinished(SD, 0), response(BUF, FaultEvent.PageResponseCode.SUCCESS)),
                on(tlbiDone(CPU2, BUF, BUF + PAGE, SD)));
    }

    @Test
    void givenArm64PteAlreadyUpgraded_whenTheDeviceFaultsAgain_thenItIsAnsweredSuccessAtOnceWithoutAFlush() {
        for (String policy : List.of("linux-6.5", "linux-6.6")) {
            setUp();
            boot(arm64ThreeCpus(policy, true));
            on(deviceFault(BUF, Access.WRITE));
            for (String cpu : List.of(CPU0, CPU1, CPU2)) {
                on(tlbiDone(cpu, BUF, BUF + PAGE, SD));
            }
            if (policy.equals("linux-6.6")) {
                on(secondaryDone(BUF, BUF + PAGE, SD));
            }

            Decision again = on(deviceFault(BUF, Access.WRITE));

            assertEquals(events(response(BUF, FaultEvent.PageResponseCode.SUCCESS)), again, policy + ": spurious");
        }
    }

    @Test
    void givenX86_whenADeviceWritesAWriteProtectedPte_thenThePteIsUpgradedWithoutAFlushAndAnsweredInTheSameDecision() {
        boot(arm64ThreeCpus("linux-6.6", true).with(Arch.X86, "linux-6.6"));

        Decision d = on(deviceFault(BUF + 2 * PAGE, Access.WRITE));

        assertEquals(events(
                new PageTableEvent.PteProtectionChanged(MM, BUF + 2 * PAGE, PFN + 2, 1, true, "ptep_set_access_flags", -1),
                response(BUF + 2 * PAGE, FaultEvent.PageResponseCode.SUCCESS)), d);
        assertEquals(events(response(BUF + 2 * PAGE, FaultEvent.PageResponseCode.SUCCESS)),
                on(deviceFault(BUF + 2 * PAGE, Access.WRITE)), "the second fault is spurious");
    }

    // ---------------------------------------------------------------- 7. mprotect read-only, x86 6.6

    @Test
    void givenX86Linux66_whenMprotectReadOnly_thenWritablePtesAreWriteProtectedFlushedAndTheHookRunsBeforeItReturns() {
        // Pages 0-1 writable; pages 2-3 are present but already read-only (write-protected in a writable VMA).
        Scenario s = new Scenario("mprotect-test", Arch.X86, "linux-6.6", 2, 1,
                List.of(new Scenario.MmSpec(MM, List.of(new Scenario.VmaSpec(BUF, 2, true, true),
                        new Scenario.VmaSpec(BUF + 2 * PAGE, 2, true, true, true)))),
                List.of(new Scenario.TaskSpec(PID0, MM, 0, touch(BUF, Access.WRITE)),
                        new Scenario.TaskSpec(PID1, MM, 1, touch(BUF, Access.READ))),
                List.of(device(MM, true, BUF, 4)),
                new Scenario.Timing(500, 800), new Scenario.EndCondition(0));
        boot(s);
        now += 5_000;

        Decision d = on(new SyscallEvent.Mprotect(COORD, CPU0, PID0, MM, BUF, END4, false));

        // The gather's range is what change_pte_range changed (tlb_flush_pte_range per PTE): pages 0-1.
        long changed = BUF + 2 * PAGE;
        assertEquals(events(
                new PageTableEvent.MmuGatherStarted(SD, MM, BUF, END4, "mprotect", CPU0, PID0),
                new PageTableEvent.VmaProtectionChanged(MM, BUF, END4, false),
                new PageTableEvent.PteProtectionChanged(MM, BUF, PFN, 1, false, "change_pte_range", SD),
                new PageTableEvent.PteProtectionChanged(MM, BUF + PAGE, PFN + 1, 1, false, "change_pte_range", SD),
                new PageTableEvent.TlbFlushCalled(SD, CPU0, "tlb_flush_mmu_tlbonly", "flush_tlb_mm_range", MM, BUF, changed, 12, false),
                new PageTableEvent.MmTlbGenIncremented(MM, 1, BUF, changed, SD),
                new IpiEvent.FlushTlb(CPU0, MM, BUF, changed, 1, 1, false, false, SD),
                new IpiEvent.FlushTlb(CPU1, MM, BUF, changed, 1, 1, true, false, SD)), d);

        assertEquals(Decision.NONE, on(flushed(CPU0, MM, BUF, changed, SD)));
        assertEquals(events(hook(CPU0, "flush_tlb_mm_range", HOOK_66, MM, BUF, changed, 1, SD), invalidate(BUF, changed, SD)),
                on(flushed(CPU1, MM, BUF, changed, SD)));
        Decision returned = on(secondaryDone(BUF, changed, SD));
        assertEquals(events(
                new SyscallEvent.MprotectReturned(CPU0, PID0, MM, BUF, END4, 0),
                new PageTableEvent.MmuGatherFinished(SD, MM, 0)), returned);
        assertEquals(4, coordinator.presentPtes(MM), "mprotect frees nothing");

        now += 1_000;
        assertEquals(events(response(BUF + PAGE, FaultEvent.PageResponseCode.INVALID)), on(deviceFault(BUF + PAGE, Access.WRITE)));
        assertEquals(events(response(BUF + 3 * PAGE, FaultEvent.PageResponseCode.INVALID)),
                on(deviceFault(BUF + 3 * PAGE, Access.WRITE)), "no write-protect reuse in a read-only VMA");
    }

    // ---------------------------------------------------------------- 8. the end window

    private static final long WINDOW = Scenarios.WINDOW_NS;

    @Test
    void givenAnEndWindow_whenTheRunStarts_thenTheEndTimerIsArmedAtTheWindowAndTheRecoveredNodeReArmsIt() {
        Scenario s = Scenarios.smmuPermissionUpgrade();
        assertEquals(new Scenario.EndCondition(0, WINDOW), s.end());

        Decision d = boot(s);

        assertEquals(List.of(new TimerRequest(Coordinator.END_TIMER, WINDOW)), d.timers());
        assertEquals(List.of(new TimerRequest(Coordinator.END_TIMER, WINDOW)), coordinator.timersAfterRecovery(1_000));
        assertEquals(List.of(new TimerRequest(Coordinator.END_TIMER, WINDOW + 5)), coordinator.timersAfterRecovery(WINDOW + 5),
                "a node recovered after the window closed fires at once");
    }

    @Test
    void givenNoEndWindow_whenTheRunStarts_thenNoTimerIsArmed() {
        Decision d = boot(Scenarios.munmapDma());

        assertEquals(List.of(), d.timers());
        assertEquals(List.of(), coordinator.timersAfterRecovery(1_000));
    }

    private static Decision windowClosed() {
        return new Decision(List.of(
                new ControlEvent.RunCompleted("the observation window of " + WINDOW + " ns closed"),
                new ControlEvent.NodeQuiesced(NodeIds.CONTROL, COORD)),
                List.of(TimerRequest.cancel(Coordinator.END_TIMER)));
    }

    @Test
    void givenAnEndWindow_whenTheEndTimerFires_thenTheRunCompletesAndTheCoordinatorQuiesces() {
        boot(Scenarios.smmuPermissionUpgrade());
        now = WINDOW;

        Decision d = on(new ControlEvent.TimerFired(Coordinator.END_TIMER, WINDOW));

        assertEquals(windowClosed(), d);
        assertEquals(Lifecycle.QUIESCED, coordinator.lifecycle());
        now += 1_000;
        assertEquals(Decision.NONE, on(deviceFault(BUF, Access.WRITE)));
    }

    @Test
    void givenAnEndWindow_whenAnInputIsHandledJustBeforeIt_thenItIsHandledNormally() {
        boot(Scenarios.smmuPermissionUpgrade());
        now = WINDOW - 1;

        Decision d = on(new WalkEvent.PageWalkRequested(COORD, IOMMU, DEV, MM, PASID, BUF, Access.READ));

        assertEquals(events(new WalkEvent.PageWalkCompleted(IOMMU, DEV, MM, PASID, BUF, true, PFN, 1, false)), d);
        assertEquals(Lifecycle.RUNNING, coordinator.lifecycle());
    }

    @Test
    void givenAnEndWindow_whenAnyInputIsHandledAtOrAfterIt_thenItCompletesTheRunInsteadOfBeingHandled() {
        boot(Scenarios.smmuPermissionUpgrade());
        now = WINDOW;

        Decision d = on(deviceFault(BUF, Access.WRITE));

        assertEquals(windowClosed(), d, "no flush, no page response: the window closed");
        assertEquals(Lifecycle.QUIESCED, coordinator.lifecycle());
        assertEquals(Decision.NONE, on(new ControlEvent.TimerFired(Coordinator.END_TIMER, WINDOW)), "the late timer is ignored");
    }

    // ---------------------------------------------------------------- 10. a CPU spinning in csd_lock_wait

    /** 3 frames, 2 taken by the buffer at boot: 1 free, at min; reclaim isolates one folio per pass. */
    private static final Scenario.Memory AT_MIN_ONE_PER_PASS = new Scenario.Memory(3, 1, 1, 1, 1);

    /**
     * Task 100's direct reclaim on cpu0 has sent arch_tlbbatch_flush's IPI to cpu1 and waits for
     * it: cpu0 spins in csd_lock_wait with preemption disabled.
     */
    private void givenCpu0InCsdLockWait() {
        boot(oneMmReclaim("linux-6.6", AT_MIN_ONE_PER_PASS, null));
        now += 10_000;
        on(cpuFault(CPU0, PID0, MM, HEAP, Access.WRITE));
        now += 1_000;
        Decision batch = on(secondaryDone(0, ALL, SD));
        assertEquals(events(
                batchCalledDirty(CPU0),
                new PageTableEvent.TlbBatchFlushStarted(SD, List.of(CPU0, CPU1)),
                batchFlush(CPU0, false, MM, 1),
                batchFlush(CPU1, true, MM, 1)), batch);
    }

    @Test
    void givenCpu0SpinningInCsdLockWait_whenADeviceFaultNeedsDirectReclaim_thenTheIopfWorkerReclaimsOnAnotherCpu() {
        givenCpu0InCsdLockWait();

        now += 1_000;
        Decision d = on(deviceFault(HEAP + PAGE, Access.WRITE));

        // drivers/iommu/io-pgfault.c: the IOPF workqueue is WQ_UNBOUND; cpu0 cannot schedule it.
        assertEquals(new PageTableEvent.MemoryPressure(1, "__alloc_pages_direct_reclaim", "dev:" + DEV), d.events().get(0));
        assertEquals(new PageTableEvent.TlbFlushStarted(SD + 1, "direct-reclaim", CPU1, Coordinator.IOPF_COMM, -1, 0, 0, 0, ALL,
                "dev:" + DEV), d.events().get(1));
    }

    @Test
    void givenEveryCpuSpinningInCsdLockWait_whenADeviceFaults_thenItsWorkWaitsUntilAnAckFreesACpu() {
        givenCpu0InCsdLockWait();
        now += 1_000;
        // Task 101 unmaps the buffer's other page on cpu1. The reclaim's batch left mm 1's tlb_flush_batched
        // pending, so zap_pte_range's flush_tlb_batched_pending first flushes the whole mm (x86 flush_tlb_mm,
        // freed_tables): flush_tlb_mm_range waits for cpu0's flush_tlb_func.
        on(new SyscallEvent.Munmap(COORD, CPU1, PID1, MM, BUF + PAGE, BUF + 2 * PAGE));
        assertTrue(emitted().contains(new PageTableEvent.TlbBatchedPendingFlushed(MM, SD + 1)), emitted().toString());
        assertTrue(emitted().contains(new PageTableEvent.TlbFlushCalled(SD + 1, CPU1, "flush_tlb_batched_pending", "flush_tlb_mm_range",
                MM, 0, ALL, 0, true)), emitted().toString());
        assertTrue(emitted().contains(new IpiEvent.FlushTlb(CPU0, MM, 0, ALL, 2, 2, true, true, SD + 1)), emitted().toString());

        now += 1_000;
        assertEquals(Decision.NONE, on(deviceFault(HEAP + PAGE, Access.WRITE)), "no CPU can run the IOPF work item");

        now += 1_000;
        Decision acked = on(flushed(CPU0, MM, 0, ALL, SD + 1));

        // cpu1 waits for no other CPU now: the queued work runs there. The munmap still waits in
        // flush_tlb_batched_pending, before its zap, so the buffer's page is still on the LRU and the
        // work (at min) reclaims it directly. (The kernel's zap holds that page table's lock while it
        // flushes, and reclaim would wait for it: page-table locks are not modelled.)
        assertEquals(new PageTableEvent.MemoryPressure(1, "__alloc_pages_direct_reclaim", "dev:" + DEV), acked.events().get(0));
        assertEquals(new PageTableEvent.TlbFlushStarted(SD + 2, "direct-reclaim", CPU1, Coordinator.IOPF_COMM, -1, 0, 0, 0, ALL,
                "dev:" + DEV), acked.events().get(1));
    }

    // ---------------------------------------------------------------- 9. recovery from the log

    /**
     * A fresh coordinator fed, in log order, each kept input ({@link Coordinator#keepsInput}) and
     * the events the original decided for it, as NodeDriver.recover replays them.
     */
    private Coordinator recoveredFromLog() {
        return log.rebuilt(now);
    }

    /** For each input, the twin decides exactly as the original: events and timers, the watchdog's included. */
    private void assertSameDecisions(Coordinator twin, List<Event> inputs) {
        for (Event input : inputs) {
            now += 500;
            on(input);
            Decision original = log.lastDecision();
            assertEquals(original, twin.onEvent(input, now), "after " + input);
        }
    }

    @Test
    void givenDirectReclaimWaitingInTheHook_whenRecoveredFromTheLog_thenTheTwinDecidesTheSameForEveryNextInput() {
        givenDirectReclaimAtTheFirstHook66();

        Coordinator twin = recoveredFromLog();

        assertEquals(Lifecycle.RUNNING, twin.lifecycle());
        assertEquals(coordinator.presentPtes(MM), twin.presentPtes(MM));
        assertEquals(coordinator.tlbGen(MM), twin.tlbGen(MM));
        assertEquals(coordinator.freeFrameCount(), twin.freeFrameCount());
        assertSameDecisions(twin, List.of(
                secondaryDone(0, ALL, SD),
                flushed(CPU1, MM, 0, ALL, SD),
                flushed(CPU0, MM, 0, ALL, SD),
                secondaryDone(0, ALL, SD),
                flushed(CPU1, MM, 0, ALL, SD),
                flushed(CPU0, MM, 0, ALL, SD)));
        assertTrue(emitted().contains(new FaultEvent.PageFaultHandled(CPU0, PID0, MM, HEAP, FaultResult.RETRY)),
                "the replayed run reached the retried fault");
    }

    @Test
    void givenABatchFlushHalfAcked_whenRecoveredFromTheLog_thenTheTwinStillWaitsForTheOtherCpu() {
        givenDirectReclaimAtTheFirstHook66();
        on(secondaryDone(0, ALL, SD));
        on(flushed(CPU1, MM, 0, ALL, SD));

        Coordinator twin = recoveredFromLog();

        assertSameDecisions(twin, List.of(
                new WalkEvent.PageWalkRequested(COORD, CPU1, CPU1, MM, -1, BUF, Access.READ),
                flushed(CPU0, MM, 0, ALL, SD)));
    }

    @Test
    void givenKswapdOopsedInSeriesV2_whenRecoveredFromTheLog_thenTheTwinNeitherWakesKswapdNorFinishesTheShootdown() {
        givenKswapdReclaimV2();
        on(flushed(CPU0, MM, 0, ALL, SD));
        on(flushed(CPU1, MM, 0, ALL, SD));

        Coordinator twin = recoveredFromLog();

        assertSameDecisions(twin, List.of(
                cpuFault(CPU0, PID0, MM, HEAP + PAGE, Access.WRITE),
                cpuFault(CPU0, PID0, MM, HEAP + 2 * PAGE, Access.WRITE)));
    }

    @Test
    void givenKswapdsCpuSpinningInCsdLockWait_whenAnAllocationWakesKswapd_thenItRunsOnAnotherCpu() {
        boot(oneMmReclaim("linux-6.6", AT_LOW, new Scenario.Kswapd(0)));
        now += 10_000;
        // Task 100's munmap on cpu0: flush_tlb_mm_range waits for cpu1's flush_tlb_func.
        on(new SyscallEvent.Munmap(COORD, CPU0, PID0, MM, BUF + PAGE, BUF + 2 * PAGE));
        assertTrue(emitted().contains(new IpiEvent.FlushTlb(CPU1, MM, BUF + PAGE, BUF + 2 * PAGE, 1, 1, true, false, SD)),
                emitted().toString());

        now += 1_000;
        Decision d = on(cpuFault(CPU1, PID1, MM, HEAP, Access.WRITE));

        assertEquals(new PageTableEvent.MemoryPressure(2, "wakeup_kswapd", "pid:" + PID1), d.events().get(0));
        assertEquals(new PageTableEvent.TlbFlushStarted(SD + 1, "kswapd", CPU1, "kswapd0", -1, 0, 0, 0, ALL, ""),
                d.events().get(1), "kswapd may run on any CPU of its node; cpu0 cannot schedule it");
    }

    @Test
    void givenAnIopfWorkItemQueuedBehindCsdLockWaits_whenRecoveredFromTheLog_thenTheTwinRunsItAtTheSameAck() {
        givenCpu0InCsdLockWait();
        on(new SyscallEvent.Munmap(COORD, CPU1, PID1, MM, BUF + PAGE, BUF + 2 * PAGE));
        on(deviceFault(HEAP + PAGE, Access.WRITE));

        Coordinator twin = recoveredFromLog();

        assertSameDecisions(twin, List.of(
                flushed(CPU1, MM, 0, ALL, SD + 1),
                flushed(CPU0, MM, 0, ALL, SD + 1)));
        assertTrue(emitted().contains(new PageTableEvent.TlbFlushStarted(SD + 2, "direct-reclaim", CPU1, Coordinator.IOPF_COMM, -1, 0,
                0, 0, ALL, "dev:" + DEV)), "the queued IOPF work ran once cpu1 was free: " + emitted());
    }

    // ---------------------------------------------------------------- found while writing these tests

    @Test
    void givenNoFreeFrameAndNothingToReclaim_whenACpuFaults_thenTheTaskIsOomKilledNotSegfaulted() {
        // One frame, mapped by the buffer; the buffer's munmap holds it gathered (not free, not on the LRU).
        Scenario s = new Scenario("oom-test", Arch.X86, "linux-6.6", 1, 0,
                List.of(new Scenario.MmSpec(MM, List.of(new Scenario.VmaSpec(BUF, 1, true, true),
                        new Scenario.VmaSpec(HEAP, 2, true, false)))),
                List.of(new Scenario.TaskSpec(PID0, MM, 0, touch(HEAP, Access.WRITE))),
                List.of(), new Scenario.Timing(500, 800), new Scenario.EndCondition(0),
                new Scenario.Memory(1, 0, 0, 0, 2), null);
        boot(s);
        on(new SyscallEvent.Munmap(COORD, CPU0, PID0, MM, BUF, BUF + PAGE));
        assertEquals(0, coordinator.freeFrameCount());

        Decision d = on(cpuFault(CPU0, PID0, MM, HEAP, Access.WRITE));

        // mm/memory.c: VM_FAULT_OOM -> pagefault_out_of_memory -> the OOM killer; FaultResult.KILLED
        // documents "the OOM killer". SIGSEGV is for a bad address or permission (VM_FAULT_SIGSEGV).
        assertEquals(events(new FaultEvent.PageFaultHandled(CPU0, PID0, MM, HEAP, FaultResult.KILLED)), d);
    }
}
