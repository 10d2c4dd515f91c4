package dev.shootdown.cli;

import dev.shootdown.cli.experiment.Cells;
import dev.shootdown.cli.report.HtmlReport;
import static dev.shootdown.cli.report.HtmlReport.esc;

import java.util.List;

/**
 * {@code experiment.html}: one self-contained page (inline CSS, no script, nothing fetched) with
 * the experiment's table: a row per scenario, arch and fault plan, a column per policy. Each cell
 * gives its verdict over the seeds, coloured (green clean, red violations, outlined when an
 * expectation failed), then each seed's run: a link to its report.html, its verdict, and the
 * command that reproduces it.
 */
final class ExperimentPage {

    private ExperimentPage() {}

    static String render(ExperimentCommand.Experiment e, List<ExperimentCommand.Row> rows) {
        StringBuilder h = new StringBuilder(32 * 1024);
        h.append("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n<title>Shootdown experiment: ").append(esc(e.name()))
                .append("</title>\n<style>\n")
                .append("body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#222}h1{font-size:20px}")
                .append("table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:4px 8px;text-align:left;vertical-align:top}")
                .append(".clean{background:#e8f5e9}.violations{background:#ffebee}.error{background:#fff3e0}")
                .append(".unmet{outline:3px solid #c62828;outline-offset:-3px}.verdict{font-weight:600}")
                .append("ul.runs{margin:4px 0 0;padding-left:16px}ul.runs li{margin:2px 0}")
                .append("code{font:12px monospace;color:#444;word-break:break-all}.expected{color:#555;font-size:12px}")
                .append("</style></head><body>\n");
        h.append("<h1>Shootdown experiment: ").append(esc(e.name())).append("</h1>\n<p>spec <code>").append(esc(e.spec()))
                .append("</code>, engine ").append(esc(e.engine())).append(", seeds ")
                .append(esc(e.seeds().stream().map(String::valueOf).reduce((a, b) -> a + ", " + b).orElse(""))).append(" &mdash; ")
                .append(e.runs()).append(" runs; expectations: <strong id=\"expectations\" class=\"")
                .append(e.unmet() == 0 ? "clean\">" : "violations\">").append(e.checked() == 0 ? "none"
                        : e.unmet() == 0 ? "all " + e.checked() + " met" : e.unmet() + " of " + e.checked() + " not met")
                .append("</strong>").append(e.failed() == 0 ? "" : "; <strong class=\"error\">" + e.failed() + " runs failed</strong>")
                .append("</p>\n");
        h.append("<table id=\"experiment\"><tr><th>scenario</th><th>arch</th><th>faults</th>");
        for (String policy : e.policies()) {
            h.append("<th>").append(esc(policy)).append("</th>");
        }
        h.append("</tr>\n");
        for (ExperimentCommand.Row row : rows) {
            h.append("<tr><td>").append(esc(row.scenario())).append("</td><td>").append(esc(row.arch())).append("</td><td>")
                    .append(esc(row.faults())).append("</td>");
            for (String policy : e.policies()) {
                cell(h, row.byPolicy().getOrDefault(policy, List.of()));
            }
            h.append("</tr>\n");
        }
        h.append("</table>\n</body></html>\n");
        return h.toString();
    }

    private static void cell(StringBuilder h, List<ExperimentCommand.Run> runs) {
        boolean error = runs.stream().anyMatch(r -> !r.result().complete());
        boolean violations = runs.stream().anyMatch(r -> !r.result().violations().isEmpty());
        String cls = error ? "error" : violations ? "violations" : "clean";
        boolean unmet = ExperimentCommand.unmet(runs);
        h.append("<td class=\"cell ").append(cls).append(unmet ? " unmet" : "").append("\"><div class=\"verdict\">")
                .append(esc(ExperimentCommand.aggregate(runs))).append("</div>");
        if (!runs.isEmpty() && runs.get(0).expected() != null) {
            h.append("<div class=\"expected\">expected: ").append(esc(runs.get(0).expected())).append("</div>");
        }
        h.append("<ul class=\"runs\">");
        for (ExperimentCommand.Run r : runs) {
            Cells.Result c = r.result();
            h.append("<li class=\"run\"").append(Boolean.FALSE.equals(r.met()) ? " data-unmet=\"true\"" : "").append("><a href=\"")
                    .append(esc(c.dir())).append("/report.html\">seed ").append(c.seed()).append("</a>: ").append(esc(c.summary()))
                    .append(c.error() == null ? "" : " (" + esc(c.error()) + ")").append("<br><code class=\"command\">")
                    .append(esc(c.command())).append("</code></li>");
        }
        h.append("</ul></td>");
    }
}
