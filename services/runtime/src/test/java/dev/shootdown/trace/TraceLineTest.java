package dev.shootdown.trace;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.shootdown.codec.EventSamples;
import dev.shootdown.event.Envelope;
import dev.shootdown.event.Event;
import dev.shootdown.event.EventType;
import dev.shootdown.event.PageTableEvent;
import dev.shootdown.event.VectorClock;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;

/** A trace line's columns, written without a Formatter, are what {@code "%12.3f  %-12s %-17s %-30s"} writes. */
class TraceLineTest {

    private static Envelope at(String node, long seq, long timeNs) {
        return new Envelope("r1", node, seq, Envelope.SCHEMA_VERSION, timeNs, new VectorClock(new TreeMap<>(Map.of(node, seq))), null,
                new TreeMap<>(), new PageTableEvent.FrameFreed(0x1000, 1, 1));
    }

    /**
     * The fields trace and export read, built straight from the record, are Jackson's for every
     * event type: the samples EventCodecTest decodes, and the same with every boxed component null.
     */
    @Test
    void theFieldsAreWhatJacksonWritesForEveryEventType() throws Exception {
        int direct = 0;
        for (EventType t : EventType.values()) {
            for (boolean nulls : new boolean[] {false, true}) {
                Event event = (Event) EventSamples.sample(t.eventClass(), nulls);
                Envelope e = new Envelope("r1", "cpu0", 1, Envelope.SCHEMA_VERSION, 5, new VectorClock(new TreeMap<>(Map.of("cpu0", 1L))),
                        null, new TreeMap<>(), event);
                assertEquals(TraceLine.fieldsThroughJackson(e).toString(), TraceLine.fields(e).toString(), t + (nulls ? " with nulls" : ""));
                assertEquals(TraceLine.fieldsThroughJackson(e), TraceLine.fields(e), t + (nulls ? " with nulls" : ""));
            }
            direct += TraceLine.builtDirectly(t.eventClass()) ? 1 : 0;
        }
        assertTrue(direct > EventType.values().length / 2, "most types are built directly: " + direct);
    }

    @Test
    void theColumnsAreTheFormattersOnes() {
        long[] times = {0, 1, 9, 10, 999, 1000, 1001, 61_000, 249_455, 123_456_789, 999_999_999_999L, 100_000_000_000_000L, -1, -1500};
        String[] nodes = {"cpu0", "coordinator", "iommu0", "a-node-name-longer-than-twelve"};
        for (long t : times) {
            for (String node : nodes) {
                for (long seq : new long[] {1, 12345, 123_456_789_012L}) {
                    Envelope e = at(node, seq, t);
                    String step = TraceLine.step(e.event());
                    String line = TraceLine.format(e);
                    String head = String.format(Locale.ROOT, "%12.3f  %-12s %-17s %-30s", t / 1000.0, node, e.id(), step);
                    assertEquals(head, line.substring(0, head.length()), "at " + t + " ns");
                    assertEquals(" frame=0x1000", line.substring(head.length(), head.length() + 13), line);
                }
            }
        }
    }
}
