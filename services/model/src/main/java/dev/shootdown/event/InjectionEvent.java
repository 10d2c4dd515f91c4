package dev.shootdown.event;

import com.fasterxml.jackson.annotation.JsonInclude;

/**
 * Faults a fault plan injected into the run. A model fault (a lost IPI, a dropped IOTLB
 * invalidation, ...) is emitted by the node whose simulated hardware misbehaves, caused by the
 * event it hit; an infrastructure fault (a node killed, a message delayed) by the host that
 * injected it. Facts: recorded, delivered to no node, so the audit and the replayer see them.
 */
public sealed interface InjectionEvent extends Event {

    @Override
    default Family family() {
        return Family.INJECTION;
    }

    /**
     * A fault of kind {@code fault} (a {@code FaultKind} name, {@code lost-ipi}) in layer
     * {@code layer} ({@code model} or {@code infrastructure}) hit {@code node}. {@code target}
     * names what it hit: for a model fault the event type and its key as the node saw it
     * ({@code flush-tlb shootdown 3}; the envelope's cause is that event's id), for an
     * infrastructure fault an event id or a link ({@code coordinator>cpu1}). {@code detail} is
     * one line for a human. {@code index} is the fault's place in its plan ({@code faults[index]})
     * for a model fault, null for an infrastructure fault (and in logs written before it was
     * recorded).
     */
    record FaultInjected(String fault, String layer, String node, String target, String detail,
            @JsonInclude(JsonInclude.Include.NON_NULL) Integer index) implements InjectionEvent {

        /** An infrastructure fault: its host names it, not its place in the plan. */
        public FaultInjected(String fault, String layer, String node, String target, String detail) {
            this(fault, layer, node, target, detail, null);
        }
    }
}
