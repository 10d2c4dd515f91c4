package dev.shootdown.event;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.shootdown.codec.EventCodec;
import java.util.Map;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;

/** with and merge: values, immutability, and the shortcuts that return the clock itself. */
class VectorClockTest {

    private static VectorClock clock(Map<String, Long> entries) {
        return new VectorClock(new TreeMap<>(entries));
    }

    @Test
    void withSetsOneEntryAndLeavesTheOriginalAsItWas() {
        VectorClock a = clock(Map.of("cpu0", 3L, "cpu1", 1L));
        VectorClock b = a.with("cpu0", 4);
        assertEquals(clock(Map.of("cpu0", 4L, "cpu1", 1L)), b);
        assertEquals(clock(Map.of("cpu0", 3L, "cpu1", 1L)), a);
        assertSame(b, b.with("cpu0", 4), "the same entry again: nothing to copy");
        assertThrows(UnsupportedOperationException.class, () -> b.entries().put("cpu2", 1L));
    }

    @Test
    void mergeTakesTheEntryWiseMaximumAndReturnsTheClockItselfWhenItCoversTheOther() {
        VectorClock a = clock(Map.of("cpu0", 3L, "cpu1", 1L));
        VectorClock b = clock(Map.of("cpu1", 2L, "iommu0", 5L));
        VectorClock merged = a.merge(b);
        assertEquals(clock(Map.of("cpu0", 3L, "cpu1", 2L, "iommu0", 5L)), merged);
        assertSame(merged, merged.merge(a));
        assertSame(merged, merged.merge(VectorClock.EMPTY));
        assertThrows(UnsupportedOperationException.class, () -> merged.entries().put("cpu2", 1L));
        assertEquals(clock(Map.of("cpu0", 3L, "cpu1", 1L)), a, "merge leaves its operands as they were");
    }

    @Test
    void aClockBuiltByWithAndMergeEncodesAsOneBuiltFromAMap() throws Exception {
        VectorClock built = VectorClock.EMPTY.with("iommu0", 2).merge(clock(Map.of("cpu0", 7L))).with("cpu1", 1);
        String json = EventCodec.mapper().writeValueAsString(built);
        assertEquals("{\"cpu0\":7,\"cpu1\":1,\"iommu0\":2}", json);
        assertEquals(built, EventCodec.mapper().readValue(json, VectorClock.class));
    }
}
