package dev.shootdown.scenario;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonProperty;
import dev.shootdown.event.Access;
import dev.shootdown.event.Kernel;
import dev.shootdown.event.NodeIds;
import dev.shootdown.fault.FaultPlan;
import java.util.ArrayList;
import java.util.List;

/**
 * What a run simulates: the machine (CPUs, IOMMUs, devices), the address spaces, the user tasks
 * and the device DMA, and when the run has seen enough. Pure data; the coordinator interprets it.
 *
 * <p>All times are simulated nanoseconds. {@code faults} is the fault plan the run injects
 * ({@link FaultPlan#NONE} when absent); it is left out of the JSON when empty, so a fault-free
 * scenario is written exactly as before plans existed.
 */
public record Scenario(
        String name,
        Arch arch,
        String policy,
        int cpus,
        int iommus,
        List<MmSpec> mms,
        List<TaskSpec> tasks,
        List<DeviceSpec> devices,
        Timing timing,
        EndCondition end,
        Memory memory,
        Kswapd kswapd,
        @JsonInclude(value = JsonInclude.Include.CUSTOM, valueFilter = NoFaults.class) FaultPlan faults) {

    /** The architectures the model knows (--arch). */
    public static final List<String> ARCHES = Arch.labels();
    /**
     * The built-in kernel variants (--policy, --kernel NAME): the files of the repository's
     * kernels/ folder (KernelFiles.BUILT_INS, which a test holds equal). A scenario's policy
     * names the variant its coordinator runs.
     */
    public static final List<String> KERNELS = List.of("linux-6.1", "linux-6.5", "series-v2", "linux-6.6", "linux-6.12");
    /**
     * The seed's kernels: before the series, its v2 as posted, and 6.6 as merged. What matrix and
     * experiments compare by default, and what the model's tests run every scenario under.
     */
    public static final List<String> POLICIES = List.of("linux-6.5", "series-v2", "linux-6.6");

    public Scenario {
        if (cpus <= 0 || iommus < 0) {
            throw new IllegalArgumentException("a scenario needs cpus > 0 and iommus >= 0");
        }
        mms = List.copyOf(mms);
        tasks = List.copyOf(tasks);
        devices = List.copyOf(devices);
        memory = memory == null ? Memory.UNLIMITED : memory;
        faults = faults == null ? FaultPlan.NONE : faults;
    }

    /** A scenario without faults. */
    public Scenario(String name, Arch arch, String policy, int cpus, int iommus, List<MmSpec> mms, List<TaskSpec> tasks,
            List<DeviceSpec> devices, Timing timing, EndCondition end, Memory memory, Kswapd kswapd) {
        this(name, arch, policy, cpus, iommus, mms, tasks, devices, timing, end, memory, kswapd, FaultPlan.NONE);
    }

    /** A scenario with unlimited memory and no kswapd. */
    public Scenario(String name, Arch arch, String policy, int cpus, int iommus, List<MmSpec> mms, List<TaskSpec> tasks,
            List<DeviceSpec> devices, Timing timing, EndCondition end) {
        this(name, arch, policy, cpus, iommus, mms, tasks, devices, timing, end, Memory.UNLIMITED, null, FaultPlan.NONE);
    }

    /** The same machine and workload under another architecture and kernel variant. */
    public Scenario with(Arch newArch, String newPolicy) {
        return new Scenario(name, newArch, newPolicy, cpus, iommus, mms, tasks, devices, timing, end, memory, kswapd, faults);
    }

    /** The same run with the fault plan {@code plan} (null: none) instead of its own. */
    public Scenario withFaults(FaultPlan plan) {
        return new Scenario(name, arch, policy, cpus, iommus, mms, tasks, devices, timing, end, memory, kswapd, plan);
    }

    /** The same run with another end condition (an observation window, for a run a fault keeps from ending). */
    public Scenario withEnd(EndCondition newEnd) {
        return new Scenario(name, arch, policy, cpus, iommus, mms, tasks, devices, timing, newEnd, memory, kswapd, faults);
    }

    /**
     * The same run with address space {@code mm} placed {@code delta} bytes away: its VMAs, the
     * programs of its tasks and the DMA of the devices bound to it all move together, so what
     * they are to one another is kept and what changes is where they fall in the page tables
     * (which page table, PMD and PUD span a range starts in, ends in, crosses). What
     * {@code shootdown hold} does to run a workload where a real kernel's mmap put it.
     */
    public Scenario placed(long mm, long delta) {
        if (delta % Kernel.PAGE_SIZE != 0) {
            throw new IllegalArgumentException("a scenario is placed by whole pages, not by " + delta + " bytes");
        }
        List<MmSpec> newMms = mms.stream().map(m -> m.mm() != mm ? m : new MmSpec(mm, m.vmas().stream()
                .map(v -> new VmaSpec(v.start() + delta, v.pages(), v.writable(), v.populate(), v.wrprotect(), v.mlocked()))
                .toList())).toList();
        List<TaskSpec> newTasks = tasks.stream().map(t -> t.mm() != mm ? t
                : new TaskSpec(t.pid(), mm, t.cpu(), t.program().stream().map(op -> op.movedBy(delta)).toList())).toList();
        List<DeviceSpec> newDevices = devices.stream().map(d -> d.mm() != mm || d.dma() == null ? d
                : new DeviceSpec(d.id(), d.iommu(), d.pasid(), mm, d.ats(), new DmaProgram(d.dma().start() + delta,
                        d.dma().pages(), d.dma().accesses(), d.dma().periodNs()))).toList();
        return new Scenario(name, arch, policy, cpus, iommus, newMms, newTasks, newDevices, timing, end, memory, kswapd, faults);
    }

    /** For Jackson: an empty fault plan is left out of what is written. */
    static final class NoFaults {
        @Override
        public boolean equals(Object o) {
            return o == null || (o instanceof FaultPlan p && p.isEmpty());
        }

        @Override
        public int hashCode() {
            return 0;
        }
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

    /**
     * A VMA of {@code pages} pages; {@code populate} maps frames up front (MAP_POPULATE).
     * {@code wrprotect} leaves the populated PTEs read-only in the writable VMA, as fork leaves a
     * copy-on-write page whose other user has since exited: the first write reuses the page
     * (do_wp_page -> wp_page_reuse -> ptep_set_access_flags). {@code mlocked} is VM_LOCKED (mlock(2),
     * mlockall(2)): its folios are unevictable (mm/mlock.c mlock_folio), on no LRU reclaim scans.
     */
    public record VmaSpec(long start, int pages, boolean writable, boolean populate, boolean wrprotect,
            @JsonInclude(JsonInclude.Include.NON_DEFAULT) boolean mlocked) {
        /** For Jackson: a run-started written before VMAs could be mlocked has none that are. */
        @JsonCreator
        static VmaSpec read(@JsonProperty("start") long start, @JsonProperty("pages") int pages,
                @JsonProperty("writable") boolean writable, @JsonProperty("populate") boolean populate,
                @JsonProperty("wrprotect") boolean wrprotect, @JsonProperty("mlocked") Boolean mlocked) {
            return new VmaSpec(start, pages, writable, populate, wrprotect, mlocked != null && mlocked);
        }

        public VmaSpec(long start, int pages, boolean writable, boolean populate) {
            this(start, pages, writable, populate, false, false);
        }

        public VmaSpec(long start, int pages, boolean writable, boolean populate, boolean wrprotect) {
            this(start, pages, writable, populate, wrprotect, false);
        }

        /** Whether the VMA maps {@code va}. */
        public boolean maps(long va) {
            return Long.compareUnsigned(va, start) >= 0
                    && Long.compareUnsigned(va, start + (long) pages * Kernel.PAGE_SIZE) < 0;
        }
    }

    /** A user task (thread) of {@code mm} pinned to {@code cpu}, running {@code program}. */
    public record TaskSpec(int pid, long mm, int cpu, List<TaskOp> program) {
        public TaskSpec {
            program = List.copyOf(program);
        }
    }

    /** A device behind {@code iommu}, bound to {@code mm} with SVA under {@code pasid}. */
    public record DeviceSpec(String id, int iommu, int pasid, long mm, boolean ats, DmaProgram dma) {}

    /**
     * The device's DMA: one access every {@code periodNs} over the pages, round robin, forever;
     * each page gets the {@code accesses} in order (READ then WRITE is a read-modify-write).
     */
    public record DmaProgram(long start, int pages, List<Access> accesses, long periodNs) {
        public DmaProgram {
            accesses = List.copyOf(accesses);
            if (accesses.isEmpty()) {
                throw new IllegalArgumentException("a DMA program needs at least one access");
            }
        }

        public DmaProgram(long start, int pages, Access access, long periodNs) {
            this(start, pages, List.of(access), periodNs);
        }

        /** The address of the {@code n}-th access. */
        public long va(long n) {
            return start + ((n / accesses.size()) % pages) * dev.shootdown.event.Kernel.PAGE_SIZE;
        }

        /** The kind of the {@code n}-th access. */
        public Access access(long n) {
            return accesses.get((int) (n % accesses.size()));
        }
    }

    /** Model timing: a CPU's time per program step, the IOMMU's command-queue sync latency. */
    public record Timing(long cpuStepNs, long cmdqSyncNs) {}

    /** How many of the scenario's longest step ({@link #defaultStallWindowNs}) the watchdog waits by default. */
    public static final long STALL_STEPS = 1000;

    /**
     * The watchdog's stall window when the scenario does not set one: {@link #STALL_STEPS} times
     * the longer of a CPU step and a CMD_SYNC, far beyond any wait of a shootdown that progresses
     * (one round trip to a CPU or an IOMMU).
     */
    public long defaultStallWindowNs() {
        return STALL_STEPS * Math.max(1, Math.max(timing.cpuStepNs(), timing.cmdqSyncNs()));
    }

    /** The watchdog's stall window: the scenario's, or the default. */
    public long stallWindowNs() {
        return end.stallWindowNs() > 0 ? end.stallWindowNs() : defaultStallWindowNs();
    }

    /**
     * When the run has seen enough. With {@code deviceFaults} > 0 it ends once every task has
     * finished and each device has had that many page requests answered after the last munmap
     * returned (proof it can no longer reach the unmapped range). With {@code afterNs} > 0 it
     * ends at that simulated time whatever is in flight: an observation window, for workloads
     * that run forever (reclaim, a device that faults without end). Whatever the condition, the
     * kernel's watchdog ends the run when a shootdown (a munmap, mprotect, madvise, reclaim or
     * flush) has made no progress for {@code stallWindowNs} of simulated time (0: the default,
     * {@link #defaultStallWindowNs}).
     */
    public record EndCondition(int deviceFaults, long afterNs,
            @JsonInclude(JsonInclude.Include.NON_DEFAULT) long stallWindowNs) {

        /** For Jackson: a run-started written before the watchdog had a window of its own has none (0: the default). */
        @JsonCreator
        static EndCondition read(@JsonProperty("deviceFaults") int deviceFaults, @JsonProperty("afterNs") long afterNs,
                @JsonProperty("stallWindowNs") Long stallWindowNs) {
            return new EndCondition(deviceFaults, afterNs, stallWindowNs == null ? 0 : stallWindowNs);
        }

        public EndCondition(int deviceFaults) {
            this(deviceFaults, 0, 0);
        }

        public EndCondition(int deviceFaults, long afterNs) {
            this(deviceFaults, afterNs, 0);
        }

        /** This condition with the watchdog's stall window set to {@code ns}. */
        public EndCondition withStallWindowNs(long ns) {
            return new EndCondition(deviceFaults, afterNs, ns);
        }
    }

    /**
     * Physical memory: {@code frames} page frames (0: unlimited) and the zone watermarks in
     * frames. Allocating at or below {@code low} wakes kswapd; at or below {@code min} the
     * allocating context reclaims directly. kswapd reclaims until {@code high} frames are free.
     * A reclaim pass isolates up to {@code reclaimBatch} folios from the LRU (SWAP_CLUSTER_MAX
     * is 32 in the kernel).
     */
    public record Memory(long frames, long min, long low, long high, int reclaimBatch) {
        public static final Memory UNLIMITED = new Memory(0, 0, 0, 0, 32);

        public boolean limited() {
            return frames > 0;
        }
    }

    /** kswapd0, the node's reclaim kernel thread, runs on {@code cpu} (current->mm == NULL). */
    public record Kswapd(int cpu) {}
}
