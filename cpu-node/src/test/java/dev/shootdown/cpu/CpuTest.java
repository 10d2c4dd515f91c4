package dev.shootdown.cpu;

import dev.shootdown.core.Decision;
import dev.shootdown.core.Lifecycle;
import dev.shootdown.core.TimerRequest;
import dev.shootdown.event.Access;
import dev.shootdown.event.ControlEvent;
import dev.shootdown.event.Envelope;
import dev.shootdown.event.Event;
import dev.shootdown.event.FaultEvent;
import dev.shootdown.event.IpiEvent;
import dev.shootdown.event.IpiEvent.FlushKind;
import dev.shootdown.event.Kernel;
import dev.shootdown.event.NodeIds;
import dev.shootdown.event.SyscallEvent;
import dev.shootdown.event.TraceEvent;
import dev.shootdown.event.WalkEvent;
import dev.shootdown.host.NodeDriver;
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
 * Pure tests of the x86 CPU state machine (arch/x86/mm/tlb.c: flush_tlb_func, switch_mm_irqs_off)
 * and of the user task it runs. Given/when/then, manual clock: {@code now} is advanced by hand.
 */
class CpuTest extends NodeFixture<Cpu> {

    private static final String CPU = "cpu0";
    private static final String COORD = NodeIds.COORDINATOR;
    private static final long MM = 1;
    private static final long OTHER_MM = 2;
    private static final int PID = 100;
    private static final long BUF = 0x7f0000000000L;
    private static final long PAGE = Kernel.PAGE_SIZE;
    private static final long STEP_NS = 100;
    private static final long FRAME0 = 0x1000;

    private Cpu cpu;

    @BeforeEach
    void setUp() {
        cpu = given(new Cpu(CPU));
    }

    // ---------------------------------------------------------------- helpers

    private static Scenario scenario() {
        return new Scenario("cpu-test", Arch.X86, "linux-6.6", 1, 0,
                List.of(new Scenario.MmSpec(MM, List.of(new Scenario.VmaSpec(BUF, 4, true, true)))),
                List.of(), List.of(), new Scenario.Timing(STEP_NS, 800), new Scenario.EndCondition(1));
    }

    private Decision step() {
        return fire(Cpu.STEP_TIMER);
    }

    private Decision eventsAndStep(long stepAtNs, Event... events) {
        return eventsAndTimer(Cpu.STEP_TIMER, stepAtNs, events);
    }

    private static WalkEvent.PageWalkCompleted present(long va, long frame, boolean writable) {
        return new WalkEvent.PageWalkCompleted(CPU, CPU, MM, -1, va, true, frame, 1, writable);
    }

    private static WalkEvent.PageWalkCompleted absent(long va) {
        return new WalkEvent.PageWalkCompleted(CPU, CPU, MM, -1, va, false, -1, -1, false);
    }

    private static IpiEvent.FlushTlb flush(long mm, long start, long end, long newGen, long mmGen, long shootdownId) {
        return new IpiEvent.FlushTlb(CPU, mm, start, end, newGen, mmGen, true, false, shootdownId);
    }

    private static IpiEvent.TlbFlushed flushed(long mm, long start, long end, FlushKind kind, long localGen, int dropped,
            long shootdownId) {
        return new IpiEvent.TlbFlushed(COORD, CPU, mm, start, end, kind, localGen, dropped, shootdownId);
    }

    /** Boots the CPU and schedules the task; the first step is due at {@code now + STEP_NS}. */
    private void givenRunningTask(long mmTlbGen, List<TaskOp> program) {
        assertEquals(Decision.NONE, on(TestRuns.runStarted("r", 1, scenario())));
        on(new IpiEvent.TaskScheduled(CPU, PID, MM, mmTlbGen, program));
    }

    /** Runs {@code pages} steps that each miss, walk and fill page i with frame FRAME0 + i. */
    private void givenTlbFilled(int pages) {
        for (int i = 0; i < pages; i++) {
            now += STEP_NS;
            long va = BUF + i * PAGE;
            assertEquals(events(new WalkEvent.PageWalkRequested(COORD, CPU, CPU, MM, -1, va, Access.READ)), step());
            now += 200;
            on(present(va, FRAME0 + i, true));
        }
        assertEquals(pages, cpu.tlbEntries(MM));
    }

