package dev.shootdown.audit;

import dev.shootdown.audit.ShootdownSummary.CpuFlush;
import dev.shootdown.audit.ShootdownSummary.HookCall;
import dev.shootdown.audit.ShootdownSummary.SecondaryInvalidation;
import dev.shootdown.audit.ShootdownSummary.UnacknowledgedFlush;
import dev.shootdown.event.Access;
import dev.shootdown.event.ControlEvent;
import dev.shootdown.event.Envelope;
import dev.shootdown.event.Event;
import dev.shootdown.event.FaultEvent;
import dev.shootdown.event.InjectionEvent;
import dev.shootdown.event.IpiEvent;
import dev.shootdown.event.IpiEvent.FlushKind;
import dev.shootdown.event.Kernel;
import dev.shootdown.event.PageTableEvent;
import dev.shootdown.event.SecondaryTlbEvent;
import dev.shootdown.event.SyscallEvent;
import dev.shootdown.event.TraceEvent;
import dev.shootdown.event.WalkEvent;
import dev.shootdown.scenario.Scenario;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.SortedMap;
import java.util.TreeMap;
import java.util.TreeSet;
import org.HdrHistogram.Histogram;

/**
 * Judges a run from its log alone. Feed it every envelope in causal order ({@code CausalOrder});
 * it mirrors every CPU TLB, IOTLB and ATC from their fill and invalidation events, and checks,
 * with happens-before taken from the vector clocks:
 *
 * <ul>
 *   <li><b>use after free</b>: no access through a translation to a frame allocation that was
 *       freed before it, or concurrently with it;
 *   <li><b>coverage at the free</b>: every cache that held a translation to a frame dropped it,
 *       by an invalidation that happened before the frame was freed (CPUs that no longer have
 *       the mm loaded flush when they switch back, so they are exempt here);
 *   <li><b>secondary coverage</b>: every PTE change of a shootdown (cleared, made read-only, or
 *       made writable with a flush, as arm64 does) in an mm with secondary TLBs is covered, for
 *       each of them, by a completed invalidation after the PTE write and before the frame is
 *       freed and the operation returns or the flush finishes;
 *   <li><b>stale translation use</b>: no access through a translation cached before a PTE change
 *       whose operation was done before the access and that forbids it;
 *   <li><b>right mm</b>: the secondary-TLB hook names an mm whose PTEs its shootdown changed; a
 *       simulated oops (the NULL mm) is a violation;
 *   <li><b>fault progress</b>: K SUCCESS page responses in a row for the same device, PASID,
 *       address and access, while the mirrored PTE already allowed it, are a livelock;
 *   <li><b>ATC after IOTLB</b> ({@code atc-before-iotlb}): an ATC_INV is issued only after the
 *       IOTLB invalidation of the same shootdown and PASID was issued and synced, in an earlier
 *       step of the IOMMU (arm-smmu-v3.c: arm_smmu_atc_inv_domain after the TLBI's CMD_SYNC);
 *   <li><b>CPU coverage at the end</b>: a CPU that was delivered a flush IPI of a shootdown that
 *       never completed, never acknowledged it and still holds a translation of a page that
 *       shootdown changed is a {@code missing-cpu-invalidation} (a lost IPI).
 *   <li><b>flush progress</b> ({@code non-responsive-csd-lock}): a CPU that was delivered a flush
 *       IPI of a shootdown that never completed and never acknowledged it leaves the initiator
 *       spinning in csd_lock_wait for ever (kernel/smp.c), whether or not it still holds a stale
 *       entry: the shootdown hangs, its frames are never freed.
 * </ul>
 *
 * <p>A secondary completion counts as coverage only if its IOMMU's IOTLB invalidation of the same
 * shootdown and PASID was seen before it: an IOMMU that dropped its TLBI still completes the
 * CMD_SYNC, and the kernel, like a naive audit, would believe it. Every {@code fault-injected}
 * event is listed in the report, and joins the chain of the violations it explains.
 *
 * <p>A shootdown starts with MmuGatherStarted (munmap, mprotect) or TlbFlushStarted
 * (ptep_set_access_flags, kswapd, direct-reclaim) and ends with MmuGatherFinished or
 * TlbFlushFinished. It also classifies each shootdown by when the secondary invalidation completed
 * relative to the CPU flushes (x86 flush_tlb_func acks and arm64 TLBI completions).
 *
 * <p><b>Memory is bounded by the live simulated state, not by the length of the log.</b> What the
 * auditor keeps is what the machine it mirrors keeps: cache entries, PTEs, shootdowns in flight,
 * and frame allocations that something may still reach. A shootdown is summarized and let go once
 * it finished (and its system call returned); a freed frame allocation is let go once no cache
 * holds a translation to it and no page-walk result naming it is still in flight to a CPU or an
 * IOMMU (a node has consumed every message its link delivered before one it handled later, the
 * links being FIFO). Violations and shootdown summaries go to a {@link Sink} as they are settled;
 * the default one collects them for {@link #finish()}. Single-threaded.
 */
public final class Auditor {

    private record FrameKey(long frame, long epoch) {}

    private record Cached(FrameKey frame, Envelope fill) {}

    /** A cache's translation of {@code va} in {@code mm} to a frame: its fill, and what dropped it. */
    private static final class Holding {
        final Envelope fill;
        final long mm;
        final long va;
        Envelope drop;

        Holding(Envelope fill, long mm, long va) {
            this.fill = fill;
            this.mm = mm;
            this.va = va;
        }
    }

    /** A page of an mm, by its page-aligned address. */
    private record PteKey(long mm, long va) {
        static PteKey of(long mm, long va) {
            return new PteKey(mm, Kernel.pageAlign(va));
        }
    }

    /** The mirror of one PTE, and the event that last changed it. */
    private record Pte(boolean present, long frame, long epoch, boolean writable, Envelope last) {
        boolean allows(Access access) {
            return present && (writable || !access.isWrite());
        }
    }

    /** SUCCESS responses in a row to one device for the same PASID, address and access. */
    private static final class Streak {
        final String key;
        final Envelope firstFault;
        int count;

        Streak(String key, Envelope firstFault) {
            this.key = key;
            this.firstFault = firstFault;
        }
    }

    /**
     * A PTE change that makes every translation cached before it stale, for any access
     * (PteCleared) or for writes (PteProtectionChanged to read-only), once its shootdown is done.
     */
    private record Guard(Envelope change, Sd sd, boolean writesOnly) {}

    /** An access through a translation of {@code va} in {@code mm}. */
    private record AccessSeen(Envelope envelope, long mm, long va) {}

    /**
     * One shootdown: an mmu_gather (munmap, mprotect) or a TLB flush that is not one
     * (flush_tlb_page from ptep_set_access_flags, a batched reclaim pass).
     */
    private static final class Sd {
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

        Sd(Envelope started) {
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
            return !gather() && (caller.equals("kswapd") || caller.equals("direct-reclaim") || caller.equals("madvise_pageout"));
        }
    }

    /**
     * Where settled violations and shootdown summaries go. A violation is settled when found,
     * except a stale-translation-use, which waits until its access can no longer turn out to be
     * a use after free (the frame's free, a later access through the same cache, or the end).
     */
    public interface Sink {
        void onViolation(Violation violation);

        void onShootdown(ShootdownSummary shootdown);
    }

    /** How much the auditor holds now, entry by entry: what {@link Auditor} keeps bounded. */
    public record LiveState(
            int shootdowns, int frameAllocations, int cacheEntries, int guards, int pendingViolations,
            int secondaryCompletions, int walksInFlight, int summariesWaiting) {
        public long total() {
            return (long) shootdowns + frameAllocations + cacheEntries + guards + pendingViolations + secondaryCompletions
                    + walksInFlight + summariesWaiting;
        }
    }

    /** The default sink: everything in memory, for {@link #finish()}'s report. */
    private static final class Collecting implements Sink {
        final List<Violation> violations = new ArrayList<>();
        final List<ShootdownSummary> shootdowns = new ArrayList<>();

        @Override
        public void onViolation(Violation violation) {
            violations.add(violation);
        }

        @Override
        public void onShootdown(ShootdownSummary shootdown) {
            shootdowns.add(shootdown);
        }
    }

    /** A page-walk result naming a frame allocation, on its way from {@code seq} of its sender to a node. */
    private record WalkInFlight(long seq, FrameKey frame, PteKey pte) {}

    /** The report lists at most this many injected faults; {@link AuditReport#faultsInjected} counts them all. */
    static final int LISTED_FAULTS = 1000;

    /** Summaries wait at most this many for an earlier shootdown to finish, so they come out in id order. */
    static final int SUMMARY_REORDER_LIMIT = 1024;

    private final Sink sink;
    private final Collecting collected;
    private long violationCount;
    private AuditReport report;
    private String run = "";
    private Scenario scenario;
    private long seed;
    private boolean complete;
    private long events;
    private long lastTimeNs;
    private long cpuAccesses;
    private long dmaAccesses;
    private long deviceFaults;
    private long framesFreed;
    private long wholeMmSecondaryInvalidations;
    private long framesReclaimed;
    private final int faultLivelockThreshold;

