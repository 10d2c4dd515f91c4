package dev.shootdown.cli;

import dev.shootdown.cli.experiment.Cells;
import dev.shootdown.cli.report.AuditPrinter;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.shootdown.codec.EventCodec;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code shootdown experiment}: the repository's spec meets its expectations, the output does
 * not depend on {@code --jobs}, each run's printed command reproduces it, and an unmet
 * expectation is marked and exits 1.
 */
@Timeout(value = 5, unit = TimeUnit.MINUTES)
class ExperimentCommandTest {

    /** The repository's spec, from the module's directory (where Maven runs the tests). */
    static final Path SEED_OUTCOMES = Path.of("..", "experiments", "seed-outcomes.yaml");

    private static CliTest.Outcome experiment(String... args) {
        List<String> all = new ArrayList<>(List.of("experiment", "--no-progress"));
        all.addAll(Arrays.asList(args));
        return CliTest.shootdown(all.toArray(String[]::new));
    }

    /** The table's line for a row, split into its columns (scenario, arch, faults, then one per policy). */
    private static List<String> row(String out, String scenario, String arch, String faults) {
        String prefix = scenario + " ";
        List<String> lines = out.lines().collect(Collectors.toList());
        for (int i = 0; i < lines.size(); i++) {
            if (!lines.get(i).startsWith(prefix)) {
                continue;
            }
            List<String> columns = CliTest.tableRow(lines, i);
            if (columns.size() >= 3 && columns.get(1).equals(arch) && columns.get(2).equals(faults)) {
                return columns;
            }
        }
        throw new AssertionError("no row " + scenario + " " + arch + " " + faults + " in\n" + out);
    }

    @Test
    void theRepositorySpecReproducesTheSeedsThreeOutcomesAndMeetsItsExpectations(@TempDir Path dir) throws Exception {
        CliTest.Outcome o = experiment(SEED_OUTCOMES.toString(), "--out", dir.toString());

        assertEquals(Shootdown.EXIT_CLEAN, o.status(), o.out() + o.err());
        assertEquals(List.of("smmu-permission-upgrade", "arm64", "none", "fault-livelock, missing-secondary-invalidation", "clean",
                "clean"), row(o.out(), "smmu-permission-upgrade", "arm64", "none"));
        assertEquals(List.of("kswapd-reclaim", "x86", "none", "clean", "kernel-oops", "clean"),
                row(o.out(), "kswapd-reclaim", "x86", "none"));
        assertEquals(List.of("direct-reclaim-cross-mm", "x86", "none", "clean",
                "missing-secondary-invalidation, race-with-free, use-after-free, wrong-mm-invalidation", "clean"),
                row(o.out(), "direct-reclaim-cross-mm", "x86", "none"));
        // The sweep: under 6.6 the audit sees the model faults that matter; under 6.5 try_to_unmap_one's
        // second invalidate_range of each page (from range_end) makes up for one dropped TLBI.
        assertEquals(List.of("direct-reclaim-cross-mm", "arm64", "dropped-iotlb-inv", "clean",
                "missing-secondary-invalidation, use-after-free", "missing-secondary-invalidation, use-after-free"),
                row(o.out(), "direct-reclaim-cross-mm", "arm64", "dropped-iotlb-inv"));
        assertEquals("atc-before-iotlb", row(o.out(), "kswapd-reclaim", "x86", "atc-before-iotlb").get(5));
        assertTrue(o.out().contains("expectations: all 72 runs checked met them"), o.out());
        // the table fits in 120 columns: the verdicts wrap at spaces and after hyphens, the row labels stay whole
        for (String line : o.out().lines().toList()) {
            assertTrue(line.length() <= AuditPrinter.WIDTH || line.startsWith("wrote "), "wider than 120: " + line);
        }
        assertTrue(o.out().contains("""
                smmu-permission-upgrade  arm64  none               fault-livelock,        clean                   clean
                                                                   missing-secondary-
                                                                   invalidation
                """), o.out());

        JsonNode json = EventCodec.mapper().readTree(dir.resolve("experiment.json").toFile());
        assertEquals(3 * 2 * 3 * 3 * 3, json.get("cells").size(), "scenarios x archs x faults x policies x seeds");
        assertEquals(72, json.get("checked").asInt());
        assertEquals(0, json.get("unmet").asInt());
        assertEquals(List.of("none", "dropped-iotlb-inv", "atc-before-iotlb"), strings(json.get("faults")));
        for (JsonNode cell : json.get("cells")) {
            Path report = dir.resolve(cell.get("dir").asText()).resolve("report.json");
            JsonNode r = EventCodec.mapper().readTree(report.toFile());
            assertEquals(cell.get("verdict").asText(), r.get("verdict").asText(), report.toString());
            assertEquals(cell.get("seed").asLong(), r.get("seed").asLong(), report.toString());
            String command = cell.get("command").asText();
            boolean faulted = !cell.get("faults").asText().equals("none");
            assertEquals(faulted, command.contains(" --faults ../faults/" + cell.get("faults").asText() + ".yaml "), command);
        }
    }

