package dev.shootdown.iommu;

import dev.shootdown.core.Decider;
import dev.shootdown.core.Decision;
import dev.shootdown.core.Lifecycle;
import dev.shootdown.core.NodeStateMachine;
import dev.shootdown.core.Reaction;
import dev.shootdown.core.TimerRequest;
import dev.shootdown.event.Access;
import dev.shootdown.event.ControlEvent;
import dev.shootdown.event.Event;
import dev.shootdown.event.EventType;
import dev.shootdown.event.FaultEvent;
import dev.shootdown.event.InjectionEvent;
import dev.shootdown.event.Kernel;
import dev.shootdown.event.NodeIds;
import dev.shootdown.event.SecondaryTlbEvent;
import dev.shootdown.event.TraceEvent.TranslationSource;
import dev.shootdown.event.TraceEvent;
import dev.shootdown.event.WalkEvent;
import dev.shootdown.fault.FaultKind;
import dev.shootdown.fault.FaultMatcher;
import dev.shootdown.fault.FaultSpec;
import dev.shootdown.scenario.Arch;
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
 *   (request) --ATC_INV+CMD_SYNC issued (fault atc-before-iotlb)--> ATC_FIRST --sync done, TLBI+CMD_SYNC-->
 *             IOTLB_LAST --sync done--> (completed)
 * </pre>
 *
 * <p>Model faults of the run's fault plan that happen here, as the kernel would meet them:
 * {@code dropped-iotlb-invalidation} (the TLBI is dropped, its CMD_SYNC still completes),
 * {@code late-cmd-sync}, {@code atc-before-iotlb}, {@code fast-device-retry} and
 * {@code prq-overflow}; each is a {@code fault-injected} event in the log.
 *
 * <p>Thread: the host's node thread. Time: simulated nanoseconds.
 */
public final class Iommu implements NodeStateMachine {

    static final String DMA_TIMER_PREFIX = "dma:";
    static final String CMDQ_TIMER_PREFIX = "cmdq:";
    static final String RETRY_TIMER_PREFIX = "retry:";

