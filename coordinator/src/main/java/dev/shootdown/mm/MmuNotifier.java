package dev.shootdown.mm;

import dev.shootdown.core.Decider;
import dev.shootdown.event.FaultEvent;
import dev.shootdown.event.SecondaryTlbEvent;

/**
 * include/linux/mmu_notifier.h: mmu_notifier_arch_invalidate_secondary_tlbs(mm, start, end)
 * (invalidate_range in 6.5): if mm_has_notifiers(mm), each notifier's callback, which returns
 * once its IOMMU's invalidation completed. mm_has_notifiers dereferences mm: NULL oopses.
 */
final class MmuNotifier {

    private final Linux k;

    MmuNotifier(Linux k) {
        this.k = k;
    }

    /** The hook, called by {@code caller} for {@code mmId} (0: NULL) and [start, end). */
    void call(Decider d, Shootdown sd, String caller, long mmId, long start, long end) {
        Mm mm = mmId == 0 ? null : k.state.mm(mmId);
        d.emit(new SecondaryTlbEvent.SecondaryTlbHookCalled(sd.cpu, caller, k.state.variant.hookName(), mmId, start, end,
                mm == null ? 0 : mm.notifiers.size(), sd.id));
        if (mm == null) {
            d.emit(new FaultEvent.KernelOops(sd.cpu, sd.comm, sd.pid, "mm_has_notifiers", caller, 0,
                    "BUG: kernel NULL pointer dereference: mm_has_notifiers(mm == NULL) in " + caller + " called with current->mm of "
                            + sd.comm + ", a kernel thread",
                    sd.id));
            // The oops kills the task that was reclaiming for its page fault.
            k.memory.killWaiter(d, sd.waiter);
            return;
        }
        for (Mm.Subscription sub : mm.notifiers) {
            d.emit(new SecondaryTlbEvent.InvalidateSecondaryTlbs(sub.iommu(), mmId, sub.pasid(), start, end, sd.id));
        }
    }
}
