package dev.shootdown.cli;

import dev.shootdown.cli.experiment.Shrinker;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.function.Predicate;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;

/** ddmin on lists whose failure is known: the result fails, and it is 1-minimal. */
class ShrinkerTest {

    private static final List<Integer> HUNDRED = IntStream.range(0, 100).boxed().toList();

    @Test
    void keepsExactlyTheElementsTheFailureNeedsInTheirOrder() {
        Predicate<List<Integer>> fails = l -> l.contains(71) && l.contains(3) && l.contains(42);
        assertEquals(List.of(3, 42, 71), Shrinker.ddmin(HUNDRED, fails));
    }

    @Test
    void aFailureThatNeedsNothingShrinksToNothing() {
        assertEquals(List.of(), Shrinker.ddmin(HUNDRED, l -> true));
    }

    @Test
    void theResultIsOneMinimalWhenTheFailureDependsOnACount() {
        // Fails with at least 5 even numbers: any 5 of them will do, no 4 will.
        Predicate<List<Integer>> fails = l -> l.stream().filter(i -> i % 2 == 0).count() >= 5;
        List<Integer> kept = Shrinker.ddmin(HUNDRED, fails);
        assertTrue(fails.test(kept), kept.toString());
        assertEquals(5, kept.size(), kept.toString());
        for (int i = 0; i < kept.size(); i++) {
            List<Integer> without = new ArrayList<>(kept);
            without.remove(i);
            assertFalse(fails.test(without), "still fails without " + kept.get(i));
        }
    }

    @Test
    void asksAboutFarFewerCandidatesThanSubsets() {
        int[] asked = {0};
        Shrinker.ddmin(HUNDRED, l -> {
            asked[0]++;
            return l.contains(13) && l.contains(87);
        });
        assertTrue(asked[0] < 100, "asked " + asked[0] + " times");
    }
}
