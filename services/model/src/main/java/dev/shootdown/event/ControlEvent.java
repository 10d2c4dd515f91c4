package dev.shootdown.event;

import dev.shootdown.kernel.KernelVariant;
import dev.shootdown.scenario.Arch;
import dev.shootdown.scenario.Scenario;
import java.util.Collections;
import java.util.List;
import java.util.SortedMap;
import java.util.TreeMap;

/** Run control: the start and end of a run, timers, and nodes reporting that they are done. */
public sealed interface ControlEvent extends Event {

    @Override
    default Family family() {
        return Family.CONTROL;
    }

    /**
     * The run controller started the run: every node receives the scenario it simulates, and
     * the kernel variant the coordinator runs, whole and resolved, so the log replays and audits
     * the same on a machine that never saw its file. {@code kernel} is null only in logs
     * recorded before variants were recorded (schema 1): the scenario's policy then names a
     * built-in.
     */
    record RunStarted(String runId, long seed, Scenario scenario, KernelVariant kernel) implements ControlEvent {}

    /**
     * The log was imported from a capture of a real kernel, not simulated: {@code format} (ftrace),
     * the capture's {@code file} name, its {@code sha256} and {@code lines}, the architecture it
     * ran on and its CPUs. Each node of the log is a CPU running kernel code, or a secondary TLB
     * whose invalidation callback ran. {@code mms} names each mm by the kernel address the trace
     * printed ({@code mm_struct} pointer), {@code notTraced} says what such a capture cannot show,
     * {@code ignoredLines} counts the lines it did not use, by event, and {@code warnings} what
     * the importer could not pair or place.
     */
    record TraceImported(String format, String file, String sha256, long lines, Arch arch, int cpus, List<MmAddress> mms,
            List<String> notTraced, SortedMap<String, Long> ignoredLines, List<String> warnings) implements ControlEvent {
        public TraceImported {
            mms = List.copyOf(mms);
            notTraced = List.copyOf(notTraced);
            ignoredLines = Collections.unmodifiableSortedMap(new TreeMap<>(ignoredLines));
            warnings = List.copyOf(warnings);
        }
    }

    /** An mm of an imported trace: its id in the log, the kernel's address of it, and the first task seen using it. */
    record MmAddress(long mm, String address, String task) {}

    /** The coordinator saw the scenario's end condition: nodes stop their workloads. */
    record RunCompleted(String reason) implements ControlEvent {}

    /** {@code node} handled RunCompleted and will emit nothing more. */
    record NodeQuiesced(String target, String node) implements ControlEvent, Directed {}

    /** A timer the node asked for expired; the host delivers it as an input on the node's thread. */
    record TimerFired(String timer, long dueNs) implements ControlEvent {}
}
