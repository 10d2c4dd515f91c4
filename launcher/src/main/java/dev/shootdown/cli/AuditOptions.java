package dev.shootdown.cli;

import dev.shootdown.cli.run.BadInputException;
import dev.shootdown.log.LogFile;
import dev.shootdown.log.LogStream;
import java.io.IOException;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import picocli.CommandLine.Option;

/** How a log is audited, shared by {@code audit} and {@code replay} (a picocli mixin). */
final class AuditOptions {

    @Option(names = "--livelock-threshold", defaultValue = "16", paramLabel = "K",
            description = "Report a device livelock after K faults on one address. Default: ${DEFAULT-VALUE}")
    int livelockThreshold;

    /** K, checked. */
    int livelockThreshold() throws BadInputException {
        return checkedThreshold(livelockThreshold);
    }

    static int checkedThreshold(int k) throws BadInputException {
        if (k < 1) {
            throw new BadInputException("--livelock-threshold must be at least 1, was " + k);
        }
        return k;
    }

    /** Opens an exported log to stream it, or says in one line why it cannot. */
    static LogStream open(Path file) throws BadInputException {
        return orSay(file, LogStream::open);
    }

    /** Reads an exported log, or says in one line why it cannot. */
    static LogFile.Contents read(Path file) throws BadInputException {
        return orSay(file, LogFile::read);
    }

    private interface Opener<T> {
        T open(Path file) throws IOException;
    }

    private static <T> T orSay(Path file, Opener<T> opener) throws BadInputException {
        try {
            return opener.open(file);
        } catch (NoSuchFileException e) {
            throw new BadInputException("--log " + file + ": no such file");
        } catch (IOException e) {
            throw new BadInputException("--log " + file + ": cannot read it (" + e.getMessage() + ")");
        }
    }
}
