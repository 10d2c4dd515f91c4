package dev.shootdown.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.shootdown.cli.Shootdown;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * Issue 19's cluster row: {@code kswapd-reclaim} (x86, series-v2, seed 1) on a {@code shootdown
 * cluster up} cluster, every node a process of its own, against the same run with every node in
 * this JVM ({@code shootdown run} without {@code --nodes cluster}) on the cluster's own broker,
 * the reference first. The rate is events per second over each run's whole wall time (the CLI's
 * run: topics, the run, reading the log back); both runs must write the same log, the run id
 * aside.
 */
final class ClusterBenchmark {

    static final String SCENARIO = "kswapd-reclaim";
    static final String POLICY = "series-v2";
    /** A cluster of separate processes keeps at least half the speed of the same nodes in one process. */
    static final double GOAL_RATIO = 0.5;

    private ClusterBenchmark() {}

    static Row measure(Path work) throws Exception {
        Path dir = work.resolve("cluster");
        Files.createDirectories(dir);
        Path cluster = dir.resolve("cluster");
        run("cluster up", "cluster", "up", "--dir", cluster.toString(), "--cpus", "3", "--iommus", "1");
        try {
            JsonNode state = new ObjectMapper().readTree(cluster.resolve("cluster.json").toFile());
            String bootstrap = state.get("bootstrapServers").asText();
            Timed one = timed("one process", dir.resolve("one-process"), "--bootstrap-servers", bootstrap);
            Timed separate = timed("cluster", dir.resolve("separate"), "--bootstrap-servers", bootstrap, "--nodes", "cluster");
            if (!one.log().equals(separate.log())) {
                throw new IllegalStateException("the cluster's log differs from the one-process run's (" + dir + ")");
            }
            double rate = separate.events() / separate.seconds();
            double ref = one.events() / one.seconds();
            return new Row(9, "cluster", String.format(Locale.ROOT, "%s (x86, %s, seed 1), %,d events, on `shootdown cluster up` "
                            + "(broker, coordinator, cpu0-cpu2, iommu0: six processes)", SCENARIO, POLICY, separate.events()),
                    rate, "events/s", "the same run with every node in one process, the cluster's broker", ref,
                    "≥ 0.5 of one process's rate", Row.ratioAtLeast(rate / ref, GOAL_RATIO), String.format(Locale.ROOT,
                            "%.1f s on the cluster against %.1f s in one process, each the CLI's whole run (topics, the run, "
                                    + "reading the log back); the two logs are the same, the run id aside; %d processors",
                            separate.seconds(), one.seconds(), Runtime.getRuntime().availableProcessors()));
        } finally {
            run("cluster down", "cluster", "down", "--dir", cluster.toString());
        }
    }

    /** A run's wall time, its event count and its log with the run id taken out, sorted. */
    private record Timed(double seconds, long events, List<String> log) {}

    private static Timed timed(String what, Path out, String... where) throws IOException {
        List<String> args = new ArrayList<>(List.of("run", "--scenario", SCENARIO, "--policy", POLICY, "--run-timeout", "900",
                "--out", out.toString()));
        args.addAll(List.of(where));
        long start = System.nanoTime();
        StringWriter stdout = new StringWriter();
        StringWriter stderr = new StringWriter();
        int status = Shootdown.execute(new PrintWriter(stdout), new PrintWriter(stderr), args.toArray(String[]::new));
        double seconds = (System.nanoTime() - start) / 1e9;
        if (status != Shootdown.EXIT_VIOLATIONS) { // series-v2's kswapd oops
            throw new IllegalStateException(what + ": shootdown run exited " + status + ": " + stderr);
        }
        List<String> log = new ArrayList<>();
        ObjectMapper json = new ObjectMapper();
        for (String line : Files.readAllLines(out.resolve("events.jsonl"))) {
            com.fasterxml.jackson.databind.node.ObjectNode e = (com.fasterxml.jackson.databind.node.ObjectNode) json.readTree(line);
            e.remove("run");
            if (e.get("event").get("type").asText().equals("run-started")) {
                ((com.fasterxml.jackson.databind.node.ObjectNode) e.get("event")).remove("runId");
            }
            log.add(e.toString());
        }
        java.util.Collections.sort(log);
        return new Timed(seconds, log.size(), log);
    }

    private static void run(String what, String... args) {
        StringWriter stdout = new StringWriter();
        StringWriter stderr = new StringWriter();
        int status = Shootdown.execute(new PrintWriter(stdout), new PrintWriter(stderr), args);
        if (status != Shootdown.EXIT_CLEAN) {
            throw new IllegalStateException(what + " exited " + status + ": " + stdout + stderr);
        }
    }
}
