package dev.shootdown.cli.report;

import dev.shootdown.audit.ShootdownSummary;
import dev.shootdown.audit.Violation;
import dev.shootdown.event.Envelope;
import dev.shootdown.event.TraceEvent;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.function.Function;

/**
 * The whole run on one time axis, for report.html's overview: every shootdown as a span from its
 * first step to its last, on the row of the CPU that started it, and every violation at the
 * time it happened. Bounded: the first {@link #MAX_SPANS} shootdowns and {@link #MAX_VIOLATIONS}
 * violations are kept, the rest counted; filled as the audit reports them, so a streamed
 * audit and a whole one draw the same overview.
 */
public final class Overview {

    static final int MAX_SPANS = 5_000;
    static final int MAX_VIOLATIONS = 5_000;
    /** Shootdowns remembered as violated (by {@link Violation#shootdown()}) for the spans still to come. */
    static final int MAX_VIOLATED = 100_000;

    /**
     * One shootdown: {@code cpu} the CPU (or node) it started on, its first and last step,
     * {@code hung} when a CPU it waited for never flushed (drawn to the end of the run).
     */
    public record Span(long id, String cpu, String caller, long mm, String range, long startNs, long endNs, boolean hung) {}

    /**
     * A violation at the time of its access ({@code access}), or, for one about no access (an
     * oops, a wrong-mm invalidation), of its chain's last event found: in a streamed audit, among
     * the last {@link TimelineCapture#RECENT} events, so one whose whole chain is older is not drawn.
     */
    public record Violating(long timeNs, String kind, boolean access) {}

    private final List<Span> spans = new ArrayList<>();
    private final List<Violating> violationNs = new ArrayList<>();
    private final Set<Long> violated = new HashSet<>();
    private long spansNotDrawn;
    private long violationsNotDrawn;

    /** A shootdown the audit finished. */
    public void onShootdown(ShootdownSummary s) {
        if (spans.size() >= MAX_SPANS) {
            spansNotDrawn++;
            return;
        }
        long start = Long.MAX_VALUE;
        long end = Long.MIN_VALUE;
        List<Long> times = new ArrayList<>();
        times.add(s.pteChangeNs());
        times.add(s.lastFreeNs());
        times.add(s.returnedNs());
        times.add(s.finishedNs());
        s.cpuFlushes().forEach(f -> times.add(f.completedNs()));
        s.hookCalls().forEach(h -> times.add(h.timeNs()));
        for (ShootdownSummary.SecondaryInvalidation i : s.secondary()) {
            times.add(i.issuedNs());
            times.add(i.completedNs());
        }
        s.unacknowledged().forEach(u -> times.add(u.issuedNs()));
        for (Long t : times) {
            if (t != null) {
                start = Math.min(start, t);
                end = Math.max(end, t);
            }
        }
        if (start == Long.MAX_VALUE) {
            spansNotDrawn++;
            return;
        }
        boolean hung = s.unacknowledged().stream().anyMatch(ShootdownSummary.UnacknowledgedFlush::delivered);
        String range = s.mm() == 0 ? "a batch across mms" : "mm " + s.mm() + " [" + s.start() + ", " + s.end() + ")";
        spans.add(new Span(s.id(), s.cpu() == null ? "?" : s.cpu(), s.caller(), s.mm(), range, start, end, hung));
    }

    /**
     * A violation; {@code access} finds the access it is about ({@link HtmlReport#accessOf}), asked
     * only while there is room for it.
     */
    public void onViolation(Violation v, Function<Violation, Envelope> access) {
        if (v.shootdown() != 0 && violated.size() < MAX_VIOLATED) {
            violated.add(v.shootdown());
        }
        if (violationNs.size() >= MAX_VIOLATIONS) {
            violationsNotDrawn++;
            return;
        }
        Envelope at = access.apply(v);
        if (at != null) {
            violationNs.add(new Violating(at.timeNs(), v.kind(), at.event() instanceof TraceEvent.MemoryAccessed
                    || at.event() instanceof TraceEvent.DmaCompleted));
        }
    }

    List<Span> spans() {
        return spans;
    }

    boolean violated(long shootdown) {
        return violated.contains(shootdown);
    }

    List<Violating> violationNs() {
        return violationNs;
    }

    long spansNotDrawn() {
        return spansNotDrawn;
    }

    long violationsNotDrawn() {
        return violationsNotDrawn;
    }
}