    private static List<TaskOp> readForever(int pages) {
        return List.of(new TaskOp.Touch(BUF, pages, Access.READ, 0));
    }

    // ---------------------------------------------------------------- lifecycle, scheduling

    @Test
    void givenCreatedCpu_whenRunStartedAndTaskScheduled_thenItSwitchesToTheTaskMmAndArmsTheFirstStep() {
        Decision started = on(TestRuns.runStarted("r", 1, scenario()));
        assertEquals(Decision.NONE, started);
        assertEquals(Lifecycle.RUNNING, cpu.lifecycle());

        now = 1_000;
        List<TaskOp> program = readForever(4);
        Decision scheduled = on(new IpiEvent.TaskScheduled(CPU, PID, MM, 3, program));

        assertEquals(eventsAndStep(1_000 + STEP_NS,
                new TraceEvent.MmSwitched(CPU, Cpu.INIT_MM, MM, 3),
                new TraceEvent.TaskStarted(CPU, PID, MM, program)), scheduled);
        assertEquals(MM, cpu.loadedMm());
        assertFalse(cpu.isLazy());
    }

    // ---------------------------------------------------------------- TLB miss, fill, hit

    @Test
    void givenEmptyTlb_whenTaskTouchesAPage_thenItWalksAndTheCompletionFillsTheTlbAndAccessesMemory() {
        givenRunningTask(0, readForever(4));
        now += STEP_NS;

        Decision miss = step();
        assertEquals(events(new WalkEvent.PageWalkRequested(COORD, CPU, CPU, MM, -1, BUF, Access.READ)), miss);
        assertEquals(0, cpu.tlbEntries(MM));

        now += 200;
        Decision filled = on(present(BUF, FRAME0, true));

        assertEquals(eventsAndStep(now + STEP_NS,
                new TraceEvent.TlbFilled(CPU, MM, BUF, FRAME0, 1, true),
                new TraceEvent.MemoryAccessed(CPU, PID, MM, BUF, FRAME0, 1, Access.READ, false)), filled);
        assertEquals(1, cpu.tlbEntries(MM));
    }

    @Test
    void givenFilledTlb_whenTheTaskTouchesThePageAgain_thenItHitsWithoutAWalk() {
        givenRunningTask(0, readForever(2));
        givenTlbFilled(2);

        now += STEP_NS;
        Decision hit = step();

        assertEquals(eventsAndStep(now + STEP_NS,
                new TraceEvent.MemoryAccessed(CPU, PID, MM, BUF, FRAME0, 1, Access.READ, true)), hit);
    }

    @Test
    void givenATaskWaitingForAWalk_whenTheStepTimerFires_thenNothingHappens() {
        givenRunningTask(0, readForever(2));
        now += STEP_NS;
        step();

        now += STEP_NS;
        assertEquals(Decision.NONE, step());
    }

    @Test
    void givenReadOnlyTlbEntry_whenTheTaskWrites_thenItWalksInsteadOfHitting() {
        givenRunningTask(0, List.of(new TaskOp.Touch(BUF, 1, Access.READ, 1), new TaskOp.Touch(BUF, 1, Access.WRITE, 1)));
        now += STEP_NS;
        step();
        on(present(BUF, FRAME0, false));
        assertEquals(1, cpu.tlbEntries(MM));

        now += STEP_NS;
        Decision write = step();

        assertEquals(events(new WalkEvent.PageWalkRequested(COORD, CPU, CPU, MM, -1, BUF, Access.WRITE)), write);
    }

    // ---------------------------------------------------------------- page faults

    @Test
    void givenAWalk_whenThePteIsNotPresent_thenTheCpuRaisesAPageFault() {
        givenRunningTask(0, readForever(1));
        now += STEP_NS;
        step();

        now += 200;
        Decision fault = on(absent(BUF));

        assertEquals(events(new FaultEvent.PageFaultRaised(COORD, CPU, PID, MM, BUF, Access.READ)), fault);
        assertEquals(0, cpu.tlbEntries(MM));
    }