    /** Cache mirrors: holder ("cpu0 mm 1", "iommu0 iotlb pasid 1", "iommu0 atc dev0") -> va -> entry. */
    private final Map<String, TreeMap<Long, Cached>> caches = new HashMap<>();
    private final Map<FrameKey, Map<String, Holding>> holdings = new HashMap<>();
    private final Map<FrameKey, Envelope> freed = new HashMap<>();
    private final Map<FrameKey, Map<String, AccessSeen>> lastAccess = new HashMap<>();
    /** Frame number -> the latest allocation epoch let go after its free, and that free. */
    private final Map<Long, Envelope> lastRetiredFree = new HashMap<>();
    /** "sender>target" -> page-walk results naming a frame, in the order the link delivers them. */
    private final Map<String, ArrayDeque<WalkInFlight>> walksInFlight = new HashMap<>();
    private final Map<FrameKey, Integer> walksInFlightByFrame = new HashMap<>();
    private final Map<PteKey, Integer> walksInFlightByPte = new HashMap<>();
    private final Map<String, Long> cpuLoadedMm = new HashMap<>();
    private final Set<String> cpuLazy = new HashSet<>();
    private final Map<Long, List<SecondaryTlbEvent.SvaBound>> notifiers = new HashMap<>();
    private final Map<Long, List<Envelope>> secondaryCompletions = new HashMap<>();
    private final Map<Long, Sd> shootdowns = new LinkedHashMap<>();
    private final Map<PteKey, Pte> ptes = new HashMap<>();
    private final Map<PteKey, List<Guard>> guards = new HashMap<>();
    /** Access id -> its stale-translation-use, withdrawn if the access turns out to be a use after free. */
    private final Map<String, Violation> staleUses = new LinkedHashMap<>();
    /** "iommu device" -> its latest DeviceFaultRaised. */
    private final Map<String, Envelope> lastDeviceFault = new HashMap<>();
    /** "iommu device" -> its current streak of SUCCESS responses while the PTE allowed the access. */
    private final Map<String, Streak> streaks = new HashMap<>();
    /** shootdownId -> the last call of the secondary-TLB hook with a NULL mm. */
    private final Map<Long, Envelope> nullMmHookCalls = new HashMap<>();
    /** The places in the run's fault plan of the model faults that hit something. */
    private final Set<Integer> faultsMatched = new HashSet<>();
    /** Why the run ended (run-completed's reason), or null. */
    private String ended;
    /** The watchdog's stall-detected events, settled at the end ({@link #checkStalls}). */
    private final List<Envelope> stalls = new ArrayList<>();
    /** Shootdowns reported non-responsive-csd-lock: the stall the watchdog saw is explained. */
    private final Set<Long> csdLockReported = new HashSet<>();
    /** Keys (kind, node, chain) reported while handling the current envelope: every chain names it. */
    private final Set<String> reported = new HashSet<>();
    /** Every violation settled, grouped by shootdown and kind (bounded). */
    private final ViolationGroups groups = new ViolationGroups();
    /** Per live shootdown, keys (kind, node, mm, va) of what was reported about it. */
    private final Map<Long, Set<String>> reportedPerShootdown = new HashMap<>();
    /** Per live shootdown, keys of the missing secondary invalidations found at its return or finish. */
    private final Map<Long, Set<String>> reportedAtEnd = new HashMap<>();
    /** Summaries of let-go shootdowns waiting for earlier ones, by id. */
    private final TreeMap<Long, ShootdownSummary> summariesWaiting = new TreeMap<>();
    private final Map<String, Integer> orderClasses = new TreeMap<>();
    /** Each node's latest envelope: what it had been delivered by then, its vector clock says. */
    private final Map<String, Envelope> lastOfNode = new HashMap<>();
    /** Set when the log was imported from a kernel trace: shootdowns are then held to {@link TraceCoverage}. */
    private ControlEvent.TraceImported imported;
    private final List<AuditReport.InjectedFault> faults = new ArrayList<>();
    private long faultsInjected;
    private final Histogram lagAfter = new Histogram(3);
    private final Histogram lagBefore = new Histogram(3);

    /** K for {@code fault-livelock} unless told otherwise. */
    public static final int DEFAULT_FAULT_LIVELOCK_THRESHOLD = 16;

    /** An auditor with the default fault-livelock threshold. */
    public Auditor() {
        this(DEFAULT_FAULT_LIVELOCK_THRESHOLD);
    }

    /**
     * An auditor that calls {@code faultLivelockThreshold} SUCCESS page responses in a row for the
     * same device, PASID, address and access, while the PTE already allowed it, a livelock.
     */
    public Auditor(int faultLivelockThreshold) {
        this(faultLivelockThreshold, null);
    }

    /**
     * An auditor that hands each settled violation and shootdown summary to {@code sink} instead
     * of keeping them ({@link #finish()}'s report then lists none: they went to the sink).
     */
    public Auditor(int faultLivelockThreshold, Sink sink) {
        this.collected = sink == null ? new Collecting() : null;
        this.sink = sink == null ? collected : sink;
        if (faultLivelockThreshold < 1) {
            throw new IllegalArgumentException("the fault-livelock threshold must be at least 1, was " + faultLivelockThreshold);
        }
        this.faultLivelockThreshold = faultLivelockThreshold;
    }

    /** Audits a whole log given in causal order, with the default fault-livelock threshold. */
    public static AuditReport audit(Iterable<Envelope> log) {
        return audit(log, DEFAULT_FAULT_LIVELOCK_THRESHOLD);
    }

    /** Audits a whole log given in causal order. */
    public static AuditReport audit(Iterable<Envelope> log, int faultLivelockThreshold) {
        Auditor auditor = new Auditor(faultLivelockThreshold);
        log.forEach(auditor::accept);
        return auditor.finish();
    }

    /** One cached translation, as the log shows it: {@code va} -> {@code frame} (its allocation {@code epoch}). */
    public record CachedTranslation(String va, String frame, long epoch, String filledBy) {}

    /**
     * What every CPU TLB, IOTLB and ATC holds after the envelopes accepted so far, by holder
     * ({@code "cpu0 tlb mm 1"}, {@code "iommu0 iotlb pasid 1"}, {@code "iommu0 atc dev0"}),
     * addresses ascending: time travel for debugging ({@code replay --at EVENT}).
     */
    public SortedMap<String, List<CachedTranslation>> cachesNow() {
        SortedMap<String, List<CachedTranslation>> out = new TreeMap<>();
        for (Map.Entry<String, TreeMap<Long, Cached>> holder : caches.entrySet()) {
            List<CachedTranslation> entries = new ArrayList<>();
            for (Map.Entry<Long, Cached> e : holder.getValue().entrySet()) {
                entries.add(new CachedTranslation(Kernel.hex(e.getKey()), Kernel.hex(e.getValue().frame().frame()),
                        e.getValue().frame().epoch(), e.getValue().fill().id()));
            }
            out.put(holder.getKey(), entries);
        }
        return out;
    }

    /** Consumes the next envelope of the log, in causal order. */
    public void accept(Envelope e) {
        reported.clear();
        onEnvelope(e);
        walksConsumedBy(e);
    }

