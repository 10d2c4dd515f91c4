package dev.shootdown.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import com.fasterxml.jackson.databind.JsonNode;
import com.github.dockerjava.api.command.InspectContainerResponse;
import dev.shootdown.codec.EventCodec;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.testcontainers.containers.ComposeContainer;
import org.testcontainers.containers.ContainerState;
import org.testcontainers.junit.jupiter.Testcontainers;

/**
 * docker/docker-compose.yml as a user brings it up: the image built from docker/Dockerfile, the
 * broker, the coordinator, three CPU replicas and the IOMMU, and the scenario job, which must
 * exit 0 for munmap-dma with a clean audit. Where there is no Docker engine, or no
 * {@code docker compose}, it is skipped ({@link ComposeConsistencyTest} checks the file anyway).
 */
@Testcontainers(disabledWithoutDocker = true)
@Timeout(value = 30, unit = TimeUnit.MINUTES)
class ComposeIT {

    private static final Set<String> FINISHED = Set.of("exited", "dead");

    @Test
    void munmapDmaRunsCleanOnTheComposedServices() throws Exception {
        Assumptions.assumeTrue(ComposeConsistencyTest.dockerComposeAvailable(), "no `docker compose` CLI here");
        // the broker's image, and the base images of docker/Dockerfile's two stages
        DockerImages.assumeAvailable("apache/kafka:4.1.0", "maven:3.9-eclipse-temurin-17", "eclipse-temurin:17-jre");
        // A random project name, so a user's own `shootdown` project is left alone; SCENARIO and
        // POLICY set here, so the host's environment does not choose them.
        ComposeContainer compose = new ComposeContainer(ComposeConsistencyTest.COMPOSE_FILE.toFile())
                .withBuild(true)
                .withPull(false) // shootdown:local is built, not pulled; `up` pulls apache/kafka
                .withEnv("SCENARIO", "munmap-dma")
                .withEnv("POLICY", "")
                .withEnv("ARCH", "")
                .withRemoveVolumes(true)
                .withTailChildContainers(true);
        try {
            // `up -d` returns once the job has started: it waits for healthy dependencies first.
            compose.start();
            ContainerState job = compose.getContainerByServiceName("scenario")
                    .orElseThrow(() -> new AssertionError("no scenario container"));
            InspectContainerResponse.ContainerState state = job.getCurrentContainerInfo().getState();
            Instant deadline = Instant.now().plus(Duration.ofMinutes(10));
            while (!FINISHED.contains(state.getStatus())) {
                if (Instant.now().isAfter(deadline)) {
                    fail("the scenario job still " + state.getStatus() + " after 10 minutes:\n" + job.getLogs());
                }
                Thread.sleep(1000);
                state = job.getCurrentContainerInfo().getState();
            }
            String logs = job.getLogs();
            assertEquals(0L, state.getExitCodeLong(), "the job's status (the audit's) for munmap-dma:\n" + logs);
            assertTrue(logs.contains("verdict: clean"), logs);

            JsonNode audit = report(job, "/work/out/audit/report.json");
            assertEquals("clean", audit.get("verdict").asText(), "the audit's report: " + audit);
            assertEquals("munmap-dma", audit.get("scenario").asText());
            JsonNode run = report(job, "/work/out/run/report.json");
            assertEquals(run.get("run").asText(), audit.get("run").asText(), "the audit read the run's log");
            assertEquals(run.get("verdict").asText(), audit.get("verdict").asText(), "the audit agrees with the run");
        } finally {
            compose.stop();
        }
    }

    /** A report the job wrote on its volume, copied out of the stopped container. */
    private static JsonNode report(ContainerState job, String path) throws Exception {
        String text = job.copyFileFromContainer(path, in -> new String(in.readAllBytes(), StandardCharsets.UTF_8));
        return EventCodec.mapper().readTree(text);
    }
}
