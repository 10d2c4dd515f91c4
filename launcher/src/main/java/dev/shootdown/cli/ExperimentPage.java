package dev.shootdown.cli;

import static dev.shootdown.cli.report.HtmlReport.esc;

import dev.shootdown.cli.experiment.Cells;
import java.util.List;

/**
 * {@code experiment.html}: one self-contained page (inline CSS and a few lines of script, nothing
 * fetched) with the experiment as a compact grid: a row per scenario, arch and fault plan, a
 * column per policy, each cell one line coloured by its verdict over the seeds (green clean, red
 * violations, orange a run that failed), with a mark where an expectation is not met. A click on a
 * cell opens it over the grid: each seed's run, its verdict, a link to its report.html and the
 * command that reproduces it.
 */
final class ExperimentPage {

    private ExperimentPage() {}

    private static final String STYLE = """
            body{font:14px/1.4 system-ui,sans-serif;margin:20px;color:#222}h1{font-size:20px;margin:0 0 6px}p{margin:4px 0 10px}
            table{border-collapse:collapse}td,th{border:1px solid #ddd;padding:2px 8px;text-align:left;white-space:nowrap}
            th{background:#f5f5f5;font-weight:600}td.repeat{color:#aaa}
            td.cell{position:relative;padding:0;min-width:240px;max-width:300px}
            td.cell summary{list-style:none;cursor:pointer;padding:2px 8px;overflow:hidden;text-overflow:ellipsis;max-width:300px}
            td.cell summary::-webkit-details-marker{display:none}
            .clean{background:#dff3e4}.violations{background:#fbdada}.error{background:#ffe8c7}
            .unmet{outline:3px solid #c62828;outline-offset:-3px}
            .unmet-mark{color:#c62828;font-weight:700;margin-right:4px}
            .runs{position:absolute;z-index:10;top:100%;left:0;background:#fff;border:1px solid #999;box-shadow:0 4px 14px #0003;
            padding:8px 10px;width:640px;white-space:normal}
            .runs .verdict{font-weight:600}.runs ul{margin:4px 0 0;padding-left:16px}.runs li{margin:3px 0}
            code{font:12px monospace;color:#444;overflow-wrap:anywhere}.expected{color:#555;font-size:12px}
            .legend span{display:inline-block;margin-right:14px;padding:0 6px}
            """;

    /** Opening a cell closes the one open before; Escape closes it. */
    private static final String SCRIPT = """
            document.querySelectorAll('td.cell details').forEach(function (d) {
              d.addEventListener('toggle', function () {
                if (!d.open) return;
                document.querySelectorAll('td.cell details[open]').forEach(function (o) { if (o !== d) o.open = false; });
              });
            });
            document.addEventListener('keydown', function (e) {
              if (e.key === 'Escape') document.querySelectorAll('td.cell details[open]').forEach(function (o) { o.open = false; });
            });
            """;

    static String render(ExperimentCommand.Experiment e, List<ExperimentCommand.Row> rows) {
        StringBuilder h = new StringBuilder(32 * 1024);
        h.append("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n<title>Shootdown experiment: ").append(esc(e.name()))
                .append("</title>\n<style>\n").append(STYLE).append("</style></head><body>\n");
        h.append("<h1>Shootdown experiment: ").append(esc(e.name())).append("</h1>\n<p>spec <code>").append(esc(e.spec()))
                .append("</code>, engine ").append(esc(e.engine())).append(", seeds ")
                .append(esc(e.seeds().stream().map(String::valueOf).reduce((a, b) -> a + ", " + b).orElse(""))).append(" &mdash; ")
                .append(e.runs()).append(" runs; expectations: <strong id=\"expectations\" class=\"")
                .append(e.unmet() == 0 ? "clean\">" : "violations\">").append(e.checked() == 0 ? "none"
                        : e.unmet() == 0 ? "all " + e.checked() + " met" : e.unmet() + " of " + e.checked() + " not met")
                .append("</strong>").append(e.failed() == 0 ? "" : "; <strong class=\"error\">" + e.failed() + " runs failed</strong>")
                .append("</p>\n<p class=\"legend\"><span class=\"clean\">clean</span><span class=\"violations\">violations</span>")
                .append("<span class=\"error\">a run failed</span><span class=\"unmet\"><span class=\"unmet-mark\">\u2717</span>")
                .append("expectation not met</span> Click a cell for its seeds, reports and commands.</p>\n");
        h.append("<table id=\"experiment\"><tr><th>scenario</th><th>arch</th><th>faults</th>");
        for (String policy : e.policies()) {
            h.append("<th>").append(esc(policy)).append("</th>");
        }
        h.append("</tr>\n");
        String previous = null;
        for (ExperimentCommand.Row row : rows) {
            boolean repeat = row.scenario().equals(previous);
            previous = row.scenario();
            h.append("<tr><td").append(repeat ? " class=\"repeat\"" : "").append(">").append(esc(row.scenario())).append("</td><td>")
                    .append(esc(row.arch())).append("</td><td>").append(esc(row.faults())).append("</td>");
            for (String policy : e.policies()) {
                cell(h, row.byPolicy().getOrDefault(policy, List.of()));
            }
            h.append("</tr>\n");
        }
        h.append("</table>\n<script>\n").append(SCRIPT).append("</script>\n</body></html>\n");
        return h.toString();
    }

    private static void cell(StringBuilder h, List<ExperimentCommand.Run> runs) {
        boolean error = runs.stream().anyMatch(r -> !r.result().complete());
        boolean violations = runs.stream().anyMatch(r -> !r.result().violations().isEmpty());
        String cls = error ? "error" : violations ? "violations" : "clean";
        boolean unmet = ExperimentCommand.unmet(runs);
        String verdict = ExperimentCommand.aggregate(runs);
        String expected = runs.isEmpty() ? null : runs.get(0).expected();
        h.append("<td class=\"cell ").append(cls).append(unmet ? " unmet" : "").append("\"><details><summary title=\"")
                .append(esc(verdict)).append(expected == null ? "" : " (expected: " + esc(expected) + ")").append("\">");
        if (unmet) {
            h.append("<span class=\"unmet-mark\">\u2717</span>");
        }
        h.append(esc(unmet ? verdict.substring(2) : verdict)).append("</summary><div class=\"runs\"><div class=\"verdict\">")
                .append(esc(verdict)).append("</div>");
        if (expected != null) {
            h.append("<div class=\"expected\">expected: ").append(esc(expected)).append("</div>");
        }
        h.append("<ul class=\"runs\">");
        for (ExperimentCommand.Run r : runs) {
            Cells.Result c = r.result();
            h.append("<li class=\"run\"").append(Boolean.FALSE.equals(r.met()) ? " data-unmet=\"true\"" : "").append("><a href=\"")
                    .append(esc(c.dir())).append("/report.html\">seed ").append(c.seed()).append("</a>: ").append(esc(c.summary()))
                    .append(c.error() == null ? "" : " (" + esc(c.error()) + ")").append("<br><code class=\"command\">")
                    .append(esc(c.command())).append("</code></li>");
        }
        h.append("</ul></div></details></td>");
    }
}
