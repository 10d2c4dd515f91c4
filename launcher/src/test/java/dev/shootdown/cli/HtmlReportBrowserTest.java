package dev.shootdown.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.microsoft.playwright.ElementHandle;
import com.microsoft.playwright.Locator;
import com.microsoft.playwright.Page;
import com.microsoft.playwright.options.BoundingBox;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code report.html} in a real browser ({@link Browser}: Playwright driving Debian's chromium):
 * what its script draws for direct-reclaim-cross-mm under series-v2 and linux-6.6, and for
 * kswapd-reclaim under series-v2; the axes, the zoom, the marks. Skipped where no chromium is
 * installed, unless {@code SHOOTDOWN_REQUIRE_BROWSER} is set (CI sets it).
 */
@Timeout(value = 4, unit = TimeUnit.MINUTES)
class HtmlReportBrowserTest {

    @TempDir
    static Path dir;
    private static Browser browser;
    private final List<String> errors = new ArrayList<>();

    @BeforeAll
    static void open() {
        browser = Browser.open();
    }

    @AfterAll
    static void close() {
        if (browser != null) {
            browser.close();
        }
    }

    private static Path report(String scenario, String policy) {
        Path out = dir.resolve(scenario + "-" + policy);
        if (!Files.isRegularFile(out.resolve("report.html"))) {
            CliTest.Outcome o = CliTest.shootdown("run", "--scenario", scenario, "--policy", policy, "--engine", "sim", "--out",
                    out.toString());
            assertTrue(o.status() == Shootdown.EXIT_CLEAN || o.status() == Shootdown.EXIT_VIOLATIONS, o.err());
        }
        return out.resolve("report.html");
    }

    /** The page in a 1400 x 900 window, with the script's errors and the console's collected. */
    private Page show(String scenario, String policy) {
        Page page = browser.show(report(scenario, policy), 1400, 900);
        page.onPageError(errors::add);
        page.onConsoleMessage(m -> {
            if (m.type().equals("error")) {
                errors.add(m.text());
            }
        });
        page.reload();
        return page;
    }

    private static Locator panel(Page page, int n) {
        return page.locator("svg.timeline").nth(n);
    }

    private static int marks(Locator svg, String lane, String kind) {
        return svg.locator("g.mark." + kind + "[data-lane=\"" + lane + "\"]").count();
    }

    private static List<Double> ticks(Locator svg) {
        List<Double> out = new ArrayList<>();
        for (String t : svg.locator("text.tick-label").allTextContents()) {
            out.add(Double.parseDouble(t.replace("+", "")));
        }
        return out;
    }

    private static long[] view(Locator svg) {
        String[] v = svg.getAttribute("data-view").split(" ");
        return new long[] {Long.parseLong(v[0]), Long.parseLong(v[1])};
    }

    @Test
    void theBrowserShowsTheV2WrongMmBugAndTheMergedFixApart() {
        Page v2 = show("direct-reclaim-cross-mm", "series-v2");
        Page fixed = show("direct-reclaim-cross-mm", "linux-6.6");
        assertEquals("violations", v2.getAttribute("#verdict", "class"), "v2 is red");
        assertEquals("clean", fixed.getAttribute("#verdict", "class"), "6.6 is green");
        assertTrue(v2.textContent("#kinds").contains("use-after-free") && v2.textContent("#kinds").contains("wrong-mm-invalidation"));

        // The first reclaim batch: 6.6 invalidates the device's IOTLB and ATC; v2 never does and
        // the device keeps writing frames it freed.
        Locator bad = panel(v2, 0);
        Locator good = panel(fixed, 0);
        assertEquals(0, marks(bad, "iommu0", "iotlb") + marks(bad, "iommu0", "atc"), "no IOTLB or ATC invalidation under v2");
        assertTrue(marks(good, "iommu0", "iotlb") >= 1 && marks(good, "iommu0", "atc") >= 1, "IOTLB and ATC invalidated under 6.6");
        assertEquals(0, marks(good, "iommu0", "violation"));
        assertTrue(marks(good, "coordinator", "hook") >= 1 && marks(bad, "coordinator", "hook") >= 1,
                "both call the hook; only one calls it for the right mm");
        // v2: in the view it opens on, the device writes frames after the free that a dashed line ties them to.
        double free = bad.locator("g.mark.free[data-lane=\"coordinator\"]").first().boundingBox().x;
        Locator dma = bad.locator("g.mark.violation[data-lane=\"iommu0\"]");
        assertTrue(dma.count() > 0, "violating DMA drawn under v2");
        double lastDma = dma.nth(dma.count() - 1).boundingBox().x;
        assertTrue(lastDma > free, "a DMA after the free: " + lastDma + " > " + free);
        assertTrue(bad.locator("path.uaf-link").count() > 0, "the free it violates, linked");
        assertTrue(dma.nth(dma.count() - 1).textContent().contains("use-after-free"), "its hover text says what it is");
        // 6.6: the ATC is invalidated before the frames are freed
        double atc = good.locator("g.mark.atc[data-lane=\"iommu0\"]").last().boundingBox().x;
        double goodFree = good.locator("g.mark.free[data-lane=\"coordinator\"]").first().boundingBox().x;
        assertTrue(atc < goodFree, "ATC invalidated at " + atc + " before the free at " + goodFree);
        assertEquals(List.of(), errors, "no script errors");
    }

    @Test
    void theOverviewAndEachPanelHaveATimeAxisInMicroseconds() {
        Page page = show("direct-reclaim-cross-mm", "series-v2");
        Locator overview = page.locator("#overview svg");
        List<Double> ticks = ticks(overview);
        assertTrue(ticks.size() >= 4, "ticks on the overview: " + ticks);
        for (int i = 1; i < ticks.size(); i++) {
            assertTrue(ticks.get(i) > ticks.get(i - 1), "increasing: " + ticks);
        }
        long[] whole = view(overview);
        assertEquals(0, whole[0]);
        assertTrue(ticks.get(ticks.size() - 1) * 1000 <= whole[1] && ticks.get(ticks.size() - 1) * 1000 > whole[1] / 2,
                "the ticks span the run, in us: " + ticks + " over " + whole[1] + " ns");
        assertTrue(overview.locator("rect.span").count() >= 4, "every shootdown on it");
        assertTrue(overview.locator("rect.span.violated").count() >= 1, "the violated ones marked");
        assertTrue(overview.locator("text.axis-title").textContent().contains("us"));

        int panels = page.locator("svg.timeline").count();
        assertTrue(panels >= 4, "a panel per shootdown: " + panels);
        List<Double> first = ticks(panel(page, 0));
        assertTrue(first.size() >= 4, "ticks on a panel: " + first);
        for (int i = 0; i < panels; i++) {
            assertEquals(first, ticks(panel(page, i)), "one scale across the panels");
        }
        assertTrue(page.locator("#shootdown-1").isVisible());
        assertEquals(List.of(), errors, "no script errors");
    }

    @Test
    void zoomChangesWhatIsShownAndDoubleClickBringsItBack() {
        Page page = show("direct-reclaim-cross-mm", "series-v2");
        Locator overview = page.locator("#overview svg");
        long[] before = view(overview);
        page.locator("#overview button[data-zoom=in]").click();
        long[] zoomed = view(overview);
        assertEquals((before[1] - before[0]) / 2.0, zoomed[1] - zoomed[0], 2, "zoom in halves the range");
        assertNotEquals(ticks(overview).size() == 0 ? 0 : 1, 0);
        page.locator("#overview button[data-zoom=reset]").click();
        assertEquals(before[0], view(overview)[0]);
        assertEquals(before[1], view(overview)[1]);

        // the wheel over a panel zooms every panel, around the pointer
        Locator first = panel(page, 0);
        long[] home = view(first);
        List<Double> homeTicks = ticks(first);
        first.scrollIntoViewIfNeeded();
        BoundingBox box = first.boundingBox();
        page.mouse().move(box.x + box.width * 0.6, box.y + box.height / 2);
        page.mouse().wheel(0, -300);
        page.mouse().wheel(0, -300);
        long[] wheeled = view(first);
        assertTrue(wheeled[1] - wheeled[0] < home[1] - home[0], "wheel up zooms in: " + wheeled[0] + ".." + wheeled[1]);
        assertNotEquals(homeTicks, ticks(first), "the axis is drawn again for the new range");
        assertEquals(first.getAttribute("data-view"), panel(page, 1).getAttribute("data-view"), "the panels zoom together");
        // dragging pans: the range keeps its width and moves
        page.mouse().move(box.x + box.width * 0.6, box.y + box.height / 2);
        page.mouse().down();
        page.mouse().move(box.x + box.width * 0.3, box.y + box.height / 2, new com.microsoft.playwright.Mouse.MoveOptions().setSteps(5));
        page.mouse().up();
        long[] panned = view(first);
        assertEquals(wheeled[1] - wheeled[0], panned[1] - panned[0], 2, "a pan keeps the width");
        assertTrue(panned[0] > wheeled[0], "dragged left: later times come in");
        first.dblclick();
        assertEquals(home[0], view(first)[0]);
        assertEquals(home[1], view(first)[1]);
        assertTrue(page.locator("svg.timeline text.offview.bad").count() > 0, "the view it opens on counts accesses outside it");
        page.locator("#panels button[data-zoom=all]").click();
        assertTrue(view(first)[0] < home[0], "'with every violation' takes in the access that raced before shootdown 2 began");
        assertEquals(0, page.locator("svg.timeline text.offview").count(), "and leaves nothing outside");
        assertEquals(List.of(), errors, "no script errors");
    }

    @Test
    void aKswapdRunUnderSeriesV2ShowsItsOopsAndNothingHidesIt() {
        Page page = show("kswapd-reclaim", "series-v2");
        Locator oops = page.locator("svg.timeline g.mark.oops");
        assertTrue(oops.count() >= 1, "an oops drawn");
        oops.first().scrollIntoViewIfNeeded();
        assertTrue(oops.first().isVisible());
        assertEquals("OOPS", oops.first().locator("text").textContent());
        // whatever is drawn at its middle is the oops itself: no other mark hides it
        BoundingBox b = oops.first().boundingBox();
        assertNotNull(b);
        Object top = page.evaluate("([x, y]) => { const e = document.elementFromPoint(x, y); const g = e && e.closest('g.mark');"
                + " return g ? g.getAttribute('class') : (e ? e.tagName : null); }", List.of(b.x + b.width / 2, b.y + b.height / 2));
        assertEquals("mark oops", top);
        // and the overview marks it too
        assertTrue(page.locator("#overview rect.voops").count() >= 1, "the oops on the overview");
        // every kind in the legend is drawn differently
        Locator legend = page.locator("#legend span");
        assertEquals(12, legend.count(), legend.allTextContents().toString());
        List<String> glyphs = new ArrayList<>();
        for (ElementHandle h : page.querySelectorAll("#legend svg")) {
            glyphs.add(h.textContent() + h.querySelector("text").getAttribute("fill"));
        }
        assertEquals(glyphs.size(), glyphs.stream().distinct().count(), "distinct marks: " + glyphs);
        assertEquals(List.of(), errors, "no script errors");
    }

    @Test
    void itIsOneFileWithAddressesInHex() throws Exception {
        Path html = report("direct-reclaim-cross-mm", "series-v2");
        String text = Files.readString(html);
        assertFalse(text.contains(" src=") || text.contains("<link") || text.contains("@import"), "nothing fetched");
        Page page = show("direct-reclaim-cross-mm", "series-v2");
        Path png = dir.resolve("report.png");
        page.screenshot(new Page.ScreenshotOptions().setPath(png).setFullPage(true));
        assertTrue(Files.size(png) > 50_000, "not a blank page: " + Files.size(png));
        // the hover text of a mark: the trace line of its event, addresses in hex
        String pte = panel(page, 0).locator("g.mark.pte title").first().textContent();
        assertTrue(pte.matches("(?s).*ptep_get_and_clear.*va=0x7f0000000000.*"), pte);
        assertTrue(page.locator("#violations").textContent().contains("0x7f0000000000"), "the table's addresses in hex");
        // one row per cause, its chain opened on a click
        Locator row = page.locator("#violations tr.violation").first();
        assertFalse(row.locator("details .chain").first().isVisible());
        row.locator("summary").click();
        assertTrue(row.locator("details .chain").first().isVisible());
        assertTrue(row.locator("details").textContent().contains("shootdown trace --log events.jsonl --why "));
        assertEquals(List.of(), errors, "no script errors");
    }
}
