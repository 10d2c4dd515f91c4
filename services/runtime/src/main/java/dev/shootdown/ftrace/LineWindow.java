package dev.shootdown.ftrace;

import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.function.Predicate;

/**
 * The lines of a capture, read once, in order, with a bounded look ahead: what the importer needs
 * to pair an IPI with its handlers on other CPUs, which come later in the file, without holding
 * the file.
 */
final class LineWindow {

    /** How far ahead a question may look, in event lines. */
    static final int LOOKAHEAD = 100_000;

    private final Iterator<FtraceLine> source;
    private final List<FtraceLine> ahead = new ArrayList<>();
    private int head;

    LineWindow(Iterator<FtraceLine> source) {
        this.source = source;
    }

    /** The next line, or null at the end. */
    FtraceLine next() {
        if (head < ahead.size()) {
            FtraceLine l = ahead.get(head++);
            if (head > 4096 && head * 2 > ahead.size()) {
                ahead.subList(0, head).clear();
                head = 0;
            }
            return l;
        }
        ahead.clear();
        head = 0;
        return source.hasNext() ? source.next() : null;
    }

    /** The {@code i}-th line after the one {@link #next} returned last (0: the very next), or null past the end. */
    FtraceLine peek(int i) {
        while (ahead.size() - head <= i) {
            if (!source.hasNext()) {
                return null;
            }
            ahead.add(source.next());
        }
        return ahead.get(head + i);
    }

    /**
     * Moves the {@code from}-th line ahead to just before the {@code to}-th ({@code to < from}):
     * a line of another CPU whose timestamp ties with lines it must have come after or before.
     */
    void moveBefore(int from, int to) {
        if (to >= from || peek(from) == null) {
            throw new IllegalArgumentException("cannot move line " + from + " ahead to " + to);
        }
        FtraceLine l = ahead.remove(head + from);
        ahead.add(head + to, l);
    }

    /** The first line ahead, within {@link #LOOKAHEAD}, on {@code cpu} that matches {@code test}; null if none. */
    FtraceLine nextOn(int cpu, Predicate<FtraceLine> test) {
        for (int i = 0; i < LOOKAHEAD; i++) {
            FtraceLine l = peek(i);
            if (l == null) {
                return null;
            }
            if (l.cpu() == cpu && test.test(l)) {
                return l;
            }
        }
        return null;
    }

    /** The next line ahead on {@code cpu}, within {@link #LOOKAHEAD}; null if none. */
    FtraceLine nextOn(int cpu) {
        return nextOn(cpu, l -> true);
    }
}
