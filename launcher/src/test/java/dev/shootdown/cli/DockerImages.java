package dev.shootdown.cli;

import com.github.dockerjava.api.DockerClient;
import com.github.dockerjava.api.exception.NotFoundException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assertions;
import org.junit.jupiter.api.Assumptions;
import org.testcontainers.DockerClientFactory;

/**
 * What a Docker test needs: an engine, and its images on the engine already or pulled within
 * {@link #PULL_SECONDS}. Without them the test is skipped, in seconds, saying what is missing and
 * what to do (with an engine but no registry, Testcontainers would retry the pull for minutes and
 * fail the build). Where {@code SHOOTDOWN_REQUIRE_DOCKER} is set (CI, whose {@code .ci/run} starts
 * an engine and builds the images), the same lack fails the test instead.
 */
final class DockerImages {

    /** How long a pull may take before the registry counts as out of reach. */
    static final int PULL_SECONDS = 30;

    private static final boolean REQUIRED = System.getenv("SHOOTDOWN_REQUIRE_DOCKER") != null;

    private DockerImages() {}

    /** Whether a Docker engine answers and {@code docker compose} runs (for clean-ups after skipped tests). */
    static boolean engineAndComposeHere() {
        return DockerClientFactory.instance().isDockerAvailable() && ComposeConsistencyTest.dockerComposeAvailable();
    }

    /** Skips the calling test (fails it, where Docker is required) unless a Docker engine answers. */
    static void assumeEngine() {
        need(DockerClientFactory.instance().isDockerAvailable(), "no Docker engine answers here (docker/README.md)");
    }

    /** Skips the calling test (fails it, where Docker is required) unless {@code docker compose} runs. */
    static void assumeCompose() {
        need(ComposeConsistencyTest.dockerComposeAvailable(), "no `docker compose` CLI here (docker/README.md)");
    }

    /**
     * Skips the calling test (fails it, where Docker is required) unless there is an engine and every
     * one of {@code images} is on it or can be pulled.
     */
    static void assumeAvailable(String... images) {
        assumeEngine();
        DockerClient client = DockerClientFactory.instance().client();
        for (String image : images) {
            need(present(client, image) || pulled(client, image), image + " is not on this Docker engine and could not be "
                    + "pulled within " + PULL_SECONDS + " s; where no registry is reachable, build local stand-ins first: "
                    + "docker/stand-ins/build (docker/README.md)");
        }
    }

    private static void need(boolean there, String otherwise) {
        if (REQUIRED) {
            Assertions.assertTrue(there, () -> otherwise + " (SHOOTDOWN_REQUIRE_DOCKER is set, so this is a failure)");
        } else {
            Assumptions.assumeTrue(there, otherwise);
        }
    }

    private static boolean present(DockerClient client, String image) {
        try {
            client.inspectImageCmd(image).exec();
            return true;
        } catch (NotFoundException e) {
            return false;
        }
    }

    private static boolean pulled(DockerClient client, String image) {
        try {
            return client.pullImageCmd(image).start().awaitCompletion(PULL_SECONDS, TimeUnit.SECONDS) && present(client, image);
        } catch (RuntimeException e) {
            return false;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        }
    }
}
