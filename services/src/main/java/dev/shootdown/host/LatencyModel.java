package dev.shootdown.host;

import dev.shootdown.event.Event;
import dev.shootdown.event.Family;
import dev.shootdown.event.IpiEvent;
import java.util.EnumMap;
import java.util.Map;
import java.util.random.RandomGenerator;

/**
 * Simulated delivery latency of each kind of message, in nanoseconds: an IPI, an IOMMU command
 * or completion, a page-table walk's memory read, a fault's trip through the kernel. The
 * deterministic engine adds seeded jitter of up to half the base; the Kafka host uses the base.
 */
public final class LatencyModel {

    /** The initiator's own flush_tlb_func is a function call, not an IPI. */
    static final long LOCAL_CALL_NS = 50L;

    private final Map<Family, Long> baseNs = new EnumMap<>(Family.class);

    public static LatencyModel defaults() {
        LatencyModel m = new LatencyModel();
        m.baseNs.put(Family.IPI, 1_000L);
        m.baseNs.put(Family.SECONDARY_TLB, 400L);
        m.baseNs.put(Family.WALK, 200L);
        m.baseNs.put(Family.FAULT, 1_500L);
        m.baseNs.put(Family.SYSCALL, 100L);
        m.baseNs.put(Family.CONTROL, 50L);
        m.baseNs.put(Family.PAGETABLE, 0L);
        m.baseNs.put(Family.TRACE, 0L);
        return m;
    }

    /** The nominal latency of {@code event}'s delivery. */
    public long baseNs(Event event) {
        if (event instanceof IpiEvent.FlushTlb f && !f.viaIpi()) {
            return LOCAL_CALL_NS;
        }
        return baseNs.get(event.family());
    }

    /** The base latency plus uniform jitter in [0, base/2], drawn from {@code random}. */
    public long sampleNs(Event event, RandomGenerator random) {
        long base = baseNs(event);
        return base == 0 ? 0 : base + random.nextLong(base / 2 + 1);
    }
}
