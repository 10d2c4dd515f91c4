package dev.shootdown.core;

/**
 * A node asks its host to deliver {@code TimerFired(name)} at simulated time {@code fireAtNs}. A
 * later request with the same name replaces an armed one (mod_timer); {@link #cancel} disarms it.
 */
public record TimerRequest(String name, long fireAtNs) {

    public static TimerRequest cancel(String name) {
        return new TimerRequest(name, -1L);
    }

    public boolean isCancel() {
        return fireAtNs < 0;
    }
}
