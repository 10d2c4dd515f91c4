package dev.shootdown.audit;

import dev.shootdown.audit.Mirrors.AccessSeen;
import dev.shootdown.audit.Mirrors.FrameKey;
import dev.shootdown.audit.Mirrors.Holding;
import dev.shootdown.event.Access;
import dev.shootdown.event.Envelope;
import dev.shootdown.event.Kernel;
import dev.shootdown.event.PageTableEvent;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * {@code use-after-free}: no access through a translation to a frame allocation after it was
 * freed, unless ordered before the free. An access not ordered before the free that came first in
 * simulated time is a {@code race-with-free} instead: its translation was not invalidated before
 * the free, which a use after free can follow. Each cache's latest access of an allocation is
 * judged at its free; an access through a cache is checked for a stale translation
 * ({@link StaleTranslationUse}) first, and that finding withdrawn if it is a use after free.
 */
final class UseAfterFree {

    private final Mirrors mirrors;
    private final Verdicts verdicts;
    private final StaleTranslationUse stale;

    UseAfterFree(Mirrors mirrors, Verdicts verdicts, StaleTranslationUse stale) {
        this.mirrors = mirrors;
        this.verdicts = verdicts;
        this.stale = stale;
    }

    /** A CPU or device access to {@code frame} through {@code holder} ({@code cached}: a TLB, IOTLB or ATC hit). */
    void access(Envelope e, String who, long mm, long va, FrameKey frame, String holder, Access access, boolean cached) {
        Envelope free = mirrors.freed.get(frame);
        Envelope letGo = free == null ? mirrors.freeLetGo(frame) : null;
        if (letGo == null) {
            AccessSeen previous = mirrors.lastAccess.computeIfAbsent(frame, k -> new HashMap<>()).put(holder, new AccessSeen(e, mm, va));
            if (previous != null) {
                stale.settle(previous.envelope()); // only the latest access of a cache is judged at the free
            }
        } else {
            // Nothing should reach an allocation that was let go; if something does, it is a use after free all the same.
            verdicts.violate(shootdownOf(letGo), ViolationKind.USE_AFTER_FREE, e.node(), mm, Kernel.hex(va), List.of(letGo.id(), e.id()), who
                    + " accessed frame " + Kernel.hex(frame.frame()) + " of allocation " + frame.epoch() + " through " + holder
                    + ", which no cache held any more, after the frame was freed (by " + letGo.id()
                    + (((PageTableEvent.FrameFreed) letGo.event()).epoch() == frame.epoch() ? "" : " or earlier") + ")");
            return;
        }
        if (free == null && cached) {
            stale.access(e, who, mm, va, holder, access);
        }
        if (free != null) {
            Holding h = mirrors.holdings.getOrDefault(frame, Map.of()).get(holder);
            List<String> chain = new ArrayList<>();
            if (h != null) {
                chain.add(h.fill.id());
            }
            chain.add(free.id());
            chain.add(e.id());
            if (e.timeNs() > free.timeNs()) {
                verdicts.violate(shootdownOf(free), ViolationKind.USE_AFTER_FREE, e.node(), mm, Kernel.hex(va), chain, who
                        + " accessed freed frame " + Kernel.hex(frame.frame()) + " at " + us(e.timeNs())
                        + " through a stale translation in " + holder + ", after the frame was freed by " + free.id() + " at "
                        + us(free.timeNs()));
            } else {
                raceWithFree(e, free, mm, va, frame.frame(), holder, chain);
            }
        }
    }

    /** {@code frame} was freed ({@code free}): each cache's latest access of it not ordered before the free is judged. */
    void freed(Envelope free, PageTableEvent.FrameFreed f, FrameKey frame) {
        for (Map.Entry<String, AccessSeen> access : mirrors.lastAccess.getOrDefault(frame, Map.of()).entrySet()) {
            Envelope a = access.getValue().envelope();
            if (a.happenedBefore(free)) {
                stale.settle(a);
            } else {
                if (a.timeNs() > free.timeNs()) {
                    stale.withdraw(a); // the same access, now known to be a use after free
                    verdicts.violate(f.shootdownId(), ViolationKind.USE_AFTER_FREE, a.node(), access.getValue().mm(),
                            Kernel.hex(access.getValue().va()), List.of(a.id(), free.id()), "access " + a.id() + " through "
                                    + access.getKey() + " reached frame " + Kernel.hex(f.frame()) + " at " + us(a.timeNs())
                                    + ", after its free " + free.id() + " at " + us(free.timeNs()) + ", and is not ordered before it");
                } else {
                    // it came first: what it was stays (a stale translation use, if one), and it raced with the free
                    raceWithFree(a, free, access.getValue().mm(), access.getValue().va(), f.frame(), access.getKey(),
                            List.of(a.id(), free.id()));
                }
            }
        }
    }

    /**
     * An access not ordered before the free of its frame, but not after it in simulated time
     * either: a race with the free, not a use after free. The translation it used was not
     * invalidated before the free, which a use after free can follow.
     */
    private void raceWithFree(Envelope access, Envelope free, long mm, long va, long frame, String holder, List<String> chain) {
        verdicts.violate(shootdownOf(free), ViolationKind.RACE_WITH_FREE, access.node(), mm, Kernel.hex(va), chain, "access " + access.id()
                + " to frame " + Kernel.hex(frame) + " at " + us(access.timeNs()) + " through " + holder
                + " is not ordered before the free " + free.id() + " at " + us(free.timeNs())
                + ": it came first in simulated time, but nothing made the free wait"
                + " for it (its translation was not invalidated before the free)");
    }

    private static long shootdownOf(Envelope free) {
        return ((PageTableEvent.FrameFreed) free.event()).shootdownId();
    }

    private static String us(long ns) {
        return String.format(Locale.ROOT, "%.3f us", ns / 1000.0);
    }
}
