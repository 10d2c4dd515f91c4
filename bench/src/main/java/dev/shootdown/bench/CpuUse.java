package dev.shootdown.bench;

import java.lang.management.GarbageCollectorMXBean;
import java.lang.management.ManagementFactory;
import java.util.Locale;

/**
 * Where this JVM's processor time went between two readings: all of its threads (the embedded
 * broker, the Kafka clients, the nodes' verticles), its JIT compilers, and its collectors'
 * pauses. For rows whose run shares the machine's cores with its broker: a run that keeps every
 * core busy is bound by processor time, not by waiting on the broker.
 */
record CpuUse(long cpuNs, long jitMs, long gcMs, long wallNs) {

    /** The readings now. */
    static CpuUse now() {
        long gc = 0;
        for (GarbageCollectorMXBean b : ManagementFactory.getGarbageCollectorMXBeans()) {
            gc += Math.max(0, b.getCollectionTime());
        }
        java.lang.management.CompilationMXBean jit = ManagementFactory.getCompilationMXBean();
        long jitMs = jit != null && jit.isCompilationTimeMonitoringSupported() ? jit.getTotalCompilationTime() : -1;
        long cpu = ManagementFactory.getOperatingSystemMXBean() instanceof com.sun.management.OperatingSystemMXBean os
                ? os.getProcessCpuTime() : -1;
        return new CpuUse(cpu, jitMs, gc, System.nanoTime());
    }

    /** What was used from {@code before} to this reading. */
    CpuUse since(CpuUse before) {
        return new CpuUse(cpuNs - before.cpuNs, jitMs - before.jitMs, gcMs - before.gcMs, wallNs - before.wallNs);
    }

    /** Of the cores' time over the interval, the share this JVM used. */
    double shareOfCores() {
        return cpuNs / (double) (wallNs * (long) Runtime.getRuntime().availableProcessors());
    }

    /** For a row's notes. */
    String describe(String who) {
        return String.format(Locale.ROOT, "%s used %.1f s of processor time in %.1f s (%.0f%% of %d cores), %.1f s of it in the "
                        + "JIT compilers, %.1f s in collection pauses", who, cpuNs / 1e9, wallNs / 1e9, 100 * shareOfCores(),
                Runtime.getRuntime().availableProcessors(), jitMs / 1e3, gcMs / 1e3);
    }
}