    private void onEnvelope(Envelope e) {
        events++;
        lastTimeNs = Math.max(lastTimeNs, e.timeNs());
        lastOfNode.put(e.node(), e);
        Event ev = e.event();
        if (ev instanceof ControlEvent.RunStarted s) {
            run = s.runId();
            seed = s.seed();
            scenario = s.scenario();
        } else if (ev instanceof ControlEvent.TraceImported t) {
            imported = t;
        } else if (ev instanceof SecondaryTlbEvent.SvaUnbound u) {
            notifiers.getOrDefault(u.mm(), new ArrayList<>()).removeIf(b -> b.target().equals(u.target()) && b.pasid() == u.pasid());
        } else if (ev instanceof ControlEvent.RunCompleted c) {
            complete = true;
            ended = c.reason();
        } else if (ev instanceof TraceEvent.MmSwitched s) {
            onMmSwitched(e, s);
        } else if (ev instanceof SyscallEvent.TaskExited x) {
            cpuLazy.add(x.cpu());
        } else if (ev instanceof TraceEvent.TlbFilled f) {
            fill(cpuHolder(f.cpu(), f.mm()), f.mm(), f.va(), new FrameKey(f.frame(), f.frameEpoch()), e);
        } else if (ev instanceof TraceEvent.IotlbFilled f) {
            fill(iotlbHolder(e.node(), f.pasid()), mmOfPasid(e.node(), f.pasid()), f.va(), new FrameKey(f.frame(), f.frameEpoch()), e);
        } else if (ev instanceof TraceEvent.AtcFilled f) {
            fill(atcHolder(e.node(), f.device()), mmOfPasid(e.node(), f.pasid()), f.va(), new FrameKey(f.frame(), f.frameEpoch()), e);
        } else if (ev instanceof TraceEvent.MemoryAccessed a) {
            cpuAccesses++;
            onAccess(e, a.cpu(), a.mm(), a.va(), new FrameKey(a.frame(), a.frameEpoch()), cpuHolder(a.cpu(), a.mm()),
                    a.access(), a.tlbHit());
        } else if (ev instanceof TraceEvent.DmaCompleted a) {
            dmaAccesses++;
            String holder = a.source() == TraceEvent.TranslationSource.ATC ? atcHolder(e.node(), a.device())
                    : iotlbHolder(e.node(), a.pasid());
            onAccess(e, a.device(), mmOfPasid(e.node(), a.pasid()), a.va(), new FrameKey(a.frame(), a.frameEpoch()), holder,
                    a.access(), a.source() != TraceEvent.TranslationSource.WALK);
        } else if (ev instanceof FaultEvent.DeviceFaultRaised f) {
            deviceFaults++;
            lastDeviceFault.put(f.iommu() + " " + f.device(), e);
        } else if (ev instanceof FaultEvent.PageResponseSent r) {
            onPageResponse(e, r);
        } else if (ev instanceof FaultEvent.KernelOops o) {
            onKernelOops(e, o);
        } else if (ev instanceof FaultEvent.StallDetected) {
            stalls.add(e);
        } else if (ev instanceof IpiEvent.TlbFlushed f) {
            onTlbFlushed(e, f);
        } else if (ev instanceof IpiEvent.FlushTlb f) {
            sd(f.shootdownId()).ifPresent(sd -> {
                sd.flushIssued.put(f.target(), e);
                if (imported != null) {
                    sd.flushRequests.add(e);
                }
            });
        } else if (ev instanceof IpiEvent.Tlbi t) {
            sd(t.shootdownId()).ifPresent(sd -> sd.flushIssued.put(t.target(), e));
        } else if (ev instanceof IpiEvent.TlbiCompleted t) {
            onTlbiCompleted(e, t);
        } else if (ev instanceof SecondaryTlbEvent.SecondaryTlbHookCalled h) {
            onHookCalled(e, h);
        } else if (ev instanceof SecondaryTlbEvent.SvaBound b) {
            notifiers.computeIfAbsent(b.mm(), k -> new ArrayList<>()).add(b);
        } else if (ev instanceof SecondaryTlbEvent.InvalidateSecondaryTlbs r) {
            if (r.end() == Kernel.TLB_FLUSH_ALL) {
                wholeMmSecondaryInvalidations++;
            }
            sd(r.shootdownId()).ifPresent(sd -> {
                // A shootdown can ask one IOMMU more than once (6.5's per-page invalidate_range): its row is the last
                // request's, so the earlier request's completions go with it.
                sd.secondaryIssued.put(r.target(), e);
                sd.iotlbDone.remove(r.target());
                sd.atcDone.remove(r.target());
            });
        } else if (ev instanceof SecondaryTlbEvent.IotlbInvalidated i) {
            drop(iotlbHolder(e.node(), i.pasid()), i.start(), i.end(), e);
            sd(i.shootdownId()).ifPresent(sd -> {
                if (answers(sd, e)) {
                    sd.iotlbDone.put(e.node(), e.timeNs());
                }
                sd.iotlbInvalidated.put(e.node() + " " + i.pasid(), e);
            });
        } else if (ev instanceof SecondaryTlbEvent.AtcInvalidated a) {
            drop(atcHolder(e.node(), a.device()), a.start(), a.end(), e);
            sd(a.shootdownId()).ifPresent(sd -> {
                if (answers(sd, e)) {
                    sd.atcDone.put(e.node(), e.timeNs());
                }
            });
        } else if (ev instanceof SecondaryTlbEvent.CommandsIssued c) {
            sd(c.shootdownId()).ifPresent(sd -> onCommandsIssued(sd, e, c));
        } else if (ev instanceof SecondaryTlbEvent.SecondaryTlbsInvalidated done) {
            Optional<Sd> of = sd(done.shootdownId());
            if (of.isEmpty() || of.get().iotlbInvalidated.containsKey(done.iommu() + " " + done.pasid())) {
                secondaryCompletions.computeIfAbsent(done.mm(), k -> new ArrayList<>()).add(e);
            } // else its IOTLB was never invalidated: the completion covers nothing
            of.ifPresent(sd -> {
                sd.secondaryDone.put(done.iommu(), e);
                if (imported != null) {
                    sd.secondaryAll.add(e);
                }
            });
        } else if (ev instanceof InjectionEvent.FaultInjected f) {
            onFaultInjected(e, f);
        } else if (ev instanceof PageTableEvent.MmuGatherStarted g) {
            shootdowns.put(g.shootdownId(), new Sd(e));
            if (imported != null) {
                shootdowns.get(g.shootdownId()).boundAtStart = boundTo(g.mm());
            }
        } else if (ev instanceof PageTableEvent.TlbFlushStarted f) {
            shootdowns.put(f.shootdownId(), new Sd(e));
            if (imported != null) {
                shootdowns.get(f.shootdownId()).boundAtStart = boundTo(f.mm());
            }
        } else if (ev instanceof PageTableEvent.TlbFlushCalled f && imported != null) {
            sd(f.shootdownId()).ifPresent(sd -> {
                sd.flushCalls.add(e);
                sd.boundAtCall.put(e.id(), boundTo(f.mm()));
            });
        } else if (ev instanceof PageTableEvent.PteSet p) {
            ptes.put(PteKey.of(p.mm(), p.va()), new Pte(true, p.frame(), p.frameEpoch(), p.writable(), e));
        } else if (ev instanceof PageTableEvent.PteCleared p) {
            ptes.put(PteKey.of(p.mm(), p.va()), new Pte(false, p.frame(), p.frameEpoch(), false, e));
            sd(p.shootdownId()).ifPresent(sd -> {
                addGuard(PteKey.of(p.mm(), p.va()), new Guard(e, sd, false));
                sd.pteChanges.add(e);
                sd.ptesCleared++;
            });
        } else if (ev instanceof PageTableEvent.PteProtectionChanged p) {
            ptes.put(PteKey.of(p.mm(), p.va()), new Pte(true, p.frame(), p.frameEpoch(), p.writable(), e));
            sd(p.shootdownId()).ifPresent(sd -> {
                if (!p.writable()) {
                    addGuard(PteKey.of(p.mm(), p.va()), new Guard(e, sd, true));
                }
                sd.pteChanges.add(e);
                sd.ptesProtectionChanged++;
            });
        } else if (ev instanceof PageTableEvent.FrameFreed f) {
            framesFreed++;
            onFrameFreed(e, f);
        } else if (ev instanceof PageTableEvent.MmuGatherFinished f) {
            onFinished(e, f.shootdownId());
        } else if (ev instanceof PageTableEvent.TlbFlushFinished f) {
            onFinished(e, f.shootdownId());
        } else if (ev instanceof SyscallEvent.MunmapReturned r) {
            onReturned(e, r.pid(), r.mm(), r.start(), r.end(), false);
        } else if (ev instanceof SyscallEvent.MprotectReturned r) {
            onReturned(e, r.pid(), r.mm(), r.start(), r.end(), true);
        } else if (ev instanceof WalkEvent.PageWalkCompleted w && w.present()) {
            FrameKey frame = new FrameKey(w.frame(), w.frameEpoch());
            PteKey pte = PteKey.of(w.mm(), w.va());
            walksInFlight.computeIfAbsent(e.node() + ">" + w.target(), k -> new ArrayDeque<>())
                    .add(new WalkInFlight(e.seq(), frame, pte));
            walksInFlightByFrame.merge(frame, 1, Integer::sum);
            walksInFlightByPte.merge(pte, 1, Integer::sum);
        }
    }

    /**
     * {@code e} was emitted while handling its cause: its node had then been delivered every
     * page-walk result its cause's sender sent it before the cause (links are FIFO). Those are
     * consumed: whatever the node cached from them is in the cache mirrors by now.
     */
    private void walksConsumedBy(Envelope e) {
        if (e.cause() == null || walksInFlightByFrame.isEmpty()) { // nothing in flight: nothing to parse
            return;
        }
        int hash = e.cause().lastIndexOf('#');
        if (hash < 0) {
            return;
        }
        ArrayDeque<WalkInFlight> link = walksInFlight.get(e.cause().substring(0, hash) + ">" + e.node());
        if (link == null) {
            return;
        }
        long causeSeq;
        try {
            causeSeq = Long.parseLong(e.cause().substring(hash + 1));
        } catch (NumberFormatException notASeq) {
            return;
        }
        while (!link.isEmpty() && link.peekFirst().seq() <= causeSeq) {
            WalkInFlight walk = link.pollFirst();
            FrameKey frame = walk.frame();
            if (walksInFlightByPte.merge(walk.pte(), -1, Integer::sum) == 0) {
                walksInFlightByPte.remove(walk.pte());
            }
            if (walksInFlightByFrame.merge(frame, -1, Integer::sum) == 0) {
                walksInFlightByFrame.remove(frame);
                maybeLetGo(frame);
            }
        }
    }

