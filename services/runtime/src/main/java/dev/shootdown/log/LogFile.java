package dev.shootdown.log;

import dev.shootdown.codec.EventCodec;
import dev.shootdown.codec.LogFormatException;
import dev.shootdown.event.Envelope;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.RandomAccessFile;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.zip.GZIPInputStream;

/**
 * Reads an exported run log ({@code events.jsonl}, optionally gzip-compressed as {@code .gz}): one
 * envelope per line. Nothing in it is trusted: every line that is not a valid envelope, every
 * duplicate, every missing event is a {@link Problem} naming its line, and what can still be put
 * in causal order is returned. Nothing read is dropped silently.
 */
public final class LogFile {

    /** What was wrong with the log, at a 1-based line (0: the log as a whole). */
    public record Problem(long line, String what) {
        /** {@code FILE:LINE: what}, one line. */
        public String describe(Path file) {
            return file + (line > 0 ? ":" + line : "") + ": " + what;
        }
    }

    /** The envelopes in causal order, the ones that could not be placed, and every problem. */
    public record Contents(List<Envelope> ordered, List<Envelope> unplaced, List<Problem> problems) {
        public Contents {
            ordered = List.copyOf(ordered);
            unplaced = List.copyOf(unplaced);
            problems = List.copyOf(problems);
        }

        public boolean clean() {
            return problems.isEmpty();
        }
    }

    private record Line(long number, String text, Envelope envelope) {}

    private LogFile() {}

    /** Reads {@code file}; throws only when the file itself cannot be read. */
    public static Contents read(Path file) throws IOException {
        if (!Files.isRegularFile(file)) {
            throw new NoSuchFileException(file.toString());
        }
        boolean gzip = file.getFileName().toString().endsWith(".gz");
        boolean endsWithNewline = gzip || endsWithNewline(file);
        List<Problem> problems = new ArrayList<>();
        List<Line> lines = new ArrayList<>();
        Map<String, Line> byId = new HashMap<>();
        List<String> texts = new ArrayList<>();
        try (InputStream in = gzip ? new GZIPInputStream(Files.newInputStream(file)) : Files.newInputStream(file);
                BufferedReader reader = new BufferedReader(new InputStreamReader(in, StandardCharsets.UTF_8))) {
            for (String text = reader.readLine(); text != null; text = reader.readLine()) {
                texts.add(text);
            }
        }
        for (int i = 0; i < texts.size(); i++) {
            String text = texts.get(i);
            long number = i + 1;
            if (text.isBlank()) {
                continue;
            }
            Envelope e;
            try {
                e = EventCodec.decode(text);
            } catch (LogFormatException ex) {
                boolean cut = i == texts.size() - 1 && !endsWithNewline;
                problems.add(new Problem(number, cut ? cutMidLine(ex.getMessage()) : ex.getMessage()));
                continue;
            }
            Line line = new Line(number, text, e);
            Line first = byId.putIfAbsent(e.id(), line);
            if (first == null) {
                lines.add(line);
            } else {
                problems.add(new Problem(number, duplicate(e.id(), first.number(), first.text().equals(text))));
            }
        }
        CausalOrder.Partial<Line> order = CausalOrder.sortPartially(lines, Line::envelope);
        if (!order.blocked().isEmpty()) {
            long firstLine = order.blocked().stream().mapToLong(Line::number).min().orElse(0);
            problems.add(new Problem(firstLine, unplaced(order.gap(), order.blocked().size())));
        }
        return new Contents(order.ordered().stream().map(Line::envelope).toList(),
                order.blocked().stream().map(Line::envelope).toList(), problems);
    }

    /** The last line, with no newline after it, is not a valid envelope ({@code why}: the codec's reason). */
    static String cutMidLine(String why) {
        return "the log is cut mid-line (no newline at the end, and the JSON is incomplete: " + why + ")";
    }

    /** A second envelope with the id of one kept from {@code firstLine}; {@code same}: the same text. */
    static String duplicate(String id, long firstLine, boolean same) {
        return same
                ? "event " + id + " is a duplicate of line " + firstLine + "; the second copy is ignored"
                : "event " + id + " differs from the event with that id on line " + firstLine + "; the first is kept";
    }

    /** {@code count} events cannot be placed in causal order, because of {@code gap}. */
    static String unplaced(String gap, long count) {
        return gap + "; " + count + " events from here on cannot be placed in causal order and are not audited";
    }

    private static boolean endsWithNewline(Path file) throws IOException {
        try (RandomAccessFile raf = new RandomAccessFile(file.toFile(), "r")) {
            long length = raf.length();
            if (length == 0) {
                return true;
            }
            raf.seek(length - 1);
            return raf.read() == '\n';
        }
    }
}
