package dev.shootdown.host;

/**
 * An input came due before what its sender promised, or what was worked out for it
 * ({@link CausalClock#checkArrival}): the time protocol's claims were wrong, and the run stops
 * rather than take anything in an order the deterministic engine would not.
 */
public final class WrongPromiseException extends IllegalStateException {

    private static final long serialVersionUID = 1L;

    public WrongPromiseException(String message) {
        super(message);
    }
}
