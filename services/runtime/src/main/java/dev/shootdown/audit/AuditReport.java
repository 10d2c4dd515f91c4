package dev.shootdown.audit;

import com.fasterxml.jackson.annotation.JsonInclude;
import java.util.List;
import java.util.Map;
import java.util.SortedMap;
import java.util.TreeMap;

/**
 * What {@code report.json} holds: the verdict ({@code clean} or {@code violations}), every
 * violation, every shootdown with its order class, and counts.
 *
 * @param complete               the run reached its end (RunCompleted) and the whole log was read
 * @param logProblems            what was wrong with the log it was read from (one line each, naming
 *                               the line); when not empty, the audit covers only what could be
 *                               placed in causal order
 * @param faultLivelockThreshold K: how many SUCCESS page responses in a row for the same device,
 *                               PASID, address and access, while the PTE already allowed it,
 *                               make a {@code fault-livelock}
 * @param faults                 the faults a fault plan injected, as the log's
 *                               {@code fault-injected} events say (the first 1,000); left out of
 *                               the JSON when there were none, so a fault-free report reads as
 *                               before plans existed
 * @param faultsInjected         how many were injected (also left out when 0)
 * @param faultsNeverMatched     the plan's model faults that hit nothing in the run, one line each
 *                               (left out when there are none)
 * @param imported               for a log imported from a kernel trace: where from, and what such
 *                               a trace cannot show (left out of a simulated run's report)
 * @param violationKinds         how many violations of each kind (left out when there are none)
 * @param violationGroups        the violations as one entry per shootdown and kind, with the count,
 *                               the nodes, the address range and the first as witness (the first
 *                               {@link ViolationGroups#MAX_GROUPS}; left out when there are none)
 * @param violationGroupsNotKept groups beyond those, counted only (left out when 0)
 * @param ended                  why the run ended (its run-completed's reason: every task done, the
 *                               observation window, the watchdog), or null when it did not
 */
public record AuditReport(
        String run,
        String scenario,
        String arch,
        String policy,
        long seed,
        String verdict,
        boolean complete,
        int faultLivelockThreshold,
        List<Violation> violations,
        List<ShootdownSummary> shootdowns,
        Stats stats,
        List<String> logProblems,
        @JsonInclude(JsonInclude.Include.NON_EMPTY) List<InjectedFault> faults,
        @JsonInclude(JsonInclude.Include.NON_DEFAULT) long faultsInjected,
        @JsonInclude(JsonInclude.Include.NON_EMPTY) List<String> faultsNeverMatched,
        @JsonInclude(JsonInclude.Include.NON_NULL) Imported imported,
        @JsonInclude(JsonInclude.Include.NON_NULL) String ended,
        @JsonInclude(JsonInclude.Include.NON_EMPTY) SortedMap<String, Long> violationKinds,
        @JsonInclude(JsonInclude.Include.NON_EMPTY) List<ViolationGroup> violationGroups,
        @JsonInclude(JsonInclude.Include.NON_DEFAULT) long violationGroupsNotKept) {

    public AuditReport {
        violations = List.copyOf(violations);
        shootdowns = List.copyOf(shootdowns);
        logProblems = logProblems == null ? List.of() : List.copyOf(logProblems);
        faults = faults == null ? List.of() : List.copyOf(faults);
        faultsNeverMatched = faultsNeverMatched == null ? List.of() : List.copyOf(faultsNeverMatched);
        violationKinds = violationKinds == null ? new TreeMap<>() : new TreeMap<>(violationKinds);
        violationGroups = violationGroups == null ? List.of() : List.copyOf(violationGroups);
    }

    /** A report of a run without injected faults. */
    public AuditReport(String run, String scenario, String arch, String policy, long seed, String verdict, boolean complete,
            int faultLivelockThreshold, List<Violation> violations, List<ShootdownSummary> shootdowns, Stats stats,
            List<String> logProblems) {
        this(run, scenario, arch, policy, seed, verdict, complete, faultLivelockThreshold, violations, shootdowns, stats,
                logProblems, List.of(), 0, List.of(), null, null, null, null, 0);
    }

    /**
     * Where an imported log came from: the trace-imported event's {@code format}, {@code file}
     * and {@code sha256}, each mm's kernel address, what the capture cannot show
     * ({@code notTraced}), and the importer's warnings.
     */
    public record Imported(String format, String file, String sha256, List<String> mms, List<String> notTraced,
            List<String> warnings) {
        public Imported {
            mms = List.copyOf(mms);
            notTraced = List.copyOf(notTraced);
            warnings = List.copyOf(warnings);
        }
    }

    /**
     * One injected fault, from its {@code fault-injected} event: {@code event} is that event's
     * id, {@code target} the id of the event it hit (its cause) or, without one, what the
     * injector named (a link, a node).
     */
    public record InjectedFault(String event, long timeNs, String fault, String layer, String node, String target,
            String detail) {}

    /** This report, for a log that had {@code problems}: incomplete. */
    public AuditReport withLogProblems(List<String> problems) {
        if (problems.isEmpty()) {
            return this;
        }
        return new AuditReport(run, scenario, arch, policy, seed, verdict, false, faultLivelockThreshold, violations, shootdowns,
                stats, problems, faults, faultsInjected, faultsNeverMatched, imported, ended, violationKinds, violationGroups,
                violationGroupsNotKept);
    }

    /**
     * Run-wide counts.
     *
     * @param wholeMmSecondaryInvalidations                 InvalidateSecondaryTlbs with end -1UL (the
     *                                                      whole address space)
     * @param framesReclaimed                               frames freed by reclaim passes (kswapd,
     *                                                      direct reclaim, MADV_PAGEOUT, memory.reclaim)
     * @param wholeMmSecondaryInvalidationsPerReclaimedPage the first divided by the second; 0 when
     *                                                      nothing was reclaimed
     */
    public record Stats(
            long events,
            long simulatedNs,
            Map<String, Integer> orderClasses,
            long cpuAccesses,
            long dmaAccesses,
            long deviceFaults,
            long framesFreed,
            long wholeMmSecondaryInvalidations,
            long framesReclaimed,
            double wholeMmSecondaryInvalidationsPerReclaimedPage,
            Lag secondaryAfterCpu,
            Lag secondaryBeforeCpu) {

        /** The counts, with the per-reclaimed-page ratio derived from them. */
        public Stats(long events, long simulatedNs, Map<String, Integer> orderClasses, long cpuAccesses, long dmaAccesses,
                long deviceFaults, long framesFreed, long wholeMmSecondaryInvalidations, long framesReclaimed, Lag secondaryAfterCpu,
                Lag secondaryBeforeCpu) {
            this(events, simulatedNs, orderClasses, cpuAccesses, dmaAccesses, deviceFaults, framesFreed,
                    wholeMmSecondaryInvalidations, framesReclaimed,
                    framesReclaimed == 0 ? 0.0 : (double) wholeMmSecondaryInvalidations / framesReclaimed, secondaryAfterCpu,
                    secondaryBeforeCpu);
        }
    }

    /**
     * The distribution, over shootdowns, of the time between the last CPU flush completion and
     * the last secondary completion (simulated ns; recorded with HdrHistogram, 3 significant
     * digits): for the shootdowns whose secondary TLBs completed after the CPUs
     * ({@code secondaryAfterCpu}), and by how much, for those that completed before
     * ({@code secondaryBeforeCpu}).
     */
    public record Lag(long shootdowns, long p50Ns, long p90Ns, long p99Ns, long maxNs) {
        public static final Lag NONE = new Lag(0, 0, 0, 0, 0);
    }
}
