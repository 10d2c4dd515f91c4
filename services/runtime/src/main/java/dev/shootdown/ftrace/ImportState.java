package dev.shootdown.ftrace;

import dev.shootdown.event.Envelope;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * What {@link FtraceConverter} follows while it reads a capture: each CPU's shootdown, flush and
 * hook in progress, the shootdowns being imported, the IPI rounds of native_flush_tlb_multi and
 * the hook calls whose notifier callbacks may follow.
 */
final class ImportState {

    private ImportState() {}

    /** What one CPU is in the middle of. */
    static final class Cpu {
        final String node;
        /** The shootdown of the task whose line is being handled. */
        Op op;
        Integer lastTask;
        FlushCall flush;
        Round waiting;
        PendingHook hook;
        final List<Envelope> mergeNext = new ArrayList<>();
        long lastNs;

        Cpu(String node) {
            this.node = node;
        }
    }

    /** A shootdown being imported. */
    static final class Op {
        final long id;
        final String word;
        final boolean marked;
        final long mm;
        final long start;
        final long end;
        final int pid;
        final long line;
        boolean flushed;
        int frees;
        /** When its CPU last did something for it: an unmarked shootdown finishes then. */
        long lastNs;
        /** The CPU it last ran on. */
        Cpu cpu;
        /** The task it runs in (the key of {@code ops}: the pid, or -1-cpu for an idle task). */
        int task;

        Op(int task, long id, String word, boolean marked, long mm, long start, long end, int pid, long line) {
            this.task = task; // the task whose line starts it
            this.id = id;
            this.word = word;
            this.marked = marked;
            this.mm = mm;
            this.start = start;
            this.end = end;
            this.pid = pid;
            this.line = line;
        }
    }

    record FlushCall(long shootdown, long mm, long start, long end, boolean freedTables) {}

    /** One native_flush_tlb_multi: its requests by target CPU, and the handlers' acknowledgements. */
    static final class Round {
        final FlushCall flush;
        final String initiator;
        final Map<Integer, Envelope> requests = new LinkedHashMap<>();
        final List<Envelope> acks = new ArrayList<>();
        Envelope local;
        boolean localDone;

        Round(FlushCall flush, String initiator) {
            this.flush = flush;
            this.initiator = initiator;
        }
    }

    /** A hook call whose notifier callbacks may follow on its CPU. */
    static final class PendingHook {
        final Envelope call;
        final long shootdown;
        final long mm;
        final long start;
        final long end;
        int callbacks;
        /** The secondary TLBs whose callback ran for it. */
        final Set<String> calledBack = new HashSet<>();

        PendingHook(Envelope call, long shootdown, long mm, long start, long end) {
            this.call = call;
            this.shootdown = shootdown;
            this.mm = mm;
            this.start = start;
            this.end = end;
        }
    }
}
