package dev.shootdown.log;

import dev.shootdown.codec.EventCodec;
import dev.shootdown.codec.LogFormatException;
import dev.shootdown.event.Envelope;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.zip.GZIPInputStream;

/**
 * Reads a run log ({@code events.jsonl}, or gzip-compressed {@code .gz}) one line at a time and
 * hands out its envelopes in a causal order, in memory bounded by the number of nodes and the
 * reorder window, not by the log's length.
 *
 * <p>Like {@link LogFile}, nothing is trusted and nothing is dropped silently: a line that is not
 * a valid envelope, a duplicate, and the events that cannot be placed are {@link LogFile.Problem}s
 * naming their line, in the same words. The differences, all from not holding the whole log:
 *
 * <ul>
 *   <li>An event that can be placed when it is read is returned at once. A log in causal order
 *       (every exported one) comes out in its own order, holding nothing; a log whose events are
 *       out of order comes out in a causal order, which is {@link CausalOrder}'s canonical one
 *       only when events came no earlier than that order would place them.
 *   <li>An event that cannot be placed yet is held, at most {@code reorderWindow} of them; once
 *       the window is full, later events that cannot be placed at once are counted as unplaced
 *       and forgotten.
 *   <li>Duplicates are compared, by a 64-bit hash of the line, with events held and with the last
 *       {@link #DUPLICATE_WINDOW} placed events of each node; a copy of an older event is
 *       reported without comparing its content. A copy of an event forgotten after the window
 *       filled up is counted as one more unplaced event.
 *   <li>The first {@link #MAX_KEPT_PROBLEMS} problems are kept, all are counted.
 *   <li>A gzip log's last line is checked for a newline too (LogFile assumes one).
 * </ul>
 */
public final class LogStream implements AutoCloseable {

    /** Events held while waiting for their causes, by default. */
    public static final int DEFAULT_REORDER_WINDOW = 65_536;

    /** Placed events per node whose line and hash are remembered for duplicate detection. */
    public static final int DUPLICATE_WINDOW = 4096;

    /** Problems kept; more are only counted. */
    public static final int MAX_KEPT_PROBLEMS = 1000;

    /** Longest line read, in characters; the rest of a longer line is skipped (an envelope is a few hundred). */
    static final int MAX_LINE_CHARS = 1 << 20;

    private record Held(long line, long hash, Envelope envelope) {}

    /** What is remembered of one node: its last placed seq and a ring of its last placed events. */
    private static final class NodeState {
        long lastPlaced;
        long[] lines = new long[0];
        long[] hashes = new long[0];
        long[] readAt = new long[0];
        /** Lines read when the newest event that left the ring was placed: older copies came at or before it. */
        long evictedReadAt;

        void place(long seq, long line, long hash, long linesRead) {
            if (seq > lines.length && lines.length < DUPLICATE_WINDOW) {
                int size = Math.min(DUPLICATE_WINDOW, Math.max(16, lines.length * 2));
                lines = Arrays.copyOf(lines, size);
                hashes = Arrays.copyOf(hashes, size);
                readAt = Arrays.copyOf(readAt, size);
            }
            int slot = slot(seq);
            if (seq > DUPLICATE_WINDOW) {
                evictedReadAt = readAt[slot];
            }
            lines[slot] = line;
            hashes[slot] = hash;
            readAt[slot] = linesRead;
            lastPlaced = seq;
        }

        boolean remembers(long seq) {
            return seq > lastPlaced - DUPLICATE_WINDOW;
        }

        static int slot(long seq) {
            return (int) ((seq - 1) % DUPLICATE_WINDOW);
        }
    }

    private final long fileSize;
    private final LogLines.CountingInputStream counted;
    private final LogLines.LineReader reader;
    private final int reorderWindow;

    private final Map<String, NodeState> nodes = new HashMap<>();
    /** Held events per node (only nodes with some), by seq. */
    private final TreeMap<String, TreeMap<Long, Held>> held = new TreeMap<>();
    private int heldCount;
    private int maxHeld;
    /** Something was placed while events were held: some may have become ready. */
    private boolean drainable;
    /** The line at which the reorder window filled up, 0 while it has not. */
    private long fullAt;
    private long forgotten;
    private long firstForgottenLine;
    private String firstForgottenWhy;

    private final List<LogFile.Problem> problems = new ArrayList<>();
    private long problemCount;
    private long linesRead;
    private long placed;
    private long unplaced;
    private boolean finished;

    /** The line after the current one (whether there is one: {@link #lookaheadPresent}), and the current line. */
    private LogLines.Line lookahead = new LogLines.Line();
    private boolean lookaheadPresent;
    private LogLines.Line current = new LogLines.Line();
    private long lookaheadLength;
    private long lookaheadHash;
    private long currentLength;
    private long currentHash;
    private boolean started;

