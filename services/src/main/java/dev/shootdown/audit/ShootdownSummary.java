package dev.shootdown.audit;

import java.util.List;

/**
 * One shootdown (one mmu_gather) as the audit saw it. Times are simulated nanoseconds; a null
 * time means the step never happened.
 */
public record ShootdownSummary(
        long id,
        long mm,
        String start,
        String end,
        String caller,
        String cpu,
        int ptesCleared,
        Long pteChangeNs,
        List<CpuFlush> cpuFlushes,
        List<SecondaryInvalidation> secondary,
        Long lastFreeNs,
        int framesFreed,
        Long returnedNs,
        String order,
        Long lagNs) {

    public ShootdownSummary {
        cpuFlushes = List.copyOf(cpuFlushes);
        secondary = List.copyOf(secondary);
    }

    /** flush_tlb_func on one CPU: what it did and when it acknowledged. */
    public record CpuFlush(String cpu, String kind, boolean viaIpi, long completedNs, String event) {}

    /** One IOMMU's secondary-TLB invalidation: issued, IOTLB synced, ATC synced, completed. */
    public record SecondaryInvalidation(
            String iommu, long issuedNs, Long iotlbNs, Long atcNs, Long completedNs, String start, String end, String event) {}
}
