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
 * {@code shootdown compare} on the seed's cells: each pair of kernels shows the rules that make
 * them differ, the verdicts the seed thread reported, the hook calls behind them and where the
 * logs part; the page in headless Chromium.
 */
@Timeout(value = 3, unit = TimeUnit.MINUTES)
class CompareCommandTest {

    @TempDir
    Path dir;

    /** The line of the summary table that starts with {@code label}, split into its columns. */
    private static List<String> row(String out, String label) {
        List<String> lines = out.lines().toList();
        for (int i = 0; i < lines.size(); i++) {
            if (lines.get(i).startsWith(label + "  ")) {
                return CliTest.tableRow(lines, i);
            }
        }
        throw new AssertionError("no row " + label + " in\n" + out);
    }

    @Test
    void kswapdReclaimUnderLinux66AndSeriesV2DiffersInTheTwoX86RulesAndOnlyV2Oopses() throws Exception {
        CliTest.Outcome o = CliTest.shootdown("compare", "--scenario", "kswapd-reclaim", "--kernel", "linux-6.6", "--kernel",
                "series-v2", "--out", dir.toString());

        assertEquals(Shootdown.EXIT_CLEAN, o.status(), o.out() + o.err());
        assertEquals(List.of("verdict", "clean", "violations"), row(o.out(), "verdict"));
        assertTrue(row(o.out(), "violations").get(2).startsWith("kernel-oops "), o.out());
        assertTrue(o.out().contains("rules that differ:\n  x86.arch_tlbbatch_add_pending.hook\n"), o.out());
        assertTrue(o.out().contains("  x86.arch_tlbbatch_flush.hook\n    linux-6.6 none\n"
                + "    series-v2 {mm: current->mm, range: [0, -1], at: after-flush}\n"), o.out());
        assertTrue(o.out().contains("arch_invalidate_secondary_tlbs from arch_tlbbatch_flush(NULL, 0x0, 0xffffffffffffffff)"),
                "v2's hook with kswapd's NULL current->mm: " + o.out());
        assertTrue(o.out().contains("arch_invalidate_secondary_tlbs from arch_tlbbatch_add_pending(mm 1, 0x0, 0xffffffffffffffff)"),
                "6.6's whole-mm hook for each page: " + o.out());
        Matcher part = Pattern.compile("the logs part at event (\\d+) .*\\n  linux-6.6 (.*)\\n  series-v2 (.*)\\n").matcher(o.out());
        assertTrue(part.find(), o.out());
        assertTrue(part.group(2).contains("\"type\":\"secondary-tlb-hook-called\"") && part.group(2).contains("arch_tlbbatch_add_pending"),
                "6.6 calls the hook where v2 does not: " + part.group(2));

        JsonNode json = EventCodec.mapper().readTree(dir.resolve("compare.json").toFile());
        assertEquals("kswapd-reclaim", json.get("scenario").asText());
        assertEquals(2, json.get("rules").size(), json.get("rules").toString());
        assertTrue(json.get("kernels").get(1).get("violations").has("kernel-oops"));
        assertEquals(0, json.get("kernels").get(0).get("violations").size());
        assertTrue(json.get("kernels").get(0).get("hookCalls").get("arch_tlbbatch_add_pending").asInt() > 0);
        assertEquals(Integer.parseInt(part.group(1)), json.get("divergences").get(0).get("position").asInt());
        for (String kernel : List.of("linux-6.6", "series-v2")) {
            assertTrue(Files.isRegularFile(dir.resolve(kernel).resolve("events.jsonl")), kernel);
            assertTrue(Files.isRegularFile(dir.resolve(kernel).resolve("report.html")), kernel);
        }
    }

    @Test
    void smmuPermissionUpgradeOnArm64Under65And66ShowsTheLivelockAndTheNosyncHookThatEndsIt() {
        CliTest.Outcome o = CliTest.shootdown("compare", "--scenario", "smmu-permission-upgrade", "--arch", "arm64", "--kernel",
                "linux-6.5", "--kernel", "linux-6.6");

        assertEquals(Shootdown.EXIT_CLEAN, o.status(), o.out() + o.err());
        assertTrue(row(o.out(), "violations").get(1).contains("fault-livelock"), o.out());
        assertEquals("-", row(o.out(), "violations").get(2), o.out());
        assertTrue(o.out().contains("  arm64.__flush_tlb_page_nosync.hook\n    linux-6.5 none\n"
                + "    linux-6.6 {mm: mm, range: [start, end], at: before-wait}\n"), o.out());
        assertTrue(o.out().contains("arch_invalidate_secondary_tlbs from __flush_tlb_page_nosync(mm 1,"), o.out());
        assertTrue(o.out().contains("the logs part at event "), o.out());
    }