    /**
     * Lets a freed frame allocation go once nothing can reach it any more: no cache holds a
     * translation to it and no page-walk result naming it is in flight. A stale-translation-use
     * on it can no longer become a use after free, so it is settled.
     */
    private void maybeLetGo(FrameKey frame) {
        Envelope free = freed.get(frame);
        if (free == null || walksInFlightByFrame.containsKey(frame)) {
            return;
        }
        for (Holding h : holdings.getOrDefault(frame, Map.of()).values()) {
            if (h.drop == null) {
                return;
            }
        }
        for (AccessSeen access : lastAccess.getOrDefault(frame, Map.of()).values()) {
            settleStaleUse(access.envelope());
        }
        holdings.remove(frame);
        lastAccess.remove(frame);
        freed.remove(frame);
        Envelope previous = lastRetiredFree.get(frame.frame());
        if (previous == null || ((PageTableEvent.FrameFreed) previous.event()).epoch() < frame.epoch()) {
            lastRetiredFree.put(frame.frame(), free);
        }
    }

    /** The free of a frame allocation that was let go, if {@code frame} is one: null while it is live or tracked. */
    private Envelope freeLetGo(FrameKey frame) {
        Envelope last = lastRetiredFree.get(frame.frame());
        if (last == null || ((PageTableEvent.FrameFreed) last.event()).epoch() < frame.epoch() || freed.containsKey(frame)) {
            return null;
        }
        return last;
    }

    /** The free of a frame allocation, tracked or let go; null if it was not freed. */
    private Envelope freeOf(FrameKey frame) {
        Envelope free = freed.get(frame);
        if (free == null) {
            Envelope letGo = freeLetGo(frame);
            if (letGo != null && ((PageTableEvent.FrameFreed) letGo.event()).epoch() == frame.epoch()) {
                return letGo;
            }
        }
        return free;
    }

    /** The access's pending stale-translation-use, if any, is final: it goes to the sink. */
    private void settleStaleUse(Envelope access) {
        Violation stale = staleUses.remove(access.id());
        if (stale != null) {
            emit(stale);
        }
    }

    /**
     * Adds a guard to a page, first letting go of the ones that can no longer catch anything.
     * A guard matters while its shootdown is in flight, while a page-walk result for the page is
     * in flight (it may fill a translation older than the change), and, once its shootdown is
     * done, as the first guard of its kind after a translation some cache still holds.
     */
    private void addGuard(PteKey key, Guard guard) {
        List<Guard> list = guards.computeIfAbsent(key, k -> new ArrayList<>());
        if (!list.isEmpty() && !walksInFlightByPte.containsKey(key)) {
            List<Cached> held = new ArrayList<>();
            for (TreeMap<Long, Cached> cache : caches.values()) {
                Cached c = cache.get(key.va());
                if (c != null) {
                    held.add(c);
                }
            }
            Set<Guard> keep = java.util.Collections.newSetFromMap(new java.util.IdentityHashMap<>());
            for (Guard g : list) {
                if (g.sd().returned == null && g.sd().finished == null) {
                    keep.add(g);
                }
            }
            for (Cached c : held) {
                boolean any = false;
                boolean writes = false;
                for (Guard g : list) {
                    if (g.change().happenedBefore(c.fill()) || keep.contains(g)) {
                        continue;
                    }
                    if (g.writesOnly() ? !writes : !any) {
                        keep.add(g);
                        writes |= g.writesOnly();
                        any |= !g.writesOnly();
                    }
                }
            }
            list.removeIf(g -> !keep.contains(g));
        }
        list.add(guard);
    }

    private Optional<Sd> sd(long id) {
        return Optional.ofNullable(shootdowns.get(id));
    }

    private long mmOfPasid(String iommu, int pasid) {
        for (var entry : notifiers.entrySet()) {
            for (var b : entry.getValue()) {
                if (b.target().equals(iommu) && b.pasid() == pasid) {
                    return entry.getKey();
                }
            }
        }
        return -1;
    }

    private static String cpuHolder(String cpu, long mm) {
        return cpu + " tlb mm " + mm;
    }

    private static String iotlbHolder(String iommu, int pasid) {
        return iommu + " iotlb pasid " + pasid;
    }

    private static String atcHolder(String iommu, String device) {
        return iommu + " atc " + device;
    }

    private void fill(String holder, long mm, long va, FrameKey frame, Envelope e) {
        Envelope letGo = freeLetGo(frame);
        if (letGo != null && ((PageTableEvent.FrameFreed) letGo.event()).epoch() == frame.epoch()) {
            freed.put(frame, letGo); // a fill from nowhere the auditor knows of: track the freed allocation again
        }
        Cached previous = caches.computeIfAbsent(holder, k -> new TreeMap<>()).put(va, new Cached(frame, e));
        holdings.computeIfAbsent(frame, k -> new LinkedHashMap<>()).put(holder, new Holding(e, mm, va));
        if (previous != null && !previous.frame().equals(frame)) {
            holdings.get(previous.frame()).get(holder).drop = e; // replaced by a newer translation
            maybeLetGo(previous.frame());
        }
    }

    private void drop(String holder, long start, long end, Envelope e) {
        TreeMap<Long, Cached> cache = caches.get(holder);
        if (cache == null) {
            return;
        }
        var it = cache.entrySet().iterator();
        while (it.hasNext()) {
            var entry = it.next();
            if (Kernel.covers(start, end, entry.getKey())) {
                holdings.get(entry.getValue().frame()).get(holder).drop = e;
                it.remove();
                maybeLetGo(entry.getValue().frame());
            }
        }
    }

    /**
     * Commands on an IOMMU's queue: a TLBI is remembered; an ATC_INV must follow a TLBI of the
     * same shootdown and PASID issued in an earlier step, that is after its CMD_SYNC completed
     * (drivers/iommu/arm/arm-smmu-v3/arm-smmu-v3.c: arm_smmu_atc_inv_domain after the TLBI and
     * its sync, or the device can refill its ATC from the IOTLB entry still there).
     */
    private void onCommandsIssued(Sd sd, Envelope e, SecondaryTlbEvent.CommandsIssued c) {
        String key = e.node() + " " + c.pasid();
        if (c.commands().stream().anyMatch(cmd -> cmd.startsWith("TLBI"))) {
            sd.tlbiIssued.putIfAbsent(key, e);
        }
        if (c.commands().stream().noneMatch(cmd -> cmd.startsWith("ATC_INV"))) {
            return;
        }
        Envelope tlbi = sd.tlbiIssued.get(key);
        boolean synced = tlbi != null && tlbi != e && tlbi.happenedBefore(e) && !java.util.Objects.equals(tlbi.cause(), e.cause());
        if (synced) {
            return;
        }
        List<String> chain = new ArrayList<>();
        Envelope request = sd.secondaryIssued.get(e.node());
        if (request != null) {
            chain.add(request.id());
        }
        for (Envelope f : faultsOf(sd, e.node())) {
            chain.add(f.id());
        }
        chain.add(e.id());
        violateOncePerShootdown("atc-before-iotlb", e.node(), c.mm(), Kernel.hex(c.start()), chain, e.node() + " issued ATC_INV for pasid "
                + c.pasid() + " of shootdown " + sd.id + " (" + e.id() + ") " + (tlbi == null
                        ? "before any IOTLB invalidation of it"
                        : "before the IOTLB invalidation " + tlbi.id() + " had completed")
                + ": a device translating in between refills its ATC from the stale IOTLB entry", sd.id);
    }

    /**
     * A fault the plan injected: listed in the report, and attached to the shootdown whose flush
     * or secondary request it hit (its cause), for the chains of the violations it explains.
     */
    private void onFaultInjected(Envelope e, InjectionEvent.FaultInjected f) {
        if (f.index() != null) {
            faultsMatched.add(f.index());
        }
        faultsInjected++;
        if (faults.size() < LISTED_FAULTS) {
            faults.add(new AuditReport.InjectedFault(e.id(), e.timeNs(), f.fault(), f.layer(), f.node(),
                    e.cause() == null ? f.target() : e.cause(), f.detail()));
        }
        if (e.cause() == null) {
            return;
        }
        for (Sd sd : shootdowns.values()) {
            boolean hit = sd.flushIssued.values().stream().anyMatch(x -> x.id().equals(e.cause()))
                    || sd.secondaryIssued.values().stream().anyMatch(x -> x.id().equals(e.cause()));
            if (hit) {
                sd.faults.add(e);
                return;
            }
        }
    }

    /** The faults injected into {@code sd} on {@code node}. */
    private static List<Envelope> faultsOf(Sd sd, String node) {
        List<Envelope> out = new ArrayList<>();
        for (Envelope f : sd.faults) {
            if (f.node().equals(node)) {
                out.add(f);
            }
        }
        return out;
    }

