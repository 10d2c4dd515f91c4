package dev.shootdown.bench;

import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.shootdown.event.NodeIds;
import dev.shootdown.host.CausalClock;
import java.util.Map;
import org.junit.jupiter.api.Test;

class StatusTimesTest {

    private static CausalClock.Status status(String node, long seq, long taken) {
        return new CausalClock.Status(node, seq, taken, Map.of(), Map.of(), Long.MAX_VALUE, 1000 * seq, Map.of(), Map.of(), false,
                false);
    }

    /** Two exchanges: the mm says, cpu0 takes it and answers, the mm takes that and says again. */
    @Test
    void splitsTheTimeBetweenTheMmsStatusesIntoItsLegs() {
        StatusTimes t = new StatusTimes();
        long ms = 1_000_000;
        for (int i = 0; i < 2; i++) {
            long base = i * 10 * ms;
            CausalClock.Status mm = status(NodeIds.COORDINATOR, i + 1, i);
            CausalClock.Status leaf = status("cpu0", i + 1, i + 1);
            t.said(NodeIds.COORDINATOR, mm, base);
            t.heard("cpu0", mm, base + 2 * ms, base + 2 * ms + ms / 10); // 2 ms through Kafka, 0.1 ms to the verticle
            t.said("cpu0", leaf, base + 2 * ms + ms / 10 + ms / 5); // answers 0.2 ms after taking it
            t.heard(NodeIds.COORDINATOR, leaf, base + 5 * ms, base + 5 * ms + ms / 10); // 2.7 ms back
        }
        t.said(NodeIds.COORDINATOR, status(NodeIds.COORDINATOR, 3, 2), 20 * ms);
        String d = t.describe();
        assertTrue(d.contains("to a leaf's consumer 2.00 ms (2)"), d);
        assertTrue(d.contains("a leaf's to the mm's 2.70 ms (2)"), d);
        assertTrue(d.contains("handed over to the node's verticle 0.10 ms"), d);
        assertTrue(d.contains("a leaf says its next status 0.20 ms after the last status it took"), d);
        assertTrue(d.contains("the mm 4.90 ms"), d); // it said its next status 4.9 ms after taking cpu0's
        assertTrue(d.contains("10.00 ms from one of the mm's statuses to its next (2)"), d);
    }
}
