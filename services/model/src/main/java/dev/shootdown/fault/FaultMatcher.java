package dev.shootdown.fault;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.function.Predicate;

/**
 * The model faults of a plan as one node experiences them: asked at each event a fault kind can
 * hit, it says whether a fault of that kind is injected now. Deterministic: each fault counts its
 * matches and injections and draws its probability from its own {@link SplittableRandom}, seeded
 * with the plan's (or run's) seed and the fault's index and advanced once per candidate match.
 * That is node state: a node rebuilt by re-executing its inputs from the log draws the same.
 *
 * <p>Thread: the node's. Time: simulated nanoseconds.
 */
public final class FaultMatcher {

    /** A matcher that never injects. */
    public static final FaultMatcher NONE = new FaultMatcher(FaultPlan.NONE, "", 0);

    private static final class Armed {
        final int index;
        final FaultSpec spec;
        final SplittableRandom random;
        long matches;
        long injected;

        Armed(int index, FaultSpec spec, long seed) {
            this.index = index;
            this.spec = spec;
            // Mix the index in so faults of one plan draw independent streams (golden-ratio increment, as SplittableRandom's).
            this.random = new SplittableRandom(seed ^ (0x9E3779B97F4A7C15L * (index + 1)));
        }
    }

    private final String nodeId;
    private final List<Armed> armed = new ArrayList<>();

    FaultMatcher(FaultPlan plan, String nodeId, long seed) {
        this.nodeId = nodeId;
        for (FaultPlan.Indexed f : plan.of(FaultKind.Layer.MODEL)) {
            if (f.spec().node() == null || f.spec().node().equals(nodeId)) {
                armed.add(new Armed(f.index(), f.spec(), seed));
            }
        }
    }

    /** True when some model fault of the plan can hit this node. */
    public boolean armed() {
        return !armed.isEmpty();
    }

    /**
     * An event that {@code kind} hits happened on this node at {@code nowNs}: the fault injected
     * now, if one is (the first of the plan's faults of that kind that fires), else null. Counts
     * the match for every fault of that kind whose filters it passes.
     */
    public FaultSpec maybeInject(FaultKind kind, long nowNs) {
        return maybeInject(kind, nowNs, spec -> true);
    }

    /**
     * As {@link #maybeInject(FaultKind, long)}, for a kind whose match also depends on the
     * node's state: only faults for which {@code applies} holds count the event as a match (a
     * prq-overflow matches a page request only when its queue of {@code depth} is full).
     */
    public FaultSpec maybeInject(FaultKind kind, long nowNs, Predicate<FaultSpec> applies) {
        FaultSpec hit = null;
        for (Armed a : armed) {
            if (a.spec.kind() != kind || !a.spec.covers(nodeId, nowNs) || !applies.test(a.spec)) {
                continue;
            }
            a.matches++;
            if (a.matches < a.spec.effectiveNth() || a.injected >= a.spec.effectiveCount()) {
                continue;
            }
            double p = a.spec.effectiveProbability();
            boolean fires = p >= 1.0 || (p > 0 && a.random.nextDouble() < p);
            if (fires && hit == null) {
                a.injected++;
                hit = a.spec;
            }
        }
        return hit;
    }

    /** The index in the plan of {@code spec}, for FaultInjected's detail. */
    public int indexOf(FaultSpec spec) {
        for (Armed a : armed) {
            if (a.spec == spec) {
                return a.index;
            }
        }
        return -1;
    }
}
