package dev.shootdown.bench;

import com.fasterxml.jackson.databind.JsonNode;
import dev.shootdown.codec.EventCodec;
import dev.shootdown.host.LatencyModel;
import dev.shootdown.host.sim.SimEngine;
import dev.shootdown.scenario.Scenario;
import dev.shootdown.scenario.file.ScenarioFiles;
import dev.shootdown.simulation.Machine;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * {@code shootdown run} in a small heap: the real command, in a child JVM started with
 * {@code -Xmx256m} (so the limit is the one it ran under), on the deterministic engine, over a
 * scenario whose observation window gives millions of events; it writes events.jsonl,
 * report.json and report.html as it goes. The child's GC log gives, for each tenth of the run,
 * the lowest heap left after a collection: a heap that does not grow with the run's length shows
 * as the same figure from the second tenth to the last. The reference, in this JVM in the same run, is
 * the deterministic engine alone on the same scenario publishing to a counting sink: what the
 * command adds on top (canonical order, encoding, writing, the streaming audit) is the ratio.
 */
final class RunBenchmark {

    /** The heap the command runs in. */
    static final int XMX_MIB = 256;

    private RunBenchmark() {}

    /**
     * What a GC log says: for each tenth of the run's time, the lowest heap left after a
     * collection in it (what the run keeps live, near enough: G1 lets garbage gather in old regions
     * until a mixed collection, so the highest figures say little), the highest overall (MiB), and
     * how many collections.
     */
    record Heap(List<Long> tenthFloorsMiB, long highestMiB, int collections) {

        /** Enough collections to tell a trend from noise. */
        boolean enough() {
            return collections >= 20 && tenthFloorsMiB.size() == 10;
        }

        /** Not growing: the last tenth's floor is within 16 MiB of the largest floor of the second to fifth tenths. */
        boolean flat() {
            if (!enough()) {
                return false;
            }
            long early = 0;
            for (int i = 1; i <= 4; i++) {
                early = Math.max(early, tenthFloorsMiB.get(i));
            }
            return tenthFloorsMiB.get(9) <= early + 16;
        }
    }

    private static final Pattern GC = Pattern.compile("^\\[([0-9.]+)s\\].*?(\\d+)M->(\\d+)M\\((\\d+)M\\)");

    /** Reads a unified-logging GC log ({@code -Xlog:gc}): each collection's heap after it. */
    static Heap heap(List<String> gcLog) {
        List<double[]> points = new ArrayList<>();
        for (String line : gcLog) {
            Matcher m = GC.matcher(line);
            if (m.find()) {
                points.add(new double[] {Double.parseDouble(m.group(1)), Long.parseLong(m.group(3))});
            }
        }
        if (points.isEmpty()) {
            return new Heap(List.of(), 0, 0);
        }
        double end = points.get(points.size() - 1)[0];
        long[] floors = new long[10];
        java.util.Arrays.fill(floors, Long.MAX_VALUE);
        long highest = 0;
        for (double[] p : points) {
            highest = Math.max(highest, (long) p[1]);
            int tenth = end <= 0 ? 9 : Math.min(9, (int) (p[0] / end * 10));
            floors[tenth] = Math.min(floors[tenth], (long) p[1]);
        }
        List<Long> out = new ArrayList<>();
        for (long f : floors) {
            if (f != Long.MAX_VALUE) {
                out.add(f);
            }
        }
        return new Heap(out, highest, points.size());
    }

