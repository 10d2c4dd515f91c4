package dev.shootdown.cli.report;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.shootdown.audit.ShootdownSummary;
import dev.shootdown.codec.EventCodec;
import dev.shootdown.event.Envelope;
import dev.shootdown.event.Event;
import dev.shootdown.event.FaultEvent;
import dev.shootdown.event.IpiEvent;
import dev.shootdown.event.PageTableEvent;
import dev.shootdown.event.SecondaryTlbEvent;
import dev.shootdown.trace.TraceLine;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;

/**
 * What draws report.html's timelines in the browser: the run's data (one JSON block in the page)
 * and the inline script and style that draw it as SVG, with time axes in microseconds, zoom and pan.
 * Nothing is fetched: the page stays one file.
 *
 * <p>Each step of a shootdown becomes a mark of one kind: {@code pte} (ptep_get_and_clear or a
 * protection change), {@code ipi} (flush_tlb_func requested by IPI or locally, or a broadcast TLBI),
 * {@code flush} (the CPU's flush done), {@code hook} (the secondary-TLB hook called), {@code req}
 * (an invalidation sent to an IOMMU), {@code iotlb}, {@code atc} (the IOTLB and the device's ATC
 * invalidated), {@code secondary} (the IOMMU's invalidation complete), {@code free} (the frame
 * freed), {@code return} (the caller returned), {@code oops} (a kernel oops) and {@code violation}
 * (a violating access, linked to the free it violates).
 */
final class ReportScript {

    private ReportScript() {}

    /** The mark kind of a shootdown step, or null for a step not drawn. */
    static String kind(Event ev) {
        if (ev instanceof PageTableEvent.PteCleared || ev instanceof PageTableEvent.PteProtectionChanged) {
            return "pte";
        } else if (ev instanceof IpiEvent.FlushTlb || ev instanceof IpiEvent.Tlbi) {
            return "ipi";
        } else if (ev instanceof IpiEvent.TlbFlushed || ev instanceof IpiEvent.TlbiCompleted) {
            return "flush";
        } else if (ev instanceof SecondaryTlbEvent.SecondaryTlbHookCalled) {
            return "hook";
        } else if (ev instanceof SecondaryTlbEvent.InvalidateSecondaryTlbs) {
            return "req";
        } else if (ev instanceof SecondaryTlbEvent.IotlbInvalidated) {
            return "iotlb";
        } else if (ev instanceof SecondaryTlbEvent.AtcInvalidated) {
            return "atc";
        } else if (ev instanceof SecondaryTlbEvent.SecondaryTlbsInvalidated) {
            return "secondary";
        } else if (ev instanceof PageTableEvent.FrameFreed) {
            return "free";
        } else if (ev instanceof FaultEvent.KernelOops) {
            return "oops";
        }
        return null;
    }

    /** The lane a step is drawn on: the node it is addressed to for a request, else the node that did it. */
    private static String lane(Envelope e) {
        Event ev = e.event();
        if (ev instanceof IpiEvent.FlushTlb f) {
            return f.target();
        } else if (ev instanceof IpiEvent.Tlbi t) {
            return t.target();
        } else if (ev instanceof SecondaryTlbEvent.InvalidateSecondaryTlbs i) {
            return i.target();
        }
        return e.node();
    }

    private record Mark(String lane, long timeNs, String kind, String label, String id, String freeId) {}

    /** The page's data: the overview, and a panel per timeline. Safe inside a script element. */
    static String data(HtmlReport.Page page) {
        ObjectNode root = EventCodec.mapper().createObjectNode();
        root.put("runNs", page.report().stats().simulatedNs());
        Overview o = page.overview();
        ObjectNode overview = root.putObject("overview");
        TreeSet<String> cpus = new TreeSet<>();
        o.spans().forEach(s -> cpus.add(s.cpu()));
        List<String> rows = new ArrayList<>(cpus);
        overview.putPOJO("rows", rows);
        ArrayNode spans = overview.putArray("spans");
        TreeSet<Long> drawn = new TreeSet<>();
        page.timelines().forEach(t -> drawn.add(t.shootdown().id()));
        for (Overview.Span s : o.spans()) {
            ObjectNode n = spans.addObject();
            n.put("id", s.id()).put("row", rows.indexOf(s.cpu())).put("t0", s.startNs()).put("t1", s.endNs())
                    .put("label", "shootdown " + s.id() + ": " + s.caller() + " on " + s.cpu() + ", " + s.range() + ", "
                            + HtmlReport.us(s.startNs()) + " to " + (s.hung() ? "never (it hung)" : HtmlReport.us(s.endNs())))
                    .put("violated", o.violated(s.id())).put("hung", s.hung()).put("drawn", drawn.contains(s.id()));
        }
        ArrayNode violations = overview.putArray("violations");
        o.violationNs().forEach(v -> violations.addObject().put("t", v.timeNs()).put("kind", v.kind()).put("access", v.access()));
        overview.put("violationsNotDrawn", o.violationsNotDrawn());
        ArrayNode panels = root.putArray("panels");
        for (HtmlReport.Timeline t : page.timelines()) {
            panel(panels.addObject(), t);
        }
        return root.toString().replace("<", "\\u003c"); // nothing in it can end or comment the script
    }

