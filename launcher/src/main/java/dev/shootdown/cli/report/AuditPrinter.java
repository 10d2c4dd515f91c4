package dev.shootdown.cli.report;

import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.shootdown.audit.AuditReport;
import dev.shootdown.audit.ShootdownSummary;
import dev.shootdown.audit.Violation;
import dev.shootdown.audit.ViolationGroup;
import dev.shootdown.codec.EventCodec;
import dev.shootdown.event.Callers;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * Prints an audit for a person at a terminal, in bounded space whatever the run's length: the
 * run's counts, the verdict with its violations counted by kind, the first violation of each kind
 * with its witness and explanation, the violations grouped by shootdown and kind, a table of the
 * shootdowns, the steps of one (the first with a violation), and the verdict again as the last
 * line (what a script reads). Tables and prose fit
 * in {@link #WIDTH} columns. With {@code --all}, every shootdown's steps and every violation,
 * read back from report.json as a stream.
 */
public final class AuditPrinter {

    /** The terminal width everything printed fits in. */
    public static final int WIDTH = 120;
    /** Rows of each table printed; the rest are in report.json. */
    public static final int TABLE_ROWS = 20;

    private AuditPrinter() {}

    /** Prints {@code r}; {@code source} says where the log came from ("engine sim", "log FILE"). */
    public static void print(AuditReport r, String source, PrintWriter out) {
        print(r, r.shootdowns(), r.shootdowns().size(), r.violations().size(), source, out);
    }

    /** Prints a streamed audit: its first shootdowns, and how many more are in report.json. */
    public static void print(StreamingAudit.Result r, String source, PrintWriter out) {
        print(r.report(), r.firstShootdowns(), r.shootdowns(), r.violations(), source, out);
    }

    /**
     * Prints every shootdown's steps and every violation of {@code reportJson}, reading it as a
     * stream (so a report of any size prints in bounded memory), then the verdict line.
     */
    public static void printAll(Path reportJson, String source, PrintWriter out) throws IOException {
        ObjectMapper mapper = EventCodec.mapper();
        // First the header's fields (the two lists skipped): whether the log was imported comes after them.
        ObjectNode header = mapper.createObjectNode();
        ReportFile.eachField(reportJson, (field, p) -> {
            if (field.equals("shootdowns") || field.equals("violations")) {
                p.skipChildren();
            } else {
                header.set(field, mapper.readTree(p));
            }
        });
        boolean imported = header.path("imported").isObject();
        long[] violations = {0};
        ReportFile.eachField(reportJson, (field, p) -> {
            if ((field.equals("shootdowns") || field.equals("violations")) && p.currentToken() == JsonToken.START_ARRAY) {
                while (p.nextToken() != JsonToken.END_ARRAY) {
                    if (field.equals("shootdowns")) {
                        printSteps(mapper.readValue(p, ShootdownSummary.class), imported, out);
                    } else {
                        printViolation(mapper.readValue(p, Violation.class), out);
                        violations[0]++;
                    }
                }
                if (field.equals("shootdowns")) {
                    out.println();
                }
            } else {
                p.skipChildren();
            }
        });
        boolean problems = header.path("logProblems").size() > 0;
        out.println(verdictLine(header.path("verdict").asText(), problems, violations[0]));
    }

    private static void print(AuditReport r, List<ShootdownSummary> shootdowns, long shootdownCount, long violationCount,
            String source, PrintWriter out) {
        wrap(out, String.format("Shootdown audit: %s on %s, %s, %s, run %s", r.scenario(), r.arch(), r.policy(), source,
                r.run()), "");
        boolean imported = r.imported() != null;
        if (imported) {
            wrap(out, String.format("  %d events imported from a kernel trace, up to t=%s of its clock, %d frames freed",
                    r.stats().events(), us(r.stats().simulatedNs()), r.stats().framesFreed()), "    ");
            out.println("  what a trace cannot show, so this audit does not check:");
            r.imported().notTraced().forEach(n -> wrap(out, "    - " + n, "      "));
        } else {
            wrap(out, String.format("  %d events, %s simulated, %d CPU accesses, %d DMAs, %d device faults, %d frames freed",
                    r.stats().events(), us(r.stats().simulatedNs()), r.stats().cpuAccesses(), r.stats().dmaAccesses(),
                    r.stats().deviceFaults(), r.stats().framesFreed()), "    ");
        }
        if (r.ended() != null) {
            wrap(out, "  ended: " + r.ended(), "    ");
        }
        r.faultsNeverMatched().forEach(f -> wrap(out, "  fault plan: " + f, "    "));
        wrap(out, String.format(Locale.ROOT, "  %d whole-mm secondary invalidations, %d frames reclaimed, %.2f whole-mm"
                        + " invalidations per reclaimed page, fault-livelock threshold %d",
                r.stats().wholeMmSecondaryInvalidations(), r.stats().framesReclaimed(),
                r.stats().wholeMmSecondaryInvalidationsPerReclaimedPage(), r.faultLivelockThreshold()), "    ");
        wrap(out, String.format("  order classes %s; %s", r.stats().orderClasses(), lag(r.stats().secondaryAfterCpu(), "after")
                + "; " + lag(r.stats().secondaryBeforeCpu(), "before")), "    ");
        if (!r.complete()) {
            out.println("  warning: the run did not complete; the audit covers what was recorded");
        }
        if (violationCount > 0 || !r.logProblems().isEmpty()) {
            wrap(out, verdictLine(r, violationCount) + byKind(r.violationKinds()), "    ");
        }

        if (violationCount > 0) {
            out.println();
            out.println("the first violation of each kind:");
            Set<String> kinds = new java.util.LinkedHashSet<>();
            for (ViolationGroup g : r.violationGroups()) {
                if (kinds.add(g.kind())) {
                    printViolation(g.first(), out);
                }
            }
            printGroups(r, out);
        }
        printTable(shootdowns, shootdownCount, imported, out);
        ShootdownSummary witness = witness(shootdowns, r.violationGroups());
        if (witness != null) {
            printSteps(witness, imported, out);
            boolean violated = r.violationGroups().stream().anyMatch(g -> g.shootdown() == witness.id());
            out.printf("  (the steps of shootdown %d, the %s; --all prints every shootdown's)%n", witness.id(),
                    violated ? "first with a violation" : "first that called the hook and freed frames");
        }
        out.println();
        out.println(verdictLine(r, violationCount));
    }

    /**
     * The shootdown whose steps are printed: the first with a violation; else the first that
     * called the secondary-TLB hook and freed frames (the whole story); else the first.
     */
    private static ShootdownSummary witness(List<ShootdownSummary> shootdowns, List<ViolationGroup> groups) {
        for (ViolationGroup g : groups) {
            for (ShootdownSummary s : shootdowns) {
                if (s.id() == g.shootdown()) {
                    return s;
                }
            }
        }
        return shootdowns.stream().filter(s -> !s.hookCalls().isEmpty() && s.framesFreed() > 0).findFirst()
                .orElse(shootdowns.isEmpty() ? null : shootdowns.get(0));
    }

    private static String byKind(Map<String, Long> kinds) {
        if (kinds.isEmpty()) {
            return "";
        }
        StringBuilder b = new StringBuilder(":");
        kinds.entrySet().stream().sorted(Map.Entry.<String, Long>comparingByValue().reversed())
                .forEach(k -> b.append(b.length() == 1 ? " " : ", ").append(k.getValue()).append(' ').append(k.getKey()));
        return b.toString();
    }

    private static void printViolation(Violation v, PrintWriter out) {
        wrap(out, String.format("VIOLATION %s on %s at %s%s: %s", v.kind(), v.node(), v.va(),
                v.shootdown() == 0 ? "" : " (shootdown " + v.shootdown() + ")", v.explanation()), "    ");
        wrap(out, "    events: " + String.join(" -> ", v.events()), "      ");
    }

    private static void printGroups(AuditReport r, PrintWriter out) {
        List<ViolationGroup> groups = r.violationGroups();
        long total = groups.size() + r.violationGroupsNotKept();
        out.println();
        out.printf("violations by shootdown and kind (%d group%s):%n", total, total == 1 ? "" : "s");
        out.printf("  %-9s  %-30s  %7s  %-18s  %s%n", "shootdown", "kind", "count", "nodes", "addresses");
        for (ViolationGroup g : groups.subList(0, Math.min(TABLE_ROWS, groups.size()))) {
            String nodes = String.join(",", g.nodes());
            if (nodes.length() > 18) {
                nodes = nodes.substring(0, 15) + "...";
            }
            String range = g.lowestVa().equals(g.highestVa()) ? g.lowestVa() : g.lowestVa() + ".." + g.highestVa();
            out.printf("  %-9s  %-30s  %7d  %-18s  %s%n", g.shootdown() == 0 ? "-" : String.valueOf(g.shootdown()),
                    g.kind(), g.count(), nodes, range);
        }
        if (total > TABLE_ROWS) {
            out.printf("  ... and %d more groups in report.json (--all prints every violation)%n", total - TABLE_ROWS);
        }
    }

    private static void printTable(List<ShootdownSummary> shootdowns, long count, boolean imported, PrintWriter out) {
        out.println();
        out.printf("shootdowns (%d):%n", count);
        if (count == 0) {
            return;
        }
        out.println(String.format("  %4s  %-19s  %-5s %3s %5s  %-11s  %5s %9s %5s  %-20s  %s", "id", "caller", "by", "mm",
                imported ? "" : "PTEs", "CPU flushes", "hooks", "secondary", "freed", "order", "secondary vs CPU").stripTrailing());
        for (ShootdownSummary s : shootdowns.subList(0, Math.min(TABLE_ROWS, shootdowns.size()))) {
            String flushes = s.cpuFlushes().size() + (s.unacknowledged().isEmpty() ? "" : " +" + s.unacknowledged().size() + " never");
            String lagText = s.lagNs() == null ? "" : (s.lagNs() < 0 ? "-" : "+") + us(Math.abs(s.lagNs()));
            out.println(String.format("  %4d  %-19s  %-5s %3d %5s  %-11s  %5d %9d %5d  %-20s  %s", s.id(), cut(s.caller(), 19),
                    cut(s.cpu(), 5), s.mm(), imported ? "" : String.valueOf(s.ptesCleared() + s.ptesProtectionChanged()),
                    flushes, s.hookCalls().size(), s.secondary().size(), s.framesFreed(), cut(s.order(), 20), lagText)
                    .stripTrailing());
        }
        if (count > Math.min(TABLE_ROWS, shootdowns.size())) {
            out.printf("  ... and %d more in report.json (--all prints every shootdown's steps)%n",
                    count - Math.min(TABLE_ROWS, shootdowns.size()));
        }
    }

    /** One shootdown's steps, in full: what {@code --all} prints for each. */
    private static void printSteps(ShootdownSummary s, boolean imported, PrintWriter out) {
        if (imported) {
            out.printf("%nshootdown %d: %s [%s, %s) of mm %d by %s%n", s.id(), s.caller(), s.start(), s.end(), s.mm(), s.cpu());
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
        rows.forEach(row -> wrap(out, row.text(), "                           "));
        if (s.returnedNs() != null || s.caller().equals(Callers.MUNMAP) || s.caller().equals(Callers.MPROTECT)) {
            out.printf("  %-22s %s%n", s.caller() + " returned", at(s.returnedNs()));
        }
        out.printf("  %-22s %s%n", "finished", at(s.finishedNs()));
        out.printf("  %-22s %s%s%n", "order", s.order(),
                s.lagNs() == null ? "" : String.format(Locale.ROOT, " (secondary done %s %s the last CPU flush)",
                        us(Math.abs(s.lagNs())), s.lagNs() < 0 ? "before" : "after"));
    }

    private static String cut(String text, int width) {
        return text.length() <= width ? text : text.substring(0, width - 3) + "...";
    }

    /** Prints {@code text} in lines of at most {@link #WIDTH} columns, broken at spaces, the rest indented by {@code indent}. */
    static void wrap(PrintWriter out, String text, String indent) {
        String line = text;
        while (line.length() > WIDTH) {
            int cut = line.lastIndexOf(' ', WIDTH);
            if (cut <= indent.length()) {
                cut = line.indexOf(' ', WIDTH);
                if (cut < 0) {
                    break;
                }
            }
            out.println(line.substring(0, cut).stripTrailing());
            line = indent + line.substring(cut + 1);
        }
        out.println(line);
    }

    /** The verdict, in one line: what {@code --quiet} prints. */
    public static String verdictLine(AuditReport r, long violationCount) {
        return verdictLine(r.verdict(), !r.logProblems().isEmpty(), violationCount);
    }

    private static String verdictLine(String verdict, boolean logProblems, long violationCount) {
        if (logProblems && violationCount == 0) {
            // what could not be audited may hold violations: not "clean"
            return "verdict: incomplete (0 violations in what could be audited)";
        }
        if (logProblems) {
            return String.format(Locale.ROOT, "verdict: %s (%d violations; the audit is incomplete)", verdict, violationCount);
        }
        return String.format(Locale.ROOT, "verdict: %s (%d violations)", verdict, violationCount);
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
