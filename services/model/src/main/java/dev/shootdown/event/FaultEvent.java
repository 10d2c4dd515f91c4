package dev.shootdown.event;

import java.util.List;

/** Page faults from CPUs, device faults through the IOMMU's page-request queue, and answers. */
public sealed interface FaultEvent extends Event {

    @Override
    default Family family() {
        return Family.FAULT;
    }

    /** A CPU's user access faulted (exc_page_fault); the kernel runs handle_mm_fault. */
    record PageFaultRaised(String target, String cpu, int pid, long mm, long va, Access access)
            implements FaultEvent, Directed {}

    /** The fault handler's verdict for the faulting task. */
    record PageFaultHandled(String target, int pid, long mm, long va, FaultResult result)
            implements FaultEvent, Directed {}

    /** A PRI page request from {@code device}, queued for iommu_queue_iopf. */
    record DeviceFaultRaised(String target, String iommu, String device, int pasid, long mm, long va, Access access)
            implements FaultEvent, Directed {}

    /** iopf_group_response: the page response the device waits for before it retries. */
    record PageResponseSent(String target, String device, int pasid, long va, PageResponseCode code)
            implements FaultEvent, Directed {}

    /**
     * A simulated kernel oops: {@code function} dereferenced a bad pointer on {@code cpu} in task
     * {@code comm}. The faulting path stops here (the task is killed); the run goes on.
     */
    record KernelOops(String cpu, String comm, int pid, String function, String caller, long address, String message,
            long shootdownId) implements FaultEvent, InShootdown {}

    /**
     * The kernel's watchdog: shootdown {@code shootdownId}, run by {@code comm} on {@code cpu}, made
     * no progress since {@code sinceNs} for the run's stall window ({@code stallWindowNs}): it
     * waits in {@code function} (csd_lock_wait for an IPI's flush_tlb_func, dsb(ish) for a TLBI, the
     * secondary-TLB hook for an IOMMU's invalidation) for {@code waitingFor} (a CPU, or an IOMMU
     * and PASID). As CONFIG_CSD_LOCK_WAIT_DEBUG's "csd: Detected non-responsive CSD lock" and the
     * hung-task detector report such waits, the run ends here with what is stuck.
     */
    record StallDetected(String cpu, String comm, long shootdownId, String function, List<String> waitingFor, long sinceNs,
            long stallWindowNs) implements FaultEvent, InShootdown {
        public StallDetected {
            waitingFor = List.copyOf(waitingFor);
        }
    }

    /** What handle_mm_fault meant for a CPU's faulting access. */
    enum FaultResult {
        /** The fault was resolved (or was spurious): retry the instruction. */
        RETRY,
        /** No VMA or no permission: the task gets SIGSEGV. */
        SIGSEGV,
        /** The task died in the kernel while handling the fault (an oops, or the OOM killer). */
        KILLED
    }

    /** The PCIe page response code (IOMMU_PAGE_RESP_SUCCESS / _INVALID). */
    enum PageResponseCode {
        SUCCESS,
        INVALID
    }
}
