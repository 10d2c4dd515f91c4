package dev.shootdown.event;

/** An event that is a step of one shootdown (a flush with its id): the audit and the report group by it. */
public interface InShootdown {
    /** The shootdown this event is a step of; -1 when none (a permission change that needed no flush). */
    long shootdownId();
}
