package dev.shootdown.audit;

import dev.shootdown.event.Callers;
import dev.shootdown.event.Envelope;
import dev.shootdown.event.PageTableEvent;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * One shootdown: an mmu_gather (munmap, mprotect) or a TLB flush that is not one
 * (flush_tlb_page from ptep_set_access_flags, a batched reclaim pass), as the audit follows it
 * from its start to the moment it is let go: what it changed, flushed, asked and was answered.
 */
final class LiveShootdown {

    final Envelope started;
    final long id;
    /** The mm it flushes; 0 for a reclaim batch, which spans mms. */
    final long mm;
    final long start;
    final long end;
    final String caller;
    final String cpu;
    /** The task that runs it (the syscall's caller), -1 when unknown. */
    final int pid;
    /** current->mm of the context a TlbFlushStarted runs in (0: kernel thread), -1 for an mmu_gather. */
    final long currentMm;
    /** PteCleared and PteProtectionChanged envelopes, in log order. */
    final List<Envelope> pteChanges = new ArrayList<>();
    int ptesCleared;
    int ptesProtectionChanged;
    final Map<String, Envelope> flushIssued = new TreeMap<>();
    final Map<String, Envelope> flushDone = new TreeMap<>();
    final Map<String, Envelope> secondaryIssued = new TreeMap<>();
    final Map<String, Long> iotlbDone = new HashMap<>();
    final Map<String, Long> atcDone = new HashMap<>();
    final Map<String, Envelope> secondaryDone = new TreeMap<>();
    final List<Envelope> frees = new ArrayList<>();
    final List<Envelope> hookCalls = new ArrayList<>();
    /** "iommu pasid" -> its IotlbInvalidated of this shootdown. */
    final Map<String, Envelope> iotlbInvalidated = new HashMap<>();
    /** "iommu pasid" -> its CommandsIssued with the TLBI of this shootdown. */
    final Map<String, Envelope> tlbiIssued = new HashMap<>();
    /** Faults injected into this shootdown's requests (a lost IPI, a dropped TLBI, ...), in log order. */
    final List<Envelope> faults = new ArrayList<>();
    /** MunmapReturned / MprotectReturned. */
    Envelope returned;
    /** MmuGatherFinished / TlbFlushFinished. */
    Envelope finished;
    /** Whether the secondary coverage was checked (at the first of its return and finish). */
    boolean checked;
    /** An imported trace's shootdown: its flush calls, every flush request and answer, every secondary completion. */
    final List<Envelope> flushCalls = new ArrayList<>();
    final List<Envelope> flushRequests = new ArrayList<>();
    final List<Envelope> flushAcks = new ArrayList<>();
    final List<Envelope> secondaryAll = new ArrayList<>();
    /** The secondary TLBs bound to the flushed mm when each flush call (by id) was made, and to the mm at the start. */
    final Map<String, List<String>> boundAtCall = new HashMap<>();
    List<String> boundAtStart = List.of();

    /** A CPU was asked to flush (an IPI's flush_tlb_func, or an arm64 TLBI to it). */
    void flushRequested(String cpu, Envelope request, boolean imported) {
        flushIssued.put(cpu, request);
        if (imported) {
            flushRequests.add(request);
        }
    }

    /**
     * An IOMMU was asked to invalidate. A shootdown can ask one IOMMU more than once (6.5's
     * per-page invalidate_range): its row is the last request's, so the earlier request's
     * completions go with it.
     */
    void secondaryRequested(String iommu, Envelope request) {
        secondaryIssued.put(iommu, request);
        iotlbDone.remove(iommu);
        atcDone.remove(iommu);
    }

    /** An IOMMU's IOTLB dropped this shootdown's range for {@code pasid}. */
    void iotlbInvalidated(Envelope invalidated, int pasid) {
        if (answeredBy(invalidated)) {
            iotlbDone.put(invalidated.node(), invalidated.timeNs());
        }
        iotlbInvalidated.put(invalidated.node() + " " + pasid, invalidated);
    }

