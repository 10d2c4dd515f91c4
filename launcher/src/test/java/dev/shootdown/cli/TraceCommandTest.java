package dev.shootdown.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.shootdown.codec.EventCodec;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code shootdown trace} on the log of direct-reclaim-cross-mm under series-v2 (the seed's second
 * bug: the hook called for current->mm, not the mm whose PTEs the batch changed), as a kernel
 * developer reads it.
 */
class TraceCommandTest {

    @TempDir
    static Path dir;

    static Path log;
    static JsonNode report;

    /** A line's columns: time, node, id, step, fields. */
    private static final Pattern LINE = Pattern.compile("^\\s*(\\d+\\.\\d{3})  (\\S+)\\s+(\\S+#\\d+)\\s+(\\S+)\\s*(.*)$");

    @BeforeAll
    static void run() throws Exception {
        CliTest.Outcome o = CliTest.shootdown("run", "--scenario", "direct-reclaim-cross-mm", "--kernel", "series-v2", "--out",
                dir.resolve("run").toString());
        assertEquals(Shootdown.EXIT_VIOLATIONS, o.status(), o.out() + o.err());
        log = dir.resolve("run/events.jsonl");
        report = EventCodec.mapper().readTree(dir.resolve("run/report.json").toFile());
    }

    private static List<Matcher> lines(CliTest.Outcome o) {
        assertEquals(Shootdown.EXIT_CLEAN, o.status(), o.err());
        return o.out().lines().filter(l -> !l.startsWith("audit: ")).map(l -> {
            Matcher m = LINE.matcher(l);
            assertTrue(m.matches(), "a trace line: " + l);
            return m;
        }).toList();
    }

    @Test
    void everyEventIsOneLineInLogOrderWithItsAddressesInHex() throws Exception {
        List<Matcher> lines = lines(CliTest.shootdown("trace", "--log", log.toString()));
        List<String> logLines = Files.readAllLines(log);
        assertEquals(logLines.size(), lines.size());
        for (int i = 0; i < lines.size(); i++) {
            JsonNode e = EventCodec.mapper().readTree(logLines.get(i));
            assertEquals(e.get("node").asText() + "#" + e.get("seq").asLong(), lines.get(i).group(3), "line " + (i + 1));
            assertEquals(String.format(java.util.Locale.ROOT, "%.3f", e.get("timeNs").asLong() / 1000.0), lines.get(i).group(1));
            JsonNode event = e.get("event");
            for (String key : List.of("va", "start", "end", "frame")) {
                if (event.has(key)) {
                    String hex = key + "=0x" + Long.toHexString(event.get(key).asLong());
                    assertTrue((" " + lines.get(i).group(5) + " ").contains(" " + hex + " "), hex + " in " + lines.get(i).group());
                }
            }
        }
        // kernel names for the steps of the bug
        String all = CliTest.shootdown("trace", "--log", log.toString()).out();
        for (String step : List.of("arch_tlbbatch_add_pending", "arch_tlbbatch_flush", "flush_tlb_func",
                "mmu_notifier_arch_invalidate_secondary_tlbs", "ptep_get_and_clear", "free_pages_and_swap_cache",
                "shrink_folio_list", " DMA ")) {
            assertTrue(all.contains(step), step);
        }
    }

    @Test
    void filtersKeepOnlyWhatTheySay() {
        for (Matcher m : lines(CliTest.shootdown("trace", "--log", log.toString(), "--node", "cpu0,iommu0"))) {
            assertTrue(Set.of("cpu0", "iommu0").contains(m.group(2)), m.group());
        }
        List<Matcher> dmas = lines(CliTest.shootdown("trace", "--log", log.toString(), "--type", "DMA,atc-invalidated"));
        assertFalse(dmas.isEmpty());
        dmas.forEach(m -> assertTrue(Set.of("DMA", "ATC_INV_done").contains(m.group(4)), m.group()));
        List<Matcher> page = lines(CliTest.shootdown("trace", "--log", log.toString(), "--addr", "0x7f0000007abc"));
        assertFalse(page.isEmpty());
        for (Matcher m : page) {
            String f = " " + m.group(5) + " ";
            assertTrue(f.contains(" va=0x7f0000007") || f.contains(" start=") || f.contains(" vas=["), m.group());
        }
        List<Matcher> sd = lines(CliTest.shootdown("trace", "--log", log.toString(), "--shootdown", "1", "--mm", "1"));
        assertFalse(sd.isEmpty());
        sd.forEach(m -> assertTrue((" " + m.group(5) + " ").contains(" shootdown_id=1 "), m.group()));
        List<Matcher> window = lines(CliTest.shootdown("trace", "--log", log.toString(), "--from", "250", "--to", "251.5"));
        assertFalse(window.isEmpty());
        window.forEach(m -> assertTrue(Double.parseDouble(m.group(1)) >= 250 && Double.parseDouble(m.group(1)) <= 251.5, m.group()));
        List<String> ids = lines(CliTest.shootdown("trace", "--log", log.toString())).stream().map(m -> m.group(3)).toList();
        int at = ids.indexOf("coordinator#160");
        List<Matcher> around = lines(CliTest.shootdown("trace", "--log", log.toString(), "--around", "coordinator#160", "--context", "2"));
        assertEquals(ids.subList(at - 2, at + 3), around.stream().map(m -> m.group(3)).toList(), "two events on each side");
    }

