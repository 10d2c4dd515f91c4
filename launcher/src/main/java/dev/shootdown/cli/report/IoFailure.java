package dev.shootdown.cli.report;

import java.io.IOException;
import java.nio.file.FileSystemException;
import java.nio.file.Path;

/**
 * A file the command could not read or write, named: a full disk says which file it was writing
 * ({@code /out/events.jsonl: cannot write: No space left on device}), not merely that one was.
 */
public final class IoFailure extends IOException {

    private IoFailure(String message, IOException cause) {
        super(message, cause);
    }

    /** {@code e}, which happened while the command was to {@code verb} {@code file}, with the file's name. */
    public static IOException named(Path file, String verb, IOException e) {
        if (e instanceof IoFailure) {
            return e;
        }
        String reason = e instanceof FileSystemException fs && fs.getReason() != null ? fs.getReason()
                : e.getMessage() != null ? e.getMessage() : e.getClass().getSimpleName();
        return new IoFailure(file + ": cannot " + verb + ": " + reason, e);
    }
}