    private final String nodeId;
    private Lifecycle lifecycle = Lifecycle.CREATED;
    private long cmdqSyncNs = 500;
    /**
     * The CMD_SYNCs every invalidation waits for before it is answered: two when each PASID the
     * run binds on this IOMMU has an ATS device (the TLBI's sync, then the ATC_INVs'; the first
     * completion sends the mm nothing), else one. The mm subscribes an IOMMU only for the PASIDs
     * of the devices bound there (mmu_notifier, from SvaBound), so no invalidation comes for
     * another; set from the run's scenario, never changed.
     */
    private int syncsPerInvalidation = 1;
    /** The IOMMU follows its architecture's TLB rules (see {@link #dmaAccess}). */
    private boolean arm64;
    private final Map<Integer, TreeMap<Long, Entry>> iotlb = new HashMap<>();
    private final Map<String, Device> devices = new LinkedHashMap<>();
    /** Invalidations in flight, by {@link #invalidationKey}: one per (shootdown, PASID). */
    private final Map<String, Invalidation> invalidations = new LinkedHashMap<>();
    /** The DMA each device of this IOMMU will do once bound, from the scenario. */
    private final Map<String, DmaProgram> dmaPrograms = new HashMap<>();
    /** The model faults of the run's plan that can hit this IOMMU. */
    private FaultMatcher faults = FaultMatcher.NONE;

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
            if (dev.wait == Device.Wait.READY) {
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
        boolean handled = switch (input.type()) {
            case RUN_STARTED -> {
                ControlEvent.RunStarted started = (ControlEvent.RunStarted) input;
                evolve(started);
                yield true;
            }
            case RUN_COMPLETED -> {
                for (String device : devices.keySet()) {
                    d.cancelTimer(DMA_TIMER_PREFIX + device);
                }
                d.emit(new ControlEvent.NodeQuiesced(NodeIds.CONTROL, nodeId));
                yield true;
            }
            case SVA_BOUND -> {
                SecondaryTlbEvent.SvaBound bound = (SecondaryTlbEvent.SvaBound) input;
                d.emit(new TraceEvent.PasidBound(nodeId, bound.device(), bound.pasid(), bound.mm(), bound.ats()));
                DmaProgram dma = dmaPrograms.get(bound.device());
                if (dma != null) {
                    d.timer(DMA_TIMER_PREFIX + bound.device(), nowNs + dma.periodNs());
                }
                yield true;
            }
            case INVALIDATE_SECONDARY_TLBS -> {
                SecondaryTlbEvent.InvalidateSecondaryTlbs request = (SecondaryTlbEvent.InvalidateSecondaryTlbs) input;
                armSmmuMmArchInvalidateSecondaryTlbs(d, request, nowNs);
                yield true;
            }
            case TIMER_FIRED -> {
                ControlEvent.TimerFired timer = (ControlEvent.TimerFired) input;
                onTimer(d, timer.timer(), nowNs);
                yield true;
            }
            case PAGE_WALK_COMPLETED -> {
                WalkEvent.PageWalkCompleted walk = (WalkEvent.PageWalkCompleted) input;
                onPageWalkCompleted(d, walk, nowNs);
                yield true;
            }
            case PAGE_RESPONSE_SENT -> {
                FaultEvent.PageResponseSent response = (FaultEvent.PageResponseSent) input;
                onPageResponse(d, response, nowNs);
                yield true;
            }
            // not an IOMMU's input: other nodes' requests and facts
            case TASK_SCHEDULED, FLUSH_TLB, TLB_FLUSHED, TLBI, TLBI_COMPLETED, SVA_UNBOUND,
                    SECONDARY_TLB_HOOK_CALLED, CMDQ_ISSUED, IOTLB_INVALIDATED, ATC_INVALIDATED,
                    SECONDARY_TLBS_INVALIDATED, PAGE_WALK_REQUESTED, PAGE_FAULT_RAISED, PAGE_FAULT_HANDLED,
                    DEVICE_FAULT_RAISED, KERNEL_OOPS, STALL_DETECTED, MUNMAP, MUNMAP_RETURNED, TASK_EXITED,
                    MPROTECT, MPROTECT_RETURNED, MADVISE, MADVISE_RETURNED, MEMORY_RECLAIM,
                    MEMORY_RECLAIM_RETURNED, MM_CREATED, VMA_MAPPED, VMA_UNMAPPED, VMA_PROTECTION_CHANGED,
                    FRAME_ALLOCATED, PTE_SET, PTE_CLEARED, PTE_YOUNG_CLEARED, RECLAIM_PAGES_CALLED,
                    MMU_GATHER_STARTED, MMU_GATHER_FINISHED, MM_TLB_GEN_INCREMENTED, FRAME_FREED,
                    PTE_PROTECTION_CHANGED, TLB_FLUSH_STARTED, TLB_FLUSH_FINISHED, TLB_BATCH_ADD_PENDING,
                    TLB_BATCH_FLUSH_STARTED, TLB_BATCHED_PENDING_FLUSHED, MEMORY_PRESSURE, TLB_FLUSH_CALLED,
                    PAGE_TABLE_FREED, MM_SWITCHED, TASK_STARTED, TASK_COMPUTED, TLB_FILLED, MEMORY_ACCESSED,
                    PASID_BOUND, IOTLB_FILLED, ATC_FILLED, DMA_COMPLETED, DMA_ABORTED, TRACE_MARKER,
                    TRACE_IMPORTED, NODE_QUIESCED, FAULT_INJECTED -> false;
        };
        return d.decision();
    }

