package dev.shootdown.cli.report;

import dev.shootdown.audit.AuditReport;
import dev.shootdown.audit.ShootdownSummary;
import dev.shootdown.audit.Violation;
import dev.shootdown.audit.ViolationGroup;
import dev.shootdown.event.Envelope;
import dev.shootdown.event.TraceEvent;
import dev.shootdown.event.InShootdown;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.function.Function;

/**
 * {@code report.html}: one self-contained page (inline style, data and script; nothing fetched)
 * for a person to read: the verdict, the whole run on one zoomable time axis ({@link Overview}),
 * a swimlane timeline per shootdown on one shared scale, the violations grouped by cause with
 * their event chains, and the run's statistics. Lanes are the coordinator (the kernel's mm), each
 * CPU and each IOMMU, and the nodes that made a stale access; {@link ReportScript} says which
 * steps are drawn and draws them in the browser.
 */
public final class HtmlReport {

    /** Shootdowns drawn: the first ones and every one a violation points at, up to this many. */
    static final int MAX_TIMELINES = 60;
    /** Violating accesses drawn per shootdown and kind of violation. */
    static final int MAX_VIOLATION_MARKS = 4;

    private HtmlReport() {}

    /** A violation drawn on a timeline, at the access it is about (or the last event of its chain). */
    record Violating(Envelope at, Violation violation) {}

    /** One shootdown's timeline: its summary, its steps in time order, the violations it let happen. */
    record Timeline(ShootdownSummary shootdown, List<Envelope> steps, List<Violating> violating) {}

    /**
     * What the page shows: the report's header, statistics and log problems (its lists are not
     * read), the number of violations and shootdowns in all, violations by kind, the first
     * {@link #MAX_VIOLATION_ROWS} violations and the chosen timelines.
     */
    record Page(AuditReport report, long violations, Map<String, Long> kinds, List<Violation> firstViolations, long shootdowns,
            List<Timeline> timelines, Overview overview) {}

    /** Violations listed in the table; the rest are in report.json. */
    static final int MAX_VIOLATION_ROWS = 200;

    /** The page for a whole report, with every event of the log at hand by id. */
    public static String render(AuditReport r, Map<String, Envelope> eventsById) {
        Map<String, Long> kinds = new TreeMap<>();
        r.violations().forEach(v -> kinds.merge(v.kind(), 1L, Long::sum));
        List<Violation> first = r.violations().subList(0, Math.min(MAX_VIOLATION_ROWS, r.violations().size()));
        Overview overview = new Overview();
        r.shootdowns().forEach(overview::onShootdown);
        r.violations().forEach(v -> overview.onViolation(v, w -> accessOf(w, eventsById::get)));
        return render(new Page(r, r.violations().size(), kinds, first, r.shootdowns().size(), timelines(r, eventsById), overview));
    }

    /** Whether the {@code drawn + 1}-th timeline is drawn: the first ones, then those a violation points at. */
    static boolean draws(int drawn, boolean violated) {
        return drawn < MAX_TIMELINES && (drawn < MAX_TIMELINES / 2 || violated);
    }

