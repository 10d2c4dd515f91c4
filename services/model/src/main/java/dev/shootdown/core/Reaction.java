package dev.shootdown.core;

import dev.shootdown.event.Family;
import java.util.EnumSet;
import java.util.Objects;
import java.util.Set;

/**
 * What taking one kind of input can lead to at the soonest: the families of the events a node
 * may send other nodes while it takes it, and how long after it the first of the timers it arms
 * that can send another node anything may fire ({@link Long#MAX_VALUE}: none; timers that only
 * move the node's own state on, such as a first CMD_SYNC, may fire sooner). A node states it for the host's time
 * protocol, which lets the node's neighbours run ahead of it by as much (a CPU taking a flush IPI
 * answers with its acknowledgement, an IPI, and nothing sooner; an IOMMU taking an invalidation
 * answers after its CMD_SYNC). A claim the node breaks stops the run; it never changes it.
 */
public record Reaction(Set<Family> sends, long timersAfterNs) {

    /** Anything, at once: what a node that states nothing is taken to do. */
    public static final Reaction ANY = new Reaction(EnumSet.allOf(Family.class), 0);

    public Reaction {
        Objects.requireNonNull(sends, "sends");
        sends = sends.isEmpty() ? Set.of() : Set.copyOf(EnumSet.copyOf(sends));
        if (timersAfterNs < 0) {
            throw new IllegalArgumentException("timersAfterNs must not be negative: " + timersAfterNs);
        }
    }

    /** Sends events of {@code families} at once and arms no timer. */
    public static Reaction sends(Family first, Family... rest) {
        return new Reaction(EnumSet.of(first, rest), Long.MAX_VALUE);
    }

    /** Sends nothing at once; the timers it arms send other nodes nothing sooner than {@code ns} after it. */
    public static Reaction timersAfter(long ns) {
        return new Reaction(Set.of(), ns);
    }
}
