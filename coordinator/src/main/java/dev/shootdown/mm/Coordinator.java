package dev.shootdown.mm;

import dev.shootdown.core.Decider;
import dev.shootdown.core.Decision;
import dev.shootdown.core.Lifecycle;
import dev.shootdown.core.NodeStateMachine;
import dev.shootdown.core.TimerRequest;
import dev.shootdown.event.Access;
import dev.shootdown.event.ControlEvent;
import dev.shootdown.event.Event;
import dev.shootdown.event.FaultEvent;
import dev.shootdown.event.IpiEvent;
import dev.shootdown.event.Kernel;
import dev.shootdown.event.NodeIds;
import dev.shootdown.event.PageTableEvent;
import dev.shootdown.event.SecondaryTlbEvent;
import dev.shootdown.event.SyscallEvent;
import dev.shootdown.event.WalkEvent;
import dev.shootdown.scenario.Scenario;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * The kernel's memory management for the whole machine: every mm's VMAs, page table, tlb_gen,
 * mm_cpumask and mmu_notifier subscriptions; the page allocator and its LRU; the fault handlers;
 * reclaim (kswapd and direct); and the TLB flush code of the chosen architecture and kernel
 * variant ({@link KernelVariant}): where the secondary-TLB hook is called is the variable.
 *
 * <p>Every flush is a <em>shootdown</em> with an id, driven step by step by {@link #advance}.
 * Waits (IPI acks, TLBI completions, the synchronous secondary-TLB hook) are the acknowledgements
 * this node keeps as inputs; what step comes next is read from the state those and its own
 * events built, so a coordinator rebuilt from the log resumes where it was.
 *
 * <pre>
 *   munmap / mprotect (mm/mmap.c, mm/mprotect.c; the flush in tlb_finish_mmu):
 *     MmuGatherStarted -&gt; PteCleared* | PteProtectionChanged*
 *       linux-6.5:        hook from mmu_notifier_invalidate_range_end -&gt; CPU flush
 *       x86 v2 / 6.6:     flush_tlb_mm_range: IPIs --acks--&gt; hook
 *       arm64 v2 / 6.6:   __flush_tlb_range: TLBI, hook, DSB
 *     --&gt; FrameFreed* -&gt; MunmapReturned | MprotectReturned -&gt; MmuGatherFinished
 *
 *   write fault on a read-only PTE of a writable VMA (do_wp_page -&gt; wp_page_reuse):
 *     x86: PteProtectionChanged, no flush       arm64: TlbFlushStarted -&gt; PteProtectionChanged
 *       -&gt; flush_tlb_page: TLBI (+ hook from __flush_tlb_page_nosync, v2 / 6.6), DSB -&gt; TlbFlushFinished
 *
 *   reclaim (mm/vmscan.c shrink_folio_list, mm/rmap.c try_to_unmap_one with TTU_BATCH_FLUSH):
 *     TlbFlushStarted -&gt; per folio: PteCleared, TlbBatchAddPending (x86: MmTlbGenIncremented;
 *       arm64: TLBI), hook (6.5: range_end; x86 6.6: arch_tlbbatch_add_pending, whole mm;
 *       arm64 v2 / 6.6: __flush_tlb_page_nosync)
 *     -&gt; TlbBatchFlushStarted: x86 IPIs --acks--&gt; (v2: hook(current-&gt;mm), a NULL mm oopses)
 *                              arm64 DSB --TLBI completions--&gt;
 *     -&gt; FrameFreed* -&gt; TlbFlushFinished -&gt; the waiting allocation retries
 * </pre>
 *
 * <p>Thread: the host's node thread. Time: simulated nanoseconds.
 */
public final class Coordinator implements NodeStateMachine {

    /** tlb_single_page_flush_ceiling (arch/x86/mm/tlb.c): above it, flush the whole mm. */
    static final long TLB_SINGLE_PAGE_FLUSH_CEILING = 33;
    /** MAX_TLBI_OPS (arch/arm64/include/asm/tlbflush.h): above it, __flush_tlb_range flushes the ASID. */
    static final long MAX_TLBI_OPS = 512;
    /** TLB_GENERATION_INVALID (arch/x86/include/asm/tlbflush.h): a flush not tied to one mm. */
    static final long TLB_GENERATION_INVALID = -1;
    /** The first page frame number the page allocator hands out. */
    static final long FIRST_PFN = 0x1000;
    static final String END_TIMER = "end";
    /** The IOPF handler is a workqueue item: a kernel thread, current->mm == NULL. */
    static final String IOPF_COMM = "kworker/iopf";
    static final String KSWAPD_COMM = "kswapd0";

    private record Vma(long start, long end, boolean writable) {}

    private record Pte(long frame, long frameEpoch, boolean writable) {}

    /** Where a mapped folio is, for the LRU and rmap. */
    private record Folio(long mm, long va) {}

    /**
     * One mmu_notifier on the mm per (IOMMU, PASID): devices bound to the same mm behind the same
     * IOMMU share it (mmu_notifier_get hands back the registered one).
     */
    private record Subscription(String iommu, int pasid) {
        String key() {
            return iommu + " pasid " + pasid;
        }
    }

    private record Frame(long frame, long epoch) {}

    private static final class Mm {
        final long id;
        final TreeMap<Long, Vma> vmas = new TreeMap<>();
        final TreeMap<Long, Pte> ptes = new TreeMap<>();
        final TreeSet<String> cpumask = new TreeSet<>();
        final Set<Subscription> notifiers = new LinkedHashSet<>();
        long tlbGen;
        /** mm->tlb_flush_batched: unmaps added to a batch whose flush has not completed. */
        int batchedPending;

        Mm(long id) {
            this.id = id;
        }

        Vma findVma(long va) {
            var e = vmas.floorEntry(va);
            return e != null && Long.compareUnsigned(va, e.getValue().end()) < 0 ? e.getValue() : null;
        }
    }

    private enum Kind {
        /** munmap / mprotect: an mmu_gather flushed in tlb_finish_mmu. */
        GATHER,
        /** flush_tlb_page from ptep_set_access_flags (arm64, dirty upgrade). */
        FLUSH_PAGE,
        /** a reclaim pass whose flush is batched in current->tlb_ubc. */
        RECLAIM
    }

    /** One flush in flight: what it changed, what it waits for, what it will free. */
    private static final class Shootdown {
        final long id;
        final Kind kind;
        final String caller;
        final String cpu;
        final String comm;
        final int pid;
        final long currentMm;
        final long mm;
        final long start;
        final long end;
        final String waiter;
        final List<Frame> gathered = new ArrayList<>();
        final Set<Long> mmsChanged = new TreeSet<>();
        final Map<String, Integer> pendingCpus = new TreeMap<>();
        final Set<String> pendingSecondary = new TreeSet<>();
        final Set<String> hookCallers = new LinkedHashSet<>();
        final TreeSet<String> batchCpumask = new TreeSet<>();
        int ptesChanged;
        long flushStart;
        long flushEnd;
        boolean cpuFlushIssued;
        boolean batchFlushIssued;
        boolean fullFlush;
        boolean oopsed;

        Shootdown(long id, Kind kind, String caller, String cpu, String comm, int pid, long currentMm, long mm, long start,
                long end, String waiter) {
            this.id = id;
            this.kind = kind;
            this.caller = caller;
            this.cpu = cpu;
            this.comm = comm;
            this.pid = pid;
            this.currentMm = currentMm;
            this.mm = mm;
            this.start = start;
            this.end = end;
            this.waiter = waiter;
        }

        boolean waiting() {
            return !pendingSecondary.isEmpty();
        }
    }

    private Lifecycle lifecycle = Lifecycle.CREATED;
    private Scenario scenario;
    private boolean arm64;
    private KernelVariant variant = KernelVariant.LINUX_6_6;
    private final Map<Long, Mm> mms = new TreeMap<>();
    /** The page allocator's free list: the last freed frame is handed out first (a hot page). */
    private final ArrayDeque<Long> freeFrames = new ArrayDeque<>();
    private final Map<Long, Long> frameEpochs = new HashMap<>();
    private long nextPfn = FIRST_PFN;
    /** The LRU of mapped folios, oldest first: what reclaim isolates. */
    private final LinkedHashMap<Long, Folio> lru = new LinkedHashMap<>();
    private final Map<Long, Shootdown> shootdowns = new LinkedHashMap<>();
    private long nextShootdownId = 1;
    /** Faults being handled, by waiter key: {@code pid:N} for a task, {@code dev:ID} for a device. */
    private final Map<String, Event> pendingFaults = new TreeMap<>();
    private boolean kswapdDead;
    /**
     * CPUs in lazy TLB mode: their task exited and the idle task kept its mm loaded
     * (enter_lazy_tlb). The initiator reads cpu_tlbstate_shared.is_lazy; here the CPU's
     * TaskExited tells it.
     */
    private final Set<String> lazyCpus = new TreeSet<>();
    private final Set<Integer> liveTasks = new TreeSet<>();
    private int opsReturned;
    private final Map<String, Integer> deviceFaultsAfterOp = new TreeMap<>();

    @Override
    public String nodeId() {
        return NodeIds.COORDINATOR;
    }

    @Override
    public Lifecycle lifecycle() {
        return lifecycle;
    }

    /** mm->context.tlb_gen (for tests). */
    public long tlbGen(long mm) {
        return mms.get(mm).tlbGen;
    }

    /** Present PTEs of {@code mm} (for tests). */
    public int presentPtes(long mm) {
        return mms.get(mm).ptes.size();
    }

    /** Frames the page allocator could hand out now (for tests); -1 when memory is unlimited. */
    public long freeFrameCount() {
        return scenario != null && scenario.memory().limited() ? freeCount() : -1;
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
                || input instanceof FaultEvent.DeviceFaultRaised;
    }

    @Override
    public List<TimerRequest> timersAfterRecovery(long nowNs) {
        if (lifecycle == Lifecycle.RUNNING && scenario.end().afterNs() > 0) {
            return List.of(new TimerRequest(END_TIMER, Math.max(nowNs, scenario.end().afterNs())));
        }
        return List.of();
    }

    @Override
    public Decision onEvent(Event input, long nowNs) {
        if (lifecycle == Lifecycle.QUIESCED) {
            return Decision.NONE;
        }
        Decider d = new Decider(this);
        if (input instanceof ControlEvent.RunStarted started) {
            evolve(started);
            boot(d, started.scenario());
            if (scenario.end().afterNs() > 0) {
                d.timer(END_TIMER, scenario.end().afterNs());
            }
        } else if (lifecycle != Lifecycle.RUNNING) {
            return Decision.NONE;
        } else if (input instanceof ControlEvent.TimerFired timer && timer.timer().equals(END_TIMER)) {
            completeRun(d, "the observation window of " + scenario.end().afterNs() + " ns closed");
            return d.decision();
        } else if (scenario.end().afterNs() > 0 && nowNs >= scenario.end().afterNs()) {
            completeRun(d, "the observation window of " + scenario.end().afterNs() + " ns closed");
            return d.decision();
        } else if (input instanceof WalkEvent.PageWalkRequested walk) {
            servePageWalk(d, walk);
        } else if (input instanceof FaultEvent.PageFaultRaised fault) {
            evolve(fault);
            handleFault(d, waiterKey(fault), false);
        } else if (input instanceof FaultEvent.DeviceFaultRaised fault) {
            evolve(fault);
            handleFault(d, waiterKey(fault), false);
        } else if (input instanceof SyscallEvent.Munmap munmap) {
            doVmiMunmap(d, munmap);
        } else if (input instanceof SyscallEvent.Mprotect mprotect) {
            doMprotect(d, mprotect);
        } else if (input instanceof SyscallEvent.TaskExited exited) {
            evolve(exited); // do_exit: the task is gone; its mm lives on while other users hold it
        } else if (input instanceof IpiEvent.TlbFlushed ack) {
            evolve(ack);
            advance(d, shootdowns.get(ack.shootdownId()));
            maybeRunQueuedIopf(d); // the ack may have ended a csd_lock_wait that kept every CPU busy
        } else if (input instanceof IpiEvent.TlbiCompleted ack) {
            evolve(ack);
            advance(d, shootdowns.get(ack.shootdownId()));
        } else if (input instanceof SecondaryTlbEvent.SecondaryTlbsInvalidated done) {
            evolve(done);
            advance(d, shootdowns.get(done.shootdownId()));
        }
        maybeCompleteRun(d);
        return d.decision();
    }

    // ------------------------------------------------------------------ boot, walks, faults

    /** Builds the scenario's machine state: address spaces, populated VMAs, SVA binds, tasks. */
    private void boot(Decider d, Scenario s) {
        for (Scenario.MmSpec spec : s.mms()) {
            d.emit(new PageTableEvent.MmCreated(spec.mm()));
            for (Scenario.VmaSpec vma : spec.vmas()) {
                long end = vma.start() + vma.pages() * Kernel.PAGE_SIZE;
                d.emit(new PageTableEvent.VmaMapped(spec.mm(), vma.start(), end, vma.writable()));
                if (vma.populate()) {
                    for (long va = vma.start(); va < end; va += Kernel.PAGE_SIZE) {
                        allocateAndMap(d, spec.mm(), va, vma.writable() && !vma.wrprotect());
                    }
                }
            }
        }
        for (Scenario.DeviceSpec dev : s.devices()) {
            d.emit(new SecondaryTlbEvent.SvaBound(NodeIds.iommu(dev.iommu()), dev.id(), dev.pasid(), dev.mm(), dev.ats()));
        }
        for (Scenario.TaskSpec task : s.tasks()) {
            d.emit(new IpiEvent.TaskScheduled(NodeIds.cpu(task.cpu()), task.pid(), task.mm(), mm(task.mm()).tlbGen,
                    task.program()));
        }
    }

    /** The page allocator hands out a frame, and set_pte_at maps it. */
    private void allocateAndMap(Decider d, long mm, long va, boolean writable) {
        long frame = freeFrames.isEmpty() ? nextPfn : freeFrames.peekFirst();
        long epoch = frameEpochs.getOrDefault(frame, 0L) + 1;
        d.emit(new PageTableEvent.FrameAllocated(frame, epoch));
        d.emit(new PageTableEvent.PteSet(mm, va, frame, epoch, writable));
    }

    private long freeCount() {
        return scenario.memory().frames() - (nextPfn - FIRST_PFN) + freeFrames.size();
    }

    /** The hardware walker reads the PTE as it is now. */
    private void servePageWalk(Decider d, WalkEvent.PageWalkRequested w) {
        Pte pte = mm(w.mm()).ptes.get(Kernel.pageAlign(w.va()));
        if (pte == null) {
            d.emit(new WalkEvent.PageWalkCompleted(w.requester(), w.stream(), w.mm(), w.pasid(), w.va(), false, -1, -1, false));
        } else {
            d.emit(new WalkEvent.PageWalkCompleted(w.requester(), w.stream(), w.mm(), w.pasid(), w.va(), true, pte.frame(),
                    pte.frameEpoch(), pte.writable()));
        }
    }

    private static String waiterKey(FaultEvent.PageFaultRaised f) {
        return "pid:" + f.pid();
    }

    private static String waiterKey(FaultEvent.DeviceFaultRaised f) {
        return "dev:" + f.device();
    }

    /**
     * handle_mm_fault for the fault {@code key} waits on: exc_page_fault for a CPU, or
     * iommu_queue_iopf -&gt; iommu_sva_handle_mm for a device. A missing VMA, or a write to a
     * read-only VMA, is an error (SIGSEGV, or a page response INVALID). May wait on a flush or
     * on reclaim; it is then called again with {@code afterReclaim} once that finished.
     */
    private void handleFault(Decider d, String key, boolean afterReclaim) {
        Event fault = pendingFaults.get(key);
        if (fault == null) {
            return;
        }
        if (!afterReclaim && fault instanceof FaultEvent.DeviceFaultRaised && iopfCpu() == null) {
            return; // the work item stays queued until a CPU can run it: maybeRunQueuedIopf
        }
        long mmId = faultMm(fault);
        long va = Kernel.pageAlign(faultVa(fault));
        Access access = faultAccess(fault);
        Mm mm = mm(mmId);
        Vma vma = mm.findVma(va);
        if (vma == null || (access.isWrite() && !vma.writable())) {
            respond(d, key, false);
            return;
        }
        Pte pte = mm.ptes.get(va);
        if (pte == null) {
            // do_anonymous_page, or do_swap_page for a folio reclaim swapped out: a new frame.
            if (scenario.memory().limited() && !maybeAllocateUnderPressure(d, key, afterReclaim)) {
                return;
            }
            allocateAndMap(d, mmId, va, vma.writable());
            respond(d, key, true);
        } else if (access.isWrite() && !pte.writable()) {
            // do_wp_page -> wp_page_reuse: the folio is ours alone, make the PTE writable.
            ptepSetAccessFlags(d, key, mmId, va, pte);
        } else {
            // Spurious: the PTE already allows it. flush_tlb_fix_spurious_fault is a no-op on
            // x86 and arm64 alike; the fault is simply answered.
            respond(d, key, true);
        }
    }

    /**
     * mm/memory.c ptep_set_access_flags on a write fault: the PTE becomes writable and dirty.
     * x86 flushes nothing (a faulting access drops its TLB entry); arm64 calls flush_tlb_page
     * for a dirty upgrade, and only the series made that reach the secondary TLBs.
     */
    private void ptepSetAccessFlags(Decider d, String key, long mmId, long va, Pte pte) {
        if (!arm64) {
            d.emit(new PageTableEvent.PteProtectionChanged(mmId, va, pte.frame(), pte.frameEpoch(), true,
                    "ptep_set_access_flags", -1));
            respond(d, key, true);
            return;
        }
        long id = nextShootdownId;
        Context ctx = faultContext(pendingFaults.get(key));
        d.emit(new PageTableEvent.TlbFlushStarted(id, "ptep_set_access_flags", ctx.cpu, ctx.comm, ctx.pid, ctx.currentMm, mmId,
                va, va + Kernel.PAGE_SIZE, key));
        d.emit(new PageTableEvent.PteProtectionChanged(mmId, va, pte.frame(), pte.frameEpoch(), true, "ptep_set_access_flags",
                id));
        advance(d, shootdowns.get(id));
    }

    /** Who runs a fault handler: the faulting task on its CPU, or the IOPF workqueue. */
    private record Context(String cpu, String comm, int pid, long currentMm) {}

    private Context faultContext(Event fault) {
        if (fault instanceof FaultEvent.PageFaultRaised f) {
            return new Context(f.cpu(), "task" + f.pid(), f.pid(), f.mm());
        }
        String cpu = iopfCpu();
        return new Context(cpu == null ? NodeIds.cpu(0) : cpu, IOPF_COMM, -1, 0);
    }

    /**
     * Where the IOPF work item runs: its workqueue is unbound (drivers/iommu/io-pgfault.c:
     * iopf_queue_alloc, WQ_UNBOUND), so on cpu0 unless that CPU cannot schedule it
     * ({@link #schedulableCpu}); null while no CPU can.
     */
    private String iopfCpu() {
        return schedulableCpu(NodeIds.cpu(0));
    }

    /**
     * The CPU a kernel thread woken now runs on: {@code preferred}, unless a flush initiated there
     * spins in csd_lock_wait ({@link #inCsdLockWait}), then the first CPU that does not; null when
     * every CPU does. kswapd may run on any CPU of its node (mm/vmscan.c: kswapd sets its
     * cpumask to the node's), and the IOPF worker on any CPU.
     */
    private String schedulableCpu(String preferred) {
        if (!inCsdLockWait(preferred)) {
            return preferred;
        }
        for (int i = 0; i < scenario.cpus(); i++) {
            String cpu = NodeIds.cpu(i);
            if (!inCsdLockWait(cpu)) {
                return cpu;
            }
        }
        return null;
    }

    /**
     * Whether a shootdown initiated on {@code cpu} waits there for another CPU's flush_tlb_func:
     * x86 flush_tlb_mm_range and arch_tlbbatch_flush hold get_cpu() (preemption off) around
     * flush_tlb_multi, whose smp_call_function_many_cond spins in csd_lock_wait until every
     * target ran the function (arch/x86/mm/tlb.c, kernel/smp.c). Nothing else runs in process
     * context on that CPU meanwhile; a lost IPI keeps it so for ever.
     */
    private boolean inCsdLockWait(String cpu) {
        if (arm64) {
            return false;
        }
        for (Shootdown sd : shootdowns.values()) {
            if (sd.cpu.equals(cpu) && !sd.oopsed) {
                for (String target : sd.pendingCpus.keySet()) {
                    if (!target.equals(cpu)) {
                        return true;
                    }
                }
            }
        }
        return false;
    }

    /** Device faults whose IOPF work waits for a CPU ({@link #handleFault}) run once one can take it. */
    private void maybeRunQueuedIopf(Decider d) {
        for (String key : List.copyOf(pendingFaults.keySet())) {
            if (key.startsWith("dev:") && !awaitsShootdown(key) && iopfCpu() != null) {
                handleFault(d, key, false);
            }
        }
    }

    /** Whether a shootdown (a reclaim it started, a flush_tlb_page) is what the fault {@code key} waits on. */
    private boolean awaitsShootdown(String key) {
        for (Shootdown sd : shootdowns.values()) {
            if (sd.waiter.equals(key)) {
                return true;
            }
        }
        return false;
    }

    /**
     * mm/page_alloc.c __alloc_pages under a zone's watermarks: at or below low, wake kswapd; at
     * or below min, reclaim directly in the allocating context and retry. False when the
     * allocation waits on that reclaim or failed (the fault was answered).
     */
    private boolean maybeAllocateUnderPressure(Decider d, String key, boolean afterReclaim) {
        Scenario.Memory mem = scenario.memory();
        long free = freeCount();
        String kswapdCpu = scenario.kswapd() == null ? null : schedulableCpu(NodeIds.cpu(scenario.kswapd().cpu()));
        if (free <= mem.low() && kswapdCpu != null && !kswapdDead && !kswapdRunning() && !lru.isEmpty()) {
            d.emit(new PageTableEvent.MemoryPressure(free, "wakeup_kswapd", key));
            startReclaim(d, "kswapd", kswapdCpu, KSWAPD_COMM, -1, 0, "");
        }
        if (!afterReclaim && free <= mem.min() && !lru.isEmpty()) {
            d.emit(new PageTableEvent.MemoryPressure(free, "__alloc_pages_direct_reclaim", key));
            Context ctx = faultContext(pendingFaults.get(key));
            startReclaim(d, "direct-reclaim", ctx.cpu, ctx.comm, ctx.pid, ctx.currentMm, key);
            return false;
        }
        if (free <= 0) {
            // VM_FAULT_OOM: the OOM killer kills the faulting task; a device's request fails.
            if (pendingFaults.get(key) instanceof FaultEvent.PageFaultRaised f) {
                d.emit(new FaultEvent.PageFaultHandled(f.cpu(), f.pid(), f.mm(), f.va(), FaultEvent.FaultResult.KILLED));
            } else {
                respond(d, key, false);
            }
            return false;
        }
        return true;
    }

    private boolean kswapdRunning() {
        for (Shootdown sd : shootdowns.values()) {
            if (sd.kind == Kind.RECLAIM && sd.comm.equals(KSWAPD_COMM)) {
                return true;
            }
        }
        return false;
    }

    /** Answers the fault {@code key} waits on: RETRY / SUCCESS when {@code ok}. */
    private void respond(Decider d, String key, boolean ok) {
        Event fault = pendingFaults.get(key);
        if (fault instanceof FaultEvent.PageFaultRaised f) {
            d.emit(new FaultEvent.PageFaultHandled(f.cpu(), f.pid(), f.mm(), f.va(),
                    ok ? FaultEvent.FaultResult.RETRY : FaultEvent.FaultResult.SIGSEGV));
        } else if (fault instanceof FaultEvent.DeviceFaultRaised f) {
            d.emit(new FaultEvent.PageResponseSent(f.iommu(), f.device(), f.pasid(), f.va(),
                    ok ? FaultEvent.PageResponseCode.SUCCESS : FaultEvent.PageResponseCode.INVALID));
        }
    }

    private static long faultMm(Event f) {
        return f instanceof FaultEvent.PageFaultRaised p ? p.mm() : ((FaultEvent.DeviceFaultRaised) f).mm();
    }

    private static long faultVa(Event f) {
        return f instanceof FaultEvent.PageFaultRaised p ? p.va() : ((FaultEvent.DeviceFaultRaised) f).va();
    }

    private static Access faultAccess(Event f) {
        return f instanceof FaultEvent.PageFaultRaised p ? p.access() : ((FaultEvent.DeviceFaultRaised) f).access();
    }

    // ------------------------------------------------------------------ munmap, mprotect

    /**
     * do_vmi_munmap -> unmap_region: detach the VMAs, zap the PTEs into an mmu_gather, then
     * tlb_finish_mmu: flush, and free the gathered pages once every flush completed.
     */
    private void doVmiMunmap(Decider d, SyscallEvent.Munmap m) {
        long id = nextShootdownId;
        d.emit(new PageTableEvent.MmuGatherStarted(id, m.mm(), m.start(), m.end(), "munmap", m.cpu(), m.pid()));
        maybeFlushTlbBatchedPending(d, m.mm(), id);
        d.emit(new PageTableEvent.VmaUnmapped(m.mm(), m.start(), m.end()));
        Mm mm = mm(m.mm());
        for (var e : new ArrayList<>(mm.ptes.subMap(m.start(), m.end()).entrySet())) {
            Pte pte = e.getValue();
            d.emit(new PageTableEvent.PteCleared(m.mm(), e.getKey(), pte.frame(), pte.frameEpoch(), id));
        }
        advance(d, shootdowns.get(id));
    }

    /**
     * do_mprotect_pkey -> mprotect_fixup -> change_protection: the VMA's flags change, then
     * change_pte_range write-protects every present writable PTE into an mmu_gather flushed in
     * tlb_finish_mmu. Making a range writable changes no PTE here: writes fault and upgrade.
     */
    private void doMprotect(Decider d, SyscallEvent.Mprotect m) {
        long id = nextShootdownId;
        d.emit(new PageTableEvent.MmuGatherStarted(id, m.mm(), m.start(), m.end(), "mprotect", m.cpu(), m.pid()));
        maybeFlushTlbBatchedPending(d, m.mm(), id);
        d.emit(new PageTableEvent.VmaProtectionChanged(m.mm(), m.start(), m.end(), m.writable()));
        Mm mm = mm(m.mm());
        if (!m.writable()) {
            for (var e : new ArrayList<>(mm.ptes.subMap(m.start(), m.end()).entrySet())) {
                Pte pte = e.getValue();
                if (pte.writable()) {
                    d.emit(new PageTableEvent.PteProtectionChanged(m.mm(), e.getKey(), pte.frame(), pte.frameEpoch(), false,
                            "change_pte_range", id));
                }
            }
        }
        advance(d, shootdowns.get(id));
    }

    /**
     * mm/rmap.c flush_tlb_batched_pending: a batched reclaim flush of this mm has not completed,
     * so before changing its PTEs the whole mm is flushed; modelled by widening this gather's
     * flush to the whole mm.
     */
    private void maybeFlushTlbBatchedPending(Decider d, long mm, long id) {
        if (mm(mm).batchedPending > 0) {
            d.emit(new PageTableEvent.TlbBatchedPendingFlushed(mm, id));
        }
    }

    // ------------------------------------------------------------------ reclaim

    /** shrink_folio_list: a reclaim pass in the context of {@code comm} on {@code cpu}. */
    private void startReclaim(Decider d, String caller, String cpu, String comm, int pid, long currentMm, String waiter) {
        long id = nextShootdownId;
        d.emit(new PageTableEvent.TlbFlushStarted(id, caller, cpu, comm, pid, currentMm, 0, 0, Kernel.TLB_FLUSH_ALL, waiter));
        advance(d, shootdowns.get(id));
    }

    /**
     * try_to_unmap_one with TTU_BATCH_FLUSH for the LRU's oldest folio: clear the PTE under the
     * page-table lock, then set_tlb_ubc_flush_pending -&gt; arch_tlbbatch_add_pending.
     */
    private void tryToUnmapOne(Decider d, Shootdown sd) {
        var oldest = lru.entrySet().iterator().next();
        long frame = oldest.getKey();
        Folio folio = oldest.getValue();
        Pte pte = mm(folio.mm()).ptes.get(folio.va());
        d.emit(new PageTableEvent.PteCleared(folio.mm(), folio.va(), frame, pte.frameEpoch(), sd.id));
        d.emit(new PageTableEvent.TlbBatchAddPending(sd.id, folio.mm(), folio.va()));
        long pageEnd = folio.va() + Kernel.PAGE_SIZE;
        if (!arm64) {
            // x86 arch_tlbbatch_add_pending: inc_mm_tlb_gen, cpumask_or(batch, mm_cpumask(mm)).
            Mm mm = mm(folio.mm());
            d.emit(new PageTableEvent.MmTlbGenIncremented(folio.mm(), mm.tlbGen + 1, 0, Kernel.TLB_FLUSH_ALL, sd.id));
            if (variant == KernelVariant.LINUX_6_6) {
                callSecondaryHook(d, sd, "arch_tlbbatch_add_pending", folio.mm(), 0, Kernel.TLB_FLUSH_ALL);
            }
        } else {
            // arm64 arch_tlbbatch_add_pending -> __flush_tlb_page_nosync: TLBI now, DSB later.
            broadcastTlbi(d, sd, "VALE1IS", folio.mm(), folio.va(), pageEnd);
            if (variant != KernelVariant.LINUX_6_5) {
                callSecondaryHook(d, sd, "__flush_tlb_page_nosync", folio.mm(), folio.va(), pageEnd);
            }
        }
        if (variant == KernelVariant.LINUX_6_5) {
            // try_to_unmap_one's mmu_notifier_invalidate_range_end for this page's range.
            callSecondaryHook(d, sd, "mmu_notifier_invalidate_range_end", folio.mm(), folio.va(), pageEnd);
        }
    }

    /** try_to_unmap_flush -&gt; arch_tlbbatch_flush. */
    private void archTlbbatchFlush(Decider d, Shootdown sd) {
        d.emit(new PageTableEvent.TlbBatchFlushStarted(sd.id, arm64 ? List.of() : List.copyOf(sd.batchCpumask)));
        if (arm64) {
            return; // dsb(ish): waits for the TLBIs add_pending issued
        }
        List<IpiEvent.MmTlbGen> gens = new ArrayList<>();
        for (long mmId : sd.mmsChanged) {
            gens.add(new IpiEvent.MmTlbGen(mmId, mm(mmId).tlbGen));
        }
        for (String cpu : List.copyOf(sd.batchCpumask)) {
            if (!cpu.equals(sd.cpu) && lazyCpus.contains(cpu)) {
                continue; // flush_tlb_multi skips lazy CPUs; the local CPU runs flush_tlb_func itself
            }
            d.emit(new IpiEvent.FlushTlb(cpu, 0, 0, Kernel.TLB_FLUSH_ALL, TLB_GENERATION_INVALID, TLB_GENERATION_INVALID,
                    !cpu.equals(sd.cpu), false, sd.id, gens));
        }
    }

    // ------------------------------------------------------------------ the flush steps

    /**
     * Runs {@code sd}'s next steps until it has to wait (for IPI acks, TLBI completions or the
     * secondary-TLB hook) or is done. What comes next is read from the state its events built.
     */
    private void advance(Decider d, Shootdown sd) {
        while (sd != null && !sd.oopsed && !sd.waiting() && shootdowns.containsKey(sd.id)) {
            if (!step(d, sd)) {
                return;
            }
        }
    }

    /** One step of {@code sd}; false when it now waits on CPUs or is finished. */
    private boolean step(Decider d, Shootdown sd) {
        switch (sd.kind) {
            case GATHER:
                return stepGather(d, sd);
            case FLUSH_PAGE:
                return stepFlushPage(d, sd);
            case RECLAIM:
                return stepReclaim(d, sd);
            default:
                throw new IllegalStateException("coordinator: shootdown " + sd.id + " of unknown kind " + sd.kind);
        }
    }

    private boolean stepGather(Decider d, Shootdown sd) {
        if (sd.ptesChanged == 0) {
            finishGather(d, sd); // nothing was mapped: tlb_flush_mmu has no range to flush
            return false;
        }
        if (variant == KernelVariant.LINUX_6_5 && !sd.hookCallers.contains("mmu_notifier_invalidate_range_end")) {
            // unmap_vmas / change_pmd_range end with mmu_notifier_invalidate_range_end, before tlb_finish_mmu.
            callSecondaryHook(d, sd, "mmu_notifier_invalidate_range_end", sd.mm, sd.start, sd.end);
            return true;
        }
        if (!sd.cpuFlushIssued) {
            if (arm64) {
                arm64FlushTlbRange(d, sd);
            } else {
                flushTlbMmRange(d, sd);
            }
            return true;
        }
        if (!sd.pendingCpus.isEmpty()) {
            return false;
        }
        if (!arm64 && variant != KernelVariant.LINUX_6_5 && !sd.hookCallers.contains("flush_tlb_mm_range")) {
            callSecondaryHook(d, sd, "flush_tlb_mm_range", sd.mm, sd.flushStart, sd.flushEnd);
            return true;
        }
        finishGather(d, sd);
        return false;
    }

    private boolean stepFlushPage(Decider d, Shootdown sd) {
        if (!sd.cpuFlushIssued) {
            // flush_tlb_page -> __flush_tlb_page_nosync (TLBI, and the hook in v2 / 6.6), then dsb(ish).
            broadcastTlbi(d, sd, "VALE1IS", sd.mm, sd.start, sd.end);
            if (variant != KernelVariant.LINUX_6_5) {
                callSecondaryHook(d, sd, "__flush_tlb_page_nosync", sd.mm, sd.start, sd.end);
            }
            return true;
        }
        if (!sd.pendingCpus.isEmpty()) {
            return false;
        }
        d.emit(new PageTableEvent.TlbFlushFinished(sd.id, 0));
        respond(d, sd.waiter, true);
        return false;
    }

    private boolean stepReclaim(Decider d, Shootdown sd) {
        int batch = scenario.memory().reclaimBatch();
        if (!sd.batchFlushIssued && sd.ptesChanged < batch && !lru.isEmpty()) {
            tryToUnmapOne(d, sd);
            return true;
        }
        if (!sd.batchFlushIssued) {
            if (sd.ptesChanged == 0) {
                finishReclaim(d, sd);
                return false;
            }
            archTlbbatchFlush(d, sd);
            return true;
        }
        if (!sd.pendingCpus.isEmpty()) {
            return false;
        }
        if (!arm64 && variant == KernelVariant.SERIES_V2 && !sd.hookCallers.contains("arch_tlbbatch_flush")) {
            // The v2 patch: mmu_notifier_arch_invalidate_secondary_tlbs(current->mm, 0, -1UL).
            callSecondaryHook(d, sd, "arch_tlbbatch_flush", sd.currentMm, 0, Kernel.TLB_FLUSH_ALL);
            return true;
        }
        finishReclaim(d, sd);
        return false;
    }

    /** arch/x86/mm/tlb.c flush_tlb_mm_range, the CPU half: inc_mm_tlb_gen, then flush_tlb_multi and the local flush. */
    private void flushTlbMmRange(Decider d, Shootdown sd) {
        Mm mm = mm(sd.mm);
        long start = sd.start;
        long end = sd.end;
        if (sd.fullFlush || end == Kernel.TLB_FLUSH_ALL || (end - start) / Kernel.PAGE_SIZE > TLB_SINGLE_PAGE_FLUSH_CEILING) {
            start = 0;
            end = Kernel.TLB_FLUSH_ALL;
        }
        long newTlbGen = mm.tlbGen + 1;
        d.emit(new PageTableEvent.MmTlbGenIncremented(sd.mm, newTlbGen, start, end, sd.id));
        boolean freedTables = false; // free_pgtables runs only when whole page-table pages go; not modelled
        for (String cpu : List.copyOf(mm.cpumask)) {
            if (!cpu.equals(sd.cpu) && !freedTables && lazyCpus.contains(cpu)) {
                continue; // flush_tlb_multi: on_each_cpu_cond_mask(tlb_is_not_lazy, ...)
            }
            d.emit(new IpiEvent.FlushTlb(cpu, sd.mm, start, end, newTlbGen, newTlbGen, !cpu.equals(sd.cpu), freedTables,
                    sd.id));
        }
    }

    /**
     * arch/arm64/include/asm/tlbflush.h __flush_tlb_range: broadcast TLBIs for the range (the
     * whole ASID above MAX_TLBI_OPS pages, as flush_tlb_mm), the hook in v2 / 6.6, then dsb(ish).
     */
    private void arm64FlushTlbRange(Decider d, Shootdown sd) {
        boolean wholeMm = sd.fullFlush || (sd.end - sd.start) / Kernel.PAGE_SIZE > MAX_TLBI_OPS;
        long start = wholeMm ? 0 : sd.start;
        long end = wholeMm ? Kernel.TLB_FLUSH_ALL : sd.end;
        broadcastTlbi(d, sd, wholeMm ? "ASIDE1IS" : "VALE1IS", sd.mm, start, end);
        if (variant != KernelVariant.LINUX_6_5) {
            callSecondaryHook(d, sd, wholeMm ? "flush_tlb_mm" : "__flush_tlb_range", sd.mm, start, end);
        }
    }

    /** arm64: a TLBI ...IS reaches every CPU of the inner-shareable domain; no cpumask, no IPI. */
    private void broadcastTlbi(Decider d, Shootdown sd, String op, long mm, long start, long end) {
        for (int i = 0; i < scenario.cpus(); i++) {
            d.emit(new IpiEvent.Tlbi(NodeIds.cpu(i), op, mm, start, end, sd.id));
        }
    }

    /**
     * include/linux/mmu_notifier.h: mmu_notifier_arch_invalidate_secondary_tlbs(mm, start, end)
     * (invalidate_range in 6.5): if mm_has_notifiers(mm), each notifier's callback, which
     * returns once its IOMMU's invalidation completed. mm_has_notifiers dereferences mm: NULL
     * oopses.
     */
    private void callSecondaryHook(Decider d, Shootdown sd, String caller, long mmId, long start, long end) {
        Mm mm = mmId == 0 ? null : mm(mmId);
        d.emit(new SecondaryTlbEvent.SecondaryTlbHookCalled(sd.cpu, caller, variant.hookName(), mmId, start, end,
                mm == null ? 0 : mm.notifiers.size(), sd.id));
        if (mm == null) {
            d.emit(new FaultEvent.KernelOops(sd.cpu, sd.comm, sd.pid, "mm_has_notifiers", caller, 0,
                    "BUG: kernel NULL pointer dereference: mm_has_notifiers(mm == NULL) in " + caller + " called with current->mm of "
                            + sd.comm + ", a kernel thread",
                    sd.id));
            if (pendingFaults.get(sd.waiter) instanceof FaultEvent.PageFaultRaised f) {
                // The oops kills the task that was reclaiming for its page fault.
                d.emit(new FaultEvent.PageFaultHandled(f.cpu(), f.pid(), f.mm(), f.va(), FaultEvent.FaultResult.KILLED));
            }
            return;
        }
        for (Subscription sub : mm.notifiers) {
            d.emit(new SecondaryTlbEvent.InvalidateSecondaryTlbs(sub.iommu(), mmId, sub.pasid(), start, end, sd.id));
        }
    }

    /** tlb_finish_mmu -&gt; tlb_batch_pages_flush: free the gathered pages; then the syscall returns. */
    private void finishGather(Decider d, Shootdown sd) {
        for (Frame f : List.copyOf(sd.gathered)) {
            d.emit(new PageTableEvent.FrameFreed(f.frame(), f.epoch(), sd.id));
        }
        if (sd.caller.equals("mprotect")) {
            d.emit(new SyscallEvent.MprotectReturned(sd.cpu, sd.pid, sd.mm, sd.start, sd.end, 0));
        } else {
            d.emit(new SyscallEvent.MunmapReturned(sd.cpu, sd.pid, sd.mm, sd.start, sd.end, 0));
        }
        d.emit(new PageTableEvent.MmuGatherFinished(sd.id, sd.mm, sd.gathered.size()));
    }

    /**
     * shrink_folio_list after try_to_unmap_flush: the folios are freed. The allocation that
     * waited retries; kswapd goes on while free memory is below the high watermark.
     */
    private void finishReclaim(Decider d, Shootdown sd) {
        for (Frame f : List.copyOf(sd.gathered)) {
            d.emit(new PageTableEvent.FrameFreed(f.frame(), f.epoch(), sd.id));
        }
        d.emit(new PageTableEvent.TlbFlushFinished(sd.id, sd.gathered.size()));
        if (!sd.waiter.isEmpty()) {
            handleFault(d, sd.waiter, true);
        } else if (sd.comm.equals(KSWAPD_COMM) && sd.ptesChanged > 0 && freeCount() < scenario.memory().high()
                && !lru.isEmpty()) {
            startReclaim(d, "kswapd", sd.cpu, KSWAPD_COMM, -1, 0, "");
        }
    }

    // ------------------------------------------------------------------ the run's end

    /** The scenario's end: all tasks done, no shootdown in flight, every device seen faulting. */
    private void maybeCompleteRun(Decider d) {
        int faults = scenario == null ? 0 : scenario.end().deviceFaults();
        if (lifecycle != Lifecycle.RUNNING || faults == 0 || !liveTasks.isEmpty() || !shootdowns.isEmpty()
                || opsReturned == 0) {
            return;
        }
        for (Scenario.DeviceSpec dev : scenario.devices()) {
            if (deviceFaultsAfterOp.getOrDefault(dev.id(), 0) < faults) {
                return;
            }
        }
        completeRun(d, "every task finished and every device faulted on the changed range " + faults + " times");
    }

    private void completeRun(Decider d, String reason) {
        if (scenario.end().afterNs() > 0) {
            d.cancelTimer(END_TIMER);
        }
        d.emit(new ControlEvent.RunCompleted(reason));
        d.emit(new ControlEvent.NodeQuiesced(NodeIds.CONTROL, NodeIds.COORDINATOR));
    }

    private Mm mm(long id) {
        Mm mm = mms.get(id);
        if (mm == null) {
            throw new IllegalStateException("coordinator: no mm " + id);
        }
        return mm;
    }

    private Shootdown shootdown(long id, String what) {
        Shootdown sd = shootdowns.get(id);
        if (sd == null) {
            throw new IllegalStateException("coordinator: " + what + " for unknown shootdown " + id);
        }
        return sd;
    }

    // ------------------------------------------------------------------ state

    @Override
    public void evolve(Event event) {
        if (event instanceof ControlEvent.RunStarted started) {
            lifecycle = lifecycle.transitionTo(Lifecycle.RUNNING, NodeIds.COORDINATOR);
            scenario = started.scenario();
            arm64 = "arm64".equals(scenario.arch());
            variant = KernelVariant.of(scenario.policy());
        } else if (event instanceof ControlEvent.RunCompleted) {
            // The NodeQuiesced that follows moves the lifecycle.
        } else if (event instanceof ControlEvent.NodeQuiesced) {
            lifecycle = lifecycle.transitionTo(Lifecycle.QUIESCED, NodeIds.COORDINATOR);
        } else if (event instanceof PageTableEvent.MmCreated c) {
            mms.put(c.mm(), new Mm(c.mm()));
        } else if (event instanceof PageTableEvent.VmaMapped v) {
            mm(v.mm()).vmas.put(v.start(), new Vma(v.start(), v.end(), v.writable()));
        } else if (event instanceof PageTableEvent.VmaUnmapped v) {
            splitVmas(mm(v.mm()), v.start(), v.end());
            mm(v.mm()).vmas.subMap(v.start(), v.end()).clear();
        } else if (event instanceof PageTableEvent.VmaProtectionChanged v) {
            Mm mm = mm(v.mm());
            splitVmas(mm, v.start(), v.end());
            for (Vma vma : List.copyOf(mm.vmas.subMap(v.start(), v.end()).values())) {
                mm.vmas.put(vma.start(), new Vma(vma.start(), vma.end(), v.writable()));
            }
        } else if (event instanceof PageTableEvent.FrameAllocated f) {
            freeFrames.remove(f.frame());
            frameEpochs.put(f.frame(), f.epoch());
            nextPfn = Math.max(nextPfn, f.frame() + 1);
        } else if (event instanceof PageTableEvent.PteSet p) {
            mm(p.mm()).ptes.put(p.va(), new Pte(p.frame(), p.frameEpoch(), p.writable()));
            lru.remove(p.frame());
            lru.put(p.frame(), new Folio(p.mm(), p.va()));
        } else if (event instanceof PageTableEvent.PteProtectionChanged p) {
            mm(p.mm()).ptes.put(p.va(), new Pte(p.frame(), p.frameEpoch(), p.writable()));
            if (p.shootdownId() >= 0) {
                Shootdown sd = shootdown(p.shootdownId(), "PteProtectionChanged");
                sd.ptesChanged++;
                sd.mmsChanged.add(p.mm());
            }
        } else if (event instanceof PageTableEvent.MmuGatherStarted g) {
            shootdowns.put(g.shootdownId(), new Shootdown(g.shootdownId(), Kind.GATHER, g.caller(), g.cpu(), "task" + g.pid(),
                    g.pid(), g.mm(), g.mm(), g.start(), g.end(), ""));
            nextShootdownId = Math.max(nextShootdownId, g.shootdownId() + 1);
        } else if (event instanceof PageTableEvent.TlbFlushStarted t) {
            Kind kind = t.caller().equals("ptep_set_access_flags") ? Kind.FLUSH_PAGE : Kind.RECLAIM;
            shootdowns.put(t.shootdownId(), new Shootdown(t.shootdownId(), kind, t.caller(), t.cpu(), t.comm(), t.pid(),
                    t.currentMm(), t.mm(), t.start(), t.end(), t.waiter()));
            nextShootdownId = Math.max(nextShootdownId, t.shootdownId() + 1);
        } else if (event instanceof PageTableEvent.TlbBatchedPendingFlushed t) {
            shootdown(t.shootdownId(), "TlbBatchedPendingFlushed").fullFlush = true;
        } else if (event instanceof PageTableEvent.PteCleared p) {
            mm(p.mm()).ptes.remove(p.va());
            lru.remove(p.frame());
            Shootdown sd = shootdown(p.shootdownId(), "PteCleared");
            sd.gathered.add(new Frame(p.frame(), p.frameEpoch()));
            sd.ptesChanged++;
            sd.mmsChanged.add(p.mm());
        } else if (event instanceof PageTableEvent.TlbBatchAddPending a) {
            Mm mm = mm(a.mm());
            mm.batchedPending++;
            shootdown(a.shootdownId(), "TlbBatchAddPending").batchCpumask.addAll(mm.cpumask);
        } else if (event instanceof PageTableEvent.TlbBatchFlushStarted b) {
            shootdown(b.shootdownId(), "TlbBatchFlushStarted").batchFlushIssued = true;
        } else if (event instanceof PageTableEvent.MmTlbGenIncremented g) {
            mm(g.mm()).tlbGen = g.tlbGen();
            Shootdown sd = shootdown(g.shootdownId(), "MmTlbGenIncremented");
            if (sd.kind == Kind.GATHER) {
                sd.flushStart = g.start();
                sd.flushEnd = g.end();
                sd.cpuFlushIssued = true;
            }
        } else if (event instanceof IpiEvent.FlushTlb f) {
            shootdown(f.shootdownId(), "FlushTlb").pendingCpus.merge(f.target(), 1, Integer::sum);
        } else if (event instanceof IpiEvent.Tlbi t) {
            Shootdown sd = shootdown(t.shootdownId(), "Tlbi");
            sd.pendingCpus.merge(t.target(), 1, Integer::sum);
            sd.cpuFlushIssued = true;
        } else if (event instanceof IpiEvent.TlbFlushed ack) {
            ackCpu(ack.shootdownId(), ack.cpu(), "TlbFlushed");
        } else if (event instanceof IpiEvent.TlbiCompleted ack) {
            ackCpu(ack.shootdownId(), ack.cpu(), "TlbiCompleted");
        } else if (event instanceof SecondaryTlbEvent.SecondaryTlbHookCalled h) {
            shootdown(h.shootdownId(), "SecondaryTlbHookCalled").hookCallers.add(h.caller());
        } else if (event instanceof FaultEvent.KernelOops oops) {
            shootdown(oops.shootdownId(), "KernelOops").oopsed = true;
            if (oops.comm().equals(KSWAPD_COMM)) {
                kswapdDead = true;
            }
        } else if (event instanceof SecondaryTlbEvent.InvalidateSecondaryTlbs r) {
            shootdown(r.shootdownId(), "InvalidateSecondaryTlbs").pendingSecondary.add(
                    new Subscription(r.target(), r.pasid()).key());
        } else if (event instanceof SecondaryTlbEvent.SecondaryTlbsInvalidated done) {
            Shootdown sd = shootdowns.get(done.shootdownId());
            if (sd == null || !sd.pendingSecondary.remove(new Subscription(done.iommu(), done.pasid()).key())) {
                throw new IllegalStateException("coordinator: unexpected SecondaryTlbsInvalidated from " + done.iommu()
                        + " for shootdown " + done.shootdownId());
            }
        } else if (event instanceof PageTableEvent.FrameFreed f) {
            freeFrames.addFirst(f.frame());
        } else if (event instanceof SyscallEvent.MunmapReturned || event instanceof SyscallEvent.MprotectReturned) {
            opsReturned++;
            deviceFaultsAfterOp.clear(); // the end condition counts from the last operation
        } else if (event instanceof PageTableEvent.MmuGatherFinished g) {
            shootdowns.remove(g.shootdownId());
        } else if (event instanceof PageTableEvent.TlbFlushFinished t) {
            Shootdown sd = shootdowns.remove(t.shootdownId());
            if (sd != null && sd.kind == Kind.RECLAIM) {
                for (long mmId : sd.mmsChanged) {
                    mm(mmId).batchedPending = 0; // the batch's flush completed: tlb_flush_batched cleared
                }
            }
        } else if (event instanceof SecondaryTlbEvent.SvaBound b) {
            mm(b.mm()).notifiers.add(new Subscription(b.target(), b.pasid()));
        } else if (event instanceof IpiEvent.TaskScheduled t) {
            mm(t.mm()).cpumask.add(t.target());
            liveTasks.add(t.pid());
            lazyCpus.remove(t.target());
        } else if (event instanceof SyscallEvent.TaskExited e) {
            liveTasks.remove(e.pid());
            lazyCpus.add(e.cpu());
        } else if (event instanceof FaultEvent.PageFaultRaised f) {
            pendingFaults.put(waiterKey(f), f);
        } else if (event instanceof FaultEvent.DeviceFaultRaised f) {
            pendingFaults.put(waiterKey(f), f);
        } else if (event instanceof FaultEvent.PageFaultHandled h) {
            pendingFaults.remove("pid:" + h.pid());
        } else if (event instanceof FaultEvent.PageResponseSent r) {
            pendingFaults.remove("dev:" + r.device());
            if (opsReturned > 0) {
                deviceFaultsAfterOp.merge(r.device(), 1, Integer::sum);
            }
        } else if (event instanceof WalkEvent.PageWalkCompleted || event instanceof PageTableEvent.MemoryPressure) {
            // Answers and observations change nothing here.
        } else {
            throw new IllegalStateException("coordinator: cannot apply " + event.getClass().getSimpleName());
        }
    }

    private void ackCpu(long shootdownId, String cpu, String what) {
        Shootdown sd = shootdowns.get(shootdownId);
        Integer pending = sd == null ? null : sd.pendingCpus.get(cpu);
        if (pending == null) {
            throw new IllegalStateException("coordinator: unexpected " + what + " from " + cpu + " for shootdown " + shootdownId);
        }
        if (pending == 1) {
            sd.pendingCpus.remove(cpu);
        } else {
            sd.pendingCpus.put(cpu, pending - 1);
        }
    }

    /** Splits the VMAs that straddle {@code start} or {@code end}, so [start, end) is whole VMAs. */
    private static void splitVmas(Mm mm, long start, long end) {
        for (Vma vma : List.copyOf(mm.vmas.values())) {
            if (Long.compareUnsigned(vma.end(), start) <= 0 || Long.compareUnsigned(vma.start(), end) >= 0) {
                continue;
            }
            mm.vmas.remove(vma.start());
            long lo = Long.compareUnsigned(vma.start(), start) < 0 ? start : vma.start();
            long hi = Long.compareUnsigned(vma.end(), end) > 0 ? end : vma.end();
            if (lo != vma.start()) {
                mm.vmas.put(vma.start(), new Vma(vma.start(), lo, vma.writable()));
            }
            mm.vmas.put(lo, new Vma(lo, hi, vma.writable()));
            if (hi != vma.end()) {
                mm.vmas.put(hi, new Vma(hi, vma.end(), vma.writable()));
            }
        }
    }
}
