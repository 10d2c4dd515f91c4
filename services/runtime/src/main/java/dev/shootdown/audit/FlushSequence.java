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
        long currentMm;
        if (started.event() instanceof PageTableEvent.MmuGatherStarted g) {
            mm = g.mm();
            start = g.start();
            end = g.end();
            currentMm = g.mm();
        } else {
            var f = (PageTableEvent.TlbFlushStarted) started.event();
            mm = f.mm();
            start = f.start();
            end = f.end();
            currentMm = f.currentMm();
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
                    ? h.hook() + "(" + mmOf(h.mm(), mm, currentMm) + ", " + rangeOf(h.start(), h.end(), start, end) + ")"
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

    /**
     * A hook's mm, said against the shootdown's: a reclaim's flush is of no one mm (its start
     * names none), so its hook's mm is said against the reclaiming task's, current-&gt;mm.
     */
    /** What {@link #freeAfterAnyFolio} puts last in place of a free it moved. */
    public static final String FREE_AFTER_A_FOLIO = "free (after a whole folio's steps)";

    /**
     * The steps of a reclaim with its first free said by what it follows rather than where: the
     * kernel frees a shrink_folio_list pass's folios at the pass's end (free_unref_page_list), and
     * how many passes it splits the same folios into is the LRU's aging (folio_check_references,
     * the scan priority), which the model does not simulate. So when the free comes right after a
     * whole number of folios' steps ({@code framesFreed} folios share the hook calls evenly, and,
     * where CPU flushes are compared, the last folio's flush completed), it is taken out and
     * {@link #FREE_AFTER_A_FOLIO} put last; a free in the middle of a folio's steps stays where
     * it is, so a kernel that frees a folio before its flush still differs.
     */
    public static List<String> freeAfterAnyFolio(List<String> steps, int framesFreed) {
        int at = steps.indexOf("free");
        long hooks = steps.stream().filter(FlushSequence::isHook).count();
        if (at < 0 || framesFreed <= 0 || hooks % framesFreed != 0) {
            return steps;
        }
        long perFolio = hooks / framesFreed;
        long before = steps.subList(0, at).stream().filter(FlushSequence::isHook).count();
        boolean afterFlush = steps.stream().noneMatch(x -> x.startsWith("cpus flushed"))
                || at > 0 && steps.get(at - 1).startsWith("cpus flushed");
        if (before == 0 || perFolio > 0 && before % perFolio != 0 || !afterFlush) {
            return steps;
        }
        List<String> out = new ArrayList<>(steps);
        out.remove(at);
        out.add(FREE_AFTER_A_FOLIO);
        return out;
    }

    /** The frames shootdown {@code id} freed in {@code log}. */
    public static int framesFreed(List<Envelope> log, long id) {
        int n = 0;
        for (Envelope e : log) {
            if (e.event() instanceof PageTableEvent.FrameFreed f && f.shootdownId() == id) {
                n++;
            }
        }
        return n;
    }

    private static boolean isHook(String step) {
        return !step.equals("free") && !step.startsWith("cpus flushed");
    }

    private static String mmOf(long hookMm, long mm, long currentMm) {
        if (hookMm == 0) {
            return "NULL";
        }
        if (mm == 0) {
            return hookMm == currentMm ? "current->mm" : "another mm";
        }
        return hookMm == mm ? "mm" : "another mm";
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
