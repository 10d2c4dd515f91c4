package dev.shootdown.mm;

import dev.shootdown.core.Decider;
import dev.shootdown.core.Decision;
import dev.shootdown.core.Lifecycle;
import dev.shootdown.core.NodeStateMachine;
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
 * mm_cpumask and mmu_notifier subscriptions; the page allocator; the fault handlers; and the TLB
 * flush policy. The flush policy is x86 as merged in Linux 6.6: {@code flush_tlb_mm_range}
 * (arch/x86/mm/tlb.c) bumps tlb_gen, IPIs every CPU in mm_cpumask, waits for them, and then
 * calls {@code mmu_notifier_arch_invalidate_secondary_tlbs(mm, start, end)}; pages gathered by
 * the mmu_gather (mm/mmu_gather.c) are freed only after both.
 *
 * <p>A shootdown, as this node runs it:
 * <pre>
 *   MmuGatherStarted -&gt; PteCleared* -&gt; MmTlbGenIncremented -&gt; FlushTlb* (IPIs)
 *     --all TlbFlushed--&gt; InvalidateSecondaryTlbs* (the 6.6 hook)
 *     --all SecondaryTlbsInvalidated--&gt; FrameFreed* -&gt; MunmapReturned -&gt; MmuGatherFinished
 * </pre>
 *
 * <p>The acknowledgements it waits for (TlbFlushed, SecondaryTlbsInvalidated) are applied to
 * its state as inputs; everything else changes through its own events.
 *
 * <p>Thread: the host's node thread. Time: simulated nanoseconds.
 */
public final class Coordinator implements NodeStateMachine {

    /** tlb_single_page_flush_ceiling (arch/x86/mm/tlb.c): above it, flush the whole mm. */
    static final long TLB_SINGLE_PAGE_FLUSH_CEILING = 33;
    /** The first page frame number the page allocator hands out. */
    static final long FIRST_PFN = 0x1000;

    private record Vma(long start, long end, boolean writable) {}

    private record Pte(long frame, long frameEpoch, boolean writable) {}

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

        Mm(long id) {
            this.id = id;
        }

