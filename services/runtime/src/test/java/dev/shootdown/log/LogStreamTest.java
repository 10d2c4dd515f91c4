package dev.shootdown.log;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.shootdown.codec.EventCodec;
import dev.shootdown.codec.LogFormatException;
import dev.shootdown.event.Envelope;
import dev.shootdown.event.PageTableEvent;
import dev.shootdown.testing.LogBuilder;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.zip.GZIPOutputStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class LogStreamTest {

    @TempDir
    Path dir;

    /** Everything read from a log, with the held count checked against the window after every step. */
    record Read(List<Envelope> out, List<LogFile.Problem> problems, long problemCount, long placed, long unplaced,
            long linesRead, int maxHeld, long bytesRead, long fileSize) {
        List<String> ids() {
            return out.stream().map(Envelope::id).toList();
        }
    }

    static Read read(Path file, int window) throws IOException {
        try (LogStream s = LogStream.open(file, window)) {
            List<Envelope> out = new ArrayList<>();
            for (Envelope e = s.next(); e != null; e = s.next()) {
                assertTrue(s.held() <= window, "held " + s.held() + " > window " + window);
                out.add(e);
                assertEquals(out.size(), s.placed());
            }
            assertEquals(0, s.held(), "nothing held after the end");
            assertEquals(null, s.next(), "exhausted stays exhausted");
            return new Read(out, s.problems(), s.problemCount(), s.placed(), s.unplaced(), s.linesRead(), s.maxHeld(),
                    s.bytesRead(), s.fileSize());
        }
    }

    static Read read(Path file) throws IOException {
        return read(file, LogStream.DEFAULT_REORDER_WINDOW);
    }

    /** The sample of CausalOrderTest; canonical order b#1, a#1, a#2, c#1, b#2. */
    static List<Envelope> sampleLog() {
        LogBuilder b = new LogBuilder("r");
        Envelope a1 = b.emit("a", 10, new PageTableEvent.MmCreated(1));
        Envelope b1 = b.emit("b", 5, new PageTableEvent.MmCreated(2));
        Envelope a2 = b.emit("a", 20, new PageTableEvent.MmCreated(3), b1);
        b.emit("c", 1, new PageTableEvent.MmCreated(4), a2);
        b.emit("b", 30, new PageTableEvent.MmCreated(5), a1);
        return b.log();
    }

    /**
     * A run-like log: a coordinator's first event that every node has seen, then {@code n} events
     * of six nodes, each having seen a few random earlier events; times are random, so the
     * canonical order interleaves nodes.
     */
    static List<Envelope> runLikeLog(long seed, int n) {
        Random random = new Random(seed);
        LogBuilder b = new LogBuilder("run-" + seed);
        List<Envelope> all = new ArrayList<>();
        Envelope root = b.emit("coordinator", 0, new PageTableEvent.MmCreated(0));
        all.add(root);
        List<String> nodes = List.of("coordinator", "cpu0", "cpu1", "cpu2", "cpu3", "iommu0");
        Map<String, Boolean> started = new HashMap<>();
        for (int i = 1; i <= n; i++) {
            String node = nodes.get(random.nextInt(nodes.size()));
            List<Envelope> seen = new ArrayList<>();
            if (started.put(node, true) == null) {
                seen.add(root);
            }
            for (int k = random.nextInt(3); k > 0; k--) {
                seen.add(all.get(random.nextInt(all.size())));
            }
            all.add(b.emit(node, random.nextInt(200) * 10L, new PageTableEvent.MmCreated(i), seen.toArray(Envelope[]::new)));
        }
        return CausalOrder.sort(b.log(), e -> e);
    }

    static List<String> lines(List<Envelope> log) {
        return log.stream().map(EventCodec::encode).toList();
    }

    Path write(String name, List<String> lines, boolean finalNewline) throws IOException {
        Path file = dir.resolve(name);
        Files.writeString(file, String.join("\n", lines) + (finalNewline ? "\n" : ""), StandardCharsets.UTF_8);
        return file;
    }

    Path write(String name, List<String> lines) throws IOException {
        return write(name, lines, true);
    }

    static String codecError(String line) {
        try {
            EventCodec.decode(line);
        } catch (LogFormatException e) {
            return e.getMessage();
        }
        throw new AssertionError("decodes: " + line);
    }

    static List<Envelope> without(List<Envelope> log, String id) {
        List<Envelope> out = new ArrayList<>(log);
        assertTrue(out.removeIf(e -> e.id().equals(id)), id);
        return out;
    }

    @Test
    void aLogInCausalOrderComesOutInItsOwnOrderHoldingNothing() throws IOException {
        List<Envelope> log = runLikeLog(1, 500);
        Path file = write("events.jsonl", lines(log));

        Read r = read(file);

        assertEquals(log, r.out());
        assertEquals(List.of(), r.problems());
        assertEquals(0, r.problemCount());
        assertEquals(501, r.placed());
        assertEquals(0, r.unplaced());
        assertEquals(501, r.linesRead());
        assertEquals(0, r.maxHeld(), "the common path holds nothing");
        assertEquals(Files.size(file), r.fileSize());
        assertEquals(Files.size(file), r.bytesRead());
    }

    @Test
    void aShuffledLogWhoseFirstEventComesLastComesOutInExactlyCausalOrdersOrder() throws IOException {
        List<Envelope> canonical = runLikeLog(2, 300);
        for (int seed = 0; seed < 20; seed++) {
            List<Envelope> shuffled = new ArrayList<>(canonical.subList(1, canonical.size()));
            Collections.shuffle(shuffled, new Random(seed));
            shuffled.add(canonical.get(0)); // everything depends on it: all is held, then drained
            Path file = write("shuffled-" + seed + ".jsonl", lines(shuffled));

            Read r = read(file);

            assertEquals(canonical, r.out(), "seed " + seed);
            assertEquals(CausalOrder.sort(shuffled, e -> e), r.out(), "seed " + seed);
            assertEquals(300, r.maxHeld());
            assertEquals(List.of(), r.problems());
            assertEquals(0, r.unplaced());
        }
    }

    @Test
    void theSampleReversedComesOutInCausalOrdersOrder() throws IOException {
        List<Envelope> log = new ArrayList<>(sampleLog());
        Collections.reverse(log); // b#2, c#1, a#2, b#1, a#1
        // b#1 needs nothing and is placed on arrival; b#2, c#1 and a#2 wait for a#1, then drain by time.
        Read r = read(write("reversed.jsonl", lines(log)));

        assertEquals(List.of("b#1", "a#1", "a#2", "c#1", "b#2"), r.ids());
        assertEquals(CausalOrder.sort(log, e -> e), r.out());
        assertEquals(3, r.maxHeld());
    }

    @Test
    void anyShuffleComesOutInACausalOrderOfAllItsEvents() throws IOException {
        List<Envelope> canonical = runLikeLog(3, 300);
        for (int seed = 0; seed < 10; seed++) {
            List<Envelope> shuffled = new ArrayList<>(canonical);
            Collections.shuffle(shuffled, new Random(seed));

            Read r = read(write("any-" + seed + ".jsonl", lines(shuffled)));

            assertEquals(301, r.out().size());
            assertEquals(new HashSet<>(canonical), new HashSet<>(r.out()));
            Map<String, Long> last = new HashMap<>();
            for (Envelope e : r.out()) {
                assertEquals(last.getOrDefault(e.node(), 0L) + 1, e.seq(), e.id() + " after its node's previous event");
                for (Map.Entry<String, Long> c : e.clock().entries().entrySet()) {
                    assertTrue(last.getOrDefault(c.getKey(), 0L) >= c.getValue() || c.getKey().equals(e.node()),
                            e.id() + " after " + c.getKey() + "#" + c.getValue());
                }
                last.put(e.node(), e.seq());
            }
            assertEquals(List.of(), r.problems());
        }
    }

    @Test
    void anIdenticalDuplicateIsNamedWithTheLineOfTheFirstAndIgnored() throws IOException {
        List<String> lines = new ArrayList<>(lines(sampleLog()));
        lines.add(lines.get(1));
        Path file = write("dup.jsonl", lines);

        Read r = read(file);

        assertEquals(List.of(new LogFile.Problem(6, "event b#1 is a duplicate of line 2; the second copy is ignored")),
                r.problems());
        assertEquals(5, r.placed());
        assertEquals(LogFile.read(file).problems(), r.problems());
    }

    @Test
    void aConflictingDuplicateIsNamedAndTheFirstIsKept() throws IOException {
        List<Envelope> log = sampleLog();
        List<String> lines = new ArrayList<>(lines(log));
        Envelope b1 = log.get(1);
        Envelope other = new Envelope(b1.run(), b1.node(), b1.seq(), b1.schema(), b1.timeNs(), b1.clock(), b1.cause(),
                b1.links(), new PageTableEvent.MmCreated(99));
        lines.add(3, EventCodec.encode(other));
        Path file = write("conflict.jsonl", lines);

        Read r = read(file);

        assertEquals(List.of(new LogFile.Problem(4, "event b#1 differs from the event with that id on line 2; the first is kept")),
                r.problems());
        assertTrue(r.out().contains(b1));
        assertFalse(r.out().contains(other));
        assertEquals(LogFile.read(file).problems(), r.problems());
    }

    @Test
    void aDuplicateOfAHeldEventIsComparedWithIt() throws IOException {
        List<Envelope> log = sampleLog();
        Envelope c1 = log.get(3);
        Envelope otherC1 = new Envelope(c1.run(), c1.node(), c1.seq(), c1.schema(), c1.timeNs(), c1.clock(), c1.cause(),
                c1.links(), new PageTableEvent.MmCreated(77));
        List<Envelope> order = List.of(c1, c1, otherC1, log.get(0), log.get(1), log.get(2), log.get(4));
        Path file = write("held-dup.jsonl", lines(order));

        Read r = read(file);

        assertEquals(List.of(
                new LogFile.Problem(2, "event c#1 is a duplicate of line 1; the second copy is ignored"),
                new LogFile.Problem(3, "event c#1 differs from the event with that id on line 1; the first is kept")),
                r.problems());
        assertEquals(List.of("a#1", "b#1", "a#2", "c#1", "b#2"), r.ids());
        assertEquals(1, r.maxHeld());
        assertEquals(LogFile.read(file).problems(), r.problems());
    }

    @Test
    void aCopyOfAnEventOlderThanTheDuplicateWindowIsNamedWithoutPretendingToHaveComparedIt() throws IOException {
        LogBuilder b = new LogBuilder("r");
        for (int i = 1; i <= LogStream.DUPLICATE_WINDOW + 4; i++) {
            b.emit("a", i, new PageTableEvent.MmCreated(i));
        }
        List<String> lines = new ArrayList<>(lines(b.log()));
        lines.add(lines.get(0));   // a#1: left the window (a#4097..a#4100 pushed out a#1..a#4)
        lines.add(lines.get(4));   // a#5: still in it

        Read r = read(write("old-dup.jsonl", lines));

        assertEquals(List.of(
                new LogFile.Problem(4101, "event a#1 repeats an event placed from line 4 or earlier (more than 4096 events"
                        + " of a ago, so their contents were not compared); the second copy is ignored"),
                new LogFile.Problem(4102, "event a#5 is a duplicate of line 5; the second copy is ignored")),
                r.problems());
        assertEquals(4100, r.placed());
    }

    @Test
    void aMalformedLineIsNamedWithTheCodecsReasonAndTheRestIsRead() throws IOException {
        List<String> lines = new ArrayList<>(lines(sampleLog()));
        lines.set(2, "{\"run\": oops");
        lines.add(3, "");
        Path file = write("bad.jsonl", lines);

        Read r = read(file);

        assertEquals(List.of(
                new LogFile.Problem(3, codecError("{\"run\": oops")),
                new LogFile.Problem(5, "event a#2 is not in the log; c#1 depends on it; 1 events from here on cannot"
                        + " be placed in causal order and are not audited")),
                r.problems());
        assertEquals(List.of("a#1", "b#1", "b#2"), r.ids());
        assertEquals(1, r.unplaced());
        assertEquals(6, r.linesRead());
        assertEquals(LogFile.read(file).problems(), r.problems());
    }

    @Test
    void aLastLineCutWithoutANewlineIsNamedAsCut() throws IOException {
        List<String> lines = new ArrayList<>(lines(sampleLog()));
        String cut = lines.get(4).substring(0, 30);
        lines.set(4, cut);
        Path file = write("cut.jsonl", lines, false);
        Path withNewline = write("not-cut.jsonl", lines, true);

        Read r = read(file);
        Read n = read(withNewline);

        assertEquals(List.of(new LogFile.Problem(5, "the log is cut mid-line (no newline at the end, and the JSON is "
                + "incomplete: " + codecError(cut) + ")")), r.problems());
        assertEquals(List.of(new LogFile.Problem(5, codecError(cut))), n.problems());
        assertEquals(4, r.placed());
        assertEquals(LogFile.read(file).problems(), r.problems());
        assertEquals(LogFile.read(withNewline).problems(), n.problems());
    }

    @Test
    void aGzipLogCutMidLineIsNamedAsCutToo() throws IOException {
        List<String> lines = new ArrayList<>(lines(sampleLog()));
        String cut = lines.get(4).substring(0, 30);
        lines.set(4, cut);
        Path gz = gzip(write("cut.jsonl", lines, false), "cut.jsonl.gz");

        assertEquals(List.of(new LogFile.Problem(5, "the log is cut mid-line (no newline at the end, and the JSON is "
                + "incomplete: " + codecError(cut) + ")")), read(gz).problems());
    }

    @Test
    void aMissingEventIsOneProblemNamingItAtTheLineOfTheEventThatNeedsItWithTheCount() throws IOException {
        List<Envelope> log = runLikeLog(4, 400);
        Path file = write("missing.jsonl", lines(without(log, "coordinator#3")));
        LogFile.Contents whole = LogFile.read(file);

        Read r = read(file);

        List<Envelope> blocked = log.stream()
                .filter(e -> e.clock().get("coordinator") >= 3 && !e.id().equals("coordinator#3")).toList();
        assertEquals(blocked.size(), r.unplaced());
        assertEquals(whole.unplaced().size(), r.unplaced());
        assertEquals(1, r.problems().size());
        Envelope next = log.stream().filter(e -> e.id().equals("coordinator#4")).findFirst().orElseThrow();
        long nextLine = log.indexOf(next); // 1-based line once coordinator#3 (before it) is gone
        assertEquals(new LogFile.Problem(nextLine, "event coordinator#3 is not in the log; coordinator#4, the next event of"
                + " coordinator, follows it; " + r.unplaced()
                + " events from here on cannot be placed in causal order and are not audited"), r.problems().get(0));
        assertEquals(whole.problems(), r.problems());
        assertEquals(whole.ordered(), r.out());
        assertEquals(log.size() - 1 - blocked.size(), r.placed());
    }

    /** a#2..a#31 without a#1, interleaved with b#1..b#30 that need nothing: b, a, b, a, ... */
    static List<Envelope> interleavedWithoutA1(boolean a1Last) {
        LogBuilder b = new LogBuilder("r");
        List<Envelope> as = new ArrayList<>();
        List<Envelope> bs = new ArrayList<>();
        for (int i = 1; i <= 31; i++) {
            as.add(b.emit("a", i, new PageTableEvent.MmCreated(i)));
        }
        for (int i = 1; i <= 30; i++) {
            bs.add(b.emit("b", i, new PageTableEvent.MmCreated(100 + i)));
        }
        List<Envelope> out = new ArrayList<>();
        for (int i = 0; i < 30; i++) {
            out.add(bs.get(i));
            out.add(as.get(i + 1));
        }
        if (a1Last) {
            out.add(as.get(0));
        }
        return out;
    }

    @Test
    void aFullReorderWindowBoundsWhatIsHeldAndCountsTheRestAsUnplaced() throws IOException {
        Path file = write("overflow.jsonl", lines(interleavedWithoutA1(false)));

        Read r = read(file, 10);

        assertEquals(10, r.maxHeld());
        assertEquals(30, r.placed(), "every b");
        assertEquals(30, r.unplaced(), "10 held a's and 20 forgotten");
        assertEquals(List.of(new LogFile.Problem(2, "event a#1 is not in the log or came too late; a#2, the next event of a, follows it; 30 events"
                + " from here on cannot be placed in causal order and are not audited (the reorder window of 10 events"
                + " was full at line 20; after that, events that could not be placed at once were not held)")), r.problems());
        assertEquals(LogFile.read(file).unplaced().size(), r.unplaced());
    }

    @Test
    void anEventComingAfterTheWindowFilledUpReleasesWhatWasHeldButNotWhatWasForgotten() throws IOException {
        Path file = write("late.jsonl", lines(interleavedWithoutA1(true)));

        Read r = read(file, 10);
        Read wide = read(file, 100);

        assertEquals(10, r.maxHeld());
        assertEquals(30 + 11, r.placed(), "every b, a#1 and the ten held a's");
        assertEquals(20, r.unplaced());
        assertEquals(List.of(new LogFile.Problem(22, "event a#12 came while the reorder window was full and before event"
                + " a#1, which it waits for; 20 events from here on cannot be placed in causal order and are not audited"
                + " (the reorder window of 10 events was full at line 20; after that, events that could not be placed at"
                + " once were not held)")), r.problems());
        assertEquals(61, wide.placed());
        assertEquals(30, wide.maxHeld());
        assertEquals(List.of(), wide.problems());
    }

    @Test
    void aWindowOfZeroHoldsNothing() throws IOException {
        List<Envelope> log = new ArrayList<>(sampleLog());
        Collections.reverse(log); // b#2, c#1, a#2, b#1, a#1

        Read r = read(write("reversed.jsonl", lines(log)), 0);

        assertEquals(0, r.maxHeld());
        assertEquals(List.of("b#1", "a#1"), r.ids());
        assertEquals(3, r.unplaced());
        assertEquals(List.of(new LogFile.Problem(1, "event b#2 came while the reorder window was full and before event"
                + " b#1, which it waits for; 3 events from here on cannot be placed in causal order and are not audited"
                + " (the reorder window of 0 events was full at line 1; after that, events that could not be placed at"
                + " once were not held)")), r.problems());
    }

    @Test
    void aGzipLogReadsLikeThePlainOneAndCountsCompressedBytes() throws IOException {
        List<Envelope> log = runLikeLog(5, 500);
        Path plain = write("events.jsonl", lines(log));
        Path gz = gzip(plain, "events.jsonl.gz");

        Read r = read(gz);

        assertEquals(log, r.out());
        assertEquals(List.of(), r.problems());
        assertEquals(Files.size(gz), r.fileSize());
        assertEquals(Files.size(gz), r.bytesRead());
        assertTrue(r.fileSize() < Files.size(plain));
    }

    @Test
    void onlyTheFirstThousandProblemsAreKeptButAllAreCounted() throws IOException {
        List<String> lines = new ArrayList<>();
        for (int i = 0; i < 1500; i++) {
            lines.add("not json " + i);
        }
        lines.addAll(lines(sampleLog()));

        Read r = read(write("many.jsonl", lines));

        assertEquals(LogStream.MAX_KEPT_PROBLEMS, r.problems().size());
        assertEquals(1500, r.problemCount());
        assertEquals(new LogFile.Problem(1000, codecError("not json 999")), r.problems().get(999));
        assertEquals(5, r.placed());
        assertEquals(1505, r.linesRead());
    }

    @Test
    void anOverlongLineIsSkippedWithoutBeingHeldWhole() throws IOException {
        List<String> lines = new ArrayList<>(lines(sampleLog()));
        lines.add(2, "x".repeat(LogStream.MAX_LINE_CHARS + 10));

        Read r = read(write("long.jsonl", lines));

        assertEquals(List.of(new LogFile.Problem(3, "the line is " + (LogStream.MAX_LINE_CHARS + 10)
                + " characters long, more than the " + LogStream.MAX_LINE_CHARS + " an event can take; skipped")), r.problems());
        assertEquals(5, r.placed());
    }

    @Test
    void linesEndLikeBufferedReadersWithCrLfOrCr() throws IOException {
        List<String> lines = lines(sampleLog());
        Path crlf = dir.resolve("crlf.jsonl");
        Files.writeString(crlf, String.join("\r\n", lines) + "\r\n");
        Path cr = dir.resolve("cr.jsonl");
        Files.writeString(cr, String.join("\r", lines.subList(0, 4)) + "\r\r" + lines.get(4).substring(0, 20) + "\r");

        Read a = read(crlf);
        Read b = read(cr);

        assertEquals(5, a.placed());
        assertEquals(5, a.linesRead());
        assertEquals(List.of(), a.problems());
        assertEquals(6, b.linesRead());
        assertEquals(LogFile.read(cr).problems(), b.problems());
        assertTrue(b.problems().get(0).what().startsWith("the log is cut mid-line"), b.problems().toString());
    }

    @Test
    void aMissingFileThrowsNoSuchFile() {
        assertThrows(NoSuchFileException.class, () -> LogStream.open(dir.resolve("nope.jsonl")));
    }

    @Test
    void aRunLikeLogWithEveryKindOfDefectReadsLikeLogFile() throws IOException {
        List<Envelope> log = runLikeLog(6, 1000);
        List<String> lines = new ArrayList<>(lines(without(log, "iommu0#5")));
        lines.add(100, lines.get(40));                                   // identical duplicate
        lines.add(200, lines.get(60).replace("\"mm\":", "\"mm\":1"));    // conflicting duplicate
        lines.set(300, "{\"run\":");                                     // malformed: one event lost
        lines.add(400, "   ");                                           // blank
        lines.add(lines.get(500).substring(0, 40));                      // cut last line
        Path file = write("defects.jsonl", lines, false);
        LogFile.Contents whole = LogFile.read(file);

        Read r = read(file);

        assertEquals(whole.ordered(), r.out());
        assertEquals(whole.unplaced().size(), r.unplaced());
        assertEquals(whole.problems(), r.problems());
        assertEquals(5, r.problems().size(), r.problems().toString());
        assertTrue(r.unplaced() > 0);
    }

    Path gzip(Path plain, String name) throws IOException {
        Path gz = dir.resolve(name);
        try (OutputStream os = new GZIPOutputStream(Files.newOutputStream(gz))) {
            Files.copy(plain, os);
        }
        return gz;
    }
}
