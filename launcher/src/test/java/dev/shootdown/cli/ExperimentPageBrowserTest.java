package dev.shootdown.cli;

import static com.microsoft.playwright.assertions.PlaywrightAssertions.assertThat;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.microsoft.playwright.Locator;
import com.microsoft.playwright.Page;
import com.microsoft.playwright.options.BoundingBox;
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
 * {@code experiment.html} in a real browser ({@link Browser}; skipped without chromium unless
 * {@code SHOOTDOWN_REQUIRE_BROWSER} is set): the grid has a row per scenario, arch and fault plan;
 * every run links to a report.html that exists and shows the command experiment.json gives it; the
 * cell whose expectation failed is marked; the whole seed-outcomes grid is on one 1400 x 900 screen;
 * a click opens a cell.
 */
@Timeout(value = 4, unit = TimeUnit.MINUTES)
class ExperimentPageBrowserTest {

    @Test
    void theBrowserShowsTheGridTheLinksAndTheCommands(@TempDir Path dir) throws Exception {
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
        assertTrue(unmet.get(0).contains("<span class=\"unmet-mark\">\u2717</span>kernel-oops</summary>"), "marked in the grid");

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
        String html = Files.readString(out.resolve("experiment.html"));
        assertFalse(html.contains(" src=") || html.contains("<link"), "nothing fetched: one file");
    }

    @Test
    void theWholeSeedOutcomesGridIsOnOneScreenAndACellOpensToItsRuns(@TempDir Path dir) throws Exception {
        Browser.chromium();
        // experiments/seed-outcomes.yaml's grid (3 scenarios x 2 archs x 3 fault plans x 3 policies), one seed
        Path spec = Files.writeString(dir.resolve("grid.yaml"), String.join("\n",
                "name: grid",
                "scenarios: [smmu-permission-upgrade, kswapd-reclaim, direct-reclaim-cross-mm]",
                "archs: [x86, arm64]",
                "policies: [linux-6.5, series-v2, linux-6.6]",
                "faults: [none, " + Path.of("..", "faults", "dropped-iotlb-inv.yaml").toAbsolutePath().normalize() + ", "
                        + Path.of("..", "faults", "atc-before-iotlb.yaml").toAbsolutePath().normalize() + "]",
                "seeds: [1]",
                "expect:",
                "  - {scenario: kswapd-reclaim, arch: x86, policy: series-v2, faults: none, violations: []}", // it oopses
                ""));
        Path out = dir.resolve("out");
        CliTest.Outcome o = CliTest.shootdown("experiment", spec.toString(), "--no-progress", "--out", out.toString());
        assertEquals(Shootdown.EXIT_VIOLATIONS, o.status(), o.out() + o.err());

        try (Browser browser = Browser.open()) {
            Page page = browser.show(out.resolve("experiment.html"), 1400, 900);
            Locator cells = page.locator("td.cell");
            assertEquals(18 * 3, cells.count(), "a cell per scenario, arch, fault plan and policy");
            for (int i = 0; i < cells.count(); i++) {
                BoundingBox b = cells.nth(i).boundingBox();
                assertTrue(b.y >= 0 && b.y + b.height <= 900 && b.x >= 0 && b.x + b.width <= 1400,
                        "cell " + i + " on the first screen: " + b.x + "," + b.y + " " + b.width + "x" + b.height);
            }
            assertEquals(1, page.locator("td.cell.unmet .unmet-mark").count());
            assertTrue(page.locator("td.cell.unmet .unmet-mark").isVisible());
            assertTrue(page.locator("td.cell.violations").count() > 0 && page.locator("td.cell.clean").count() > 0);
            assertEquals("rgb(223, 243, 228)", cells.locator("summary").first().evaluate("s => getComputedStyle(s.closest('td')).backgroundColor"),
                    "the first cell, clean, is green");

            // a click opens the cell over the grid: its seed, verdict, report link and command
            Locator unmetCell = page.locator("td.cell.unmet");
            Locator runs = unmetCell.locator("div.runs");
            assertFalse(runs.isVisible());
            unmetCell.locator("summary").click();
            assertTrue(runs.isVisible());
            assertTrue(runs.textContent().contains("expected: clean"), runs.textContent());
            Locator link = runs.locator("li.run a");
            assertEquals("seed 1", link.textContent());
            assertTrue(runs.locator("code.command").textContent().contains("--scenario kswapd-reclaim"));
            // opening another closes it; Escape closes all
            cells.first().locator("summary").click();
            assertThat(runs).isHidden(); // the toggle event comes after the click: waits for it (5 s at most)
            assertThat(cells.first().locator("div.runs")).isVisible();
            page.keyboard().press("Escape");
            assertThat(page.locator("td.cell details[open]")).hasCount(0);
            unmetCell.locator("summary").click();
            link.click();
            page.waitForURL("**/report.html");
            assertEquals("violations", page.getAttribute("#verdict", "class"), "the link opens the run's report");
        }
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
