package dev.shootdown.audit;

import dev.shootdown.audit.Mirrors.FrameKey;
import dev.shootdown.audit.Mirrors.Pte;
import dev.shootdown.audit.Mirrors.PteKey;
import dev.shootdown.event.Callers;
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
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.SortedMap;
import java.util.TreeMap;

/**
 * Judges a run from its log alone. Feed it every envelope in causal order ({@code CausalOrder});
 * it mirrors every CPU TLB, IOTLB and ATC from their fill and invalidation events, and checks,
 * with happens-before taken from the vector clocks, that no access uses a freed frame or a
 * translation its shootdown should have removed, that every cache is covered at the free and
 * every secondary TLB before the operation returns, that the hook names the right mm, that faults
 * and flushes make progress, and that an ATC is invalidated after its IOTLB (docs/audit.md lists
 * the rules; each check's class says what it holds and why).
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
 *
 * <p>The auditor itself is a dispatcher: it keeps the mirrors of the machine ({@link Mirrors})
 * and the shootdowns in flight ({@link Shootdowns}) up to date from each envelope, and hands it to
 * the checks, one class per invariant ({@link UseAfterFree}, {@link CoverageAtFree},
 * {@link SecondaryCoverage}, {@link StaleTranslationUse}, {@link RightMm}, {@link FaultProgress},
 * {@link AtcAfterIotlb}, {@link FlushProgress}), which report to {@link Verdicts}. It switches
 * over every {@link dev.shootdown.event.EventType}: an event type added to the model does not
 * compile until the auditor says what it does with it.
 */
public final class Auditor {

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

    /** The report lists at most this many injected faults; {@link AuditReport#faultsInjected} counts them all. */
    static final int LISTED_FAULTS = 1000;

    /** Summaries wait at most this many for an earlier shootdown to finish, so they come out in id order. */
    static final int SUMMARY_REORDER_LIMIT = 1024;

    private final CollectingSink collected;
    private final int faultLivelockThreshold;
    private final Verdicts verdicts;
    private final Mirrors mirrors;
    private final Shootdowns shootdowns;
    private final StaleTranslationUse stale;
    private final UseAfterFree useAfterFree;
    private final CoverageAtFree coverageAtFree;
    private final SecondaryCoverage secondaryCoverage;
    private final RightMm rightMm;
    private final FaultProgress faultProgress;
    private final AtcAfterIotlb atcAfterIotlb;
    private final FlushProgress flushProgress;
    private final InjectedFaults injectedFaults;

