package dev.shootdown.cpu;

import dev.shootdown.core.Decider;
import dev.shootdown.core.Decision;
import dev.shootdown.core.Lifecycle;
import dev.shootdown.core.NodeStateMachine;
import dev.shootdown.core.Reaction;
import dev.shootdown.core.TimerRequest;
import dev.shootdown.event.Access;
import dev.shootdown.event.ControlEvent;
import dev.shootdown.event.Event;
import dev.shootdown.event.EventType;
import dev.shootdown.event.Family;
import dev.shootdown.event.FaultEvent;
import dev.shootdown.event.InjectionEvent;
import dev.shootdown.event.IpiEvent.FlushKind;
import dev.shootdown.event.IpiEvent;
import dev.shootdown.event.Kernel;
import dev.shootdown.event.NodeIds;
import dev.shootdown.event.SyscallEvent;
import dev.shootdown.event.TraceEvent;
import dev.shootdown.event.WalkEvent;
import dev.shootdown.fault.FaultKind;
import dev.shootdown.fault.FaultMatcher;
import dev.shootdown.fault.FaultSpec;
import dev.shootdown.scenario.TaskOp;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * One CPU: its TLB (tagged by mm, standing in for the PCID/ASID), cpu_tlbstate (loaded_mm,
 * is_lazy, the per-context tlb_gen) and the user task it runs. Models arch/x86/mm/tlb.c:
 * {@code flush_tlb_func} for flush IPIs and {@code switch_mm_irqs_off} for context switches. On
 * arm64 the TLB is invalidated by broadcast TLBIs instead ({@link IpiEvent.Tlbi}), and tlb_gen
 * stays 0 (arm64 has none).
 *
 * <p>The task's program runs one step per {@code cpuStepNs}: an access that hits the TLB
 * completes at once; a miss walks the page table (a read of the coordinator's memory); a walk
 * that finds no usable PTE raises a page fault; SIGSEGV ends the task and the CPU goes lazy on
 * the task's mm (enter_lazy_tlb).
 *
 * <p>Task state while it waits:
 * <pre>
 *   READY --miss--> WALK --PTE ok--> READY
 *                   WALK --no PTE--> FAULT --RETRY--> READY
 *                                    FAULT --SIGSEGV--> (exited)
 *   READY --munmap--> SYSCALL --returned--> READY
 * </pre>
 *
 * <p>Model faults of the run's fault plan that happen here: {@code lost-ipi} (a flush IPI that
 * never arrives, see {@link #onFlushTlb}).
 *
 * <p>Thread: the host's node thread. Time: simulated nanoseconds.
 */
public final class Cpu implements NodeStateMachine {

    /** init_mm: the kernel's own address space; no user translations. */
    static final long INIT_MM = 0L;
    static final String STEP_TIMER = "step";

    private enum Wait { READY, WALK, FAULT, SYSCALL }

    private record TlbEntry(long frame, long frameEpoch, boolean writable) {}

    private static final class Task {
        final int pid;
        final long mm;
        final List<TaskOp> program;
        int pc;
        long iteration;
        Wait wait = Wait.READY;

        Task(int pid, long mm, List<TaskOp> program) {
            this.pid = pid;
            this.mm = mm;
            this.program = program;
        }

        TaskOp op() {
            return pc < program.size() ? program.get(pc) : null;
        }
    }

    private final String nodeId;
    private Lifecycle lifecycle = Lifecycle.CREATED;
    private long cpuStepNs = 100;

    private long loadedMm = INIT_MM;
    private boolean lazy;
    private final Map<Long, Long> ctxTlbGen = new HashMap<>();
    private final Map<Long, TreeMap<Long, TlbEntry>> tlb = new HashMap<>();
    private Task task;
    /** The model faults of the run's plan that can hit this CPU. */
    private FaultMatcher faults = FaultMatcher.NONE;

    public Cpu(String nodeId) {
        NodeIds.cpuIndex(nodeId);
        this.nodeId = nodeId;
    }

    @Override
    public String nodeId() {
        return nodeId;
    }

    @Override
    public Lifecycle lifecycle() {
        return lifecycle;
    }

    /** TLB entries currently cached for {@code mm} (for tests and time travel). */
    public int tlbEntries(long mm) {
        TreeMap<Long, TlbEntry> entries = tlb.get(mm);
        return entries == null ? 0 : entries.size();
    }

    public long loadedMm() {
        return loadedMm;
    }

    public boolean isLazy() {
        return lazy;
    }

    /** A task ready for its next step needs its step timer again. */
    @Override
    public List<TimerRequest> timersAfterRecovery(long nowNs) {
        if (lifecycle == Lifecycle.RUNNING && task != null && task.wait == Wait.READY) {
            return List.of(new TimerRequest(STEP_TIMER, nowNs + cpuStepNs));
        }
        return List.of();
    }

    @Override
    public Decision onEvent(Event input, long nowNs) {
        if (lifecycle == Lifecycle.QUIESCED) {
            return Decision.NONE;
        }
        Decider d = new Decider(this);
        boolean handled = switch (input.type()) {
            case RUN_STARTED -> {
                evolve(input);
                yield true;
            }
            case RUN_COMPLETED -> {
                d.cancelTimer(STEP_TIMER);
                d.emit(new ControlEvent.NodeQuiesced(NodeIds.CONTROL, nodeId));
                yield true;
            }
            case TASK_SCHEDULED -> {
                onTaskScheduled(d, (IpiEvent.TaskScheduled) input, nowNs);
                yield true;
            }
            case FLUSH_TLB -> {
                onFlushTlb(d, (IpiEvent.FlushTlb) input, nowNs);
                yield true;
            }
            case TLBI -> {
                onTlbi(d, (IpiEvent.Tlbi) input);
                yield true;
            }
            case TIMER_FIRED -> {
                if (((ControlEvent.TimerFired) input).timer().equals(STEP_TIMER) && task != null && task.wait == Wait.READY) {
                    step(d, nowNs);
                }
                yield true;
            }
            case PAGE_WALK_COMPLETED -> {
                onPageWalkCompleted(d, (WalkEvent.PageWalkCompleted) input, nowNs);
                yield true;
            }
            case PAGE_FAULT_HANDLED -> {
                onPageFaultHandled(d, (FaultEvent.PageFaultHandled) input, nowNs);
                yield true;
            }
            case MUNMAP_RETURNED, MPROTECT_RETURNED, MADVISE_RETURNED, MEMORY_RECLAIM_RETURNED -> {
                if (task != null && task.wait == Wait.SYSCALL) {
                    step(d, nowNs);
                }
                yield true;
            }
            // not a CPU's input: other nodes' requests and facts
            case TLB_FLUSHED, TLBI_COMPLETED, SVA_BOUND, SVA_UNBOUND, SECONDARY_TLB_HOOK_CALLED,
                    INVALIDATE_SECONDARY_TLBS, CMDQ_ISSUED, IOTLB_INVALIDATED, ATC_INVALIDATED,
                    SECONDARY_TLBS_INVALIDATED, PAGE_WALK_REQUESTED, PAGE_FAULT_RAISED, DEVICE_FAULT_RAISED,
                    PAGE_RESPONSE_SENT, KERNEL_OOPS, STALL_DETECTED, MUNMAP, TASK_EXITED, MPROTECT, MADVISE,
                    MEMORY_RECLAIM, MM_CREATED, VMA_MAPPED, VMA_UNMAPPED, VMA_PROTECTION_CHANGED,
                    FRAME_ALLOCATED, PTE_SET, PTE_CLEARED, PTE_YOUNG_CLEARED, RECLAIM_PAGES_CALLED,
                    MMU_GATHER_STARTED, MMU_GATHER_FINISHED, MM_TLB_GEN_INCREMENTED, FRAME_FREED,
                    PTE_PROTECTION_CHANGED, TLB_FLUSH_STARTED, TLB_FLUSH_FINISHED, TLB_BATCH_ADD_PENDING,
                    TLB_BATCH_FLUSH_STARTED, TLB_BATCHED_PENDING_FLUSHED, MEMORY_PRESSURE, TLB_FLUSH_CALLED,
                    PAGE_TABLE_FREED, MM_SWITCHED, TASK_STARTED, TASK_COMPUTED, TLB_FILLED, MEMORY_ACCESSED,
                    PASID_BOUND, IOTLB_FILLED, ATC_FILLED, DMA_COMPLETED, DMA_ABORTED, TRACE_MARKER,
                    TRACE_IMPORTED, NODE_QUIESCED, FAULT_INJECTED -> false;
        };
        return d.decision();
    }

    /**
     * A flush IPI or a broadcast TLBI is answered with its acknowledgement (an IPI) and nothing
     * else ({@link #flushTlbFunc}, {@link #onTlbi}; a lost IPI sends nothing); a scheduled task
     * starts with a step timer, {@code cpuStepNs} later. Anything else: anything, at once.
     */
    @Override
    public Reaction reactionTo(EventType type) {
        return switch (type) {
            case FLUSH_TLB, TLBI -> Reaction.sends(Family.IPI);
            case TASK_SCHEDULED -> Reaction.timersAfter(cpuStepNs);
            default -> Reaction.ANY;
        };
    }

    /** The scheduler woke a task here: switch_mm_irqs_off to its mm, then start its program. */
    private void onTaskScheduled(Decider d, IpiEvent.TaskScheduled scheduled, long nowNs) {
        if (task != null) {
            throw new IllegalStateException(nodeId + ": task " + scheduled.pid() + " scheduled while task "
                    + task.pid + " runs (one task per CPU in this model)");
        }
        d.emit(new TraceEvent.MmSwitched(nodeId, loadedMm, scheduled.mm(), scheduled.mmTlbGen()));
        d.emit(new TraceEvent.TaskStarted(nodeId, scheduled.pid(), scheduled.mm(), scheduled.program()));
        d.timer(STEP_TIMER, nowNs + cpuStepNs);
    }

    /**
     * A flush request: run flush_tlb_func, unless the plan loses this IPI. A lost IPI (only an
     * IPI: the initiator's own flush is a function call) means flush_tlb_func never runs here, no
     * acknowledgement is sent and this CPU keeps its stale entries; the initiator waits in
     * smp_call_function_many_cond's csd_lock_wait for ever (kernel/smp.c, arch/x86/mm/tlb.c:
     * native_flush_tlb_multi), so the shootdown never completes.
     */
    private void onFlushTlb(Decider d, IpiEvent.FlushTlb f, long nowNs) {
        FaultSpec lost = f.viaIpi() ? faults.maybeInject(FaultKind.LOST_IPI, nowNs) : null;
        if (lost != null) {
            d.emit(new InjectionEvent.FaultInjected(FaultKind.LOST_IPI.kebab(), FaultKind.Layer.MODEL.label(), nodeId,
                    "flush-tlb shootdown " + f.shootdownId(), "faults[" + faults.indexOf(lost) + "]: the flush IPI of shootdown "
                            + f.shootdownId() + " for mm " + f.mm() + " never reached " + nodeId
                            + "; flush_tlb_func did not run and the initiator waits for its csd for ever", faults.indexOf(lost)));
            return;
        }
        flushTlbFunc(d, f);
    }

    /**
     * arch/x86/mm/tlb.c: flush_tlb_func, run from the IPI (or locally by the initiator). A flush
     * from arch_tlbbatch_flush has no mm (f-&gt;mm == NULL) and no new_tlb_gen: it flushes the
     * loaded mm up to that mm's current tlb_gen.
     */
    private void flushTlbFunc(Decider d, IpiEvent.FlushTlb f) {
        boolean batched = f.mm() == 0;
        long mm = batched ? loadedMm : f.mm();
        long mmTlbGen = f.mmTlbGen();
        if (batched) {
            mmTlbGen = ctxTlbGen.getOrDefault(mm, 0L); // an mm the batch did not touch: nothing new to flush
            for (IpiEvent.MmTlbGen g : f.batchTlbGens()) {
                if (g.mm() == mm) {
                    mmTlbGen = g.tlbGen();
                }
            }
        }
        FlushKind kind;
        int dropped = 0;
        long localTlbGen = ctxTlbGen.getOrDefault(mm, 0L);
        if (loadedMm == INIT_MM || mm != loadedMm) {
            kind = FlushKind.NOT_LOADED;
        } else if (lazy) {
            // Lazy: switching to init_mm is as cheap as a minimal flush; switch_mm flushes later.
            d.emit(new TraceEvent.MmSwitched(nodeId, loadedMm, INIT_MM, 0L));
            kind = FlushKind.LAZY;
        } else if ((!batched && f.newTlbGen() <= localTlbGen) || localTlbGen == mmTlbGen) {
            kind = FlushKind.NONE;
        } else if (f.end() != Kernel.TLB_FLUSH_ALL && f.newTlbGen() == localTlbGen + 1 && f.newTlbGen() == mmTlbGen) {
            kind = FlushKind.PARTIAL;
            dropped = (int) entries(mm).keySet().stream().filter(va -> Kernel.covers(f.start(), f.end(), va)).count();
            localTlbGen = mmTlbGen;
        } else {
            kind = FlushKind.FULL;
            dropped = entries(mm).size();
            localTlbGen = mmTlbGen;
        }
        d.emit(new IpiEvent.TlbFlushed(NodeIds.COORDINATOR, nodeId, mm, f.start(), f.end(), kind, localTlbGen,
                dropped, f.shootdownId()));
    }

    /**
     * arm64: a broadcast TLBI reached this CPU's TLB. Hardware drops the ASID's matching entries
     * whether or not the mm is loaded here; no kernel code runs, no tlb_gen exists.
     */
    private void onTlbi(Decider d, IpiEvent.Tlbi t) {
        int dropped = (int) entries(t.mm()).keySet().stream().filter(va -> Kernel.covers(t.start(), t.end(), va)).count();
        d.emit(new IpiEvent.TlbiCompleted(NodeIds.COORDINATOR, nodeId, t.mm(), t.start(), t.end(), dropped,
                t.shootdownId()));
    }

    /** Runs the task's next program step. */
    private void step(Decider d, long nowNs) {
        TaskOp op = task.op();
        if (op == null) {
            d.emit(new SyscallEvent.TaskExited(NodeIds.COORDINATOR, nodeId, task.pid, task.mm, "exit"));
        } else if (op instanceof TaskOp.Touch touch) {
            access(d, touchAddress(touch), touch.access(), nowNs);
        } else if (op instanceof TaskOp.Munmap munmap) {
            d.emit(new SyscallEvent.Munmap(NodeIds.COORDINATOR, nodeId, task.pid, task.mm,
                    munmap.start(), munmap.start() + munmap.pages() * Kernel.PAGE_SIZE));
        } else if (op instanceof TaskOp.Compute compute) {
            d.emit(new TraceEvent.TaskComputed(nodeId, task.pid, compute.ns()));
            d.timer(STEP_TIMER, nowNs + compute.ns());
        } else if (op instanceof TaskOp.Mprotect mprotect) {
            d.emit(new SyscallEvent.Mprotect(NodeIds.COORDINATOR, nodeId, task.pid, task.mm,
                    mprotect.start(), mprotect.start() + mprotect.pages() * Kernel.PAGE_SIZE, mprotect.writable()));
        } else if (op instanceof TaskOp.Madvise madvise) {
            d.emit(new SyscallEvent.Madvise(NodeIds.COORDINATOR, nodeId, task.pid, task.mm, madvise.start(),
                    madvise.start() + madvise.pages() * Kernel.PAGE_SIZE, madvise.advice().kernelName()));
        } else if (op instanceof TaskOp.MemoryReclaim write) {
            d.emit(new SyscallEvent.MemoryReclaim(NodeIds.COORDINATOR, nodeId, task.pid, task.mm, write.pages()));
        } else {
            throw new IllegalStateException(nodeId + ": unknown task op " + op);
        }
    }

    private long touchAddress(TaskOp.Touch touch) {
        return touch.start() + (task.iteration % touch.pages()) * Kernel.PAGE_SIZE;
    }

    private void access(Decider d, long va, Access access, long nowNs) {
        TlbEntry hit = entries(task.mm).get(va);
        if (hit != null && (hit.writable() || !access.isWrite())) {
            d.emit(new TraceEvent.MemoryAccessed(nodeId, task.pid, task.mm, va, hit.frame(), hit.frameEpoch(), access, true));
            d.timer(STEP_TIMER, nowNs + cpuStepNs);
        } else {
            d.emit(new WalkEvent.PageWalkRequested(NodeIds.COORDINATOR, nodeId, nodeId, task.mm, -1, va, access));
        }
    }

    private void onPageWalkCompleted(Decider d, WalkEvent.PageWalkCompleted walk, long nowNs) {
        if (task == null || task.wait != Wait.WALK) {
            return;
        }
        TaskOp.Touch touch = (TaskOp.Touch) task.op();
        boolean usable = walk.present() && (walk.writable() || !touch.access().isWrite());
        if (usable) {
            d.emit(new TraceEvent.TlbFilled(nodeId, walk.mm(), walk.va(), walk.frame(), walk.frameEpoch(), walk.writable()));
            d.emit(new TraceEvent.MemoryAccessed(nodeId, task.pid, walk.mm(), walk.va(), walk.frame(), walk.frameEpoch(),
                    touch.access(), false));
            d.timer(STEP_TIMER, nowNs + cpuStepNs);
        } else {
            d.emit(new FaultEvent.PageFaultRaised(NodeIds.COORDINATOR, nodeId, task.pid, task.mm, walk.va(), touch.access()));
        }
    }

    private void onPageFaultHandled(Decider d, FaultEvent.PageFaultHandled handled, long nowNs) {
        if (task == null || task.wait != Wait.FAULT) {
            return;
        }
        if (handled.result() == FaultEvent.FaultResult.RETRY) {
            step(d, nowNs);
        } else {
            String reason = handled.result() == FaultEvent.FaultResult.KILLED ? "killed" : "SIGSEGV";
            d.emit(new SyscallEvent.TaskExited(NodeIds.COORDINATOR, nodeId, task.pid, task.mm, reason));
        }
    }

    private TreeMap<Long, TlbEntry> entries(long mm) {
        return tlb.computeIfAbsent(mm, k -> new TreeMap<>());
    }

    @Override
    public void evolve(Event own) {
        boolean applied = switch (own.type()) {
            case RUN_STARTED -> {
                ControlEvent.RunStarted started = (ControlEvent.RunStarted) own;
                lifecycle = lifecycle.transitionTo(Lifecycle.RUNNING, nodeId);
                cpuStepNs = started.scenario().timing().cpuStepNs();
                faults = started.scenario().faults().matcherFor(nodeId, started.seed());
                yield true;
            }
            case NODE_QUIESCED -> {
                lifecycle = lifecycle.transitionTo(Lifecycle.QUIESCED, nodeId);
                yield true;
            }
            case MM_SWITCHED -> {
                TraceEvent.MmSwitched s = (TraceEvent.MmSwitched) own;
                long prevGen = ctxTlbGen.getOrDefault(s.mm(), 0L);
                if (s.mm() != INIT_MM && prevGen < s.localTlbGen()) {
                    // switch_mm_irqs_off: a stale context generation means a full flush on load.
                    entries(s.mm()).clear();
                }
                loadedMm = s.mm();
                lazy = false;
                if (s.mm() != INIT_MM) {
                    ctxTlbGen.put(s.mm(), s.localTlbGen());
                }
                yield true;
            }
            case TASK_STARTED -> {
                TraceEvent.TaskStarted s = (TraceEvent.TaskStarted) own;
                task = new Task(s.pid(), s.mm(), s.program());
                yield true;
            }
            case TLB_FILLED -> {
                TraceEvent.TlbFilled f = (TraceEvent.TlbFilled) own;
                entries(f.mm()).put(f.va(), new TlbEntry(f.frame(), f.frameEpoch(), f.writable()));
                yield true;
            }
            case MEMORY_ACCESSED -> {
                task.wait = Wait.READY;
                task.iteration++;
                if (task.op() instanceof TaskOp.Touch touch && touch.rounds() > 0
                        && task.iteration >= (long) touch.pages() * touch.rounds()) {
                    task.pc++;
                    task.iteration = 0;
                }
                yield true;
            }
            case PAGE_WALK_REQUESTED -> {
                task.wait = Wait.WALK;
                yield true;
            }
            case PAGE_FAULT_RAISED -> {
                task.wait = Wait.FAULT;
                yield true;
            }
            case MUNMAP, MPROTECT, MADVISE, MEMORY_RECLAIM -> {
                task.wait = Wait.SYSCALL;
                task.pc++;
                task.iteration = 0;
                yield true;
            }
            case TASK_EXITED -> {
                task = null;
                lazy = true; // enter_lazy_tlb: the idle task keeps the exited task's mm loaded
                yield true;
            }
            case TLB_FLUSHED -> {
                IpiEvent.TlbFlushed f = (IpiEvent.TlbFlushed) own;
                if (f.kind() == FlushKind.PARTIAL) {
                    entries(f.mm()).keySet().removeIf(va -> Kernel.covers(f.start(), f.end(), va));
                } else if (f.kind() == FlushKind.FULL) {
                    entries(f.mm()).clear();
                }
                if (f.kind() == FlushKind.PARTIAL || f.kind() == FlushKind.FULL) {
                    ctxTlbGen.put(f.mm(), f.localTlbGen());
                }
                yield true;
            }
            case TASK_COMPUTED -> {
                task.pc++;
                task.iteration = 0;
                yield true;
            }
            case TLBI_COMPLETED -> {
                IpiEvent.TlbiCompleted t = (IpiEvent.TlbiCompleted) own;
                entries(t.mm()).keySet().removeIf(va -> Kernel.covers(t.start(), t.end(), va));
                yield true;
            }
            case FAULT_INJECTED -> true; // a lost IPI changes nothing here: that is the fault
            // never a CPU's own event
            case TASK_SCHEDULED, FLUSH_TLB, TLBI, SVA_BOUND, SVA_UNBOUND, SECONDARY_TLB_HOOK_CALLED,
                    INVALIDATE_SECONDARY_TLBS, CMDQ_ISSUED, IOTLB_INVALIDATED, ATC_INVALIDATED,
                    SECONDARY_TLBS_INVALIDATED, PAGE_WALK_COMPLETED, PAGE_FAULT_HANDLED, DEVICE_FAULT_RAISED,
                    PAGE_RESPONSE_SENT, KERNEL_OOPS, STALL_DETECTED, MUNMAP_RETURNED, MPROTECT_RETURNED,
                    MADVISE_RETURNED, MEMORY_RECLAIM_RETURNED, MM_CREATED, VMA_MAPPED, VMA_UNMAPPED,
                    VMA_PROTECTION_CHANGED, FRAME_ALLOCATED, PTE_SET, PTE_CLEARED, PTE_YOUNG_CLEARED,
                    RECLAIM_PAGES_CALLED, MMU_GATHER_STARTED, MMU_GATHER_FINISHED, MM_TLB_GEN_INCREMENTED,
                    FRAME_FREED, PTE_PROTECTION_CHANGED, TLB_FLUSH_STARTED, TLB_FLUSH_FINISHED,
                    TLB_BATCH_ADD_PENDING, TLB_BATCH_FLUSH_STARTED, TLB_BATCHED_PENDING_FLUSHED,
                    MEMORY_PRESSURE, TLB_FLUSH_CALLED, PAGE_TABLE_FREED, PASID_BOUND, IOTLB_FILLED, ATC_FILLED,
                    DMA_COMPLETED, DMA_ABORTED, TRACE_MARKER, RUN_COMPLETED, TRACE_IMPORTED, TIMER_FIRED -> false;
        };
        if (!applied) {
            throw new IllegalStateException(nodeId + ": cannot apply " + own.getClass().getSimpleName());
        }
    }
}