    @Test
    void eachRunsPrintedCommandReproducesIt(@TempDir Path dir) throws Exception {
        Path out = dir.resolve("experiment");
        assertEquals(Shootdown.EXIT_CLEAN, experiment(SEED_OUTCOMES.toString(), "--out", out.toString(), "--jobs", "2").status());
        JsonNode cells = EventCodec.mapper().readTree(out.resolve("experiment.json").toFile()).get("cells");
        // the seed's three outcomes, a clean 6.6 cell and a cell under a fault plan, on other seeds than the first
        List<JsonNode> chosen = new ArrayList<>();
        for (JsonNode c : cells) {
            String key = String.join(" ", c.get("scenario").asText(), c.get("arch").asText(), c.get("policy").asText(),
                    c.get("faults").asText(), c.get("seed").asText());
            if (List.of("smmu-permission-upgrade arm64 linux-6.5 none 2", "kswapd-reclaim x86 series-v2 none 3",
                    "direct-reclaim-cross-mm x86 series-v2 none 2", "direct-reclaim-cross-mm x86 linux-6.6 none 3",
                    "kswapd-reclaim x86 series-v2 dropped-iotlb-inv 2").contains(key)) {
                chosen.add(c);
            }
        }
        assertEquals(5, chosen.size());
        int i = 0;
        for (JsonNode c : chosen) {
            String command = c.get("command").asText();
            assertTrue(command.startsWith("shootdown run "), command);
            List<String> args = new ArrayList<>(List.of(command.substring("shootdown ".length()).split(" ")));
            Path again = dir.resolve("again-" + i++);
            args.addAll(List.of("--out", again.toString()));
            CliTest.Outcome rerun = CliTest.shootdown(args.toArray(String[]::new));

            int expectedStatus = c.get("violations").isEmpty() ? Shootdown.EXIT_CLEAN : Shootdown.EXIT_VIOLATIONS;
            assertEquals(expectedStatus, rerun.status(), command + "\n" + rerun.out() + rerun.err());
            JsonNode report = EventCodec.mapper().readTree(again.resolve("report.json").toFile());
            assertEquals(c.get("verdict").asText(), report.get("verdict").asText(), command);
            assertEquals(strings(c.get("violations")), kinds(report), command);
            assertEquals(Files.readAllLines(out.resolve(c.get("dir").asText()).resolve("events.jsonl")),
                    Files.readAllLines(again.resolve("events.jsonl")), "the same log: " + command);
        }
    }

    @Test
    void oneJobAndManyJobsPrintAndWriteTheSameBytes(@TempDir Path dir) throws Exception {
        Path plan = Path.of("..", "faults", "dropped-iotlb-inv.yaml").toAbsolutePath().normalize();
        // munmap-dma with an observation window: with the IOTLB invalidation dropped the device never faults again,
        // so munmap-dma itself would run to --max-events.
        Path window = Path.of("..", "faults", "scenarios", "munmap-dma-window.yaml").toAbsolutePath().normalize();
        Path spec = Files.writeString(dir.resolve("small.yaml"), String.join("\n",
                "scenarios: [kswapd-reclaim, direct-reclaim-cross-mm, " + window + "]",
                "archs: [x86]",
                "faults: [none, " + plan + "]",
                "seeds: [3, 1]",
                "expect:",
                "  - {scenario: kswapd-reclaim, policy: series-v2, faults: none, violations: [kernel-oops]}",
                "  - {policy: linux-6.6, faults: none, violations: []}",
                ""));
        CliTest.Outcome one = experiment(spec.toString(), "--jobs", "1", "--out", dir.resolve("one").toString());
        CliTest.Outcome many = experiment(spec.toString(), "--jobs", "5", "--out", dir.resolve("many").toString());

        assertEquals(Shootdown.EXIT_CLEAN, one.status(), one.out() + one.err());
        assertEquals(Shootdown.EXIT_CLEAN, many.status(), many.out() + many.err());
        assertEquals(withoutWrote(one.out()), withoutWrote(many.out()));
        Map<String, byte[]> a = files(dir.resolve("one"));
        Map<String, byte[]> b = files(dir.resolve("many"));
        assertEquals(a.keySet(), b.keySet());
        assertEquals(2 + 3 * 2 * 3 * 2 * 3, a.size(), "experiment.json, experiment.html and 3 files for each of 36 runs");
        for (String file : a.keySet()) {
            assertTrue(Arrays.equals(a.get(file), b.get(file)), "the same bytes in " + file);
        }
        // the order is the spec's, not the order runs finished in: seeds as listed, 3 before 1
        JsonNode cells = EventCodec.mapper().readTree(dir.resolve("many/experiment.json").toFile()).get("cells");
        assertEquals(List.of("3", "1"), List.of(cells.get(0).get("seed").asText(), cells.get(1).get("seed").asText()));
    }