    @Test
    void givenAWriteWalk_whenThePteIsReadOnly_thenTheCpuRaisesAWriteFaultAndFillsNothing() {
        givenRunningTask(0, List.of(new TaskOp.Touch(BUF, 1, Access.WRITE, 0)));
        now += STEP_NS;
        step();

        Decision fault = on(present(BUF, FRAME0, false));

        assertEquals(events(new FaultEvent.PageFaultRaised(COORD, CPU, PID, MM, BUF, Access.WRITE)), fault);
        assertEquals(0, cpu.tlbEntries(MM));
    }

    @Test
    void givenAPageFault_whenTheKernelAnswersSigsegv_thenTheTaskExitsAndTheCpuGoesLazyOnItsMm() {
        givenRunningTask(0, readForever(1));
        now += STEP_NS;
        step();
        on(absent(BUF));

        now += 1_500;
        Decision killed = on(new FaultEvent.PageFaultHandled(CPU, PID, MM, BUF, FaultEvent.FaultResult.SIGSEGV));

        assertEquals(events(new SyscallEvent.TaskExited(COORD, CPU, PID, MM, "SIGSEGV")), killed);
        assertTrue(cpu.isLazy());
        assertEquals(MM, cpu.loadedMm(), "enter_lazy_tlb keeps the exited task's mm loaded");

        now += STEP_NS;
        assertEquals(Decision.NONE, step(), "a dead task runs no more steps");
    }

    @Test
    void givenAPageFault_whenTheKernelAnswersRetry_thenTheSameAccessWalksAgain() {
        givenRunningTask(0, readForever(2));
        now += STEP_NS;
        step();
        on(absent(BUF));

        Decision retried = on(new FaultEvent.PageFaultHandled(CPU, PID, MM, BUF, FaultEvent.FaultResult.RETRY));

        assertEquals(events(new WalkEvent.PageWalkRequested(COORD, CPU, CPU, MM, -1, BUF, Access.READ)), retried);
    }

    @Test
    void givenATaskThatIsNotFaulting_whenAPageFaultHandledArrives_thenItIsIgnored() {
        givenRunningTask(0, readForever(2));

        assertEquals(Decision.NONE, on(new FaultEvent.PageFaultHandled(CPU, PID, MM, BUF, FaultEvent.FaultResult.SIGSEGV)));
    }

    // ---------------------------------------------------------------- program: rounds, munmap, exit

    @Test
    void givenAFiniteTouch_whenItsRoundsAreDone_thenTheNextStepExitsTheTask() {
        givenRunningTask(0, List.of(new TaskOp.Touch(BUF, 2, Access.READ, 1)));
        givenTlbFilled(2);

        now += STEP_NS;
        Decision exit = step();

        assertEquals(events(new SyscallEvent.TaskExited(COORD, CPU, PID, MM, "exit")), exit);
        assertTrue(cpu.isLazy());
    }

    @Test
    void givenAMunmapStep_whenItRuns_thenTheTaskSyscallsAndWaitsUntilMunmapReturned() {
        List<TaskOp> program = List.of(new TaskOp.Munmap(BUF, 2), new TaskOp.Touch(BUF + 2 * PAGE, 1, Access.READ, 1));
        givenRunningTask(0, program);

        now += STEP_NS;
        Decision syscall = step();
        assertEquals(events(new SyscallEvent.Munmap(COORD, CPU, PID, MM, BUF, BUF + 2 * PAGE)), syscall);

        now += STEP_NS;
        assertEquals(Decision.NONE, step(), "the task sleeps in the syscall");

        now += 5_000;
        Decision resumed = on(new SyscallEvent.MunmapReturned(CPU, PID, MM, BUF, BUF + 2 * PAGE, 0));

        assertEquals(events(new WalkEvent.PageWalkRequested(COORD, CPU, CPU, MM, -1, BUF + 2 * PAGE, Access.READ)), resumed);
    }

