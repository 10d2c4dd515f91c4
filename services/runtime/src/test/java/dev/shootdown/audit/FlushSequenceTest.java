package dev.shootdown.audit;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.List;
import org.junit.jupiter.api.Test;

/** {@link FlushSequence#freeAfterAnyFolio}: a reclaim's first free said by what it follows. */
class FlushSequenceTest {

    private static final String IR = "invalidate_range(current->mm, a page of it)";
    private static final String FLUSHED = "cpus flushed (2)";
    private static final String MOVED = FlushSequence.FREE_AFTER_A_FOLIO;

    @Test
    void aFreeRightAfterAWholeFoliosFlushGoesLast() {
        List<String> firstPassOfOne = List.of(IR, IR, FLUSHED, "free", IR, IR, FLUSHED);
        List<String> onePass = List.of(IR, IR, FLUSHED, IR, IR, FLUSHED, "free");

        assertEquals(List.of(IR, IR, FLUSHED, IR, IR, FLUSHED, MOVED), FlushSequence.freeAfterAnyFolio(firstPassOfOne, 2));
        assertEquals(FlushSequence.freeAfterAnyFolio(onePass, 2), FlushSequence.freeAfterAnyFolio(firstPassOfOne, 2));
    }

    @Test
    void aFreeBeforeItsFoliosFlushOrInsideItsHookCallsStaysWhereItIs() {
        List<String> beforeFlush = List.of(IR, IR, "free", FLUSHED, IR, IR, FLUSHED);
        List<String> betweenHooks = List.of(IR, "free", IR, FLUSHED, IR, IR, FLUSHED);
        List<String> beforeAnything = List.of("free", IR, IR, FLUSHED, IR, IR, FLUSHED);

        assertEquals(beforeFlush, FlushSequence.freeAfterAnyFolio(beforeFlush, 2));
        assertEquals(betweenHooks, FlushSequence.freeAfterAnyFolio(betweenHooks, 2));
        assertEquals(beforeAnything, FlushSequence.freeAfterAnyFolio(beforeAnything, 2));
    }

    @Test
    void withoutCpuFlushesAFolioEndsWithItsShareOfTheHookCalls() {
        // arm64: no CPU flush in the capture; 2 folios, 4 hook calls: 2 each
        assertEquals(List.of(IR, IR, IR, IR, MOVED), FlushSequence.freeAfterAnyFolio(List.of(IR, IR, "free", IR, IR), 2));
        assertEquals(List.of(IR, "free", IR, IR, IR), FlushSequence.freeAfterAnyFolio(List.of(IR, "free", IR, IR, IR), 2));
    }

    @Test
    void hookCallsThatDoNotShareOutEvenlyOverTheFoliosLeaveTheSequenceAsItIs() {
        List<String> steps = List.of(IR, IR, IR, FLUSHED, "free");
        assertEquals(steps, FlushSequence.freeAfterAnyFolio(steps, 2));
        assertEquals(steps, FlushSequence.freeAfterAnyFolio(steps, 0));
    }
}
