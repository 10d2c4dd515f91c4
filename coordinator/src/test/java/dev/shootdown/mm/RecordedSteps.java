package dev.shootdown.mm;

import dev.shootdown.core.Decision;
import dev.shootdown.event.Event;
import dev.shootdown.kernel.file.KernelFiles;
import java.util.ArrayList;
import java.util.List;

/**
 * What a coordinator under test was given and decided, step by step, as a host records it (each
 * input, its decision and the simulated time), and a coordinator rebuilt from that record as
 * NodeDriver.recover rebuilds a node: its kept inputs and its own events, with their times, then
 * the timers it asks for.
 */
final class RecordedSteps {

    /** One input, the decision for it, and when. */
    record Step(Event input, Decision decision, long nowNs) {}

    private final List<Step> steps = new ArrayList<>();

    /** Records {@code input} given to {@code coordinator} at {@code nowNs}; returns the whole decision. */
    Decision on(Coordinator coordinator, Event input, long nowNs) {
        Decision d = coordinator.onEvent(input, nowNs);
        steps.add(new Step(input, d, nowNs));
        return d;
    }

    List<Step> steps() {
        return steps;
    }

    void clear() {
        steps.clear();
    }

    /** The last decision recorded, whole. */
    Decision lastDecision() {
        return steps.get(steps.size() - 1).decision();
    }

    /** A fresh coordinator rebuilt from the record, asked for its timers at {@code nowNs}. */
    Coordinator rebuilt(long nowNs) {
        Coordinator twin = new Coordinator(KernelFiles.catalog());
        for (Step s : steps) {
            if (twin.keepsInput(s.input())) {
                twin.evolve(s.input());
            }
            for (Event e : s.decision().events()) {
                twin.evolve(e, s.nowNs());
            }
        }
        twin.timersAfterRecovery(nowNs);
        return twin;
    }
}
