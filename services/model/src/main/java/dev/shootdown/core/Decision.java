package dev.shootdown.core;

import dev.shootdown.event.Event;
import java.util.List;

/** What a node decided for one input: the events it emits, in order, and the timers it wants. */
public record Decision(List<Event> events, List<TimerRequest> timers) {

    public static final Decision NONE = new Decision(List.of(), List.of());

    public Decision {
        events = List.copyOf(events);
        timers = List.copyOf(timers);
    }
}
