package dev.shootdown.ftrace;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.DigestInputStream;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.Iterator;
import java.util.NoSuchElementException;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** An ftrace capture on disk: read once to count and hash it, then as often as the importer asks. */
public final class FtraceFile implements FtraceImport.Capture {

    private static final Pattern CPUS = Pattern.compile("#P:(\\d+)");

    private final Path path;
    private final String sha256;
    private final long lines;
    private final int cpusInHeader;

    public FtraceFile(Path path) throws IOException {
        this.path = path;
        MessageDigest digest;
        try {
            digest = MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
        long count = 0;
        int cpus = 0;
        try (InputStream in = new DigestInputStream(Files.newInputStream(path), digest);
                BufferedReader r = new BufferedReader(new InputStreamReader(in, StandardCharsets.UTF_8))) {
            for (String line = r.readLine(); line != null; line = r.readLine()) {
                count++;
                if (cpus == 0 && line.startsWith("#")) {
                    Matcher m = CPUS.matcher(line);
                    if (m.find()) {
                        cpus = Integer.parseInt(m.group(1));
                    }
                }
            }
        }
        this.sha256 = HexFormat.of().formatHex(digest.digest());
        this.lines = count;
        this.cpusInHeader = cpus;
    }

    @Override
    public String file() {
        return path.getFileName().toString();
    }

    @Override
    public String sha256() {
        return sha256;
    }

    @Override
    public long lines() {
        return lines;
    }

    @Override
    public int cpusInHeader() {
        return cpusInHeader;
    }

    /** The file's lines, read lazily; an I/O error is an {@link UncheckedIOException}. */
    @Override
    public Iterator<String> open() {
        BufferedReader r;
        try {
            r = Files.newBufferedReader(path, StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return new Iterator<>() {
            private String next;
            private boolean done;

            @Override
            public boolean hasNext() {
                if (next == null && !done) {
                    try {
                        next = r.readLine();
                        if (next == null) {
                            done = true;
                            r.close();
                        }
                    } catch (IOException e) {
                        throw new UncheckedIOException(e);
                    }
                }
                return next != null;
            }

            @Override
            public String next() {
                if (!hasNext()) {
                    throw new NoSuchElementException();
                }
                String l = next;
                next = null;
                return l;
            }
        };
    }
}
