package dev.shootdown.event;

/** System calls a user task makes into the kernel's mm, and their returns. */
public sealed interface SyscallEvent extends Event {

    @Override
    default Family family() {
        return Family.SYSCALL;
    }

    /** munmap(2) of [start, end) by task {@code pid} running on {@code cpu}. */
    record Munmap(String target, String cpu, int pid, long mm, long start, long end)
            implements SyscallEvent, Directed {}

    /** do_exit: task {@code pid} on {@code cpu} ended; {@code reason} "exit" or the fatal signal. */
    record TaskExited(String target, String cpu, int pid, long mm, String reason) implements SyscallEvent, Directed {}

    /** munmap(2) returned {@code rc} to the task: every flush it needed is complete. */
    record MunmapReturned(String target, int pid, long mm, long start, long end, int rc)
            implements SyscallEvent, Directed {}

    /** mprotect(2) of [start, end) to read-only ({@code writable} false) or read-write. */
    record Mprotect(String target, String cpu, int pid, long mm, long start, long end, boolean writable)
            implements SyscallEvent, Directed {}

    /**
     * madvise(2) of [start, end) with {@code advice} (the kernel's name: "MADV_PAGEOUT") by task
     * {@code pid} running on {@code cpu}.
     */
    record Madvise(String target, String cpu, int pid, long mm, long start, long end, String advice)
            implements SyscallEvent, Directed {}

    /** madvise(2) returned {@code rc}: the advice was carried out, every flush it needed complete. */
    record MadviseReturned(String target, int pid, long mm, long start, long end, String advice, int rc)
            implements SyscallEvent, Directed {}

    /** mprotect(2) returned {@code rc}: every flush it needed is complete. */
    record MprotectReturned(String target, int pid, long mm, long start, long end, int rc)
            implements SyscallEvent, Directed {}

    /**
     * A write of {@code pages} pages' worth of bytes to the memory cgroup's memory.reclaim by task
     * {@code pid} on {@code cpu} (mm/memcontrol.c memory_reclaim).
     */
    record MemoryReclaim(String target, String cpu, int pid, long mm, int pages) implements SyscallEvent, Directed {}

    /**
     * The write to memory.reclaim returned {@code rc} (0, or -EAGAIN when the cgroup had fewer
     * reclaimable pages), having reclaimed {@code reclaimed} pages, every flush it needed complete.
     */
    record MemoryReclaimReturned(String target, int pid, long mm, int pages, int reclaimed, int rc)
            implements SyscallEvent, Directed {}
}
