package dev.shootdown.cli.report;

import dev.shootdown.audit.AuditReport;
import dev.shootdown.audit.ShootdownSummary;
import dev.shootdown.audit.Violation;
import dev.shootdown.audit.ViolationGroup;
import dev.shootdown.event.Envelope;
import dev.shootdown.event.Event;
import dev.shootdown.event.FaultEvent;
import dev.shootdown.event.IpiEvent;
import dev.shootdown.event.PageTableEvent;
import dev.shootdown.event.SecondaryTlbEvent;
import dev.shootdown.event.TraceEvent;
import dev.shootdown.event.InShootdown;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.function.Function;

/**
 * {@code report.html}: one self-contained page (inline CSS and SVG, no script, nothing fetched)
 * for a person to read: the verdict, the violations with their event chains, the run's
 * statistics, and a swimlane timeline per shootdown. Lanes are the coordinator (the kernel's mm),
 * each CPU and each IOMMU, and the nodes that made a stale access; the PTE change, the IPIs or
 * TLBIs and their acks, the secondary-TLB hook calls, the IOTLB and ATC invalidations, the free,
 * the return and any violating access are drawn on one simulated-time axis.
 */
public final class HtmlReport {

    /** Shootdowns drawn: the first ones and every one a violation points at, up to this many. */
    static final int MAX_TIMELINES = 60;
    /** Violating accesses drawn per shootdown. */
    static final int MAX_VIOLATION_MARKS = 4;
    private static final int LANE_HEIGHT = 28;
    private static final int LABEL_WIDTH = 150;
    private static final int PLOT_WIDTH = 900;

    private HtmlReport() {}

