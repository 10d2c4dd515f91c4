package dev.shootdown.event;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;

import com.fasterxml.jackson.annotation.JsonSubTypes;
import java.util.HashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The switchable list of event types is the JSON subtype list: same classes, same stable names. */
class EventTypeTest {

    @Test
    void everyConstantIsAJsonSubtypeUnderItsOwnName() {
        Map<Class<?>, String> declared = new HashMap<>();
        for (JsonSubTypes.Type t : Event.class.getAnnotation(JsonSubTypes.class).value()) {
            declared.put(t.value(), t.name());
        }
        Map<Class<?>, String> constants = new HashMap<>();
        for (EventType t : EventType.values()) {
            constants.put(t.eventClass(), t.typeName());
        }
        assertEquals(declared, constants);
    }

    @Test
    void anEventsTypeIsTheConstantOfItsClassAndItsNameFindsItBack() {
        Event flush = new IpiEvent.TlbiCompleted("cpu0", "cpu1", 1, 0x1000, 0x2000, 3, 7);
        assertSame(EventType.TLBI_COMPLETED, flush.type());
        assertEquals("tlbi-completed", flush.type().typeName());
        assertSame(EventType.TLBI_COMPLETED, EventType.named("tlbi-completed"));
        assertNull(EventType.named("tlbi_completed"));
    }
}
