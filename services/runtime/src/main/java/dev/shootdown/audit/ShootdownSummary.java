package dev.shootdown.audit;

import com.fasterxml.jackson.annotation.JsonInclude;
import java.util.List;

/**
 * One shootdown as the audit saw it: an mmu_gather (munmap, mprotect) or a TLB flush that is not
 * one (flush_tlb_page from ptep_set_access_flags, a batched reclaim pass). Times are simulated
 * nanoseconds; a null time means the step never happened.
 *
 * @param mm                    the mm it flushes; 0 for a reclaim batch, which spans mms
 * @param caller                what started it ({@link dev.shootdown.event.Callers}: munmap,
 *                              mprotect, ptep_set_access_flags, kswapd, ...)
 * @param ptesCleared           PTEs it cleared (ptep_get_and_clear)
 * @param ptesProtectionChanged PTEs whose protection it changed
 * @param pteChangeNs           the first PTE change
 * @param hookCalls             every call of the secondary-TLB hook for it
 * @param returnedNs            the system call's return (munmap, mprotect)
 * @param finishedNs            tlb_finish_mmu, or the end of the flush
 * @param unacknowledged        the CPU flushes it asked for and never saw done (a shootdown that
 *                              never completed); left out of the JSON when there are none
 */
public record ShootdownSummary(
        long id,
        long mm,
        String start,
        String end,
        String caller,
        String cpu,
        int ptesCleared,
        int ptesProtectionChanged,
        Long pteChangeNs,
        List<CpuFlush> cpuFlushes,
        List<SecondaryInvalidation> secondary,
        List<HookCall> hookCalls,
        Long lastFreeNs,
        int framesFreed,
        Long returnedNs,
        Long finishedNs,
        String order,
        Long lagNs,
        @JsonInclude(JsonInclude.Include.NON_EMPTY) List<UnacknowledgedFlush> unacknowledged) {

    public ShootdownSummary {
        cpuFlushes = List.copyOf(cpuFlushes);
        secondary = List.copyOf(secondary);
        hookCalls = List.copyOf(hookCalls);
        unacknowledged = unacknowledged == null ? List.of() : List.copyOf(unacknowledged);
    }

    /**
     * The flush on one CPU: flush_tlb_func (x86, {@code kind} full/partial/none/not_loaded/lazy)
     * or the completion of a broadcast TLBI (arm64, {@code kind} the TLBI op), and when it was
     * acknowledged.
     */
    public record CpuFlush(String cpu, String kind, boolean viaIpi, long completedNs, String event) {}

    /**
     * A CPU flush requested ({@code event}: the FlushTlb or TLBI) and never acknowledged;
     * {@code delivered}: the CPU's later events show it received the request, so flush_tlb_func
     * will never run for it (a lost IPI), rather than the run ending while it was in flight.
     */
    public record UnacknowledgedFlush(String cpu, boolean viaIpi, long issuedNs, boolean delivered, String event) {}

    /** One IOMMU's secondary-TLB invalidation: issued, IOTLB synced, ATC synced, completed. */
    public record SecondaryInvalidation(
            String iommu, long issuedNs, Long iotlbNs, Long atcNs, Long completedNs, String start, String end, String event) {}

    /** One call of the secondary-TLB hook ({@code invalidate_range} or {@code arch_invalidate_secondary_tlbs}). */
    public record HookCall(String caller, String hook, long mm, String start, String end, long timeNs, String event) {}
}