        Vma findVma(long va) {
            var e = vmas.floorEntry(va);
            return e != null && Long.compareUnsigned(va, e.getValue().end()) < 0 ? e.getValue() : null;
        }
    }

    /** One mmu_gather in flight: what it cleared, what it waits for, what it will free. */
    private static final class Shootdown {
        final long id;
        final long mm;
        final long start;
        final long end;
        final String cpu;
        final int pid;
        final List<Frame> gathered = new ArrayList<>();
        final Set<String> pendingCpus = new TreeSet<>();
        final Set<String> pendingSecondary = new TreeSet<>();
        long flushStart;
        long flushEnd;
        boolean secondaryIssued;

        Shootdown(long id, long mm, long start, long end, String cpu, int pid) {
            this.id = id;
            this.mm = mm;
            this.start = start;
            this.end = end;
            this.cpu = cpu;
            this.pid = pid;
        }
    }

    private Lifecycle lifecycle = Lifecycle.CREATED;
    private Scenario scenario;
    private final Map<Long, Mm> mms = new TreeMap<>();
    private final TreeSet<Long> freeFrames = new TreeSet<>();
    private final Map<Long, Long> frameEpochs = new HashMap<>();
    private long nextPfn = FIRST_PFN;
    private final Map<Long, Shootdown> shootdowns = new LinkedHashMap<>();
    private long nextShootdownId = 1;
    private final Set<Integer> liveTasks = new TreeSet<>();
    private int munmapsReturned;
    private final Map<String, Integer> deviceFaultsAfterMunmap = new TreeMap<>();

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

    /** The run's start, the acknowledgements a shootdown waits for, and task exits. */
    @Override
    public boolean keepsInput(Event input) {
        return input instanceof ControlEvent.RunStarted || input instanceof IpiEvent.TlbFlushed
                || input instanceof SecondaryTlbEvent.SecondaryTlbsInvalidated || input instanceof SyscallEvent.TaskExited;
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
        } else if (input instanceof WalkEvent.PageWalkRequested walk) {
            servePageWalk(d, walk);
        } else if (input instanceof FaultEvent.PageFaultRaised fault) {
            excPageFault(d, fault);
        } else if (input instanceof FaultEvent.DeviceFaultRaised fault) {
            iommuQueueIopf(d, fault);
        } else if (input instanceof SyscallEvent.Munmap munmap) {
            doVmiMunmap(d, munmap);
        } else if (input instanceof SyscallEvent.TaskExited exited) {
            evolve(exited); // do_exit: the task is gone; its mm lives on while other users hold it
        } else if (input instanceof IpiEvent.TlbFlushed ack) {
            evolve(ack);
            maybeCallSecondaryHook(d, shootdowns.get(ack.shootdownId()));
        } else if (input instanceof SecondaryTlbEvent.SecondaryTlbsInvalidated done) {
            evolve(done);
            maybeFinishMmuGather(d, shootdowns.get(done.shootdownId()));
        }
        maybeCompleteRun(d);
        return d.decision();
    }

    /** Builds the scenario's machine state: address spaces, populated VMAs, SVA binds, tasks. */
    private void boot(Decider d, Scenario s) {
        for (Scenario.MmSpec spec : s.mms()) {
            d.emit(new PageTableEvent.MmCreated(spec.mm()));
            for (Scenario.VmaSpec vma : spec.vmas()) {
                long end = vma.start() + vma.pages() * Kernel.PAGE_SIZE;
                d.emit(new PageTableEvent.VmaMapped(spec.mm(), vma.start(), end, vma.writable()));
                if (vma.populate()) {
                    for (long va = vma.start(); va < end; va += Kernel.PAGE_SIZE) {
                        doAnonymousPage(d, spec.mm(), va, vma.writable());
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

    /** do_anonymous_page: allocate a zeroed frame and map it. */
    private void doAnonymousPage(Decider d, long mm, long va, boolean writable) {
        long frame = freeFrames.isEmpty() ? nextPfn : freeFrames.first();
        long epoch = frameEpochs.getOrDefault(frame, 0L) + 1;
        d.emit(new PageTableEvent.FrameAllocated(frame, epoch));
        d.emit(new PageTableEvent.PteSet(mm, va, frame, epoch, writable));
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

    /**
     * handle_mm_fault for an access to {@code va}: true when the access may be retried. A missing
     * VMA, or a write to a read-only VMA, is an error (SIGSEGV for a CPU, INVALID for a device).
     */
    private boolean handleMmFault(Decider d, long mmId, long va, Access access) {
        Mm mm = mm(mmId);
        Vma vma = mm.findVma(va);
        if (vma == null || (access.isWrite() && !vma.writable())) {
            return false;
        }
        if (!mm.ptes.containsKey(Kernel.pageAlign(va))) {
            doAnonymousPage(d, mmId, Kernel.pageAlign(va), vma.writable());
        }
        return true;
    }

    /** exc_page_fault -> handle_mm_fault, for a CPU's user access. */
    private void excPageFault(Decider d, FaultEvent.PageFaultRaised f) {
        boolean ok = handleMmFault(d, f.mm(), f.va(), f.access());
        d.emit(new FaultEvent.PageFaultHandled(f.cpu(), f.pid(), f.mm(), f.va(),
                ok ? FaultEvent.FaultResult.RETRY : FaultEvent.FaultResult.SIGSEGV));
    }

    /** iommu_queue_iopf -> iommu_sva_handle_mm -> handle_mm_fault, then the page response. */
    private void iommuQueueIopf(Decider d, FaultEvent.DeviceFaultRaised f) {
        boolean ok = handleMmFault(d, f.mm(), f.va(), f.access());
        d.emit(new FaultEvent.PageResponseSent(f.iommu(), f.device(), f.pasid(), f.va(),
                ok ? FaultEvent.PageResponseCode.SUCCESS : FaultEvent.PageResponseCode.INVALID));
    }

    /**
     * do_vmi_munmap -> unmap_region: detach the VMAs, zap the PTEs into an mmu_gather, then
     * tlb_finish_mmu: flush, and free the gathered pages once every flush completed.
     */
    private void doVmiMunmap(Decider d, SyscallEvent.Munmap m) {
        long id = nextShootdownId;
        d.emit(new PageTableEvent.MmuGatherStarted(id, m.mm(), m.start(), m.end(), "munmap", m.cpu(), m.pid()));
        d.emit(new PageTableEvent.VmaUnmapped(m.mm(), m.start(), m.end()));
        Mm mm = mm(m.mm());
        for (var e : new ArrayList<>(mm.ptes.subMap(m.start(), m.end()).entrySet())) {
            Pte pte = e.getValue();
            d.emit(new PageTableEvent.PteCleared(m.mm(), e.getKey(), pte.frame(), pte.frameEpoch(), id));
        }
        Shootdown sd = shootdowns.get(id);
        if (sd.gathered.isEmpty()) {
            finishMmuGather(d, sd); // nothing was mapped: tlb_flush_mmu has no range to flush
        } else {
            flushTlbMmRange(d, sd, m.start(), m.end(), false);
        }
    }

    /** arch/x86/mm/tlb.c: flush_tlb_mm_range, the CPU half; the secondary hook follows the acks. */
    private void flushTlbMmRange(Decider d, Shootdown sd, long start, long end, boolean freedTables) {
        Mm mm = mm(sd.mm);
        if (end == Kernel.TLB_FLUSH_ALL || (end - start) / Kernel.PAGE_SIZE > TLB_SINGLE_PAGE_FLUSH_CEILING) {
            start = 0;
            end = Kernel.TLB_FLUSH_ALL;
        }
        long newTlbGen = mm.tlbGen + 1;
        d.emit(new PageTableEvent.MmTlbGenIncremented(sd.mm, newTlbGen, start, end, sd.id));
        for (String cpu : List.copyOf(mm.cpumask)) {
            d.emit(new IpiEvent.FlushTlb(cpu, sd.mm, start, end, newTlbGen, newTlbGen, !cpu.equals(sd.cpu), freedTables,
                    sd.id));
        }
        maybeCallSecondaryHook(d, sd);
    }

    /**
     * Linux 6.6: once flush_tlb_multi returned, flush_tlb_mm_range calls
     * mmu_notifier_arch_invalidate_secondary_tlbs(mm, start, end) for every notifier of the mm.
     */
    private void maybeCallSecondaryHook(Decider d, Shootdown sd) {
        if (sd == null || !sd.pendingCpus.isEmpty() || sd.secondaryIssued) {
            return;
        }
        Mm mm = mm(sd.mm);
        for (Subscription sub : mm.notifiers) {
            d.emit(new SecondaryTlbEvent.InvalidateSecondaryTlbs(sub.iommu(), sd.mm, sub.pasid(), sd.flushStart, sd.flushEnd,
                    sd.id));
        }
        if (mm.notifiers.isEmpty()) {
            finishMmuGather(d, sd);
        }
    }

    private void maybeFinishMmuGather(Decider d, Shootdown sd) {
        if (sd != null && sd.secondaryIssued && sd.pendingSecondary.isEmpty()) {
            finishMmuGather(d, sd);
        }
    }

    /** tlb_batch_pages_flush: free the gathered pages; then the syscall returns. */
    private void finishMmuGather(Decider d, Shootdown sd) {
        for (Frame f : List.copyOf(sd.gathered)) {
            d.emit(new PageTableEvent.FrameFreed(f.frame(), f.epoch(), sd.id));
        }
        d.emit(new SyscallEvent.MunmapReturned(sd.cpu, sd.pid, sd.mm, sd.start, sd.end, 0));
        d.emit(new PageTableEvent.MmuGatherFinished(sd.id, sd.mm, sd.gathered.size()));
    }

    /** The scenario's end: all tasks done, no shootdown in flight, every device seen faulting. */
    private void maybeCompleteRun(Decider d) {
        if (lifecycle != Lifecycle.RUNNING || !liveTasks.isEmpty() || !shootdowns.isEmpty() || munmapsReturned == 0) {
            return;
        }
        for (Scenario.DeviceSpec dev : scenario.devices()) {
            if (deviceFaultsAfterMunmap.getOrDefault(dev.id(), 0) < scenario.end().deviceFaults()) {
                return;
            }
        }
        d.emit(new ControlEvent.RunCompleted("every task finished and every device faulted on the unmapped range "
                + scenario.end().deviceFaults() + " times"));
        d.emit(new ControlEvent.NodeQuiesced(NodeIds.CONTROL, NodeIds.COORDINATOR));
    }

    private Mm mm(long id) {
        Mm mm = mms.get(id);
        if (mm == null) {
            throw new IllegalStateException("coordinator: no mm " + id);
        }
        return mm;
    }

    @Override
    public void evolve(Event event) {
        if (event instanceof ControlEvent.RunStarted started) {
            lifecycle = lifecycle.transitionTo(Lifecycle.RUNNING, NodeIds.COORDINATOR);
            scenario = started.scenario();
        } else if (event instanceof ControlEvent.RunCompleted) {
            // The NodeQuiesced that follows moves the lifecycle.
        } else if (event instanceof ControlEvent.NodeQuiesced) {
            lifecycle = lifecycle.transitionTo(Lifecycle.QUIESCED, NodeIds.COORDINATOR);
        } else if (event instanceof PageTableEvent.MmCreated c) {
            mms.put(c.mm(), new Mm(c.mm()));
        } else if (event instanceof PageTableEvent.VmaMapped v) {
            mm(v.mm()).vmas.put(v.start(), new Vma(v.start(), v.end(), v.writable()));
        } else if (event instanceof PageTableEvent.VmaUnmapped v) {
            unmapVmas(mm(v.mm()), v.start(), v.end());
        } else if (event instanceof PageTableEvent.FrameAllocated f) {
            freeFrames.remove(f.frame());
            frameEpochs.put(f.frame(), f.epoch());
            nextPfn = Math.max(nextPfn, f.frame() + 1);
        } else if (event instanceof PageTableEvent.PteSet p) {
            mm(p.mm()).ptes.put(p.va(), new Pte(p.frame(), p.frameEpoch(), p.writable()));
        } else if (event instanceof PageTableEvent.MmuGatherStarted g) {
            shootdowns.put(g.shootdownId(), new Shootdown(g.shootdownId(), g.mm(), g.start(), g.end(), g.cpu(), g.pid()));
            nextShootdownId = Math.max(nextShootdownId, g.shootdownId() + 1);
        } else if (event instanceof PageTableEvent.PteCleared p) {
            mm(p.mm()).ptes.remove(p.va());
            shootdowns.get(p.shootdownId()).gathered.add(new Frame(p.frame(), p.frameEpoch()));
        } else if (event instanceof PageTableEvent.MmTlbGenIncremented g) {
            mm(g.mm()).tlbGen = g.tlbGen();
            Shootdown sd = shootdowns.get(g.shootdownId());
            sd.flushStart = g.start();
            sd.flushEnd = g.end();
        } else if (event instanceof IpiEvent.FlushTlb f) {
            shootdowns.get(f.shootdownId()).pendingCpus.add(f.target());
        } else if (event instanceof IpiEvent.TlbFlushed ack) {
            Shootdown sd = shootdowns.get(ack.shootdownId());
            if (sd == null || !sd.pendingCpus.remove(ack.cpu())) {
                throw new IllegalStateException("coordinator: unexpected TlbFlushed from " + ack.cpu() + " for shootdown "
                        + ack.shootdownId());
            }
        } else if (event instanceof SecondaryTlbEvent.InvalidateSecondaryTlbs r) {
            Shootdown sd = shootdowns.get(r.shootdownId());
            sd.secondaryIssued = true;
            sd.pendingSecondary.add(new Subscription(r.target(), r.pasid()).key());
        } else if (event instanceof SecondaryTlbEvent.SecondaryTlbsInvalidated done) {
            Shootdown sd = shootdowns.get(done.shootdownId());
            if (sd == null || !sd.pendingSecondary.remove(new Subscription(done.iommu(), done.pasid()).key())) {
                throw new IllegalStateException("coordinator: unexpected SecondaryTlbsInvalidated from " + done.iommu()
                        + " for shootdown " + done.shootdownId());
            }
        } else if (event instanceof PageTableEvent.FrameFreed f) {
            freeFrames.add(f.frame());
        } else if (event instanceof SyscallEvent.MunmapReturned) {
            munmapsReturned++;
            deviceFaultsAfterMunmap.clear(); // the end condition counts from the last munmap
        } else if (event instanceof PageTableEvent.MmuGatherFinished g) {
            shootdowns.remove(g.shootdownId());
        } else if (event instanceof SecondaryTlbEvent.SvaBound b) {
            mm(b.mm()).notifiers.add(new Subscription(b.target(), b.pasid()));
        } else if (event instanceof IpiEvent.TaskScheduled t) {
            mm(t.mm()).cpumask.add(t.target());
            liveTasks.add(t.pid());
        } else if (event instanceof SyscallEvent.TaskExited e) {
            liveTasks.remove(e.pid());
        } else if (event instanceof FaultEvent.PageResponseSent r) {
            if (munmapsReturned > 0) {
                deviceFaultsAfterMunmap.merge(r.device(), 1, Integer::sum);
            }
        } else if (event instanceof WalkEvent.PageWalkCompleted || event instanceof FaultEvent.PageFaultHandled) {
            // Answers change nothing here.
        } else {
            throw new IllegalStateException("coordinator: cannot apply " + event.getClass().getSimpleName());
        }
    }

    private static void unmapVmas(Mm mm, long start, long end) {
        for (Vma vma : List.copyOf(mm.vmas.values())) {
            if (Long.compareUnsigned(vma.end(), start) <= 0 || Long.compareUnsigned(vma.start(), end) >= 0) {
                continue;
            }
            mm.vmas.remove(vma.start());
            if (Long.compareUnsigned(vma.start(), start) < 0) {
                mm.vmas.put(vma.start(), new Vma(vma.start(), start, vma.writable()));
            }
            if (Long.compareUnsigned(vma.end(), end) > 0) {
                mm.vmas.put(end, new Vma(end, vma.end(), vma.writable()));
            }
        }
    }
}