    private void onTimer(Decider d, String timer, long nowNs) {
        if (timer.startsWith(DMA_TIMER_PREFIX)) {
            Device dev = devices.get(timer.substring(DMA_TIMER_PREFIX.length()));
            if (dev != null && dev.wait == Device.Wait.READY) {
                dmaAccess(d, dev, nowNs);
            }
        } else if (timer.startsWith(CMDQ_TIMER_PREFIX)) {
            onCmdSyncCompleted(d, timer.substring(CMDQ_TIMER_PREFIX.length()), nowNs);
        } else if (timer.startsWith(RETRY_TIMER_PREFIX)) {
            Device dev = devices.get(timer.substring(RETRY_TIMER_PREFIX.length()));
            if (dev != null && dev.wait == Device.Wait.PRI) {
                dmaAccess(d, dev, nowNs); // the fast device's retry, its page request still unanswered
            }
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
            raiseDeviceFault(d, dev, va, access, nowNs);
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
        if (dev == null || dev.wait != Device.Wait.WALK || dev.nextVa() != walk.va()) {
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
            raiseDeviceFault(d, dev, walk.va(), access, nowNs);
        }
    }

    /**
     * A page request into the PRI queue (the device stalls until its response), unless the plan
     * says otherwise:
     *
     * <ul>
     *   <li>{@code prq-overflow}: the queue already holds {@code depth} requests (the devices of
     *       this IOMMU waiting for a response). The request is not queued, so the kernel never
     *       sees it (drivers/iommu/intel/prq.c: prq_event_thread finds DMA_PRS_PRO, logs "PRQ
     *       overflow detected" and iopf_queue_discard_partial drops partial groups;
     *       arm-smmu-v3.c: "PRIQ overflow detected -- requests lost"). The hardware answers it
     *       itself and the device retries the access after its period.
     *   <li>{@code fast-device-retry}: the request is queued, but the device retries after
     *       {@code retryNs} without waiting for the response (it ignores a response that finds
     *       it no longer waiting).
     * </ul>
     */
    private void raiseDeviceFault(Decider d, Device dev, long va, Access access, long nowNs) {
        int queued = (int) devices.values().stream().filter(other -> other != dev && other.wait == Device.Wait.PRI).count();
        FaultSpec overflow = faults.maybeInject(FaultKind.PRQ_OVERFLOW, nowNs, spec -> queued >= spec.depth());
        if (overflow != null) {
            d.emit(injected(FaultKind.PRQ_OVERFLOW, overflow, dev.id, "the page request of " + dev.id + " pasid " + dev.pasid
                    + " for " + Kernel.hex(va) + " overflowed the page-request queue (" + queued + " queued, depth "
                    + overflow.depth() + "): the kernel never sees it; the device retries"));
            d.timer(DMA_TIMER_PREFIX + dev.id, nowNs + dev.dma.periodNs());
            return;
        }
        d.emit(new FaultEvent.DeviceFaultRaised(NodeIds.COORDINATOR, nodeId, dev.id, dev.pasid, dev.mm, va, access));
        FaultSpec fast = faults.maybeInject(FaultKind.FAST_DEVICE_RETRY, nowNs);
        if (fast != null) {
            d.emit(injected(FaultKind.FAST_DEVICE_RETRY, fast, dev.id, dev.id + " will retry its " + access.name()
                    .toLowerCase(java.util.Locale.ROOT) + " of " + Kernel.hex(va) + " after " + fast.retryNs()
                    + " ns without waiting for the page response"));
            d.timer(RETRY_TIMER_PREFIX + dev.id, nowNs + fast.retryNs());
        }
    }

    private InjectionEvent.FaultInjected injected(FaultKind kind, FaultSpec spec, String target, String detail) {
        return new InjectionEvent.FaultInjected(kind.kebab(), kind.layer().label(), nodeId, target,
                "faults[" + faults.indexOf(spec) + "]: " + detail, faults.indexOf(spec));
    }

    private void onPageResponse(Decider d, FaultEvent.PageResponseSent response, long nowNs) {
        Device dev = devices.get(response.device());
        if (dev == null || dev.wait != Device.Wait.PRI || dev.nextVa() != response.va()) {
            return;
        }
        if (faults.armed()) {
            d.cancelTimer(RETRY_TIMER_PREFIX + dev.id);
        }
        if (response.code() == FaultEvent.PageResponseCode.SUCCESS) {
            dmaAccess(d, dev, nowNs); // the device retries the same access
        } else {
            d.emit(new TraceEvent.DmaAborted(nodeId, dev.id, dev.pasid, response.va(), dev.dma.access(dev.cursor)));
            d.timer(DMA_TIMER_PREFIX + dev.id, nowNs + dev.dma.periodNs());
        }
    }

    /**
     * An invalidation is answered after its CMD_SYNC: it only writes commands to the queue and
     * arms the sync's timer, {@code cmdqSyncNs} later or more ({@link #issue}); where every PASID
     * has an ATS device, after the ATC_INVs' CMD_SYNC too, which is issued only once the TLBI's
     * completed (or, with {@code atc-before-iotlb}, before it): twice that. Anything else:
     * anything, at once.
     */
    @Override
    public Reaction reactionTo(EventType type) {
        return type == EventType.INVALIDATE_SECONDARY_TLBS ? Reaction.timersAfter(syncsPerInvalidation * cmdqSyncNs) : Reaction.ANY;
    }

    /**
     * arm_smmu_mm_arch_invalidate_secondary_tlbs: TLBI_NH_VA over the range (TLBI_NH_ASID for
     * the whole address space), then CMD_SYNC; the ATCs follow once the sync completes
     * (drivers/iommu/arm/arm-smmu-v3/arm-smmu-v3.c: arm_smmu_atc_inv_domain only after the TLBI's
     * CMD_SYNC, so a device cannot refill its ATC from an IOTLB entry about to go).
     *
     * <p>With the fault {@code atc-before-iotlb} the ATC_INVs and their CMD_SYNC go first and the
     * TLBI after: a device translating in between refills its ATC from the stale IOTLB entry.
     * With {@code dropped-iotlb-invalidation} the IOMMU drops the TLBI (an erratum) but completes
     * its CMD_SYNC: the kernel sees a successful invalidation, the IOTLB keeps its entries.
     */
    private void armSmmuMmArchInvalidateSecondaryTlbs(Decider d, SecondaryTlbEvent.InvalidateSecondaryTlbs request, long nowNs) {
        // size = end - start; a size of 0 (an empty range, or (0, -1UL) whose size is ULONG_MAX)
        // invalidates the whole ASID (arm_smmu_tlb_inv_asid) and the whole ATC
        // (arm_smmu_atc_inv_domain with size 0): drivers/iommu/arm/arm-smmu-v3/arm-smmu-v3-sva.c
        // arm_smmu_mm_arch_invalidate_secondary_tlbs, v6.6, from "arm64/smmu: Use TLBI ASID when
        // invalidating entire range" (the series' patch 2/5).
        SecondaryTlbEvent.InvalidateSecondaryTlbs r = request.end() == request.start()
                ? new SecondaryTlbEvent.InvalidateSecondaryTlbs(request.target(), request.mm(), request.pasid(), 0,
                        Kernel.TLB_FLUSH_ALL, request.shootdownId())
                : request;
        String target = "shootdown " + r.shootdownId() + " pasid " + r.pasid();
        FaultSpec atcFirst = atcCommands(r.pasid(), r.start(), r.end()).isEmpty() ? null
                : faults.maybeInject(FaultKind.ATC_BEFORE_IOTLB, nowNs);
        FaultSpec dropped = faults.maybeInject(FaultKind.DROPPED_IOTLB_INVALIDATION, nowNs);
        if (atcFirst != null) {
            d.emit(injected(FaultKind.ATC_BEFORE_IOTLB, atcFirst, target, "ATC_INV issued before the TLBI of shootdown "
                    + r.shootdownId() + " for pasid " + r.pasid() + " completed"));
            List<String> commands = atcCommands(r.pasid(), r.start(), r.end());
            commands.add("CMD_SYNC");
            issue(d, new SecondaryTlbEvent.CommandsIssued(nodeId, r.mm(), r.pasid(), r.start(), r.end(), commands,
                    r.shootdownId()), nowNs);
        } else {
            issue(d, new SecondaryTlbEvent.CommandsIssued(nodeId, r.mm(), r.pasid(), r.start(), r.end(),
                    List.of(tlbi(r.pasid(), r.start(), r.end()), "CMD_SYNC"), r.shootdownId()), nowNs);
        }
        if (dropped != null) {
            d.emit(injected(FaultKind.DROPPED_IOTLB_INVALIDATION, dropped, target, "the IOMMU dropped "
                    + tlbi(r.pasid(), r.start(), r.end()) + " of shootdown " + r.shootdownId()
                    + " and completes its CMD_SYNC anyway: the IOTLB keeps the range"));
        }
    }

    private static String tlbi(int pasid, long start, long end) {
        return end == Kernel.TLB_FLUSH_ALL
                ? "TLBI_NH_ASID asid=" + pasid
                : "TLBI_NH_VA asid=" + pasid + " addr=" + Kernel.hex(start) + " size=" + Kernel.hex(end - start);
    }

    /** One ATC_INV per ATS device of {@code pasid} (mutable, so a CMD_SYNC can follow). */
    private List<String> atcCommands(int pasid, long start, long end) {
        List<String> atcCommands = new ArrayList<>();
        for (Device dev : devices.values()) {
            if (dev.ats && dev.pasid == pasid) {
                atcCommands.add("ATC_INV sid=" + dev.id + " ssid=" + pasid + " addr=" + Kernel.hex(start)
                        + (end == Kernel.TLB_FLUSH_ALL ? " size=all" : " size=" + Kernel.hex(end - start)));
            }
        }
        return atcCommands;
    }

    /**
     * Writes commands ending in CMD_SYNC to the queue and waits for the sync: {@code cmdqSyncNs},
     * plus {@code delayNs} when the fault {@code late-cmd-sync} hits it. The kernel polls for the
     * sync (arm_smmu_cmdq_poll_until_sync) and simply waits longer; the model's delays stay far
     * below the driver's ARM_SMMU_POLL_TIMEOUT_US, after which it would give up.
     */
    private void issue(Decider d, SecondaryTlbEvent.CommandsIssued c, long nowNs) {
        d.emit(c);
        long syncNs = cmdqSyncNs;
        FaultSpec late = faults.maybeInject(FaultKind.LATE_CMD_SYNC, nowNs);
        if (late != null) {
            syncNs += late.delayNs();
            d.emit(injected(FaultKind.LATE_CMD_SYNC, late, "shootdown " + c.shootdownId() + " pasid " + c.pasid(),
                    "the CMD_SYNC after " + c.commands().get(0) + " completes " + late.delayNs() + " ns late"));
        }
        d.timer(CMDQ_TIMER_PREFIX + invalidationKey(c.shootdownId(), c.pasid()), nowNs + syncNs);
    }

    static String invalidationKey(long shootdownId, int pasid) {
        return shootdownId + ":" + pasid;
    }

    private void onCmdSyncCompleted(Decider d, String key, long nowNs) {
        Invalidation inv = invalidations.get(key);
        if (inv == null) {
            return;
        }
        switch (inv.phase) {
            case IOTLB_SYNC -> {
                iotlbSynced(d, inv);
                List<String> atcCommands = atcCommands(inv.pasid, inv.start, inv.end);
                if (atcCommands.isEmpty()) {
                    complete(d, inv.shootdownId, inv);
                } else {
                    atcCommands.add("CMD_SYNC");
                    issue(d, new SecondaryTlbEvent.CommandsIssued(nodeId, inv.mm, inv.pasid, inv.start, inv.end, atcCommands,
                            inv.shootdownId), nowNs);
                }
            }
            case ATC_SYNC -> {
                atcSynced(d, inv);
                complete(d, inv.shootdownId, inv);
            }
            case ATC_FIRST -> {
                atcSynced(d, inv);
                issue(d, new SecondaryTlbEvent.CommandsIssued(nodeId, inv.mm, inv.pasid, inv.start, inv.end,
                        List.of(tlbi(inv.pasid, inv.start, inv.end), "CMD_SYNC"), inv.shootdownId), nowNs);
            }
            case IOTLB_LAST -> {
                iotlbSynced(d, inv);
                complete(d, inv.shootdownId, inv);
            }
        }
    }

    /** The TLBI's CMD_SYNC completed: the IOTLB entries of the range are gone, unless the TLBI was dropped. */
    private void iotlbSynced(Decider d, Invalidation inv) {
        if (inv.tlbiDropped) {
            return;
        }
        int dropped = (int) iotlb(inv.pasid).keySet().stream().filter(va -> Kernel.covers(inv.start, inv.end, va)).count();
        String command = inv.end == Kernel.TLB_FLUSH_ALL ? "TLBI_NH_ASID" : "TLBI_NH_VA";
        d.emit(new SecondaryTlbEvent.IotlbInvalidated(nodeId, inv.pasid, inv.start, inv.end, command, dropped, inv.shootdownId));
    }

    private void atcSynced(Decider d, Invalidation inv) {
        for (Device dev : devices.values()) {
            if (dev.ats && dev.pasid == inv.pasid) {
                int dropped = (int) dev.atc.keySet().stream().filter(va -> Kernel.covers(inv.start, inv.end, va)).count();
                d.emit(new SecondaryTlbEvent.AtcInvalidated(nodeId, dev.id, inv.pasid, inv.start, inv.end, dropped,
                        inv.shootdownId));
            }
        }
    }

    private void complete(Decider d, long shootdownId, Invalidation inv) {
        d.emit(new SecondaryTlbEvent.SecondaryTlbsInvalidated(NodeIds.COORDINATOR, nodeId, inv.mm, inv.pasid, inv.start,
                inv.end, shootdownId));
    }

    private TreeMap<Long, Entry> iotlb(int pasid) {
        return iotlb.computeIfAbsent(pasid, k -> new TreeMap<>());
    }

    /** What an injected fault changes here: a dropped TLBI marks its invalidation; an overflowed request frees its device. */
    private void evolveFault(InjectionEvent.FaultInjected f) {
        if (f.fault().equals(FaultKind.DROPPED_IOTLB_INVALIDATION.kebab())) {
            String[] words = f.target().split(" "); // "shootdown S pasid P"
            invalidations.get(invalidationKey(Long.parseLong(words[1]), Integer.parseInt(words[3]))).tlbiDropped = true;
        } else if (f.fault().equals(FaultKind.PRQ_OVERFLOW.kebab())) {
            devices.get(f.target()).wait = Device.Wait.READY; // the hardware's own response: the device will retry
        }
    }

    @Override
    public void evolve(Event own) {
        boolean applied = switch (own.type()) {
            case RUN_STARTED -> {
                ControlEvent.RunStarted started = (ControlEvent.RunStarted) own;
                lifecycle = lifecycle.transitionTo(Lifecycle.RUNNING, nodeId);
                cmdqSyncNs = started.scenario().timing().cmdqSyncNs();
                arm64 = started.scenario().arch() == Arch.ARM64;
                faults = started.scenario().faults().matcherFor(nodeId, started.seed());
                Map<Integer, Boolean> pasidHasAts = new TreeMap<>();
                for (var spec : started.scenario().devices()) {
                    if (NodeIds.iommu(spec.iommu()).equals(nodeId)) {
                        dmaPrograms.put(spec.id(), spec.dma());
                        pasidHasAts.merge(spec.pasid(), spec.ats(), Boolean::logicalOr);
                    }
                }
                syncsPerInvalidation = !pasidHasAts.isEmpty() && !pasidHasAts.containsValue(false) ? 2 : 1;
                yield true;
            }
            case NODE_QUIESCED -> {
                lifecycle = lifecycle.transitionTo(Lifecycle.QUIESCED, nodeId);
                yield true;
            }
            case PASID_BOUND -> {
                TraceEvent.PasidBound b = (TraceEvent.PasidBound) own;
                devices.put(b.device(), new Device(b.device(), b.pasid(), b.mm(), b.ats(), dmaPrograms.get(b.device())));
                yield true;
            }
            case IOTLB_FILLED -> {
                TraceEvent.IotlbFilled f = (TraceEvent.IotlbFilled) own;
                iotlb(f.pasid()).put(f.va(), new Entry(f.frame(), f.frameEpoch(), f.writable()));
                yield true;
            }
            case ATC_FILLED -> {
                TraceEvent.AtcFilled f = (TraceEvent.AtcFilled) own;
                devices.get(f.device()).atc.put(f.va(), new Entry(f.frame(), f.frameEpoch(), f.writable()));
                yield true;
            }
            case DMA_COMPLETED -> {
                devices.get(((TraceEvent.DmaCompleted) own).device()).accessDone();
                yield true;
            }
            case DMA_ABORTED -> {
                devices.get(((TraceEvent.DmaAborted) own).device()).accessDone();
                yield true;
            }
            case PAGE_WALK_REQUESTED -> {
                WalkEvent.PageWalkRequested w = (WalkEvent.PageWalkRequested) own;
                devices.get(w.stream()).wait = Device.Wait.WALK;
                yield true;
            }
            case DEVICE_FAULT_RAISED -> {
                FaultEvent.DeviceFaultRaised f = (FaultEvent.DeviceFaultRaised) own;
                devices.get(f.device()).wait = Device.Wait.PRI;
                yield true;
            }
            case CMDQ_ISSUED -> {
                SecondaryTlbEvent.CommandsIssued c = (SecondaryTlbEvent.CommandsIssued) own;
                String key = invalidationKey(c.shootdownId(), c.pasid());
                Invalidation inv = invalidations.get(key);
                boolean tlbi = c.commands().get(0).startsWith("TLBI");
                if (inv == null) {
                    inv = new Invalidation(c.shootdownId(), c.mm(), c.pasid(), c.start(), c.end());
                    inv.phase = tlbi ? Invalidation.Phase.IOTLB_SYNC : Invalidation.Phase.ATC_FIRST;
                    invalidations.put(key, inv);
                } else {
                    inv.phase = tlbi ? Invalidation.Phase.IOTLB_LAST : Invalidation.Phase.ATC_SYNC;
                }
                yield true;
            }
            case IOTLB_INVALIDATED -> {
                SecondaryTlbEvent.IotlbInvalidated i = (SecondaryTlbEvent.IotlbInvalidated) own;
                iotlb(i.pasid()).keySet().removeIf(va -> Kernel.covers(i.start(), i.end(), va));
                yield true;
            }
            case ATC_INVALIDATED -> {
                SecondaryTlbEvent.AtcInvalidated a = (SecondaryTlbEvent.AtcInvalidated) own;
                devices.get(a.device()).atc.keySet().removeIf(va -> Kernel.covers(a.start(), a.end(), va));
                yield true;
            }
            case SECONDARY_TLBS_INVALIDATED -> {
                SecondaryTlbEvent.SecondaryTlbsInvalidated s = (SecondaryTlbEvent.SecondaryTlbsInvalidated) own;
                invalidations.remove(invalidationKey(s.shootdownId(), s.pasid()));
                yield true;
            }
            case FAULT_INJECTED -> {
                InjectionEvent.FaultInjected f = (InjectionEvent.FaultInjected) own;
                evolveFault(f);
                yield true;
            }
            // never an IOMMU's own event, nor an input it keeps
            case TASK_SCHEDULED, FLUSH_TLB, TLB_FLUSHED, TLBI, TLBI_COMPLETED, SVA_BOUND, SVA_UNBOUND,
                    SECONDARY_TLB_HOOK_CALLED, INVALIDATE_SECONDARY_TLBS, PAGE_WALK_COMPLETED,
                    PAGE_FAULT_RAISED, PAGE_FAULT_HANDLED, PAGE_RESPONSE_SENT, KERNEL_OOPS, STALL_DETECTED,
                    MUNMAP, MUNMAP_RETURNED, TASK_EXITED, MPROTECT, MPROTECT_RETURNED, MADVISE,
                    MADVISE_RETURNED, MEMORY_RECLAIM, MEMORY_RECLAIM_RETURNED, MM_CREATED, VMA_MAPPED,
                    VMA_UNMAPPED, VMA_PROTECTION_CHANGED, FRAME_ALLOCATED, PTE_SET, PTE_CLEARED,
                    PTE_YOUNG_CLEARED, RECLAIM_PAGES_CALLED, MMU_GATHER_STARTED, MMU_GATHER_FINISHED,
                    MM_TLB_GEN_INCREMENTED, FRAME_FREED, PTE_PROTECTION_CHANGED, TLB_FLUSH_STARTED,
                    TLB_FLUSH_FINISHED, TLB_BATCH_ADD_PENDING, TLB_BATCH_FLUSH_STARTED,
                    TLB_BATCHED_PENDING_FLUSHED, MEMORY_PRESSURE, TLB_FLUSH_CALLED, PAGE_TABLE_FREED,
                    MM_SWITCHED, TASK_STARTED, TASK_COMPUTED, TLB_FILLED, MEMORY_ACCESSED, TRACE_MARKER,
                    RUN_COMPLETED, TRACE_IMPORTED, TIMER_FIRED -> false;
        };
        if (!applied) {
            throw new IllegalStateException(nodeId + ": cannot apply " + own.getClass().getSimpleName());
        }
    }
}
