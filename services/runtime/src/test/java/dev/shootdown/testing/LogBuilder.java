package dev.shootdown.testing;

import dev.shootdown.event.Envelope;
import dev.shootdown.event.Event;
import dev.shootdown.event.VectorClock;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * Builds a causally consistent log by hand for tests: each node's events get consecutive
 * sequence numbers and vector clocks that include whatever the event was caused by.
 */
public final class LogBuilder {
    private final String run;
    private final Map<String, Long> seqs = new HashMap<>();
    private final Map<String, VectorClock> clocks = new HashMap<>();
    private final List<Envelope> log = new ArrayList<>();

    public LogBuilder(String run) {
        this.run = run;
    }

    /** {@code node} emits {@code event} at {@code timeNs} after having seen {@code seen}. */
    public Envelope emit(String node, long timeNs, Event event, Envelope... seen) {
        VectorClock clock = clocks.getOrDefault(node, VectorClock.EMPTY);
        for (Envelope s : seen) {
            clock = clock.merge(s.clock());
        }
        long seq = seqs.merge(node, 1L, Long::sum);
        clock = clock.with(node, seq);
        clocks.put(node, clock);
        Envelope e = new Envelope(run, node, seq, Envelope.SCHEMA_VERSION, timeNs, clock,
                seen.length == 0 ? null : seen[seen.length - 1].id(), new TreeMap<>(), event);
        log.add(e);
        return e;
    }

    public List<Envelope> log() {
        return List.copyOf(log);
    }
}
