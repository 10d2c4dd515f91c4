package dev.shootdown.audit;

import dev.shootdown.audit.ShootdownSummary.CpuFlush;
import dev.shootdown.audit.ShootdownSummary.HookCall;
import dev.shootdown.audit.ShootdownSummary.SecondaryInvalidation;
import dev.shootdown.audit.ShootdownSummary.UnacknowledgedFlush;
import dev.shootdown.event.Envelope;
import dev.shootdown.event.IpiEvent;
import dev.shootdown.event.Kernel;
import dev.shootdown.event.SecondaryTlbEvent;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import org.HdrHistogram.Histogram;

/**
 * The shootdowns in flight, and the summaries of those let go. A shootdown that finished (and
 * whose system call returned) is done: nothing later in the log belongs to it. Its summary waits
 * for earlier shootdowns still in flight, so summaries come out in id order (up to
 * {@link Auditor#SUMMARY_REORDER_LIMIT} waiting); each is classified by when the secondary
 * invalidation completed relative to the CPU flushes, and its lag counted.
 */
final class Shootdowns {

    private final Mirrors mirrors;
    private final Auditor.Sink sink;
    private final Map<Long, LiveShootdown> live = new LinkedHashMap<>();
    /** Summaries of let-go shootdowns waiting for earlier ones, by id. */
    private final TreeMap<Long, ShootdownSummary> summariesWaiting = new TreeMap<>();
    final Map<String, Integer> orderClasses = new TreeMap<>();
    final Histogram lagAfter = new Histogram(3);
    final Histogram lagBefore = new Histogram(3);
    /** Whether the log was imported from a kernel trace (its mms gain and lose secondary TLBs as it runs). */
    boolean imported;

    Shootdowns(Mirrors mirrors, Auditor.Sink sink) {
        this.mirrors = mirrors;
        this.sink = sink;
    }

    /** A shootdown starts (MmuGatherStarted, TlbFlushStarted). */
    LiveShootdown start(Envelope started) {
        LiveShootdown sd = new LiveShootdown(started);
        live.put(sd.id, sd);
        return sd;
    }

    Optional<LiveShootdown> get(long id) {
        return Optional.ofNullable(live.get(id));
    }

    boolean isLive(long id) {
        return live.containsKey(id);
    }

    /** The shootdowns in flight, oldest first. */
    Iterable<LiveShootdown> live() {
        return live.values();
    }

    int size() {
        return live.size();
    }

    int summariesWaiting() {
        return summariesWaiting.size();
    }

    /** Whether it is done: finished, and returned if a system call's. */
    static boolean done(LiveShootdown sd) {
        return sd.finished != null && (!sd.gather() || sd.returned != null);
    }

    /** Lets {@code sd} go: its summary waits for the earlier ones still in flight. */
    void letGo(LiveShootdown sd) {
        live.remove(sd.id);
        summariesWaiting.put(sd.id, summarize(sd));
        flushSummaries(false);
    }

    /** At the end: every shootdown still in flight is summarized as it is, and every summary goes out. */
    void finish() {
        for (LiveShootdown sd : live.values()) {
            summariesWaiting.put(sd.id, summarize(sd));
        }
        live.clear();
        flushSummaries(true);
    }

    private void flushSummaries(boolean all) {
        long oldestLive = live.isEmpty() ? Long.MAX_VALUE : live.keySet().iterator().next();
        while (!summariesWaiting.isEmpty()
                && (all || summariesWaiting.firstKey() < oldestLive || summariesWaiting.size() > Auditor.SUMMARY_REORDER_LIMIT)) {
            ShootdownSummary s = summariesWaiting.pollFirstEntry().getValue();
            orderClasses.merge(s.order(), 1, Integer::sum);
            if (s.lagNs() != null) {
                (s.lagNs() >= 0 ? lagAfter : lagBefore).recordValue(Math.abs(s.lagNs()));
            }
            sink.onShootdown(s);
        }
    }

    static AuditReport.Lag lag(Histogram h) {
        if (h.getTotalCount() == 0) {
            return AuditReport.Lag.NONE;
        }
        return new AuditReport.Lag(h.getTotalCount(), h.getValueAtPercentile(50), h.getValueAtPercentile(90),
                h.getValueAtPercentile(99), h.getMaxValue());
    }