    private LogStream(InputStream raw, long size, boolean gzip, int reorderWindow) throws IOException {
        if (reorderWindow < 0) {
            raw.close();
            throw new IllegalArgumentException("the reorder window must not be negative, was " + reorderWindow);
        }
        this.reorderWindow = reorderWindow;
        this.fileSize = size;
        this.counted = new LogLines.CountingInputStream(raw);
        InputStream in = counted;
        try {
            if (gzip) {
                in = new GZIPInputStream(counted, 1 << 16);
            }
        } catch (IOException | RuntimeException e) {
            counted.close();
            throw e;
        }
        this.reader = new LogLines.LineReader(new InputStreamReader(in, StandardCharsets.UTF_8));
    }

    /** Opens FILE (plain, or gzip when the name ends in .gz); throws NoSuchFileException / IOException only for an unreadable file. */
    public static LogStream open(Path file) throws IOException {
        return open(file, DEFAULT_REORDER_WINDOW);
    }

    /** Same with an explicit reorder window (events held while waiting for their causes). */
    public static LogStream open(Path file, int reorderWindow) throws IOException {
        if (!Files.isRegularFile(file)) {
            throw new NoSuchFileException(file.toString());
        }
        return new LogStream(Files.newInputStream(file), Files.size(file), file.getFileName().toString().endsWith(".gz"),
                reorderWindow);
    }

    /**
     * Reads a log from {@code in} (standard input): gzip when it starts with gzip's magic bytes,
     * plain otherwise; its size is unknown ({@link #fileSize} -1). Closing the stream closes {@code in}.
     */
    public static LogStream open(InputStream in) throws IOException {
        java.io.BufferedInputStream buffered = new java.io.BufferedInputStream(in, 1 << 16);
        buffered.mark(2);
        int b1 = buffered.read();
        int b2 = buffered.read();
        buffered.reset();
        return new LogStream(buffered, -1, b1 == 0x1f && b2 == 0x8b, DEFAULT_REORDER_WINDOW);
    }

    /**
     * The next envelope in a causal order (every event after the events its vector clock depends
     * on, and after its node's previous seq), or null when the log is exhausted.
     */
    public Envelope next() throws IOException {
        while (true) {
            if (drainable) {
                Held h = readyHeld();
                if (h != null) {
                    TreeMap<Long, Held> ofNode = held.get(h.envelope().node());
                    ofNode.pollFirstEntry();
                    if (ofNode.isEmpty()) {
                        held.remove(h.envelope().node());
                    }
                    heldCount--;
                    place(h.envelope(), h.line(), h.hash());
                    return h.envelope();
                }
                drainable = false;
            }
            if (finished) {
                return null;
            }
            LogLines.Line text = readLine();
            if (text == null) {
                finish();
                return null;
            }
            Envelope e = accept(text);
            if (e != null) {
                return e;
            }
        }
    }

    /** Problems found so far (1-based line + one-line message), the first {@link #MAX_KEPT_PROBLEMS} kept in order. */
    public List<LogFile.Problem> problems() {
        return List.copyOf(problems);
    }

    /** How many problems in all (can exceed {@code problems().size()}). */
    public long problemCount() {
        return problemCount;
    }

    /** Lines consumed so far. */
    public long linesRead() {
        return linesRead;
    }

    /** Envelopes returned by {@link #next()}. */
    public long placed() {
        return placed;
    }

    /**
     * Valid envelopes that could not be placed in causal order: those forgotten so far once the
     * reorder window was full, plus, after {@link #next()} returned null, those still held.
     */
    public long unplaced() {
        return unplaced;
    }

    /** Bytes consumed from the file so far (compressed, for a gzip log), for a progress bar. */
    public long bytesRead() {
        return counted.count;
    }

    /** The file's size in bytes, -1 when unknown (standard input). */
    public long fileSize() {
        return fileSize;
    }

    /** Events held right now, waiting for their causes. */
    int held() {
        return heldCount;
    }

    /** The most events held at once so far. */
    int maxHeld() {
        return maxHeld;
    }

    @Override
    public void close() throws IOException {
        reader.close();
    }

