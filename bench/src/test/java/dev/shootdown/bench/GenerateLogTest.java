package dev.shootdown.bench;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.shootdown.codec.EventCodec;
import dev.shootdown.codec.LogFormatException;
import dev.shootdown.event.ControlEvent;
import dev.shootdown.event.Envelope;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.zip.GZIPInputStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The log generator on a small count: the file is the run's first N events, in causal order, reproducibly. */
class GenerateLogTest {

    /** Tests run in the module's directory. */
    private static final String SOAK = "scenarios/soak-kswapd.yaml";
    private static final int N = 20_000;

    @TempDir
    Path dir;

    private Path generate(String name, long seed, String... extra) {
        return generate(name, N, seed, extra);
    }

    private Path generate(String name, int events, long seed, String... extra) {
        Path out = dir.resolve(name);
        String[] args = {"--scenario", SOAK, "--events", String.valueOf(events), "--seed", String.valueOf(seed),
            "--out", out.toString(), "--progress-every", "10000"};
        String[] all = new String[args.length + extra.length];
        System.arraycopy(args, 0, all, 0, args.length);
        System.arraycopy(extra, 0, all, args.length, extra.length);
        assertEquals(0, GenerateLog.run(all), "exit code");
        return out;
    }

    @Test
    void theFileHoldsExactlyNDecodableEventsInCausalOrder() throws IOException, LogFormatException {
        List<String> lines = Files.readAllLines(generate("soak.jsonl", 5), StandardCharsets.UTF_8);
        assertEquals(N, lines.size());
        Map<String, Long> seen = new HashMap<>();
        Set<String> kinds = new HashSet<>();
        for (int i = 0; i < lines.size(); i++) {
            Envelope e = EventCodec.decode(lines.get(i));
            if (i == 0) {
                ControlEvent.RunStarted started = assertInstanceOf(ControlEvent.RunStarted.class, e.event(), "first line");
                assertEquals(GenerateLog.ENDLESS_NS, started.scenario().end().afterNs(), "the window was made endless");
            }
            assertEquals(seen.getOrDefault(e.node(), 0L) + 1, e.seq(), "line " + (i + 1) + ": " + e.id() + " follows its node's previous event");
            for (Map.Entry<String, Long> c : e.clock().entries().entrySet()) {
                assertTrue(c.getKey().equals(e.node()) || seen.getOrDefault(c.getKey(), 0L) >= c.getValue(),
                        "line " + (i + 1) + ": " + e.id() + " depends on " + Envelope.id(c.getKey(), c.getValue())
                                + ", which is not on an earlier line");
            }
            seen.put(e.node(), e.seq());
            kinds.add(e.event().getClass().getSimpleName());
        }
        // The soak is the steady state it is meant to be: faults, reclaim flushes, frames recycled.
        for (String kind : List.of("PageFaultRaised", "TlbFlushStarted", "FlushTlb", "InvalidateSecondaryTlbs",
                "AtcInvalidated", "FrameFreed", "FrameAllocated", "DmaCompleted")) {
            assertTrue(kinds.contains(kind), "the log has a " + kind + ": " + kinds);
        }
    }

    @Test
    void theSameSeedGivesTheSameBytesAndGzipHoldsThem() throws IOException {
        int n = 5_000;
        byte[] first = Files.readAllBytes(generate("a.jsonl", n, 9));
        byte[] second = Files.readAllBytes(generate("b.jsonl", n, 9));
        assertArrayEquals(first, second);
        try (InputStream in = new GZIPInputStream(Files.newInputStream(generate("c.jsonl.gz", n, 9)))) {
            assertArrayEquals(first, in.readAllBytes());
        }
        assertTrue(!new String(first, StandardCharsets.UTF_8).equals(
                Files.readString(generate("d.jsonl", n, 10), StandardCharsets.UTF_8)), "another seed, another log");
    }

    @Test
    void aRunThatEndsBeforeNEventsSaysSo() {
        // kswapd-reclaim's window is 1 ms: some 14k events, fewer than N.
        Path out = dir.resolve("short.jsonl");
        int code = GenerateLog.run("--scenario", "kswapd-reclaim", "--keep-window", "--events", String.valueOf(N),
                "--out", out.toString());
        assertEquals(GenerateLog.EXIT_ENDED_EARLY, code);
    }
}
