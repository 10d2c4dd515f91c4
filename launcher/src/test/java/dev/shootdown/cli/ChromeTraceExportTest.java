package dev.shootdown.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.shootdown.codec.EventCodec;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code shootdown export --format chrome-trace} of kswapd-reclaim under series-v2 (the seed's
 * first bug: the oops), held against the Trace Event Format as its document specifies it: the
 * JSON object form with {@code traceEvents}; each event's phase and the fields that phase
 * requires; metadata naming every process and thread used; flow arrows in start/finish pairs; async
 * slices that end only after they began. And against the log: a slice per event, a track per
 * node, the shootdowns, the two oopses marked where they happened, an IPI's arrow from the
 * coordinator to the CPU that ran it.
 */
class ChromeTraceExportTest {

    private static final Set<String> PHASES = Set.of("X", "b", "e", "i", "s", "f", "M");

    @Test
    void aKswapdRunIsAValidTraceWithItsShootdownsOopsesAndIpiArrows(@TempDir Path dir) throws Exception {
        CliTest.Outcome run = CliTest.shootdown("run", "--scenario", "kswapd-reclaim", "--kernel", "series-v2", "--out",
                dir.resolve("run").toString());
        assertEquals(Shootdown.EXIT_VIOLATIONS, run.status(), run.out() + run.err());
        Path log = dir.resolve("run/events.jsonl");
        Path file = dir.resolve("kswapd.trace.json");
        CliTest.Outcome export = CliTest.shootdown("export", "--log", log.toString(), "--format", "chrome-trace", "--out",
                file.toString());
        assertEquals(Shootdown.EXIT_CLEAN, export.status(), export.err());
        assertTrue(export.out().contains("https://ui.perfetto.dev"), export.out());

        JsonNode trace = EventCodec.mapper().readTree(file.toFile());
        assertTrue(trace.isObject() && trace.get("traceEvents").isArray(), "the JSON object form");
        assertTrue(Set.of("ms", "ns").contains(trace.get("displayTimeUnit").asText()));
        Set<Integer> namedProcesses = new HashSet<>();
        Set<String> namedThreads = new HashSet<>();
        Set<String> usedThreads = new HashSet<>();
        Map<Long, List<JsonNode>> flows = new HashMap<>();
        Map<String, JsonNode> begun = new HashMap<>();
        Set<String> ended = new HashSet<>();
        Map<Integer, String> processNames = new HashMap<>();
        List<JsonNode> slices = new ArrayList<>();
        List<JsonNode> instants = new ArrayList<>();
        for (JsonNode e : trace.get("traceEvents")) {
            String ph = e.path("ph").asText();
            assertTrue(PHASES.contains(ph), "a phase of the format: " + e);
            assertTrue(e.get("name").isTextual() && e.get("pid").canConvertToInt() && e.get("tid").canConvertToInt(), e.toString());
            int pid = e.get("pid").asInt();
            String thread = pid + "/" + e.get("tid").asInt();
            if (ph.equals("M")) {
                switch (e.get("name").asText()) {
                    case "process_name" -> {
                        namedProcesses.add(pid);
                        processNames.put(pid, e.get("args").get("name").asText());
                    }
                    case "thread_name" -> namedThreads.add(thread);
                    case "process_sort_index" -> assertTrue(e.get("args").get("sort_index").isInt(), e.toString());
                    default -> throw new AssertionError("a metadata event the format has: " + e);
                }
                continue;
            }
            assertTrue(e.get("ts").isNumber() && e.get("ts").asDouble() >= 0, "ts in microseconds: " + e);
            usedThreads.add(thread);
            switch (ph) {
                case "X" -> {
                    assertTrue(e.get("dur").isNumber() && e.get("dur").asDouble() >= 0, e.toString());
                    slices.add(e);
                }
                case "i" -> {
                    assertTrue(Set.of("g", "p", "t").contains(e.get("s").asText()), e.toString());
                    instants.add(e);
                }
                case "s", "f" -> {
                    assertTrue(e.get("cat").isTextual() && e.has("id"), e.toString());
                    flows.computeIfAbsent(e.get("id").asLong(), k -> new ArrayList<>()).add(e);
                }
                case "b" -> {
                    assertTrue(e.get("cat").isTextual() && e.has("id"), e.toString());
                    assertTrue(begun.put(e.get("id").asText(), e) == null, "begun once: " + e);
                }
                case "e" -> {
                    JsonNode b = begun.get(e.get("id").asText());
                    assertTrue(b != null && b.get("ts").asDouble() <= e.get("ts").asDouble(), "ends after it began: " + e);
                    assertTrue(ended.add(e.get("id").asText()), "ended once: " + e);
                }
                default -> throw new AssertionError(ph);
            }
        }
        assertTrue(namedThreads.containsAll(usedThreads), "every thread named: " + usedThreads);
        usedThreads.forEach(t -> assertTrue(namedProcesses.contains(Integer.parseInt(t.substring(0, t.indexOf('/')))), t));
        for (List<JsonNode> pair : flows.values()) {
            assertEquals(List.of("s", "f"), pair.stream().map(e -> e.get("ph").asText()).toList(), "a start and a finish");
            assertTrue(pair.get(0).get("ts").asDouble() <= pair.get(1).get("ts").asDouble(), pair.toString());
        }

        // Against the log: one slice per event, with its id; a process per node.
        List<String> lines = Files.readAllLines(log);
        assertEquals(lines.size(), slices.size());
        Set<String> nodes = new TreeSet<>();
        Set<Long> finished = new HashSet<>();
        Set<Long> started = new HashSet<>();
        List<String> oopses = new ArrayList<>();
        for (String line : lines) {
            JsonNode env = EventCodec.mapper().readTree(line);
            nodes.add(env.get("node").asText());
            JsonNode ev = env.get("event");
            String type = ev.get("type").asText();
            if (type.equals("mmu-gather-started") || type.equals("tlb-flush-started")) {
                started.add(ev.get("shootdownId").asLong());
            } else if (type.equals("mmu-gather-finished") || type.equals("tlb-flush-finished")) {
                finished.add(ev.get("shootdownId").asLong());
            } else if (type.equals("kernel-oops")) {
                oopses.add(env.get("node").asText() + "#" + env.get("seq").asLong());
            }
        }
        assertEquals(nodes, new TreeSet<>(processNames.values()));
        // Each shootdown a slice; the ones whose path oopsed never end, in the log as in the trace.
        Set<String> unfinished = new HashSet<>(begun.keySet());
        unfinished.removeAll(ended);
        Set<String> expectedUnfinished = new HashSet<>();
        started.stream().filter(id -> !finished.contains(id)).forEach(id -> expectedUnfinished.add("shootdown-" + id));
        assertEquals(started.size(), begun.size());
        assertFalse(expectedUnfinished.isEmpty(), "the oopsed reclaim never finishes");
        assertEquals(expectedUnfinished, unfinished);
        // The two oopses, marked at their events.
        assertEquals(2, oopses.size());
        assertEquals(oopses, instants.stream().map(i -> i.get("args").get("event").asText()).toList());
        instants.forEach(i -> assertEquals("kernel-oops", i.get("name").asText()));
        // An IPI: an arrow from the coordinator's flush_tlb_func to a CPU's flush_tlb_func__return.
        Map<String, String> nameAt = new HashMap<>();
        for (JsonNode x : slices) {
            nameAt.put(x.get("pid").asInt() + "/" + x.get("tid").asInt() + "@" + x.get("ts").asDouble(), x.get("name").asText());
        }
        boolean ipi = flows.values().stream().anyMatch(pair -> "flush_tlb_func".equals(nameAt.get(at(pair.get(0))))
                && "flush_tlb_func__return".equals(nameAt.get(at(pair.get(1))))
                && processNames.get(pair.get(1).get("pid").asInt()).startsWith("cpu"));
        assertTrue(ipi, "an IPI's arrow");
    }

    @Test
    void badFormatAndALogAsJsonlAreOneLine(@TempDir Path dir) throws Exception {
        Path log = Files.writeString(dir.resolve("events.jsonl"), "");
        CliTest.Outcome format = CliTest.shootdown("export", "--log", log.toString(), "--format", "perfetto");
        assertEquals(Shootdown.EXIT_BAD_INPUT, format.status());
        assertEquals("shootdown: --format: expected jsonl or chrome-trace, got 'perfetto'", format.err().strip());
        CliTest.Outcome jsonl = CliTest.shootdown("export", "--log", log.toString());
        assertEquals(Shootdown.EXIT_BAD_INPUT, jsonl.status());
        assertTrue(jsonl.err().startsWith("shootdown: --log " + log + ": a log is jsonl already"), jsonl.err());
    }

    private static String at(JsonNode e) {
        return e.get("pid").asInt() + "/" + e.get("tid").asInt() + "@" + e.get("ts").asDouble();
    }
}
