package dev.shootdown.audit;

import dev.shootdown.audit.ShootdownSummary.CpuFlush;
import dev.shootdown.audit.ShootdownSummary.HookCall;
import dev.shootdown.audit.ShootdownSummary.SecondaryInvalidation;
import dev.shootdown.event.Access;
import dev.shootdown.event.ControlEvent;
import dev.shootdown.event.Envelope;
import dev.shootdown.event.Event;
import dev.shootdown.event.FaultEvent;
import dev.shootdown.event.IpiEvent;
import dev.shootdown.event.IpiEvent.FlushKind;
import dev.shootdown.event.Kernel;
import dev.shootdown.event.PageTableEvent;
import dev.shootdown.event.SecondaryTlbEvent;
import dev.shootdown.event.SyscallEvent;
import dev.shootdown.event.TraceEvent;
import dev.shootdown.scenario.Scenario;
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
 *       address and access, while the mirrored PTE already allowed it, are a livelock.
 * </ul>
 *
 * <p>A shootdown starts with MmuGatherStarted (munmap, mprotect) or TlbFlushStarted
 * (ptep_set_access_flags, kswapd, direct-reclaim) and ends with MmuGatherFinished or
 * TlbFlushFinished. It also classifies each shootdown by when the secondary invalidation completed
 * relative to the CPU flushes (x86 flush_tlb_func acks and arm64 TLBI completions).
 * Single-threaded.
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
        /** MunmapReturned / MprotectReturned. */
        Envelope returned;
        /** MmuGatherFinished / TlbFlushFinished. */
        Envelope finished;
        /** Whether the secondary coverage was checked (at the first of its return and finish). */
        boolean checked;

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
            return !gather() && (caller.equals("kswapd") || caller.equals("direct-reclaim"));
        }
    }

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
    private final Map<String, Long> cpuLoadedMm = new HashMap<>();
    private final Set<String> cpuLazy = new HashSet<>();
    private final Map<Long, List<SecondaryTlbEvent.SvaBound>> notifiers = new HashMap<>();
    private final Map<Long, List<Envelope>> secondaryCompletions = new HashMap<>();
    private final Map<Long, Sd> shootdowns = new LinkedHashMap<>();
    private final Map<PteKey, Pte> ptes = new HashMap<>();
    private final Map<PteKey, List<Guard>> guards = new HashMap<>();
    /** Access id -> its stale-translation-use, withdrawn if the access turns out to be a use after free. */
    private final Map<String, Violation> staleUses = new HashMap<>();
    /** "iommu device" -> its latest DeviceFaultRaised. */
    private final Map<String, Envelope> lastDeviceFault = new HashMap<>();
    /** "iommu device" -> its current streak of SUCCESS responses while the PTE allowed the access. */
    private final Map<String, Streak> streaks = new HashMap<>();
    /** shootdownId -> the last call of the secondary-TLB hook with a NULL mm. */
    private final Map<Long, Envelope> nullMmHookCalls = new HashMap<>();
    private final List<Violation> violations = new ArrayList<>();
    private final Set<String> reported = new HashSet<>();
    /** Keys (kind, node, mm, va, shootdown) of what was reported about a shootdown. */
    private final Set<String> reportedPerShootdown = new HashSet<>();
    /** Keys of the missing secondary invalidations found at a shootdown's return or finish. */
    private final Set<String> reportedAtEnd = new HashSet<>();

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
        events++;
        lastTimeNs = Math.max(lastTimeNs, e.timeNs());
        Event ev = e.event();
        if (ev instanceof ControlEvent.RunStarted s) {
            run = s.runId();
            seed = s.seed();
            scenario = s.scenario();
        } else if (ev instanceof ControlEvent.RunCompleted) {
            complete = true;
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
        } else if (ev instanceof IpiEvent.TlbFlushed f) {
            onTlbFlushed(e, f);
        } else if (ev instanceof IpiEvent.FlushTlb f) {
            sd(f.shootdownId()).ifPresent(sd -> sd.flushIssued.put(f.target(), e));
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
            sd(r.shootdownId()).ifPresent(sd -> sd.secondaryIssued.put(r.target(), e));
        } else if (ev instanceof SecondaryTlbEvent.IotlbInvalidated i) {
            drop(iotlbHolder(e.node(), i.pasid()), i.start(), i.end(), e);
            sd(i.shootdownId()).ifPresent(sd -> sd.iotlbDone.put(e.node(), e.timeNs()));
        } else if (ev instanceof SecondaryTlbEvent.AtcInvalidated a) {
            drop(atcHolder(e.node(), a.device()), a.start(), a.end(), e);
            sd(a.shootdownId()).ifPresent(sd -> sd.atcDone.put(e.node(), e.timeNs()));
        } else if (ev instanceof SecondaryTlbEvent.SecondaryTlbsInvalidated done) {
            secondaryCompletions.computeIfAbsent(done.mm(), k -> new ArrayList<>()).add(e);
            sd(done.shootdownId()).ifPresent(sd -> sd.secondaryDone.put(done.iommu(), e));
        } else if (ev instanceof PageTableEvent.MmuGatherStarted g) {
            shootdowns.put(g.shootdownId(), new Sd(e));
        } else if (ev instanceof PageTableEvent.TlbFlushStarted f) {
            shootdowns.put(f.shootdownId(), new Sd(e));
        } else if (ev instanceof PageTableEvent.PteSet p) {
            ptes.put(PteKey.of(p.mm(), p.va()), new Pte(true, p.frame(), p.frameEpoch(), p.writable(), e));
        } else if (ev instanceof PageTableEvent.PteCleared p) {
            ptes.put(PteKey.of(p.mm(), p.va()), new Pte(false, p.frame(), p.frameEpoch(), false, e));
            sd(p.shootdownId()).ifPresent(sd -> {
                guards.computeIfAbsent(PteKey.of(p.mm(), p.va()), k -> new ArrayList<>()).add(new Guard(e, sd, false));
                sd.pteChanges.add(e);
                sd.ptesCleared++;
            });
        } else if (ev instanceof PageTableEvent.PteProtectionChanged p) {
            ptes.put(PteKey.of(p.mm(), p.va()), new Pte(true, p.frame(), p.frameEpoch(), p.writable(), e));
            sd(p.shootdownId()).ifPresent(sd -> {
                if (!p.writable()) {
                    guards.computeIfAbsent(PteKey.of(p.mm(), p.va()), k -> new ArrayList<>()).add(new Guard(e, sd, true));
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
        }
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
        Cached previous = caches.computeIfAbsent(holder, k -> new TreeMap<>()).put(va, new Cached(frame, e));
        if (previous != null && !previous.frame().equals(frame)) {
            holdings.get(previous.frame()).get(holder).drop = e; // replaced by a newer translation
        }
        holdings.computeIfAbsent(frame, k -> new LinkedHashMap<>()).put(holder, new Holding(e, mm, va));
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
            }
        }
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
        sd(f.shootdownId()).ifPresent(sd -> sd.flushDone.put(f.cpu(), e));
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
        violate("wrong-mm-invalidation", h.cpu(), h.mm(), Kernel.hex(pteVa(first)), List.of(first.id(), call.id()),
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
        violate("kernel-oops", o.cpu(), 0, Kernel.hex(o.address()), chain, "oops in " + o.function() + " called from "
                + o.caller() + " on " + o.cpu() + " in " + o.comm() + " (pid " + o.pid() + "): " + o.message() + cause);
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
            violate("fault-livelock", r.target(), fault.mm(), Kernel.hex(r.va()),
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
        lastAccess.computeIfAbsent(frame, k -> new HashMap<>()).put(holder, new AccessSeen(e, mm, va));
        Envelope free = freed.get(frame);
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
            violate("use-after-free", e.node(), mm, Kernel.hex(va), chain, who + " accessed frame " + Kernel.hex(frame.frame())
                    + " through a stale translation in " + holder + " after the frame was freed by " + free.id());
        }
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
            Violation v = violate("stale-translation-use", e.node(), mm, Kernel.hex(va), chain, explanation);
            if (v != null) {
                staleUses.put(e.id(), v);
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
            if (!a.happenedBefore(free)) {
                Violation stale = staleUses.remove(a.id());
                if (stale != null) {
                    violations.remove(stale); // the same access, now known to be a use after free
                }
                violate("use-after-free", a.node(), access.getValue().mm(), Kernel.hex(access.getValue().va()),
                        List.of(a.id(), free.id()),
                        "access " + a.id() + " through " + access.getKey() + " is not ordered before the free of frame "
                                + Kernel.hex(f.frame()) + " (" + free.id() + ")");
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
            String key = perShootdownKey(kind, node, h.mm, Kernel.hex(h.va), f.shootdownId());
            if (reportedAtEnd.contains(key)) {
                continue; // already reported at the shootdown's return or finish
            }
            reportedPerShootdown.add(key);
            List<String> chain = new ArrayList<>(List.of(h.fill.id()));
            if (h.drop != null) {
                chain.add(h.drop.id());
            }
            chain.add(free.id());
            violate(kind, node, h.mm, Kernel.hex(h.va), chain, holder + " still held frame "
                    + Kernel.hex(f.frame()) + " (filled by " + h.fill.id() + ") when it was freed by " + free.id()
                    + (h.drop == null ? "" : "; the invalidation " + h.drop.id() + " was not ordered before the free"));
        }
        sd(f.shootdownId()).ifPresent(sd -> {
            sd.frees.add(free);
            if (sd.reclaim()) {
                framesReclaimed++;
            }
        });
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
                return;
            }
        }
    }

    private void onFinished(Envelope e, long shootdownId) {
        sd(shootdownId).ifPresent(sd -> {
            sd.finished = e;
            checkOnce(sd, e);
        });
    }

    private void checkOnce(Sd sd, Envelope deadline) {
        if (!sd.checked) {
            sd.checked = true;
            checkSecondaryCoverage(sd, deadline);
        }
    }

    /**
     * Every PTE change of the shootdown (each needs one: unmap, permission downgrade, and the
     * arm64 permission upgrade that got a flush), for every secondary TLB of its mm: a covering
     * completion after the PTE write, before the frame's free if it was freed, and before the
     * {@code deadline} (the operation's return or the shootdown's finish, whichever came first).
     */
    private void checkSecondaryCoverage(Sd sd, Envelope deadline) {
        for (Envelope change : sd.pteChanges) {
            long mm = pteMm(change);
            long va = pteVa(change);
            Envelope free = null;
            if (change.event() instanceof PageTableEvent.PteCleared clear) {
                free = freed.get(new FrameKey(clear.frame(), clear.frameEpoch()));
            } else {
                var p = (PageTableEvent.PteProtectionChanged) change.event();
                free = freed.get(new FrameKey(p.frame(), p.frameEpoch()));
            }
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
                    if (free != null) {
                        chain.add(free.id());
                    }
                    chain.add(deadline.id());
                    String key = perShootdownKey("missing-secondary-invalidation", sub.target(), mm, Kernel.hex(va), sd.id);
                    reportedAtEnd.add(key);
                    violate("missing-secondary-invalidation", sub.target(), mm, Kernel.hex(va), chain,
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

    /** Records a violation unless the same one (kind, node, chain) was; returns it, or null if it was. */
    private Violation violate(String kind, String node, long mm, String va, List<String> chain, String explanation) {
        String key = kind + "|" + node + "|" + chain;
        if (!reported.add(key)) {
            return null;
        }
        Violation v = new Violation(kind, node, mm, va, chain, explanation);
        violations.add(v);
        return v;
    }

    /** A violation reported at most once per (kind, node, mm, va, shootdown). */
    private void violate(String kind, String node, long mm, String va, List<String> chain, String explanation, long shootdown) {
        if (reportedPerShootdown.add(perShootdownKey(kind, node, mm, va, shootdown))) {
            violate(kind, node, mm, va, chain, explanation);
        }
    }

    private static String perShootdownKey(String kind, String node, long mm, String va, long shootdown) {
        return kind + "|" + node + "|" + mm + "|" + va + "|" + shootdown;
    }

    /** The report for everything accepted so far. */
    public AuditReport finish() {
        List<ShootdownSummary> summaries = new ArrayList<>();
        Map<String, Integer> orderClasses = new TreeMap<>();
        Histogram after = new Histogram(3);
        Histogram before = new Histogram(3);
        for (Sd sd : shootdowns.values()) {
            ShootdownSummary s = summarize(sd);
            summaries.add(s);
            orderClasses.merge(s.order(), 1, Integer::sum);
            if (s.lagNs() != null) {
                (s.lagNs() >= 0 ? after : before).recordValue(Math.abs(s.lagNs()));
            }
        }
        String name = scenario == null ? "?" : scenario.name();
        String arch = scenario == null ? "?" : scenario.arch();
        String policy = scenario == null ? "?" : scenario.policy();
        return new AuditReport(run, name, arch, policy, seed, violations.isEmpty() ? "clean" : "violations", complete,
                faultLivelockThreshold, violations, summaries,
                new AuditReport.Stats(events, lastTimeNs, orderClasses, cpuAccesses, dmaAccesses, deviceFaults, framesFreed,
                        wholeMmSecondaryInvalidations, framesReclaimed, lag(after), lag(before)), List.of());
    }

    private static AuditReport.Lag lag(Histogram h) {
        if (h.getTotalCount() == 0) {
            return AuditReport.Lag.NONE;
        }
        return new AuditReport.Lag(h.getTotalCount(), h.getValueAtPercentile(50), h.getValueAtPercentile(90),
                h.getValueAtPercentile(99), h.getMaxValue());
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
                sd.returned == null ? null : sd.returned.timeNs(), sd.finished == null ? null : sd.finished.timeNs(), order, lag);
    }

    /**
     * secondary-after-cpu: every CPU flush completed before any secondary completion;
     * secondary-before-cpu: every secondary completion before any CPU flush completed;
     * secondary-concurrent: neither; secondary-never: the mm has secondary TLBs and none was
     * invalidated; no-secondary-tlb: nothing to invalidate; no-cpu-flush: no CPU had the mm.
     */
    private String orderClass(Sd sd) {
        if (mmsOf(sd).stream().allMatch(mm -> notifiers.getOrDefault(mm, List.of()).isEmpty())) {
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
        for (Envelope c : sd.flushDone.values()) {
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