    public static String render(Page page) {
        AuditReport r = page.report();
        StringBuilder h = new StringBuilder(64 * 1024);
        h.append("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n<title>Shootdown audit: ")
                .append(esc(r.scenario())).append(' ').append(esc(r.arch())).append(' ').append(esc(r.policy()))
                .append("</title>\n<style>\n").append(ReportScript.STYLE).append("</style></head><body>\n");
        h.append("<h1>Shootdown audit: ").append(esc(r.scenario())).append(" on ").append(esc(r.arch())).append(", ")
                .append(esc(r.policy())).append("</h1>\n<p>run <code>").append(esc(r.run())).append("</code>, seed ").append(r.seed())
                .append(" &mdash; verdict <strong id=\"verdict\" class=\"").append(page.violations() == 0 ? "clean" : "violations")
                .append("\">").append(esc(r.verdict())).append("</strong> (").append(page.violations()).append(" violations)")
                .append(r.complete() ? "" : " &mdash; <strong>incomplete</strong>").append("</p>\n");
        kinds(h, page);
        h.append("<h2>The run</h2>\n<p class=\"hint\">Every shootdown on one simulated-time axis, on the row of the CPU that ")
                .append("started it (red: a violation points at it; hatched: it never completed), and every violating access. ")
                .append("Wheel to zoom, drag to pan, double-click to reset; click a shootdown to see its timeline.</p>\n")
                .append("<div class=\"view\" id=\"overview\"><div class=\"controls\"><button data-zoom=\"in\">zoom in</button>")
                .append("<button data-zoom=\"out\">zoom out</button><button data-zoom=\"reset\">whole run</button>")
                .append("<span class=\"range\"></span></div><svg class=\"overview\" xmlns=\"http://www.w3.org/2000/svg\"></svg></div>\n");
        if (page.overview().spansNotDrawn() > 0) {
            h.append("<p>").append(page.overview().spansNotDrawn()).append(" more shootdowns are in report.json.</p>\n");
        }
        timelines(h, page);
        violations(h, page);
        stats(h, r);
        h.append("<script type=\"application/json\" id=\"report-data\">").append(ReportScript.data(page))
                .append("</script>\n<script>\n").append(ReportScript.SCRIPT).append("</script>\n</body></html>\n");
        return h.toString();
    }

    private static void stats(StringBuilder h, AuditReport r) {
        var s = r.stats();
        h.append("<h2>Statistics</h2>\n<table id=\"stats\">");
        row(h, "events", String.valueOf(s.events()));
        row(h, "simulated time", us(s.simulatedNs()));
        row(h, "CPU accesses / DMAs / device faults", s.cpuAccesses() + " / " + s.dmaAccesses() + " / " + s.deviceFaults());
        row(h, "frames freed / reclaimed", s.framesFreed() + " / " + s.framesReclaimed());
        row(h, "whole-mm secondary invalidations per reclaimed page",
                String.format(Locale.ROOT, "%.2f", s.wholeMmSecondaryInvalidationsPerReclaimedPage()));
        row(h, "order classes", s.orderClasses().toString());
        row(h, "secondary done after the CPUs by", lag(s.secondaryAfterCpu()));
        row(h, "secondary done before the CPUs by", lag(s.secondaryBeforeCpu()));
        h.append("</table>\n");
        for (String problem : r.logProblems()) {
            h.append("<p class=\"violations\">log problem: ").append(esc(problem)).append("</p>\n");
        }
    }

    /** The verdict at a glance: how many violations of each kind. */
    private static void kinds(StringBuilder h, Page page) {
        h.append("<ul id=\"kinds\">");
        page.kinds().forEach((kind, n) -> h.append("<li class=\"violations\"><strong>").append(esc(kind)).append("</strong>: ").append(n)
                .append("</li>"));
        h.append("</ul>\n");
    }