    @Test
    void anUnmetExpectationIsMarkedListedWithItsCommandAndExitsOne(@TempDir Path dir) throws Exception {
        Path spec = Files.writeString(dir.resolve("wrong.yaml"), String.join("\n",
                "scenarios: [kswapd-reclaim]",
                "archs: [x86]",
                "policies: [series-v2, linux-6.6]",
                "seeds: {from: 1, count: 2}",
                "expect:",
                "  - {policy: series-v2, violations: []}",
                "  - {policy: linux-6.6, includes: [use-after-free]}",
                ""));
        CliTest.Outcome o = experiment(spec.toString(), "--out", dir.resolve("out").toString());

        assertEquals(Shootdown.EXIT_VIOLATIONS, o.status(), o.out() + o.err());
        assertEquals(List.of("kswapd-reclaim", "x86", "none", "! kernel-oops", "! clean"), row(o.out(), "kswapd-reclaim", "x86", "none"));
        assertTrue(o.out().contains("expectations: 4 of 4 runs checked did NOT meet them:"), o.out());
        assertTrue(o.out().contains("  ! kswapd-reclaim x86 series-v2 faults none seed 2: expected clean, got kernel-oops\n"
                + "    shootdown run --scenario kswapd-reclaim --arch x86 --kernel series-v2 --engine sim --seed 2 "), o.out());
        assertTrue(o.out().contains("expected at least use-after-free, got clean"), o.out());
        JsonNode json = EventCodec.mapper().readTree(dir.resolve("out/experiment.json").toFile());
        assertEquals(4, json.get("unmet").asInt());
        assertFalse(json.get("cells").get(0).get("met").asBoolean());
        assertEquals("clean", json.get("cells").get(0).get("expected").asText());
    }

    @Test
    void seedsThatDisagreeAreCountedInTheCell() {
        ExperimentCommand.Run clean = run("clean", List.of());
        ExperimentCommand.Run uaf = run("violations", List.of("use-after-free"));
        assertEquals("2/3 clean; 1/3 use-after-free", ExperimentCommand.aggregate(List.of(clean, uaf, clean)));
        assertEquals("use-after-free", ExperimentCommand.aggregate(List.of(uaf, uaf)));
    }

    private static ExperimentCommand.Run run(String verdict, List<String> kinds) {
        return new ExperimentCommand.Run(new Cells.Result("s", "x86", "linux-6.6", "none", "sim", 1, verdict, kinds, 10, true, null,
                "d", "c"), null, null);
    }

    @Test
    void helpSaysWhatTheExitStatusMeans() {
        CliTest.Outcome help = CliTest.shootdown("experiment", "--help");
        assertEquals(0, help.status());
        String text = help.out().replaceAll("\\s+", " ");
        assertTrue(text.contains("1 an expectation of the spec was not met"), text);
        assertTrue(text.contains("--jobs") && text.contains("--[no-]progress"), text);
    }

    private static String withoutWrote(String out) {
        return out.lines().filter(l -> !l.startsWith("wrote ")).collect(Collectors.joining("\n"));
    }

    private static Map<String, byte[]> files(Path root) throws IOException {
        Map<String, byte[]> files = new TreeMap<>();
        try (Stream<Path> walk = Files.walk(root)) {
            for (Path p : walk.filter(Files::isRegularFile).collect(Collectors.toList())) {
                files.put(root.relativize(p).toString(), Files.readAllBytes(p));
            }
        }
        return files;
    }

    private static List<String> strings(JsonNode array) {
        List<String> values = new ArrayList<>();
        array.forEach(v -> values.add(v.asText()));
        return values;
    }

    private static List<String> kinds(JsonNode report) {
        return List.copyOf(new java.util.TreeSet<>(report.get("violations").findValuesAsText("kind")));
    }
}
