package dev.shootdown.simulation;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.shootdown.codec.EventCodec;
import dev.shootdown.event.Envelope;
import dev.shootdown.host.LatencyModel;
import dev.shootdown.host.sim.SimEngine;
import dev.shootdown.log.CausalOrder;
import dev.shootdown.scenario.Scenario;
import dev.shootdown.scenario.Scenarios;
import java.util.List;
import java.util.SplittableRandom;
import java.util.stream.LongStream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The deterministic engine over many seeds: same seed, same bytes; every seed, a correct run.
 * Seeds are drawn from a fixed generator and named in each case's display name, so a failure
 * prints the seed that reproduces it ({@code shootdown run --engine sim --seed N}).
 */
public class DeterministicEngineTest {

    public static LongStream seeds(int count) {
        return new SplittableRandom(0x5eed).longs(count, 0, Long.MAX_VALUE / 2);
    }

    public static LongStream manySeeds() {
        return LongStream.concat(LongStream.rangeClosed(0, 9), seeds(190));
    }

    public static LongStream someSeeds() {
        return seeds(40);
    }

    private static List<Envelope> run(long seed) {
        Scenario s = Scenarios.munmapDma();
        SimEngine.Result r = new SimEngine("munmap-dma-sim-s" + seed, seed, s, Machine.kernel(s), Machine.stateMachines(s), LatencyModel.defaults())
                .run(1_000_000);
        assertTrue(r.quiesced(), "seed " + seed + ": every node quiesced");
        return CausalOrder.sort(r.log(), e -> e);
    }

    private static String bytes(List<Envelope> log) {
        StringBuilder sb = new StringBuilder();
        log.forEach(e -> sb.append(EventCodec.encode(e)).append('\n'));
        return sb.toString();
    }

    @ParameterizedTest(name = "seed {0}")
    @MethodSource("someSeeds")
    void sameSeedGivesTheSameLogByteForByte(long seed) {
        assertEquals(bytes(run(seed)), bytes(run(seed)));
    }

    @ParameterizedTest(name = "seed {0}")
    @MethodSource("manySeeds")
    void everySeedUnmapsSafely(long seed) {
        List<Envelope> log = run(seed);
        RunInvariants.assertMunmapDmaCorrect(log);
        RunInvariants.assertAuditClean(log);
    }

    @ParameterizedTest(name = "seed {0}")
    @MethodSource("someSeeds")
    void differentSeedsGiveDifferentInterleavings(long seed) {
        assertNotEquals(bytes(run(seed)), bytes(run(seed + 1)));
    }
}
