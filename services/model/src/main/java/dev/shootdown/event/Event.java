package dev.shootdown.event;

import com.fasterxml.jackson.annotation.JsonSubTypes;
import com.fasterxml.jackson.annotation.JsonTypeInfo;

/**
 * Every event of a run. One sealed sub-interface per family (one Kafka topic each); records as
 * their members. Type names are stable strings, never class names: a rename must not break the
 * replay of an old log. {@code EventModelTest} checks that this list equals the permitted
 * subclasses.
 */
@JsonTypeInfo(use = JsonTypeInfo.Id.NAME, property = "type")
@JsonSubTypes({
    @JsonSubTypes.Type(value = IpiEvent.TaskScheduled.class, name = "task-scheduled"),
    @JsonSubTypes.Type(value = IpiEvent.FlushTlb.class, name = "flush-tlb"),
    @JsonSubTypes.Type(value = IpiEvent.TlbFlushed.class, name = "tlb-flushed"),
    @JsonSubTypes.Type(value = IpiEvent.Tlbi.class, name = "tlbi"),
    @JsonSubTypes.Type(value = IpiEvent.TlbiCompleted.class, name = "tlbi-completed"),
    @JsonSubTypes.Type(value = SecondaryTlbEvent.SvaBound.class, name = "sva-bound"),
    @JsonSubTypes.Type(value = SecondaryTlbEvent.SvaUnbound.class, name = "sva-unbound"),
    @JsonSubTypes.Type(value = SecondaryTlbEvent.SecondaryTlbHookCalled.class, name = "secondary-tlb-hook-called"),
    @JsonSubTypes.Type(value = SecondaryTlbEvent.InvalidateSecondaryTlbs.class, name = "invalidate-secondary-tlbs"),
    @JsonSubTypes.Type(value = SecondaryTlbEvent.CommandsIssued.class, name = "cmdq-issued"),
    @JsonSubTypes.Type(value = SecondaryTlbEvent.IotlbInvalidated.class, name = "iotlb-invalidated"),
    @JsonSubTypes.Type(value = SecondaryTlbEvent.AtcInvalidated.class, name = "atc-invalidated"),
    @JsonSubTypes.Type(value = SecondaryTlbEvent.SecondaryTlbsInvalidated.class, name = "secondary-tlbs-invalidated"),
    @JsonSubTypes.Type(value = WalkEvent.PageWalkRequested.class, name = "page-walk-requested"),
    @JsonSubTypes.Type(value = WalkEvent.PageWalkCompleted.class, name = "page-walk-completed"),
    @JsonSubTypes.Type(value = FaultEvent.PageFaultRaised.class, name = "page-fault-raised"),
    @JsonSubTypes.Type(value = FaultEvent.PageFaultHandled.class, name = "page-fault-handled"),
    @JsonSubTypes.Type(value = FaultEvent.DeviceFaultRaised.class, name = "device-fault-raised"),
    @JsonSubTypes.Type(value = FaultEvent.PageResponseSent.class, name = "page-response-sent"),
    @JsonSubTypes.Type(value = FaultEvent.KernelOops.class, name = "kernel-oops"),
    @JsonSubTypes.Type(value = FaultEvent.StallDetected.class, name = "stall-detected"),
    @JsonSubTypes.Type(value = SyscallEvent.Munmap.class, name = "munmap"),
    @JsonSubTypes.Type(value = SyscallEvent.MunmapReturned.class, name = "munmap-returned"),
    @JsonSubTypes.Type(value = SyscallEvent.TaskExited.class, name = "task-exited"),
    @JsonSubTypes.Type(value = SyscallEvent.Mprotect.class, name = "mprotect"),
    @JsonSubTypes.Type(value = SyscallEvent.MprotectReturned.class, name = "mprotect-returned"),
    @JsonSubTypes.Type(value = SyscallEvent.Madvise.class, name = "madvise"),
    @JsonSubTypes.Type(value = SyscallEvent.MadviseReturned.class, name = "madvise-returned"),
    @JsonSubTypes.Type(value = SyscallEvent.MemoryReclaim.class, name = "memory-reclaim"),
    @JsonSubTypes.Type(value = SyscallEvent.MemoryReclaimReturned.class, name = "memory-reclaim-returned"),
    @JsonSubTypes.Type(value = PageTableEvent.MmCreated.class, name = "mm-created"),
    @JsonSubTypes.Type(value = PageTableEvent.VmaMapped.class, name = "vma-mapped"),
    @JsonSubTypes.Type(value = PageTableEvent.VmaUnmapped.class, name = "vma-unmapped"),
    @JsonSubTypes.Type(value = PageTableEvent.VmaProtectionChanged.class, name = "vma-protection-changed"),
    @JsonSubTypes.Type(value = PageTableEvent.FrameAllocated.class, name = "frame-allocated"),
    @JsonSubTypes.Type(value = PageTableEvent.PteSet.class, name = "pte-set"),
    @JsonSubTypes.Type(value = PageTableEvent.PteCleared.class, name = "pte-cleared"),
    @JsonSubTypes.Type(value = PageTableEvent.PteYoungCleared.class, name = "pte-young-cleared"),
    @JsonSubTypes.Type(value = PageTableEvent.ReclaimPagesCalled.class, name = "reclaim-pages-called"),
    @JsonSubTypes.Type(value = PageTableEvent.MmuGatherStarted.class, name = "mmu-gather-started"),
    @JsonSubTypes.Type(value = PageTableEvent.MmuGatherFinished.class, name = "mmu-gather-finished"),
    @JsonSubTypes.Type(value = PageTableEvent.MmTlbGenIncremented.class, name = "mm-tlb-gen-incremented"),
    @JsonSubTypes.Type(value = PageTableEvent.FrameFreed.class, name = "frame-freed"),
    @JsonSubTypes.Type(value = PageTableEvent.PteProtectionChanged.class, name = "pte-protection-changed"),
    @JsonSubTypes.Type(value = PageTableEvent.TlbFlushStarted.class, name = "tlb-flush-started"),
    @JsonSubTypes.Type(value = PageTableEvent.TlbFlushFinished.class, name = "tlb-flush-finished"),
    @JsonSubTypes.Type(value = PageTableEvent.TlbBatchAddPending.class, name = "tlb-batch-add-pending"),
    @JsonSubTypes.Type(value = PageTableEvent.TlbBatchFlushStarted.class, name = "tlb-batch-flush-started"),
    @JsonSubTypes.Type(value = PageTableEvent.TlbBatchedPendingFlushed.class, name = "tlb-batched-pending-flushed"),
    @JsonSubTypes.Type(value = PageTableEvent.MemoryPressure.class, name = "memory-pressure"),
    @JsonSubTypes.Type(value = PageTableEvent.TlbFlushCalled.class, name = "tlb-flush-called"),
    @JsonSubTypes.Type(value = PageTableEvent.PageTableFreed.class, name = "page-table-freed"),
    @JsonSubTypes.Type(value = TraceEvent.MmSwitched.class, name = "mm-switched"),
    @JsonSubTypes.Type(value = TraceEvent.TaskStarted.class, name = "task-started"),
    @JsonSubTypes.Type(value = TraceEvent.TaskComputed.class, name = "task-computed"),
    @JsonSubTypes.Type(value = TraceEvent.TlbFilled.class, name = "tlb-filled"),
    @JsonSubTypes.Type(value = TraceEvent.MemoryAccessed.class, name = "memory-accessed"),
    @JsonSubTypes.Type(value = TraceEvent.PasidBound.class, name = "pasid-bound"),
    @JsonSubTypes.Type(value = TraceEvent.IotlbFilled.class, name = "iotlb-filled"),
    @JsonSubTypes.Type(value = TraceEvent.AtcFilled.class, name = "atc-filled"),
    @JsonSubTypes.Type(value = TraceEvent.DmaCompleted.class, name = "dma-completed"),
    @JsonSubTypes.Type(value = TraceEvent.DmaAborted.class, name = "dma-aborted"),
    @JsonSubTypes.Type(value = TraceEvent.TraceMarker.class, name = "trace-marker"),
    @JsonSubTypes.Type(value = ControlEvent.RunStarted.class, name = "run-started"),
    @JsonSubTypes.Type(value = ControlEvent.RunCompleted.class, name = "run-completed"),
    @JsonSubTypes.Type(value = ControlEvent.TraceImported.class, name = "trace-imported"),
    @JsonSubTypes.Type(value = ControlEvent.NodeQuiesced.class, name = "node-quiesced"),
    @JsonSubTypes.Type(value = ControlEvent.TimerFired.class, name = "timer-fired"),
    @JsonSubTypes.Type(value = InjectionEvent.FaultInjected.class, name = "fault-injected"),
})
public sealed interface Event
        permits IpiEvent, SecondaryTlbEvent, WalkEvent, FaultEvent, SyscallEvent, PageTableEvent,
                TraceEvent, ControlEvent, InjectionEvent {

    /** The family, hence the topic, this event travels on. */
    Family family();

    /** This event's type: what a dispatch {@code switch}es on (see {@link EventType}). */
    default EventType type() {
        return EventType.of(this);
    }
}
