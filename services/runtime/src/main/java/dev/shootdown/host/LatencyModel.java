package dev.shootdown.host;

import dev.shootdown.event.Envelope;
import dev.shootdown.event.Event;
import dev.shootdown.event.Family;
import dev.shootdown.event.IpiEvent;
import dev.shootdown.event.NodeIds;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.random.RandomGenerator;

/**
 * Simulated delivery latency of each kind of message, in nanoseconds: an IPI, an IOMMU command
 * or completion, a page-table walk's memory read, a fault's trip through the kernel. Each
 * delivery adds jitter of up to half the base, a pure function of the run's seed, the message and
 * its destination ({@link #sampleNs}), so that every host computes the same delivery times.
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

    /** The nominal latency of an event of {@code family} (not the initiator's own flush_tlb_func). */
    public long baseNs(Family family) {
        return baseNs.get(family);
    }

    /** The base latency plus uniform jitter in [0, base/2], drawn from {@code random}. */
    public long sampleNs(Event event, RandomGenerator random) {
        long base = baseNs(event);
        return base == 0 ? 0 : base + random.nextLong(base / 2 + 1);
    }

    /**
     * The latency of {@code message}'s delivery to {@code target}: the base plus jitter in
     * [0, base/2] taken from a hash of the run's seed, the sender, its sequence number and the
     * destination. No host state enters it, so the sender, the receiver, the deterministic engine
     * and the Kafka host all compute the same value.
     */
    public long sampleNs(Envelope message, String target, long seed) {
        long base = baseNs(message.event());
        if (base == 0) {
            return 0;
        }
        long h = mix64(seed ^ mix64(message.node().hashCode() * 0x9E3779B97F4A7C15L + message.seq())
                ^ mix64(target.hashCode() + 0x632BE59BD9B4E019L));
        return base + Long.remainderUnsigned(h, base / 2 + 1);
    }

    /**
     * The smallest latency any delivered message can have: nothing a node emits at time t reaches
     * another node before t + lookahead.
     */
    public long lookaheadNs() {
        long min = LOCAL_CALL_NS;
        for (Family f : DELIVERED) {
            min = Math.min(min, baseNs.get(f));
        }
        if (min <= 0) {
            throw new IllegalStateException("a delivered family has no latency: the hosts need a positive lookahead");
        }
        return min;
    }

    /**
     * The smallest latency of anything {@code from} can send {@code to}: nothing {@code from}
     * emits at time t reaches {@code to} before t + this; {@link Long#MAX_VALUE} when it never
     * sends it anything. The hosts' time windows rest on it ({@link CausalClock}), and every host
     * checks each message against it ({@link #checkLink}).
     *
     * <p>It follows how the nodes are wired: the kernel's mm ({@code coordinator}) talks to every
     * node, with anything down to the initiating CPU's own flush_tlb_func, a function call; a CPU
     * talks only to the mm (system calls, page walks, faults, its flush acknowledgements: IPIs
     * to other CPUs are sent by the mm on the initiator's behalf, as {@code smp_call_function_many}
     * runs in the initiator's kernel); an IOMMU talks only to the mm (page walks, page requests,
     * invalidation completions); the run controller starts every node.
     */
    public long lookaheadNs(String from, String to) {
        if (from.equals(to)) {
            return Long.MAX_VALUE; // a node's own steps are function calls, not messages
        }
        if (from.equals(NodeIds.COORDINATOR) || from.equals(NodeIds.CONTROL)) {
            return lookaheadNs();
        }
        if (!to.equals(NodeIds.COORDINATOR)) {
            return Long.MAX_VALUE;
        }
        List<Family> sent = from.startsWith("cpu") ? CPU_SENDS : from.startsWith("iommu") ? IOMMU_SENDS : DELIVERED;
        long min = Long.MAX_VALUE;
        for (Family f : sent) {
            min = Math.min(min, baseNs.get(f));
        }
        return min;
    }

    /**
     * Checks that {@code message}'s delivery to {@code target}, {@code latencyNs} after it was
     * sent, keeps to {@link #lookaheadNs(String, String)}.
     *
     * @throws IllegalStateException when it does not: the wiring above is wrong, and a host's
     *         window could let a node run past an input still on its way
     */
    public void checkLink(Envelope message, String target, long latencyNs) {
        long min = lookaheadNs(message.node(), target);
        if (latencyNs < min) {
            throw new IllegalStateException(message.id() + " (" + message.event().type().typeName() + ") reaches " + target
                    + " " + latencyNs + " ns after it was sent, but the latency model says nothing from " + message.node()
                    + " reaches it in under " + (min == Long.MAX_VALUE ? "ever" : min + " ns"));
        }
    }

    /** What a CPU sends the mm: system calls, page walks, page faults, flush acknowledgements. */
    private static final List<Family> CPU_SENDS = List.of(Family.SYSCALL, Family.WALK, Family.FAULT, Family.IPI);
    /** What an IOMMU sends the mm: page walks, page requests (faults), invalidation completions. */
    private static final List<Family> IOMMU_SENDS = List.of(Family.WALK, Family.FAULT, Family.SECONDARY_TLB);

    /** The families whose events are delivered to nodes (page-table and trace events are facts). */
    private static final List<Family> DELIVERED = List.of(
            Family.IPI, Family.SECONDARY_TLB, Family.WALK, Family.FAULT, Family.SYSCALL, Family.CONTROL);

    /** SplitMix64's finalizer (Steele, Lea, Flood 2014): a well-mixed 64-bit hash of {@code z}. */
    private static long mix64(long z) {
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }
}
