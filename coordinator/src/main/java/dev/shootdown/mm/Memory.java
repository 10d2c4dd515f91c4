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

    /**
     * mm/memory.c free_pgtables after unmap_vmas: the page tables of the detached VMAs that no
     * other VMA needs, between the VMA before them (floor) and the one after (ceiling); nearby
     * VMAs are freed in one call (within PMD_SIZE of each other).
     */
    void freePgtables(Decider d, Shootdown sd) {
        Mm mm = k.state.mm(sd.mm);
        long first = sd.detached.get(0).start();
        long last = sd.detached.get(sd.detached.size() - 1).end();
        var prev = mm.vmas.lowerEntry(first);
        var next = mm.vmas.ceilingEntry(last);
        long floor = prev == null ? 0 : prev.getValue().end(); // FIRST_USER_ADDRESS
        long ceiling = next == null ? 0 : next.getValue().start(); // USER_PGTABLES_CEILING
        int i = 0;
        while (i < sd.detached.size()) {
            long addr = sd.detached.get(i).start();
            Mm.Vma vma = sd.detached.get(i);
            while (i + 1 < sd.detached.size() && sd.detached.get(i + 1).start() <= vma.end() + Mm.Level.PTE.span()) {
                vma = sd.detached.get(++i);
            }
            i++;
            long groupCeiling = i < sd.detached.size() ? sd.detached.get(i).start() : ceiling;
            freePgdRange(d, sd, mm, addr, vma.end(), floor, groupCeiling);
        }
    }

    /**
     * free_pgd_range: the PTE tables (2 MiB each) of [addr, end) whose whole span lies within
     * [floor, ceiling), then the PMD tables (1 GiB) and PUD tables (512 GiB) whose whole span does;
     * a ceiling of 0 means the top of the address space. The comparisons are the kernel's,
     * unsigned, with its off-by-one forms.
     */
    private void freePgdRange(Decider d, Shootdown sd, Mm mm, long addr, long end, long floor, long ceiling) {
        long pmdSize = Mm.Level.PTE.span();
        addr &= -pmdSize;
        if (Long.compareUnsigned(addr, floor) < 0) {
            addr += pmdSize;
            if (addr == 0) {
                return;
            }
        }
        if (ceiling != 0) {
            ceiling &= -pmdSize;
            if (ceiling == 0) {
                return;
            }
        }
        if (Long.compareUnsigned(end - 1, ceiling - 1) > 0) {
            end -= pmdSize;
        }
        if (Long.compareUnsigned(addr, end - 1) > 0) {
            return;
        }
        for (long a = addr, next; a != end; a = next) {
            next = addrEnd(a, end, Mm.Level.PUD);
            if (mm.tables.get(Mm.Level.PUD).contains(Mm.Level.PUD.base(a))) {
                freeTables(d, sd, mm, a, next, floor, ceiling, Mm.Level.PUD);
            }
        }
    }

    /**
     * free_pud_range (level PUD) and free_pmd_range (level PMD): free the tables below each entry
     * of this level's table in [addr, end), then this table itself when its whole span lies within
     * [floor, ceiling) (pud_free_tlb, pmd_free_tlb; free_pte_range for the PTE tables below a PMD).
     */
    private void freeTables(Decider d, Shootdown sd, Mm mm, long addr, long end, long floor, long ceiling, Mm.Level level) {
        Mm.Level below = level == Mm.Level.PUD ? Mm.Level.PMD : Mm.Level.PTE;
        for (long a = addr, next; a != end; a = next) {
            next = addrEnd(a, end, below);
            if (mm.tables.get(below).contains(below.base(a))) {
                if (below == Mm.Level.PTE) {
                    d.emit(new PageTableEvent.PageTableFreed(mm.id, Mm.Level.PTE.label, a, sd.id)); // free_pte_range
                } else {
                    freeTables(d, sd, mm, a, next, floor, ceiling, below);
                }
            }
        }
        long start = level.base(addr);
        if (Long.compareUnsigned(start, floor) < 0) {
            return;
        }
        if (ceiling != 0) {
            ceiling = level.base(ceiling);
            if (ceiling == 0) {
                return;
            }
        }
        if (Long.compareUnsigned(end - 1, ceiling - 1) > 0) {
            return;
        }
        d.emit(new PageTableEvent.PageTableFreed(mm.id, level.label, start, sd.id));
    }

    /** pgd_addr_end and kin: the end of {@code a}'s entry at {@code level}, or {@code end} if sooner. */
    private static long addrEnd(long a, long end, Mm.Level level) {
        long boundary = (a + level.span()) & -level.span();
        return Long.compareUnsigned(boundary - 1, end - 1) < 0 ? boundary : end;
    }

    /**
     * flush_tlb_page from ptep_set_access_flags (arm64), resumed: once it returned, the fault is
     * answered. False when it waits or is finished.
     */
    boolean stepFlushPage(Decider d, Shootdown sd) {
        ArchTlb.Progress call = k.arch().stepCall(d, sd);
        if (call != ArchTlb.Progress.DONE) {
            return call == ArchTlb.Progress.EMITTED; // step again, or wait
        }
        d.emit(new PageTableEvent.TlbFlushFinished(sd.id, 0));
        respond(d, sd.waiter, true);
        return false;
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
