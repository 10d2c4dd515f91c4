package dev.shootdown.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** How the run benchmark reads the child JVM's GC log: the floor of each tenth, and whether it grows. */
class RunBenchmarkTest {

    private static List<String> log(long... afterMiB) {
        List<String> lines = new ArrayList<>(List.of("[0.004s][info][gc] Using G1"));
        for (int i = 0; i < afterMiB.length; i++) {
            lines.add(String.format("[%d.%03ds][info][gc] GC(%d) Pause Young (Normal) (G1 Evacuation Pause) %dM->%dM(256M) 4.984ms",
                    (i + 1) / 1000, (i + 1) % 1000, i, afterMiB[i] + 100, afterMiB[i]));
        }
        return lines;
    }

    @Test
    void aHeapThatGathersGarbageButKeepsTheSameFloorIsFlat() {
        // each tenth: the floor 40 (after a mixed collection), the rest garbage up to 190
        long[] after = new long[100];
        for (int i = 0; i < after.length; i++) {
            after[i] = i < 10 ? 5 + i : i % 10 == 0 ? 40 : 150 + i % 40;
        }
        List<String> lines = log(after);
        lines.add("[0.101s][info][gc] GC(100) Pause Remark 120M->40M(256M) 1.003ms"); // other pauses count too

        RunBenchmark.Heap heap = RunBenchmark.heap(lines);

        assertEquals(10, heap.tenthFloorsMiB().size());
        assertEquals(5, heap.tenthFloorsMiB().get(0));
        assertEquals(40, heap.tenthFloorsMiB().get(9));
        assertEquals(189, heap.highestMiB());
        assertEquals(101, heap.collections());
        assertTrue(heap.flat(), heap.toString());
    }

    @Test
    void aFloorThatRisesWithTheRunIsNot() {
        long[] after = new long[100];
        for (int i = 0; i < after.length; i++) {
            after[i] = 10 + 2L * i; // what is kept live grows with the events
        }
        RunBenchmark.Heap heap = RunBenchmark.heap(log(after));

        assertFalse(heap.flat(), heap.toString());
        assertTrue(heap.tenthFloorsMiB().get(9) > heap.tenthFloorsMiB().get(1) + 100, heap.toString());
    }

    @Test
    void aFewCollectionsAreTooFewToTellAndAreNotCalledFlat() {
        RunBenchmark.Heap heap = RunBenchmark.heap(log(5, 7, 11, 17, 22, 35, 36, 36, 36));

        assertFalse(heap.enough(), heap.toString());
        assertFalse(heap.flat(), heap.toString());
    }
}