    @Test
    void givenNoSyscallInFlight_whenMunmapReturnedArrives_thenItIsIgnored() {
        givenRunningTask(0, readForever(1));

        assertEquals(Decision.NONE, on(new SyscallEvent.MunmapReturned(CPU, PID, MM, BUF, BUF + PAGE, 0)));
    }

    // ---------------------------------------------------------------- flush_tlb_func

    @Test
    void givenLocalGenOneBehind_whenARangedFlushForTheMmGenArrives_thenOnlyTheRangeIsDropped() {
        givenRunningTask(0, readForever(4));
        givenTlbFilled(4);
        long start = BUF + PAGE;
        long end = BUF + 3 * PAGE;

        Decision flushedDecision = on(flush(MM, start, end, 1, 1, 7));

        assertEquals(events(flushed(MM, start, end, FlushKind.PARTIAL, 1, 2, 7)), flushedDecision);
        assertEquals(2, cpu.tlbEntries(MM));
        // Page 0 survived the partial flush: the task's next access (page 0 again) hits.
        now += STEP_NS;
        assertEquals(eventsAndStep(now + STEP_NS,
                new TraceEvent.MemoryAccessed(CPU, PID, MM, BUF, FRAME0, 1, Access.READ, true)), step());
        // Page 1 was in the range: the access after it misses and walks.
        now += STEP_NS;
        assertEquals(events(new WalkEvent.PageWalkRequested(COORD, CPU, CPU, MM, -1, BUF + PAGE, Access.READ)), step());
    }

    @Test
    void givenLocalGenTwoBehind_whenARangedFlushArrives_thenTheWholeTlbOfTheMmIsFlushed() {
        givenRunningTask(0, readForever(4));
        givenTlbFilled(4);

        Decision d = on(flush(MM, BUF, BUF + PAGE, 2, 2, 8));

        assertEquals(events(flushed(MM, BUF, BUF + PAGE, FlushKind.FULL, 2, 4, 8)), d);
        assertEquals(0, cpu.tlbEntries(MM));
    }

    @Test
    void givenMmGenAheadOfTheFlushGen_whenARangedFlushArrives_thenItFlushesFullyToTheMmGen() {
        // new_tlb_gen == local + 1 but another flush already bumped mm->context.tlb_gen.
        givenRunningTask(0, readForever(4));
        givenTlbFilled(4);

        Decision d = on(flush(MM, BUF, BUF + PAGE, 1, 2, 9));

        assertEquals(events(flushed(MM, BUF, BUF + PAGE, FlushKind.FULL, 2, 4, 9)), d);
        assertEquals(0, cpu.tlbEntries(MM));
    }

    @Test
    void givenLocalGenOneBehind_whenAFlushAllArrives_thenTheWholeTlbOfTheMmIsFlushed() {
        givenRunningTask(0, readForever(3));
        givenTlbFilled(3);

        Decision d = on(flush(MM, 0, Kernel.TLB_FLUSH_ALL, 1, 1, 10));

        assertEquals(events(flushed(MM, 0, Kernel.TLB_FLUSH_ALL, FlushKind.FULL, 1, 3, 10)), d);
        assertEquals(0, cpu.tlbEntries(MM));
    }

    @Test
    void givenAFlushAlreadyApplied_whenTheSameGenerationArrivesAgain_thenNothingIsFlushed() {
        givenRunningTask(0, readForever(4));
        givenTlbFilled(2);
        on(flush(MM, BUF, BUF + PAGE, 1, 1, 11));
        assertEquals(1, cpu.tlbEntries(MM));
        givenTlbFilledAgainAtPage(2); // the task moves on and caches page 2

        Decision d = on(flush(MM, BUF, BUF + 4 * PAGE, 1, 1, 12));

        assertEquals(events(flushed(MM, BUF, BUF + 4 * PAGE, FlushKind.NONE, 1, 0, 12)), d);
        assertEquals(2, cpu.tlbEntries(MM));
    }

    private void givenTlbFilledAgainAtPage(int page) {
        now += STEP_NS;
        long va = BUF + page * PAGE;
        assertEquals(events(new WalkEvent.PageWalkRequested(COORD, CPU, CPU, MM, -1, va, Access.READ)), step());
        on(present(va, FRAME0 + page, true));
    }

