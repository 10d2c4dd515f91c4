package dev.shootdown.iommu;

import dev.shootdown.core.Decider;
import dev.shootdown.core.Decision;
import dev.shootdown.core.Lifecycle;
import dev.shootdown.core.NodeStateMachine;
import dev.shootdown.core.TimerRequest;
import dev.shootdown.event.Access;
import dev.shootdown.event.ControlEvent;
import dev.shootdown.event.Event;
import dev.shootdown.event.FaultEvent;
import dev.shootdown.event.Kernel;
import dev.shootdown.event.NodeIds;
import dev.shootdown.event.SecondaryTlbEvent;
import dev.shootdown.event.TraceEvent;
import dev.shootdown.event.TraceEvent.TranslationSource;
import dev.shootdown.event.WalkEvent;
import dev.shootdown.scenario.Scenario.DmaProgram;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * An SMMUv3-style IOMMU with SVA, and the devices behind it. Hardware: the IOTLB (per PASID),
 * each device's ATC (PCIe ATS), the command queue (TLBI_NH_VA, TLBI_NH_ASID, ATC_INV, CMD_SYNC)
 * and the page-request queue (PRI). Driver: the arch_invalidate_secondary_tlbs callback of
 * drivers/iommu/arm/arm-smmu-v3/arm-smmu-v3-sva.c, which invalidates the IOTLB, waits for
 * CMD_SYNC, then invalidates the ATCs (never before the IOTLB is clean) and waits again.
 *
 * <p>A device's DMA engine issues one access every {@code periodNs}, round robin over its range.
 * Translation: ATC, then IOTLB, then a walk of the mm's page table (a read of the coordinator's
 * memory). A walk that finds no usable PTE sends a PRI page request; the device stalls until the
 * page response, retries on SUCCESS and aborts that access on INVALID.
 *
 * <p>Invalidation, per request:
 * <pre>
 *   (request) --TLBI+CMD_SYNC issued--> IOTLB_SYNC --sync done--> ATC_SYNC --sync done--> (completed)
 *                                       IOTLB_SYNC --sync done, no ATS device--------------> (completed)
 * </pre>
 *
 * <p>Thread: the host's node thread. Time: simulated nanoseconds.
 */
public final class Iommu implements NodeStateMachine {

    static final String DMA_TIMER_PREFIX = "dma:";
    static final String CMDQ_TIMER_PREFIX = "cmdq:";

    private enum DeviceWait { READY, WALK, PRI }

    private enum InvalPhase { IOTLB_SYNC, ATC_SYNC }

    private record Entry(long frame, long frameEpoch, boolean writable) {
        boolean allows(Access access) {
            return writable || !access.isWrite();
        }
    }

    private static final class Device {
        final String id;
        final int pasid;
        final long mm;
        final boolean ats;
        final DmaProgram dma;
        final TreeMap<Long, Entry> atc = new TreeMap<>();
        long cursor;
        DeviceWait wait = DeviceWait.READY;

        Device(String id, int pasid, long mm, boolean ats, DmaProgram dma) {
            this.id = id;
            this.pasid = pasid;
            this.mm = mm;
            this.ats = ats;
            this.dma = dma;
        }

        long nextVa() {
            return dma.va(cursor);
        }
    }

    private static final class Invalidation {
        final long shootdownId;
        final long mm;
        final int pasid;
        final long start;
        final long end;
        InvalPhase phase = InvalPhase.IOTLB_SYNC;

        Invalidation(long shootdownId, long mm, int pasid, long start, long end) {
            this.shootdownId = shootdownId;
            this.mm = mm;
            this.pasid = pasid;
            this.start = start;
            this.end = end;
        }
    }

    private final String nodeId;
    private Lifecycle lifecycle = Lifecycle.CREATED;
    private long cmdqSyncNs = 500;
    /** The IOMMU follows its architecture's TLB rules (see {@link #dmaAccess}). */
    private boolean arm64;
    private final Map<Integer, TreeMap<Long, Entry>> iotlb = new HashMap<>();
    private final Map<String, Device> devices = new LinkedHashMap<>();
    /** Invalidations in flight, by {@link #invalidationKey}: one per (shootdown, PASID). */
    private final Map<String, Invalidation> invalidations = new LinkedHashMap<>();
    /** The DMA each device of this IOMMU will do once bound, from the scenario. */
    private final Map<String, DmaProgram> dmaPrograms = new HashMap<>();

    public Iommu(String nodeId) {
        this.nodeId = nodeId;
    }

    @Override
    public String nodeId() {
        return nodeId;
    }

    @Override
    public Lifecycle lifecycle() {
        return lifecycle;
    }

