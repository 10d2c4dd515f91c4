package dev.shootdown.audit;

import dev.shootdown.event.Envelope;
import dev.shootdown.event.InShootdown;
import dev.shootdown.event.IpiEvent;
import dev.shootdown.event.Kernel;
import dev.shootdown.event.PageTableEvent;
import dev.shootdown.event.SecondaryTlbEvent;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * A shootdown's steps as the CPU that ran it saw them: its secondary-TLB hook calls (which hook,
 * which mm, which range, relative to the shootdown's own), the moments it knew a flush of the CPU
 * TLBs had completed everywhere it was sent, and its first free after its first flush call. What a simulated run and a
 * capture of a real kernel are compared by: the same list means the same order of hook calls,
 * CPU flush completions and frees.
 *
 * <p>The steps come in the initiating node's program order (the coordinator of a run, the CPU of
 * a capture), so the list is the same whatever the other nodes' timing. A CPU flush is known
 * complete at the initiator's first step its acknowledgement happened before ({@code cpus
 * flushed (N)}: N acknowledgements became known there). A hook call that reaches no notifier is
 * left out: mmu_notifier_arch_invalidate_secondary_tlbs and mmu_notifier_invalidate_range are
 * inlines that call the __mmu_notifier_ function a trace probes only when mm_has_notifiers(mm)
 * (include/linux/mmu_notifier.h).
 */
public final class FlushSequence {

    private FlushSequence() {}

    /**
     * The steps of shootdown {@code id} in {@code log} (in a causal order), or empty when it has
     * no start; {@code cpuFlushes} false leaves out the CPU flush completions (a capture that
     * could not see them: arm64's TLBIs are inline).
     */
    public static Optional<List<String>> of(List<Envelope> log, long id, boolean cpuFlushes) {
        Envelope started = null;
        List<Envelope> own = new ArrayList<>();
        for (Envelope e : log) {
            if (e.event() instanceof InShootdown s && s.shootdownId() == id) {
                if (started == null && (e.event() instanceof PageTableEvent.MmuGatherStarted
                        || e.event() instanceof PageTableEvent.TlbFlushStarted)) {
                    started = e;
                }
                own.add(e);
            }
        }
        if (started == null) {
            return Optional.empty();
        }
        long mm;
        long start;
        long end;
        if (started.event() instanceof PageTableEvent.MmuGatherStarted g) {
            mm = g.mm();
            start = g.start();
            end = g.end();
        } else {
            var f = (PageTableEvent.TlbFlushStarted) started.event();
            mm = f.mm();
            start = f.start();
            end = f.end();
        }
        String initiator = started.node();
        List<Envelope> acks = new ArrayList<>();
        List<Envelope> steps = new ArrayList<>();
        boolean freed = false;
        // The kernel frees what a flush covers only after the flush call: a free before the first
        // one is another page's (a capture's mm_page_free is not filtered by page).
        Envelope firstCall = own.stream().filter(e -> e.event() instanceof PageTableEvent.TlbFlushCalled).findFirst().orElse(null);
        for (Envelope e : own) {
            if (e.event() instanceof IpiEvent.TlbFlushed || e.event() instanceof IpiEvent.TlbiCompleted) {
                acks.add(e);
            } else if (e.node().equals(initiator)) {
                if (e.event() instanceof SecondaryTlbEvent.SecondaryTlbHookCalled h && h.notifiers() > 0) {
                    steps.add(e);
                } else if (e.event() instanceof PageTableEvent.FrameFreed && !freed
                        && (firstCall == null || firstCall.happenedBefore(e))) {
                    freed = true;
                    steps.add(e);
                }
            }
        }
        List<String> out = new ArrayList<>();
        boolean[] known = new boolean[acks.size()];
        for (Envelope step : steps) {
            int newlyKnown = 0;
            for (int i = 0; i < acks.size(); i++) {
                if (!known[i] && (acks.get(i).happenedBefore(step) || acks.get(i) == step)) {
                    known[i] = true;
                    newlyKnown++;
                }
            }
            if (cpuFlushes && newlyKnown > 0) {
                out.add("cpus flushed (" + newlyKnown + ")");
            }
            out.add(step.event() instanceof SecondaryTlbEvent.SecondaryTlbHookCalled h
                    ? h.hook() + "(" + mmOf(h.mm(), mm) + ", " + rangeOf(h.start(), h.end(), start, end) + ")"
                    : "free");
        }
        int late = 0;
        for (boolean k : known) {
            late += k ? 0 : 1;
        }
        if (cpuFlushes && late > 0) {
            out.add("cpus flushed (" + late + ")");
        }
        return Optional.of(out);
    }

    private static String mmOf(long hookMm, long mm) {
        return hookMm == 0 ? "NULL" : hookMm == mm ? "mm" : "another mm";
    }

    /** A hook's range, said against the shootdown's own {@code [start, end)}. */
    static String rangeOf(long hs, long he, long start, long end) {
        if (hs == 0 && he == Kernel.TLB_FLUSH_ALL) {
            return "all";
        }
        if (hs == he) {
            return "empty";
        }
        if (hs == start && he == end) {
            return "its range";
        }
        boolean within = Long.compareUnsigned(hs, start) >= 0 && Long.compareUnsigned(he, end) <= 0;
        if (within) {
            return he - hs == Kernel.PAGE_SIZE ? "a page of it" : "part of it";
        }
        return "[" + Kernel.hex(hs) + ", " + Kernel.hex(he) + ")";
    }
}
