package dev.shootdown.cli;

import com.github.dockerjava.api.DockerClient;
import com.github.dockerjava.api.exception.NotFoundException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;
import org.testcontainers.DockerClientFactory;

/**
 * The images a Docker test needs: on the engine already, or pulled within {@link #PULL_SECONDS};
 * otherwise the test is skipped, in seconds, saying which image and what to do. (With an engine
 * but no registry, Testcontainers would retry the pull for minutes and fail the build.)
 */
final class DockerImages {

    /** How long a pull may take before the registry counts as out of reach. */
    static final int PULL_SECONDS = 30;

    private DockerImages() {}

    /** Skips the calling test unless every one of {@code images} is on the engine or can be pulled. */
    static void assumeAvailable(String... images) {
        DockerClient client = DockerClientFactory.instance().client();
        for (String image : images) {
            Assumptions.assumeTrue(present(client, image) || pulled(client, image), () -> image + " is not on this Docker "
                    + "engine and could not be pulled within " + PULL_SECONDS + " s; where no registry is reachable, build "
                    + "local stand-ins first: docker/stand-ins/build (docker/README.md)");
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
