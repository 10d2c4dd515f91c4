package dev.shootdown.mm;

import dev.shootdown.core.Decider;
import dev.shootdown.event.FaultEvent;
import dev.shootdown.event.Kernel;
import dev.shootdown.event.SecondaryTlbEvent;
import dev.shootdown.kernel.Hook;

/**
 * include/linux/mmu_notifier.h and mm/mmu_notifier.c: the secondary-TLB hook,
 * mmu_notifier_arch_invalidate_secondary_tlbs(mm, start, end) (6.6) or
 * mmu_notifier_invalidate_range (6.5, the invalidate_range callback): if mm_has_notifiers(mm),
 * each notifier's callback, which returns once its IOMMU's invalidation completed. The kernel
 * variant names it and says where it is called; mm_has_notifiers dereferences mm, so a NULL mm
 * oopses.
 */
final class MmuNotifier {

    private final Linux k;

    MmuNotifier(Linux k) {
        this.k = k;
    }

    /**
     * The hook at call site {@code caller} as {@code h} calls it: the site's {@code mm} or
     * current->mm, and its {@code start} and {@code end} (as its variables hold them there) or the
     * constants 0 and -1UL.
     */
    void hook(Decider d, Shootdown sd, String caller, Hook h, long mm, long start, long end) {
        long mmArg = h.mm() == Hook.HookMm.MM ? mm : sd.currentMm;
        call(d, sd, caller, mmArg, bound(h.start(), start, end), bound(h.end(), start, end));
    }

    private static long bound(Hook.Bound b, long start, long end) {
        return switch (b) {
            case START -> start;
            case END -> end;
            case ZERO -> 0;
            case ALL -> Kernel.TLB_FLUSH_ALL;
        };
    }

    /** The hook, called by {@code caller} for {@code mmId} (0: NULL) and [start, end). */
    private void call(Decider d, Shootdown sd, String caller, long mmId, long start, long end) {
        Mm mm = mmId == 0 ? null : k.state.mm(mmId);
        d.emit(new SecondaryTlbEvent.SecondaryTlbHookCalled(sd.cpu, caller, k.state.kernel.hook(), mmId, start, end,
                mm == null ? 0 : mm.notifiers.size(), sd.id));
        if (mm == null) {
            d.emit(new FaultEvent.KernelOops(sd.cpu, sd.comm, sd.pid, "mm_has_notifiers", caller, 0,
                    "BUG: kernel NULL pointer dereference: mm_has_notifiers(mm == NULL) in " + caller + " called with current->mm of "
                            + sd.comm + ", a kernel thread",
                    sd.id));
            k.memory.killWaiter(d, sd.waiter); // the oops kills the task that was reclaiming for its page fault
            return;
        }
        for (Mm.Subscription sub : mm.notifiers) {
            d.emit(new SecondaryTlbEvent.InvalidateSecondaryTlbs(sub.iommu(), mmId, sub.pasid(), start, end, sd.id));
        }
    }
}
