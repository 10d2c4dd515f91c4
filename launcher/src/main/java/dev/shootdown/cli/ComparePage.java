package dev.shootdown.cli;

import dev.shootdown.cli.report.HtmlReport;
import static dev.shootdown.cli.report.HtmlReport.esc;

import java.util.Map;

/**
 * {@code compare.html}: one self-contained page (inline CSS, no script, nothing fetched) with a
 * comparison: a column per kernel variant, the summary rows, the rules that differ (with their
 * sources), each run's shootdowns with their hook calls, and where the logs part. Each column's
 * heading links to that run's report.html.
 */
final class ComparePage {

    private ComparePage() {}

    static String render(CompareCommand.Comparison c) {
        StringBuilder h = new StringBuilder(32 * 1024);
        h.append("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n<title>Shootdown compare: ").append(esc(c.scenario()))
                .append("</title>\n<style>\n")
                .append("body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#222}h1{font-size:20px}h2{font-size:16px;margin-top:24px}")
                .append("table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:4px 8px;text-align:left;vertical-align:top}")
                .append(".clean{background:#e8f5e9}.violations{background:#ffebee}.differs{background:#fff8e1}")
                .append("code{font:12px monospace;color:#333;word-break:break-all}.source{color:#666;font-size:12px}")
                .append("ul{margin:4px 0;padding-left:18px}")
                .append("</style></head><body>\n");
        h.append("<h1>Shootdown compare: ").append(esc(c.scenario())).append(" on ").append(esc(c.arch())).append(", seed ")
                .append(c.seed()).append("</h1>\n");
        h.append("<table id=\"summary\"><tr><th></th>");
        for (CompareCommand.Side s : c.kernels()) {
            h.append("<th><a href=\"").append(esc(s.kernel())).append("/report.html\">").append(esc(s.kernel())).append("</a><div class=\"source\">")
                    .append(esc(s.description())).append("</div></th>");
        }
        h.append("</tr>\n");
        for (Map.Entry<String, java.util.function.Function<CompareCommand.Side, String>> row : CompareCommand.rows().entrySet()) {
            boolean differs = c.kernels().stream().map(row.getValue()).distinct().count() > 1;
            h.append("<tr").append(differs ? " class=\"differs\"" : "").append("><th>").append(esc(row.getKey())).append("</th>");
            for (CompareCommand.Side s : c.kernels()) {
                String cls = row.getKey().equals("verdict") ? (s.violations().isEmpty() ? " class=\"clean\"" : " class=\"violations\"") : "";
                h.append("<td").append(cls).append(">").append(esc(row.getValue().apply(s))).append("</td>");
            }
            h.append("</tr>\n");
        }
        h.append("</table>\n<h2>Rules that differ</h2>\n");
        if (c.rules().isEmpty()) {
            h.append("<p>None: the variants' rules are the same.</p>\n");
        } else {
            h.append("<table id=\"rules\"><tr><th>rule</th>");
            c.kernels().forEach(s -> h.append("<th>").append(esc(s.kernel())).append("</th>"));
            h.append("</tr>\n");
            for (CompareCommand.RuleDifference d : c.rules()) {
                h.append("<tr><td><code>").append(esc(d.rule())).append("</code></td>");
                for (int i = 0; i < d.values().size(); i++) {
                    h.append("<td><code>").append(esc(d.values().get(i))).append("</code><div class=\"source\">")
                            .append(esc(d.sources().get(i))).append("</div></td>");
                }
                h.append("</tr>\n");
            }
            h.append("</table>\n");
        }
        h.append("<h2>Where the logs part</h2>\n");
        if (c.divergences().isEmpty()) {
            h.append("<p>The logs are the same, event for event (run-started aside).</p>\n");
        }
        for (CompareCommand.Divergence d : c.divergences()) {
            h.append("<p class=\"divergence\">At event ").append(d.position()).append(" (causal order, run-started aside):</p><ul><li>")
                    .append(esc(c.kernels().get(0).kernel())).append(": <code>").append(esc(d.first() == null ? "(its log ended)" : d.first()))
                    .append("</code></li><li>").append(esc(d.kernel())).append(": <code>")
                    .append(esc(d.other() == null ? "(its log ended)" : d.other())).append("</code></li></ul>\n");
        }
        for (CompareCommand.Side s : c.kernels()) {
            h.append("<h2>").append(esc(s.kernel())).append(": ").append(s.shootdownCount()).append(" shootdowns")
                    .append(s.shootdownCount() > s.shootdowns().size() ? ", the first " + s.shootdowns().size()
                            + " (the run's report.json has every one)" : "").append("</h2>\n<ol class=\"shootdowns\">");
            for (CompareCommand.ShootdownRow sd : s.shootdowns()) {
                h.append("<li value=\"").append(sd.id()).append("\">").append(esc(sd.caller())).append(" on ").append(esc(sd.cpu()))
                        .append(sd.mm() == 0 ? "" : ", mm " + sd.mm()).append(": ").append(esc(sd.order() == null ? "no order" : sd.order()))
                        .append(", ").append(sd.cpuFlushes()).append(" CPU flushes, ").append(sd.secondary())
                        .append(" secondary invalidations<ul>");
                for (String call : CompareCommand.hookCalls(sd.hookCalls())) {
                    h.append("<li><code>").append(esc(call)).append("</code></li>");
                }
                h.append("</ul></li>");
            }
            h.append("</ol>\n");
        }
        h.append("</body></html>\n");
        return h.toString();
    }
}