    private static void violations(StringBuilder h, Page page) {
        h.append("<h2>Violations</h2>\n");
        if (page.violations() == 0) {
            h.append("<p class=\"clean\">none</p>\n");
            return;
        }
        List<ViolationGroup> groups = page.report().violationGroups();
        if (!groups.isEmpty()) {
            // one row per cause: the violations of one kind in one shootdown, with the first as the witness
            h.append("<table id=\"violations\"><tr><th>kind</th><th>shootdown</th><th>count</th><th>nodes</th><th>mm</th>")
                    .append("<th>addresses</th><th>the first: what happened</th></tr>\n");
            for (ViolationGroup g : groups.subList(0, Math.min(MAX_VIOLATION_ROWS, groups.size()))) {
                Violation v = g.first();
                h.append("<tr class=\"violation\"><td>").append(esc(g.kind())).append("</td><td>")
                        .append(g.shootdown() == 0 ? "-" : "#" + g.shootdown()).append("</td><td>").append(g.count())
                        .append("</td><td>").append(esc(String.join(", ", g.nodes()))).append("</td><td>")
                        .append(esc(String.join(", ", g.mms().stream().map(String::valueOf).toList()))).append("</td><td>")
                        .append(esc(g.lowestVa().equals(g.highestVa()) ? g.lowestVa() : g.lowestVa() + " - " + g.highestVa()))
                        .append("</td><td>");
                witness(h, v);
                h.append("</td></tr>\n");
            }
            long more = groups.size() - Math.min(MAX_VIOLATION_ROWS, groups.size()) + page.report().violationGroupsNotKept();
            if (more > 0) {
                h.append("<tr><td colspan=\"7\">... and ").append(more).append(" more groups in report.json</td></tr>\n");
            }
            h.append("</table>\n");
            return;
        }
        h.append("<table id=\"violations\"><tr><th>kind</th><th>node</th><th>mm</th><th>address</th><th>what happened</th></tr>\n");
        for (Violation v : page.firstViolations()) {
            h.append("<tr class=\"violation\"><td>").append(esc(v.kind())).append("</td><td>").append(esc(v.node())).append("</td><td>")
                    .append(v.mm()).append("</td><td>").append(esc(v.va())).append("</td><td>");
            witness(h, v);
            h.append("</td></tr>\n");
        }
        if (page.violations() > page.firstViolations().size()) {
            h.append("<tr><td colspan=\"5\">... and ").append(page.violations() - page.firstViolations().size())
                    .append(" more in report.json</td></tr>\n");
        }
        h.append("</table>\n");
    }

    /** What happened, opened on a click: the chain of events, and the command that prints it from the log. */
    private static void witness(StringBuilder h, Violation v) {
        h.append("<details><summary>").append(esc(v.explanation())).append("</summary><div class=\"chain\">")
                .append(esc(String.join(" \u2192 ", v.events()))).append("</div>");
        if (!v.events().isEmpty()) {
            // the access a device or CPU made, if the chain has one (its last), else its last event
            String why = v.events().get(v.events().size() - 1);
            for (String id : v.events()) {
                if (!id.startsWith("coordinator#")) {
                    why = id;
                }
            }
            h.append("<div class=\"chain\">shootdown trace --log events.jsonl --why ").append(esc(why)).append("</div>");
        }
        h.append("</details>");
    }

    private static void timelines(StringBuilder h, Page page) {
        h.append("<h2>Shootdowns</h2>\n<p class=\"hint\">One timeline per shootdown, each from its first step, all on one ")
                .append("scale so that they compare; wheel, drag and the buttons zoom them together (double-click: back to the ")
                .append("shootdowns). Marks of one kind that would overlap are drawn once with a count; hover a mark for its events.</p>\n")
                .append("<p class=\"legend\" id=\"legend\"></p>\n<div class=\"view\" id=\"panels\"><div class=\"controls\">")
                .append("<button data-zoom=\"in\">zoom in</button><button data-zoom=\"out\">zoom out</button>")
                .append("<button data-zoom=\"reset\">the shootdowns</button><button data-zoom=\"all\">with every violation</button>")
                .append("<span class=\"range\"></span></div>\n");
        for (Timeline t : page.timelines()) {
            ShootdownSummary s = t.shootdown();
            h.append("<h3 id=\"shootdown-").append(s.id()).append("\">shootdown ").append(s.id()).append(": ").append(esc(s.caller()))
                    .append(s.mm() == 0 ? " (a batch across mms)" : " of mm " + s.mm() + " [" + esc(s.start()) + ", " + esc(s.end()) + ")")
                    .append(" on ").append(esc(s.cpu())).append(" &mdash; ").append(esc(s.order()))
                    .append(s.lagNs() == null ? "" : ", secondary " + (s.lagNs() >= 0 ? "after" : "before") + " the last CPU flush by "
                            + us(Math.abs(s.lagNs())))
                    .append(hung(s)).append("</h3>\n<svg class=\"timeline\" data-shootdown=\"").append(s.id())
                    .append("\" xmlns=\"http://www.w3.org/2000/svg\"></svg>\n");
        }
        h.append("</div>\n");
        if (page.timelines().size() < page.shootdowns()) {
            h.append("<p>").append(page.shootdowns() - page.timelines().size()).append(" more shootdowns are in report.json.</p>\n");
        }
    }

