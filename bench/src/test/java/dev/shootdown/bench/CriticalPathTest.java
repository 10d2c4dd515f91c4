package dev.shootdown.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.shootdown.event.Envelope;
import dev.shootdown.event.PageTableEvent;
import dev.shootdown.event.VectorClock;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;

/** The hops on a log's longest causal chain. */
class CriticalPathTest {

    private final List<Envelope> log = new ArrayList<>();
    private final Map<String, Long> seqs = new TreeMap<>();
    private final Map<String, VectorClock> clocks = new TreeMap<>();

    private Envelope emit(String node, Envelope cause) {
        long seq = seqs.merge(node, 1L, Long::sum);
        VectorClock clock = clocks.getOrDefault(node, VectorClock.EMPTY);
        if (cause != null) {
            clock = clock.merge(cause.clock());
        }
        clock = clock.with(node, seq);
        clocks.put(node, clock);
        Envelope e = new Envelope("r", node, seq, Envelope.SCHEMA_VERSION, seq, clock, cause == null ? null : cause.id(),
                new TreeMap<>(), new PageTableEvent.FrameFreed(1, 1, 1));
        log.add(e);
        return e;
    }

    @Test
    void countsTheMessagesBetweenNodesOnTheLongestChain() {
        Envelope start = emit("control", null);
        Envelope request = emit("coordinator", start); // 1
        Envelope ipi = emit("cpu0", request); // 2
        Envelope ack = emit("coordinator", ipi); // 3
        emit("coordinator", null); // a timer on the coordinator: after the ack, still 3
        emit("cpu1", start); // 1
        assertEquals(3, CriticalPath.hops(log));
        emit("cpu1", ack); // 4: an answer to the ack
        assertEquals(4, CriticalPath.hops(log));
        emit("cpu1", null); // the same node goes on: still 4
        assertEquals(4, CriticalPath.hops(log));
    }
}