    /** IOTLB entries cached under {@code pasid} (for tests and time travel). */
    public int iotlbEntries(int pasid) {
        TreeMap<Long, Entry> entries = iotlb.get(pasid);
        return entries == null ? 0 : entries.size();
    }

    /** ATC entries cached by {@code device}. */
    public int atcEntries(String device) {
        Device dev = devices.get(device);
        return dev == null ? 0 : dev.atc.size();
    }

    /** Every ready device's DMA timer, and the CMD_SYNC of every invalidation in flight. */
    @Override
    public List<TimerRequest> timersAfterRecovery(long nowNs) {
        List<TimerRequest> timers = new ArrayList<>();
        if (lifecycle != Lifecycle.RUNNING) {
            return timers;
        }
        for (Device dev : devices.values()) {
            if (dev.wait == DeviceWait.READY) {
                timers.add(new TimerRequest(DMA_TIMER_PREFIX + dev.id, nowNs + dev.dma.periodNs()));
            }
        }
        for (Invalidation inv : invalidations.values()) {
            timers.add(new TimerRequest(CMDQ_TIMER_PREFIX + invalidationKey(inv.shootdownId, inv.pasid),
                    nowNs + cmdqSyncNs));
        }
        return timers;
    }

    @Override
    public Decision onEvent(Event input, long nowNs) {
        if (lifecycle == Lifecycle.QUIESCED) {
            return Decision.NONE;
        }
        Decider d = new Decider(this);
        if (input instanceof ControlEvent.RunStarted started) {
            evolve(started);
        } else if (input instanceof ControlEvent.RunCompleted) {
            for (String device : devices.keySet()) {
                d.cancelTimer(DMA_TIMER_PREFIX + device);
            }
            d.emit(new ControlEvent.NodeQuiesced(NodeIds.CONTROL, nodeId));
        } else if (input instanceof SecondaryTlbEvent.SvaBound bound) {
            d.emit(new TraceEvent.PasidBound(nodeId, bound.device(), bound.pasid(), bound.mm(), bound.ats()));
            DmaProgram dma = dmaPrograms.get(bound.device());
            if (dma != null) {
                d.timer(DMA_TIMER_PREFIX + bound.device(), nowNs + dma.periodNs());
            }
        } else if (input instanceof SecondaryTlbEvent.InvalidateSecondaryTlbs request) {
            armSmmuMmArchInvalidateSecondaryTlbs(d, request, nowNs);
        } else if (input instanceof ControlEvent.TimerFired timer) {
            onTimer(d, timer.timer(), nowNs);
        } else if (input instanceof WalkEvent.PageWalkCompleted walk) {
            onPageWalkCompleted(d, walk, nowNs);
        } else if (input instanceof FaultEvent.PageResponseSent response) {
            onPageResponse(d, response, nowNs);
        }
        return d.decision();
    }

    private void onTimer(Decider d, String timer, long nowNs) {
        if (timer.startsWith(DMA_TIMER_PREFIX)) {
            Device dev = devices.get(timer.substring(DMA_TIMER_PREFIX.length()));
            if (dev != null && dev.wait == DeviceWait.READY) {
                dmaAccess(d, dev, nowNs);
            }
        } else if (timer.startsWith(CMDQ_TIMER_PREFIX)) {
            onCmdSyncCompleted(d, timer.substring(CMDQ_TIMER_PREFIX.length()), nowNs);
        }
    }

    /** One DMA by the device: ATC, IOTLB, then a page-table walk. */
    private void dmaAccess(Decider d, Device dev, long nowNs) {
        long va = dev.nextVa();
        Access access = dev.dma.access(dev.cursor);
        Entry atc = dev.ats ? dev.atc.get(va) : null;
        if (atc != null && atc.allows(access)) {
            d.emit(new TraceEvent.DmaCompleted(nodeId, dev.id, dev.pasid, va, atc.frame(), atc.frameEpoch(), access,
                    TranslationSource.ATC));
            d.timer(DMA_TIMER_PREFIX + dev.id, nowNs + dev.dma.periodNs());
            return;
        }
        Entry cached = iotlb(dev.pasid).get(va);
        if (cached != null && !cached.allows(access) && arm64) {
            // arm64 SMMU: the cached read-only entry stays and the write takes a permission
            // fault from it, without a walk, until the entry is invalidated. (x86 rules, below:
            // a translation that faulted is not kept, so the access walks again.)
            d.emit(new FaultEvent.DeviceFaultRaised(NodeIds.COORDINATOR, nodeId, dev.id, dev.pasid, dev.mm, va, access));
            return;
        }
        if (cached != null && cached.allows(access)) {
            if (dev.ats) {
                d.emit(new TraceEvent.AtcFilled(nodeId, dev.id, dev.pasid, va, cached.frame(), cached.frameEpoch(),
                        cached.writable()));
            }
            d.emit(new TraceEvent.DmaCompleted(nodeId, dev.id, dev.pasid, va, cached.frame(), cached.frameEpoch(), access,
                    TranslationSource.IOTLB));
            d.timer(DMA_TIMER_PREFIX + dev.id, nowNs + dev.dma.periodNs());
            return;
        }
        d.emit(new WalkEvent.PageWalkRequested(NodeIds.COORDINATOR, nodeId, dev.id, dev.mm, dev.pasid, va, access));
    }

