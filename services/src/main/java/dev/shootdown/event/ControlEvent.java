package dev.shootdown.event;

import dev.shootdown.kernel.KernelVariant;
import dev.shootdown.scenario.Scenario;

/** Run control: the start and end of a run, timers, and nodes reporting that they are done. */
public sealed interface ControlEvent extends Event {

    @Override
    default Family family() {
        return Family.CONTROL;
    }

    /**
     * The run controller started the run: every node receives the scenario it simulates, and
     * the kernel variant the coordinator runs, whole and resolved, so the log replays and audits
     * the same on a machine that never saw its file. {@code kernel} is null only in logs
     * recorded before variants were recorded (schema 1): the scenario's policy then names a
     * built-in.
     */
    record RunStarted(String runId, long seed, Scenario scenario, KernelVariant kernel) implements ControlEvent {}

    /** The coordinator saw the scenario's end condition: nodes stop their workloads. */
    record RunCompleted(String reason) implements ControlEvent {}

    /** {@code node} handled RunCompleted and will emit nothing more. */
    record NodeQuiesced(String target, String node) implements ControlEvent, Directed {}

    /** A timer the node asked for expired; the host delivers it as an input on the node's thread. */
    record TimerFired(String timer, long dueNs) implements ControlEvent {}
}
