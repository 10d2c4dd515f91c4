package dev.shootdown.audit;

import dev.shootdown.event.Callers;
import dev.shootdown.event.Envelope;
import dev.shootdown.event.Event;
import dev.shootdown.event.Kernel;
import dev.shootdown.event.PageTableEvent;
import dev.shootdown.event.SecondaryTlbEvent;
import dev.shootdown.event.SyscallEvent;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * Secondary coverage ({@code missing-secondary-invalidation}, at a shootdown's return or
 * finish, whichever comes first): every PTE change of a shootdown (cleared, made read-only, or
 * made writable with a flush, as arm64 does) in an mm with secondary TLBs is covered, for each of
 * them, by a completed invalidation after the PTE write and before the frame is freed and the
 * operation returns or the flush finishes. A completion counts only if its IOMMU's IOTLB
 * invalidation of the same shootdown and PASID was seen before it: an IOMMU that dropped its TLBI
 * still completes the CMD_SYNC, and the kernel, like a naive audit, would believe it. An imported
 * trace has no PTE changes, and is held to {@link TraceCoverage} instead.
 */
final class SecondaryCoverage {

    private final Mirrors mirrors;
    private final Verdicts verdicts;
    private final Shootdowns shootdowns;
    /** mm -> the secondary completions that may still cover a PTE change of a shootdown not yet checked. */
    private final Map<Long, List<Envelope>> completions = new HashMap<>();

    SecondaryCoverage(Mirrors mirrors, Verdicts verdicts, Shootdowns shootdowns) {
        this.mirrors = mirrors;
        this.verdicts = verdicts;
        this.shootdowns = shootdowns;
    }

    /** An IOMMU completed a secondary invalidation ({@code e}) of {@code sd}, if that is still in flight. */
    void completed(Envelope e, SecondaryTlbEvent.SecondaryTlbsInvalidated done, Optional<LiveShootdown> sd) {
        if (sd.isEmpty() || sd.get().iotlbInvalidated.containsKey(done.iommu() + " " + done.pasid())) {
            completions.computeIfAbsent(done.mm(), k -> new ArrayList<>()).add(e);
        } // else its IOTLB was never invalidated: the completion covers nothing
    }

    /** {@code sd} returned or finished ({@code deadline}): the first of the two checks it, once. */
    void deadline(LiveShootdown sd, Envelope deadline) {
        if (!sd.checked) {
            sd.checked = true;
            if (shootdowns.imported) {
                checkTraceCoverage(sd, deadline);
                return;
            }
            checkSecondaryCoverage(sd, deadline);
            forgetUnneededCompletions();
        }
    }

    int completions() {
        return completions.values().stream().mapToInt(List::size).sum();
    }

    /** An imported trace has no PTE changes: what it can be held to instead ({@link TraceCoverage}). */
    private void checkTraceCoverage(LiveShootdown sd, Envelope deadline) {
        var view = new TraceCoverage.Shootdown(sd.id, sd.caller, sd.gather() || sd.caller.equals(Callers.MADVISE_PAGEOUT), sd.mm,
                sd.start, sd.end, sd.flushCalls, sd.flushRequests, sd.flushAcks, sd.hookCalls, sd.secondaryAll, sd.frees,
                sd.boundAtCall, sd.boundAtStart);
        for (TraceCoverage.Finding f : TraceCoverage.check(view, deadline)) {
            verdicts.reportedAtEnd(sd.id, f.kind(), f.node(), f.mm(), f.va());
            verdicts.violateOncePerShootdown(f.kind(), f.node(), f.mm(), f.va(), f.chain(), f.explanation(), sd.id);
        }
    }

    /**
     * A secondary completion matters only to PTE changes that happened before it and whose
     * shootdown is not checked yet; later changes come later in the log, after it.
     */
    private void forgetUnneededCompletions() {
        for (var it = completions.values().iterator(); it.hasNext();) {
            List<Envelope> completions = it.next();
            completions.removeIf(done -> {
                for (LiveShootdown sd : shootdowns.live()) {
                    if (!sd.checked) {
                        for (Envelope change : sd.pteChanges) {
                            if (change.happenedBefore(done)) {
                                return false;
                            }
                        }
                    }
                }
                return true;
            });
            if (completions.isEmpty()) {
                it.remove();
            }
        }
    }