    private AuditReport report;
    private String run = "";
    private Scenario scenario;
    private long seed;
    private boolean complete;
    /** Why the run ended (run-completed's reason), or null. */
    private String ended;
    /** Set when the log was imported from a kernel trace: shootdowns are then held to {@link TraceCoverage}. */
    private ControlEvent.TraceImported imported;
    private long events;
    private long lastTimeNs;
    private long cpuAccesses;
    private long dmaAccesses;
    private long deviceFaults;
    private long framesFreed;
    private long wholeMmSecondaryInvalidations;
    private long framesReclaimed;

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
        if (faultLivelockThreshold < 1) {
            throw new IllegalArgumentException("the fault-livelock threshold must be at least 1, was " + faultLivelockThreshold);
        }
        this.collected = sink == null ? new CollectingSink() : null;
        Sink to = sink == null ? collected : sink;
        this.faultLivelockThreshold = faultLivelockThreshold;
        this.verdicts = new Verdicts(to);
        this.mirrors = new Mirrors(this::accessSettled);
        this.shootdowns = new Shootdowns(mirrors, to);
        this.stale = new StaleTranslationUse(mirrors, verdicts);
        this.useAfterFree = new UseAfterFree(mirrors, verdicts, stale);
        this.coverageAtFree = new CoverageAtFree(mirrors, verdicts, shootdowns);
        this.secondaryCoverage = new SecondaryCoverage(mirrors, verdicts, shootdowns);
        this.rightMm = new RightMm(verdicts);
        this.faultProgress = new FaultProgress(mirrors, verdicts, faultLivelockThreshold);
        this.atcAfterIotlb = new AtcAfterIotlb(verdicts);
        this.flushProgress = new FlushProgress(mirrors, verdicts, shootdowns, () -> lastTimeNs);
        this.injectedFaults = new InjectedFaults(shootdowns);
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
        for (Map.Entry<String, TreeMap<Long, Mirrors.Cached>> holder : mirrors.caches.entrySet()) {
            List<CachedTranslation> entries = new ArrayList<>();
            for (Map.Entry<Long, Mirrors.Cached> e : holder.getValue().entrySet()) {
                entries.add(new CachedTranslation(Kernel.hex(e.getKey()), Kernel.hex(e.getValue().frame().frame()),
                        e.getValue().frame().epoch(), e.getValue().fill().id()));
            }
            out.put(holder.getKey(), entries);
        }
        return out;
    }

    /** Consumes the next envelope of the log, in causal order. */
    public void accept(Envelope e) {
        verdicts.nextEnvelope();
        onEnvelope(e);
        mirrors.walksConsumedBy(e);
    }

    /** An access's allocation was let go: its pending stale-translation-use, if any, is final. */
    private void accessSettled(Envelope access) {
        stale.settle(access);
    }

    private Optional<LiveShootdown> sd(long id) {
        return shootdowns.get(id);
    }

    private void onEnvelope(Envelope e) {
        events++;
        lastTimeNs = Math.max(lastTimeNs, e.timeNs());
        mirrors.lastOfNode.put(e.node(), e);
        Event ev = e.event();
        boolean handled = switch (ev.type()) {
            case RUN_STARTED -> {
                ControlEvent.RunStarted s = (ControlEvent.RunStarted) ev;
                run = s.runId();
                seed = s.seed();
                scenario = s.scenario();
                yield true;
            }
            case TRACE_IMPORTED -> {
                ControlEvent.TraceImported t = (ControlEvent.TraceImported) ev;
                imported = t;
                shootdowns.imported = true;
                yield true;
            }
            case SVA_UNBOUND -> {
                SecondaryTlbEvent.SvaUnbound u = (SecondaryTlbEvent.SvaUnbound) ev;
                mirrors.unbound(u);
                yield true;
            }
            case RUN_COMPLETED -> {
                ControlEvent.RunCompleted c = (ControlEvent.RunCompleted) ev;
                complete = true;
                ended = c.reason();
                yield true;
            }
            case MM_SWITCHED -> {
                TraceEvent.MmSwitched s = (TraceEvent.MmSwitched) ev;
                mirrors.mmSwitched(s.cpu(), s.mm());
                yield true;
            }
            case TASK_EXITED -> {
                SyscallEvent.TaskExited x = (SyscallEvent.TaskExited) ev;
                mirrors.taskExited(x.cpu());
                yield true;
            }
            case TLB_FILLED -> {
                TraceEvent.TlbFilled f = (TraceEvent.TlbFilled) ev;
                mirrors.fill(Mirrors.cpuHolder(f.cpu(), f.mm()), f.mm(), f.va(), new FrameKey(f.frame(), f.frameEpoch()), e);
                yield true;
            }
            case IOTLB_FILLED -> {
                TraceEvent.IotlbFilled f = (TraceEvent.IotlbFilled) ev;
                mirrors.fill(Mirrors.iotlbHolder(e.node(), f.pasid()), mirrors.mmOfPasid(e.node(), f.pasid()), f.va(),
                        new FrameKey(f.frame(), f.frameEpoch()), e);
                yield true;
            }
            case ATC_FILLED -> {
                TraceEvent.AtcFilled f = (TraceEvent.AtcFilled) ev;
                mirrors.fill(Mirrors.atcHolder(e.node(), f.device()), mirrors.mmOfPasid(e.node(), f.pasid()), f.va(),
                        new FrameKey(f.frame(), f.frameEpoch()), e);
                yield true;
            }
            case MEMORY_ACCESSED -> {
                TraceEvent.MemoryAccessed a = (TraceEvent.MemoryAccessed) ev;
                cpuAccesses++;
                useAfterFree.access(e, a.cpu(), a.mm(), a.va(), new FrameKey(a.frame(), a.frameEpoch()), Mirrors.cpuHolder(a.cpu(), a.mm()),
                        a.access(), a.tlbHit());
                yield true;
            }
            case DMA_COMPLETED -> {
                TraceEvent.DmaCompleted a = (TraceEvent.DmaCompleted) ev;
                dmaAccesses++;
                String holder = a.source() == TraceEvent.TranslationSource.ATC ? Mirrors.atcHolder(e.node(), a.device())
                        : Mirrors.iotlbHolder(e.node(), a.pasid());
                useAfterFree.access(e, a.device(), mirrors.mmOfPasid(e.node(), a.pasid()), a.va(), new FrameKey(a.frame(), a.frameEpoch()),
                        holder, a.access(), a.source() != TraceEvent.TranslationSource.WALK);
                yield true;
            }
            case DEVICE_FAULT_RAISED -> {
                FaultEvent.DeviceFaultRaised f = (FaultEvent.DeviceFaultRaised) ev;
                deviceFaults++;
                faultProgress.faulted(e, f);
                yield true;
            }
            case PAGE_RESPONSE_SENT -> {
                FaultEvent.PageResponseSent r = (FaultEvent.PageResponseSent) ev;
                faultProgress.pageResponse(e, r);
                yield true;
            }
            case KERNEL_OOPS -> {
                FaultEvent.KernelOops o = (FaultEvent.KernelOops) ev;
                rightMm.oops(e, o);
                // The oops killed the context that ran the shootdown: it never finishes, and nothing more comes of it.
                sd(o.shootdownId()).ifPresent(this::letGo);
                yield true;
            }
            case STALL_DETECTED -> {
                flushProgress.stallDetected(e);
                yield true;
            }
            case TLB_FLUSHED -> {
                IpiEvent.TlbFlushed f = (IpiEvent.TlbFlushed) ev;
                onTlbFlushed(e, f);
                yield true;
            }
            case FLUSH_TLB -> {
                IpiEvent.FlushTlb f = (IpiEvent.FlushTlb) ev;
                sd(f.shootdownId()).ifPresent(sd -> sd.flushRequested(f.target(), e, imported != null));
                yield true;
            }
            case TLBI -> {
                IpiEvent.Tlbi t = (IpiEvent.Tlbi) ev;
                sd(t.shootdownId()).ifPresent(sd -> sd.flushIssued.put(t.target(), e));
                yield true;
            }
            case TLBI_COMPLETED -> {
                IpiEvent.TlbiCompleted t = (IpiEvent.TlbiCompleted) ev;
                // arm64: the broadcast TLBI dropped the CPU's entries of the mm in the range, whatever it has loaded.
                // A CPU flush completion of its shootdown; a reclaim batch has one per page, the last one counts.
                mirrors.drop(Mirrors.cpuHolder(t.cpu(), t.mm()), t.start(), t.end(), e);
                sd(t.shootdownId()).ifPresent(sd -> sd.flushDone.put(t.cpu(), e));
                yield true;
            }
            case SECONDARY_TLB_HOOK_CALLED -> {
                SecondaryTlbEvent.SecondaryTlbHookCalled h = (SecondaryTlbEvent.SecondaryTlbHookCalled) ev;
                LiveShootdown sd = sd(h.shootdownId()).orElse(null);
                if (sd != null) {
                    sd.hookCalls.add(e);
                }
                rightMm.hookCalled(e, h, sd);
                yield true;
            }
            case SVA_BOUND -> {
                SecondaryTlbEvent.SvaBound b = (SecondaryTlbEvent.SvaBound) ev;
                mirrors.bound(b);
                yield true;
            }
            case INVALIDATE_SECONDARY_TLBS -> {
                SecondaryTlbEvent.InvalidateSecondaryTlbs r = (SecondaryTlbEvent.InvalidateSecondaryTlbs) ev;
                if (r.end() == Kernel.TLB_FLUSH_ALL) {
                    wholeMmSecondaryInvalidations++;
                }
                sd(r.shootdownId()).ifPresent(sd -> sd.secondaryRequested(r.target(), e));
                yield true;
            }
            case IOTLB_INVALIDATED -> {
                SecondaryTlbEvent.IotlbInvalidated i = (SecondaryTlbEvent.IotlbInvalidated) ev;
                mirrors.drop(Mirrors.iotlbHolder(e.node(), i.pasid()), i.start(), i.end(), e);
                sd(i.shootdownId()).ifPresent(sd -> sd.iotlbInvalidated(e, i.pasid()));
                yield true;
            }
            case ATC_INVALIDATED -> {
                SecondaryTlbEvent.AtcInvalidated a = (SecondaryTlbEvent.AtcInvalidated) ev;
                mirrors.drop(Mirrors.atcHolder(e.node(), a.device()), a.start(), a.end(), e);
                sd(a.shootdownId()).ifPresent(sd -> sd.atcInvalidated(e));
                yield true;
            }
            case CMDQ_ISSUED -> {
                SecondaryTlbEvent.CommandsIssued c = (SecondaryTlbEvent.CommandsIssued) ev;
                sd(c.shootdownId()).ifPresent(sd -> atcAfterIotlb.commandsIssued(sd, e, c));
                yield true;
            }
            case SECONDARY_TLBS_INVALIDATED -> {
                SecondaryTlbEvent.SecondaryTlbsInvalidated done = (SecondaryTlbEvent.SecondaryTlbsInvalidated) ev;
                Optional<LiveShootdown> of = sd(done.shootdownId());
                secondaryCoverage.completed(e, done, of);
                of.ifPresent(sd -> sd.secondaryCompleted(done.iommu(), e, imported != null));
                yield true;
            }
            case FAULT_INJECTED -> {
                InjectionEvent.FaultInjected f = (InjectionEvent.FaultInjected) ev;
                injectedFaults.injected(e, f);
                yield true;
            }
            case MMU_GATHER_STARTED -> {
                PageTableEvent.MmuGatherStarted g = (PageTableEvent.MmuGatherStarted) ev;
                LiveShootdown sd = shootdowns.start(e);
                if (imported != null) {
                    sd.boundAtStart = mirrors.boundTo(g.mm());
                }
                yield true;
            }
            case TLB_FLUSH_STARTED -> {
                PageTableEvent.TlbFlushStarted f = (PageTableEvent.TlbFlushStarted) ev;
                LiveShootdown sd = shootdowns.start(e);
                if (imported != null) {
                    sd.boundAtStart = mirrors.boundTo(f.mm());
                }
                yield true;
            }
            case TLB_FLUSH_CALLED -> {
                PageTableEvent.TlbFlushCalled f = (PageTableEvent.TlbFlushCalled) ev;
                if (imported != null) {
                    sd(f.shootdownId()).ifPresent(sd -> sd.flushCalled(e, mirrors.boundTo(f.mm())));
                }
                yield true;
            }
            case PTE_SET -> {
                PageTableEvent.PteSet p = (PageTableEvent.PteSet) ev;
                mirrors.ptes.put(PteKey.of(p.mm(), p.va()), new Pte(true, p.frame(), p.frameEpoch(), p.writable(), e));
                yield true;
            }
            case PTE_CLEARED -> {
                PageTableEvent.PteCleared p = (PageTableEvent.PteCleared) ev;
                mirrors.ptes.put(PteKey.of(p.mm(), p.va()), new Pte(false, p.frame(), p.frameEpoch(), false, e));
                sd(p.shootdownId()).ifPresent(sd -> {
                    stale.pteChanged(PteKey.of(p.mm(), p.va()), e, sd, false);
                    sd.pteChanges.add(e);
                    sd.ptesCleared++;
                });
                yield true;
            }
            case PTE_PROTECTION_CHANGED -> {
                PageTableEvent.PteProtectionChanged p = (PageTableEvent.PteProtectionChanged) ev;
                mirrors.ptes.put(PteKey.of(p.mm(), p.va()), new Pte(true, p.frame(), p.frameEpoch(), p.writable(), e));
                sd(p.shootdownId()).ifPresent(sd -> {
                    if (!p.writable()) {
                        stale.pteChanged(PteKey.of(p.mm(), p.va()), e, sd, true);
                    }
                    sd.pteChanges.add(e);
                    sd.ptesProtectionChanged++;
                });
                yield true;
            }
            case FRAME_FREED -> {
                PageTableEvent.FrameFreed f = (PageTableEvent.FrameFreed) ev;
                framesFreed++;
                onFrameFreed(e, f);
                yield true;
            }
            case MMU_GATHER_FINISHED -> {
                PageTableEvent.MmuGatherFinished f = (PageTableEvent.MmuGatherFinished) ev;
                onFinished(e, f.shootdownId());
                yield true;
            }
            case TLB_FLUSH_FINISHED -> {
                PageTableEvent.TlbFlushFinished f = (PageTableEvent.TlbFlushFinished) ev;
                onFinished(e, f.shootdownId());
                yield true;
            }
            case MUNMAP_RETURNED -> {
                SyscallEvent.MunmapReturned r = (SyscallEvent.MunmapReturned) ev;
                onReturned(e, r.pid(), r.mm(), r.start(), r.end(), false);
                yield true;
            }
            case MPROTECT_RETURNED -> {
                SyscallEvent.MprotectReturned r = (SyscallEvent.MprotectReturned) ev;
                onReturned(e, r.pid(), r.mm(), r.start(), r.end(), true);
                yield true;
            }
            case PAGE_WALK_COMPLETED -> {
                WalkEvent.PageWalkCompleted w = (WalkEvent.PageWalkCompleted) ev;
                if (w.present()) {
                    mirrors.walkSent(e, w);
                }
                yield true;
            }
            // nothing to check in these: the checks read their effects (PTE changes, fills, accesses) instead
            case TASK_SCHEDULED, PAGE_WALK_REQUESTED, PAGE_FAULT_RAISED, PAGE_FAULT_HANDLED, MUNMAP, MPROTECT,
                    MADVISE, MADVISE_RETURNED, MEMORY_RECLAIM, MEMORY_RECLAIM_RETURNED, MM_CREATED, VMA_MAPPED,
                    VMA_UNMAPPED, VMA_PROTECTION_CHANGED, FRAME_ALLOCATED, PTE_YOUNG_CLEARED,
                    RECLAIM_PAGES_CALLED, MM_TLB_GEN_INCREMENTED, TLB_BATCH_ADD_PENDING,
                    TLB_BATCH_FLUSH_STARTED, TLB_BATCHED_PENDING_FLUSHED, MEMORY_PRESSURE, PAGE_TABLE_FREED,
                    TASK_STARTED, TASK_COMPUTED, PASID_BOUND, DMA_ABORTED, TRACE_MARKER, NODE_QUIESCED,
                    TIMER_FIRED -> false;
        };
    }

    private void onTlbFlushed(Envelope e, IpiEvent.TlbFlushed f) {
        if (f.kind() == FlushKind.PARTIAL) {
            mirrors.drop(Mirrors.cpuHolder(f.cpu(), f.mm()), f.start(), f.end(), e);
        } else if (f.kind() == FlushKind.FULL) {
            mirrors.drop(Mirrors.cpuHolder(f.cpu(), f.mm()), 0, Kernel.TLB_FLUSH_ALL, e);
        }
        sd(f.shootdownId()).ifPresent(sd -> {
            sd.flushDone.put(f.cpu(), e);
            if (imported != null) {
                sd.flushAcks.add(e);
            }
        });
    }

    private void onFrameFreed(Envelope free, PageTableEvent.FrameFreed f) {
        FrameKey frame = new FrameKey(f.frame(), f.epoch());
        mirrors.freed.put(frame, free);
        useAfterFree.freed(free, f, frame);
        coverageAtFree.freed(free, f, frame);
        sd(f.shootdownId()).ifPresent(sd -> {
            sd.frees.add(free);
            if (sd.reclaim()) {
                framesReclaimed++;
            }
        });
        mirrors.maybeLetGo(frame);
    }

    /** munmap or mprotect returned: the oldest unreturned shootdown of that call is done. */
    private void onReturned(Envelope e, int pid, long mm, long start, long end, boolean mprotect) {
        for (LiveShootdown sd : shootdowns.live()) {
            if (sd.returned == null && sd.gather() && sd.caller.equals(Callers.MPROTECT) == mprotect && sd.mm == mm
                    && sd.pid == pid && sd.start == start && sd.end == end) {
                sd.returned = e;
                secondaryCoverage.deadline(sd, e);
                if (Shootdowns.done(sd)) {
                    letGo(sd);
                }
                return;
            }
        }
    }

    private void onFinished(Envelope e, long shootdownId) {
        sd(shootdownId).ifPresent(sd -> {
            sd.finished = e;
            secondaryCoverage.deadline(sd, e);
            if (Shootdowns.done(sd)) {
                letGo(sd);
            }
        });
    }

    /** Nothing later in the log belongs to {@code sd}. */
    private void letGo(LiveShootdown sd) {
        verdicts.forget(sd.id);
        rightMm.forget(sd.id);
        shootdowns.letGo(sd);
    }

    /**
     * Settles everything still open (pending stale-translation-uses, shootdowns still in flight)
     * and returns the report. Call it once, after the last envelope; with a {@link Sink} of your
     * own the report's violation and shootdown lists are empty, since they went to the sink.
     */
    public AuditReport finish() {
        if (report == null) {
            flushProgress.checkUnacknowledgedFlushes();
            flushProgress.checkStalls();
            stale.finish();
            shootdowns.finish();
            String name = scenario == null ? "?" : scenario.name();
            String arch = scenario == null ? "?" : scenario.arch().label();
            String policy = scenario == null ? "?" : scenario.policy();
            ViolationGroups groups = verdicts.groups;
            report = new AuditReport(run, name, arch, policy, seed, verdicts.count() == 0 ? "clean" : "violations", complete,
                    faultLivelockThreshold, collected == null ? List.of() : collected.violations,
                    collected == null ? List.of() : collected.shootdowns,
                    new AuditReport.Stats(events, lastTimeNs, shootdowns.orderClasses, cpuAccesses, dmaAccesses, deviceFaults,
                            framesFreed, wholeMmSecondaryInvalidations, framesReclaimed, Shootdowns.lag(shootdowns.lagAfter),
                            Shootdowns.lag(shootdowns.lagBefore)), List.of(),
                    injectedFaults.faults, injectedFaults.count, injectedFaults.neverMatched(scenario),
                    imported == null ? null : new AuditReport.Imported(imported.format(), imported.file(),
                            imported.sha256(), imported.mms().stream().map(m -> "mm " + m.mm() + " = " + m.address() + " ("
                                    + m.task() + ")").toList(), imported.notTraced(), imported.warnings()), ended,
                    groups.byKind(), groups.groups(), groups.groupsNotKept());
        }
        return report;
    }

    /** Violations settled so far (all of them, once {@link #finish()} returned). */
    public long violationCount() {
        return verdicts.count();
    }

    /** What the auditor holds now: this stays bounded by the live simulated state. */
    public LiveState liveState() {
        return new LiveState(shootdowns.size(), mirrors.frameAllocations(), mirrors.cacheEntries(), stale.guards(), stale.pending(),
                secondaryCoverage.completions(), mirrors.walksInFlight(), shootdowns.summariesWaiting());
    }
}