    private static void panel(ObjectNode out, HtmlReport.Timeline timeline) {
        ShootdownSummary s = timeline.shootdown();
        List<Mark> marks = new ArrayList<>();
        Map<String, Envelope> frees = new HashMap<>();
        for (Envelope e : timeline.steps()) {
            String kind = kind(e.event());
            if (kind != null) {
                marks.add(new Mark(lane(e), e.timeNs(), kind, TraceLine.format(e).strip(), e.id(), null));
                if (e.event() instanceof PageTableEvent.FrameFreed) {
                    frees.put(e.id(), e);
                }
            }
        }
        if (s.returnedNs() != null) {
            marks.add(new Mark("coordinator", s.returnedNs(), "return", s.caller() + " returned at " + HtmlReport.us(s.returnedNs()), null,
                    null));
        }
        // The first few violating accesses of each kind show what the shootdown let happen; the rest are in the table.
        List<HtmlReport.Violating> bad = new ArrayList<>(timeline.violating());
        bad.sort(Comparator.comparingLong(v -> v.at().timeNs())); // stable: as they came at one time
        Map<String, Integer> perKind = new HashMap<>();
        for (HtmlReport.Violating v : bad) {
            if (perKind.merge(v.violation().kind(), 1, Integer::sum) > HtmlReport.MAX_VIOLATION_MARKS) {
                continue;
            }
            String free = v.violation().events().stream().filter(frees::containsKey).findFirst().orElse(null);
            marks.add(new Mark(v.at().node(), v.at().timeNs(), "violation", v.violation().kind() + ": " + v.violation().explanation()
                    + "\n" + TraceLine.format(v.at()).strip(), v.at().id(), free));
        }
        Map<String, Integer> lanes = new LinkedHashMap<>();
        lanes.put("coordinator", 0);
        marks.stream().map(Mark::lane).sorted().forEach(l -> lanes.putIfAbsent(l, lanes.size()));
        out.put("id", s.id());
        out.putPOJO("lanes", new ArrayList<>(lanes.keySet()));
        // its first step: a violating access before it (a race with the free) is drawn before 0
        out.put("t0", marks.stream().filter(m -> !m.kind().equals("violation")).mapToLong(Mark::timeNs).min()
                .orElse(marks.stream().mapToLong(Mark::timeNs).min().orElse(0)));
        ArrayNode list = out.putArray("marks");
        for (Mark m : marks) {
            ObjectNode n = list.addObject();
            n.put("lane", lanes.get(m.lane())).put("t", m.timeNs()).put("kind", m.kind()).put("label", m.label());
            if (m.id() != null) {
                n.put("id", m.id());
            }
            if (m.freeId() != null) {
                n.put("free", m.freeId());
            }
        }
    }