    /**
     * At the end of the run: a CPU that was delivered a flush IPI of a shootdown still in flight
     * (its vector clock shows the IPI) but never acknowledged it did not run flush_tlb_func. The
     * initiator waits for that CPU for ever (kernel/smp.c: smp_call_function_many_cond), so the
     * shootdown hangs and its frames are never freed: a {@code non-responsive-csd-lock}. Each
     * translation the CPU still holds of a page the shootdown changed, filled before the change,
     * is also a {@code missing-cpu-invalidation}: the CPU goes on using the stale entries.
     */
    private void checkUnacknowledgedFlushes() {
        for (Sd sd : shootdowns.values()) {
            for (Map.Entry<String, Envelope> issued : sd.flushIssued.entrySet()) {
                String cpu = issued.getKey();
                Envelope last = lastOfNode.get(cpu);
                if (sd.flushDone.containsKey(cpu) || last == null || !issued.getValue().happenedBefore(last)) {
                    continue;
                }
                reported.clear();
                if (issued.getValue().event() instanceof IpiEvent.FlushTlb ipi && ipi.viaIpi()) {
                    reportCsdLockWait(sd, issued.getValue(), ipi, last);
                }
                for (Envelope change : sd.pteChanges) {
                    long mm = pteMm(change);
                    long va = Kernel.pageAlign(pteVa(change));
                    TreeMap<Long, Cached> cache = caches.get(cpuHolder(cpu, mm));
                    Cached held = cache == null ? null : cache.get(va);
                    if (held == null || change.happenedBefore(held.fill())) {
                        continue;
                    }
                    List<String> chain = new ArrayList<>(List.of(held.fill().id(), change.id(), issued.getValue().id()));
                    List<Envelope> lost = faultsOf(sd, cpu);
                    lost.forEach(f -> chain.add(f.id()));
                    violateOncePerShootdown("missing-cpu-invalidation", cpu, mm, Kernel.hex(va), chain, cpu + " still holds the translation of "
                            + Kernel.hex(va) + " in mm " + mm + " (filled by " + held.fill().id() + ") after the PTE was "
                            + changed(change) + " (" + change.id() + "): the flush " + issued.getValue().id() + " of shootdown "
                            + sd.id + " (" + sd.caller + ") reached it but flush_tlb_func never ran"
                            + (lost.isEmpty() ? "" : " (the IPI was lost: " + lost.get(0).id() + ")")
                            + ", and the shootdown never completed", sd.id);
                }
            }
        }
    }

    /**
     * The flush IPI {@code issued} of {@code sd} reached its CPU ({@code last}, that CPU's latest
     * event, follows it; so does the fault that lost it, if one did) and was never acknowledged:
     * the initiator spins in csd_lock_wait with preemption disabled for the rest of the run.
     * CONFIG_CSD_LOCK_WAIT_DEBUG reports it as "csd: Detected non-responsive CSD lock" once
     * smp.csd_lock_timeout (5 s by default) has passed; the model's evidence is the delivered,
     * unacknowledged IPI itself, since no acknowledgement can come after it was handled.
     */
    private void reportCsdLockWait(Sd sd, Envelope issued, IpiEvent.FlushTlb ipi, Envelope last) {
        csdLockReported.add(sd.id);
        String cpu = ipi.target();
        List<Envelope> lost = faultsOf(sd, cpu);
        List<String> chain = new ArrayList<>(List.of(sd.started.id(), issued.id()));
        if (lost.isEmpty()) {
            chain.add(last.id());
        } else {
            lost.forEach(f -> chain.add(f.id()));
        }
        String reached = lost.isEmpty() ? " (" + cpu + " went on: " + last.id() + ")" : " (the IPI was lost: " + lost.get(0).id() + ")";
        String frames = sd.ptesCleared + sd.ptesProtectionChanged + " PTEs changed, " + sd.frees.size() + " frames freed";
        violateOncePerShootdown("non-responsive-csd-lock", cpu, ipi.mm(), Kernel.hex(ipi.start()), chain, "shootdown " + sd.id + " ("
                + sd.caller + ": " + context(sd) + " on " + sd.cpu + ") never completed: its flush IPI " + issued.id()
                + " reached " + cpu + reached + " but flush_tlb_func never ran there, so " + sd.cpu
                + " was still spinning in csd_lock_wait with preemption disabled when the run ended, "
                + String.format(Locale.ROOT, "%.3f us", (lastTimeNs - issued.timeNs()) / 1000.0) + " later (" + frames
                + "); CONFIG_CSD_LOCK_WAIT_DEBUG reports \"csd: Detected non-responsive CSD lock\" for it", sd.id);
    }

    /**
     * The model faults of the run's plan that never hit anything (a lost IPI on arm64, which sends
     * none; a fault after the run's end), one line each; infrastructure faults, done by the host,
     * are not counted here.
     */
    private List<String> faultsNeverMatched() {
        if (scenario == null || scenario.faults() == null) {
            return List.of();
        }
        List<String> never = new ArrayList<>();
        for (var f : scenario.faults().of(dev.shootdown.fault.FaultKind.Layer.MODEL)) {
            if (!faultsMatched.contains(f.index())) {
                never.add("faults[" + f.index() + "] " + f.spec().kind().kebab()
                        + (f.spec().node() == null ? "" : " on " + f.spec().node()) + ": never matched anything in this run");
            }
        }
        return never;
    }

    /**
     * The kernel's watchdog ended the run on a shootdown that made no progress for the stall
     * window: a {@code stall}, unless the audit already proved why it hangs (an unacknowledged IPI:
     * {@code non-responsive-csd-lock}), which says more.
     */
    private void checkStalls() {
        for (Envelope e : stalls) {
            var st = (FaultEvent.StallDetected) e.event();
            if (csdLockReported.contains(st.shootdownId())) {
                continue;
            }
            Sd sd = shootdowns.get(st.shootdownId());
            long mm = sd == null ? 0 : sd.mm;
            String va = sd == null ? "0x0" : Kernel.hex(sd.pteChanges.isEmpty() ? sd.start : pteVa(sd.pteChanges.get(0)));
            List<String> chain = new ArrayList<>();
            if (sd != null) {
                chain.add(sd.started.id());
                faultsOf(sd, st.cpu()).forEach(f -> chain.add(f.id()));
            }
            chain.add(e.id());
            violateOncePerShootdown("stall", st.cpu(), mm, va, chain, String.format(Locale.ROOT,
                    "shootdown %d (%s on %s, in %s) made no progress from %.3f us for the stall window of %.3f us: %s waits "
                            + "for %s; the kernel's watchdog (%s) reports it and nothing it waits for ever answers (%s)",
                    st.shootdownId(), sd == null ? "?" : sd.caller, st.cpu(), st.comm(), st.sinceNs() / 1000.0,
                    st.stallWindowNs() / 1000.0, st.function(),
                    st.waitingFor().isEmpty() ? "nothing it could name" : String.join(", ", st.waitingFor()),
                    st.function().equals("csd_lock_wait") ? "CONFIG_CSD_LOCK_WAIT_DEBUG" : "the hung-task detector", e.id()),
                    st.shootdownId());
        }
    }

    /** The context a shootdown runs in, as the kernel's task name would say. */
    private static String context(Sd sd) {
        if (sd.started.event() instanceof PageTableEvent.TlbFlushStarted f) {
            return f.comm();
        }
        return "pid " + sd.pid;
    }

    private void onMmSwitched(Envelope e, TraceEvent.MmSwitched s) {
        cpuLoadedMm.put(s.cpu(), s.mm());
        cpuLazy.remove(s.cpu());
    }

    private void onTlbFlushed(Envelope e, IpiEvent.TlbFlushed f) {
        if (f.kind() == FlushKind.PARTIAL) {
            drop(cpuHolder(f.cpu(), f.mm()), f.start(), f.end(), e);
        } else if (f.kind() == FlushKind.FULL) {
            drop(cpuHolder(f.cpu(), f.mm()), 0, Kernel.TLB_FLUSH_ALL, e);
        }
        sd(f.shootdownId()).ifPresent(sd -> {
            sd.flushDone.put(f.cpu(), e);
            if (imported != null) {
                sd.flushAcks.add(e);
            }
        });
    }

    /**
     * arm64: the broadcast TLBI dropped the CPU's entries of {@code mm} in the range, whatever it
     * has loaded. A CPU flush completion of its shootdown; a reclaim batch has one per page, the
     * last one counts.
     */
    private void onTlbiCompleted(Envelope e, IpiEvent.TlbiCompleted t) {
        drop(cpuHolder(t.cpu(), t.mm()), t.start(), t.end(), e);
        sd(t.shootdownId()).ifPresent(sd -> sd.flushDone.put(t.cpu(), e));
    }

    private void onHookCalled(Envelope e, SecondaryTlbEvent.SecondaryTlbHookCalled h) {
        if (h.mm() == 0) {
            nullMmHookCalls.put(h.shootdownId(), e);
        }
        sd(h.shootdownId()).ifPresent(sd -> {
            sd.hookCalls.add(e);
            if (h.mm() != 0) {
                checkHookMm(sd, e, h);
            }
        });
    }

