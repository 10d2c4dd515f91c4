package dev.shootdown.cli;

import dev.shootdown.cli.report.AuditPrinter;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.shootdown.codec.EventCodec;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * What {@code run}, {@code audit} and {@code replay} print for a person: bounded whatever the run
 * (the verdict with counts by kind, the first violation of each kind, the violations grouped by
 * shootdown and kind, a table of shootdowns, the verdict last), in 120 columns; {@code --all}
 * prints everything, streamed back from report.json. The case is the seed's direct reclaim under
 * series-v2: 763 violations over 4 shootdowns.
 */
class AuditPrinterTest {

    private static final String USE_AFTER_FREE_GROUP =
            "  1          use-after-free                      369  iommu0              0x7f0000000000..0x7f0000007000\n";

    private static List<String> lines(String text) {
        return text.lines().toList();
    }

    @Test
    void aRunWithHundredsOfViolationsPrintsOneScreenInOneHundredTwentyColumns(@TempDir Path dir) throws Exception {
        CliTest.Outcome o = CliTest.shootdown("run", "--scenario", "direct-reclaim-cross-mm", "--kernel", "series-v2",
                "--engine", "sim", "--out", dir.toString());

        assertEquals(Shootdown.EXIT_VIOLATIONS, o.status(), o.err());
        List<String> lines = lines(o.out());
        assertTrue(lines.size() <= 80, "at most two screens: " + lines.size() + " lines\n" + o.out());
        for (String line : lines) {
            assertTrue(line.length() <= AuditPrinter.WIDTH || line.startsWith("wrote "), "wider than 120: " + line);
        }
        // the verdict with its counts by kind comes before any detail
        int verdict = o.out().indexOf("verdict: violations (763 violations): 712 use-after-free, 32 missing-secondary-invalidation,"
                + " 17 race-with-free, 2\n    wrong-mm-invalidation\n");
        assertTrue(verdict > 0 && verdict < o.out().indexOf("VIOLATION "), o.out());
        // the first of each kind, once each, with its shootdown
        for (String kind : List.of("use-after-free", "missing-secondary-invalidation", "race-with-free", "wrong-mm-invalidation")) {
            assertEquals(1, lines.stream().filter(l -> l.startsWith("VIOLATION " + kind + " on ")).count(), kind + "\n" + o.out());
        }
        assertTrue(o.out().contains("VIOLATION use-after-free on iommu0 at 0x7f0000007000 (shootdown 1): dev0 accessed freed"
                + " frame 0x1007 at 256.455 us\n"), o.out());
        assertTrue(o.out().contains("violations by shootdown and kind (8 groups):\n"), o.out());
        assertTrue(o.out().contains(USE_AFTER_FREE_GROUP), o.out());
        assertTrue(o.out().contains("  2          use-after-free                      343  iommu0              "
                + "0x7f0000008000..0x7f000000f000\n"), o.out());
        assertTrue(o.out().contains("""
                shootdowns (4):
                    id  caller               by     mm  PTEs  CPU flushes  hooks secondary freed  order                 secondary vs CPU
                     1  direct-reclaim       cpu1    0     8  1                8         0     8  secondary-never
                """), o.out());
        assertTrue(o.out().endsWith("\nverdict: violations (763 violations)\nwrote " + dir.resolve("events.jsonl")
                + " (2803 events), " + dir.resolve("report.json") + " and " + dir.resolve("report.html") + "\n"), o.out());

        // report.json holds the same groups, and every violation names its shootdown
        JsonNode report = EventCodec.mapper().readTree(dir.resolve("report.json").toFile());
        assertEquals(712, report.get("violationKinds").get("use-after-free").asLong());
        JsonNode group = report.get("violationGroups").get(3);
        assertEquals("use-after-free", group.get("kind").asText());
        assertEquals(369, group.get("count").asLong());
        assertEquals("0x7f0000007000", group.get("highestVa").asText());
        assertEquals(763, report.get("violations").size());
        for (JsonNode v : report.get("violations")) {
            assertTrue(v.get("shootdown").asLong() >= 1, v.toString());
        }

        // report.html lists the 8 groups, one row each, not the 763 violations
        String html = java.nio.file.Files.readString(dir.resolve("report.html"));
        assertEquals(8, html.split("<tr class=\"violation\">", -1).length - 1, "one row per group");
        assertTrue(html.contains("<tr class=\"violation\"><td>use-after-free</td><td>#2</td><td>343</td><td>iommu0</td>"),
                "a group's kind, shootdown, count and nodes");
        assertTrue(html.contains("<td>0x7f0000008000 - 0x7f000000f000</td>"), "its address range");
    }

    @Test
    void auditOfTheSameLogPrintsTheSameBoundedViewAndAllPrintsEverything(@TempDir Path dir) throws Exception {
        CliTest.recordDirectReclaimV2(dir.resolve("run"));
        Path log = dir.resolve("run").resolve("events.jsonl");

        CliTest.Outcome audit = CliTest.shootdown("audit", "--log", log.toString(), "--out", dir.resolve("a").toString());
        assertEquals(Shootdown.EXIT_VIOLATIONS, audit.status(), audit.err());
        assertTrue(audit.out().contains(USE_AFTER_FREE_GROUP), audit.out());
        assertTrue(lines(audit.out()).size() <= 80, audit.out());

        CliTest.Outcome all = CliTest.shootdown("audit", "--log", log.toString(), "--out", dir.resolve("b").toString(), "--all");
        assertEquals(Shootdown.EXIT_VIOLATIONS, all.status(), all.err());
        List<String> lines = lines(all.out());
        assertEquals(763, lines.stream().filter(l -> l.startsWith("VIOLATION ")).count());
        assertEquals(4, lines.stream().filter(l -> l.startsWith("shootdown ") && l.contains(": direct-reclaim [0x0,")).count());
        assertTrue(all.out().contains("  secondary hook         t=237.844 us  arch_tlbbatch_flush -> "
                + "arch_invalidate_secondary_tlbs(mm 2, 0x0,\n" + " ".repeat(27) + "0xffffffffffffffff)\n"), all.out());
        for (String line : lines) {
            assertTrue(line.length() <= AuditPrinter.WIDTH || line.startsWith("wrote "), "wider than 120: " + line);
        }
        assertTrue(lines.contains("verdict: violations (763 violations)"), all.out());

        CliTest.Outcome both = CliTest.shootdown("audit", "--log", log.toString(), "--all", "--json");
        assertEquals(Shootdown.EXIT_BAD_INPUT, both.status());
        assertEquals("shootdown: --all and --json: choose one\n", both.err());
    }
}