    @Test
    void whyPrintsTheChainFromThePteChangeToTheDmaIntoTheFreedFrame() {
        JsonNode uaf = null;
        for (JsonNode v : report.get("violations")) {
            if (v.get("kind").asText().equals("use-after-free") && v.get("node").asText().equals("iommu0")) {
                uaf = v;
                break;
            }
        }
        assertTrue(uaf != null, "a device's use after free in " + report);
        String dma = uaf.get("events").get(2).asText();
        String va = uaf.get("va").asText();
        CliTest.Outcome o = CliTest.shootdown("trace", "--log", log.toString(), "--addr", va, "--why", dma);
        List<Matcher> chain = lines(o);
        List<String> steps = chain.stream().map(m -> m.group(4)).toList();
        Matcher last = chain.get(chain.size() - 1);
        assertEquals(dma, last.group(3), "the chain ends at the event asked about");
        assertEquals("DMA", last.group(4));
        String frame = field(last, "frame");
        int mapped = indexOf(chain, "set_pte_at", "va=" + va);
        int cleared = indexOf(chain, "ptep_get_and_clear", "va=" + va);
        int hook = indexOf(chain, "mmu_notifier_arch_invalidate_secondary_tlbs", "mm=2");
        int freed = indexOf(chain, "free_pages_and_swap_cache", "frame=" + frame);
        int filled = indexOf(chain, "ATC_fill", "va=" + va);
        assertTrue(mapped < filled && filled < cleared && cleared < freed && freed < chain.size() - 1,
                "mapped, cached by the device, PTE cleared, frame freed, then the DMA: " + steps);
        assertTrue(hook > 0 && hook < freed, "the hook, called for the wrong mm, before the free");
        assertFalse(steps.contains("access"), "no CPU's other accesses to the frame: " + o.out());
        assertTrue(o.out().contains("audit: use-after-free: " + uaf.get("explanation").asText()), o.out());
    }

    @Test
    void badInputIsOneLine() {
        CliTest.Outcome none = CliTest.shootdown("trace", "--log", log.toString(), "--why", "cpu9#1");
        assertEquals(Shootdown.EXIT_BAD_INPUT, none.status());
        assertEquals("shootdown: --why cpu9#1: no such event in " + log, none.err().strip());
        CliTest.Outcome addr = CliTest.shootdown("trace", "--log", log.toString(), "--addr", "0xzz");
        assertEquals(Shootdown.EXIT_BAD_INPUT, addr.status());
        assertTrue(addr.err().startsWith("shootdown: --addr: expected an address"), addr.err());
        CliTest.Outcome missing = CliTest.shootdown("trace", "--log", dir.resolve("nope.jsonl").toString());
        assertEquals(Shootdown.EXIT_BAD_INPUT, missing.status());
        assertTrue(missing.err().contains("no such file"), missing.err());
    }

    private static String field(Matcher m, String key) {
        for (String f : m.group(5).split(" ")) {
            if (f.startsWith(key + "=")) {
                return f.substring(key.length() + 1);
            }
        }
        throw new AssertionError("no " + key + " in " + m.group());
    }

    private static int indexOf(List<Matcher> chain, String step, String field) {
        for (int i = 0; i < chain.size(); i++) {
            if (chain.get(i).group(4).equals(step) && (" " + chain.get(i).group(5) + " ").contains(" " + field + " ")) {
                return i;
            }
        }
        throw new AssertionError("no " + step + " with " + field + " in the chain: "
                + chain.stream().map(Matcher::group).toList());
    }
}
