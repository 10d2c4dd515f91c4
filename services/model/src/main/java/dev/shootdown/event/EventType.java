package dev.shootdown.event;

import java.util.HashMap;
import java.util.Locale;
import java.util.Map;

/**
 * Every event type, as a constant a {@code switch} expression can be exhaustive over: a node's
 * {@code onEvent} or {@code evolve}, or an audit check, dispatches with
 * {@code switch (event.type())} as an expression with no {@code default}, so adding a type here
 * fails the compilation of every dispatch that does not say what it does with it. (Java 17 has no
 * pattern {@code switch}; this is the closed set the compiler checks instead.)
 *
 * <p>A constant's name is its stable JSON type name ({@link Event}'s {@code @JsonSubTypes}) in
 * upper case with underscores: {@code FLUSH_TLB} is {@code "flush-tlb"}. {@code EventTypeTest}
 * holds the two lists equal. After a switch on {@link #of}, the cast to the constant's record class
 * cannot fail: the constant is looked up from the event's class.
 */
public enum EventType {
    TASK_SCHEDULED(IpiEvent.TaskScheduled.class),
    FLUSH_TLB(IpiEvent.FlushTlb.class),
    TLB_FLUSHED(IpiEvent.TlbFlushed.class),
    TLBI(IpiEvent.Tlbi.class),
    TLBI_COMPLETED(IpiEvent.TlbiCompleted.class),
    SVA_BOUND(SecondaryTlbEvent.SvaBound.class),
    SVA_UNBOUND(SecondaryTlbEvent.SvaUnbound.class),
    SECONDARY_TLB_HOOK_CALLED(SecondaryTlbEvent.SecondaryTlbHookCalled.class),
    INVALIDATE_SECONDARY_TLBS(SecondaryTlbEvent.InvalidateSecondaryTlbs.class),
    CMDQ_ISSUED(SecondaryTlbEvent.CommandsIssued.class),
    IOTLB_INVALIDATED(SecondaryTlbEvent.IotlbInvalidated.class),
    ATC_INVALIDATED(SecondaryTlbEvent.AtcInvalidated.class),
    SECONDARY_TLBS_INVALIDATED(SecondaryTlbEvent.SecondaryTlbsInvalidated.class),
    PAGE_WALK_REQUESTED(WalkEvent.PageWalkRequested.class),
    PAGE_WALK_COMPLETED(WalkEvent.PageWalkCompleted.class),
    PAGE_FAULT_RAISED(FaultEvent.PageFaultRaised.class),
    PAGE_FAULT_HANDLED(FaultEvent.PageFaultHandled.class),
    DEVICE_FAULT_RAISED(FaultEvent.DeviceFaultRaised.class),
    PAGE_RESPONSE_SENT(FaultEvent.PageResponseSent.class),
    KERNEL_OOPS(FaultEvent.KernelOops.class),
    STALL_DETECTED(FaultEvent.StallDetected.class),
    MUNMAP(SyscallEvent.Munmap.class),
    MUNMAP_RETURNED(SyscallEvent.MunmapReturned.class),
    TASK_EXITED(SyscallEvent.TaskExited.class),
    MPROTECT(SyscallEvent.Mprotect.class),
    MPROTECT_RETURNED(SyscallEvent.MprotectReturned.class),
    MADVISE(SyscallEvent.Madvise.class),
    MADVISE_RETURNED(SyscallEvent.MadviseReturned.class),
    MEMORY_RECLAIM(SyscallEvent.MemoryReclaim.class),
    MEMORY_RECLAIM_RETURNED(SyscallEvent.MemoryReclaimReturned.class),
    MM_CREATED(PageTableEvent.MmCreated.class),
    VMA_MAPPED(PageTableEvent.VmaMapped.class),
    VMA_UNMAPPED(PageTableEvent.VmaUnmapped.class),
    VMA_PROTECTION_CHANGED(PageTableEvent.VmaProtectionChanged.class),
    FRAME_ALLOCATED(PageTableEvent.FrameAllocated.class),
    PTE_SET(PageTableEvent.PteSet.class),
    PTE_CLEARED(PageTableEvent.PteCleared.class),
    PTE_YOUNG_CLEARED(PageTableEvent.PteYoungCleared.class),
    RECLAIM_PAGES_CALLED(PageTableEvent.ReclaimPagesCalled.class),
    MMU_GATHER_STARTED(PageTableEvent.MmuGatherStarted.class),
    MMU_GATHER_FINISHED(PageTableEvent.MmuGatherFinished.class),
    MM_TLB_GEN_INCREMENTED(PageTableEvent.MmTlbGenIncremented.class),
    FRAME_FREED(PageTableEvent.FrameFreed.class),
    PTE_PROTECTION_CHANGED(PageTableEvent.PteProtectionChanged.class),
    TLB_FLUSH_STARTED(PageTableEvent.TlbFlushStarted.class),
    TLB_FLUSH_FINISHED(PageTableEvent.TlbFlushFinished.class),
    TLB_BATCH_ADD_PENDING(PageTableEvent.TlbBatchAddPending.class),
    TLB_BATCH_FLUSH_STARTED(PageTableEvent.TlbBatchFlushStarted.class),
    TLB_BATCHED_PENDING_FLUSHED(PageTableEvent.TlbBatchedPendingFlushed.class),
    MEMORY_PRESSURE(PageTableEvent.MemoryPressure.class),
    TLB_FLUSH_CALLED(PageTableEvent.TlbFlushCalled.class),
    PAGE_TABLE_FREED(PageTableEvent.PageTableFreed.class),
    MM_SWITCHED(TraceEvent.MmSwitched.class),
    TASK_STARTED(TraceEvent.TaskStarted.class),
    TASK_COMPUTED(TraceEvent.TaskComputed.class),
    TLB_FILLED(TraceEvent.TlbFilled.class),
    MEMORY_ACCESSED(TraceEvent.MemoryAccessed.class),
    PASID_BOUND(TraceEvent.PasidBound.class),
    IOTLB_FILLED(TraceEvent.IotlbFilled.class),
    ATC_FILLED(TraceEvent.AtcFilled.class),
    DMA_COMPLETED(TraceEvent.DmaCompleted.class),
    DMA_ABORTED(TraceEvent.DmaAborted.class),
    TRACE_MARKER(TraceEvent.TraceMarker.class),
    RUN_STARTED(ControlEvent.RunStarted.class),
    RUN_COMPLETED(ControlEvent.RunCompleted.class),
    TRACE_IMPORTED(ControlEvent.TraceImported.class),
    NODE_QUIESCED(ControlEvent.NodeQuiesced.class),
    TIMER_FIRED(ControlEvent.TimerFired.class),
    FAULT_INJECTED(InjectionEvent.FaultInjected.class);

