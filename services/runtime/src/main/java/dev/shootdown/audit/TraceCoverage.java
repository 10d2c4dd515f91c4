package dev.shootdown.audit;

import dev.shootdown.event.Envelope;
import dev.shootdown.event.IpiEvent;
import dev.shootdown.event.Kernel;
import dev.shootdown.event.PageTableEvent;
import dev.shootdown.event.SecondaryTlbEvent;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * What a shootdown imported from a kernel trace can be held to, without its PTE changes (a trace
 * has none): by the first free of the shootdown and by its end (the system call's return, or
 * the next flush of its CPU),
 *
 * <ul>
 *   <li>every CPU sent a flush ran flush_tlb_func for it, before the end, and before the free when
 *       the flush was sent before it;
 *   <li>every secondary TLB bound to the mm when the kernel flushed a range from the CPUs
 *       (flush_tlb_mm_range's {@code [start, end)}, the mmu_gather's range) completed
 *       invalidations covering that range before the first free after that flush call and before
 *       the end; for a batched unmap (arch_tlbbatch_flush, whose pages a trace does not show),
 *       some invalidation of the mm before the first free after its first batch flush, and for a
 *       capture without CPU flushes, before its first free. A free before the flush call is
 *       another page's: the kernel frees what a flush covers only after it;
 *   <li>every hook call names an mm being flushed.
 * </ul>
 */
final class TraceCoverage {

    /** A violation found, as the auditor reports it. */
    record Finding(ViolationKind kind, String node, long mm, String va, List<String> chain, String explanation) {}

    /** One shootdown's imported events. */
    record Shootdown(long id, String caller, boolean marked, long mm, long start, long end, List<Envelope> flushCalls,
            List<Envelope> flushRequests, List<Envelope> flushAcks, List<Envelope> hookCalls, List<Envelope> secondaryDone,
            List<Envelope> frees, Map<String, List<String>> boundAtCall, List<String> boundAtStart) {}

    /** A Need's start and end when no range is known: any invalidation of the mm will do. */
    private static final long ANY = Long.MIN_VALUE + 1;

    /**
     * A range of an mm that each of {@code secondaries} had to invalidate, before the first free
     * that came after {@code after} (the flush call: the kernel frees what a flush covers only
     * once it returned, so a free before it is another page's) and before the shootdown's end.
     */
    private record Need(long mm, long start, long end, List<String> secondaries, Envelope after) {}

    private TraceCoverage() {}

