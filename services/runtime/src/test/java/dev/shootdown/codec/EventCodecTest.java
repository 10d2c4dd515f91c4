package dev.shootdown.codec;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;

import com.fasterxml.jackson.annotation.JsonSubTypes;
import dev.shootdown.event.Envelope;
import dev.shootdown.event.Event;
import dev.shootdown.event.SecondaryTlbEvent;
import dev.shootdown.event.VectorClock;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import org.junit.jupiter.api.Test;

/**
 * The decoder's fast way ({@link EventCodec#decodeCanonical}) against Jackson's data binding of the
 * whole line ({@link EventCodec#decodeGeneral}): the same envelope for every line the encoder
 * writes, and for anything else either the same envelope or no answer, so that {@code decode}
 * takes the general way and says what it always said.
 */
class EventCodecTest {

    /**
     * Events whose records have a component the fast way does not read (a scenario, task programs,
     * an imported trace's map of ignored lines): one per run or per task, not worth a fast path.
     */
    private static final Set<String> GENERAL_ONLY = Set.of("run-started", "task-started", "task-scheduled", "trace-imported");

    @Test
    void everyEventTypeDecodesTheFastWayToWhatDataBindingGives() throws Exception {
        Set<String> general = new TreeSet<>();
        for (JsonSubTypes.Type t : Event.class.getAnnotation(JsonSubTypes.class).value()) {
            Envelope envelope = envelope((Event) EventSamples.sample(t.value()));
            String line = EventCodec.encode(envelope);
            Envelope fast = EventCodec.decodeCanonical(line);
            assertEquals(envelope, EventCodec.decodeGeneral(line), t.name());
            if (fast == null) {
                general.add(t.name());
            } else {
                assertEquals(envelope, fast, t.name());
                assertEquals(line, EventCodec.encode(fast), t.name());
                assertEquals(envelope, EventCodec.decode(line.toCharArray(), 0, line.length()), t.name());
            }
        }
        assertEquals(new TreeSet<>(GENERAL_ONLY), general, "the event types only data binding decodes");
    }

    @Test
    void aLineInAnotherShapeGetsTheSameEnvelopeOrTheSameReason() throws Exception {
        String line = EventCodec.encode(envelope(new SecondaryTlbEvent.CommandsIssued("iommu0", 1, 1, 0x1000, 0x2000,
                List.of("TLBI_NH_VA", "CMD_SYNC"), 7)));
        List<String> variants = List.of(
                line.replace("{\"run\":\"r1\",\"node\":\"cpu0\",", "{\"node\":\"cpu0\",\"run\":\"r1\","), // another field order
                line.replace(",\"schema\":" + Envelope.SCHEMA_VERSION + ",", ", \"schema\" : " + Envelope.SCHEMA_VERSION + " ,"), // whitespace
                line.replace("\"seq\":3", "\"seq\":3.0"), // a fraction where a long belongs
                line.replace("\"schema\":" + Envelope.SCHEMA_VERSION, "\"schema\":" + (Envelope.SCHEMA_VERSION + 1)), // a newer schema
                line.replace("\"schema\":" + Envelope.SCHEMA_VERSION, "\"schema\":10000000000"), // an int that is not one
                line.replace("\"seq\":3", "\"seq\":0"), // a seq the envelope refuses
                line.replace("\"clock\":{\"coordinator\":9,\"cpu0\":3}", "\"clock\":{\"cpu0\":3,\"coordinator\":9}"), // unsorted clock
                line.replace("\"clock\":{\"coordinator\":9,", "\"clock\":{\"coordinator\":null,"), // a null clock entry
                line.replace("\"links\":{\"coordinator\":2}", "\"links\":{\"coordinator\":2,\"coordinator\":3}"), // a repeated link
                line.replace("\"cause\":\"coordinator#9\"", "\"cause\":9"), // a number where a string belongs
                line.replace("\"pasid\":1", "\"pasid\":1,\"extra\":true"), // an unknown property
                line.replace("\"pasid\":1,", ""), // a missing property
                line.replace("\"commands\":[\"TLBI_NH_VA\",\"CMD_SYNC\"]", "\"commands\":[\"TLBI_NH_VA\",null]"),
                line.replace("{\"type\":\"cmdq-issued\",", "{\"iommu\":\"iommu0\",\"type\":\"cmdq-issued\",").replace(",\"iommu\":\"iommu0\"", ""),
                line.replace("cmdq-issued", "cmdq-exploded"), // an unknown type
                line + " {}", // trailing tokens
                line.substring(0, line.length() - 3)); // cut short
        for (String variant : variants) {
            Envelope fast = EventCodec.decodeCanonical(variant);
            Object general;
            try {
                general = EventCodec.decodeGeneral(variant);
            } catch (LogFormatException e) {
                general = e.getMessage();
                assertNull(fast, variant);
            }
            if (fast != null) {
                assertEquals(general, fast, variant);
            }
            Object decoded;
            try {
                decoded = EventCodec.decode(variant);
            } catch (LogFormatException e) {
                decoded = e.getMessage();
            }
            Object fromChars;
            try {
                fromChars = EventCodec.decode(("[ " + variant + " ]").toCharArray(), 2, variant.length());
            } catch (LogFormatException e) {
                fromChars = e.getMessage();
            }
            assertEquals(decoded, fromChars, "decoded from a char array: " + variant);
            if (general instanceof Envelope g && g.schema() > Envelope.SCHEMA_VERSION) {
                assertEquals("schema version " + (Envelope.SCHEMA_VERSION + 1) + " is newer than this build reads ("
                        + Envelope.SCHEMA_VERSION + ")", decoded, variant);
            } else {
                assertEquals(general, decoded, variant);
            }
        }
    }

    @Test
    void aClockWithUnsortedOrRepeatedNodesIsNotBuiltTheFastWay() {
        assertNull(VectorClock.ofSorted(new String[] {"cpu1", "cpu0"}, new long[] {1, 2}));
        assertNull(VectorClock.ofSorted(new String[] {"cpu0", "cpu0"}, new long[] {1, 2}));
        VectorClock clock = VectorClock.ofSorted(new String[] {"coordinator", "cpu0"}, new long[] {9, 3});
        assertNotNull(clock);
        assertEquals(new VectorClock(new TreeMap<>(Map.of("cpu0", 3L, "coordinator", 9L))), clock);
    }

    private static Envelope envelope(Event event) {
        return new Envelope("r1", "cpu0", 3, Envelope.SCHEMA_VERSION, 1234,
                new VectorClock(new TreeMap<>(Map.of("cpu0", 3L, "coordinator", 9L))), "coordinator#9",
                new TreeMap<>(Map.of("coordinator", 2L)), event);
    }
}
