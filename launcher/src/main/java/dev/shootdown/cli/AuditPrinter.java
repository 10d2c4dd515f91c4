package dev.shootdown.cli;

import dev.shootdown.audit.AuditReport;
import dev.shootdown.audit.ShootdownSummary;
import dev.shootdown.audit.Violation;
import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;

/** Prints an audit for a person at a terminal: one block per shootdown, then the verdict. */
final class AuditPrinter {

    private AuditPrinter() {}

    /** Prints {@code r}; {@code source} says where the log came from ("engine sim", "log FILE"). */
    static void print(AuditReport r, String source, PrintWriter out) {
        print(r, r.shootdowns(), r.shootdowns().size(), r.violations(), r.violations().size(), source, out);
    }

    /** Prints a streamed audit: its first shootdowns and violations, and how many more are in report.json. */
    static void print(StreamingAudit.Result r, String source, PrintWriter out) {
        print(r.report(), r.firstShootdowns(), r.shootdowns(), r.firstViolations(), r.violations(), source, out);
    }

    private static void print(AuditReport r, List<ShootdownSummary> shootdowns, long shootdownCount, List<Violation> violations,
            long violationCount, String source, PrintWriter out) {
        out.printf("Shootdown audit: %s on %s, %s, %s, run %s%n", r.scenario(), r.arch(), r.policy(), source, r.run());
        boolean imported = r.imported() != null;
        if (imported) {
            out.printf("  %d events imported from a kernel trace, up to t=%s of its clock, %d frames freed%n",
                    r.stats().events(), us(r.stats().simulatedNs()), r.stats().framesFreed());
            out.println("  what a trace cannot show, so this audit does not check:");
            r.imported().notTraced().forEach(n -> out.println("    - " + n));
        } else {
            out.printf("  %d events, %s simulated, %d CPU accesses, %d DMAs, %d device faults, %d frames freed%n",
                    r.stats().events(), us(r.stats().simulatedNs()), r.stats().cpuAccesses(), r.stats().dmaAccesses(),
                    r.stats().deviceFaults(), r.stats().framesFreed());
        }
        if (r.ended() != null) {
            out.println("  ended: " + r.ended());
        }
        r.faultsNeverMatched().forEach(f -> out.println("  fault plan: " + f));
        out.printf(Locale.ROOT, "  %d whole-mm secondary invalidations, %d frames reclaimed, %.2f whole-mm invalidations per"
                        + " reclaimed page, fault-livelock threshold %d%n",
                r.stats().wholeMmSecondaryInvalidations(), r.stats().framesReclaimed(),
                r.stats().wholeMmSecondaryInvalidationsPerReclaimedPage(), r.faultLivelockThreshold());
        out.printf("  order classes %s; %s%n", r.stats().orderClasses(), lag(r.stats().secondaryAfterCpu(), "after")
                + "; " + lag(r.stats().secondaryBeforeCpu(), "before"));
        for (ShootdownSummary s : shootdowns) {
            if (imported) {
                out.printf("%nshootdown %d: %s [%s, %s) of mm %d by %s%n", s.id(), s.caller(), s.start(), s.end(), s.mm(),
                        s.cpu());
            } else {
                out.printf("%nshootdown %d: %s [%s, %s) of mm %d by %s, %d PTEs cleared%s%n", s.id(), s.caller(), s.start(),
                        s.end(), s.mm(), s.cpu(), s.ptesCleared(),
                        s.ptesProtectionChanged() == 0 ? "" : ", " + s.ptesProtectionChanged() + " PTE protections changed");
                out.printf("  %-22s %s%n", "PTE change", at(s.pteChangeNs()));
            }
            List<Row> rows = new ArrayList<>();
            for (ShootdownSummary.CpuFlush f : s.cpuFlushes()) {
                rows.add(new Row(f.completedNs(), String.format("  %-22s %s  %s%s", f.cpu() + " flush done", at(f.completedNs()),
                        f.kind(), f.kind().endsWith("IS") ? " (broadcast TLBI)" : f.viaIpi() ? " (IPI)" : " (local)")));
            }
            for (ShootdownSummary.UnacknowledgedFlush f : s.unacknowledged()) {
                rows.add(new Row(null, String.format("  %-22s never  %s sent %s, %s", f.cpu() + " flush done",
                        f.viaIpi() ? "IPI" : "request", at(f.issuedNs()),
                        f.delivered() ? "received and never acknowledged" : "not received by the end")));
            }
            for (ShootdownSummary.HookCall h : s.hookCalls()) {
                rows.add(new Row(h.timeNs(), String.format("  %-22s %s  %s%s(mm %d, %s, %s)", "secondary hook", at(h.timeNs()),
                        h.caller().equals("unknown") ? "" : h.caller() + " -> ", h.hook(), h.mm(), h.start(), h.end())));
            }
            for (ShootdownSummary.SecondaryInvalidation i : s.secondary()) {
                rows.add(new Row(i.completedNs(), imported
                        ? String.format("  %-22s done %s  [%s, %s)  (the last of this shootdown)", i.iommu() + " secondary",
                                at(i.completedNs()), i.start(), i.end())
                        : String.format("  %-22s issued %s, IOTLB synced %s, ATC synced %s, done %s  [%s, %s)",
                                i.iommu() + " secondary", at(i.issuedNs()), at(i.iotlbNs()), at(i.atcNs()), at(i.completedNs()),
                                i.start(), i.end())));
            }
            rows.add(new Row(s.lastFreeNs(), String.format("  %-22s %s  (%d frames)", "frames freed", at(s.lastFreeNs()),
                    s.framesFreed())));
            if (imported) {
                // a real kernel's steps, in the order its clock saw them
                rows.sort(Comparator.comparing(Row::timeNs, Comparator.nullsLast(Comparator.naturalOrder())));
            }
            rows.forEach(row -> out.println(row.text()));
            if (s.returnedNs() != null || s.caller().equals("munmap") || s.caller().equals("mprotect")) {
                out.printf("  %-22s %s%n", s.caller() + " returned", at(s.returnedNs()));
            }
            out.printf("  %-22s %s%n", "finished", at(s.finishedNs()));
            out.printf("  %-22s %s%s%n", "order", s.order(),
                    s.lagNs() == null ? "" : String.format(Locale.ROOT, " (secondary done %s %s the last CPU flush)",
                            us(Math.abs(s.lagNs())), s.lagNs() < 0 ? "before" : "after"));
        }
        if (shootdownCount > shootdowns.size()) {
            out.printf("%n... and %d more shootdowns in report.json%n", shootdownCount - shootdowns.size());
        }
        out.println();
        if (!r.complete()) {
            out.println("warning: the run did not complete; the audit covers what was recorded");
        }
        for (Violation v : violations) {
            out.printf("VIOLATION %s on %s at %s: %s%n    events: %s%n", v.kind(), v.node(), v.va(), v.explanation(),
                    String.join(" -> ", v.events()));
        }
        if (violationCount > violations.size()) {
            out.printf("... and %d more violations in report.json%n", violationCount - violations.size());
        }
        out.println(verdictLine(r, violationCount));
    }

