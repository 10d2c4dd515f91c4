package dev.shootdown.audit;

import dev.shootdown.audit.ShootdownSummary.CpuFlush;
import dev.shootdown.audit.ShootdownSummary.SecondaryInvalidation;
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
import java.util.TreeMap;

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
 *   <li><b>secondary coverage</b>: every PTE cleared in an mm with secondary TLBs is covered, for
 *       each of them, by a completed invalidation after the PTE write and before the frame is
 *       freed and the operation returns.
 * </ul>
 *
 * <p>It also classifies each shootdown by when the secondary invalidation completed relative to
 * the CPU flushes. Single-threaded.
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

    /** An access through a translation of {@code va} in {@code mm}. */
    private record AccessSeen(Envelope envelope, long mm, long va) {}

    private static final class Sd {
        final Envelope started;
        final PageTableEvent.MmuGatherStarted gather;
        final List<Envelope> pteClears = new ArrayList<>();
        final Map<String, Envelope> flushIssued = new TreeMap<>();
        final Map<String, Envelope> flushDone = new TreeMap<>();
        final Map<String, Envelope> secondaryIssued = new TreeMap<>();
        final Map<String, Long> iotlbDone = new HashMap<>();
        final Map<String, Long> atcDone = new HashMap<>();
        final Map<String, Envelope> secondaryDone = new TreeMap<>();
        final List<Envelope> frees = new ArrayList<>();
        Envelope returned;

        Sd(Envelope started) {
            this.started = started;
            this.gather = (PageTableEvent.MmuGatherStarted) started.event();
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
    private final List<Violation> violations = new ArrayList<>();
    private final Set<String> reported = new HashSet<>();

    /** Audits a whole log given in causal order. */
    public static AuditReport audit(Iterable<Envelope> log) {
        Auditor auditor = new Auditor();
        log.forEach(auditor::accept);
        return auditor.finish();
    }

    /**
     * Audits a whole log given in causal order, reporting a device as livelocked after
     * {@code faultLivelockThreshold} faults on one address. Placeholder until the livelock audit
     * lands: it ignores the threshold.
     */
    public static AuditReport audit(Iterable<Envelope> log, int faultLivelockThreshold) {
        return audit(log);
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
            onAccess(e, a.cpu(), a.mm(), a.va(), new FrameKey(a.frame(), a.frameEpoch()), cpuHolder(a.cpu(), a.mm()));
        } else if (ev instanceof TraceEvent.DmaCompleted a) {
            dmaAccesses++;
            String holder = a.source() == TraceEvent.TranslationSource.ATC ? atcHolder(e.node(), a.device())
                    : iotlbHolder(e.node(), a.pasid());
            onAccess(e, a.device(), mmOfPasid(e.node(), a.pasid()), a.va(), new FrameKey(a.frame(), a.frameEpoch()), holder);
        } else if (ev instanceof FaultEvent.DeviceFaultRaised) {
            deviceFaults++;
        } else if (ev instanceof IpiEvent.TlbFlushed f) {
            onTlbFlushed(e, f);
        } else if (ev instanceof IpiEvent.FlushTlb f) {
            sd(f.shootdownId()).ifPresent(sd -> sd.flushIssued.put(f.target(), e));
        } else if (ev instanceof SecondaryTlbEvent.SvaBound b) {
            notifiers.computeIfAbsent(b.mm(), k -> new ArrayList<>()).add(b);
        } else if (ev instanceof SecondaryTlbEvent.InvalidateSecondaryTlbs r) {
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
        } else if (ev instanceof PageTableEvent.MmuGatherStarted) {
            shootdowns.put(((PageTableEvent.MmuGatherStarted) ev).shootdownId(), new Sd(e));
        } else if (ev instanceof PageTableEvent.PteCleared p) {
            sd(p.shootdownId()).ifPresent(sd -> sd.pteClears.add(e));
        } else if (ev instanceof PageTableEvent.FrameFreed f) {
            framesFreed++;
            onFrameFreed(e, f);
        } else if (ev instanceof SyscallEvent.MunmapReturned r) {
            onMunmapReturned(e, r);
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

    private void onAccess(Envelope e, String who, long mm, long va, FrameKey frame, String holder) {
        lastAccess.computeIfAbsent(frame, k -> new HashMap<>()).put(holder, new AccessSeen(e, mm, va));
        Envelope free = freed.get(frame);
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

    private void onFrameFreed(Envelope free, PageTableEvent.FrameFreed f) {
        FrameKey frame = new FrameKey(f.frame(), f.epoch());
        freed.put(frame, free);
        for (Map.Entry<String, AccessSeen> access : lastAccess.getOrDefault(frame, Map.of()).entrySet()) {
            Envelope a = access.getValue().envelope();
            if (!a.happenedBefore(free)) {
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
            List<String> chain = new ArrayList<>(List.of(h.fill.id()));
            if (h.drop != null) {
                chain.add(h.drop.id());
            }
            chain.add(free.id());
            violate(kind, holder.substring(0, holder.indexOf(' ')), h.mm, Kernel.hex(h.va), chain, holder + " still held frame "
                    + Kernel.hex(f.frame()) + " (filled by " + h.fill.id() + ") when it was freed by " + free.id()
                    + (h.drop == null ? "" : "; the invalidation " + h.drop.id() + " was not ordered before the free"));
        }
        sd(f.shootdownId()).ifPresent(sd -> sd.frees.add(free));
    }

    private boolean cpuStillUses(String holder) {
        String cpu = holder.substring(0, holder.indexOf(' '));
        long mm = Long.parseLong(holder.substring(holder.lastIndexOf(' ') + 1));
        return cpuLoadedMm.getOrDefault(cpu, 0L) == mm && !cpuLazy.contains(cpu);
    }

    private void onMunmapReturned(Envelope e, SyscallEvent.MunmapReturned r) {
        for (Sd sd : shootdowns.values()) {
            if (sd.returned == null && sd.gather.mm() == r.mm() && sd.gather.pid() == r.pid()
                    && sd.gather.start() == r.start() && sd.gather.end() == r.end()) {
                sd.returned = e;
                checkSecondaryCoverage(sd);
                return;
            }
        }
    }

    /** Every cleared PTE, for every secondary TLB of its mm: a covering completion in between. */
    private void checkSecondaryCoverage(Sd sd) {
        List<SecondaryTlbEvent.SvaBound> subs = notifiers.getOrDefault(sd.gather.mm(), List.of());
        for (Envelope clearEnvelope : sd.pteClears) {
            PageTableEvent.PteCleared clear = (PageTableEvent.PteCleared) clearEnvelope.event();
            Envelope free = freed.get(new FrameKey(clear.frame(), clear.frameEpoch()));
            for (SecondaryTlbEvent.SvaBound sub : subs) {
                boolean covered = false;
                for (Envelope done : secondaryCompletions.getOrDefault(sd.gather.mm(), List.of())) {
                    var inv = (SecondaryTlbEvent.SecondaryTlbsInvalidated) done.event();
                    if (inv.iommu().equals(sub.target()) && inv.pasid() == sub.pasid()
                            && Kernel.covers(inv.start(), inv.end(), clear.va())
                            && clearEnvelope.happenedBefore(done)
                            && (free == null || done.happenedBefore(free))
                            && done.happenedBefore(sd.returned)) {
                        covered = true;
                        break;
                    }
                }
                if (!covered) {
                    List<String> chain = new ArrayList<>(List.of(clearEnvelope.id()));
                    if (free != null) {
                        chain.add(free.id());
                    }
                    chain.add(sd.returned.id());
                    violate("missing-secondary-invalidation", sub.target(), clear.mm(), Kernel.hex(clear.va()), chain,
                            "PTE of " + Kernel.hex(clear.va()) + " in mm " + clear.mm() + " was cleared (" + clearEnvelope.id()
                                    + ") but no invalidation of " + sub.target() + " pasid " + sub.pasid()
                                    + " covering it completed before the frame was freed and munmap returned");
                }
            }
        }
    }

    private void violate(String kind, String node, long mm, String va, List<String> chain, String explanation) {
        String key = kind + "|" + node + "|" + chain;
        if (reported.add(key)) {
            violations.add(new Violation(kind, node, mm, va, chain, explanation));
        }
    }

    /** The report for everything accepted so far. */
    public AuditReport finish() {
        List<ShootdownSummary> summaries = new ArrayList<>();
        Map<String, Integer> orderClasses = new TreeMap<>();
        for (Sd sd : shootdowns.values()) {
            ShootdownSummary s = summarize(sd);
            summaries.add(s);
            orderClasses.merge(s.order(), 1, Integer::sum);
        }
        String name = scenario == null ? "?" : scenario.name();
        String arch = scenario == null ? "?" : scenario.arch();
        String policy = scenario == null ? "?" : scenario.policy();
        return new AuditReport(run, name, arch, policy, seed, violations.isEmpty() ? "clean" : "violations", complete,
                violations, summaries,
                new AuditReport.Stats(events, lastTimeNs, orderClasses, cpuAccesses, dmaAccesses, deviceFaults, framesFreed));
    }

    private ShootdownSummary summarize(Sd sd) {
        List<CpuFlush> cpu = new ArrayList<>();
        for (Map.Entry<String, Envelope> done : sd.flushDone.entrySet()) {
            var f = (IpiEvent.TlbFlushed) done.getValue().event();
            Envelope issued = sd.flushIssued.get(done.getKey());
            boolean viaIpi = issued != null && ((IpiEvent.FlushTlb) issued.event()).viaIpi();
            cpu.add(new CpuFlush(done.getKey(), f.kind().name().toLowerCase(Locale.ROOT), viaIpi,
                    done.getValue().timeNs(), done.getValue().id()));
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
        Long pteNs = sd.pteClears.isEmpty() ? null : sd.pteClears.get(0).timeNs();
        Long lastFree = sd.frees.isEmpty() ? null : sd.frees.get(sd.frees.size() - 1).timeNs();
        String order = orderClass(sd);
        Long lag = null;
        if (!sd.flushDone.isEmpty() && !sd.secondaryDone.isEmpty()) {
            long lastCpu = sd.flushDone.values().stream().mapToLong(Envelope::timeNs).max().orElseThrow();
            long lastSecondary = sd.secondaryDone.values().stream().mapToLong(Envelope::timeNs).max().orElseThrow();
            lag = lastSecondary - lastCpu;
        }
        return new ShootdownSummary(sd.gather.shootdownId(), sd.gather.mm(), Kernel.hex(sd.gather.start()),
                Kernel.hex(sd.gather.end()), sd.gather.caller(), sd.gather.cpu(), sd.pteClears.size(), pteNs, cpu, secondary,
                lastFree, sd.frees.size(), sd.returned == null ? null : sd.returned.timeNs(), order, lag);
    }

    /**
     * secondary-after-cpu: every CPU flush completed before any secondary completion;
     * secondary-before-cpu: every secondary completion before any CPU flush completed;
     * secondary-concurrent: neither; secondary-never: the mm has secondary TLBs and none was
     * invalidated; no-secondary-tlb: nothing to invalidate; no-cpu-flush: no CPU had the mm.
     */
    private String orderClass(Sd sd) {
        if (notifiers.getOrDefault(sd.gather.mm(), List.of()).isEmpty()) {
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
}
