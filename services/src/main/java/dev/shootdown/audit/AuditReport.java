package dev.shootdown.audit;

import java.util.List;
import java.util.Map;

/**
 * What {@code report.json} holds: the verdict ({@code clean} or {@code violations}), every
 * violation, every shootdown with its order class, and counts.
 */
public record AuditReport(
        String run,
        String scenario,
        String arch,
        String policy,
        long seed,
        String verdict,
        boolean complete,
        List<Violation> violations,
        List<ShootdownSummary> shootdowns,
        Stats stats) {

    public AuditReport {
        violations = List.copyOf(violations);
        shootdowns = List.copyOf(shootdowns);
    }

    /** Run-wide counts. */
    public record Stats(
            long events,
            long simulatedNs,
            Map<String, Integer> orderClasses,
            long cpuAccesses,
            long dmaAccesses,
            long deviceFaults,
            long framesFreed) {}
}
