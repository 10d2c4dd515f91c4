package dev.shootdown.broker;

/**
 * Thrown when {@link EmbeddedKafkaBroker#start(java.nio.file.Path)} cannot bring a broker to the
 * point where it answers requests.
 *
 * <p>The message is one line that says which step failed (preparing the log directory, choosing
 * ports, building the configuration, formatting storage, starting the server, or the readiness
 * check) and why; the underlying exception, if any, is the cause. By the time this is thrown the
 * half-started broker has been shut down and a temporary log directory created for it deleted.
 */
public final class BrokerStartException extends Exception {

    private static final long serialVersionUID = 1L;

    /**
     * @param message one line naming the step that failed and why
     */
    public BrokerStartException(String message) {
        super(message);
    }

    /**
     * @param message one line naming the step that failed and why
     * @param cause   the failure reported by Kafka or the JDK
     */
    public BrokerStartException(String message, Throwable cause) {
        super(message, cause);
    }
}
