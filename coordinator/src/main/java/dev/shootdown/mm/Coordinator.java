package dev.shootdown.mm;

import dev.shootdown.core.Decider;
import dev.shootdown.core.Decision;
import dev.shootdown.core.Lifecycle;
import dev.shootdown.core.NodeStateMachine;
import dev.shootdown.core.TimerRequest;
import dev.shootdown.event.ControlEvent;
import dev.shootdown.event.Event;
import dev.shootdown.event.EventType;
import dev.shootdown.event.FaultEvent;
import dev.shootdown.event.InShootdown;
import dev.shootdown.event.IpiEvent;
import dev.shootdown.event.NodeIds;
import dev.shootdown.event.PageTableEvent;
import dev.shootdown.event.SecondaryTlbEvent;
import dev.shootdown.event.SyscallEvent;
import dev.shootdown.event.WalkEvent;
import dev.shootdown.kernel.KernelVariant;
import dev.shootdown.scenario.Scenario;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * The kernel's memory management for the whole machine, as one node: a thin dispatcher from
 * this node's inputs to the kernel code that handles them ({@link Linux}: one unit per kernel
 * file), plus the run's boot and end. Its state is {@link MmState}, changed only by
 * {@link #evolve}.
 *
 * <p>Every flush is a <em>shootdown</em> with an id, driven step by step by
 * {@link Linux#advance}. Waits (IPI acks, TLBI completions, the synchronous secondary-TLB hook)
 * are the acknowledgements this node keeps as inputs; what step comes next is read from the
 * state those and its own events built, so a coordinator rebuilt from the log resumes where it
 * was.
 *
 * <pre>
 *   munmap (Mmap: do_vmi_munmap -&gt; unmap_region), mprotect (Mprotect):
 *     MmuGatherStarted -&gt; VmaUnmapped | VmaProtectionChanged
 *     -&gt; per VMA: [flush_tlb_batched_pending: TlbBatchedPendingFlushed, the whole-mm flush]
 *                PteCleared* | PteProtectionChanged*  [tlb_end_vma: the flush, unless the arch merges VMAs]
 *                [mprotect: mmu_notifier_invalidate_range_end's hook]
 *     -&gt; [munmap: range_end's hook] -&gt; [munmap: free_pgtables: PageTableFreed*]
 *     -&gt; tlb_finish_mmu: tlb_flush_mmu_tlbonly: the flush, then its hook
 *     -&gt; FrameFreed* -&gt; MunmapReturned | MprotectReturned -&gt; MmuGatherFinished
 *
 *   an arch flush function (ArchTlb: TlbFlushCalled), each hook where the variant puts it:
 *     [hook before-flush] -&gt; x86: MmTlbGenIncremented, FlushTlb*    arm64: Tlbi* | dsb(ish)
 *     -&gt; [hook before-wait] --acks--&gt; [hook after-flush] -&gt; returns
 *
 *   write fault on a read-only PTE of a writable VMA (do_wp_page -&gt; wp_page_reuse):
 *     x86: PteProtectionChanged, no flush
 *     arm64: TlbFlushStarted -&gt; PteProtectionChanged -&gt; flush_tlb_page -&gt; TlbFlushFinished
 *
 *   reclaim (Vmscan: shrink_folio_list; Rmap: try_to_unmap_one with TTU_BATCH_FLUSH):
 *     TlbFlushStarted -&gt; per folio: PteCleared, then
 *       deferred (arch_tlbbatch_should_defer): TlbBatchAddPending, arch_tlbbatch_add_pending (its hook)
 *       or not: ptep_clear_flush's flush_tlb_page
 *       then try_to_unmap_one's hook and range_end's, where the variant calls them
 *     -&gt; try_to_unmap_flush: arch_tlbbatch_flush if anything was deferred (its hook; a NULL mm oopses)
 *     -&gt; FrameFreed* -&gt; TlbFlushFinished -&gt; the waiting allocation retries
 *
 *   madvise(MADV_PAGEOUT) (Madvise: madvise_pageout, VMA by VMA):
 *     TlbFlushStarted -&gt; per page table's span: [flush_tlb_batched_pending]
 *       [PteYoungCleared*, where the variant clears young] ReclaimPagesCalled
 *       -&gt; shrink_folio_list over those folios as above -&gt; FrameFreed*
 *     -&gt; at each VMA's end: the mmu_gather's flush of the old PTEs, then its hook
 *     -&gt; MadviseReturned -&gt; TlbFlushFinished
 *
 *   a write to memory.reclaim (Memcontrol: memory_reclaim -&gt; try_to_free_mem_cgroup_pages):
 *     TlbFlushStarted -&gt; shrink_folio_list over the LRU's oldest, as above -&gt; FrameFreed*
 *     -&gt; MemoryReclaimReturned -&gt; TlbFlushFinished
 * </pre>
 *
 * <p>Thread: the host's node thread. Time: simulated nanoseconds.
 */
public final class Coordinator implements NodeStateMachine {

    /** The first page frame number the page allocator hands out. */
    static final long FIRST_PFN = MmState.FIRST_PFN;
    static final String END_TIMER = "end";
    /** The watchdog: fires when the shootdown that progressed least long ago has not progressed for the stall window. */
    static final String WATCHDOG_TIMER = "watchdog";
    static final String IOPF_COMM = Memory.IOPF_COMM;
    static final long TLB_GENERATION_INVALID = X86Tlb.TLB_GENERATION_INVALID;

    private final Linux k;
    private final MmState s;
    /** When the watchdog timer was last asked to fire (-1: not armed): spares re-asking for the same time. */
    private long watchdogArmedNs = -1;

    /**
     * A coordinator that runs the kernel variant each run's run-started carries, or, for a log
     * recorded before variants were recorded (schema 1), the built-in of {@code catalog} its
     * scenario's policy names.
     */
    public Coordinator(KernelVariant.Catalog catalog) {
        this.k = new Linux(catalog);
        this.s = k.state;
    }

    @Override
    public String nodeId() {
        return NodeIds.COORDINATOR;
    }

    @Override
    public Lifecycle lifecycle() {
        return s.lifecycle;
    }

    /** mm->context.tlb_gen (for tests). */
    public long tlbGen(long mm) {
        return s.mm(mm).tlbGen;
    }

    /** Present PTEs of {@code mm} (for tests). */
    public int presentPtes(long mm) {
        return s.mm(mm).ptes.size();
    }

    /** Frames the page allocator could hand out now (for tests); -1 when memory is unlimited. */
    public long freeFrameCount() {
        return s.scenario != null && s.scenario.memory().limited() ? s.freeCount() : -1;
    }

    /**
     * The run's start, the acknowledgements a shootdown waits for, task exits, and the faults
     * being handled (a fault handler can wait on a flush or on reclaim).
     */
    @Override
    public boolean keepsInput(Event input) {
        return input instanceof ControlEvent.RunStarted || input instanceof IpiEvent.TlbFlushed
                || input instanceof IpiEvent.TlbiCompleted || input instanceof SecondaryTlbEvent.SecondaryTlbsInvalidated
                || input instanceof SyscallEvent.TaskExited || input instanceof FaultEvent.PageFaultRaised
                || input instanceof FaultEvent.DeviceFaultRaised || input instanceof SyscallEvent.MemoryReclaim;
    }

    @Override
    public List<TimerRequest> timersAfterRecovery(long nowNs) {
        List<TimerRequest> timers = new ArrayList<>();
        if (s.lifecycle == Lifecycle.RUNNING && s.scenario.end().afterNs() > 0) {
            timers.add(new TimerRequest(END_TIMER, Math.max(nowNs, s.scenario.end().afterNs())));
        }
        watchdogArmedNs = -1;
        long due = watchdogDue();
        if (s.lifecycle == Lifecycle.RUNNING && due >= 0) {
            watchdogArmedNs = due;
            timers.add(new TimerRequest(WATCHDOG_TIMER, due));
        }
        return timers;
    }

    @Override
    public Decision onEvent(Event input, long nowNs) {
        if (s.lifecycle == Lifecycle.QUIESCED) {
            return Decision.NONE;
        }
        Decider d = new Decider(this, nowNs);
        if (input.type() != EventType.RUN_STARTED) {
            if (s.lifecycle != Lifecycle.RUNNING) {
                return Decision.NONE;
            }
            boolean windowClosed = s.scenario.end().afterNs() > 0 && nowNs >= s.scenario.end().afterNs();
            if (input instanceof ControlEvent.TimerFired timer && timer.timer().equals(END_TIMER)) {
                completeRun(d, "the observation window of " + s.scenario.end().afterNs() + " ns closed");
                return d.decision();
            } else if (input instanceof ControlEvent.TimerFired timer && timer.timer().equals(WATCHDOG_TIMER)) {
                watchdogArmedNs = -1;
                if (watchdog(d, nowNs)) {
                    return d.decision();
                }
            } else if (windowClosed) {
                completeRun(d, "the observation window of " + s.scenario.end().afterNs() + " ns closed");
                return d.decision();
            }
        }
        boolean handled = switch (input.type()) {
            case RUN_STARTED -> {
                ControlEvent.RunStarted started = (ControlEvent.RunStarted) input;
                evolve(started);
                boot(d, started.scenario());
                if (s.scenario.end().afterNs() > 0) {
                    d.timer(END_TIMER, s.scenario.end().afterNs());
                }
                yield true;
            }
            case TIMER_FIRED -> true; // the end timer and the watchdog, above
            case PAGE_WALK_REQUESTED -> {
                k.memory.servePageWalk(d, (WalkEvent.PageWalkRequested) input);
                yield true;
            }
            case PAGE_FAULT_RAISED -> {
                FaultEvent.PageFaultRaised fault = (FaultEvent.PageFaultRaised) input;
                evolve(fault);
                k.memory.handleMmFault(d, MmState.waiterKey(fault), false);
                yield true;
            }
            case DEVICE_FAULT_RAISED -> {
                FaultEvent.DeviceFaultRaised fault = (FaultEvent.DeviceFaultRaised) input;
                evolve(fault);
                k.memory.handleMmFault(d, MmState.waiterKey(fault), false);
                yield true;
            }
            case MUNMAP -> {
                k.mmap.doVmiMunmap(d, (SyscallEvent.Munmap) input);
                yield true;
            }
            case MPROTECT -> {
                k.mprotect.doMprotect(d, (SyscallEvent.Mprotect) input);
                yield true;
            }
            case MADVISE -> {
                k.madvise.doMadvise(d, (SyscallEvent.Madvise) input);
                yield true;
            }
            case MEMORY_RECLAIM -> {
                SyscallEvent.MemoryReclaim write = (SyscallEvent.MemoryReclaim) input;
                evolve(write);
                k.memcontrol.memoryReclaim(d, write);
                yield true;
            }
            case TASK_EXITED -> {
                evolve(input); // do_exit: the task is gone; its mm lives on while other users hold it
                yield true;
            }
            case TLB_FLUSHED -> {
                IpiEvent.TlbFlushed ack = (IpiEvent.TlbFlushed) input;
                evolve(ack);
                k.advance(d, s.shootdowns.get(ack.shootdownId()));
                k.ioPgfault.maybeRunQueued(d); // the ack may have ended a csd_lock_wait that kept every CPU busy
                yield true;
            }
            case TLBI_COMPLETED -> {
                IpiEvent.TlbiCompleted ack = (IpiEvent.TlbiCompleted) input;
                evolve(ack);
                k.advance(d, s.shootdowns.get(ack.shootdownId()));
                yield true;
            }
            case SECONDARY_TLBS_INVALIDATED -> {
                SecondaryTlbEvent.SecondaryTlbsInvalidated done = (SecondaryTlbEvent.SecondaryTlbsInvalidated) input;
                evolve(done);
                k.advance(d, s.shootdowns.get(done.shootdownId()));
                yield true;
            }
            // not the mm's input: the coordinator's own events and facts
            case TASK_SCHEDULED, FLUSH_TLB, TLBI, SVA_BOUND, SVA_UNBOUND, SECONDARY_TLB_HOOK_CALLED,
                    INVALIDATE_SECONDARY_TLBS, CMDQ_ISSUED, IOTLB_INVALIDATED, ATC_INVALIDATED,
                    PAGE_WALK_COMPLETED, PAGE_FAULT_HANDLED, PAGE_RESPONSE_SENT, KERNEL_OOPS, STALL_DETECTED,
                    MUNMAP_RETURNED, MPROTECT_RETURNED, MADVISE_RETURNED, MEMORY_RECLAIM_RETURNED, MM_CREATED,
                    VMA_MAPPED, VMA_UNMAPPED, VMA_PROTECTION_CHANGED, FRAME_ALLOCATED, PTE_SET, PTE_CLEARED,
                    PTE_YOUNG_CLEARED, RECLAIM_PAGES_CALLED, MMU_GATHER_STARTED, MMU_GATHER_FINISHED,
                    MM_TLB_GEN_INCREMENTED, FRAME_FREED, PTE_PROTECTION_CHANGED, TLB_FLUSH_STARTED,
                    TLB_FLUSH_FINISHED, TLB_BATCH_ADD_PENDING, TLB_BATCH_FLUSH_STARTED,
                    TLB_BATCHED_PENDING_FLUSHED, MEMORY_PRESSURE, TLB_FLUSH_CALLED, PAGE_TABLE_FREED,
                    MM_SWITCHED, TASK_STARTED, TASK_COMPUTED, TLB_FILLED, MEMORY_ACCESSED, PASID_BOUND,
                    IOTLB_FILLED, ATC_FILLED, DMA_COMPLETED, DMA_ABORTED, TRACE_MARKER, RUN_COMPLETED,
                    TRACE_IMPORTED, NODE_QUIESCED, FAULT_INJECTED -> false;
        };
        maybeCompleteRun(d);
        armWatchdog(d);
        return d.decision();
    }

    /**
     * When the watchdog must look next: the stall window after the shootdown in flight that
     * progressed least recently; -1 with none in flight.
     */
    private long watchdogDue() {
        long oldest = Long.MAX_VALUE;
        for (Shootdown sd : s.shootdowns.values()) {
            if (!sd.oopsed) { // an oopsed shootdown's context is dead: it was reported, nothing waits for it
                oldest = Math.min(oldest, sd.lastProgressNs);
            }
        }
        return oldest == Long.MAX_VALUE ? -1 : oldest + s.scenario.stallWindowNs();
    }

    private void armWatchdog(Decider d) {
        if (s.lifecycle != Lifecycle.RUNNING) {
            return;
        }
        long due = watchdogDue();
        if (due >= 0 && due != watchdogArmedNs) {
            watchdogArmedNs = due;
            d.timer(WATCHDOG_TIMER, due);
        } else if (due < 0 && watchdogArmedNs >= 0) {
            watchdogArmedNs = -1; // nothing in flight: nothing to watch
            d.cancelTimer(WATCHDOG_TIMER);
        }
    }

    /**
     * The watchdog fired: each shootdown that made no progress for the stall window is reported
     * (stall-detected), and the run ends naming the first. True when it ended the run.
     */
    private boolean watchdog(Decider d, long nowNs) {
        long window = s.scenario.stallWindowNs();
        String first = null;
        for (Shootdown sd : List.copyOf(s.shootdowns.values())) {
            if (sd.oopsed || sd.lastProgressNs + window > nowNs) {
                continue;
            }
            List<String> waitingFor = new ArrayList<>(sd.pendingCpus.keySet());
            String function;
            if (!sd.pendingSecondary.isEmpty()) {
                function = s.kernel.hook() + " (the IOMMU's invalidation)";
                waitingFor = new ArrayList<>(sd.pendingSecondary);
            } else if (!sd.pendingCpus.isEmpty()) {
                function = k.arch().waitsForIpis() ? "csd_lock_wait" : "dsb(ish)";
            } else {
                function = "?";
            }
            d.emit(new FaultEvent.StallDetected(sd.cpu, sd.comm, sd.id, function, waitingFor,
                    sd.lastProgressNs, window));
            if (first == null) {
                first = String.format(Locale.ROOT,
                        "the watchdog: shootdown %d (%s on %s) made no progress for %.3f us, since %.3f us: %s waits for %s",
                        sd.id, sd.caller, sd.cpu, window / 1000.0, sd.lastProgressNs / 1000.0, function,
                        waitingFor.isEmpty() ? "nothing it could name" : String.join(", ", waitingFor));
            }
            // (stall-detected is the watchdog's report, not the shootdown's progress: lastProgressNs stays)
        }
        if (first == null) {
            return false;
        }
        completeRun(d, first);
        return true;
    }

    /** Builds the scenario's machine state: address spaces, populated VMAs, SVA binds, tasks. */
    private void boot(Decider d, Scenario sc) {
        for (Scenario.MmSpec spec : sc.mms()) {
            d.emit(new PageTableEvent.MmCreated(spec.mm()));
            for (Scenario.VmaSpec vma : spec.vmas()) {
                long end = vma.start() + vma.pages() * dev.shootdown.event.Kernel.PAGE_SIZE;
                d.emit(new PageTableEvent.VmaMapped(spec.mm(), vma.start(), end, vma.writable()));
                if (vma.populate()) {
                    for (long va = vma.start(); va < end; va += dev.shootdown.event.Kernel.PAGE_SIZE) {
                        k.memory.allocateAndMap(d, spec.mm(), va, vma.writable() && !vma.wrprotect());
                    }
                }
            }
        }
        for (Scenario.DeviceSpec dev : sc.devices()) {
            d.emit(new SecondaryTlbEvent.SvaBound(NodeIds.iommu(dev.iommu()), dev.id(), dev.pasid(), dev.mm(), dev.ats()));
        }
        for (Scenario.TaskSpec task : sc.tasks()) {
            d.emit(new IpiEvent.TaskScheduled(NodeIds.cpu(task.cpu()), task.pid(), task.mm(), s.mm(task.mm()).tlbGen,
                    task.program()));
        }
    }

    /** The scenario's end: all tasks done, no shootdown in flight, every device seen faulting. */
    private void maybeCompleteRun(Decider d) {
        int faults = s.scenario == null ? 0 : s.scenario.end().deviceFaults();
        if (s.lifecycle != Lifecycle.RUNNING || faults == 0 || !s.liveTasks.isEmpty() || !s.shootdowns.isEmpty()
                || s.opsReturned == 0) {
            return;
        }
        for (Scenario.DeviceSpec dev : s.scenario.devices()) {
            if (s.deviceFaultsAfterOp.getOrDefault(dev.id(), 0) < faults) {
                return;
            }
        }
        completeRun(d, "every task finished and every device faulted on the changed range " + faults + " times");
    }

    private void completeRun(Decider d, String reason) {
        if (s.scenario.end().afterNs() > 0) {
            d.cancelTimer(END_TIMER);
        }
        d.emit(new ControlEvent.RunCompleted(reason));
        d.emit(new ControlEvent.NodeQuiesced(NodeIds.CONTROL, NodeIds.COORDINATOR));
    }

    @Override
    public void evolve(Event event) {
        s.evolve(event);
    }

    /** An own event at {@code timeNs}: a shootdown's events are its progress, which the watchdog watches. */
    @Override
    public void evolve(Event event, long timeNs) {
        s.evolve(event);
        if (event instanceof InShootdown in && !(event instanceof FaultEvent.StallDetected)) {
            Shootdown sd = s.shootdowns.get(in.shootdownId());
            if (sd != null) {
                sd.lastProgressNs = timeNs;
            }
        }
    }
}
