package dev.shootdown.scenario;

import dev.shootdown.event.Access;
import dev.shootdown.event.NodeIds;
import java.util.ArrayList;
import java.util.List;

/**
 * What a run simulates: the machine (CPUs, IOMMUs, devices), the address spaces, the user tasks
 * and the device DMA, and when the run has seen enough. Pure data; the coordinator interprets it.
 *
 * <p>All times are simulated nanoseconds.
 */
public record Scenario(
        String name,
        String arch,
        String policy,
        int cpus,
        int iommus,
        List<MmSpec> mms,
        List<TaskSpec> tasks,
        List<DeviceSpec> devices,
        Timing timing,
        EndCondition end) {

    public Scenario {
        if (cpus <= 0 || iommus < 0) {
            throw new IllegalArgumentException("a scenario needs cpus > 0 and iommus >= 0");
        }
        mms = List.copyOf(mms);
        tasks = List.copyOf(tasks);
        devices = List.copyOf(devices);
    }

    /** Every node of the topology: the coordinator, then CPUs, then IOMMUs. */
    public List<String> nodeIds() {
        List<String> ids = new ArrayList<>();
        ids.add(NodeIds.COORDINATOR);
        for (int i = 0; i < cpus; i++) {
            ids.add(NodeIds.cpu(i));
        }
        for (int i = 0; i < iommus; i++) {
            ids.add(NodeIds.iommu(i));
        }
        return ids;
    }

    /** An address space and its mappings. */
    public record MmSpec(long mm, List<VmaSpec> vmas) {
        public MmSpec {
            vmas = List.copyOf(vmas);
        }
    }

    /** A VMA of {@code pages} pages; {@code populate} maps frames up front (MAP_POPULATE). */
    public record VmaSpec(long start, int pages, boolean writable, boolean populate) {}

    /** A user task (thread) of {@code mm} pinned to {@code cpu}, running {@code program}. */
    public record TaskSpec(int pid, long mm, int cpu, List<TaskOp> program) {
        public TaskSpec {
            program = List.copyOf(program);
        }
    }

    /** A device behind {@code iommu}, bound to {@code mm} with SVA under {@code pasid}. */
    public record DeviceSpec(String id, int iommu, int pasid, long mm, boolean ats, DmaProgram dma) {}

    /** The device's DMA: one access every {@code periodNs} over the pages, round robin, forever. */
    public record DmaProgram(long start, int pages, Access access, long periodNs) {}

    /** Model timing: a CPU's time per program step, the IOMMU's command-queue sync latency. */
    public record Timing(long cpuStepNs, long cmdqSyncNs) {}

    /**
     * The run ends once every task has finished and each device has had {@code deviceFaults}
     * page requests answered after the last munmap returned (proof it can no longer reach the
     * unmapped range).
     */
    public record EndCondition(int deviceFaults) {}
}