    /** The hook must name an mm whose PTEs the shootdown changed (some of them, so far). */
    private void checkHookMm(Sd sd, Envelope call, SecondaryTlbEvent.SecondaryTlbHookCalled h) {
        if (sd.pteChanges.isEmpty()) {
            return;
        }
        Set<Long> changed = new TreeSet<>();
        for (Envelope change : sd.pteChanges) {
            changed.add(pteMm(change));
        }
        if (changed.contains(h.mm())) {
            return;
        }
        Envelope first = sd.pteChanges.get(0);
        String mms = changed.stream().map(String::valueOf).reduce((a, b) -> a + ", " + b).orElseThrow();
        String who = sd.currentMm == h.mm() ? " (current->mm)" : "";
        String what = sd.reclaim() ? "the batch" : "shootdown " + sd.id + " (" + sd.caller + ")";
        violateOncePerShootdown("wrong-mm-invalidation", h.cpu(), h.mm(), Kernel.hex(pteVa(first)), List.of(first.id(), call.id()),
                h.caller() + " called " + h.hook() + " for mm " + h.mm() + who + " but " + what + " changed PTEs of mm "
                        + mms + " only (" + first.id() + "): the secondary TLBs of mm " + mms + " are not invalidated by it",
                sd.id);
    }

    /** A simulated oops: one verdict each, with the hook call that handed it a NULL mm, if any. */
    private void onKernelOops(Envelope e, FaultEvent.KernelOops o) {
        List<String> chain = new ArrayList<>();
        Envelope hook = nullMmHookCalls.get(o.shootdownId());
        String cause = "";
        if (hook != null) {
            var h = (SecondaryTlbEvent.SecondaryTlbHookCalled) hook.event();
            chain.add(hook.id());
            cause = "; " + h.caller() + " called " + h.hook() + " with a NULL mm (" + hook.id() + ")";
        }
        chain.add(e.id());
        violate(o.shootdownId(), "kernel-oops", o.cpu(), 0, Kernel.hex(o.address()), chain, "oops in " + o.function() + " called from "
                + o.caller() + " on " + o.cpu() + " in " + o.comm() + " (pid " + o.pid() + "): " + o.message() + cause);
        // The oops killed the context that ran the shootdown: it never finishes, and nothing more comes of it.
        sd(o.shootdownId()).ifPresent(this::letGo);
    }

    /**
     * A page response to a device, paired with its latest fault. K SUCCESS responses in a row for
     * the same PASID, address and access, each while the PTE already allowed that access, is a
     * livelock: the fault handler has nothing left to fix, so the device must be faulting on a
     * translation cached before the PTE changed. Anything else resets the count.
     */
    private void onPageResponse(Envelope e, FaultEvent.PageResponseSent r) {
        String device = r.target() + " " + r.device();
        Envelope faultEnvelope = lastDeviceFault.get(device);
        if (faultEnvelope == null || r.code() != FaultEvent.PageResponseCode.SUCCESS) {
            streaks.remove(device);
            return;
        }
        var fault = (FaultEvent.DeviceFaultRaised) faultEnvelope.event();
        Pte pte = ptes.get(PteKey.of(fault.mm(), r.va()));
        if (pte == null || !pte.allows(fault.access())) {
            streaks.remove(device);
            return;
        }
        String key = r.pasid() + " " + Kernel.pageAlign(r.va()) + " " + fault.access();
        Streak streak = streaks.get(device);
        if (streak == null || !streak.key.equals(key)) {
            streak = new Streak(key, faultEnvelope);
            streaks.put(device, streak);
        }
        if (++streak.count == faultLivelockThreshold) {
            String access = fault.access().name().toLowerCase(Locale.ROOT);
            violate(0, "fault-livelock", r.target(), fault.mm(), Kernel.hex(r.va()),
                    List.of(streak.firstFault.id(), pte.last().id(), e.id()),
                    r.device() + " pasid " + r.pasid() + " faulted on a " + access + " of " + Kernel.hex(r.va()) + " in mm "
                            + fault.mm() + " and was answered SUCCESS " + streak.count + " times in a row while the PTE"
                            + " already allowed the " + access + " (since " + pte.last().id() + ", " + describe(pte.last())
                            + "): nothing invalidated the translation " + r.target() + " keeps faulting on");
        }
    }

    /** A PTE change as a kernel developer would name it. */
    private static String describe(Envelope change) {
        Event ev = change.event();
        if (ev instanceof PageTableEvent.PteProtectionChanged p) {
            return p.caller() + " made it " + (p.writable() ? "writable" : "read-only");
        }
        if (ev instanceof PageTableEvent.PteCleared) {
            return "ptep_get_and_clear";
        }
        if (ev instanceof PageTableEvent.PteSet p) {
            return "set_pte_at " + (p.writable() ? "writable" : "read-only");
        }
        return ev.getClass().getSimpleName();
    }

    private void onAccess(Envelope e, String who, long mm, long va, FrameKey frame, String holder, Access access,
            boolean cached) {
        Envelope free = freed.get(frame);
        Envelope letGo = free == null ? freeLetGo(frame) : null;
        if (letGo == null) {
            AccessSeen previous = lastAccess.computeIfAbsent(frame, k -> new HashMap<>()).put(holder, new AccessSeen(e, mm, va));
            if (previous != null) {
                settleStaleUse(previous.envelope()); // only the latest access of a cache is judged at the free
            }
        } else {
            // Nothing should reach an allocation that was let go; if something does, it is a use after free all the same.
            violate(((PageTableEvent.FrameFreed) letGo.event()).shootdownId(), "use-after-free", e.node(), mm, Kernel.hex(va), List.of(letGo.id(), e.id()), who + " accessed frame "
                    + Kernel.hex(frame.frame()) + " of allocation " + frame.epoch() + " through " + holder
                    + ", which no cache held any more, after the frame was freed (by " + letGo.id()
                    + (((PageTableEvent.FrameFreed) letGo.event()).epoch() == frame.epoch() ? "" : " or earlier") + ")");
            return;
        }
        if (free == null && cached) {
            checkStale(e, who, mm, va, holder, access);
        }
        if (free != null) {
            Holding h = holdings.getOrDefault(frame, Map.of()).get(holder);
            List<String> chain = new ArrayList<>();
            if (h != null) {
                chain.add(h.fill.id());
            }
            chain.add(free.id());
            chain.add(e.id());
            if (e.timeNs() > free.timeNs()) {
                violate(((PageTableEvent.FrameFreed) free.event()).shootdownId(), "use-after-free", e.node(), mm, Kernel.hex(va), chain, who + " accessed freed frame "
                        + Kernel.hex(frame.frame()) + " at " + us(e.timeNs()) + " through a stale translation in " + holder
                        + ", after the frame was freed by " + free.id() + " at " + us(free.timeNs()));
            } else {
                raceWithFree(e, free, mm, va, frame.frame(), holder, chain);
            }
        }
    }

    /**
     * An access not ordered before the free of its frame, but not after it in simulated time
     * either: a race with the free, not a use after free. The translation it used was not
     * invalidated before the free, which a use after free can follow.
     */
    private void raceWithFree(Envelope access, Envelope free, long mm, long va, long frame, String holder, List<String> chain) {
        violate(((PageTableEvent.FrameFreed) free.event()).shootdownId(), "race-with-free", access.node(), mm, Kernel.hex(va), chain, "access " + access.id() + " to frame "
                + Kernel.hex(frame) + " at " + us(access.timeNs()) + " through " + holder + " is not ordered before the free "
                + free.id() + " at " + us(free.timeNs()) + ": it came first in simulated time, but nothing made the free wait"
                + " for it (its translation was not invalidated before the free)");
    }

    private static String us(long ns) {
        return String.format(Locale.ROOT, "%.3f us", ns / 1000.0);
    }

    /**
     * An access through a cached translation filled before a PTE change whose operation is done
     * (returned or finished, before the access) and that should have prevented it: an unmap, for
     * any access; a write-protection, for a write through a writable translation.
     */
    private void checkStale(Envelope e, String who, long mm, long va, String holder, Access access) {
        TreeMap<Long, Cached> cache = caches.get(holder);
        Cached cached = cache == null ? null : cache.get(va);
        if (cached == null) {
            return;
        }
        for (Guard g : guards.getOrDefault(PteKey.of(mm, va), List.of())) {
            if (g.writesOnly() && (!access.isWrite() || !filledWritable(cached.fill()))) {
                continue;
            }
            if (g.change().happenedBefore(cached.fill())) {
                continue; // filled after the change: a fresh translation
            }
            Envelope done = doneBefore(g.sd(), e);
            if (done == null) {
                continue;
            }
            String verb = access.isWrite() ? "wrote" : "read";
            List<String> chain = List.of(cached.fill().id(), g.change().id(), done.id(), e.id());
            String ended = done == g.sd().returned ? g.sd().caller + " returned" : "the shootdown finished";
            String explanation = who + " " + verb + " " + Kernel.hex(va) + " of mm " + mm + " through " + holder
                    + "'s translation filled by " + cached.fill().id() + " before the PTE was " + changed(g.change()) + " ("
                    + g.change().id() + ", shootdown " + g.sd().id + ", " + g.sd().caller + ") and after " + ended + " ("
                    + done.id() + "): that translation should have been invalidated";
            Violation v = found(g.sd().id, "stale-translation-use", e.node(), mm, Kernel.hex(va), chain, explanation);
            if (v != null) {
                staleUses.put(e.id(), v); // settled when the access can no longer be a use after free
            }
            return;
        }
    }

