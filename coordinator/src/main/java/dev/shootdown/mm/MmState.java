package dev.shootdown.mm;

import dev.shootdown.core.Lifecycle;
import dev.shootdown.event.Callers;
import dev.shootdown.event.ControlEvent;
import dev.shootdown.event.Event;
import dev.shootdown.event.FaultEvent;
import dev.shootdown.event.IpiEvent;
import dev.shootdown.event.Kernel;
import dev.shootdown.event.NodeIds;
import dev.shootdown.event.PageTableEvent;
import dev.shootdown.event.SecondaryTlbEvent;
import dev.shootdown.event.SyscallEvent;
import dev.shootdown.kernel.KernelVariant;
import dev.shootdown.scenario.Arch;
import dev.shootdown.scenario.Scenario;
import java.util.ArrayDeque;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * Everything the kernel's mm holds for the whole machine: the address spaces ({@link Mm}), the
 * page allocator's frames and LRU, the shootdowns in flight, the faults being handled, which CPUs
 * are lazy and which tasks live. It changes only in {@link #evolve}, from the coordinator's own
 * events and the acknowledgements it keeps as inputs, so a coordinator rebuilt from the log
 * holds the same state. Thread: the host's node thread.
 */
final class MmState {

    /** The first page frame number the page allocator hands out. */
    static final long FIRST_PFN = 0x1000;
    static final String KSWAPD_COMM = "kswapd0";

    /** Where a mapped folio is, for the LRU and rmap. */
    record Folio(long mm, long va) {}

    /** The generic mm code's call sites of the hook, by their caller name. */
    static final String RANGE_END = "mmu_notifier_invalidate_range_end";
    static final String TLBONLY = "tlb_flush_mmu_tlbonly";
    static final String TRY_TO_UNMAP_ONE = "try_to_unmap_one";
    /** The callers of arch_tlbbatch_flush (mm/rmap.c): the end of a reclaim pass, and before a dirty folio's pageout. */
    static final String TRY_TO_UNMAP_FLUSH = "try_to_unmap_flush";
    static final String TRY_TO_UNMAP_FLUSH_DIRTY = "try_to_unmap_flush_dirty";

    private final KernelVariant.Catalog catalog;
    Lifecycle lifecycle = Lifecycle.CREATED;
    Scenario scenario;
    boolean arm64;
    /** The kernel variant the run models: its run-started's, or the built-in its policy names. */
    KernelVariant kernel;
    final Map<Long, Mm> mms = new TreeMap<>();
    /** The page allocator's free list: the last freed frame is handed out first (a hot page). */
    final ArrayDeque<Long> freeFrames = new ArrayDeque<>();
    final Map<Long, Long> frameEpochs = new HashMap<>();
    long nextPfn = FIRST_PFN;
    /** The LRU of mapped folios, oldest first: what reclaim isolates. */
    final LinkedHashMap<Long, Folio> lru = new LinkedHashMap<>();
    final Map<Long, Shootdown> shootdowns = new LinkedHashMap<>();
    long nextShootdownId = 1;
    /** Faults being handled, by waiter key: {@code pid:N} for a task, {@code dev:ID} for a device. */
    final Map<String, Event> pendingFaults = new TreeMap<>();
    boolean kswapdDead;
    /**
     * CPUs in lazy TLB mode: their task exited and the idle task kept its mm loaded
     * (enter_lazy_tlb). The initiator reads cpu_tlbstate_shared.is_lazy; here the CPU's
     * TaskExited tells it.
     */
    final Set<String> lazyCpus = new TreeSet<>();
    final Set<Integer> liveTasks = new TreeSet<>();
    int opsReturned;
    /** Writes to memory.reclaim not yet begun, by the writer's CPU: the pages each asks for. */
    final Map<String, Integer> memoryReclaims = new TreeMap<>();
    final Map<String, Integer> deviceFaultsAfterOp = new TreeMap<>();

    MmState(KernelVariant.Catalog catalog) {
        this.catalog = catalog;
    }

    Mm mm(long id) {
        Mm mm = mms.get(id);
        if (mm == null) {
            throw new IllegalStateException("coordinator: no mm " + id);
        }
        return mm;
    }

    /** Whether the scenario's VMA mapping {@code va} in {@code mm} is VM_LOCKED. */
    private boolean mlocked(long mm, long va) {
        for (Scenario.MmSpec spec : scenario.mms()) {
            if (spec.mm() == mm) {
                for (Scenario.VmaSpec vma : spec.vmas()) {
                    if (vma.mlocked() && vma.maps(va)) {
                        return true;
                    }
                }
            }
        }
        return false;
    }

    Shootdown shootdown(long id, String what) {
        Shootdown sd = shootdowns.get(id);
        if (sd == null) {
            throw new IllegalStateException("coordinator: " + what + " for unknown shootdown " + id);
        }
        return sd;
    }

    /** Frames the page allocator could hand out now. */
    long freeCount() {
        return scenario.memory().frames() - (nextPfn - FIRST_PFN) + freeFrames.size();
    }

    static String waiterKey(FaultEvent.PageFaultRaised f) {
        return "pid:" + f.pid();
    }

    static String waiterKey(FaultEvent.DeviceFaultRaised f) {
        return "dev:" + f.device();
    }

    void evolve(Event event) {
        boolean applied = switch (event.type()) {
            case RUN_STARTED -> {
                ControlEvent.RunStarted started = (ControlEvent.RunStarted) event;
                lifecycle = lifecycle.transitionTo(Lifecycle.RUNNING, NodeIds.COORDINATOR);
                scenario = started.scenario();
                arm64 = scenario.arch() == Arch.ARM64;
                kernel = started.kernel() != null ? started.kernel() : catalog.builtIn(scenario.policy());
                yield true;
            }
            case RUN_COMPLETED -> {
                // The NodeQuiesced that follows moves the lifecycle.
                yield true;
            }
            case NODE_QUIESCED -> {
                lifecycle = lifecycle.transitionTo(Lifecycle.QUIESCED, NodeIds.COORDINATOR);
                yield true;
            }
            case MM_CREATED -> {
                PageTableEvent.MmCreated c = (PageTableEvent.MmCreated) event;
                mms.put(c.mm(), new Mm(c.mm()));
                yield true;
            }
            case VMA_MAPPED -> {
                PageTableEvent.VmaMapped v = (PageTableEvent.VmaMapped) event;
                mm(v.mm()).vmas.put(v.start(), new Mm.Vma(v.start(), v.end(), v.writable()));
                yield true;
            }
            case VMA_UNMAPPED -> {
                PageTableEvent.VmaUnmapped v = (PageTableEvent.VmaUnmapped) event;
                Mm mm = mm(v.mm());
                mm.splitVmas(v.start(), v.end());
                var gone = mm.vmas.subMap(v.start(), v.end());
                // do_vmi_munmap detaches the VMAs of the munmap whose mmu_gather just started.
                Shootdown sd = shootdowns.get(nextShootdownId - 1);
                if (sd == null || sd.kind != Shootdown.Kind.GATHER || sd.mm != v.mm()) {
                    throw new IllegalStateException("coordinator: VmaUnmapped of mm " + v.mm() + " outside a munmap's mmu_gather");
                }
                sd.detached.addAll(gone.values());
                gone.clear();
                yield true;
            }
            case VMA_PROTECTION_CHANGED -> {
                PageTableEvent.VmaProtectionChanged v = (PageTableEvent.VmaProtectionChanged) event;
                Mm mm = mm(v.mm());
                mm.splitVmas(v.start(), v.end());
                for (Mm.Vma vma : List.copyOf(mm.vmas.subMap(v.start(), v.end()).values())) {
                    mm.vmas.put(vma.start(), new Mm.Vma(vma.start(), vma.end(), v.writable()));
                }
                yield true;
            }
            case FRAME_ALLOCATED -> {
                PageTableEvent.FrameAllocated f = (PageTableEvent.FrameAllocated) event;
                freeFrames.remove(f.frame());
                frameEpochs.put(f.frame(), f.epoch());
                nextPfn = Math.max(nextPfn, f.frame() + 1);
                yield true;
            }
            case PTE_SET -> {
                PageTableEvent.PteSet p = (PageTableEvent.PteSet) event;
                Mm mm = mm(p.mm());
                mm.ptes.put(p.va(), new Mm.Pte(p.frame(), p.frameEpoch(), p.writable(), true));
                for (Mm.Level level : Mm.Level.values()) {
                    mm.tables.get(level).add(level.base(p.va())); // __pte_alloc and kin: the tables the walk needs
                }
                lru.remove(p.frame());
                if (!mlocked(p.mm(), p.va())) {
                    lru.put(p.frame(), new Folio(p.mm(), p.va())); // an mlocked folio is unevictable (mm/mlock.c)
                }
                yield true;
            }
            case PTE_PROTECTION_CHANGED -> {
                PageTableEvent.PteProtectionChanged p = (PageTableEvent.PteProtectionChanged) event;
                Mm.Pte before = mm(p.mm()).ptes.get(p.va());
                mm(p.mm()).ptes.put(p.va(), new Mm.Pte(p.frame(), p.frameEpoch(), p.writable(), before == null || before.young()));
                if (p.shootdownId() >= 0) {
                    Shootdown sd = shootdown(p.shootdownId(), "PteProtectionChanged");
                    sd.ptesChanged++;
                    sd.mmsChanged.add(p.mm());
                    if (sd.kind == Shootdown.Kind.GATHER) {
                        sd.adjustRange(p.va(), p.va() + Kernel.PAGE_SIZE); // change_pte_range: tlb_flush_pte_range
                        sd.clearedPtes = true;
                    }
                }
                yield true;
            }
            case MMU_GATHER_STARTED -> {
                PageTableEvent.MmuGatherStarted g = (PageTableEvent.MmuGatherStarted) event;
                shootdowns.put(g.shootdownId(), new Shootdown(g.shootdownId(), Shootdown.Kind.GATHER, g.caller(), g.cpu(),
                        "task" + g.pid(), g.pid(), g.mm(), g.mm(), g.start(), g.end(), ""));
                nextShootdownId = Math.max(nextShootdownId, g.shootdownId() + 1);
                yield true;
            }
            case TLB_FLUSH_STARTED -> {
                PageTableEvent.TlbFlushStarted t = (PageTableEvent.TlbFlushStarted) event;
                Shootdown.Kind kind = t.caller().equals(Callers.PTEP_SET_ACCESS_FLAGS) ? Shootdown.Kind.FLUSH_PAGE
                        : t.caller().equals(Callers.MADVISE_PAGEOUT) ? Shootdown.Kind.PAGEOUT : Shootdown.Kind.RECLAIM;
                Shootdown sd = new Shootdown(t.shootdownId(), kind, t.caller(), t.cpu(), t.comm(), t.pid(),
                        t.currentMm(), t.mm(), t.start(), t.end(), t.waiter());
                if (t.caller().equals(Callers.MEMORY_RECLAIM)) {
                    sd.pagesAsked = memoryReclaims.remove(t.cpu());
                }
                shootdowns.put(t.shootdownId(), sd);
                nextShootdownId = Math.max(nextShootdownId, t.shootdownId() + 1);
                yield true;
            }
            case TLB_BATCHED_PENDING_FLUSHED -> {
                PageTableEvent.TlbBatchedPendingFlushed t = (PageTableEvent.TlbBatchedPendingFlushed) event;
                Mm mm = mm(t.mm());
                mm.batchFlushed = mm.batchPending;
                yield true;
            }
            case PTE_CLEARED -> {
                PageTableEvent.PteCleared p = (PageTableEvent.PteCleared) event;
                Mm.Pte cleared = mm(p.mm()).ptes.remove(p.va());
                lru.remove(p.frame());
                Shootdown sd = shootdown(p.shootdownId(), "PteCleared");
                sd.gathered.add(new Shootdown.Frame(p.frame(), p.frameEpoch()));
                sd.ptesChanged++;
                sd.mmsChanged.add(p.mm());
                if (sd.kind == Shootdown.Kind.GATHER) {
                    sd.adjustRange(p.va(), p.va() + Kernel.PAGE_SIZE); // tlb_remove_tlb_entry
                    sd.clearedPtes = true;
                } else {
                    // A writable anonymous PTE is taken as dirty: the model's pages are written once
                    // mapped (populate with a write fault, or a write access), and hardware sets the dirty
                    // bit on the first write through it.
                    sd.folio = new Shootdown.Folio(p.mm(), p.va(), cleared != null && cleared.writable());
                }
                yield true;
            }
            case PTE_YOUNG_CLEARED -> {
                PageTableEvent.PteYoungCleared y = (PageTableEvent.PteYoungCleared) event;
                Mm mm = mm(y.mm());
                mm.ptes.put(y.va(), mm.ptes.get(y.va()).withYoung(false));
                Shootdown sd = shootdown(y.shootdownId(), "PteYoungCleared");
                sd.adjustRange(y.va(), y.va() + Kernel.PAGE_SIZE); // tlb_remove_tlb_entry
                sd.clearedPtes = true;
                yield true;
            }
            case RECLAIM_PAGES_CALLED -> {
                PageTableEvent.ReclaimPagesCalled r = (PageTableEvent.ReclaimPagesCalled) event;
                Mm mm = mm(r.mm());
                Shootdown sd = shootdown(r.shootdownId(), "ReclaimPagesCalled");
                sd.isolated.clear();
                for (long va : r.vas()) {
                    long frame = mm.ptes.get(va).frame();
                    sd.isolated.put(va, frame);
                    lru.remove(frame); // folio_isolate_lru
                }
                sd.walkedTo = r.end();
                // A new shrink_folio_list pass: current->tlb_ubc was flushed at the end of the last one.
                sd.folio = null;
                sd.passFlushed = false;
                sd.batchFlushCalled = false;
                sd.flushRequired = false;
                sd.writable = false;
                sd.batchCpumask.clear();
                yield true;
            }
            case TLB_BATCH_ADD_PENDING -> {
                PageTableEvent.TlbBatchAddPending a = (PageTableEvent.TlbBatchAddPending) event;
                Mm mm = mm(a.mm());
                mm.batchPending++;
                Shootdown sd = shootdown(a.shootdownId(), "TlbBatchAddPending");
                if (sd.batchFlushCalled) {
                    // try_to_unmap_flush cleared the batch after its arch_tlbbatch_flush: a new one begins
                    sd.batchFlushCalled = false;
                    sd.batchCpumask.clear();
                    sd.writable = false;
                }
                sd.batchCpumask.addAll(mm.cpumask);
                sd.flushRequired = true;
                if (sd.folio != null) {
                    sd.folio.deferred = true;
                    sd.writable |= sd.folio.dirty;
                }
                yield true;
            }
            case TLB_FLUSH_CALLED -> {
                PageTableEvent.TlbFlushCalled c = (PageTableEvent.TlbFlushCalled) event;
                Shootdown sd = shootdown(c.shootdownId(), "TlbFlushCalled");
                sd.call = new Shootdown.Call(c.caller(), c.function(), c.mm(), c.start(), c.end(), c.strideShift(), c.freedTables());
                if (c.caller().equals(TLBONLY)) {
                    sd.resetRange(); // the flush took the gather's range; __tlb_reset_range
                } else if (c.function().equals("arch_tlbbatch_flush")) {
                    sd.batchFlushCalled = true;
                    sd.passFlushed |= c.caller().equals(TRY_TO_UNMAP_FLUSH);
                } else if (c.caller().equals("ptep_clear_flush") && sd.folio != null) {
                    sd.folio.flushCalled = true;
                }
                yield true;
            }
            case PAGE_TABLE_FREED -> {
                PageTableEvent.PageTableFreed f = (PageTableEvent.PageTableFreed) event;
                Mm.Level level = Mm.Level.of(f.level());
                mm(f.mm()).tables.get(level).remove(f.addr());
                Shootdown sd = shootdown(f.shootdownId(), "PageTableFreed");
                sd.adjustRange(f.addr(), f.addr() + Kernel.PAGE_SIZE); // pte_free_tlb -> tlb_flush_pmd_range, and kin
                sd.freedTables = true;
                switch (level) {
                    case PTE -> sd.clearedPmds = true;
                    case PMD -> sd.clearedPuds = true;
                    case PUD -> sd.clearedP4ds = true;
                }
                yield true;
            }
            case TLB_BATCH_FLUSH_STARTED -> {
                PageTableEvent.TlbBatchFlushStarted b = (PageTableEvent.TlbBatchFlushStarted) event;
                issued(shootdown(b.shootdownId(), "TlbBatchFlushStarted"));
                yield true;
            }
            case MM_TLB_GEN_INCREMENTED -> {
                PageTableEvent.MmTlbGenIncremented g = (PageTableEvent.MmTlbGenIncremented) event;
                mm(g.mm()).tlbGen = g.tlbGen();
                issued(shootdown(g.shootdownId(), "MmTlbGenIncremented"));
                yield true;
            }
            case FLUSH_TLB -> {
                IpiEvent.FlushTlb f = (IpiEvent.FlushTlb) event;
                Shootdown sd = shootdown(f.shootdownId(), "FlushTlb");
                sd.pendingCpus.merge(f.target(), 1, Integer::sum);
                issued(sd);
                yield true;
            }
            case TLBI -> {
                IpiEvent.Tlbi t = (IpiEvent.Tlbi) event;
                Shootdown sd = shootdown(t.shootdownId(), "Tlbi");
                sd.pendingCpus.merge(t.target(), 1, Integer::sum);
                issued(sd);
                yield true;
            }
            case TLB_FLUSHED -> {
                IpiEvent.TlbFlushed ack = (IpiEvent.TlbFlushed) event;
                ackCpu(ack.shootdownId(), ack.cpu(), "TlbFlushed");
                yield true;
            }
            case TLBI_COMPLETED -> {
                IpiEvent.TlbiCompleted ack = (IpiEvent.TlbiCompleted) event;
                ackCpu(ack.shootdownId(), ack.cpu(), "TlbiCompleted");
                yield true;
            }
            case SECONDARY_TLB_HOOK_CALLED -> {
                SecondaryTlbEvent.SecondaryTlbHookCalled h = (SecondaryTlbEvent.SecondaryTlbHookCalled) event;
                Shootdown sd = shootdown(h.shootdownId(), "SecondaryTlbHookCalled");
                sd.hookCalls.merge(h.caller(), 1, Integer::sum);
                if (h.caller().equals(TLBONLY)) {
                    if (sd.call != null) {
                        sd.call.notifierCalled = true;
                    }
                } else if (!h.caller().equals(RANGE_END) && !h.caller().equals(TRY_TO_UNMAP_ONE) && sd.call != null) {
                    sd.call.hookCalled = true; // the arch flush function's own hook
                }
                if (sd.folio != null) {
                    sd.folio.hooks.add(h.caller());
                }
                yield true;
            }
            case STALL_DETECTED -> {
                // The watchdog's report: the run ends after it; the shootdown stays as it is.
                yield true;
            }
            case KERNEL_OOPS -> {
                FaultEvent.KernelOops oops = (FaultEvent.KernelOops) event;
                shootdown(oops.shootdownId(), "KernelOops").oopsed = true;
                if (oops.comm().equals(KSWAPD_COMM)) {
                    kswapdDead = true;
                }
                yield true;
            }
            case INVALIDATE_SECONDARY_TLBS -> {
                SecondaryTlbEvent.InvalidateSecondaryTlbs r = (SecondaryTlbEvent.InvalidateSecondaryTlbs) event;
                shootdown(r.shootdownId(), "InvalidateSecondaryTlbs").pendingSecondary.add(
                        new Mm.Subscription(r.target(), r.pasid()).key());
                yield true;
            }
            case SECONDARY_TLBS_INVALIDATED -> {
                SecondaryTlbEvent.SecondaryTlbsInvalidated done = (SecondaryTlbEvent.SecondaryTlbsInvalidated) event;
                Shootdown sd = shootdowns.get(done.shootdownId());
                if (sd == null || !sd.pendingSecondary.remove(new Mm.Subscription(done.iommu(), done.pasid()).key())) {
                    throw new IllegalStateException("coordinator: unexpected SecondaryTlbsInvalidated from " + done.iommu()
                            + " for shootdown " + done.shootdownId());
                }
                yield true;
            }
            case FRAME_FREED -> {
                PageTableEvent.FrameFreed f = (PageTableEvent.FrameFreed) event;
                freeFrames.addFirst(f.frame());
                Shootdown sd = shootdowns.get(f.shootdownId());
                if (sd != null) {
                    sd.framesFreed++;
                }
                yield true;
            }
            case MEMORY_RECLAIM -> {
                SyscallEvent.MemoryReclaim w = (SyscallEvent.MemoryReclaim) event;
                memoryReclaims.put(w.cpu(), w.pages());
                yield true;
            }
            case MUNMAP_RETURNED, MPROTECT_RETURNED, MADVISE_RETURNED, MEMORY_RECLAIM_RETURNED -> {
                opsReturned++;
                deviceFaultsAfterOp.clear(); // the end condition counts from the last operation
                yield true;
            }
            case MMU_GATHER_FINISHED -> {
                PageTableEvent.MmuGatherFinished g = (PageTableEvent.MmuGatherFinished) event;
                shootdowns.remove(g.shootdownId());
                yield true;
            }
            case TLB_FLUSH_FINISHED -> {
                PageTableEvent.TlbFlushFinished t = (PageTableEvent.TlbFlushFinished) event;
                shootdowns.remove(t.shootdownId());
                yield true;
            }
            case SVA_BOUND -> {
                SecondaryTlbEvent.SvaBound b = (SecondaryTlbEvent.SvaBound) event;
                mm(b.mm()).notifiers.add(new Mm.Subscription(b.target(), b.pasid()));
                yield true;
            }
            case TASK_SCHEDULED -> {
                IpiEvent.TaskScheduled t = (IpiEvent.TaskScheduled) event;
                mm(t.mm()).cpumask.add(t.target());
                liveTasks.add(t.pid());
                lazyCpus.remove(t.target());
                yield true;
            }
            case TASK_EXITED -> {
                SyscallEvent.TaskExited e = (SyscallEvent.TaskExited) event;
                liveTasks.remove(e.pid());
                lazyCpus.add(e.cpu());
                yield true;
            }
            case PAGE_FAULT_RAISED -> {
                FaultEvent.PageFaultRaised f = (FaultEvent.PageFaultRaised) event;
                pendingFaults.put(waiterKey(f), f);
                yield true;
            }
            case DEVICE_FAULT_RAISED -> {
                FaultEvent.DeviceFaultRaised f = (FaultEvent.DeviceFaultRaised) event;
                pendingFaults.put(waiterKey(f), f);
                yield true;
            }
            case PAGE_FAULT_HANDLED -> {
                FaultEvent.PageFaultHandled h = (FaultEvent.PageFaultHandled) event;
                pendingFaults.remove("pid:" + h.pid());
                yield true;
            }
            case PAGE_RESPONSE_SENT -> {
                FaultEvent.PageResponseSent r = (FaultEvent.PageResponseSent) event;
                pendingFaults.remove("dev:" + r.device());
                if (opsReturned > 0) {
                    deviceFaultsAfterOp.merge(r.device(), 1, Integer::sum);
                }
                yield true;
            }
            case PAGE_WALK_COMPLETED, MEMORY_PRESSURE -> true; // answers and observations change nothing here
            // never the coordinator's own event, nor an input it keeps
            case SVA_UNBOUND, CMDQ_ISSUED, IOTLB_INVALIDATED, ATC_INVALIDATED, PAGE_WALK_REQUESTED, MUNMAP, MPROTECT,
                    MADVISE, MM_SWITCHED, TASK_STARTED, TASK_COMPUTED, TLB_FILLED, MEMORY_ACCESSED, PASID_BOUND, IOTLB_FILLED, ATC_FILLED,
                    DMA_COMPLETED, DMA_ABORTED, TRACE_MARKER, TRACE_IMPORTED, TIMER_FIRED, FAULT_INJECTED -> false;
        };
        if (!applied) {
            throw new IllegalStateException("coordinator: cannot apply " + event.getClass().getSimpleName());
        }
    }

    /** The first CPU-side event of an arch flush function: its IPIs, TLBIs or dsb(ish) are under way. */
    private static void issued(Shootdown sd) {
        if (sd.call != null) {
            sd.call.issued = true;
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
}
