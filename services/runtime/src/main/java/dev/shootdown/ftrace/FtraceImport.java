package dev.shootdown.ftrace;

import dev.shootdown.event.ControlEvent;
import dev.shootdown.event.Envelope;
import dev.shootdown.scenario.Arch;
import dev.shootdown.scenario.Scenario;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Consumer;
import java.util.regex.Pattern;

/**
 * Turns an ftrace text capture of a real kernel into a Shootdown log: the events the auditor,
 * the report and every other reader of a log know, with happens-before taken only from what a
 * trace proves.
 *
 * <p>Nodes: {@code cpuN} is the kernel running on CPU N (its lines in program order); a secondary
 * TLB whose invalidation callback was traced is a node of its own ({@code stlb} for the test
 * module's software TLB, {@code arm-smmu-v3}, {@code intel-iommu}, {@code amd-iommu} for the SVA
 * drivers' callbacks). A hook call with no callback traced after it stays a hook call.
 *
 * <p>Happens-before, and nothing else: program order on each CPU, and of each task across its
 * migrations (a task runs on one CPU at a time; kernel/sched/core.c moves it under the runqueue
 * locks); native_flush_tlb_multi before
 * the flush_tlb_func it sends to another CPU (that CPU's next flush_tlb_func in hard-interrupt
 * context or in its idle task, found by looking ahead while the sender waits and over the lines
 * whose timestamp ties with its first line after the wait, among the CPUs of its {@code mask=}
 * argument when the kprobe fetched it); every handler before the sender's first line after its wait
 * (smp_call_function_many_cond waits for each CSD, kernel/smp.c); a notifier callback before
 * the next line of the CPU that called it (the hook calls them synchronously,
 * mm/mmu_notifier.c). Timestamps of different CPUs order nothing.
 *
 * <p>Shootdowns: a system call the workload brackets with trace_marker lines
 * ({@code munmap start 0xADDR len 0xLEN} ... {@code munmap returned}; likewise {@code mprotect}
 * and {@code pageout} for madvise(MADV_PAGEOUT); {@code memory_reclaim} for a write of LEN bytes to a
 * memory cgroup's memory.reclaim, whose reclaim is of the cgroup's LRU, not of the range) is one
 * shootdown with every line of its task in
 * between and the IPI handlers it caused. Outside markers, each flush_tlb_mm_range or
 * arch_tlbbatch_flush starts one of its task, which ends at the task's next one or when its CPU
 * switches to another task.
 */
public final class FtraceImport {

    /** What the converter reads: the capture's lines, from the start, each time it asks. */
    public interface Capture {
        /** The file's name (no directory), as the log records it. */
        String file();

        String sha256();

        /** Lines in the file. */
        long lines();

        /** The CPUs the header counted ({@code #P:2}); 0 when it had none. */
        int cpusInHeader();

        /** The file's lines, from the first, as text. */
        Iterator<String> open();
    }

    /** What a capture cannot show, whatever it probed: the audit says it plainly. */
    public static final List<String> NOT_TRACED = List.of(
            "PTE values: whether each secondary invalidation came after the PTE change is not checked, only that it"
                    + " completed before the free and the return",
            "TLB, IOTLB and ATC contents, and accesses through them: stale-translation uses and uses after free are not"
                    + " checked",
            "mm_cpumask and lazy CPUs: a CPU the kernel sent no flush is not known to have needed one",
            "tlb_gen values: flushes show the pages flush_tlb_func reported (tlb:tlb_flush), not why");

    static final String STLB = "stlb";

    /** Secondary-TLB hooks the kernel calls, by the kprobed function: the hook's name. */
    static final Map<String, String> HOOKS = Map.of(
            "__mmu_notifier_arch_invalidate_secondary_tlbs", "arch_invalidate_secondary_tlbs", // 6.6+
            "__mmu_notifier_invalidate_range", "invalidate_range"); // 6.5 and earlier

    /** IOMMU drivers' callbacks, by the kprobed function: the secondary TLB's node and the hook it implements. */
    static final Map<String, String[]> CALLBACKS = Map.of(
            "arm_smmu_mm_arch_invalidate_secondary_tlbs", new String[] {"arm-smmu-v3", "arch_invalidate_secondary_tlbs"},
            "arm_smmu_mm_invalidate_range", new String[] {"arm-smmu-v3", "invalidate_range"},
            "intel_arch_invalidate_secondary_tlbs", new String[] {"intel-iommu", "arch_invalidate_secondary_tlbs"},
            "intel_invalidate_range", new String[] {"intel-iommu", "invalidate_range"},
            "sva_arch_invalidate_secondary_tlbs", new String[] {"amd-iommu", "arch_invalidate_secondary_tlbs"},
            "mn_arch_invalidate_secondary_tlbs", new String[] {"amd-iommu", "arch_invalidate_secondary_tlbs"},
            "mn_invalidate_range", new String[] {"amd-iommu", "invalidate_range"});

