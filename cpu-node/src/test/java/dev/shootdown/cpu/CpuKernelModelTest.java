package dev.shootdown.cpu;

import dev.shootdown.core.Decision;
import dev.shootdown.core.TimerRequest;
import dev.shootdown.event.Access;
import dev.shootdown.event.FaultEvent;
import dev.shootdown.event.IpiEvent;
import dev.shootdown.event.IpiEvent.FlushKind;
import dev.shootdown.event.Kernel;
import dev.shootdown.event.NodeIds;
import dev.shootdown.event.SyscallEvent;
import dev.shootdown.event.TraceEvent;
import dev.shootdown.event.WalkEvent;
import dev.shootdown.scenario.Arch;
import dev.shootdown.scenario.Scenario;
import dev.shootdown.scenario.TaskOp;
import dev.shootdown.testing.NodeFixture;
import dev.shootdown.testing.TestRuns;
import java.util.List;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Pure tests of the CPU under the kernel model's newer inputs: arch_tlbbatch_flush's mm-less
 * flush, arm64 broadcast TLBIs, the mprotect step and a task killed in a fault. Given/when/then,
 * manual clock: {@code now} is advanced by hand.
 */
class CpuKernelModelTest extends NodeFixture<Cpu> {

    private static final String CPU = "cpu0";
    private static final String COORD = NodeIds.COORDINATOR;
    private static final long MM = 1;
    private static final long OTHER_MM = 2;
    private static final int PID = 100;
    private static final long BUF = 0x7f0000000000L;
    private static final long PAGE = Kernel.PAGE_SIZE;
    private static final long STEP_NS = 100;
    private static final long FRAME0 = 0x1000;
    private static final long ALL = Kernel.TLB_FLUSH_ALL;
    private static final long INVALID_GEN = -1;

    private Cpu cpu;

    @BeforeEach
    void setUp() {
        cpu = given(new Cpu(CPU));
    }

    // ---------------------------------------------------------------- helpers

    private static Scenario scenario(String arch) {
        return new Scenario("cpu-test", Arch.of(arch), "linux-6.6", 1, 0,
                List.of(new Scenario.MmSpec(MM, List.of(new Scenario.VmaSpec(BUF, 4, true, true)))),
                List.of(), List.of(), new Scenario.Timing(STEP_NS, 800), new Scenario.EndCondition(1));
    }

    private Decision step() {
        return fire(Cpu.STEP_TIMER);
    }

    private void givenRunningTask(String arch, long mmTlbGen, List<TaskOp> program) {
        assertEquals(Decision.NONE, on(TestRuns.runStarted("r", 1, scenario(arch))));
        on(new IpiEvent.TaskScheduled(CPU, PID, MM, mmTlbGen, program));
    }

    /** {@code pages} steps that each miss, walk and fill page i of mm 1 with frame FRAME0 + i. */
    private void givenTlbFilled(int pages) {
        for (int i = 0; i < pages; i++) {
            now += STEP_NS;
            long va = BUF + i * PAGE;
            assertEquals(events(new WalkEvent.PageWalkRequested(COORD, CPU, CPU, MM, -1, va, Access.READ)), step());
            on(new WalkEvent.PageWalkCompleted(CPU, CPU, MM, -1, va, true, FRAME0 + i, 1, true));
        }
        assertEquals(pages, cpu.tlbEntries(MM));
    }

    private static List<TaskOp> readForever(int pages) {
        return List.of(new TaskOp.Touch(BUF, pages, Access.READ, 0));
    }

    /** arch_tlbbatch_flush's IPI: no mm, no new_tlb_gen; the batch's tlb_gen per mm it touched. */
    private static IpiEvent.FlushTlb batchFlush(long shootdownId, IpiEvent.MmTlbGen... gens) {
        return new IpiEvent.FlushTlb(CPU, 0, 0, ALL, INVALID_GEN, INVALID_GEN, true, false, shootdownId, List.of(gens));
    }

    private static IpiEvent.TlbFlushed flushed(long mm, FlushKind kind, long localGen, int dropped, long shootdownId) {
        return new IpiEvent.TlbFlushed(COORD, CPU, mm, 0, ALL, kind, localGen, dropped, shootdownId);
    }

    // ---------------------------------------------------------------- arch_tlbbatch_flush: FlushTlb with mm 0

