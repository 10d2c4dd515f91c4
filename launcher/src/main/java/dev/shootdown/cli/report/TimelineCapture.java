package dev.shootdown.cli.report;

import dev.shootdown.audit.ShootdownSummary;
import dev.shootdown.audit.Violation;
import dev.shootdown.cli.report.HtmlReport.Timeline;
import dev.shootdown.cli.report.HtmlReport.Violating;
import dev.shootdown.event.Envelope;
import dev.shootdown.event.InShootdown;
import dev.shootdown.event.PageTableEvent;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Chooses and keeps the timelines of {@code report.html} while a log streams through the
 * auditor, in memory bounded by what is in flight: the steps of each shootdown are kept until it
 * is decided, which is when {@link #FINISHED_WINDOW} later shootdowns have been summarized (so a
 * violation found shortly after a shootdown finished, like a DMA into a frame it freed, still
 * points at it) or at the end. It chooses as {@link HtmlReport#render(dev.shootdown.audit.AuditReport, Map)}
 * does for a whole report: the first shootdowns, then those a violation points at.
 *
 * <p>Feed it each envelope before the auditor sees it, then the auditor's violations and
 * summaries as they are settled.
 */
public final class TimelineCapture {

    /** Shootdowns summarized but not yet decided. */
    static final int FINISHED_WINDOW = 256;
    /** Recent envelopes kept to find the access a violation is about. */
    static final int RECENT = 4096;

    private final Set<Long> started = new HashSet<>();
    /** Steps of the shootdowns not decided yet; searched only when a violation comes. */
    private final Map<Long, List<Envelope>> steps = new LinkedHashMap<>();
    private final Map<Long, List<Violating>> violating = new HashMap<>();
    private final Set<Long> violated = new HashSet<>();
    private final ArrayDeque<ShootdownSummary> undecided = new ArrayDeque<>();
    private final List<Timeline> timelines = new ArrayList<>();
    /** The last {@link #RECENT} envelopes, a ring; searched only when a violation comes. */
    private final Envelope[] recent = new Envelope[RECENT];
    private long accepted;

    void accept(Envelope e) {
        recent[(int) (accepted++ % RECENT)] = e;
        if (e.event() instanceof PageTableEvent.MmuGatherStarted g) {
            started.add(g.shootdownId());
        } else if (e.event() instanceof PageTableEvent.TlbFlushStarted f) {
            started.add(f.shootdownId());
        }
        if (e.event() instanceof InShootdown step && started.contains(step.shootdownId())) {
            steps.computeIfAbsent(step.shootdownId(), k -> new ArrayList<>()).add(e);
        }
    }

    /** An event id, {@code node#seq}, taken apart once. */
    private record Id(String node, long seq) {
        static Id of(String id) {
            int hash = id.lastIndexOf('#');
            try {
                return new Id(id.substring(0, hash), Long.parseLong(id.substring(hash + 1)));
            } catch (RuntimeException notAnId) {
                return new Id(id, -1);
            }
        }

        boolean is(Envelope e) {
            return e.seq() == seq && e.node().equals(node);
        }
    }

    /** The envelope {@code id} among the last {@link #RECENT} accepted, or null. */
    Envelope recent(String id) {
        Id wanted = Id.of(id);
        long first = Math.max(0, accepted - RECENT);
        for (long i = accepted - 1; i >= first; i--) {
            Envelope e = recent[(int) (i % RECENT)];
            if (wanted.is(e)) {
                return e;
            }
        }
        return null;
    }

    void onViolation(Violation v) {
        List<Id> ids = v.events().stream().map(Id::of).toList();
        // The chain's steps among the shootdowns held, and its envelopes among the recent ones.
        Map<Id, Long> shootdownOf = new HashMap<>();
        Map<Id, Envelope> found = new HashMap<>();
        for (Map.Entry<Long, List<Envelope>> sd : steps.entrySet()) {
            for (Envelope step : sd.getValue()) {
                for (Id id : ids) {
                    if (id.is(step)) {
                        shootdownOf.put(id, sd.getKey());
                        found.put(id, step);
                    }
                }
            }
        }
        long first = Math.max(0, accepted - RECENT);
        for (long i = accepted - 1; i >= first && found.size() < ids.size(); i--) {
            Envelope e = recent[(int) (i % RECENT)];
            for (Id id : ids) {
                if (id.is(e)) {
                    found.putIfAbsent(id, e);
                }
            }
        }
        Envelope at = null;
        boolean looked = false;
        Set<Long> seen = new HashSet<>();
        for (Id id : ids) {
            Long shootdown = shootdownOf.get(id);
            if (shootdown == null || !seen.add(shootdown)) {
                continue;
            }
            violated.add(shootdown);
            if (!looked) {
                at = HtmlReport.accessOf(v, s -> found.get(Id.of(s)));
                looked = true;
            }
            if (at != null) {
                keepEarliest(violating.computeIfAbsent(shootdown, k -> new ArrayList<>()), new Violating(at, v));
            }
        }
    }

    /**
     * Adds {@code v} to a shootdown's violating accesses, of which a timeline draws only the
     * {@link HtmlReport#MAX_VIOLATION_MARKS} earliest of each kind (by time, then as they came):
     * those are kept, in the order they came, and no more. A device that goes on writing a freed
     * frame for the rest of the run is one violation per write, all of the same shootdown.
     */
    static void keepEarliest(List<Violating> kept, Violating v) {
        String kind = v.violation().kind();
        int same = 0;
        int latest = -1;
        for (int i = 0; i < kept.size(); i++) {
            if (!kept.get(i).violation().kind().equals(kind)) {
                continue;
            }
            same++;
            if (latest < 0 || kept.get(i).at().timeNs() >= kept.get(latest).at().timeNs()) {
                latest = i; // the last of the latest: what a stable sort by time puts at the end
            }
        }
        if (same < HtmlReport.MAX_VIOLATION_MARKS) {
            kept.add(v);
            return;
        }
        if (v.at().timeNs() < kept.get(latest).at().timeNs()) {
            kept.remove(latest);
            kept.add(v);
        }
    }

    /** A shootdown not to draw: its steps are let go. */
    void skip(long shootdownId) {
        steps.remove(shootdownId);
        started.remove(shootdownId);
        violating.remove(shootdownId);
        violated.remove(shootdownId);
    }

    void onShootdown(ShootdownSummary s) {
        undecided.add(s);
        while (undecided.size() > FINISHED_WINDOW) {
            decide(undecided.poll());
        }
    }

    private void decide(ShootdownSummary s) {
        List<Envelope> own = steps.remove(s.id());
        if (own == null) {
            own = new ArrayList<>();
        }
        started.remove(s.id());
        List<Violating> bad = violating.remove(s.id());
        boolean wasViolated = violated.remove(s.id());
        if (HtmlReport.draws(timelines.size(), wasViolated)) {
            own.sort(Comparator.comparingLong(Envelope::timeNs).thenComparing(e -> e.id()));
            timelines.add(new Timeline(s, own, bad == null ? List.of() : bad));
        }
    }

    /** Decides what is left; the timelines chosen, in report order. */
    List<Timeline> finish() {
        while (!undecided.isEmpty()) {
            decide(undecided.poll());
        }
        return timelines;
    }

    /** Envelopes held now (for tests: bounded by what is in flight). */
    int held() {
        return steps.values().stream().mapToInt(List::size).sum() + (int) Math.min(accepted, RECENT)
                + violating.values().stream().mapToInt(List::size).sum();
    }
}