    /** A device's ATC dropped this shootdown's range. */
    void atcInvalidated(Envelope invalidated) {
        if (answeredBy(invalidated)) {
            atcDone.put(invalidated.node(), invalidated.timeNs());
        }
    }

    /** An IOMMU completed this shootdown's secondary invalidation. */
    void secondaryCompleted(String iommu, Envelope done, boolean imported) {
        secondaryDone.put(iommu, done);
        if (imported) {
            secondaryAll.add(done);
        }
    }

    /** An imported trace's flush call, with the secondary TLBs bound to its mm when it was made. */
    void flushCalled(Envelope call, List<String> bound) {
        flushCalls.add(call);
        boundAtCall.put(call.id(), bound);
    }

    LiveShootdown(Envelope started) {
        this.started = started;
        if (started.event() instanceof PageTableEvent.MmuGatherStarted g) {
            id = g.shootdownId();
            mm = g.mm();
            start = g.start();
            end = g.end();
            caller = g.caller();
            cpu = g.cpu();
            pid = g.pid();
            currentMm = -1;
        } else {
            var f = (PageTableEvent.TlbFlushStarted) started.event();
            id = f.shootdownId();
            mm = f.mm();
            start = f.start();
            end = f.end();
            caller = f.caller();
            cpu = f.cpu();
            pid = f.pid();
            currentMm = f.currentMm();
        }
    }

    boolean gather() {
        return started.event() instanceof PageTableEvent.MmuGatherStarted;
    }

    boolean reclaim() {
        return !gather() && Callers.reclaims(caller);
    }

    /** Its system call's return, or else its finish, if it happened before {@code e}; else null. */
    Envelope doneBefore(Envelope e) {
        if (returned != null && returned.happenedBefore(e)) {
            return returned;
        }
        if (finished != null && finished.happenedBefore(e)) {
            return finished;
        }
        return null;
    }

    /** The faults injected into this shootdown on {@code node}. */
    List<Envelope> faultsOn(String node) {
        List<Envelope> out = new ArrayList<>();
        for (Envelope f : faults) {
            if (f.node().equals(node)) {
                out.add(f);
            }
        }
        return out;
    }

    /** The context it runs in, as the kernel's task name would say. */
    String context() {
        if (started.event() instanceof PageTableEvent.TlbFlushStarted f) {
            return f.comm();
        }
        return "pid " + pid;
    }

    /** Whether {@code e}, an IOMMU's step, answers the last request this shootdown sent that IOMMU (or the only one). */
    boolean answeredBy(Envelope e) {
        Envelope request = secondaryIssued.get(e.node());
        return request == null || request.happenedBefore(e);
    }

    /** The mms it touches: its own (unless a reclaim batch's 0) and those of the PTEs it changed. */
    Set<Long> mms() {
        Set<Long> mms = new TreeSet<>();
        if (mm != 0) {
            mms.add(mm);
        }
        for (Envelope e : pteChanges) {
            mms.add(pteMm(e));
        }
        return mms;
    }

    /** The address of a PteCleared or PteProtectionChanged. */
    static long pteVa(Envelope change) {
        if (change.event() instanceof PageTableEvent.PteCleared c) {
            return c.va();
        }
        return ((PageTableEvent.PteProtectionChanged) change.event()).va();
    }

    /** The mm of a PteCleared or PteProtectionChanged. */
    static long pteMm(Envelope change) {
        if (change.event() instanceof PageTableEvent.PteCleared c) {
            return c.mm();
        }
        return ((PageTableEvent.PteProtectionChanged) change.event()).mm();
    }

    /** What a PTE change did, for an explanation. */
    static String changed(Envelope change) {
        if (change.event() instanceof PageTableEvent.PteProtectionChanged p) {
            return p.writable() ? "made writable by " + p.caller() + ", which flushes the TLB on this architecture"
                    : "made read-only by " + p.caller();
        }
        return "cleared";
    }
}
