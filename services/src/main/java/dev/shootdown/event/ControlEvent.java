package dev.shootdown.event;

import dev.shootdown.scenario.Scenario;

/** Run control: the start and end of a run, timers, and nodes reporting that they are done. */
public sealed interface ControlEvent extends Event {

    @Override
    default Family family() {
        return Family.CONTROL;
    }

    /** The run controller started the run: every node receives the scenario it simulates. */
    record RunStarted(String runId, long seed, Scenario scenario) implements ControlEvent {}

    /** The coordinator saw the scenario's end condition: nodes stop their workloads. */
    record RunCompleted(String reason) implements ControlEvent {}

    /** {@code node} handled RunCompleted and will emit nothing more. */
    record NodeQuiesced(String target, String node) implements ControlEvent, Directed {}

    /** A timer the node asked for expired; the host delivers it as an input on the node's thread. */
    record TimerFired(String timer, long dueNs) implements ControlEvent {}
}
