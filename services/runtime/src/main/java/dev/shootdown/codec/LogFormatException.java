package dev.shootdown.codec;

import dev.shootdown.core.OneLine;

/** A log line that is not a valid event envelope; the message says what was wrong. */
public final class LogFormatException extends Exception {
    private static final long serialVersionUID = 1L;

    /** {@code message} on one line: a line break it quotes from the input is written as {@code \\n}. */
    public LogFormatException(String message, Throwable cause) {
        super(OneLine.of(message), cause);
    }
}
