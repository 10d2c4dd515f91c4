package dev.shootdown.mm;

import dev.shootdown.core.Decider;
import dev.shootdown.event.PageTableEvent;
import dev.shootdown.event.SyscallEvent;
import java.util.List;

/**
 * mm/mmu_gather.c and include/asm-generic/tlb.h: the mmu_gather of a munmap or mprotect,
 * flushed in tlb_finish_mmu, whose gathered pages tlb_batch_pages_flush frees only after the
 * flush completed.
 */
final class MmuGather {

    private final Linux k;

    MmuGather(Linux k) {
        this.k = k;
    }

    /** One step of the gather {@code sd}; false when it now waits on CPUs or is finished. */
    boolean step(Decider d, Shootdown sd) {
        if (sd.ptesChanged == 0) {
            finish(d, sd); // nothing was mapped: tlb_flush_mmu has no range to flush
            return false;
        }
        if (k.state.variant == KernelVariant.LINUX_6_5 && !sd.hookCallers.contains("mmu_notifier_invalidate_range_end")) {
            // unmap_vmas / change_pmd_range end with mmu_notifier_invalidate_range_end, before tlb_finish_mmu.
            k.mmuNotifier.call(d, sd, "mmu_notifier_invalidate_range_end", sd.mm, sd.start, sd.end);
            return true;
        }
        if (!sd.cpuFlushIssued) {
            k.arch().tlbFlush(d, sd);
            return true;
        }
        if (!sd.pendingCpus.isEmpty()) {
            return false;
        }
        if (k.arch().afterTlbFlush(d, sd)) {
            return true;
        }
        finish(d, sd);
        return false;
    }

    /** tlb_finish_mmu -&gt; tlb_batch_pages_flush: free the gathered pages; then the syscall returns. */
    private void finish(Decider d, Shootdown sd) {
        for (Shootdown.Frame f : List.copyOf(sd.gathered)) {
            d.emit(new PageTableEvent.FrameFreed(f.frame(), f.epoch(), sd.id));
        }
        if (sd.caller.equals("mprotect")) {
            d.emit(new SyscallEvent.MprotectReturned(sd.cpu, sd.pid, sd.mm, sd.start, sd.end, 0));
        } else {
            d.emit(new SyscallEvent.MunmapReturned(sd.cpu, sd.pid, sd.mm, sd.start, sd.end, 0));
        }
        d.emit(new PageTableEvent.MmuGatherFinished(sd.id, sd.mm, sd.gathered.size()));
    }
}