    private void onPageWalkCompleted(Decider d, WalkEvent.PageWalkCompleted walk, long nowNs) {
        Device dev = devices.get(walk.stream());
        if (dev == null || dev.wait != DeviceWait.WALK || dev.nextVa() != walk.va()) {
            return;
        }
        Access access = dev.dma.access(dev.cursor);
        if (walk.present() && (walk.writable() || !access.isWrite())) {
            d.emit(new TraceEvent.IotlbFilled(nodeId, dev.pasid, walk.va(), walk.frame(), walk.frameEpoch(), walk.writable()));
            if (dev.ats) {
                d.emit(new TraceEvent.AtcFilled(nodeId, dev.id, dev.pasid, walk.va(), walk.frame(), walk.frameEpoch(),
                        walk.writable()));
            }
            d.emit(new TraceEvent.DmaCompleted(nodeId, dev.id, dev.pasid, walk.va(), walk.frame(), walk.frameEpoch(), access,
                    TranslationSource.WALK));
            d.timer(DMA_TIMER_PREFIX + dev.id, nowNs + dev.dma.periodNs());
        } else {
            // Translation fault with PRI enabled: a page request into the PRI queue; the device stalls.
            d.emit(new FaultEvent.DeviceFaultRaised(NodeIds.COORDINATOR, nodeId, dev.id, dev.pasid, dev.mm, walk.va(), access));
        }
    }

    private void onPageResponse(Decider d, FaultEvent.PageResponseSent response, long nowNs) {
        Device dev = devices.get(response.device());
        if (dev == null || dev.wait != DeviceWait.PRI || dev.nextVa() != response.va()) {
            return;
        }
        if (response.code() == FaultEvent.PageResponseCode.SUCCESS) {
            dmaAccess(d, dev, nowNs); // the device retries the same access
        } else {
            d.emit(new TraceEvent.DmaAborted(nodeId, dev.id, dev.pasid, response.va(), dev.dma.access(dev.cursor)));
            d.timer(DMA_TIMER_PREFIX + dev.id, nowNs + dev.dma.periodNs());
        }
    }

    /**
     * arm_smmu_mm_arch_invalidate_secondary_tlbs: TLBI_NH_VA over the range (TLBI_NH_ASID for
     * the whole address space), then CMD_SYNC; the ATCs follow once the sync completes.
     */
    private void armSmmuMmArchInvalidateSecondaryTlbs(Decider d, SecondaryTlbEvent.InvalidateSecondaryTlbs r, long nowNs) {
        String tlbi = r.end() == Kernel.TLB_FLUSH_ALL
                ? "TLBI_NH_ASID asid=" + r.pasid()
                : "TLBI_NH_VA asid=" + r.pasid() + " addr=" + Kernel.hex(r.start()) + " size=" + Kernel.hex(r.end() - r.start());
        d.emit(new SecondaryTlbEvent.CommandsIssued(nodeId, r.mm(), r.pasid(), r.start(), r.end(), List.of(tlbi, "CMD_SYNC"),
                r.shootdownId()));
        d.timer(CMDQ_TIMER_PREFIX + invalidationKey(r.shootdownId(), r.pasid()), nowNs + cmdqSyncNs);
    }

    static String invalidationKey(long shootdownId, int pasid) {
        return shootdownId + ":" + pasid;
    }

