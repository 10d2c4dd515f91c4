package dev.shootdown.mm;

import dev.shootdown.core.Decider;
import dev.shootdown.event.Access;
import dev.shootdown.event.Event;
import dev.shootdown.event.FaultEvent;
import dev.shootdown.event.Kernel;
import dev.shootdown.event.NodeIds;
import dev.shootdown.event.PageTableEvent;
import dev.shootdown.event.WalkEvent;

/**
 * mm/memory.c: handle_mm_fault for CPU and device faults (do_anonymous_page, do_swap_page,
 * do_wp_page -&gt; wp_page_reuse), mapping a new page with set_pte_at, and the hardware page
 * walk reading the page table.
 */
final class Memory {

    /** The IOPF handler is a workqueue item: a kernel thread, current->mm == NULL. */
    static final String IOPF_COMM = "kworker/iopf";

    /** Who runs a fault handler: the faulting task on its CPU, or the IOPF workqueue. */
    record Context(String cpu, String comm, int pid, long currentMm) {}

    private final Linux k;

    Memory(Linux k) {
        this.k = k;
    }

    /** The page allocator hands out a frame, and set_pte_at maps it. */
    void allocateAndMap(Decider d, long mm, long va, boolean writable) {
        long frame = k.pageAlloc.nextFrame();
        long epoch = k.state.frameEpochs.getOrDefault(frame, 0L) + 1;
        d.emit(new PageTableEvent.FrameAllocated(frame, epoch));
        d.emit(new PageTableEvent.PteSet(mm, va, frame, epoch, writable));
    }

    /** The hardware walker reads the PTE as it is now. */
    void servePageWalk(Decider d, WalkEvent.PageWalkRequested w) {
        Mm.Pte pte = k.state.mm(w.mm()).ptes.get(Kernel.pageAlign(w.va()));
        if (pte == null) {
            d.emit(new WalkEvent.PageWalkCompleted(w.requester(), w.stream(), w.mm(), w.pasid(), w.va(), false, -1, -1, false));
        } else {
            d.emit(new WalkEvent.PageWalkCompleted(w.requester(), w.stream(), w.mm(), w.pasid(), w.va(), true, pte.frame(),
                    pte.frameEpoch(), pte.writable()));
        }
    }

    /**
     * handle_mm_fault for the fault {@code key} waits on: exc_page_fault for a CPU, or
     * iommu_queue_iopf -&gt; iommu_sva_handle_mm for a device. A missing VMA, or a write to a
     * read-only VMA, is an error (SIGSEGV, or a page response INVALID). May wait on a flush or
     * on reclaim; it is then called again with {@code afterReclaim} once that finished.
     */
    void handleMmFault(Decider d, String key, boolean afterReclaim) {
        Event fault = k.state.pendingFaults.get(key);
        if (fault == null) {
            return;
        }
        if (!afterReclaim && fault instanceof FaultEvent.DeviceFaultRaised && k.ioPgfault.cpu() == null) {
            return; // the work item stays queued until a CPU can run it: IoPgfault.maybeRunQueued
        }
        long mmId = faultMm(fault);
        long va = Kernel.pageAlign(faultVa(fault));
        Access access = faultAccess(fault);
        Mm mm = k.state.mm(mmId);
        Mm.Vma vma = mm.findVma(va);
        if (vma == null || (access.isWrite() && !vma.writable())) {
            respond(d, key, false);
            return;
        }
        Mm.Pte pte = mm.ptes.get(va);
        if (pte == null) {
            // do_anonymous_page, or do_swap_page for a folio reclaim swapped out: a new frame.
            if (k.state.scenario.memory().limited() && !k.pageAlloc.maybeAllocateUnderPressure(d, key, afterReclaim)) {
                return;
            }
            allocateAndMap(d, mmId, va, vma.writable());
            respond(d, key, true);
        } else if (access.isWrite() && !pte.writable()) {
            // do_wp_page -> wp_page_reuse: the folio is ours alone, make the PTE writable.
            k.arch().ptepSetAccessFlags(d, key, mmId, va, pte);
        } else {
            // Spurious: the PTE already allows it. flush_tlb_fix_spurious_fault is a no-op on
            // x86 and arm64 alike; the fault is simply answered.
            respond(d, key, true);
        }
    }

    Context faultContext(Event fault) {
        if (fault instanceof FaultEvent.PageFaultRaised f) {
            return new Context(f.cpu(), "task" + f.pid(), f.pid(), f.mm());
        }
        String cpu = k.ioPgfault.cpu();
        return new Context(cpu == null ? NodeIds.cpu(0) : cpu, IOPF_COMM, -1, 0);
    }

    /** Answers the fault {@code key} waits on: RETRY / SUCCESS when {@code ok}. */
    void respond(Decider d, String key, boolean ok) {
        Event fault = k.state.pendingFaults.get(key);
        if (fault instanceof FaultEvent.PageFaultRaised f) {
            d.emit(new FaultEvent.PageFaultHandled(f.cpu(), f.pid(), f.mm(), f.va(),
                    ok ? FaultEvent.FaultResult.RETRY : FaultEvent.FaultResult.SIGSEGV));
        } else if (fault instanceof FaultEvent.DeviceFaultRaised f) {
            d.emit(new FaultEvent.PageResponseSent(f.iommu(), f.device(), f.pasid(), f.va(),
                    ok ? FaultEvent.PageResponseCode.SUCCESS : FaultEvent.PageResponseCode.INVALID));
        }
    }

    /** The task waiting on {@code key}, if any, is killed (a simulated oops, or the OOM killer). */
    void killWaiter(Decider d, String key) {
        if (k.state.pendingFaults.get(key) instanceof FaultEvent.PageFaultRaised f) {
            d.emit(new FaultEvent.PageFaultHandled(f.cpu(), f.pid(), f.mm(), f.va(), FaultEvent.FaultResult.KILLED));
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
}
