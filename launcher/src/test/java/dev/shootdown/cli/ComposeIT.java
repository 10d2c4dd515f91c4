package dev.shootdown.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import com.fasterxml.jackson.databind.JsonNode;
import dev.shootdown.codec.EventCodec;
import dev.shootdown.host.LatencyModel;
import dev.shootdown.host.sim.SimEngine;
import dev.shootdown.scenario.Arch;
import dev.shootdown.scenario.Scenario;
import dev.shootdown.scenario.Scenarios;
import dev.shootdown.simulation.Machine;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * docker/docker-compose.yml brought up with the commands docker/README.md gives: the image built
 * from docker/Dockerfile, the broker, the coordinator, three CPU replicas and the IOMMU, and the
 * scenario job, whose exit status is the audit's. Then a CPU node's process killed mid-run and
 * brought back by the compose file's restart policy, and the run's log replayed from the broker
 * afterwards. Skipped, in seconds, where there is no engine, no {@code docker compose} or no base
 * images ({@link DockerImages}; {@link ComposeConsistencyTest} checks the files anyway), failed
 * there where CI requires Docker.
 */
@Timeout(value = 30, unit = TimeUnit.MINUTES)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class ComposeIT {

    /** A project of its own, so that a user's own {@code shootdown} project is left alone. */
    private static final String PROJECT = "shootdown-it-" + HexFormat.of().toHexDigits(ThreadLocalRandom.current().nextInt());

    @TempDir
    static Path dir;

    /** Before each test, not once for the class: a skipped class would be reported as no tests at all. */
    @BeforeEach
    void dockerAndImages() {
        DockerImages.assumeCompose();
        // the broker's image, and the base images of docker/Dockerfile's two stages
        DockerImages.assumeAvailable("apache/kafka:4.1.0", "maven:3.9-eclipse-temurin-17", "eclipse-temurin:17-jre");
    }

    @AfterAll
    static void down() throws Exception {
        if (DockerImages.engineAndComposeHere()) {
            compose(Map.of(), Duration.ofMinutes(3), "down", "-v", "--remove-orphans", "--timeout", "5");
        }
    }

    @Test
    @Order(1)
    void munmapDmaRunsCleanOnTheComposedServices() throws Exception {
        Outcome up = compose(Map.of("SCENARIO", "munmap-dma"), Duration.ofMinutes(20), "up", "--build",
                "--abort-on-container-exit", "--exit-code-from", "scenario", "scenario");
        String logs = compose(Map.of(), Duration.ofMinutes(1), "logs", "scenario").out();
        assertEquals(0, up.status(), "the job's status (the audit's) for munmap-dma:\n" + up.out() + "\n" + logs);
        assertTrue(logs.contains("verdict: clean"), logs);

        Path out = reports("munmap-dma");
        JsonNode audit = EventCodec.mapper().readTree(out.resolve("audit/report.json").toFile());
        assertEquals("clean", audit.get("verdict").asText(), "the audit's report: " + audit);
        assertEquals("munmap-dma", audit.get("scenario").asText());
        JsonNode run = EventCodec.mapper().readTree(out.resolve("run/report.json").toFile());
        assertEquals(run.get("run").asText(), audit.get("run").asText(), "the audit read the run's log");
        assertEquals(run.get("verdict").asText(), audit.get("verdict").asText(), "the audit agrees with the run");
    }

    @Test
    @Order(2)
    void aCpuNodeKilledMidRunIsRestartedAndTheRunAndItsReplayAreTheUndisturbedOnes() throws Exception {
        // kswapd-reclaim on series-v2: the kernel-oops, so the job exits 1. cpu2 is the thread that reads the DMA buffer.
        String runPrefix = "kswapd-reclaim-x86-series-v2"; // and the time it started, as the job names its runs
        Path upOut = dir.resolve("kswapd-up.log");
        Instant started = Instant.now();
        Process up = composeProcess(Map.of("SCENARIO", "kswapd-reclaim", "POLICY", "series-v2", "RUN_TIMEOUT", "900"),
                upOut, "up",
                "--abort-on-container-exit", "--exit-code-from", "scenario", "scenario");
        String victim = awaitContainerSaying("cpu", "cpu2: joined run " + runPrefix, Duration.ofMinutes(10), up, upOut);
        Thread.sleep(1500);
        assertTrue(up.isAlive(), "the run was still going when cpu2 was killed:\n" + Files.readString(upOut));

        // A crash, not a stop: SIGKILL to the node's process (the container's init, seen from the engine's host), so
        // that the compose file's restart policy (on-failure) brings the container back, as it would after an OOM kill.
        // `docker kill` would count as stopping it by hand, and the policy would leave it down.
        long pid = Long.parseLong(docker(Duration.ofSeconds(30), "inspect", "-f", "{{.State.Pid}}", victim).out().trim());
        Optional<ProcessHandle> process = ProcessHandle.of(pid);
        if (process.isPresent()) {
            process.get().destroyForcibly();
        } else { // an engine on another host: kill it through the engine, and start it again by hand
            docker(Duration.ofSeconds(30), "kill", victim);
            awaitState(victim, "exited", Duration.ofSeconds(30));
            docker(Duration.ofSeconds(30), "start", victim);
        }
        assertTrue(up.waitFor(16, TimeUnit.MINUTES), "the job ended:\n" + Files.readString(upOut));
        System.out.printf("ComposeIT: the job's run and audit of kswapd-reclaim on series-v2, cpu2 killed in it, took %d s%n",
                Duration.between(started, Instant.now()).toSeconds());
        String jobLogs = compose(Map.of(), Duration.ofMinutes(1), "logs", "scenario").out();
        String victimLogs = docker(Duration.ofMinutes(1), "logs", victim).out();
        assertEquals(1, up.exitValue(), "the job's status (the audit's) for kswapd-reclaim on series-v2:\n" + jobLogs
                + "\nthe killed container's log:\n" + victimLogs);
        assertTrue(jobLogs.contains("kernel-oops"), jobLogs);
        if (process.isPresent()) {
            assertEquals("1", docker(Duration.ofSeconds(30), "inspect", "-f", "{{.RestartCount}}", victim).out().trim(),
                    "the restart policy brought the killed container back once");
        }
        Path out = reports("kswapd-reclaim");
        JsonNode report = EventCodec.mapper().readTree(out.resolve("run/report.json").toFile());
        String runId = report.get("run").asText();
        assertTrue(runId.startsWith(runPrefix), runId);
        assertEquals(2, victimLogs.split("cpu2: joined run " + runId, -1).length - 1,
                "cpu2 joined twice, before and after the kill, in the same container, as the same CPU: " + victimLogs);
        assertTrue(victimLogs.contains("cpu2: left run " + runId + " (quiesced)"), victimLogs);

        // The kill changed nothing: the log is the deterministic engine's for the same run id and seed, event for event.
        Scenario scenario = Scenarios.builtIn("kswapd-reclaim").orElseThrow().with(Arch.X86, "series-v2");
        List<String> expected = new SimEngine(runId, 1, scenario, Machine.kernel(scenario), Machine.stateMachines(scenario),
                LatencyModel.defaults()).run(1_000_000).log().stream().map(EventCodec::encode).sorted().toList();
        List<String> actual = Files.readAllLines(out.resolve("run/events.jsonl")).stream().sorted().toList();
        assertEquals(expected.size(), actual.size(), "as many events as the deterministic engine's run");
        for (int i = 0; i < expected.size(); i++) {
            assertEquals(expected.get(i), actual.get(i), "first difference at sorted line " + i);
        }

        // Replayed from the broker afterwards, as docker/README.md says: every node re-executes its inputs to exactly
        // the outputs the log holds, and the report is the run's own.
        Outcome kafka = compose(Map.of(), Duration.ofMinutes(3), "up", "-d", "--wait", "kafka");
        assertEquals(0, kafka.status(), kafka.out());
        Outcome replay = compose(Map.of(), Duration.ofMinutes(5), "run", "--rm", "--no-deps", "scenario",
                "java -jar /opt/shootdown/shootdown.jar replay --run " + runId + " --out /work/out/replay;"
                        + " status=$?; cat /work/out/replay/report.json; exit $status");
        assertEquals(1, replay.status(), "the replay's status is the run's: " + replay.out());
        assertTrue(replay.out().contains("every node emitted exactly what the log recorded"), replay.out());
        assertTrue(replay.out().contains(Files.readString(out.resolve("run/report.json")).strip()),
                "the replay's report is the run's:\n" + replay.out());
    }

    // ------------------------------------------------------------------------------------------------ docker

    record Outcome(int status, String out) {}

    /** {@code docker compose -p PROJECT -f docker/docker-compose.yml ARGS}, with {@code env} set, to its end. */
    private static Outcome compose(Map<String, String> env, Duration limit, String... args) throws Exception {
        Path log = Files.createTempFile(dir, "compose", ".log");
        Process p = composeProcess(env, log, args);
        if (!p.waitFor(limit.toSeconds(), TimeUnit.SECONDS)) {
            p.destroyForcibly();
            fail("docker compose " + String.join(" ", args) + " still running after " + limit + ":\n" + Files.readString(log));
        }
        return new Outcome(p.exitValue(), Files.readString(log));
    }

    /**
     * Starts {@code docker compose} with SCENARIO, POLICY, ARCH and RUN_TIMEOUT empty unless {@code env} sets them, so the host's
     * environment does not choose them; its output, both streams, goes to {@code log}.
     */
    private static Process composeProcess(Map<String, String> env, Path log, String... args) throws IOException {
        List<String> command = new ArrayList<>(List.of("docker", "compose", "-p", PROJECT, "-f",
                ComposeConsistencyTest.COMPOSE_FILE.toString()));
        command.addAll(List.of(args));
        ProcessBuilder pb = new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(log.toFile());
        for (String name : List.of("SCENARIO", "POLICY", "ARCH", "RUN_TIMEOUT")) {
            pb.environment().put(name, env.getOrDefault(name, ""));
        }
        return pb.start();
    }

    private static Outcome docker(Duration limit, String... args) throws Exception {
        List<String> command = new ArrayList<>(List.of("docker"));
        command.addAll(List.of(args));
        Path log = Files.createTempFile(dir, "docker", ".log");
        Process p = new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(log.toFile()).start();
        if (!p.waitFor(limit.toSeconds(), TimeUnit.SECONDS)) {
            p.destroyForcibly();
            fail("docker " + String.join(" ", args) + " still running after " + limit);
        }
        Outcome o = new Outcome(p.exitValue(), Files.readString(log));
        assertEquals(0, o.status(), () -> "docker " + String.join(" ", args) + ":\n" + o.out());
        return o;
    }

    /** The job's reports, copied out of its stopped container as docker/README.md says. */
    private static Path reports(String name) throws Exception {
        String job = compose(Map.of(), Duration.ofMinutes(1), "ps", "-aq", "scenario").out().strip();
        Path to = dir.resolve(name);
        docker(Duration.ofMinutes(1), "cp", job + ":/work/out", to.toString());
        return to;
    }

    /** The container of {@code service} whose log has {@code line}, once one has. */
    private static String awaitContainerSaying(String service, String line, Duration limit, Process up, Path upOut)
            throws Exception {
        Instant deadline = Instant.now().plus(limit);
        while (Instant.now().isBefore(deadline)) {
            for (String id : compose(Map.of(), Duration.ofMinutes(1), "ps", "-q", service).out().strip().split("\\s+")) {
                if (!id.isEmpty() && docker(Duration.ofMinutes(1), "logs", id).out().contains(line)) {
                    return id;
                }
            }
            if (!up.isAlive()) {
                fail("the job ended before a " + service + " container said '" + line + "':\n" + Files.readString(upOut));
            }
            Thread.sleep(250);
        }
        return fail("no " + service + " container said '" + line + "' within " + limit + ":\n" + Files.readString(upOut));
    }

    private static void awaitState(String container, String state, Duration limit) throws Exception {
        Instant deadline = Instant.now().plus(limit);
        while (!docker(Duration.ofSeconds(30), "inspect", "-f", "{{.State.Status}}", container).out().strip().equals(state)) {
            if (Instant.now().isAfter(deadline)) {
                fail(container + " not " + state + " after " + limit);
            }
            Thread.sleep(250);
        }
    }
}