    /** The timelines chosen from a whole report: the first ones, then those a violation points at. */
    private static List<Timeline> timelines(AuditReport r, Map<String, Envelope> byId) {
        Map<Long, List<Envelope>> steps = new HashMap<>();
        for (Envelope e : byId.values()) {
            if (e.event() instanceof InShootdown step) {
                steps.computeIfAbsent(step.shootdownId(), k -> new ArrayList<>()).add(e);
            }
        }
        steps.values().forEach(l -> l.sort(Comparator.comparingLong(Envelope::timeNs).thenComparing(e -> e.id())));
        Map<Long, List<Violation>> violations = violationsByShootdown(r, byId);
        List<Timeline> out = new ArrayList<>();
        for (ShootdownSummary s : r.shootdowns()) {
            List<Violation> related = violations.getOrDefault(s.id(), List.of());
            if (!draws(out.size(), !related.isEmpty())) {
                continue;
            }
            List<Violating> violating = new ArrayList<>();
            for (Violation v : related) {
                Envelope at = accessOf(v, byId::get);
                if (at != null) {
                    violating.add(new Violating(at, v));
                }
            }
            out.add(new Timeline(s, steps.getOrDefault(s.id(), List.of()), violating));
        }
        return out;
    }

    /**
     * Violations by the shootdowns their event chains include a step of (its free, its PTE
     * change...), each violation listed once per shootdown; one pass over the violations.
     */
    private static Map<Long, List<Violation>> violationsByShootdown(AuditReport r, Map<String, Envelope> byId) {
        Map<Long, List<Violation>> out = new HashMap<>();
        for (Violation v : r.violations()) {
            Set<Long> seen = new HashSet<>();
            for (String id : v.events()) {
                Envelope e = byId.get(id);
                if (e != null && e.event() instanceof InShootdown step && seen.add(step.shootdownId())) {
                    out.computeIfAbsent(step.shootdownId(), k -> new ArrayList<>()).add(v);
                }
            }
        }
        return out;
    }

    /** For a shootdown that never completed: the CPUs it still waits for. */
    private static String hung(ShootdownSummary s) {
        List<String> waiting = new ArrayList<>();
        for (ShootdownSummary.UnacknowledgedFlush f : s.unacknowledged()) {
            if (f.delivered()) {
                waiting.add(f.cpu());
            }
        }
        return waiting.isEmpty() ? "" : " &mdash; <strong class=\"violations\">never completed: waits for "
                + esc(String.join(", ", waiting)) + "</strong>";
    }

    /** The access a violation is about: the chain's memory access or DMA, else its last event. */
    static Envelope accessOf(Violation v, Function<String, Envelope> byId) {
        Envelope last = null;
        for (String id : v.events()) {
            Envelope e = byId.apply(id);
            if (e != null && (e.event() instanceof TraceEvent.MemoryAccessed || e.event() instanceof TraceEvent.DmaCompleted)) {
                return e;
            }
            last = e == null ? last : e;
        }
        return last;
    }

    private static void row(StringBuilder h, String name, String value) {
        h.append("<tr><th>").append(esc(name)).append("</th><td>").append(esc(value)).append("</td></tr>");
    }

    private static String lag(AuditReport.Lag lag) {
        return lag.shootdowns() == 0 ? "no shootdown" : lag.shootdowns() + " shootdowns: p50 " + us(lag.p50Ns()) + ", p90 "
                + us(lag.p90Ns()) + ", p99 " + us(lag.p99Ns()) + ", max " + us(lag.maxNs());
    }

    static String us(long ns) {
        return String.format(Locale.ROOT, "%.3f us", ns / 1000.0);
    }

    public static String esc(String s) {
        return s == null ? "" : s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\"", "&quot;");
    }
}
