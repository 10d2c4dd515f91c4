package dev.shootdown.mm;

import dev.shootdown.core.Decision;
import dev.shootdown.event.Event;
import dev.shootdown.event.IpiEvent;
import dev.shootdown.event.NodeIds;
import dev.shootdown.event.PageTableEvent;
import dev.shootdown.event.SecondaryTlbEvent;
import dev.shootdown.kernel.file.KernelFiles;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
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

    /**
     * What the CPUs and IOMMUs say to a request of {@code e}, at once: a FlushTlb is answered
     * with a full flush, an InvalidateSecondaryTlbs with its completion; added to {@code inputs}.
     */
    static void answer(Event e, Deque<Event> inputs) {
        if (e instanceof IpiEvent.FlushTlb f) {
            inputs.add(new IpiEvent.TlbFlushed(NodeIds.COORDINATOR, f.target(), f.mm(), f.start(), f.end(),
                    IpiEvent.FlushKind.FULL, 1, 1, f.shootdownId()));
        } else if (e instanceof SecondaryTlbEvent.InvalidateSecondaryTlbs i) {
            inputs.add(new SecondaryTlbEvent.SecondaryTlbsInvalidated(NodeIds.COORDINATOR, i.target(), i.mm(), i.pasid(),
                    i.start(), i.end(), i.shootdownId()));
        }
    }

    /**
     * Feeds {@code first} to {@code coordinator}, then {@linkplain #answer answers} every request
     * it sends, until it sends none; each input {@code stepNs} after the last, from {@code nowNs}.
     * Returns the time of the last input.
     */
    long runAnswering(Coordinator coordinator, Event first, long nowNs, long stepNs) {
        Deque<Event> inputs = new ArrayDeque<>(List.of(first));
        long now = nowNs;
        while (!inputs.isEmpty()) {
            now += stepNs;
            for (Event e : on(coordinator, inputs.poll(), now).events()) {
                answer(e, inputs);
            }
        }
        return now;
    }

    /**
     * Feeds {@code first} to {@code coordinator}, answering every request, until its
     * {@code batchFlushes}-th arch_tlbbatch_flush call; then rebuilds a twin from the record and
     * feeds every next input to both, {@code stepNs} apart from {@code nowNs}, asserting the same
     * decision each time. Returns how many inputs were compared.
     */
    int comparedWithTwinAfterBatchFlushes(Coordinator coordinator, Event first, int batchFlushes, long nowNs, long stepNs) {
        Deque<Event> inputs = new ArrayDeque<>(List.of(first));
        long now = nowNs;
        int flushes = 0;
        while (flushes < batchFlushes) {
            now += stepNs;
            for (Event e : on(coordinator, inputs.poll(), now).events()) {
                answer(e, inputs);
                if (e instanceof PageTableEvent.TlbFlushCalled c && c.function().equals("arch_tlbbatch_flush")) {
                    flushes++;
                }
            }
        }
        Coordinator twin = rebuilt(now);
        int compared = 0;
        while (!inputs.isEmpty()) {
            Event input = inputs.poll();
            now += stepNs;
            Decision original = on(coordinator, input, now);
            org.junit.jupiter.api.Assertions.assertEquals(original, twin.onEvent(input, now), "after " + input);
            compared++;
            for (Event e : original.events()) {
                answer(e, inputs);
            }
        }
        return compared;
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