    /**
     * Every PTE change of the shootdown (each needs one: unmap, permission downgrade, and the
     * arm64 permission upgrade that got a flush), for every secondary TLB of its mm: a covering
     * completion after the PTE write, before the frame's free if it was freed, and before the
     * {@code deadline} (the operation's return or the shootdown's finish, whichever came first).
     */
    private void checkSecondaryCoverage(LiveShootdown sd, Envelope deadline) {
        Map<Mirrors.FrameKey, Envelope> ownFrees = new HashMap<>();
        for (Envelope f : sd.frees) {
            var ff = (PageTableEvent.FrameFreed) f.event();
            ownFrees.put(new Mirrors.FrameKey(ff.frame(), ff.epoch()), f);
        }
        for (Envelope change : sd.pteChanges) {
            long mm = LiveShootdown.pteMm(change);
            long va = LiveShootdown.pteVa(change);
            Mirrors.FrameKey frame;
            if (change.event() instanceof PageTableEvent.PteCleared clear) {
                frame = new Mirrors.FrameKey(clear.frame(), clear.frameEpoch());
            } else {
                var p = (PageTableEvent.PteProtectionChanged) change.event();
                frame = new Mirrors.FrameKey(p.frame(), p.frameEpoch());
            }
            Envelope free = ownFrees.containsKey(frame) ? ownFrees.get(frame) : mirrors.freeOf(frame);
            if (free != null && !change.happenedBefore(free)) {
                free = null; // an earlier allocation's free, not this page's
            }
            for (SecondaryTlbEvent.SvaBound sub : mirrors.notifiers.getOrDefault(mm, List.of())) {
                boolean covered = false;
                for (Envelope done : completions.getOrDefault(mm, List.of())) {
                    var inv = (SecondaryTlbEvent.SecondaryTlbsInvalidated) done.event();
                    if (inv.iommu().equals(sub.target()) && inv.pasid() == sub.pasid()
                            && Kernel.covers(inv.start(), inv.end(), va)
                            && change.happenedBefore(done)
                            && (free == null || done.happenedBefore(free))
                            && done.happenedBefore(deadline)) {
                        covered = true;
                        break;
                    }
                }
                if (!covered) {
                    List<String> chain = new ArrayList<>(List.of(change.id()));
                    sd.faultsOn(sub.target()).forEach(f -> chain.add(f.id()));
                    if (free != null) {
                        chain.add(free.id());
                    }
                    chain.add(deadline.id());
                    verdicts.reportedAtEnd(sd.id, ViolationKind.MISSING_SECONDARY_INVALIDATION, sub.target(), mm, Kernel.hex(va));
                    verdicts.violateOncePerShootdown(ViolationKind.MISSING_SECONDARY_INVALIDATION, sub.target(), mm, Kernel.hex(va), chain,
                            "PTE of " + Kernel.hex(va) + " in mm " + mm + " was " + LiveShootdown.changed(change) + " (" + change.id()
                                    + ") but no invalidation of " + sub.target() + " pasid " + sub.pasid()
                                    + " covering it completed before " + (free == null ? "" : "the frame was freed and ")
                                    + ended(sd, deadline),
                            sd.id);
                }
            }
        }
    }

    /** The event a shootdown's coverage is judged at, for an explanation. */
    private static String ended(LiveShootdown sd, Envelope deadline) {
        Event ev = deadline.event();
        if (ev instanceof SyscallEvent.MunmapReturned) {
            return "munmap returned";
        }
        if (ev instanceof SyscallEvent.MprotectReturned) {
            return "mprotect returned";
        }
        if (ev instanceof PageTableEvent.MmuGatherFinished) {
            return sd.caller + "'s tlb_finish_mmu returned";
        }
        return "the " + sd.caller + " flush finished";
    }
}