    @Test
    void givenContextLoadedAtTheMmGen_whenAFlushForThatGenArrives_thenItIsNone() {
        // switch_mm loaded the mm at tlb_gen 3: new_tlb_gen <= local_tlb_gen.
        givenRunningTask(3, readForever(2));
        givenTlbFilled(2);

        Decision d = on(flush(MM, BUF, BUF + 2 * PAGE, 3, 3, 13));

        assertEquals(events(flushed(MM, BUF, BUF + 2 * PAGE, FlushKind.NONE, 3, 0, 13)), d);
        assertEquals(2, cpu.tlbEntries(MM));
    }

    @Test
    void givenAnotherMmLoaded_whenAFlushForAnMmNotLoadedArrives_thenItIsNotLoadedAndKeepsTheTlb() {
        givenRunningTask(0, readForever(2));
        givenTlbFilled(2);

        Decision d = on(flush(OTHER_MM, BUF, BUF + 2 * PAGE, 1, 1, 14));

        assertEquals(events(flushed(OTHER_MM, BUF, BUF + 2 * PAGE, FlushKind.NOT_LOADED, 0, 0, 14)), d);
        assertEquals(2, cpu.tlbEntries(MM));
        assertEquals(MM, cpu.loadedMm());
    }

    @Test
    void givenACpuThatNeverRanATask_whenAFlushArrives_thenItIsNotLoaded() {
        on(TestRuns.runStarted("r", 1, scenario()));

        Decision d = on(flush(MM, 0, Kernel.TLB_FLUSH_ALL, 1, 1, 15));

        assertEquals(events(flushed(MM, 0, Kernel.TLB_FLUSH_ALL, FlushKind.NOT_LOADED, 0, 0, 15)), d);
    }

    @Test
    void givenTheTaskExited_whenAFlushForItsMmArrives_thenTheLazyCpuSwitchesToInitMm() {
        givenRunningTask(0, List.of(new TaskOp.Touch(BUF, 2, Access.READ, 1)));
        givenTlbFilled(2);
        now += STEP_NS;
        assertEquals(events(new SyscallEvent.TaskExited(COORD, CPU, PID, MM, "exit")), step());
        assertTrue(cpu.isLazy());

        now += 1_000;
        Decision d = on(flush(MM, BUF, BUF + 2 * PAGE, 1, 1, 16));

        assertEquals(events(
                new TraceEvent.MmSwitched(CPU, MM, Cpu.INIT_MM, 0),
                flushed(MM, BUF, BUF + 2 * PAGE, FlushKind.LAZY, 0, 0, 16)), d);
        assertEquals(Cpu.INIT_MM, cpu.loadedMm());
        assertFalse(cpu.isLazy());

        // A later flush finds init_mm loaded.
        assertEquals(events(flushed(MM, BUF, BUF + 2 * PAGE, FlushKind.NOT_LOADED, 0, 0, 17)),
                on(flush(MM, BUF, BUF + 2 * PAGE, 2, 2, 17)));
    }

    @Test
    void givenStaleEntriesLeftByALazySwitch_whenATaskOfThatMmIsScheduledAtANewerGen_thenSwitchMmFlushesThem() {
        givenRunningTask(0, List.of(new TaskOp.Touch(BUF, 2, Access.READ, 1)));
        givenTlbFilled(2);
        now += STEP_NS;
        step(); // exit
        on(flush(MM, BUF, BUF + 2 * PAGE, 1, 1, 16)); // LAZY: switched to init_mm, PCID entries kept
        assertEquals(2, cpu.tlbEntries(MM));

        now += 1_000;
        List<TaskOp> program = readForever(2);
        Decision d = on(new IpiEvent.TaskScheduled(CPU, PID + 1, MM, 1, program));

        assertEquals(eventsAndStep(now + STEP_NS,
                new TraceEvent.MmSwitched(CPU, Cpu.INIT_MM, MM, 1),
                new TraceEvent.TaskStarted(CPU, PID + 1, MM, program)), d);
        assertEquals(0, cpu.tlbEntries(MM));
    }