    @Test
    void givenTheLoadedMmInTheBatch_whenAFlushWithoutMmArrives_thenTheLoadedMmIsFlushedFullyAndTheAckNamesIt() {
        givenRunningTask("x86", 0, readForever(4));
        givenTlbFilled(3);

        Decision d = on(batchFlush(21, new IpiEvent.MmTlbGen(OTHER_MM, 5), new IpiEvent.MmTlbGen(MM, 2)));

        assertEquals(events(flushed(MM, FlushKind.FULL, 2, 3, 21)), d);
        assertEquals(0, cpu.tlbEntries(MM));
        // The local generation caught up with the batch's: the same flush again does nothing.
        givenTlbFilledAgain();
        assertEquals(events(flushed(MM, FlushKind.NONE, 2, 0, 22)), on(batchFlush(22, new IpiEvent.MmTlbGen(MM, 2))));
        assertEquals(1, cpu.tlbEntries(MM));
    }

    private void givenTlbFilledAgain() {
        now += STEP_NS;
        long va = BUF + 3 * PAGE;
        assertEquals(events(new WalkEvent.PageWalkRequested(COORD, CPU, CPU, MM, -1, va, Access.READ)), step());
        on(new WalkEvent.PageWalkCompleted(CPU, CPU, MM, -1, va, true, FRAME0 + 3, 1, true));
    }

    @Test
    void givenTheLoadedMmNotInTheBatch_whenAFlushWithoutMmArrives_thenNothingIsFlushedAndTheAckNamesTheLoadedMm() {
        givenRunningTask("x86", 0, readForever(4));
        givenTlbFilled(2);

        Decision d = on(batchFlush(23, new IpiEvent.MmTlbGen(OTHER_MM, 4)));

        assertEquals(events(flushed(MM, FlushKind.NONE, 0, 0, 23)), d);
        assertEquals(2, cpu.tlbEntries(MM));
    }

    @Test
    void givenALazyCpu_whenAFlushWithoutMmArrives_thenItSwitchesToInitMmAndAnswersLazy() {
        givenRunningTask("x86", 0, List.of(new TaskOp.Touch(BUF, 2, Access.READ, 1)));
        givenTlbFilled(2);
        now += STEP_NS;
        assertEquals(events(new SyscallEvent.TaskExited(COORD, CPU, PID, MM, "exit")), step());
        assertTrue(cpu.isLazy());

        now += 1_000;
        Decision d = on(batchFlush(24, new IpiEvent.MmTlbGen(MM, 1)));

        assertEquals(events(new TraceEvent.MmSwitched(CPU, MM, Cpu.INIT_MM, 0), flushed(MM, FlushKind.LAZY, 0, 0, 24)), d);
        assertEquals(Cpu.INIT_MM, cpu.loadedMm());
        assertFalse(cpu.isLazy());
    }

    // ---------------------------------------------------------------- arm64: broadcast TLBI

    @Test
    void givenEntriesOfAnMmNotLoaded_whenATlbiForItsRangeArrives_thenOnlyThatRangeOfThatMmIsDroppedAndCounted() {
        givenRunningTask("arm64", 0, List.of(new TaskOp.Touch(BUF, 4, Access.READ, 1)));
        givenTlbFilled(4);
        now += STEP_NS;
        step(); // the task exits
        // Another process's task is scheduled here: mm 2 is loaded, mm 1's entries stay under its ASID.
        on(new IpiEvent.TaskScheduled(CPU, PID + 1, OTHER_MM, 0, List.of(new TaskOp.Touch(BUF, 1, Access.READ, 0))));
        assertEquals(OTHER_MM, cpu.loadedMm());
        assertEquals(4, cpu.tlbEntries(MM));

        Decision d = on(new IpiEvent.Tlbi(CPU, "VALE1IS", MM, BUF + PAGE, BUF + 3 * PAGE, 31));

        assertEquals(events(new IpiEvent.TlbiCompleted(COORD, CPU, MM, BUF + PAGE, BUF + 3 * PAGE, 2, 31)), d);
        assertEquals(2, cpu.tlbEntries(MM));
        assertEquals(OTHER_MM, cpu.loadedMm(), "a TLBI runs no kernel code: no switch");
    }

    @Test
    void givenEntriesOfTwoMms_whenATlbiForTheOtherMmArrives_thenThisMmsEntriesAreKept() {
        givenRunningTask("arm64", 0, readForever(4));
        givenTlbFilled(3);

        Decision d = on(new IpiEvent.Tlbi(CPU, "ASIDE1IS", OTHER_MM, 0, ALL, 32));

        assertEquals(events(new IpiEvent.TlbiCompleted(COORD, CPU, OTHER_MM, 0, ALL, 0, 32)), d);
        assertEquals(3, cpu.tlbEntries(MM));

        assertEquals(events(new IpiEvent.TlbiCompleted(COORD, CPU, MM, 0, ALL, 3, 33)),
                on(new IpiEvent.Tlbi(CPU, "ASIDE1IS", MM, 0, ALL, 33)));
        assertEquals(0, cpu.tlbEntries(MM));
    }

