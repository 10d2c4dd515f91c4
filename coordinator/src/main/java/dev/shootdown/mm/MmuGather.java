package dev.shootdown.mm;

import dev.shootdown.core.Decider;
import dev.shootdown.event.Callers;
import dev.shootdown.event.PageTableEvent;
import dev.shootdown.event.SyscallEvent;
import dev.shootdown.kernel.Site;
import java.util.List;

/**
 * mm/mmu_gather.c and include/asm-generic/tlb.h: the mmu_gather of a munmap or mprotect. Its
 * range grows as PTEs are cleared and page tables freed; tlb_flush_mmu_tlbonly flushes it
 * (tlb_flush, then in 6.5 mmu_notifier_invalidate_range over the same range) at the end of each
 * VMA (tlb_end_vma, unless the architecture merges VMAs) and in tlb_finish_mmu, whose
 * tlb_batch_pages_flush frees the gathered pages only after the flush.
 */
final class MmuGather {

    private final Linux k;

    MmuGather(Linux k) {
        this.k = k;
    }

    /** One step of the gather {@code sd}: its flush call, then the operation; false when it waits or is finished. */
    boolean step(Decider d, Shootdown sd) {
        if (sd.call != null) {
            ArchTlb.Progress call = k.arch().stepCall(d, sd);
            if (call != ArchTlb.Progress.DONE) {
                return call == ArchTlb.Progress.EMITTED; // step again, or wait
            }
            if (tlbonlyNotifier(d, sd)) {
                return true;
            }
        }
        return sd.caller.equals(Callers.MPROTECT) ? k.mprotect.step(d, sd) : k.mmap.step(d, sd);
    }

    /** The rest of tlb_flush_mmu_tlbonly once tlb_flush returned: the variant's hook over tlb->start, tlb->end. */
    boolean tlbonlyNotifier(Decider d, Shootdown sd) {
        Shootdown.Call c = sd.call;
        Site site = k.state.kernel.generic().tlbFlushMmuTlbonly();
        if (!c.caller.equals(MmState.TLBONLY) || !site.calls() || c.notifierCalled) {
            return false;
        }
        k.mmuNotifier.hook(d, sd, MmState.TLBONLY, site.hook(), c.mm, c.start, c.end);
        return true;
    }

    /**
     * tlb_flush_mmu_tlbonly: when the gather has something to flush (cleared PTEs, freed tables),
     * tlb_flush(tlb). True when it called a flush.
     */
    boolean tlbFlushMmuTlbonly(Decider d, Shootdown sd) {
        if (!sd.tlbHasRange) {
            return false;
        }
        k.arch().tlbFlush(d, sd);
        return true;
    }

    /** tlb_end_vma: flush at the end of each VMA, unless the architecture merges VMAs. True when it called a flush. */
    boolean tlbEndVma(Decider d, Shootdown sd) {
        return !k.arch().mergeVmas() && tlbFlushMmuTlbonly(d, sd);
    }

    /**
     * tlb_finish_mmu: flush what is left, then tlb_batch_pages_flush frees the gathered pages and
     * the system call returns. True while it waits on its flush; false once finished.
     */
    boolean tlbFinishMmu(Decider d, Shootdown sd) {
        if (tlbFlushMmuTlbonly(d, sd)) {
            return true;
        }
        for (Shootdown.Frame f : List.copyOf(sd.gathered)) {
            d.emit(new PageTableEvent.FrameFreed(f.frame(), f.epoch(), sd.id));
        }
        if (sd.caller.equals(Callers.MPROTECT)) {
            d.emit(new SyscallEvent.MprotectReturned(sd.cpu, sd.pid, sd.mm, sd.start, sd.end, 0));
        } else {
            d.emit(new SyscallEvent.MunmapReturned(sd.cpu, sd.pid, sd.mm, sd.start, sd.end, 0));
        }
        d.emit(new PageTableEvent.MmuGatherFinished(sd.id, sd.mm, sd.gathered.size()));
        return false;
    }
}