    @Test
    void givenTheInitiatorsLocalFlush_whenItRuns_thenItFlushesLikeAnIpi() {
        givenRunningTask(0, List.of(new TaskOp.Touch(BUF, 2, Access.READ, 1), new TaskOp.Munmap(BUF, 2)));
        givenTlbFilled(2);
        now += STEP_NS;
        assertEquals(events(new SyscallEvent.Munmap(COORD, CPU, PID, MM, BUF, BUF + 2 * PAGE)), step());

        Decision d = on(new IpiEvent.FlushTlb(CPU, MM, BUF, BUF + 2 * PAGE, 1, 1, false, false, 18));

        assertEquals(events(flushed(MM, BUF, BUF + 2 * PAGE, FlushKind.PARTIAL, 1, 2, 18)), d);
        assertEquals(0, cpu.tlbEntries(MM));
    }

    // ---------------------------------------------------------------- run completion

    @Test
    void givenARunningTask_whenRunCompleted_thenTheCpuQuiescesAndCancelsItsStepTimer() {
        givenRunningTask(0, readForever(2));
        givenTlbFilled(1);

        Decision d = on(new ControlEvent.RunCompleted("done"));

        assertEquals(new Decision(List.of(new ControlEvent.NodeQuiesced(NodeIds.CONTROL, CPU)),
                List.of(TimerRequest.cancel(Cpu.STEP_TIMER))), d);
        assertEquals(Lifecycle.QUIESCED, cpu.lifecycle());
    }

    @Test
    void givenAQuiescedCpu_whenAnyInputArrives_thenItEmitsNothing() {
        givenRunningTask(0, readForever(2));
        on(new ControlEvent.RunCompleted("done"));

        assertEquals(Decision.NONE, on(new ControlEvent.TimerFired(Cpu.STEP_TIMER, now)));
        assertEquals(Decision.NONE, on(new IpiEvent.FlushTlb(CPU, MM, BUF, BUF + PAGE, 1, 1, true, false, 1)));
    }

    @Test
    void givenAQuiescedCpuInItsHost_whenItsOldStepTimerComesDue_thenNothingIsEmitted() {
        List<String> topology = List.of(COORD, CPU);
        NodeDriver host = new NodeDriver("r", cpu, topology);
        NodeDriver control = NodeDriver.source("r", NodeIds.CONTROL, topology);
        NodeDriver coordinator = NodeDriver.source("r", COORD, topology);

        host.offer(control.emit(TestRuns.runStarted("r", 1, scenario()), 0), 0);
        now = 50;
        Envelope schedule = coordinator.emit(new IpiEvent.TaskScheduled(CPU, PID, MM, 0, readForever(2)), now);
        NodeDriver.Output scheduled = host.offer(schedule, now);
        assertEquals(List.of(new TimerRequest(Cpu.STEP_TIMER, now + STEP_NS)), scheduled.timers());

        now = 60;
        NodeDriver.Output quiesced = host.offer(control.emit(new ControlEvent.RunCompleted("done"), now), now);
        assertEquals(List.of(new ControlEvent.NodeQuiesced(NodeIds.CONTROL, CPU)),
                quiesced.envelopes().stream().map(Envelope::event).toList());

        now = 50 + STEP_NS;
        NodeDriver.Output late = host.fire(Cpu.STEP_TIMER, now);

        assertEquals(NodeDriver.Output.NONE, late);
        assertEquals(Lifecycle.QUIESCED, cpu.lifecycle());
    }

    @Test
    void givenAnExitedTask_whenRunCompletedAndALateStepTimer_thenOnlyNodeQuiescedIsEmitted() {
        givenRunningTask(0, List.of(new TaskOp.Touch(BUF, 1, Access.READ, 1)));
        givenTlbFilled(1);
        now += STEP_NS;
        step(); // exit

        Decision d = on(new ControlEvent.RunCompleted("done"));
        now += STEP_NS;
        Decision late = step();

        assertEquals(List.of(new ControlEvent.NodeQuiesced(NodeIds.CONTROL, CPU)), d.events());
        assertEquals(Decision.NONE, late);
    }
}