    @Test
    void directReclaimOfAnotherMmUnderSeriesV2NamesTheWrongMm() {
        CliTest.Outcome o = CliTest.shootdown("compare", "--scenario", "direct-reclaim-cross-mm", "--kernel", "series-v2", "--kernel",
                "linux-6.6");

        assertEquals(Shootdown.EXIT_CLEAN, o.status(), o.out() + o.err());
        assertTrue(row(o.out(), "violations").get(1).contains("wrong-mm-invalidation"), o.out());
        assertEquals(List.of("verdict", "violations", "clean"), row(o.out(), "verdict"));
        assertTrue(o.out().contains("arch_invalidate_secondary_tlbs from arch_tlbbatch_flush(mm 2,"), "B's own mm: " + o.out());
    }

    /** The repository's example variant: one changed rule, and kswapd oopses as under v2. */
    @Test
    void theExampleVariantAgainstLinux66ChangesOneRuleAndReproducesTheV2Oops() {
        CliTest.Outcome o = CliTest.shootdown("compare", "--scenario", "kswapd-reclaim", "--kernel", "linux-6.6", "--kernel",
                KernelVariantCommandsTest.EXAMPLE.toString());

        assertEquals(Shootdown.EXIT_CLEAN, o.status(), o.out() + o.err());
        assertTrue(row(o.out(), "violations").get(2).startsWith("kernel-oops"), o.out());
        String rules = o.out().substring(o.out().indexOf("rules that differ:"), o.out().indexOf("\n\n", o.out().indexOf("rules that differ:")));
        assertEquals(List.of("rules that differ:", "  x86.arch_tlbbatch_flush.hook", "    linux-6.6            none",
                "    v2-batch-hook-on-6.6 {mm: current->mm, range: [0, -1], at: after-flush}"), rules.lines().toList());
    }

    /** munmap-dma on x86 never reaches the batched flush, the only code where linux-6.6 and series-v2 differ. */
    @Test
    void whereTheRulesThatDifferAreNeverReachedTheLogsAreTheSame() {
        CliTest.Outcome o = CliTest.shootdown("compare", "--scenario", "munmap-dma", "--kernel", "linux-6.6", "--kernel", "series-v2");

        assertEquals(Shootdown.EXIT_CLEAN, o.status(), o.out() + o.err());
        assertTrue(o.out().contains("the logs are the same, event for event (run-started aside)"), o.out());
        assertEquals(row(o.out(), "hook calls").get(1), row(o.out(), "hook calls").get(2));
    }

    @Test
    void fewerThanTwoKernelsOrTheSameOneTwiceIsOneLineOfBadInput() {
        CliTest.Outcome one = CliTest.shootdown("compare", "--scenario", "munmap-dma", "--kernel", "linux-6.6");
        assertEquals(Shootdown.EXIT_BAD_INPUT, one.status());
        assertEquals("shootdown: --kernel: give two or more kernel variants to compare, got 1\n", one.err());
        CliTest.Outcome twice = CliTest.shootdown("compare", "--scenario", "munmap-dma", "--kernel", "linux-6.6", "--kernel",
                "linux-6.6");
        assertEquals("shootdown: --kernel linux-6.6: linux-6.6 is already compared\n", twice.err());
    }

    @Test
    void thePageShowsAColumnPerKernelTheRulesThatDifferAndLinksToEachReport() throws Exception {
        Browser.chromium();
        Path out = dir.resolve("out");
        CliTest.Outcome o = CliTest.shootdown("compare", "--scenario", "kswapd-reclaim", "--kernel", "linux-6.6", "--kernel",
                "series-v2", "--kernel", "linux-6.5", "--out", out.toString());
        assertEquals(Shootdown.EXIT_CLEAN, o.status(), o.out() + o.err());

        String dom = Browser.chromium(dir, out.resolve("compare.html"), "--dump-dom");

        Matcher summary = Pattern.compile("<table id=\"summary\">.*?</table>", Pattern.DOTALL).matcher(dom);
        assertTrue(summary.find(), "the summary table in the DOM");
        List<String> links = all(summary.group(), "<th><a href=\"([^\"]+)\">");
        assertEquals(List.of("linux-6.6/report.html", "series-v2/report.html", "linux-6.5/report.html"), links);
        for (String link : links) {
            assertTrue(Files.readString(out.resolve(link)).contains("<strong id=\"verdict\""), link);
        }
        assertTrue(summary.group().contains("<tr class=\"differs\"><th>verdict</th><td class=\"clean\">clean</td>"
                + "<td class=\"violations\">violations</td><td class=\"clean\">clean</td></tr>"), summary.group());
        Matcher rules = Pattern.compile("<table id=\"rules\">.*?</table>", Pattern.DOTALL).matcher(dom);
        assertTrue(rules.find(), "the rules table");
        assertTrue(rules.group().contains("<code>x86.arch_tlbbatch_flush.hook</code>"), rules.group());
        assertTrue(rules.group().contains("[PATCH v2 3/5]"), "each value with its source: " + rules.group());
        assertTrue(dom.contains("class=\"divergence\""), "where the logs part");
        assertFalse(Files.readString(out.resolve("compare.html")).contains("<script"), "no script: self-contained");
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
