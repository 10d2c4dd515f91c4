package dev.shootdown.mm;

import java.util.LinkedHashSet;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * include/linux/mm_types.h: struct mm_struct, as much of it as a shootdown touches: the VMAs, the
 * page table (present PTEs by page address), mm_cpumask, context.tlb_gen (x86),
 * tlb_flush_batched and the mmu_notifier subscriptions. Changed only by {@link MmState#evolve}.
 */
final class Mm {

    /** A VMA [start, end) and whether it is writable (VM_WRITE). */
    record Vma(long start, long end, boolean writable) {}

    /** A present PTE: the frame (and its allocation epoch) it maps, and whether it is writable. */
    record Pte(long frame, long frameEpoch, boolean writable) {}

    /**
     * One mmu_notifier on the mm per (IOMMU, PASID): devices bound to the same mm behind the same
     * IOMMU share it (mmu_notifier_get hands back the registered one).
     */
    record Subscription(String iommu, int pasid) {
        String key() {
            return iommu + " pasid " + pasid;
        }
    }

    final long id;
    final TreeMap<Long, Vma> vmas = new TreeMap<>();
    final TreeMap<Long, Pte> ptes = new TreeMap<>();
    final TreeSet<String> cpumask = new TreeSet<>();
    final Set<Subscription> notifiers = new LinkedHashSet<>();
    long tlbGen;
    /** mm->tlb_flush_batched: unmaps added to a batch whose flush has not completed. */
    int batchedPending;

    Mm(long id) {
        this.id = id;
    }

    Vma findVma(long va) {
        var e = vmas.floorEntry(va);
        return e != null && Long.compareUnsigned(va, e.getValue().end()) < 0 ? e.getValue() : null;
    }

    /** Splits the VMAs that straddle {@code start} or {@code end}, so [start, end) is whole VMAs. */
    void splitVmas(long start, long end) {
        for (Vma vma : java.util.List.copyOf(vmas.values())) {
            if (Long.compareUnsigned(vma.end(), start) <= 0 || Long.compareUnsigned(vma.start(), end) >= 0) {
                continue;
            }
            vmas.remove(vma.start());
            long lo = Long.compareUnsigned(vma.start(), start) < 0 ? start : vma.start();
            long hi = Long.compareUnsigned(vma.end(), end) > 0 ? end : vma.end();
            if (lo != vma.start()) {
                vmas.put(vma.start(), new Vma(vma.start(), lo, vma.writable()));
            }
            vmas.put(lo, new Vma(lo, hi, vma.writable()));
            if (hi != vma.end()) {
                vmas.put(hi, new Vma(hi, vma.end(), vma.writable()));
            }
        }
    }
}