    /** Handles one line; returns its envelope when it can be placed at once. */
    private Envelope accept(LogLines.Line text) {
        long line = linesRead;
        if (text.isBlank()) {
            return null;
        }
        if (currentLength > MAX_LINE_CHARS) {
            problem(line, "the line is " + currentLength + " characters long, more than the " + MAX_LINE_CHARS
                    + " an event can take; skipped");
            return null;
        }
        Envelope e;
        try {
            e = EventCodec.decode(text.chars, 0, text.length);
        } catch (LogFormatException ex) {
            boolean cut = !lookaheadPresent && reader.lastChar != '\n';
            problem(line, cut ? LogFile.cutMidLine(ex.getMessage()) : ex.getMessage());
            return null;
        }
        long hash = currentHash;
        NodeState node = nodes.computeIfAbsent(e.node(), k -> new NodeState());
        if (e.seq() <= node.lastPlaced) {
            if (node.remembers(e.seq())) {
                int slot = NodeState.slot(e.seq());
                problem(line, LogFile.duplicate(e.id(), node.lines[slot], node.hashes[slot] == hash));
            } else {
                problem(line, "event " + e.id() + " repeats an event placed from line " + node.evictedReadAt
                        + " or earlier (more than " + DUPLICATE_WINDOW + " events of " + e.node()
                        + " ago, so their contents were not compared); the second copy is ignored");
            }
            return null;
        }
        TreeMap<Long, Held> ofNode = held.get(e.node());
        Held first = ofNode == null ? null : ofNode.get(e.seq());
        if (first != null) {
            problem(line, LogFile.duplicate(e.id(), first.line(), first.hash() == hash));
            return null;
        }
        if (CausalOrder.ready(e, this::lastPlaced)) {
            place(e, line, hash);
            return e;
        }
        if (fullAt == 0 && heldCount < reorderWindow) {
            held.computeIfAbsent(e.node(), k -> new TreeMap<>()).put(e.seq(), new Held(line, hash, e));
            heldCount++;
            maxHeld = Math.max(maxHeld, heldCount);
            if (heldCount == reorderWindow) {
                fullAt = line;
            }
            return null;
        }
        if (fullAt == 0) {
            fullAt = line;
        }
        if (forgotten++ == 0) {
            firstForgottenLine = line;
            firstForgottenWhy = "event " + e.id() + " came while the reorder window was full and before event "
                    + waitsFor(e) + ", which it waits for";
        }
        unplaced++;
        return null;
    }

    private void place(Envelope e, long line, long hash) {
        nodes.computeIfAbsent(e.node(), k -> new NodeState()).place(e.seq(), line, hash, linesRead);
        placed++;
        drainable = heldCount > 0;
    }

    private long lastPlaced(String node) {
        NodeState s = nodes.get(node);
        return s == null ? 0 : s.lastPlaced;
    }

    /** Among the held events that can come next, the first by time, node, seq; null if none. */
    private Held readyHeld() {
        Held best = null;
        for (TreeMap<Long, Held> ofNode : held.values()) {
            Held head = ofNode.firstEntry().getValue();
            if (CausalOrder.ready(head.envelope(), this::lastPlaced)
                    && (best == null || CausalOrder.before(head.envelope(), best.envelope()))) {
                best = head;
            }
        }
        return best;
    }

    /** The first event {@code e} (not ready) is waiting for. */
    private String waitsFor(Envelope e) {
        long have = lastPlaced(e.node());
        if (have != e.seq() - 1) {
            return Envelope.id(e.node(), have + 1);
        }
        for (Map.Entry<String, Long> c : e.clock().entries().entrySet()) {
            if (lastPlaced(c.getKey()) < c.getValue()) {
                return Envelope.id(c.getKey(), lastPlaced(c.getKey()) + 1);
            }
        }
        throw new IllegalStateException(e.id() + " is ready");
    }

    /** At the end of the log: whatever is still held cannot be placed; one problem says why. */
    private void finish() {
        finished = true;
        unplaced += heldCount;
        if (unplaced == 0) {
            return;
        }
        long firstLine = forgotten > 0 ? firstForgottenLine : Long.MAX_VALUE;
        for (TreeMap<Long, Held> ofNode : held.values()) {
            for (Held h : ofNode.values()) {
                firstLine = Math.min(firstLine, h.line());
            }
        }
        if (forgotten == 0) {
            CausalOrder.Gap<Held> gap = CausalOrder.gapOf(held, this::lastPlaced, Held::envelope, true);
            problem(gap.needing() != null ? gap.needing().line() : firstLine, LogFile.unplaced(gap.what(), unplaced));
        } else {
            String gap = held.isEmpty() ? firstForgottenWhy
                    : CausalOrder.describeGap(held, this::lastPlaced, Held::envelope, false);
            problem(firstLine, LogFile.unplaced(gap, unplaced) + " (the reorder window of " + reorderWindow
                    + " events was full at line " + fullAt + "; after that, events that could not be placed at once"
                    + " were not held)");
        }
        held.clear();
        heldCount = 0;
    }

    private void problem(long line, String what) {
        problemCount++;
        if (problems.size() < MAX_KEPT_PROBLEMS) {
            problems.add(new LogFile.Problem(line, what));
        }
    }

    /** The next line, one ahead so that the last line is known as such; null at the end. */
    private LogLines.Line readLine() throws IOException {
        if (!started) {
            started = true;
            lookaheadPresent = reader.readLine(lookahead);
            lookaheadLength = reader.length;
            lookaheadHash = reader.hash;
        }
        if (!lookaheadPresent) {
            return null;
        }
        LogLines.Line read = lookahead;
        lookahead = current;
        current = read;
        currentLength = lookaheadLength;
        currentHash = lookaheadHash;
        lookaheadPresent = reader.readLine(lookahead);
        lookaheadLength = reader.length;
        lookaheadHash = reader.hash;
        linesRead++;
        return current;
    }
}
