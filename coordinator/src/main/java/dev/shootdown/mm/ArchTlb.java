package dev.shootdown.mm;

import dev.shootdown.core.Decider;
import dev.shootdown.event.PageTableEvent;
import dev.shootdown.kernel.Hook;
import dev.shootdown.kernel.Rules;

/**
 * What the generic mm code calls in an architecture's TLB code (arch/x86/mm/tlb.c,
 * arch/arm64/include/asm/tlbflush.h), and the shape every arch flush function shares: entered
 * ({@code tlb-flush-called}), its hook where the kernel variant puts it (before the flush, after
 * the IPIs or TLBIs are sent but before waiting for them, or once every CPU flushed), its CPU side
 * issued, then waited for. Where the hook sits and what it is passed come from the run's kernel
 * variant; which flush each function does is this class's subclasses.
 */
abstract class ArchTlb {

    /** What one step of a flush call did. */
    enum Progress {
        /** it emitted events; step again. */
        EMITTED,
        /** it waits for IPI acknowledgements, TLBI completions or the hook. */
        WAITING,
        /** the function returned. */
        DONE
    }

    /** The hook an arch function calls: the call site's name and the variant's rule for it. */
    record HookSite(String caller, Hook hook) {}

    protected final Linux k;

    ArchTlb(Linux k) {
        this.k = k;
    }

    /** tlb_flush(tlb), from tlb_flush_mmu_tlbonly: flush the mmu_gather's range. */
    abstract void tlbFlush(Decider d, Shootdown sd);

    /** flush_tlb_page(vma, uaddr) of {@code mm}, called by {@code caller}. */
    abstract void flushTlbPage(Decider d, Shootdown sd, String caller, long mm, long va);

    /** arch_flush_tlb_batched_pending(mm); true when it called a flush the caller must wait for. */
    abstract boolean archFlushTlbBatchedPending(Decider d, Shootdown sd, long mm);

    /** The variant's arch_tlbbatch_should_defer rule for this architecture. */
    abstract Rules.ShouldDefer shouldDeferRule();

    /** arch_tlbbatch_should_defer(mm), for reclaim running on {@code sd}'s CPU, as the variant's rule says. */
    final boolean archTlbbatchShouldDefer(Shootdown sd, long mm) {
        return switch (shouldDeferRule().defer()) {
            case IF_OTHER_CPU -> anyBut(k.state.mm(mm).cpumask, sd.cpu);
            case ALWAYS -> true;
            case NEVER -> false;
        };
    }

    /** arch_tlbbatch_add_pending(batch, mm, uaddr) for the page at {@code va}. */
    abstract void archTlbbatchAddPending(Decider d, Shootdown sd, long mm, long va);

    /** arch_tlbbatch_flush(batch), from try_to_unmap_flush (called by {@code caller}: it, or try_to_unmap_flush_dirty). */
    abstract void archTlbbatchFlush(Decider d, Shootdown sd, String caller);

    /** ptep_set_access_flags on a write fault: make the PTE writable, and flush if this architecture does. */
    abstract void ptepSetAccessFlags(Decider d, String key, long mm, long va, Mm.Pte pte);

    /** Kconfig MMU_GATHER_MERGE_VMAS: tlb_end_vma leaves the flush to tlb_finish_mmu. */
    abstract boolean mergeVmas();

    /** Whether the initiator of a flush waits for other CPUs' IPI handlers (csd_lock_wait). */
    abstract boolean waitsForIpis();

    /** The hook {@code c}'s function calls, or null when it calls none. */
    abstract HookSite hookOf(Shootdown.Call c);

    /** The mm's start and end variables where {@code c}'s hook is called ({@code at}), as the hook reads them. */
    abstract long[] hookRange(Shootdown.Call c, Hook hook);

    /** Sends the CPU side of {@code c}: IPIs, TLBIs, or the dsb(ish) that waits for earlier ones. */
    abstract void issue(Decider d, Shootdown sd, Shootdown.Call c);

    /** Enters an arch flush function: the tlb-flush-called event that {@link #stepCall} then drives. */
    final void call(Decider d, Shootdown sd, String caller, String function, long mm, long start, long end, int strideShift,
            boolean freedTables) {
        d.emit(new PageTableEvent.TlbFlushCalled(sd.id, sd.cpu, caller, function, mm, start, end, strideShift, freedTables));
    }

    /** One step of {@code sd}'s arch flush call. */
    Progress stepCall(Decider d, Shootdown sd) {
        Shootdown.Call c = sd.call;
        HookSite h = hookOf(c);
        Hook.Position at = h == null ? null : h.hook().at();
        if (at == Hook.Position.BEFORE_FLUSH && !c.hookCalled) {
            callHook(d, sd, c, h);
            return Progress.EMITTED;
        }
        if (!c.issued) {
            issue(d, sd, c);
            if (at == Hook.Position.BEFORE_WAIT && !c.hookCalled) {
                callHook(d, sd, c, h);
            }
            return Progress.EMITTED;
        }
        if (!sd.pendingCpus.isEmpty()) {
            return Progress.WAITING;
        }
        if (h != null && !c.hookCalled) {
            callHook(d, sd, c, h);
            return Progress.EMITTED;
        }
        return Progress.DONE;
    }

    private void callHook(Decider d, Shootdown sd, Shootdown.Call c, HookSite h) {
        long[] range = hookRange(c, h.hook());
        k.mmuNotifier.hook(d, sd, h.caller(), h.hook(), c.mm, range[0], range[1]);
    }

    /** The CPUs of {@code mask}: does any other than {@code cpu} hold the mm (cpumask_any_but < nr_cpu_ids)? */
    static boolean anyBut(java.util.Set<String> mask, String cpu) {
        for (String c : mask) {
            if (!c.equals(cpu)) {
                return true;
            }
        }
        return false;
    }

    /** round_down(v, size) and round_up(v, size) for a power of two. */
    static long roundDown(long v, long size) {
        return v & -size;
    }

    static long roundUp(long v, long size) {
        return (v + size - 1) & -size;
    }
}
