package dev.shootdown.audit;

import dev.shootdown.audit.Mirrors.Cached;
import dev.shootdown.audit.Mirrors.PteKey;
import dev.shootdown.event.Access;
import dev.shootdown.event.Envelope;
import dev.shootdown.event.Event;
import dev.shootdown.event.Kernel;
import dev.shootdown.event.TraceEvent;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

/**
 * {@code stale-translation-use}: no access through a translation cached before a PTE change
 * whose operation was done before the access (its system call returned, or its flush finished)
 * and that forbids it: an unmap, for any access; a write-protection, for a write through a
 * writable translation. A finding waits until its access can no longer turn out to be a use
 * after free ({@link UseAfterFree} withdraws it then): the frame's free, a later access through
 * the same cache, the allocation let go, or the end.
 */
final class StaleTranslationUse {

    /**
     * A PTE change that makes every translation cached before it stale, for any access
     * (PteCleared) or for writes (PteProtectionChanged to read-only), once its shootdown is done.
     */
    private record Guard(Envelope change, LiveShootdown sd, boolean writesOnly) {}

    private final Mirrors mirrors;
    private final Verdicts verdicts;
    private final Map<PteKey, List<Guard>> guards = new HashMap<>();
    /** Access id -> its stale-translation-use, withdrawn if the access turns out to be a use after free. */
    private final Map<String, Violation> pending = new LinkedHashMap<>();

    StaleTranslationUse(Mirrors mirrors, Verdicts verdicts) {
        this.mirrors = mirrors;
        this.verdicts = verdicts;
    }

    /** A PTE of {@code sd} was cleared ({@code writesOnly} false) or made read-only ({@code writesOnly} true). */
    void pteChanged(PteKey key, Envelope change, LiveShootdown sd, boolean writesOnly) {
        addGuard(key, new Guard(change, sd, writesOnly));
    }

    /**
     * Adds a guard to a page, first letting go of the ones that can no longer catch anything.
     * A guard matters while its shootdown is in flight, while a page-walk result for the page is
     * in flight (it may fill a translation older than the change), and, once its shootdown is
     * done, as the first guard of its kind after a translation some cache still holds.
     */
    private void addGuard(PteKey key, Guard guard) {
        List<Guard> list = guards.computeIfAbsent(key, k -> new ArrayList<>());
        if (!list.isEmpty() && !mirrors.walkInFlight(key)) {
            List<Cached> held = new ArrayList<>();
            for (TreeMap<Long, Cached> cache : mirrors.caches.values()) {
                Cached c = cache.get(key.va());
                if (c != null) {
                    held.add(c);
                }
            }
            Set<Guard> keep = Collections.newSetFromMap(new IdentityHashMap<>());
            for (Guard g : list) {
                if (g.sd().returned == null && g.sd().finished == null) {
                    keep.add(g);
                }
            }
            for (Cached c : held) {
                boolean any = false;
                boolean writes = false;
                for (Guard g : list) {
                    if (g.change().happenedBefore(c.fill()) || keep.contains(g)) {
                        continue;
                    }
                    if (g.writesOnly() ? !writes : !any) {
                        keep.add(g);
                        writes |= g.writesOnly();
                        any |= !g.writesOnly();
                    }
                }
            }
            list.removeIf(g -> !keep.contains(g));
        }
        list.add(guard);
    }

    /**
     * An access through a cached translation filled before a PTE change whose operation is done
     * (returned or finished, before the access) and that should have prevented it.
     */
    void access(Envelope e, String who, long mm, long va, String holder, Access access) {
        Cached cached = mirrors.cached(holder, va);
        if (cached == null) {
            return;
        }
        for (Guard g : guards.getOrDefault(PteKey.of(mm, va), List.of())) {
            if (g.writesOnly() && (!access.isWrite() || !filledWritable(cached.fill()))) {
                continue;
            }
            if (g.change().happenedBefore(cached.fill())) {
                continue; // filled after the change: a fresh translation
            }
            Envelope done = g.sd().doneBefore(e);
            if (done == null) {
                continue;
            }
            String verb = access.isWrite() ? "wrote" : "read";
            List<String> chain = List.of(cached.fill().id(), g.change().id(), done.id(), e.id());
            String ended = done == g.sd().returned ? g.sd().caller + " returned" : "the shootdown finished";
            String explanation = who + " " + verb + " " + Kernel.hex(va) + " of mm " + mm + " through " + holder
                    + "'s translation filled by " + cached.fill().id() + " before the PTE was "
                    + LiveShootdown.changed(g.change()) + " (" + g.change().id() + ", shootdown " + g.sd().id + ", "
                    + g.sd().caller + ") and after " + ended + " (" + done.id() + "): that translation should have been invalidated";
            Violation v = verdicts.found(g.sd().id, ViolationKind.STALE_TRANSLATION_USE, e.node(), mm, Kernel.hex(va), chain, explanation);
            if (v != null) {
                pending.put(e.id(), v); // settled when the access can no longer be a use after free
            }
            return;
        }
    }

    private static boolean filledWritable(Envelope fill) {
        Event ev = fill.event();
        if (ev instanceof TraceEvent.TlbFilled f) {
            return f.writable();
        }
        if (ev instanceof TraceEvent.IotlbFilled f) {
            return f.writable();
        }
        return ev instanceof TraceEvent.AtcFilled f && f.writable();
    }

    /** The access's pending finding, if any, is final: it is reported. */
    void settle(Envelope access) {
        Violation stale = pending.remove(access.id());
        if (stale != null) {
            verdicts.emit(stale);
        }
    }

    /** The access turned out to be a use after free, which says more: its finding is dropped. */
    void withdraw(Envelope access) {
        pending.remove(access.id());
    }

    /** At the end: every pending finding is final. */
    void finish() {
        new ArrayList<>(pending.values()).forEach(verdicts::emit);
        pending.clear();
    }

    int pending() {
        return pending.size();
    }

    int guards() {
        return guards.values().stream().mapToInt(List::size).sum();
    }
}
