package dev.shootdown.cli;

import dev.shootdown.audit.ShootdownSummary;
import dev.shootdown.audit.Violation;
import dev.shootdown.cli.HtmlReport.Timeline;
import dev.shootdown.cli.HtmlReport.Violating;
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
final class TimelineCapture {

    /** Shootdowns summarized but not yet decided. */
    static final int FINISHED_WINDOW = 256;
    /** Recent envelopes kept to find the access a violation is about. */
    static final int RECENT = 4096;

    private final Set<Long> started = new HashSet<>();
    private final Map<Long, List<Envelope>> steps = new HashMap<>();
    private final Map<String, Long> shootdownOfStep = new HashMap<>();
    private final Map<Long, List<Violating>> violating = new HashMap<>();
    private final Set<Long> violated = new HashSet<>();
    private final ArrayDeque<ShootdownSummary> undecided = new ArrayDeque<>();
    private final List<Timeline> timelines = new ArrayList<>();
    private final LinkedHashMap<String, Envelope> recent = new LinkedHashMap<>(RECENT * 2) {
        @Override
        protected boolean removeEldestEntry(Map.Entry<String, Envelope> eldest) {
            return size() > RECENT;
        }
    };

    void accept(Envelope e) {
        recent.put(e.id(), e);
        if (e.event() instanceof PageTableEvent.MmuGatherStarted g) {
            started.add(g.shootdownId());
        } else if (e.event() instanceof PageTableEvent.TlbFlushStarted f) {
            started.add(f.shootdownId());
        }
        if (e.event() instanceof InShootdown step && started.contains(step.shootdownId())) {
            steps.computeIfAbsent(step.shootdownId(), k -> new ArrayList<>()).add(e);
            shootdownOfStep.put(e.id(), step.shootdownId());
        }
    }

    void onViolation(Violation v) {
        Envelope at = null;
        boolean looked = false;
        Set<Long> seen = new HashSet<>();
        for (String id : v.events()) {
            Long shootdown = shootdownOfStep.get(id);
            if (shootdown == null || !seen.add(shootdown)) {
                continue;
            }
            violated.add(shootdown);
            if (!looked) {
                at = HtmlReport.accessOf(v, this::lookup);
                looked = true;
            }
            if (at != null) {
                violating.computeIfAbsent(shootdown, k -> new ArrayList<>()).add(new Violating(at, v));
            }
        }
    }

    private Envelope lookup(String id) {
        Envelope e = recent.get(id);
        if (e != null) {
            return e;
        }
        Long shootdown = shootdownOfStep.get(id);
        if (shootdown == null) {
            return null;
        }
        for (Envelope step : steps.getOrDefault(shootdown, List.of())) {
            if (step.id().equals(id)) {
                return step;
            }
        }
        return null;
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
        own.forEach(e -> shootdownOfStep.remove(e.id()));
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
        return shootdownOfStep.size() + recent.size();
    }
}
