package dev.shootdown.core;

import dev.shootdown.testing.NodePurity;
import org.junit.jupiter.api.Test;

/** The node contract and the fault plan (whose randomness is seeded by the host) read no clock of their own. */
class ModelPurityTest {

    @Test
    void theNodeContractAndTheFaultPlanTakeTimeAndRandomnessFromTheirHost() {
        NodePurity.check("dev.shootdown.core", "dev.shootdown.fault");
    }
}
