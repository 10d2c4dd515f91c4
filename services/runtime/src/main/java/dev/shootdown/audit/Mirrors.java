package dev.shootdown.audit;

import dev.shootdown.event.Access;
import dev.shootdown.event.Envelope;
import dev.shootdown.event.Kernel;
import dev.shootdown.event.PageTableEvent;
import dev.shootdown.event.SecondaryTlbEvent;
import dev.shootdown.event.WalkEvent;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.function.Consumer;

/**
 * What the audit mirrors of the machine from the log, shared by every check: the CPU TLBs,
 * IOTLBs and ATCs (from their fills and invalidations), the PTEs, the frame allocations something
 * may still reach (held, freed, last accessed), the page-walk results in flight, which mm each
 * CPU has loaded, and the secondary TLBs bound to each mm (mmu_notifier subscriptions, SVA).
 *
 * <p>A freed frame allocation is let go once nothing can reach it any more: no cache holds a
 * translation to it and no page-walk result naming it is in flight to a CPU or an IOMMU (a node
 * has consumed every message its link delivered before one it handled later, the links being
 * FIFO). What is let go is remembered by frame number only: the latest free.
 */
final class Mirrors {

    /** A frame allocation: the frame and its allocation epoch. */
    record FrameKey(long frame, long epoch) {}

    /** A cached translation: its frame and the fill that put it there. */
    record Cached(FrameKey frame, Envelope fill) {}

    /** A cache's translation of {@code va} in {@code mm} to a frame: its fill, and what dropped it. */
    static final class Holding {
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
    record PteKey(long mm, long va) {
        static PteKey of(long mm, long va) {
            return new PteKey(mm, Kernel.pageAlign(va));
        }
    }

    /** The mirror of one PTE, and the event that last changed it. */
    record Pte(boolean present, long frame, long epoch, boolean writable, Envelope last) {
        boolean allows(Access access) {
            return present && (writable || !access.isWrite());
        }
    }

    /** An access through a translation of {@code va} in {@code mm}. */
    record AccessSeen(Envelope envelope, long mm, long va) {}

    /** A page-walk result naming a frame allocation, on its way from {@code seq} of its sender to a node. */
    private record WalkInFlight(long seq, FrameKey frame, PteKey pte) {}

    /** Cache mirrors: holder ("cpu0 tlb mm 1", "iommu0 iotlb pasid 1", "iommu0 atc dev0") -> va -> entry. */
    final Map<String, TreeMap<Long, Cached>> caches = new HashMap<>();
    final Map<FrameKey, Map<String, Holding>> holdings = new HashMap<>();
    final Map<FrameKey, Envelope> freed = new HashMap<>();
    final Map<FrameKey, Map<String, AccessSeen>> lastAccess = new HashMap<>();
    /** Frame number -> the latest allocation epoch let go after its free, and that free. */
    private final Map<Long, Envelope> lastRetiredFree = new HashMap<>();
    /** "sender>target" -> page-walk results naming a frame, in the order the link delivers them. */
    private final Map<String, ArrayDeque<WalkInFlight>> walksInFlight = new HashMap<>();
    private final Map<FrameKey, Integer> walksInFlightByFrame = new HashMap<>();
    private final Map<PteKey, Integer> walksInFlightByPte = new HashMap<>();
    private final Map<String, Long> cpuLoadedMm = new HashMap<>();
    private final Set<String> cpuLazy = new HashSet<>();
    /** mm -> the secondary TLBs bound to it, in binding order. */
    final Map<Long, List<SecondaryTlbEvent.SvaBound>> notifiers = new HashMap<>();
    final Map<PteKey, Pte> ptes = new HashMap<>();
    /** Each node's latest envelope: what it had been delivered by then, its vector clock says. */
    final Map<String, Envelope> lastOfNode = new HashMap<>();
    /** What becomes of an access once the allocation it reached is let go (its pending verdict is final). */
    private final Consumer<Envelope> accessSettled;

    Mirrors(Consumer<Envelope> accessSettled) {
        this.accessSettled = accessSettled;
    }

    static String cpuHolder(String cpu, long mm) {
        return cpu + " tlb mm " + mm;
    }

    static String iotlbHolder(String iommu, int pasid) {
        return iommu + " iotlb pasid " + pasid;
    }

    static String atcHolder(String iommu, String device) {
        return iommu + " atc " + device;
    }

    /** The translation {@code holder} caches for {@code va}, or null. */
    Cached cached(String holder, long va) {
        TreeMap<Long, Cached> cache = caches.get(holder);
        return cache == null ? null : cache.get(va);
    }