    /** The shootdown's return, or else its finish, if it happened before {@code e}. */
    private static Envelope doneBefore(Sd sd, Envelope e) {
        if (sd.returned != null && sd.returned.happenedBefore(e)) {
            return sd.returned;
        }
        if (sd.finished != null && sd.finished.happenedBefore(e)) {
            return sd.finished;
        }
        return null;
    }

    private static boolean filledWritable(Envelope fill) {
        Event ev = fill.event();
        if (ev instanceof TraceEvent.TlbFilled f) {
            return f.writable();
        }
        if (ev instanceof TraceEvent.IotlbFilled f) {
            return f.writable();
        }
        return ev instanceof TraceEvent.AtcFilled f && f.writable();
    }

    private void onFrameFreed(Envelope free, PageTableEvent.FrameFreed f) {
        FrameKey frame = new FrameKey(f.frame(), f.epoch());
        freed.put(frame, free);
        for (Map.Entry<String, AccessSeen> access : lastAccess.getOrDefault(frame, Map.of()).entrySet()) {
            Envelope a = access.getValue().envelope();
            if (a.happenedBefore(free)) {
                settleStaleUse(a);
            } else {
                if (a.timeNs() > free.timeNs()) {
                    staleUses.remove(a.id()); // the same access, now known to be a use after free
                    violate(f.shootdownId(), "use-after-free", a.node(), access.getValue().mm(), Kernel.hex(access.getValue().va()),
                            List.of(a.id(), free.id()), "access " + a.id() + " through " + access.getKey() + " reached frame "
                                    + Kernel.hex(f.frame()) + " at " + us(a.timeNs()) + ", after its free " + free.id() + " at "
                                    + us(free.timeNs()) + ", and is not ordered before it");
                } else {
                    // it came first: what it was stays (a stale translation use, if one), and it raced with the free
                    raceWithFree(a, free, access.getValue().mm(), access.getValue().va(), f.frame(), access.getKey(),
                            List.of(a.id(), free.id()));
                }
            }
        }
        for (Map.Entry<String, Holding> held : holdings.getOrDefault(frame, Map.of()).entrySet()) {
            String holder = held.getKey();
            Holding h = held.getValue();
            boolean cpu = holder.contains(" tlb mm ");
            if (h.drop != null && h.drop.happenedBefore(free)) {
                continue;
            }
            if (cpu && h.drop == null && !cpuStillUses(holder)) {
                continue; // not loaded or lazy: switch_mm flushes before the next user access
            }
            String kind = cpu ? "missing-cpu-invalidation" : "missing-secondary-invalidation";
            String node = holder.substring(0, holder.indexOf(' '));
            String key = perShootdownKey(kind, node, h.mm, Kernel.hex(h.va));
            if (reportedAtEnd.getOrDefault(f.shootdownId(), Set.of()).contains(key)) {
                continue; // already reported at the shootdown's return or finish
            }
            if (shootdowns.containsKey(f.shootdownId())) {
                reportedPerShootdown.computeIfAbsent(f.shootdownId(), k -> new HashSet<>()).add(key);
            }
            List<String> chain = new ArrayList<>(List.of(h.fill.id()));
            if (h.drop != null) {
                chain.add(h.drop.id());
            }
            sd(f.shootdownId()).ifPresent(sd -> faultsOf(sd, node).forEach(fault -> chain.add(fault.id())));
            chain.add(free.id());
            violate(f.shootdownId(), kind, node, h.mm, Kernel.hex(h.va), chain, holder + " still held frame "
                    + Kernel.hex(f.frame()) + " (filled by " + h.fill.id() + ") when it was freed by " + free.id()
                    + (h.drop == null ? "" : "; the invalidation " + h.drop.id() + " was not ordered before the free"));
        }
        sd(f.shootdownId()).ifPresent(sd -> {
            sd.frees.add(free);
            if (sd.reclaim()) {
                framesReclaimed++;
            }
        });
        maybeLetGo(frame);
    }

    private boolean cpuStillUses(String holder) {
        String cpu = holder.substring(0, holder.indexOf(' '));
        long mm = Long.parseLong(holder.substring(holder.lastIndexOf(' ') + 1));
        return cpuLoadedMm.getOrDefault(cpu, 0L) == mm && !cpuLazy.contains(cpu);
    }

    /** munmap or mprotect returned: the oldest unreturned shootdown of that call is done. */
    private void onReturned(Envelope e, int pid, long mm, long start, long end, boolean mprotect) {
        for (Sd sd : shootdowns.values()) {
            if (sd.returned == null && sd.gather() && sd.caller.equals("mprotect") == mprotect && sd.mm == mm
                    && sd.pid == pid && sd.start == start && sd.end == end) {
                sd.returned = e;
                checkOnce(sd, e);
                maybeLetGo(sd);
                return;
            }
        }
    }

    private void onFinished(Envelope e, long shootdownId) {
        sd(shootdownId).ifPresent(sd -> {
            sd.finished = e;
            checkOnce(sd, e);
            maybeLetGo(sd);
        });
    }

    private void checkOnce(Sd sd, Envelope deadline) {
        if (!sd.checked) {
            sd.checked = true;
            if (imported != null) {
                checkTraceCoverage(sd, deadline);
                return;
            }
            checkSecondaryCoverage(sd, deadline);
            forgetUnneededCompletions();
        }
    }

    /** The secondary TLBs following {@code mm} now. */
    private List<String> boundTo(long mm) {
        return notifiers.getOrDefault(mm, List.of()).stream().map(SecondaryTlbEvent.SvaBound::target).toList();
    }

    /** An imported trace has no PTE changes: what it can be held to instead ({@link TraceCoverage}). */
    private void checkTraceCoverage(Sd sd, Envelope deadline) {
        var view = new TraceCoverage.Shootdown(sd.id, sd.caller, sd.gather() || sd.caller.equals("madvise_pageout"), sd.mm,
                sd.start, sd.end, sd.flushCalls, sd.flushRequests, sd.flushAcks, sd.hookCalls, sd.secondaryAll, sd.frees,
                sd.boundAtCall, sd.boundAtStart);
        for (TraceCoverage.Finding f : TraceCoverage.check(view, deadline)) {
            reportedAtEnd.computeIfAbsent(sd.id, k -> new HashSet<>()).add(perShootdownKey(f.kind(), f.node(), f.mm(), f.va()));
            violateOncePerShootdown(f.kind(), f.node(), f.mm(), f.va(), f.chain(), f.explanation(), sd.id);
        }
    }