    /** The x86 flush functions a capture of that architecture probes (arch/x86/mm/tlb.c). */
    static final Set<String> X86 = Set.of("flush_tlb_mm_range", "native_flush_tlb_multi", "flush_tlb_func",
            "arch_tlbbatch_flush");

    static final Pattern START = Pattern.compile(
            "^(?:.*\\s)?(munmap|mprotect|pageout|memory_reclaim)\\s+start(?:\\s+(0x[0-9a-fA-F]+)\\s+len\\s+(0x[0-9a-fA-F]+))?.*$");
    static final Pattern RETURNED = Pattern.compile("^(?:.*\\s)?(munmap|mprotect|pageout|memory_reclaim)\\s+returned(?:\\s+(-?\\d+))?.*$");
    static final Pattern TLB_FLUSH = Pattern.compile("^pages:(-?\\d+) reason:(.*?)(?: \\(\\d+\\))?$");
    static final Pattern PAGE_FREE = Pattern.compile("pfn=(0x[0-9a-fA-F]+|\\d+) order=(\\d+)");

    static final int MAX_WARNINGS = 50;

    private FtraceImport() {}

    /**
     * Writes the log of {@code capture} to {@code out}: run-started, trace-imported, the events,
     * run-completed. {@code arch} null: found from the probed functions (x86 when any of its flush
     * functions was probed); {@code kernel} names the kernel the capture ran on.
     *
     * @return what trace-imported says
     * @throws IllegalArgumentException naming the file and line, for a line that is not ftrace
     *                                  or an argument that is not what its probe should print
     */
    public static ControlEvent.TraceImported convert(Capture capture, String kernel, Arch arch, Consumer<Envelope> out) {
        FtraceConverter first = new FtraceConverter(capture, env -> {});
        first.run();
        Arch foundArch = arch != null ? arch : first.x86 ? Arch.X86 : null;
        if (foundArch == null) {
            throw new IllegalArgumentException(capture.file() + ": no x86 flush function (flush_tlb_mm_range,"
                    + " native_flush_tlb_multi, flush_tlb_func, arch_tlbbatch_flush) is probed in it: say which"
                    + " architecture it ran on with --arch x86|arm64");
        }
        List<String> notTraced = new ArrayList<>(NOT_TRACED);
        if (!first.x86) {
            notTraced.add(0, "CPU flushes: " + (foundArch == Arch.ARM64
                    ? "arm64 issues its TLBIs inline (arch/arm64/include/asm/tlbflush.h), no function to probe"
                    : "no flush function of this architecture was probed"));
        }
        int cpus = Math.max(capture.cpusInHeader(), first.maxCpu + 1);
        ControlEvent.TraceImported imported = new ControlEvent.TraceImported("ftrace", capture.file(), capture.sha256(),
                capture.lines(), foundArch, cpus, first.mmList, notTraced, first.ignored, first.warningList());
        FtraceConverter second = new FtraceConverter(capture, out);
        String runId = runId(capture.file());
        Scenario scenario = new Scenario(capture.file(), foundArch, kernel, Math.max(cpus, 1), 0, List.of(), List.of(),
                List.of(), new Scenario.Timing(0, 0), new Scenario.EndCondition(0, 0));
        second.emit("control", first.firstNs, null, List.of(), new ControlEvent.RunStarted(runId, 0, scenario, null));
        second.emit("control", first.firstNs, null, List.of(), imported);
        second.run();
        return imported;
    }

    /**
     * The event lines of {@code capture}, parsed as they are read; a {@code CPU:N [LOST M EVENTS]}
     * note goes to {@code lost}, a line that is not ftrace throws naming {@code FILE:LINE}.
     */
    static Iterator<FtraceLine> parsed(Capture capture, Consumer<String> lost) {
        Iterator<String> text = capture.open();
        return new Iterator<>() {
            private long number;
            private FtraceLine next;

            @Override
            public boolean hasNext() {
                while (next == null && text.hasNext()) {
                    String line = text.next();
                    number++;
                    if (FtraceLine.lost(line) >= 0) {
                        lost.accept(capture.file() + ":" + number + ": " + line.strip() + ": the capture is missing events there");
                        continue;
                    }
                    try {
                        next = FtraceLine.parse(number, line);
                    } catch (IllegalArgumentException e) {
                        throw new IllegalArgumentException(capture.file() + ":" + number + ": " + e.getMessage(), e);
                    }
                }
                return next != null;
            }

            @Override
            public FtraceLine next() {
                if (!hasNext()) {
                    throw new java.util.NoSuchElementException();
                }
                FtraceLine l = next;
                next = null;
                return l;
            }
        };
    }

    /** The run id of an imported capture: {@code ftrace-} and its file name without the extension. */
    public static String runId(String file) {
        int dot = file.lastIndexOf('.');
        return "ftrace-" + (dot > 0 ? file.substring(0, dot) : file);
    }
}
