package dev.shootdown.cli.run;

/** Bad input from the user (flag, scenario, file): exit 2 with this one-line message. */
public final class BadInputException extends Exception {
    private static final long serialVersionUID = 1L;

    public BadInputException(String message) {
        super(message);
    }

    /** Bad input found by a lower layer, whose exception --verbose shows. */
    public BadInputException(String message, Throwable cause) {
        super(message, cause);
    }
}
