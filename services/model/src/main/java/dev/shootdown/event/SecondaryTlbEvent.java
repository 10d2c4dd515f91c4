package dev.shootdown.event;

import java.util.List;

/** Traffic between the kernel's mm and the IOMMUs: SVA binds and secondary-TLB invalidation. */
public sealed interface SecondaryTlbEvent extends Event {

    @Override
    default Family family() {
        return Family.SECONDARY_TLB;
    }

    /**
     * iommu_sva_bind_device: {@code device} may now translate {@code mm}'s addresses under
     * {@code pasid}; the IOMMU driver registered an mmu_notifier on the mm.
     */
    record SvaBound(String target, String device, int pasid, long mm, boolean ats)
            implements SecondaryTlbEvent, Directed {}

    /**
     * The secondary TLB {@code target} stopped following {@code mm}: iommu_sva_unbind_device, or
     * its notifier's release callback from exit_mmap (mmu_notifier_release, mm/mmu_notifier.c).
     * No later hook call for {@code mm} reaches it.
     */
    record SvaUnbound(String target, String device, int pasid, long mm) implements SecondaryTlbEvent, Directed {}

    /**
     * The kernel called the secondary-TLB hook: {@code hook} is {@code invalidate_range} (Linux
     * 6.5 and earlier, from mmu_notifier_invalidate_range_end and *_clear_flush_notify) or
     * {@code arch_invalidate_secondary_tlbs} (the series, from the arch TLB flush functions);
     * {@code caller} is the kernel function that called it, on {@code cpu}. {@code mm} 0 is a
     * NULL mm. One {@link InvalidateSecondaryTlbs} follows per subscribed notifier.
     */
    record SecondaryTlbHookCalled(String cpu, String caller, String hook, long mm, long start, long end, int notifiers,
            long shootdownId) implements SecondaryTlbEvent, InShootdown {}

    /**
     * mmu_notifier_arch_invalidate_secondary_tlbs(mm, start, end) reached the IOMMU driver's
     * arch_invalidate_secondary_tlbs callback (arm_smmu_mm_arch_invalidate_secondary_tlbs).
     * end == -1UL means the whole address space.
     */
    record InvalidateSecondaryTlbs(String target, long mm, int pasid, long start, long end, long shootdownId)
            implements SecondaryTlbEvent, Directed, InShootdown {}

    /** Commands written to the IOMMU's command queue (TLBI_NH_VA, TLBI_NH_ASID, ATC_INV, CMD_SYNC). */
    record CommandsIssued(String iommu, long mm, int pasid, long start, long end, List<String> commands, long shootdownId)
            implements SecondaryTlbEvent, InShootdown {
        public CommandsIssued {
            commands = List.copyOf(commands);
        }
    }

    /** The IOTLB invalidation's CMD_SYNC completed: no IOTLB entry of the range survives. */
    record IotlbInvalidated(String iommu, int pasid, long start, long end, String command, int entriesDropped, long shootdownId)
            implements SecondaryTlbEvent, InShootdown {}

    /** The device's ATC invalidation (ATC_INV + CMD_SYNC) completed. */
    record AtcInvalidated(String iommu, String device, int pasid, long start, long end, int entriesDropped, long shootdownId)
            implements SecondaryTlbEvent, InShootdown {}

    /** The callback returned: every secondary TLB of this IOMMU for {@code mm} is invalidated. */
    record SecondaryTlbsInvalidated(String target, String iommu, long mm, int pasid, long start, long end, long shootdownId)
            implements SecondaryTlbEvent, Directed, InShootdown {}
}
