package dev.shootdown.audit;

import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Where every check reports what it found: each violation once (by kind, node and chain, while
 * one envelope is handled; or once per kind, node, mm and address of a live shootdown), counted,
 * grouped by shootdown and kind, and handed to the sink.
 */
final class Verdicts {

    private final Auditor.Sink sink;
    private long count;
    /** Keys (kind, node, chain) reported while handling the current envelope: every chain names it. */
    private final Set<String> reported = new HashSet<>();
    /** Every violation settled, grouped by shootdown and kind (bounded). */
    final ViolationGroups groups = new ViolationGroups();
    /** Per live shootdown, keys (kind, node, mm, va) of what was reported about it. */
    private final Map<Long, Set<String>> reportedPerShootdown = new HashMap<>();
    /** Per live shootdown, keys of the missing secondary invalidations found at its return or finish. */
    private final Map<Long, Set<String>> reportedAtEnd = new HashMap<>();

    Verdicts(Auditor.Sink sink) {
        this.sink = sink;
    }

    /** The next envelope is handled (or the end's next finding): chains name it, not the last one. */
    void nextEnvelope() {
        reported.clear();
    }

    long count() {
        return count;
    }

    /**
     * Reports a violation of {@code shootdown} (0: of none) unless the same one (kind, node,
     * chain) was; returns it, or null if it was.
     */
    Violation violate(long shootdown, ViolationKind kind, String node, long mm, String va, List<String> chain, String explanation) {
        Violation v = found(shootdown, kind, node, mm, va, chain, explanation);
        if (v != null) {
            emit(v);
        }
        return v;
    }

    /**
     * A violation, unless the same one (kind, node, chain) was found: every chain ends with the
     * envelope being handled, so only the ones found for it need remembering. Not yet reported:
     * {@link #emit} does that.
     */
    Violation found(long shootdown, ViolationKind kind, String node, long mm, String va, List<String> chain, String explanation) {
        if (!reported.add(kind + "|" + node + "|" + chain)) {
            return null;
        }
        return new Violation(kind.label(), node, mm, va, chain, explanation, shootdown);
    }

    void emit(Violation v) {
        count++;
        groups.add(v);
        sink.onViolation(v);
    }

    /** A violation reported at most once per (kind, node, mm, va) of a live shootdown. */
    void violateOncePerShootdown(ViolationKind kind, String node, long mm, String va, List<String> chain, String explanation,
            long shootdown) {
        if (reportedPerShootdown.computeIfAbsent(shootdown, k -> new HashSet<>()).add(key(kind, node, mm, va))) {
            violate(shootdown, kind, node, mm, va, chain, explanation);
        }
    }

    /** Notes that {@code shootdown} (live) was reported for (kind, node, mm, va), as {@link #violateOncePerShootdown} does. */
    void reportedFor(long shootdown, ViolationKind kind, String node, long mm, String va) {
        reportedPerShootdown.computeIfAbsent(shootdown, k -> new HashSet<>()).add(key(kind, node, mm, va));
    }

    /** Notes a finding of {@code shootdown}'s return or finish, which the frees after it do not report again. */
    void reportedAtEnd(long shootdown, ViolationKind kind, String node, long mm, String va) {
        reportedAtEnd.computeIfAbsent(shootdown, k -> new HashSet<>()).add(key(kind, node, mm, va));
    }

    /** Whether {@code shootdown}'s return or finish reported (kind, node, mm, va). */
    boolean wasReportedAtEnd(long shootdown, ViolationKind kind, String node, long mm, String va) {
        return reportedAtEnd.getOrDefault(shootdown, Set.of()).contains(key(kind, node, mm, va));
    }

    /** The shootdown was let go: nothing more is reported of it once per shootdown. */
    void forget(long shootdown) {
        reportedPerShootdown.remove(shootdown);
        reportedAtEnd.remove(shootdown);
    }

    private static String key(ViolationKind kind, String node, long mm, String va) {
        return kind + "|" + node + "|" + mm + "|" + va;
    }
}
