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

    /**
     * A present PTE: the frame (and its allocation epoch) it maps, whether it is writable, and
     * whether it is young (the accessed bit: x86 _PAGE_ACCESSED, arm64 PTE_AF). A new PTE is
     * young (mk_pte with vm_page_prot, which carries it on both: PAGE_SHARED's ___A on x86,
     * _PROT_DEFAULT's PTE_AF on arm64). Only madvise(MADV_PAGEOUT) clears it, on a folio it then
     * reclaims, so no walk ever meets an old PTE in the model: the walkers setting it again are
     * not modelled.
     */
    record Pte(long frame, long frameEpoch, boolean writable, boolean young) {

        Pte withYoung(boolean y) {
            return new Pte(frame, frameEpoch, writable, y);
        }
    }

    /**
     * One mmu_notifier on the mm per (IOMMU, PASID): devices bound to the same mm behind the same
     * IOMMU share it (mmu_notifier_get hands back the registered one).
     */
    record Subscription(String iommu, int pasid) {
        String key() {
            return iommu + " pasid " + pasid;
        }
    }

    /** The page-table levels whose pages free_pgtables frees, each with the span one page maps. */
    enum Level {
        /** a PTE table: maps 2 MiB (PMD_SIZE). */
        PTE("pte", 21),
        /** a PMD table: maps 1 GiB (PUD_SIZE). */
        PMD("pmd", 30),
        /** a PUD table: maps 512 GiB (P4D_SIZE, with the P4D folded into the PGD). */
        PUD("pud", 39);

        final String label;
        final int spanShift;

        Level(String label, int spanShift) {
            this.label = label;
            this.spanShift = spanShift;
        }

        long span() {
            return 1L << spanShift;
        }

        /** The first address of the span of a table of this level holding {@code va}. */
        long base(long va) {
            return va & -span();
        }

        static Level of(String label) {
            for (Level l : values()) {
                if (l.label.equals(label)) {
                    return l;
                }
            }
            throw new IllegalArgumentException("no page-table level " + label);
        }
    }

    final long id;
    final TreeMap<Long, Vma> vmas = new TreeMap<>();
    final TreeMap<Long, Pte> ptes = new TreeMap<>();
    final TreeSet<String> cpumask = new TreeSet<>();
    final Set<Subscription> notifiers = new LinkedHashSet<>();
    /** The page-table pages that exist, by level: the first address each one's span maps. */
    final java.util.EnumMap<Level, TreeSet<Long>> tables = new java.util.EnumMap<>(Level.class);
    long tlbGen;
    /**
     * mm->tlb_flush_batched, its two halves (mm/rmap.c, TLB_FLUSH_BATCH_PENDING_MASK): unmaps
     * added to a batch (set_tlb_ubc_flush_pending), and the count flush_tlb_batched_pending last
     * caught up to. Only flush_tlb_batched_pending updates {@code batchFlushed}; try_to_unmap_flush
     * never does, so the next munmap or mprotect after a reclaim flushes once more.
     */
    long batchPending;
    long batchFlushed;

    Mm(long id) {
        this.id = id;
        for (Level l : Level.values()) {
            tables.put(l, new TreeSet<>());
        }
    }

    /** Whether a batched flush of this mm is pending (flush_tlb_batched_pending: pending != flushed). */
    boolean batchedFlushPending() {
        return batchPending != batchFlushed;
    }

    /** Present PTEs in [start, end). */
    java.util.SortedMap<Long, Pte> ptesIn(long start, long end) {
        return ptes.subMap(start, end);
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
