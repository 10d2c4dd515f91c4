package dev.shootdown.host.kafka;

/** The cluster could not be reached or did not do what was asked in time; one-line message. */
public final class InfrastructureException extends Exception {
    private static final long serialVersionUID = 1L;

    public InfrastructureException(String message) {
        super(message);
    }

    public InfrastructureException(String message, Throwable cause) {
        super(message, cause);
    }
}
