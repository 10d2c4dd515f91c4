package dev.shootdown.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The latency row's parts that need no broker: Kafka's output parsed, the verdict, statuses between two events. */
class LatencyBenchmarkTest {

    @Test
    void endToEndLatencysSummaryIsParsed() {
        String out = "Topic \"t\" does not exist. Will create topic with 1 partition(s) and replication factor = 1\n"
                + "0\t170.678356\n1000\t1.592964\nAvg latency: 2.5502 ms\nPercentiles: 50th = 1, 99th = 15, 99.9th = 98\n";

        LatencyBenchmark.EndToEnd e = LatencyBenchmark.parse(out, 5000);

        assertEquals(new LatencyBenchmark.EndToEnd(5000, 1, 15, 98, 2.5502), e);
        assertEquals(2.0, e.ms(0), "truncated to 1 ms: at most 2");
        assertEquals(99.0, e.ms(2));
        assertNull(LatencyBenchmark.parse("Avg latency: 2.5502 ms\n", 5000), "no percentiles: no result");
    }

    @Test
    void theVerdictIsMetOnlyWhenEveryPercentileIsWithinTwiceTheHops() {
        assertTrue(LatencyBenchmark.verdict(new double[] {1.2, 1.9, 2.0}).startsWith("met"));
        assertTrue(LatencyBenchmark.verdict(new double[] {2.01, 1.0, 1.0}).startsWith("missed"));
        String missed = LatencyBenchmark.verdict(new double[] {1.0, 1.5, 9.0});
        assertTrue(missed.startsWith("missed: at least p50 1.0x, p99 1.5x, p999 9.0x"), missed);
        assertTrue(missed.endsWith("4.5x over the 2x at the worst"), missed);
    }

    @Test
    void statusesBetweenCountTheMmsStatusesFromThePteChangeToTheLastCompletion() {
        List<Long> statusesMs = new ArrayList<>(List.of(1000L, 1010L, 1010L, 1020L, 1035L, 1050L));
        // published at 1_005 ms and 1_035 ms on the epoch clock (offset 1000 ms from nanoTime)
        ShootdownLatencies.Sample s = new ShootdownLatencies.Sample(1, "munmap", "coordinator#1", "iommu0#9", 5_000_000L,
                30_000_000L, 3);

        assertEquals(4, LatencyBenchmark.statusesBetween(statusesMs, s, 1000));
        assertEquals(0, LatencyBenchmark.statusesBetween(List.of(), s, 1000));
    }
}
