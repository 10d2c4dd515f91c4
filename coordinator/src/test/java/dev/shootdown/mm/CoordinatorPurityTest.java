package dev.shootdown.mm;

import dev.shootdown.testing.NodePurity;
import org.junit.jupiter.api.Test;

/**
 * This module's state machine takes time, randomness and ids from its host. (Vert.x and Kafka
 * are kept out by the build: the module depends on the model alone.)
 */
class CoordinatorPurityTest {

    @Test
    void takesTimeRandomnessAndIdsFromItsHost() {
        NodePurity.check("dev.shootdown.mm");
    }
}
