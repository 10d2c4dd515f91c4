package dev.shootdown.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.shootdown.codec.EventCodec;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code experiment.html} in headless Chromium (skipped without it, as {@link HtmlReportBrowserTest}
 * says): the table the browser built has a row per scenario, arch and fault plan, every run links
 * to a report.html that exists and shows the command experiment.json gives it, and the cell whose
 * expectation failed is outlined.
 */
@Timeout(value = 3, unit = TimeUnit.MINUTES)
class ExperimentPageBrowserTest {

    @Test
    void theBrowserShowsTheTableTheLinksAndTheCommands(@TempDir Path dir) throws Exception {
        Browser.chromium();
        Path spec = Files.writeString(dir.resolve("page.yaml"), String.join("\n",
                "scenarios: [kswapd-reclaim, direct-reclaim-cross-mm]",
                "archs: [x86]",
                "seeds: [1, 2]",
                "expect:",
                "  - {scenario: kswapd-reclaim, policy: series-v2, violations: []}", // wrong on purpose: it oopses
                "  - {policy: linux-6.6, violations: []}",
                ""));
        Path out = dir.resolve("out");
        CliTest.Outcome o = CliTest.shootdown("experiment", spec.toString(), "--no-progress", "--out", out.toString());
        assertEquals(Shootdown.EXIT_VIOLATIONS, o.status(), o.out() + o.err());

        String dom = Browser.chromium(dir, out.resolve("experiment.html"), "--dump-dom");

        Matcher table = Pattern.compile("<table id=\"experiment\">.*?</table>", Pattern.DOTALL).matcher(dom);
        assertTrue(table.find(), "the table in the DOM");
        List<String> rows = all(table.group(), "<tr>(.*?)</tr>");
        assertEquals(3, rows.size(), "a header and a row per scenario: " + rows);
        assertEquals(List.of("scenario", "arch", "faults", "linux-6.5", "series-v2", "linux-6.6"), all(rows.get(0), "<th>(.*?)</th>"));
        assertTrue(rows.get(1).startsWith("<td>kswapd-reclaim</td><td>x86</td><td>none</td>"), rows.get(1));

        List<String> unmet = all(dom, "<td class=\"cell violations unmet\">(.*?)</td>");
        assertEquals(1, unmet.size(), "only kswapd-reclaim under series-v2 missed its expectation");
        assertTrue(unmet.get(0).contains("! kernel-oops") && unmet.get(0).contains("expected: clean"), unmet.get(0));

        JsonNode cells = EventCodec.mapper().readTree(out.resolve("experiment.json").toFile()).get("cells");
        List<String> links = all(dom, "<li class=\"run\"[^>]*><a href=\"([^\"]+)\">");
        List<String> commands = all(dom, "<code class=\"command\">(.*?)</code>");
        assertEquals(cells.size(), links.size(), "a link for each run");
        assertEquals(cells.size(), commands.size(), "a command for each run");
        List<String> expectedCommands = new ArrayList<>();
        cells.forEach(c -> expectedCommands.add(c.get("command").asText()));
        assertEquals(expectedCommands.stream().sorted().toList(), commands.stream().sorted().toList());
        for (String link : links) {
            Path report = out.resolve(link);
            assertTrue(Files.isRegularFile(report), "the link leads to a report: " + link);
            assertTrue(Files.readString(report).contains("<strong id=\"verdict\""), link);
        }
        assertTrue(dom.contains("id=\"expectations\" class=\"violations\">2 of 6 not met"), "the header says how many missed");
        assertFalse(Files.readString(out.resolve("experiment.html")).contains("<script"), "no script: self-contained");
    }

    private static List<String> all(String text, String regex) {
        Matcher m = Pattern.compile(regex, Pattern.DOTALL).matcher(text);
        List<String> found = new ArrayList<>();
        while (m.find()) {
            found.add(m.group(1));
        }
        return found;
    }
}