    static final String STYLE = """
            body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#222;max-width:1500px}h1{font-size:20px}
            h2{font-size:17px;margin-top:28px}h3{font-size:14px;margin:18px 0 4px;font-weight:600}
            table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:3px 8px;text-align:left;vertical-align:top}
            .clean{color:#1a7f37}.violations{color:#c62828}.chain{font-family:monospace;color:#555;font-size:12px}
            .hint{color:#555;font-size:13px;margin:4px 0}
            details summary{cursor:pointer}
            svg.overview,svg.timeline{display:block;background:#fcfcfc;border:1px solid #ddd;cursor:grab;user-select:none}
            .controls{margin:6px 0}.controls button{margin-right:6px}.controls .range{font:12px monospace;color:#555;margin-left:8px}
            .lane-label{font:12px monospace;fill:#333}.tick-label{font:11px monospace;fill:#555}
            .grid{stroke:#eee}.tick{stroke:#999}.lane-line{stroke:#ccc}.axis-title{font:11px sans-serif;fill:#777}
            .mark text{font:14px sans-serif}.mark.oops text{font:bold 11px monospace;fill:#fff}.mark.oops rect{fill:#b71c1c}
            .mark-count{font:10px monospace}.offview{font:10px monospace;fill:#777}.offview.bad{fill:#c62828;font-weight:bold}
            .span{stroke:#2e7d32;fill:#c8e6c9}.span.violated{stroke:#c62828;fill:#ef9a9a}.span.hung{fill:url(#hung)}
            .span.drawn{cursor:pointer}.vtick{stroke:#c62828;stroke-width:1.5}.voops{fill:#b71c1c}
            .uaf-link{stroke:#c62828;stroke-dasharray:3 3;fill:none}
            .legend span{display:inline-block;margin-right:14px;white-space:nowrap}.legend svg{vertical-align:middle}
            """;