    static List<Finding> check(Shootdown sd, Envelope deadline) {
        List<Finding> found = new ArrayList<>();
        Envelope firstFree = sd.frees().isEmpty() ? null : sd.frees().get(0);
        for (Envelope request : sd.flushRequests()) {
            var ipi = (IpiEvent.FlushTlb) request.event();
            Envelope ack = sd.flushAcks().stream().filter(a -> request.id().equals(a.cause())).findFirst().orElse(null);
            if (ack == null) {
                found.add(new Finding(ViolationKind.MISSING_CPU_INVALIDATION, ipi.target(), ipi.mm(), Kernel.hex(ipi.start()),
                        List.of(request.id(), deadline.id()), ipi.target() + " was sent a flush (" + request.id()
                                + ") and no flush_tlb_func on it answered in the capture"));
            } else if (lateForFree(request, ack, firstFree) || !ack.happenedBefore(deadline)) {
                Envelope missed = lateForFree(request, ack, firstFree) ? firstFree : deadline;
                found.add(new Finding(ViolationKind.MISSING_CPU_INVALIDATION, ipi.target(), ipi.mm(), Kernel.hex(ipi.start()),
                        List.of(request.id(), ack.id(), missed.id()), "flush_tlb_func on " + ipi.target() + " (" + ack.id()
                                + ") is not ordered before " + (missed == firstFree ? "the first free (" : "the end (")
                                + missed.id() + ")"));
            }
        }
        List<Need> required = new ArrayList<>();
        Set<Long> flushedMms = new HashSet<>();
        Envelope batch = null;
        for (Envelope call : sd.flushCalls()) {
            var f = (PageTableEvent.TlbFlushCalled) call.event();
            if (f.mm() != 0) {
                flushedMms.add(f.mm());
            }
            if (f.function().equals("flush_tlb_mm_range") && f.mm() != 0 && f.end() != Kernel.TLB_FLUSH_ALL) {
                // tlb_flush() passes the mmu_gather's own range, which spans the PTEs it cleared
                // (__tlb_adjust_range); a whole-mm flush says nothing of which PTEs changed.
                required.add(new Need(f.mm(), f.start(), f.end(), sd.boundAtCall().getOrDefault(call.id(), List.of()), call));
            } else if (f.mm() == 0 && batch == null) {
                batch = call;
            }
        }
        if (sd.marked() && sd.mm() != 0 && firstFree != null && (batch != null || sd.flushCalls().isEmpty())) {
            // A batched unmap (or a capture without CPU flushes) does not show which pages changed:
            // some invalidation of the mm, before the first free after its first batch flush (any
            // free, without one), is all that can be asked.
            required.add(new Need(sd.mm(), ANY, ANY, sd.boundAtStart(), batch));
        }
        for (Need need : required) {
            Envelope free = firstFreeAfter(sd.frees(), need.after());
            String byFree = by(sd, free, deadline);
            for (String secondary : need.secondaries()) {
                List<long[]> done = new ArrayList<>();
                List<String> used = new ArrayList<>();
                for (Envelope d : sd.secondaryDone()) {
                    var inv = (SecondaryTlbEvent.SecondaryTlbsInvalidated) d.event();
                    if (inv.iommu().equals(secondary) && inv.mm() == need.mm()
                            && (free == null || d.happenedBefore(free)) && d.happenedBefore(deadline)) {
                        done.add(new long[] {inv.start(), inv.end()});
                        used.add(d.id());
                    }
                }
                if (need.start() == ANY) {
                    if (done.isEmpty() && free != null) {
                        List<String> chain = new ArrayList<>(List.of(free.id()));
                        chain.add(deadline.id());
                        found.add(new Finding(ViolationKind.MISSING_SECONDARY_INVALIDATION, secondary, need.mm(), Kernel.hex(sd.start()),
                                chain, "no invalidation of " + secondary + " for mm " + need.mm() + " completed " + byFree
                                        + ", though " + sd.caller() + " freed frames"));
                    }
                    continue;
                }
                Long hole = firstUncovered(need.start(), need.end(), done);
                if (hole != null) {
                    List<String> chain = new ArrayList<>(used);
                    if (free != null) {
                        chain.add(free.id());
                    }
                    chain.add(deadline.id());
                    found.add(new Finding(ViolationKind.MISSING_SECONDARY_INVALIDATION, secondary, need.mm(), Kernel.hex(hole), chain,
                            "no invalidation of " + secondary + " covering " + Kernel.hex(hole) + " of mm " + need.mm()
                                    + " (flushed as [" + Kernel.hex(need.start()) + ", " + Kernel.hex(need.end())
                                    + ")) completed " + byFree));
                }
            }
        }
        for (Envelope call : sd.hookCalls()) {
            var h = (SecondaryTlbEvent.SecondaryTlbHookCalled) call.event();
            if (h.mm() != 0 && sd.mm() != 0 && h.mm() != sd.mm() && !flushedMms.contains(h.mm())) {
                found.add(new Finding(ViolationKind.WRONG_MM_INVALIDATION, h.cpu(), h.mm(), Kernel.hex(h.start()), List.of(call.id()),
                        h.hook() + " was called for mm " + h.mm() + " in shootdown " + sd.id() + " (" + sd.caller()
                                + "), which flushed mm " + sd.mm()));
            }
        }
        return found;
    }

    /** Whether a flush sent before the free was answered after it. */
    private static boolean lateForFree(Envelope request, Envelope ack, Envelope firstFree) {
        return firstFree != null && request.happenedBefore(firstFree) && !ack.happenedBefore(firstFree);
    }

    /** The first of {@code frees} after {@code after} (all of them count when it is null), or null. */
    private static Envelope firstFreeAfter(List<Envelope> frees, Envelope after) {
        for (Envelope f : frees) {
            if (after == null || after.happenedBefore(f)) {
                return f;
            }
        }
        return null;
    }

    /** The first address of {@code [start, end)} that no range of {@code done} covers, or null (end -1: the whole space). */
    static Long firstUncovered(long start, long end, List<long[]> done) {
        List<long[]> sorted = new ArrayList<>(done);
        sorted.sort((a, b) -> Long.compareUnsigned(a[0], b[0]));
        long at = start;
        for (long[] r : sorted) {
            if (Long.compareUnsigned(r[0], at) > 0) {
                break;
            }
            if (r[1] == Kernel.TLB_FLUSH_ALL || Long.compareUnsigned(r[1], at) > 0) {
                if (r[1] == Kernel.TLB_FLUSH_ALL) {
                    return null;
                }
                at = r[1];
                if (end != Kernel.TLB_FLUSH_ALL && Long.compareUnsigned(at, end) >= 0) {
                    return null;
                }
            }
        }
        if (end != Kernel.TLB_FLUSH_ALL && Long.compareUnsigned(at, end) >= 0) {
            return null;
        }
        return at;
    }

    private static String by(Shootdown sd, Envelope firstFree, Envelope deadline) {
        String end = deadline.event() instanceof PageTableEvent.TlbFlushFinished && !sd.marked()
                ? "the end of " + sd.caller() + " (" + deadline.id() + ")" : sd.caller() + "'s return (" + deadline.id() + ")";
        return firstFree == null ? "before " + end : "before the first free (" + firstFree.id() + ") and " + end;
    }
}