    /** A mark on a lane: a step of the shootdown at a simulated time. */
    private record Mark(String lane, long timeNs, String kind, String label) {}

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
            List<Timeline> timelines) {}

    /** Violations listed in the table; the rest are in report.json. */
    static final int MAX_VIOLATION_ROWS = 200;

    /** The page for a whole report, with every event of the log at hand by id. */
    public static String render(AuditReport r, Map<String, Envelope> eventsById) {
        Map<String, Long> kinds = new TreeMap<>();
        r.violations().forEach(v -> kinds.merge(v.kind(), 1L, Long::sum));
        List<Violation> first = r.violations().subList(0, Math.min(MAX_VIOLATION_ROWS, r.violations().size()));
        return render(new Page(r, r.violations().size(), kinds, first, r.shootdowns().size(), timelines(r, eventsById)));
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
                .append("</title>\n<style>\n")
                .append("body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#222}h1{font-size:20px}h2{font-size:17px;margin-top:28px}")
                .append("table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:3px 8px;text-align:left}")
                .append(".clean{color:#1a7f37}.violations{color:#c62828}.chain{font-family:monospace;color:#555}")
                .append("svg{background:#fafafa;border:1px solid #ddd}.lane-label{font:12px monospace}")
                .append(".legend span{display:inline-block;margin-right:14px}</style></head><body>\n");
        h.append("<h1>Shootdown audit: ").append(esc(r.scenario())).append(" on ").append(esc(r.arch())).append(", ")
                .append(esc(r.policy())).append("</h1>\n<p>run <code>").append(esc(r.run())).append("</code>, seed ").append(r.seed())
                .append(" &mdash; verdict <strong id=\"verdict\" class=\"").append(page.violations() == 0 ? "clean" : "violations")
                .append("\">").append(esc(r.verdict())).append("</strong> (").append(page.violations()).append(" violations)")
                .append(r.complete() ? "" : " &mdash; <strong>incomplete</strong>").append("</p>\n");
        kinds(h, page);
        stats(h, r);
        timelines(h, page);
        violations(h, page);
        h.append("</body></html>\n");
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
                        .append("</td><td>").append(esc(v.explanation())).append("<br><span class=\"chain\">")
                        .append(esc(String.join(" \u2192 ", v.events()))).append("</span></td></tr>\n");
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
                    .append(v.mm()).append("</td><td>").append(esc(v.va())).append("</td><td>").append(esc(v.explanation()))
                    .append("<br><span class=\"chain\">").append(esc(String.join(" \u2192 ", v.events()))).append("</span></td></tr>\n");
        }
        if (page.violations() > page.firstViolations().size()) {
            h.append("<tr><td colspan=\"5\">... and ").append(page.violations() - page.firstViolations().size())
                    .append(" more in report.json</td></tr>\n");
        }
        h.append("</table>\n");
    }

    private static void timelines(StringBuilder h, Page page) {
        h.append("<h2>Shootdowns</h2>\n<p class=\"legend\"><span>\u25c6 PTE change</span><span>\u2191 IPI / TLBI sent</span>")
                .append("<span>\u25cf flush done</span><span>\u25a0 hook called</span><span>\u25b2 IOTLB / ATC invalidated</span>")
                .append("<span>\u2605 secondary done</span><span>\u2716 frames freed</span><span>\u21a9 returned</span>")
                .append("<span style=\"color:#c62828\">\u26a0 violating access</span></p>\n");
        for (Timeline t : page.timelines()) {
            timeline(h, t);
        }
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

    private static void timeline(StringBuilder h, Timeline timeline) {
        ShootdownSummary s = timeline.shootdown();
        List<Envelope> steps = timeline.steps();
        List<Mark> marks = new ArrayList<>();
        for (Envelope e : steps) {
            Event ev = e.event();
            if (ev instanceof PageTableEvent.PteCleared || ev instanceof PageTableEvent.PteProtectionChanged) {
                marks.add(new Mark(e.node(), e.timeNs(), "pte", "PTE change " + e.id() + ": " + ev));
            } else if (ev instanceof IpiEvent.FlushTlb f) {
                marks.add(new Mark(f.target(), e.timeNs(), "sent", (f.viaIpi() ? "IPI " : "local flush_tlb_func ") + e.id()));
            } else if (ev instanceof IpiEvent.Tlbi t) {
                marks.add(new Mark(t.target(), e.timeNs(), "sent", "TLBI " + t.op() + " " + e.id()));
            } else if (ev instanceof IpiEvent.TlbFlushed f) {
                marks.add(new Mark(e.node(), e.timeNs(), "flushed", "flush_tlb_func: " + f.kind() + " " + e.id()));
            } else if (ev instanceof IpiEvent.TlbiCompleted) {
                marks.add(new Mark(e.node(), e.timeNs(), "flushed", "TLBI completed " + e.id()));
            } else if (ev instanceof SecondaryTlbEvent.SecondaryTlbHookCalled c) {
                marks.add(new Mark(e.node(), e.timeNs(), "hook", c.hook() + "(mm " + c.mm() + ") from " + c.caller() + " " + e.id()));
            } else if (ev instanceof SecondaryTlbEvent.InvalidateSecondaryTlbs i) {
                marks.add(new Mark(i.target(), e.timeNs(), "sent", "invalidation requested " + e.id()));
            } else if (ev instanceof SecondaryTlbEvent.IotlbInvalidated || ev instanceof SecondaryTlbEvent.AtcInvalidated) {
                marks.add(new Mark(e.node(), e.timeNs(), "inval", ev.getClass().getSimpleName() + " " + e.id()));
            } else if (ev instanceof SecondaryTlbEvent.SecondaryTlbsInvalidated) {
                marks.add(new Mark(e.node(), e.timeNs(), "secondary", "secondary TLBs invalidated " + e.id()));
            } else if (ev instanceof PageTableEvent.FrameFreed f) {
                marks.add(new Mark(e.node(), e.timeNs(), "free", "frame 0x" + Long.toHexString(f.frame()) + " freed " + e.id()));
            } else if (ev instanceof FaultEvent.KernelOops o) {
                marks.add(new Mark(e.node(), e.timeNs(), "violation", "kernel oops in " + o.function() + ": " + o.message()));
            }
        }
        if (s.returnedNs() != null) {
            marks.add(new Mark("coordinator", s.returnedNs(), "return", s.caller() + " returned"));
        }
        // The first few violating accesses show what the shootdown let happen; the rest are in the table.
        List<Mark> bad = new ArrayList<>();
        for (Violating v : timeline.violating()) {
            bad.add(new Mark(v.at().node(), v.at().timeNs(), "violation", v.violation().kind() + ": " + v.violation().explanation()));
        }
        bad.sort(Comparator.comparingLong(Mark::timeNs));
        marks.addAll(bad.subList(0, Math.min(MAX_VIOLATION_MARKS, bad.size())));
        if (marks.isEmpty()) {
            return;
        }
        Map<String, Integer> lanes = new LinkedHashMap<>();
        lanes.put("coordinator", 0);
        marks.stream().map(Mark::lane).sorted().forEach(l -> lanes.putIfAbsent(l, lanes.size()));
        long t0 = marks.stream().mapToLong(Mark::timeNs).min().orElse(0);
        long t1 = Math.max(t0 + 1, marks.stream().mapToLong(Mark::timeNs).max().orElse(0));
        int height = lanes.size() * LANE_HEIGHT + 30;
        h.append("<h3 id=\"shootdown-").append(s.id()).append("\">shootdown ").append(s.id()).append(": ").append(esc(s.caller()))
                .append(s.mm() == 0 ? " (a batch across mms)" : " of mm " + s.mm() + " [" + esc(s.start()) + ", " + esc(s.end()) + ")")
                .append(" on ")
                .append(esc(s.cpu())).append(" &mdash; ").append(esc(s.order()))
                .append(s.lagNs() == null ? "" : ", secondary " + (s.lagNs() >= 0 ? "after" : "before") + " the last CPU flush by "
                        + us(Math.abs(s.lagNs())))
                .append(hung(s))
                .append("</h3>\n<svg class=\"timeline\" data-shootdown=\"").append(s.id()).append("\" width=\"")
                .append(LABEL_WIDTH + PLOT_WIDTH + 20).append("\" height=\"").append(height).append("\" xmlns=\"http://www.w3.org/2000/svg\">\n");
        for (Map.Entry<String, Integer> lane : lanes.entrySet()) {
            int y = 20 + lane.getValue() * LANE_HEIGHT;
            h.append("<g class=\"lane\" data-lane=\"").append(esc(lane.getKey())).append("\"><text class=\"lane-label\" x=\"6\" y=\"")
                    .append(y + 4).append("\">").append(esc(lane.getKey())).append("</text><line x1=\"").append(LABEL_WIDTH)
                    .append("\" y1=\"").append(y).append("\" x2=\"").append(LABEL_WIDTH + PLOT_WIDTH).append("\" y2=\"").append(y)
                    .append("\" stroke=\"#ccc\"/></g>\n");
        }
        for (Mark m : marks) {
            int x = LABEL_WIDTH + (int) ((m.timeNs() - t0) * (PLOT_WIDTH - 10) / (t1 - t0)) + 5;
            int y = 20 + lanes.get(m.lane()) * LANE_HEIGHT;
            h.append("<text class=\"mark ").append(m.kind()).append("\" data-lane=\"").append(esc(m.lane())).append("\" x=\"").append(x - 6).append("\" y=\"").append(y + 5)
                    .append("\" fill=\"").append(color(m.kind())).append("\">").append(glyph(m.kind())).append("<title>")
                    .append(esc(m.label())).append(" at ").append(us(m.timeNs())).append("</title></text>\n");
        }
        h.append("<text x=\"").append(LABEL_WIDTH).append("\" y=\"").append(height - 4).append("\" class=\"lane-label\">")
                .append(us(t0)).append("</text><text x=\"").append(LABEL_WIDTH + PLOT_WIDTH - 80).append("\" y=\"").append(height - 4)
                .append("\" class=\"lane-label\">").append(us(t1)).append("</text>\n</svg>\n");
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

    private static String glyph(String kind) {
        switch (kind) {
            case "pte": return "\u25c6";
            case "sent": return "\u2191";
            case "flushed": return "\u25cf";
            case "hook": return "\u25a0";
            case "inval": return "\u25b2";
            case "secondary": return "\u2605";
            case "free": return "\u2716";
            case "return": return "\u21a9";
            default: return "\u26a0";
        }
    }

    private static String color(String kind) {
        switch (kind) {
            case "pte": return "#6a1b9a";
            case "hook": return "#ef6c00";
            case "inval":
            case "secondary": return "#1565c0";
            case "free": return "#455a64";
            case "violation": return "#c62828";
            default: return "#2e7d32";
        }
    }

    private static void row(StringBuilder h, String name, String value) {
        h.append("<tr><th>").append(esc(name)).append("</th><td>").append(esc(value)).append("</td></tr>");
    }

    private static String lag(AuditReport.Lag lag) {
        return lag.shootdowns() == 0 ? "no shootdown" : lag.shootdowns() + " shootdowns: p50 " + us(lag.p50Ns()) + ", p90 "
                + us(lag.p90Ns()) + ", p99 " + us(lag.p99Ns()) + ", max " + us(lag.maxNs());
    }

    private static String us(long ns) {
        return String.format(Locale.ROOT, "%.3f us", ns / 1000.0);
    }

    public static String esc(String s) {
        return s == null ? "" : s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\"", "&quot;");
    }
}
