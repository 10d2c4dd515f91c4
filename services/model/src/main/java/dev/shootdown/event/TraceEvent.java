package dev.shootdown.event;

import dev.shootdown.scenario.TaskOp;
import java.util.List;

/** Node-local facts: what each TLB, IOTLB and ATC was filled with, and every access made. */
public sealed interface TraceEvent extends Event {

    @Override
    default Family family() {
        return Family.TRACE;
    }

    /** switch_mm_irqs_off on {@code cpu}: loaded_mm is now {@code mm}, its ctx tlb_gen {@code localTlbGen}. */
    record MmSwitched(String cpu, long prevMm, long mm, long localTlbGen) implements TraceEvent {}

    /** Task {@code pid} of {@code mm} started running {@code program} on {@code cpu}. */
    record TaskStarted(String cpu, int pid, long mm, List<TaskOp> program)
            implements TraceEvent {
        public TaskStarted {
            program = List.copyOf(program);
        }
    }

    /** Task {@code pid} computes for {@code ns} without touching memory (a TaskOp.Compute step). */
    record TaskComputed(String cpu, int pid, long ns) implements TraceEvent {}

    /** The CPU's TLB cached {@code va} -> {@code frame} for {@code mm}. */
    record TlbFilled(String cpu, long mm, long va, long frame, long frameEpoch, boolean writable) implements TraceEvent {}

    /** A user access by task {@code pid}; {@code tlbHit} false means it followed a fresh walk. */
    record MemoryAccessed(String cpu, int pid, long mm, long va, long frame, long frameEpoch, Access access, boolean tlbHit)
            implements TraceEvent {}

    /** The IOMMU installed the PASID table entry pointing {@code pasid} at {@code mm}'s page tables. */
    record PasidBound(String iommu, String device, int pasid, long mm, boolean ats) implements TraceEvent {}

    /** The IOMMU's IOTLB cached {@code va} -> {@code frame} under {@code pasid}. */
    record IotlbFilled(String iommu, int pasid, long va, long frame, long frameEpoch, boolean writable) implements TraceEvent {}

    /** The device's ATC cached the translation an ATS request returned. */
    record AtcFilled(String iommu, String device, int pasid, long va, long frame, long frameEpoch, boolean writable)
            implements TraceEvent {}

    /** A DMA by {@code device} reached {@code frame}, translated by {@code source}. */
    record DmaCompleted(
            String iommu, String device, int pasid, long va, long frame, long frameEpoch, Access access, TranslationSource source)
            implements TraceEvent {}

    /** A DMA failed: its page request was answered INVALID. */
    record DmaAborted(String iommu, String device, int pasid, long va, Access access) implements TraceEvent {}

    /**
     * A task wrote {@code text} to trace_marker (tracing_mark_write in a captured trace): the
     * workload's own note of where a system call starts and returns, imported as it was written.
     */
    record TraceMarker(String cpu, int pid, String comm, String text) implements TraceEvent {}

    /** Which cache translated a DMA. */
    enum TranslationSource {
        ATC,
        IOTLB,
        WALK
    }
}