    /** The verdict, in one line: what {@code --quiet} prints. */
    static String verdictLine(AuditReport r, long violationCount) {
        if (!r.logProblems().isEmpty() && violationCount == 0) {
            // what could not be audited may hold violations: not "clean"
            return "verdict: incomplete (0 violations in what could be audited)";
        }
        if (!r.logProblems().isEmpty()) {
            return String.format(Locale.ROOT, "verdict: %s (%d violations; the audit is incomplete)", r.verdict(), violationCount);
        }
        return String.format(Locale.ROOT, "verdict: %s (%d violations)", r.verdict(), violationCount);
    }

    /** One line of a shootdown's block, and when it happened (null: never). */
    private record Row(Long timeNs, String text) {}

    private static String at(Long ns) {
        return ns == null ? "never" : "t=" + us(ns);
    }

    private static String us(long ns) {
        return String.format(Locale.ROOT, "%.3f us", ns / 1000.0);
    }

    private static String lag(AuditReport.Lag lag, String side) {
        if (lag.shootdowns() == 0) {
            return "no shootdown with secondary TLBs done " + side + " the CPUs";
        }
        return lag.shootdowns() + " with secondary TLBs done " + side + " the CPUs by p50 " + us(lag.p50Ns()) + ", p99 "
                + us(lag.p99Ns()) + ", max " + us(lag.maxNs());
    }
}
