package dev.shootdown.event;

import com.fasterxml.jackson.annotation.JsonSubTypes;
import java.util.HashMap;
import java.util.Map;

/** The stable type name of each event ({@code flush-tlb}), as the log writes it. */
public final class EventTypes {

    private static final Map<Class<?>, String> NAMES = new HashMap<>();

    static {
        for (JsonSubTypes.Type t : Event.class.getAnnotation(JsonSubTypes.class).value()) {
            NAMES.put(t.value(), t.name());
        }
    }

    private EventTypes() {}

    public static String name(Event event) {
        return NAMES.get(event.getClass());
    }
}