    private static final ClassValue<EventType> BY_CLASS = new ClassValue<>() {
        @Override
        protected EventType computeValue(Class<?> type) {
            for (EventType t : values()) {
                if (t.eventClass == type) {
                    return t;
                }
            }
            throw new IllegalArgumentException(type.getName() + " is not an event type");
        }
    };

    private static final Map<String, EventType> BY_NAME = new HashMap<>();

    static {
        for (EventType t : values()) {
            BY_NAME.put(t.typeName, t);
        }
    }

    private final Class<? extends Event> eventClass;
    private final String typeName;

    EventType(Class<? extends Event> eventClass) {
        this.eventClass = eventClass;
        this.typeName = name().toLowerCase(Locale.ROOT).replace('_', '-');
    }

    /** The type of {@code event}. */
    public static EventType of(Event event) {
        return BY_CLASS.get(event.getClass());
    }

    /** The type named {@code typeName} in the log ({@code "flush-tlb"}); null when there is none. */
    public static EventType named(String typeName) {
        return BY_NAME.get(typeName);
    }

    /** The record class of this type's events. */
    public Class<? extends Event> eventClass() {
        return eventClass;
    }

    /** The stable name the log writes in an event's {@code "type"} field ({@code "flush-tlb"}). */
    public String typeName() {
        return typeName;
    }
}
