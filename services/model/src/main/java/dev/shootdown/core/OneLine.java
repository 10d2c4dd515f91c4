package dev.shootdown.core;

/** Messages of one line: what an input quotes (a key, a value) may hold line breaks; they are escaped. */
public final class OneLine {

    private OneLine() {}

    /** {@code message} with each CR and LF written as {@code \r} and {@code \n}; null stays null. */
    public static String of(String message) {
        if (message == null || message.indexOf('\n') < 0 && message.indexOf('\r') < 0) {
            return message;
        }
        return message.replace("\r", "\\r").replace("\n", "\\n");
    }
}