    private ShootdownSummary summarize(LiveShootdown sd) {
        List<CpuFlush> cpu = new ArrayList<>();
        for (Map.Entry<String, Envelope> done : sd.flushDone.entrySet()) {
            Envelope issued = sd.flushIssued.get(done.getKey());
            String kind;
            boolean viaIpi = false;
            if (done.getValue().event() instanceof IpiEvent.TlbFlushed f) {
                kind = f.kind().name().toLowerCase(Locale.ROOT);
                viaIpi = issued != null && issued.event() instanceof IpiEvent.FlushTlb ft && ft.viaIpi();
            } else {
                kind = issued != null && issued.event() instanceof IpiEvent.Tlbi t ? t.op() : "tlbi";
            }
            cpu.add(new CpuFlush(done.getKey(), kind, viaIpi, done.getValue().timeNs(), done.getValue().id()));
        }
        List<SecondaryInvalidation> secondary = new ArrayList<>();
        for (Map.Entry<String, Envelope> issued : sd.secondaryIssued.entrySet()) {
            var r = (SecondaryTlbEvent.InvalidateSecondaryTlbs) issued.getValue().event();
            Envelope done = sd.secondaryDone.get(issued.getKey());
            if (done != null && !issued.getValue().happenedBefore(done)) {
                done = null; // the completion of an earlier request; the last one has not completed
            }
            secondary.add(new SecondaryInvalidation(issued.getKey(), issued.getValue().timeNs(),
                    sd.iotlbDone.get(issued.getKey()), sd.atcDone.get(issued.getKey()),
                    done == null ? null : done.timeNs(), Kernel.hex(r.start()), Kernel.hex(r.end()),
                    done == null ? issued.getValue().id() : done.id()));
        }
        List<HookCall> hooks = new ArrayList<>();
        for (Envelope e : sd.hookCalls) {
            var h = (SecondaryTlbEvent.SecondaryTlbHookCalled) e.event();
            hooks.add(new HookCall(h.caller(), h.hook(), h.mm(), Kernel.hex(h.start()), Kernel.hex(h.end()), e.timeNs(), e.id()));
        }
        List<UnacknowledgedFlush> unacknowledged = new ArrayList<>();
        for (Map.Entry<String, Envelope> issued : sd.flushIssued.entrySet()) {
            if (sd.flushDone.containsKey(issued.getKey())) {
                continue;
            }
            Envelope last = mirrors.lastOfNode.get(issued.getKey());
            unacknowledged.add(new UnacknowledgedFlush(issued.getKey(),
                    issued.getValue().event() instanceof IpiEvent.FlushTlb ft && ft.viaIpi(), issued.getValue().timeNs(),
                    last != null && issued.getValue().happenedBefore(last), issued.getValue().id()));
        }
        Long pteNs = sd.pteChanges.isEmpty() ? null : sd.pteChanges.get(0).timeNs();
        Long lastFree = sd.frees.isEmpty() ? null : sd.frees.get(sd.frees.size() - 1).timeNs();
        String order = orderClass(sd);
        Long lag = null;
        if (!sd.flushDone.isEmpty() && !sd.secondaryDone.isEmpty()) {
            long lastCpu = sd.flushDone.values().stream().mapToLong(Envelope::timeNs).max().orElseThrow();
            long lastSecondary = sd.secondaryDone.values().stream().mapToLong(Envelope::timeNs).max().orElseThrow();
            lag = lastSecondary - lastCpu;
        }
        return new ShootdownSummary(sd.id, sd.mm, Kernel.hex(sd.start), Kernel.hex(sd.end), sd.caller, sd.cpu, sd.ptesCleared,
                sd.ptesProtectionChanged, pteNs, cpu, secondary, hooks, lastFree, sd.frees.size(),
                sd.returned == null ? null : sd.returned.timeNs(), sd.finished == null ? null : sd.finished.timeNs(), order, lag,
                unacknowledged);
    }

    /**
     * Over the CPUs' last flush round (the completions no other completion of the shootdown came
     * after) and each secondary TLB's last completion:
     * secondary-after-cpu: every CPU flush completed before any secondary completion;
     * secondary-before-cpu: every secondary completion before any CPU flush completed;
     * secondary-concurrent: neither; secondary-never: the mm has secondary TLBs and none was
     * invalidated; no-secondary-tlb: nothing to invalidate; no-cpu-flush: no CPU had the mm.
     */
    private String orderClass(LiveShootdown sd) {
        boolean none = imported
                // an imported trace's mm gains and loses secondary TLBs as it runs: those bound when it flushed count
                ? sd.boundAtStart.isEmpty() && sd.boundAtCall.values().stream().allMatch(List::isEmpty) && sd.secondaryAll.isEmpty()
                : sd.mms().stream().allMatch(mm -> mirrors.notifiers.getOrDefault(mm, List.of()).isEmpty());
        if (none) {
            return "no-secondary-tlb";
        }
        if (sd.secondaryDone.isEmpty()) {
            return "secondary-never";
        }
        if (sd.flushDone.isEmpty()) {
            return "no-cpu-flush";
        }
        boolean after = true;
        boolean before = true;
        // The last CPU flush round: a reclaim pass flushes each dirty folio's batch before the next
        // folio, and a CPU absent from its last batch last flushed in a round the initiator waited
        // for before that batch; those earlier completions say nothing of the pass's end.
        List<Envelope> lastRound = new ArrayList<>();
        for (Envelope c : sd.flushDone.values()) {
            if (sd.flushDone.values().stream().noneMatch(o -> o != c && c.happenedBefore(o))) {
                lastRound.add(c);
            }
        }
        for (Envelope c : lastRound) {
            for (Envelope s : sd.secondaryDone.values()) {
                after &= c.happenedBefore(s);
                before &= s.happenedBefore(c);
            }
        }
        if (after) {
            return "secondary-after-cpu";
        }
        return before ? "secondary-before-cpu" : "secondary-concurrent";
    }
}
