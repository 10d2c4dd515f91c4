package dev.shootdown.bench;

import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;

/**
 * Where this JVM's processor time went between two readings: all of its threads (the embedded
 * broker, the Kafka clients, the nodes' verticles), and of it its JIT compiler threads' and its
 * garbage collector's threads', read per thread from Linux's {@code /proc/self/task} (the JVM's
 * own compilation-time count is elapsed time, which on a busy machine exceeds the processor time
 * its compilers got). For rows whose run shares the machine's cores with its broker: a run that
 * keeps every core busy is bound by processor time, not by waiting on the broker.
 */
record CpuUse(long cpuNs, long jitNs, long gcNs, long wallNs) {

    /** /proc's clock ticks per second (USER_HZ, 100 on Linux's every architecture's ABI). */
    private static final long TICK_NS = 10_000_000;

    /** The readings now; the JIT's and the collector's are -1 where /proc cannot be read. */
    static CpuUse now() {
        long cpu = ManagementFactory.getOperatingSystemMXBean() instanceof com.sun.management.OperatingSystemMXBean os
                ? os.getProcessCpuTime() : -1;
        long jit = 0;
        long gc = 0;
        try (DirectoryStream<Path> tasks = Files.newDirectoryStream(Path.of("/proc/self/task"))) {
            for (Path task : tasks) {
                String name;
                String stat;
                try {
                    name = Files.readString(task.resolve("comm")).strip();
                    stat = Files.readString(task.resolve("stat"));
                } catch (IOException gone) {
                    continue; // the thread ended in between
                }
                boolean compiler = name.startsWith("C1 CompilerThre") || name.startsWith("C2 CompilerThre");
                boolean collector = name.startsWith("GC Thread") || name.startsWith("G1 ");
                if (compiler || collector) {
                    // after the command's closing parenthesis: state, then fields 4 on; utime and stime are fields 14 and 15
                    String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
                    long ns = (Long.parseLong(f[11]) + Long.parseLong(f[12])) * TICK_NS;
                    if (compiler) {
                        jit += ns;
                    } else {
                        gc += ns;
                    }
                }
            }
        } catch (IOException | RuntimeException e) {
            jit = -1;
            gc = -1;
        }
        return new CpuUse(cpu, jit, gc, System.nanoTime());
    }

    /** What was used from {@code before} to this reading. */
    CpuUse since(CpuUse before) {
        boolean perThread = jitNs >= 0 && before.jitNs >= 0;
        return new CpuUse(cpuNs - before.cpuNs, perThread ? jitNs - before.jitNs : -1, perThread ? gcNs - before.gcNs : -1,
                wallNs - before.wallNs);
    }

    /** Of the cores' time over the interval, the share this JVM used. */
    double shareOfCores() {
        return cpuNs / (double) (wallNs * (long) Runtime.getRuntime().availableProcessors());
    }

    /** For a row's notes. */
    String describe(String who) {
        String threads = jitNs < 0 ? "" : String.format(Locale.ROOT, ", %.1f s of it (%.0f%%) in the JIT compilers' threads, "
                + "%.1f s in the collector's", jitNs / 1e9, 100.0 * jitNs / Math.max(1, cpuNs), gcNs / 1e9);
        return String.format(Locale.ROOT, "%s used %.1f s of processor time in %.1f s (%.0f%% of %d cores)%s", who, cpuNs / 1e9,
                wallNs / 1e9, 100 * shareOfCores(), Runtime.getRuntime().availableProcessors(), threads);
    }
}
