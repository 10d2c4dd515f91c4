package dev.shootdown.audit;

import dev.shootdown.event.Envelope;
import dev.shootdown.event.InjectionEvent;
import dev.shootdown.fault.FaultKind;
import dev.shootdown.scenario.Scenario;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * The faults a run's plan injected: each listed in the report (the first
 * {@link Auditor#LISTED_FAULTS}; all counted), attached to the shootdown whose request it hit,
 * for the chains of the violations it explains; and the plan's model faults that never hit
 * anything.
 */
final class InjectedFaults {

    private final Shootdowns shootdowns;
    /** The places in the run's fault plan of the model faults that hit something. */
    private final Set<Integer> matched = new HashSet<>();
    final List<AuditReport.InjectedFault> faults = new ArrayList<>();
    long count;

    InjectedFaults(Shootdowns shootdowns) {
        this.shootdowns = shootdowns;
    }

    /**
     * A fault the plan injected: listed in the report, and attached to the shootdown whose flush
     * or secondary request it hit (its cause), for the chains of the violations it explains.
     */
    void injected(Envelope e, InjectionEvent.FaultInjected f) {
        if (f.index() != null) {
            matched.add(f.index());
        }
        count++;
        if (faults.size() < Auditor.LISTED_FAULTS) {
            faults.add(new AuditReport.InjectedFault(e.id(), e.timeNs(), f.fault(), f.layer(), f.node(),
                    e.cause() == null ? f.target() : e.cause(), f.detail()));
        }
        if (e.cause() == null) {
            return;
        }
        for (LiveShootdown sd : shootdowns.live()) {
            boolean hit = sd.flushIssued.values().stream().anyMatch(x -> x.id().equals(e.cause()))
                    || sd.secondaryIssued.values().stream().anyMatch(x -> x.id().equals(e.cause()));
            if (hit) {
                sd.faults.add(e);
                return;
            }
        }
    }

    /**
     * The model faults of the run's plan that never hit anything (a lost IPI on arm64, which sends
     * none; a fault after the run's end), one line each; infrastructure faults, done by the host,
     * are not counted here.
     */
    List<String> neverMatched(Scenario scenario) {
        if (scenario == null || scenario.faults() == null) {
            return List.of();
        }
        List<String> never = new ArrayList<>();
        for (var f : scenario.faults().of(FaultKind.Layer.MODEL)) {
            if (!matched.contains(f.index())) {
                never.add("faults[" + f.index() + "] " + f.spec().kind().kebab()
                        + (f.spec().node() == null ? "" : " on " + f.spec().node()) + ": never matched anything in this run");
            }
        }
        return never;
    }
}