    static final String SCRIPT = """
            (function () {
            'use strict';
            var D = JSON.parse(document.getElementById('report-data').textContent);
            var NS = 'http://www.w3.org/2000/svg';
            var LABEL = 120, RIGHT = 20;
            // kind: glyph, colour, name in the legend
            var KINDS = {
              pte: ['\\u25c6', '#6a1b9a', 'PTE change'],
              ipi: ['\\u2191', '#2e7d32', 'IPI / TLBI sent'],
              flush: ['\\u25cf', '#2e7d32', 'CPU flush done'],
              hook: ['\\u25a0', '#ef6c00', 'secondary-TLB hook called'],
              req: ['\\u25bd', '#1565c0', 'IOMMU invalidation sent'],
              iotlb: ['\\u25b2', '#1565c0', 'IOTLB invalidated'],
              atc: ['\\u25bc', '#00838f', 'ATC invalidated'],
              secondary: ['\\u2605', '#1565c0', 'IOMMU invalidation done'],
              free: ['\\u2716', '#455a64', 'frame freed'],
              'return': ['\\u21a9', '#37474f', 'returned'],
              oops: ['OOPS', '#b71c1c', 'kernel oops'],
              violation: ['\\u26a0', '#c62828', 'violating access (dashed: the free it violates)']
            };
            function el(tag, attrs, parent, text) {
              var e = document.createElementNS(NS, tag);
              for (var k in attrs) e.setAttribute(k, attrs[k]);
              if (text != null) e.textContent = text;
              if (parent) parent.appendChild(e);
              return e;
            }
            function step(span) {
              var raw = span / 8, p = Math.pow(10, Math.floor(Math.log10(raw)));
              var m = [1, 2, 5, 10];
              for (var i = 0; i < m.length; i++) if (m[i] * p >= raw) return m[i] * p;
              return 10 * p;
            }
            function us(ns, st) {
              var dec = Math.max(0, Math.min(3, Math.ceil(-Math.log10(st / 1000))));
              return (ns / 1000).toFixed(dec);
            }
            // A view of [v0, v1] ns drawn by draw(); wheel and drag on its SVGs and its buttons change it.
            // home: where it starts and where 'reset' and a double-click bring it back; full: the most it shows.
            function View(root, full0, full1, home0, home1, draw) {
              var v = this;
              v.full0 = full0; v.full1 = Math.max(full1, full0 + 10);
              v.home0 = home0; v.home1 = Math.max(home1, home0 + 10);
              v.v0 = v.home0; v.v1 = v.home1;
              v.home = function () { v.set(v.home0, v.home1); };
              v.set = function (a, b) {
                var span = Math.max(b - a, 10), whole = v.full1 - v.full0;
                if (span >= whole) { a = v.full0; b = v.full1; }
                else { a = Math.max(v.full0, Math.min(a, v.full1 - span)); b = a + span; }
                v.v0 = a; v.v1 = b;
                root.querySelector('.range').textContent = 'showing ' + us(a, step(b - a) / 10) + ' to ' + us(b, step(b - a) / 10) + ' us';
                draw();
              };
              v.zoom = function (f, at) {
                if (at == null) at = (v.v0 + v.v1) / 2;
                v.set(at - (at - v.v0) * f, at + (v.v1 - at) * f);
              };
              root.querySelectorAll('button[data-zoom]').forEach(function (b) {
                b.addEventListener('click', function () {
                  var z = b.getAttribute('data-zoom');
                  if (z === 'in') v.zoom(0.5); else if (z === 'out') v.zoom(2);
                  else if (z === 'all') v.set(v.full0, v.full1); else v.home();
                });
              });
              v.attach = function (svg, width) {
                function timeAt(ev) {
                  var x = ev.clientX - svg.getBoundingClientRect().left;
                  return v.v0 + (x - LABEL) / (width() - LABEL - RIGHT) * (v.v1 - v.v0);
                }
                svg.addEventListener('wheel', function (ev) {
                  ev.preventDefault();
                  v.zoom(ev.deltaY < 0 ? 0.8 : 1.25, timeAt(ev));
                }, {passive: false});
                svg.addEventListener('dblclick', function () { v.home(); });
                var drag = null;
                svg.addEventListener('mousedown', function (ev) { drag = {x: ev.clientX, v0: v.v0, v1: v.v1}; });
                window.addEventListener('mouseup', function () { drag = null; });
                window.addEventListener('mousemove', function (ev) {
                  if (!drag) return;
                  var dt = (ev.clientX - drag.x) / (width() - LABEL - RIGHT) * (drag.v1 - drag.v0);
                  if (Math.abs(ev.clientX - drag.x) > 2) v.set(drag.v0 - dt, drag.v1 - dt);
                });
              };
            }
            // The time axis at y over [v0, v1]; labels in us, plus: relative to each panel's start.
            function axis(svg, w, top, y, v0, v1, plus) {
              var st = step(v1 - v0), g = el('g', {'class': 'axis'}, svg);
              for (var t = Math.ceil(v0 / st) * st; t <= v1 + 1e-9; t += st) {
                var x = LABEL + (t - v0) / (v1 - v0) * (w - LABEL - RIGHT);
                el('line', {'class': 'grid', x1: x, x2: x, y1: top, y2: y}, g);
                el('line', {'class': 'tick', x1: x, x2: x, y1: y, y2: y + 4}, g);
                el('text', {'class': 'tick-label', x: x, y: y + 15, 'text-anchor': 'middle'}, g, (plus ? '+' : '') + us(t, st));
              }
              el('text', {'class': 'axis-title', x: 4, y: y + 15}, g, plus ? 'us from start' : 'simulated us');
              svg.setAttribute('data-view', Math.round(v0) + ' ' + Math.round(v1));
            }
            function width() { return Math.max(700, Math.min(1450, document.body.clientWidth)); }

            // The overview: a row per CPU that started shootdowns, a row of violating accesses.
            var ov = document.getElementById('overview'), osvg = ov.querySelector('svg');
            var O = D.overview, ROW = 18;
            var oview = new View(ov, 0, Math.max(D.runNs, 1), 0, Math.max(D.runNs, 1), function () {
              var w = width(), h = 26 + (O.rows.length + 1) * ROW + 22, v0 = oview.v0, v1 = oview.v1;
              while (osvg.firstChild) osvg.removeChild(osvg.firstChild);
              osvg.setAttribute('width', w); osvg.setAttribute('height', h);
              var defs = el('defs', {}, osvg), pat = el('pattern', {id: 'hung', width: 6, height: 6, patternUnits: 'userSpaceOnUse',
                patternTransform: 'rotate(45)'}, defs);
              el('rect', {width: 6, height: 6, fill: '#ffe0b2'}, pat);
              el('line', {x1: 0, y1: 0, x2: 0, y2: 6, stroke: '#e65100', 'stroke-width': 3}, pat);
              var bottom = h - 22;
              axis(osvg, w, 6, bottom, v0, v1, false);
              function x(t) { return LABEL + (t - v0) / (v1 - v0) * (w - LABEL - RIGHT); }
              el('text', {'class': 'lane-label', x: 6, y: 6 + ROW / 2 + 4}, osvg, 'violations');
              O.violations.forEach(function (v) {
                if (v.t < v0 || v.t > v1) return;
                var l = v.kind === 'kernel-oops'
                  ? el('rect', {'class': 'voops', x: x(v.t) - 4, y: 8, width: 8, height: ROW - 4}, osvg)
                  : el('line', {'class': 'vtick', x1: x(v.t), x2: x(v.t), y1: 8, y2: 6 + ROW - 2}, osvg);
                el('title', {}, l, v.kind + (v.access ? ' by an access' : '') + ' at ' + (v.t / 1000).toFixed(3) + ' us');
              });
              O.rows.forEach(function (r, i) {
                var y = 6 + (i + 1) * ROW;
                el('text', {'class': 'lane-label', x: 6, y: y + ROW / 2 + 4}, osvg, r);
                el('line', {'class': 'lane-line', x1: LABEL, x2: w - RIGHT, y1: y + ROW / 2, y2: y + ROW / 2}, osvg);
              });
              O.spans.forEach(function (s) {
                var t1 = s.hung ? v1 : s.t1;
                if (t1 < v0 || s.t0 > v1) return;
                var a = Math.max(x(s.t0), LABEL), b = Math.min(x(t1), w - RIGHT);
                var r = el('rect', {'class': 'span' + (s.violated ? ' violated' : '') + (s.hung ? ' hung' : '') + (s.drawn ? ' drawn' : ''),
                  'data-shootdown': s.id, x: a, y: 6 + (s.row + 1) * ROW + 3, width: Math.max(3, b - a), height: ROW - 6}, osvg);
                el('title', {}, r, s.label);
                if (s.drawn) r.addEventListener('click', function () { location.hash = 'shootdown-' + s.id; });
              });
            });
            oview.attach(osvg, width);

            // The shootdowns' panels: one scale for all, each from its first step.
            // Each panel's time starts at its shootdown's first step; a violating access may come before
            // it (a race with the free) or long after it. The view starts on the longest shootdown's
            // steps and what violates them within as long again twice; 'with every violation' takes in
            // every violating access.
            var longest = 1, first = 0, last = 1;
            D.panels.forEach(function (p) {
              p.marks.forEach(function (m) {
                var rel = m.t - p.t0;
                first = Math.min(first, rel); last = Math.max(last, rel);
                if (m.kind !== 'violation') longest = Math.max(longest, rel);
              });
            });
            var home = longest; // and the violating accesses soon after: the device writing a frame just freed
            D.panels.forEach(function (p) {
              p.marks.forEach(function (m) {
                var rel = m.t - p.t0;
                if (m.kind === 'violation' && rel <= 3 * longest) home = Math.max(home, rel);
              });
            });
            var svgs = {};
            document.querySelectorAll('svg.timeline').forEach(function (s) { svgs[s.getAttribute('data-shootdown')] = s; });
            var pad = longest * 0.02;
            var pview = new View(document.getElementById('panels'), first - pad, last + pad, -pad, home + pad, function () {
              D.panels.forEach(function (p) { panel(p, svgs[p.id]); });
            });
            function panel(p, svg) {
              var w = width(), v0 = pview.v0, v1 = pview.v1;
              while (svg.firstChild) svg.removeChild(svg.firstChild);
              function x(t) { return LABEL + (t - p.t0 - v0) / (v1 - v0) * (w - LABEL - RIGHT); }
              // Marks of one kind that would overlap on a lane become one mark with a count; marks of
              // different kinds that would overlap go on rows of their own (levels), so none hides another.
              var levels = p.lanes.map(function () { return []; }), placed = [], open = {};
              var before = p.lanes.map(function () { return []; }), after = p.lanes.map(function () { return []; });
              p.marks.slice().sort(function (a, b) { return a.t - b.t; }).forEach(function (m) {
                var rel = m.t - p.t0;
                if (rel < v0) { before[m.lane].push(m); return; }
                if (rel > v1) { after[m.lane].push(m); return; }
                var mx = x(m.t), key = m.lane + ' ' + m.kind, c = open[key];
                if (c && mx - c.x < 12) {
                  c.all.push(m);
                  return;
                }
                c = open[key] = {m: m, x: mx, all: [m]};
                placed.push(c);
              });
              placed.forEach(function (q) {
                var n = q.all.length, half = q.m.kind === 'oops' ? 20 : 7, right = n > 1 ? 9 + 6.5 * (String(n).length + 1) : half;
                var rows = levels[q.m.lane], lv = 0;
                while (lv < rows.length && rows[lv] > q.x - half) lv++;
                rows[lv] = q.x + right + 1;
                q.level = lv;
              });
              var tops = [], y = 8;
              p.lanes.forEach(function (l, i) {
                tops.push(y);
                y += 16 * Math.max(1, levels[i].length) + 10;
              });
              var h = y + 22;
              svg.setAttribute('width', w); svg.setAttribute('height', h);
              axis(svg, w, 4, y, v0, v1, true);
              p.lanes.forEach(function (l, i) {
                var mid = tops[i] + 8 * Math.max(1, levels[i].length);
                el('text', {'class': 'lane-label', x: 6, y: mid + 4}, svg, l);
                el('line', {'class': 'lane-line', x1: LABEL, x2: w - RIGHT, y1: mid, y2: mid}, svg);
              });
              // What lies outside the view, counted at its edges.
              p.lanes.forEach(function (l, i) {
                var mid = tops[i] + 8 * Math.max(1, levels[i].length);
                [[before[i], LABEL - 4, 'end', '\\u25c0 '], [after[i], w - RIGHT + 2, 'start', ' \\u25b6']].forEach(function (o) {
                  if (!o[0].length) return;
                  var bad = o[0].filter(function (m) { return m.kind === 'violation' || m.kind === 'oops'; }).length;
                  var t = el('text', {'class': 'offview' + (bad ? ' bad' : ''), x: o[1], y: mid - 4, 'text-anchor': o[2]}, svg,
                    o[2] === 'start' ? o[0].length + o[3] : o[3] + o[0].length);
                  el('title', {}, t, o[0].length + ' marks ' + (o[2] === 'end' ? 'before' : 'after') + ' the view'
                    + (bad ? ', ' + bad + ' of them violations' : ''));
                });
              });
              var at = {};
              placed.forEach(function (q) {
                q.y = tops[q.m.lane] + 8 + 16 * q.level;
                q.all.forEach(function (m) { if (m.id) at[m.id] = q; });
              });
              placed.forEach(function (q) {
                if (q.m.kind !== 'violation') return;
                var seen = {};
                q.all.forEach(function (m) {
                  var f = m.free && at[m.free];
                  if (!f || seen[m.free]) return;
                  seen[m.free] = true;
                  el('path', {'class': 'uaf-link', d: 'M' + f.x + ' ' + f.y + ' L' + q.x + ' ' + q.y}, svg);
                });
              });
              placed.forEach(function (q) {
                var k = KINDS[q.m.kind], n = q.all.length, g = el('g', {'class': 'mark ' + q.m.kind, 'data-lane': p.lanes[q.m.lane],
                  'data-t': q.m.t, 'data-count': n}, svg);
                if (q.m.kind === 'oops') {
                  el('rect', {x: q.x - 19, y: q.y - 7, width: 38, height: 14, rx: 3}, g);
                  el('text', {x: q.x, y: q.y + 4, 'text-anchor': 'middle'}, g, k[0]);
                } else {
                  el('text', {x: q.x, y: q.y + 5, 'text-anchor': 'middle', fill: k[1]}, g, k[0]);
                }
                if (n > 1) el('text', {'class': 'mark-count', x: q.x + 7, y: q.y + 4, fill: k[1]}, g, '\u00d7' + n);
                var lines = q.all.slice(0, 12).map(function (m) {
                  return m.label + '  (+' + ((m.t - p.t0) / 1000).toFixed(3) + ' us)';
                });
                if (n > 12) lines.push('... and ' + (n - 12) + ' more');
                el('title', {}, g, (n > 1 ? n + ' x ' + k[2] + ':\\n' : '') + lines.join('\\n'));
              });
            }
            Object.keys(svgs).forEach(function (id) { pview.attach(svgs[id], width); });

            var legend = document.getElementById('legend');
            Object.keys(KINDS).forEach(function (k) {
              var s = document.createElement('span'), svg = el('svg', {width: k === 'oops' ? 40 : 16, height: 16, 'class': 'mark ' + k}, s);
              if (k === 'oops') {
                el('rect', {x: 1, y: 1, width: 38, height: 14, rx: 3}, svg);
                el('text', {x: 20, y: 12, 'text-anchor': 'middle'}, svg, KINDS[k][0]);
              } else {
                el('text', {x: 8, y: 13, 'text-anchor': 'middle', fill: KINDS[k][1]}, svg, KINDS[k][0]);
              }
              s.appendChild(document.createTextNode(' ' + KINDS[k][2]));
              legend.appendChild(s);
            });
            oview.home();
            pview.home();
            window.addEventListener('resize', function () { oview.set(oview.v0, oview.v1); pview.set(pview.v0, pview.v1); });
            })();
            """;
}
