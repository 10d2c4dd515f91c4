package dev.shootdown.bench.jmh;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.shootdown.codec.EventCodec;
import dev.shootdown.codec.LogFormatException;
import dev.shootdown.event.Envelope;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;

/**
 * {@link EventCodec} on representative envelopes: the first {@value #ENVELOPES} of a
 * kswapd-reclaim x86 series-v2 run (seed 1: page faults and walks, fills and accesses, batched
 * reclaim with its IPIs, secondary-TLB hook, IOTLB and ATC invalidations, frees), taken in turn.
 * Each has a reference on the same JSON: {@link #encode} against a plain {@link ObjectMapper}
 * writing the line's tree ({@link #encodeReference}), {@link #decode} against the plain
 * mapper's {@code readTree} of the line ({@link #decodeReference}, what the audit's benchmark
 * compares with too). One envelope per operation.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
public class CodecBenchmark {

    static final int ENVELOPES = 4096;

    private final ObjectMapper plain = new ObjectMapper();
    private Envelope[] envelopes;
    private String[] lines;
    private JsonNode[] trees;
    private int next;

    @Setup
    public void setUp() throws Exception {
        List<Envelope> log = new RecordedRun("kswapd-reclaim", "x86", "series-v2", 1, List.of()).log;
        int n = Math.min(ENVELOPES, log.size());
        envelopes = log.subList(0, n).toArray(Envelope[]::new);
        lines = new String[n];
        trees = new JsonNode[n];
        for (int i = 0; i < n; i++) {
            lines[i] = EventCodec.encode(envelopes[i]);
            trees[i] = plain.readTree(lines[i]);
        }
    }

    private int advance() {
        int i = next;
        next = i + 1 == envelopes.length ? 0 : i + 1;
        return i;
    }

    @Benchmark
    public String encode() {
        return EventCodec.encode(envelopes[advance()]);
    }

    @Benchmark
    public String encodeReference() throws Exception {
        return plain.writeValueAsString(trees[advance()]);
    }

    @Benchmark
    public Envelope decode() throws LogFormatException {
        return EventCodec.decode(lines[advance()]);
    }

    @Benchmark
    public JsonNode decodeReference() throws Exception {
        return plain.readTree(lines[advance()]);
    }
}
