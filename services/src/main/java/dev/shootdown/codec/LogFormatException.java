package dev.shootdown.codec;

/** A log line that is not a valid event envelope; the message says what was wrong. */
public final class LogFormatException extends Exception {
    private static final long serialVersionUID = 1L;

    public LogFormatException(String message, Throwable cause) {
        super(message, cause);
    }
}