    /**
     * A secondary completion matters only to PTE changes that happened before it and whose
     * shootdown is not checked yet; later changes come later in the log, after it.
     */
    private void forgetUnneededCompletions() {
        for (var it = secondaryCompletions.values().iterator(); it.hasNext();) {
            List<Envelope> completions = it.next();
            completions.removeIf(done -> {
                for (Sd sd : shootdowns.values()) {
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
    private void checkSecondaryCoverage(Sd sd, Envelope deadline) {
        Map<FrameKey, Envelope> ownFrees = new HashMap<>();
        for (Envelope f : sd.frees) {
            var ff = (PageTableEvent.FrameFreed) f.event();
            ownFrees.put(new FrameKey(ff.frame(), ff.epoch()), f);
        }
        for (Envelope change : sd.pteChanges) {
            long mm = pteMm(change);
            long va = pteVa(change);
            FrameKey frame;
            if (change.event() instanceof PageTableEvent.PteCleared clear) {
                frame = new FrameKey(clear.frame(), clear.frameEpoch());
            } else {
                var p = (PageTableEvent.PteProtectionChanged) change.event();
                frame = new FrameKey(p.frame(), p.frameEpoch());
            }
            Envelope free = ownFrees.containsKey(frame) ? ownFrees.get(frame) : freeOf(frame);
            if (free != null && !change.happenedBefore(free)) {
                free = null; // an earlier allocation's free, not this page's
            }
            for (SecondaryTlbEvent.SvaBound sub : notifiers.getOrDefault(mm, List.of())) {
                boolean covered = false;
                for (Envelope done : secondaryCompletions.getOrDefault(mm, List.of())) {
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
                    faultsOf(sd, sub.target()).forEach(f -> chain.add(f.id()));
                    if (free != null) {
                        chain.add(free.id());
                    }
                    chain.add(deadline.id());
                    String key = perShootdownKey("missing-secondary-invalidation", sub.target(), mm, Kernel.hex(va));
                    reportedAtEnd.computeIfAbsent(sd.id, k -> new HashSet<>()).add(key);
                    violateOncePerShootdown("missing-secondary-invalidation", sub.target(), mm, Kernel.hex(va), chain,
                            "PTE of " + Kernel.hex(va) + " in mm " + mm + " was " + changed(change) + " (" + change.id()
                                    + ") but no invalidation of " + sub.target() + " pasid " + sub.pasid()
                                    + " covering it completed before " + (free == null ? "" : "the frame was freed and ")
                                    + ended(sd, deadline),
                            sd.id);
                }
            }
        }
    }

    /** What a PTE change did, for an explanation. */
    private static String changed(Envelope change) {
        if (change.event() instanceof PageTableEvent.PteProtectionChanged p) {
            return p.writable() ? "made writable by " + p.caller() + ", which flushes the TLB on this architecture"
                    : "made read-only by " + p.caller();
        }
        return "cleared";
    }

    /** The event a shootdown's coverage is judged at, for an explanation. */
    private static String ended(Sd sd, Envelope deadline) {
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

    /**
     * Reports a violation of {@code shootdown} (0: of none) unless the same one (kind, node,
     * chain) was; returns it, or null if it was.
     */
    private Violation violate(long shootdown, String kind, String node, long mm, String va, List<String> chain,
            String explanation) {
        Violation v = found(shootdown, kind, node, mm, va, chain, explanation);
        if (v != null) {
            emit(v);
        }
        return v;
    }

    /**
     * A violation, unless the same one (kind, node, chain) was found: every chain ends with the
     * envelope being handled, so only the ones found for it need remembering.
     */
    private Violation found(long shootdown, String kind, String node, long mm, String va, List<String> chain,
            String explanation) {
        if (!reported.add(kind + "|" + node + "|" + chain)) {
            return null;
        }
        return new Violation(kind, node, mm, va, chain, explanation, shootdown);
    }

    private void emit(Violation v) {
        violationCount++;
        groups.add(v);
        sink.onViolation(v);
    }

    /** A violation reported at most once per (kind, node, mm, va) of a live shootdown. */
    private void violateOncePerShootdown(String kind, String node, long mm, String va, List<String> chain, String explanation,
            long shootdown) {
        if (reportedPerShootdown.computeIfAbsent(shootdown, k -> new HashSet<>()).add(perShootdownKey(kind, node, mm, va))) {
            violate(shootdown, kind, node, mm, va, chain, explanation);
        }
    }

    private static String perShootdownKey(String kind, String node, long mm, String va) {
        return kind + "|" + node + "|" + mm + "|" + va;
    }

    /**
     * Settles everything still open (pending stale-translation-uses, shootdowns still in flight)
     * and returns the report. Call it once, after the last envelope; with a {@link Sink} of your
     * own the report's violation and shootdown lists are empty, since they went to the sink.
     */
    public AuditReport finish() {
        if (report == null) {
            checkUnacknowledgedFlushes();
            checkStalls();
            new ArrayList<>(staleUses.values()).forEach(this::emit);
            staleUses.clear();
            for (Sd sd : shootdowns.values()) {
                summariesWaiting.put(sd.id, summarize(sd));
            }
            shootdowns.clear();
            flushSummaries(true);
            String name = scenario == null ? "?" : scenario.name();
            String arch = scenario == null ? "?" : scenario.arch();
            String policy = scenario == null ? "?" : scenario.policy();
            report = new AuditReport(run, name, arch, policy, seed, violationCount == 0 ? "clean" : "violations", complete,
                    faultLivelockThreshold, collected == null ? List.of() : collected.violations,
                    collected == null ? List.of() : collected.shootdowns,
                    new AuditReport.Stats(events, lastTimeNs, orderClasses, cpuAccesses, dmaAccesses, deviceFaults, framesFreed,
                            wholeMmSecondaryInvalidations, framesReclaimed, lag(lagAfter), lag(lagBefore)), List.of(),
                    faults, faultsInjected, faultsNeverMatched(), imported == null ? null : new AuditReport.Imported(imported.format(), imported.file(),
                            imported.sha256(), imported.mms().stream().map(m -> "mm " + m.mm() + " = " + m.address() + " ("
                                    + m.task() + ")").toList(), imported.notTraced(), imported.warnings()), ended,
                    groups.byKind(), groups.groups(), groups.groupsNotKept());
        }
        return report;
    }

    /** Violations settled so far (all of them, once {@link #finish()} returned). */
    public long violationCount() {
        return violationCount;
    }

    /** What the auditor holds now: this stays bounded by the live simulated state. */
    public LiveState liveState() {
        int frames = 0;
        Set<FrameKey> tracked = new HashSet<>(holdings.keySet());
        tracked.addAll(freed.keySet());
        tracked.addAll(lastAccess.keySet());
        frames = tracked.size();
        int cacheEntries = caches.values().stream().mapToInt(Map::size).sum();
        int guardCount = guards.values().stream().mapToInt(List::size).sum();
        int completions = secondaryCompletions.values().stream().mapToInt(List::size).sum();
        return new LiveState(shootdowns.size(), frames, cacheEntries, guardCount, staleUses.size(), completions,
                walksInFlightByFrame.values().stream().mapToInt(Integer::intValue).sum(), summariesWaiting.size());
    }

    /**
     * A shootdown that finished (and whose system call returned) is done: nothing later in the
     * log belongs to it. Its summary waits for earlier shootdowns still in flight, so summaries
     * come out in id order (up to {@link #SUMMARY_REORDER_LIMIT} waiting).
     */
    private void maybeLetGo(Sd sd) {
        if (sd.finished != null && (!sd.gather() || sd.returned != null)) {
            letGo(sd);
        }
    }

    private void letGo(Sd sd) {
        shootdowns.remove(sd.id);
        reportedPerShootdown.remove(sd.id);
        reportedAtEnd.remove(sd.id);
        nullMmHookCalls.remove(sd.id);
        summariesWaiting.put(sd.id, summarize(sd));
        flushSummaries(false);
    }

    private void flushSummaries(boolean all) {
        long oldestLive = shootdowns.isEmpty() ? Long.MAX_VALUE : shootdowns.keySet().iterator().next();
        while (!summariesWaiting.isEmpty()
                && (all || summariesWaiting.firstKey() < oldestLive || summariesWaiting.size() > SUMMARY_REORDER_LIMIT)) {
            ShootdownSummary s = summariesWaiting.pollFirstEntry().getValue();
            orderClasses.merge(s.order(), 1, Integer::sum);
            if (s.lagNs() != null) {
                (s.lagNs() >= 0 ? lagAfter : lagBefore).recordValue(Math.abs(s.lagNs()));
            }
            sink.onShootdown(s);
        }
    }

    private static AuditReport.Lag lag(Histogram h) {
        if (h.getTotalCount() == 0) {
            return AuditReport.Lag.NONE;
        }
        return new AuditReport.Lag(h.getTotalCount(), h.getValueAtPercentile(50), h.getValueAtPercentile(90),
                h.getValueAtPercentile(99), h.getMaxValue());
    }

    /** Whether {@code e}, an IOMMU's step, answers the last request {@code sd} sent that IOMMU (or the only one). */
    private static boolean answers(Sd sd, Envelope e) {
        Envelope request = sd.secondaryIssued.get(e.node());
        return request == null || request.happenedBefore(e);
    }

    private ShootdownSummary summarize(Sd sd) {
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
            Envelope last = lastOfNode.get(issued.getKey());
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
    private String orderClass(Sd sd) {
        boolean none = imported != null
                // an imported trace's mm gains and loses secondary TLBs as it runs: those bound when it flushed count
                ? sd.boundAtStart.isEmpty() && sd.boundAtCall.values().stream().allMatch(List::isEmpty) && sd.secondaryAll.isEmpty()
                : mmsOf(sd).stream().allMatch(mm -> notifiers.getOrDefault(mm, List.of()).isEmpty());
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

    /** The mms a shootdown touches: its own (unless a reclaim batch's 0) and those of the PTEs it changed. */
    private static Set<Long> mmsOf(Sd sd) {
        Set<Long> mms = new TreeSet<>();
        if (sd.mm != 0) {
            mms.add(sd.mm);
        }
        for (Envelope e : sd.pteChanges) {
            mms.add(pteMm(e));
        }
        return mms;
    }

    private static long pteVa(Envelope change) {
        if (change.event() instanceof PageTableEvent.PteCleared c) {
            return c.va();
        }
        return ((PageTableEvent.PteProtectionChanged) change.event()).va();
    }

    private static long pteMm(Envelope change) {
        if (change.event() instanceof PageTableEvent.PteCleared c) {
            return c.mm();
        }
        return ((PageTableEvent.PteProtectionChanged) change.event()).mm();
    }
}
