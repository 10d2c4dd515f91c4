package dev.shootdown.log;

import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.Reader;

/**
 * How {@link LogStream} reads a log's lines: as {@link java.io.BufferedReader#readLine} splits
 * them, into a buffer reused from line to line, each hashed where it lies (for duplicate
 * detection), counting the bytes read for a progress bar.
 */
final class LogLines {

    private LogLines() {}

    /**
     * One line's characters (at most {@link LogStream#MAX_LINE_CHARS} + 1 of them), in an array reused from
     * line to line: the decoder parses them where they are, and a {@code String} is made only for
     * a line it cannot decode the fast way.
     */
    static final class Line {
        char[] chars = new char[1024];
        int length;

        void set(char[] from, int start, int n) {
            ensure(n);
            System.arraycopy(from, start, chars, 0, n);
            length = n;
        }

        void set(StringBuilder from) {
            ensure(from.length());
            from.getChars(0, from.length(), chars, 0);
            length = from.length();
        }

        private void ensure(int n) {
            if (chars.length < n) {
                chars = new char[Math.max(n, chars.length * 2)];
            }
        }

        /** As {@link String#isBlank}: empty or only white space. */
        boolean isBlank() {
            for (int i = 0; i < length; i++) {
                if (!Character.isWhitespace(chars[i])) {
                    return false;
                }
            }
            return true;
        }
    }

    /**
     * A 64-bit hash of the line's characters: four interleaved FNV-1a-style lanes (every fourth
     * pair of characters each, so the multiplications do not wait on one another), folded with
     * the length.
     */
    static long hash(String text) {
        return hash(text.toCharArray(), 0, text.length());
    }

    /** {@link #hash(String)} of the {@code n} characters from {@code from}: the line reader's, on its buffer. */
    static long hash(char[] text, int from, int n) {
        long h0 = 0xcbf29ce484222325L;
        long h1 = 0x84222325cbf29ce4L;
        long h2 = 0x9e3779b97f4a7c15L;
        long h3 = 0xc2b2ae3d27d4eb4fL;
        int i = from;
        int end = from + n;
        for (; i + 7 < end; i += 8) { // two characters per lane and step: half the multiplications
            h0 = (h0 ^ (text[i] | (long) text[i + 1] << 16)) * 0x100000001b3L;
            h1 = (h1 ^ (text[i + 2] | (long) text[i + 3] << 16)) * 0x100000001b3L;
            h2 = (h2 ^ (text[i + 4] | (long) text[i + 5] << 16)) * 0x100000001b3L;
            h3 = (h3 ^ (text[i + 6] | (long) text[i + 7] << 16)) * 0x100000001b3L;
        }
        for (; i < end; i++) {
            h0 = (h0 ^ text[i]) * 0x100000001b3L;
        }
        long h = h0 ^ Long.rotateLeft(h1, 16) ^ Long.rotateLeft(h2, 32) ^ Long.rotateLeft(h3, 48) ^ n;
        return (h ^ (h >>> 29)) * 0xbf58476d1ce4e5b9L;
    }

    /** Counts the bytes read from the file. */
    static final class CountingInputStream extends FilterInputStream {
        long count;

        CountingInputStream(InputStream in) {
            super(in);
        }

        @Override
        public int read() throws IOException {
            int b = super.read();
            if (b >= 0) {
                count++;
            }
            return b;
        }

        @Override
        public int read(byte[] b, int off, int len) throws IOException {
            int n = super.read(b, off, len);
            if (n > 0) {
                count += n;
            }
            return n;
        }

        @Override
        public long skip(long n) throws IOException {
            long skipped = super.skip(n);
            count += skipped;
            return skipped;
        }
    }

    /**
     * Lines as {@link java.io.BufferedReader#readLine} splits them (at \n, \r or \r\n), keeping at
     * most {@link LogStream#MAX_LINE_CHARS} characters of each, and the last character of the stream.
     */
    static final class LineReader {
        private final Reader in;
        private final char[] buf = new char[1 << 16];
        private final StringBuilder line = new StringBuilder();
        private int pos;
        private int end;
        private boolean skipLf;
        /** The full length of the line last returned. */
        long length;
        /** {@link #hash(String)} of the line last returned. */
        long hash;
        /** The last character read from the stream, -1 when none. */
        int lastChar = -1;

        LineReader(Reader in) {
            this.in = in;
        }

        /** Reads the next line into {@code into}; false at the end of the stream. */
        boolean readLine(Line into) throws IOException {
            line.setLength(0);
            length = 0;
            boolean any = false;
            while (true) {
                if (pos >= end) {
                    int n = in.read(buf, 0, buf.length);
                    if (n <= 0) {
                        pos = 0;
                        end = 0;
                        return any && kept(into);
                    }
                    pos = 0;
                    end = n;
                    lastChar = buf[n - 1];
                }
                if (skipLf) {
                    skipLf = false;
                    if (buf[pos] == '\n') {
                        pos++;
                        continue;
                    }
                }
                int start = pos;
                while (pos < end && buf[pos] != '\n' && buf[pos] != '\r') {
                    pos++;
                }
                if (!any && pos < end) {
                    // The whole line is in the buffer (nearly every line): one copy, hashed where it lies.
                    length = pos - start;
                    int kept = Math.min(pos - start, LogStream.MAX_LINE_CHARS + 1);
                    hash = hash(buf, start, kept);
                    into.set(buf, start, kept);
                    skipLf = buf[pos] == '\r';
                    pos++;
                    return true;
                }
                any = true;
                keep(start, pos);
                if (pos < end) {
                    skipLf = buf[pos] == '\r';
                    pos++;
                    return kept(into);
                }
            }
        }

        /** The line gathered across buffers, and its hash; true. */
        private boolean kept(Line into) {
            into.set(line);
            hash = LogLines.hash(into.chars, 0, into.length);
            return true;
        }

        private void keep(int from, int to) {
            length += to - from;
            int room = LogStream.MAX_LINE_CHARS + 1 - line.length();
            if (room > 0) {
                line.append(buf, from, Math.min(room, to - from));
            }
        }

        void close() throws IOException {
            in.close();
        }
    }
}