    /**
     * Measures {@code shootdown run} of {@code scenarioFile} with its observation window set to
     * {@code windowNs}, in {@code work}, then {@code replay} of the log it wrote (against {@code audit}
     * of it), each in a child JVM in -Xmx256m.
     */
    static List<Row> measure(Path scenarioFile, long windowNs, Path work) throws Exception {
        Files.createDirectories(work);
        Scenario s = ScenarioFiles.load(scenarioFile);
        s = s.withEnd(new Scenario.EndCondition(s.end().deviceFaults(), windowNs));
        Path scenario = work.resolve("run-" + s.name() + ".json");
        EventCodec.mapper().writeValue(scenario.toFile(), s);

        // the reference: the engine alone, to a counting sink
        long[] count = {0};
        long t0 = System.nanoTime();
        new SimEngine(s.name() + "-sim-s1", 1, s, Machine.kernel(s), Machine.stateMachines(s), LatencyModel.defaults())
                .streamTo(e -> count[0]++).run(Long.MAX_VALUE);
        double engineSeconds = (System.nanoTime() - t0) / 1e9;

        Path out = work.resolve("run-out");
        Child run = child(work, "run", "run", "--scenario", scenario.toString(), "--engine", "sim", "--max-events",
                Long.toString(Long.MAX_VALUE / 2), "--out", out.toString(), "--quiet");
        JsonNode report = EventCodec.mapper().readTree(out.resolve("report.json").toFile());
        long events = report.get("stats").get("events").asLong();
        Path log = out.resolve("events.jsonl");
        long logBytes = Files.size(log);
        double refRate = count[0] / engineSeconds;
        String verdict = events != count[0] ? "missed: the run wrote " + events + " events, the engine published " + count[0]
                : bounded(run.heap(), events);
        String workload = String.format(Locale.ROOT, "%s, %.0f ms simulated, %,d events (%,d MB events.jsonl), -Xmx%dm",
                s.name(), windowNs / 1e6, events, logBytes / 1_000_000, XMX_MIB);
        List<Row> rows = new ArrayList<>();
        rows.add(new Row(6, "run", workload, events / run.seconds(), "events/s",
                "the engine alone, to a counting sink", refRate, "completes in -Xmx256m, heap after GC not growing", verdict,
                run.also()));

        // replay of the same log in the same heap; the reference is audit of it (the replay audits it too)
        Child audit = child(work, "audit", "audit", "--log", log.toString(), "--out", work.resolve("audit-out").toString(),
                "--quiet");
        Child replay = child(work, "replay", "replay", "--log", log.toString(), "--out", work.resolve("replay-out").toString(),
                "--quiet");
        boolean same = Files.mismatch(out.resolve("report.json"), work.resolve("replay-out/report.json")) == -1;
        rows.add(new Row(6, "replay", workload, events / replay.seconds(), "events/s",
                "shootdown audit --log of the same log, -Xmx256m", events / audit.seconds(),
                "completes in -Xmx256m, heap after GC not growing, the run's report.json",
                !same ? "missed: the replay's report.json is not the run's" : bounded(replay.heap(), events), replay.also()));
        // the files a run writes stay on disk only while measured: events.jsonl of 10^7 events is ~3.5 GB
        Files.deleteIfExists(log);
        return rows;
    }

    /** What a child command did: its exit status, what it said, how long it took, its heap. */
    record Child(int status, String said, double seconds, Heap heap) {
        String also() {
            return String.format(Locale.ROOT, "heap after a GC, the lowest in each tenth of the run: %s MiB; the highest %d MiB"
                    + " (%d collections); exit %d; %s", heap.tenthFloorsMiB(), heap.highestMiB(), heap.collections(), status, said);
        }
    }

    /** Runs {@code shootdown ARGS} in a child JVM in -Xmx256m with a GC log; exit 0 or 1 (violations) expected. */
    private static Child child(Path work, String name, String... args) throws Exception {
        Path gcLog = work.resolve(name + "-gc.log");
        Files.deleteIfExists(gcLog);
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        List<String> command = new ArrayList<>(List.of(java, "-Xmx" + XMX_MIB + "m", "-Xlog:gc:file=" + gcLog, "-cp",
                System.getProperty("java.class.path"), "dev.shootdown.cli.Shootdown"));
        command.addAll(List.of(args));
        Path output = work.resolve(name + "-output.txt");
        long t1 = System.nanoTime();
        Process p = new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(output.toFile()).start();
        int status = p.waitFor();
        double seconds = (System.nanoTime() - t1) / 1e9;
        String said = Files.readString(output, StandardCharsets.UTF_8).strip();
        if (status != 0 && status != 1) {
            throw new IllegalStateException("shootdown " + name + " in -Xmx" + XMX_MIB + "m failed (exit " + status + "): " + said);
        }
        return new Child(status, said, seconds, heap(Files.readAllLines(gcLog, StandardCharsets.UTF_8)));
    }

    /** The verdict on a heap: met when it did not grow with the run. */
    private static String bounded(Heap heap, long events) {
        return !heap.enough() ? String.format(Locale.ROOT, "met (%,d events in -Xmx%dm; %d collections are too few to see"
                        + " a trend: a longer window shows one)", events, XMX_MIB, heap.collections())
                : heap.flat() ? String.format(Locale.ROOT, "met (%,d events in -Xmx%dm, heap not growing)", events, XMX_MIB)
                : "missed: the heap kept live grew: " + heap.tenthFloorsMiB() + " MiB";
    }
}