    void bound(SecondaryTlbEvent.SvaBound b) {
        notifiers.computeIfAbsent(b.mm(), k -> new ArrayList<>()).add(b);
    }

    void unbound(SecondaryTlbEvent.SvaUnbound u) {
        notifiers.getOrDefault(u.mm(), new ArrayList<>()).removeIf(b -> b.target().equals(u.target()) && b.pasid() == u.pasid());
    }

    /** The mm an IOMMU's PASID is bound to, or -1. */
    long mmOfPasid(String iommu, int pasid) {
        for (var entry : notifiers.entrySet()) {
            for (var b : entry.getValue()) {
                if (b.target().equals(iommu) && b.pasid() == pasid) {
                    return entry.getKey();
                }
            }
        }
        return -1;
    }

    /** The secondary TLBs following {@code mm} now. */
    List<String> boundTo(long mm) {
        return notifiers.getOrDefault(mm, List.of()).stream().map(SecondaryTlbEvent.SvaBound::target).toList();
    }

    void mmSwitched(String cpu, long mm) {
        cpuLoadedMm.put(cpu, mm);
        cpuLazy.remove(cpu);
    }

    void taskExited(String cpu) {
        cpuLazy.add(cpu);
    }

    /** Whether the CPU of a TLB holder still has its mm loaded, not lazily: switch_mm flushes otherwise. */
    boolean cpuStillUses(String holder) {
        String cpu = holder.substring(0, holder.indexOf(' '));
        long mm = Long.parseLong(holder.substring(holder.lastIndexOf(' ') + 1));
        return cpuLoadedMm.getOrDefault(cpu, 0L) == mm && !cpuLazy.contains(cpu);
    }

    void fill(String holder, long mm, long va, FrameKey frame, Envelope e) {
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

    void drop(String holder, long start, long end, Envelope e) {
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

    /** A page-walk result naming a frame is on its way to {@code w.target()}. */
    void walkSent(Envelope e, WalkEvent.PageWalkCompleted w) {
        FrameKey frame = new FrameKey(w.frame(), w.frameEpoch());
        PteKey pte = PteKey.of(w.mm(), w.va());
        walksInFlight.computeIfAbsent(e.node() + ">" + w.target(), k -> new ArrayDeque<>()).add(new WalkInFlight(e.seq(), frame, pte));
        walksInFlightByFrame.merge(frame, 1, Integer::sum);
        walksInFlightByPte.merge(pte, 1, Integer::sum);
    }

    /** Whether a page-walk result for the page is still in flight (it may fill a translation older than a change). */
    boolean walkInFlight(PteKey pte) {
        return walksInFlightByPte.containsKey(pte);
    }

    /**
     * {@code e} was emitted while handling its cause: its node had then been delivered every
     * page-walk result its cause's sender sent it before the cause (links are FIFO). Those are
     * consumed: whatever the node cached from them is in the cache mirrors by now.
     */
    void walksConsumedBy(Envelope e) {
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
     * translation to it and no page-walk result naming it is in flight. What was pending on its
     * last accesses is settled.
     */
    void maybeLetGo(FrameKey frame) {
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
            accessSettled.accept(access.envelope());
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
    Envelope freeLetGo(FrameKey frame) {
        Envelope last = lastRetiredFree.get(frame.frame());
        if (last == null || ((PageTableEvent.FrameFreed) last.event()).epoch() < frame.epoch() || freed.containsKey(frame)) {
            return null;
        }
        return last;
    }

    /** The free of a frame allocation, tracked or let go; null if it was not freed. */
    Envelope freeOf(FrameKey frame) {
        Envelope free = freed.get(frame);
        if (free == null) {
            Envelope letGo = freeLetGo(frame);
            if (letGo != null && ((PageTableEvent.FrameFreed) letGo.event()).epoch() == frame.epoch()) {
                return letGo;
            }
        }
        return free;
    }

    /** Frame allocations tracked now. */
    int frameAllocations() {
        Set<FrameKey> tracked = new HashSet<>(holdings.keySet());
        tracked.addAll(freed.keySet());
        tracked.addAll(lastAccess.keySet());
        return tracked.size();
    }

    int cacheEntries() {
        return caches.values().stream().mapToInt(Map::size).sum();
    }

    int walksInFlight() {
        return walksInFlightByFrame.values().stream().mapToInt(Integer::intValue).sum();
    }
}