    // ---------------------------------------------------------------- mprotect step, killed task

    @Test
    void givenAMprotectStep_whenItRuns_thenTheTaskSyscallsAndResumesOnMprotectReturned() {
        List<TaskOp> program = List.of(new TaskOp.Mprotect(BUF, 2, false), new TaskOp.Touch(BUF + PAGE, 1, Access.READ, 1));
        givenRunningTask("x86", 0, program);

        now += STEP_NS;
        assertEquals(events(new SyscallEvent.Mprotect(COORD, CPU, PID, MM, BUF, BUF + 2 * PAGE, false)), step());
        now += STEP_NS;
        assertEquals(Decision.NONE, step(), "the task sleeps in mprotect");

        now += 4_000;
        Decision resumed = on(new SyscallEvent.MprotectReturned(CPU, PID, MM, BUF, BUF + 2 * PAGE, 0));

        assertEquals(events(new WalkEvent.PageWalkRequested(COORD, CPU, CPU, MM, -1, BUF + PAGE, Access.READ)), resumed);
    }

    @Test
    void givenAMadvisePageoutStep_whenItRuns_thenTheTaskSyscallsAndResumesOnMadviseReturned() {
        List<TaskOp> program = List.of(new TaskOp.Madvise(BUF, 2, TaskOp.Advice.PAGEOUT),
                new TaskOp.Touch(BUF + PAGE, 1, Access.READ, 1));
        givenRunningTask("x86", 0, program);

        now += STEP_NS;
        assertEquals(events(new SyscallEvent.Madvise(COORD, CPU, PID, MM, BUF, BUF + 2 * PAGE, "MADV_PAGEOUT")), step());
        now += STEP_NS;
        assertEquals(Decision.NONE, step(), "the task sleeps in madvise");

        now += 4_000;
        Decision resumed = on(new SyscallEvent.MadviseReturned(CPU, PID, MM, BUF, BUF + 2 * PAGE, "MADV_PAGEOUT", 0));

        assertEquals(events(new WalkEvent.PageWalkRequested(COORD, CPU, CPU, MM, -1, BUF + PAGE, Access.READ)), resumed);
    }

    @Test
    void givenAMemoryReclaimStep_whenItRuns_thenTheTaskWritesAndResumesOnMemoryReclaimReturned() {
        List<TaskOp> program = List.of(new TaskOp.MemoryReclaim(2), new TaskOp.Touch(BUF + PAGE, 1, Access.READ, 1));
        givenRunningTask("x86", 0, program);

        now += STEP_NS;
        assertEquals(events(new SyscallEvent.MemoryReclaim(COORD, CPU, PID, MM, 2)), step());
        now += STEP_NS;
        assertEquals(Decision.NONE, step(), "the task sleeps in its write to memory.reclaim");

        now += 4_000;
        Decision resumed = on(new SyscallEvent.MemoryReclaimReturned(CPU, PID, MM, 2, 2, 0));

        assertEquals(events(new WalkEvent.PageWalkRequested(COORD, CPU, CPU, MM, -1, BUF + PAGE, Access.READ)), resumed);
    }

    @Test
    void givenNoSyscallInFlight_whenMprotectReturnedArrives_thenItIsIgnored() {
        givenRunningTask("x86", 0, readForever(1));

        assertEquals(Decision.NONE, on(new SyscallEvent.MprotectReturned(CPU, PID, MM, BUF, BUF + PAGE, 0)));
    }

    @Test
    void givenAPageFault_whenTheKernelAnswersKilled_thenTheTaskExitsKilledAndRunsNoMoreSteps() {
        givenRunningTask("x86", 0, readForever(1));
        now += STEP_NS;
        step();
        assertEquals(events(new FaultEvent.PageFaultRaised(COORD, CPU, PID, MM, BUF, Access.READ)),
                on(new WalkEvent.PageWalkCompleted(CPU, CPU, MM, -1, BUF, false, -1, -1, false)));

        now += 3_000;
        Decision d = on(new FaultEvent.PageFaultHandled(CPU, PID, MM, BUF, FaultEvent.FaultResult.KILLED));

        assertEquals(events(new SyscallEvent.TaskExited(COORD, CPU, PID, MM, "killed")), d);
        assertTrue(cpu.isLazy());
        now += STEP_NS;
        assertEquals(Decision.NONE, step());
        assertEquals(List.<TimerRequest>of(), cpu.timersAfterRecovery(now), "a dead task needs no step timer");
    }
}