    private void onCmdSyncCompleted(Decider d, String key, long nowNs) {
        Invalidation inv = invalidations.get(key);
        if (inv == null) {
            return;
        }
        long shootdownId = inv.shootdownId;
        if (inv.phase == InvalPhase.IOTLB_SYNC) {
            int dropped = (int) iotlb(inv.pasid).keySet().stream().filter(va -> Kernel.covers(inv.start, inv.end, va)).count();
            String command = inv.end == Kernel.TLB_FLUSH_ALL ? "TLBI_NH_ASID" : "TLBI_NH_VA";
            d.emit(new SecondaryTlbEvent.IotlbInvalidated(nodeId, inv.pasid, inv.start, inv.end, command, dropped, shootdownId));
            List<String> atcCommands = new ArrayList<>();
            for (Device dev : devices.values()) {
                if (dev.ats && dev.pasid == inv.pasid) {
                    atcCommands.add("ATC_INV sid=" + dev.id + " ssid=" + inv.pasid + " addr=" + Kernel.hex(inv.start)
                            + (inv.end == Kernel.TLB_FLUSH_ALL ? " size=all" : " size=" + Kernel.hex(inv.end - inv.start)));
                }
            }
            if (atcCommands.isEmpty()) {
                complete(d, shootdownId, inv);
            } else {
                atcCommands.add("CMD_SYNC");
                d.emit(new SecondaryTlbEvent.CommandsIssued(nodeId, inv.mm, inv.pasid, inv.start, inv.end, atcCommands,
                        shootdownId));
                d.timer(CMDQ_TIMER_PREFIX + key, nowNs + cmdqSyncNs);
            }
        } else {
            for (Device dev : devices.values()) {
                if (dev.ats && dev.pasid == inv.pasid) {
                    int dropped = (int) dev.atc.keySet().stream().filter(va -> Kernel.covers(inv.start, inv.end, va)).count();
                    d.emit(new SecondaryTlbEvent.AtcInvalidated(nodeId, dev.id, inv.pasid, inv.start, inv.end, dropped,
                            shootdownId));
                }
            }
            complete(d, shootdownId, inv);
        }
    }

    private void complete(Decider d, long shootdownId, Invalidation inv) {
        d.emit(new SecondaryTlbEvent.SecondaryTlbsInvalidated(NodeIds.COORDINATOR, nodeId, inv.mm, inv.pasid, inv.start,
                inv.end, shootdownId));
    }

    private TreeMap<Long, Entry> iotlb(int pasid) {
        return iotlb.computeIfAbsent(pasid, k -> new TreeMap<>());
    }

    @Override
    public void evolve(Event own) {
        if (own instanceof ControlEvent.RunStarted started) {
            lifecycle = lifecycle.transitionTo(Lifecycle.RUNNING, nodeId);
            cmdqSyncNs = started.scenario().timing().cmdqSyncNs();
            arm64 = "arm64".equals(started.scenario().arch());
            for (var spec : started.scenario().devices()) {
                if (NodeIds.iommu(spec.iommu()).equals(nodeId)) {
                    dmaPrograms.put(spec.id(), spec.dma());
                }
            }
        } else if (own instanceof ControlEvent.NodeQuiesced) {
            lifecycle = lifecycle.transitionTo(Lifecycle.QUIESCED, nodeId);
        } else if (own instanceof TraceEvent.PasidBound b) {
            devices.put(b.device(), new Device(b.device(), b.pasid(), b.mm(), b.ats(), dmaPrograms.get(b.device())));
        } else if (own instanceof TraceEvent.IotlbFilled f) {
            iotlb(f.pasid()).put(f.va(), new Entry(f.frame(), f.frameEpoch(), f.writable()));
        } else if (own instanceof TraceEvent.AtcFilled f) {
            devices.get(f.device()).atc.put(f.va(), new Entry(f.frame(), f.frameEpoch(), f.writable()));
        } else if (own instanceof TraceEvent.DmaCompleted c) {
            Device dev = devices.get(c.device());
            dev.wait = DeviceWait.READY;
            dev.cursor++;
        } else if (own instanceof TraceEvent.DmaAborted a) {
            Device dev = devices.get(a.device());
            dev.wait = DeviceWait.READY;
            dev.cursor++;
        } else if (own instanceof WalkEvent.PageWalkRequested w) {
            devices.get(w.stream()).wait = DeviceWait.WALK;
        } else if (own instanceof FaultEvent.DeviceFaultRaised f) {
            devices.get(f.device()).wait = DeviceWait.PRI;
        } else if (own instanceof SecondaryTlbEvent.CommandsIssued c) {
            if (c.commands().get(0).startsWith("TLBI")) {
                invalidations.put(invalidationKey(c.shootdownId(), c.pasid()),
                        new Invalidation(c.shootdownId(), c.mm(), c.pasid(), c.start(), c.end()));
            } else {
                invalidations.get(invalidationKey(c.shootdownId(), c.pasid())).phase = InvalPhase.ATC_SYNC;
            }
        } else if (own instanceof SecondaryTlbEvent.IotlbInvalidated i) {
            iotlb(i.pasid()).keySet().removeIf(va -> Kernel.covers(i.start(), i.end(), va));
        } else if (own instanceof SecondaryTlbEvent.AtcInvalidated a) {
            devices.get(a.device()).atc.keySet().removeIf(va -> Kernel.covers(a.start(), a.end(), va));
        } else if (own instanceof SecondaryTlbEvent.SecondaryTlbsInvalidated s) {
            invalidations.remove(invalidationKey(s.shootdownId(), s.pasid()));
        } else {
            throw new IllegalStateException(nodeId + ": cannot apply " + own.getClass().getSimpleName());
        }
    }
}
