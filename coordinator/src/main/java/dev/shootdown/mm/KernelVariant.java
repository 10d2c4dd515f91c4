package dev.shootdown.mm;

/**
 * Where a kernel version calls the secondary-TLB hook. Only the call sites differ between the
 * variants; everything else (page tables, mmu_gather, reclaim, faults) is the same kernel.
 */
enum KernelVariant {
    /**
     * Linux 6.5: the mmu_notifier {@code invalidate_range} callback, called from
     * mmu_notifier_invalidate_range_end (and the *_clear_flush_notify helpers); the arch TLB
     * flush functions, ptep_set_access_flags included, never call it.
     */
    LINUX_6_5("linux-6.5"),
    /**
     * The series' v2 (mm-unstable, July 2023): {@code arch_invalidate_secondary_tlbs} called from
     * the arch TLB flush functions; on x86 arch_tlbbatch_flush calls it with current->mm.
     */
    SERIES_V2("series-v2"),
    /**
     * Linux 6.6, as merged: like v2, but x86 calls it from arch_tlbbatch_add_pending for the mm
     * whose PTE was cleared (the whole mm), not from arch_tlbbatch_flush.
     */
    LINUX_6_6("linux-6.6");

    final String policyName;

    KernelVariant(String policyName) {
        this.policyName = policyName;
    }

    /** The hook's name in this kernel. */
    String hookName() {
        return this == LINUX_6_5 ? "invalidate_range" : "arch_invalidate_secondary_tlbs";
    }

    static KernelVariant of(String policy) {
        for (KernelVariant v : values()) {
            if (v.policyName.equals(policy)) {
                return v;
            }
        }
        throw new IllegalArgumentException("unknown policy '" + policy + "': expected linux-6.5, series-v2 or linux-6.6");
    }
}
