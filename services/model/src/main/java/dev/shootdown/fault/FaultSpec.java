package dev.shootdown.fault;

import com.fasterxml.jackson.annotation.JsonInclude;
import java.util.Objects;

/**
 * One fault of a plan: its kind, which events it may hit (the filters), how often, and its
 * kind's parameters. Every field but {@code kind} is optional (null); {@link FaultKind#parameters}
 * and {@link FaultKind#required} say which parameters a kind takes. {@code FaultPlans} checks a
 * plan file against those rules; this record only holds what was written.
 *
 * <p>Matching, for a model fault, on the node it happens on: an event of the kind's type
 * ({@link FaultKind#event}) on a node named by {@code node} (null: any node of the right kind),
 * at a simulated time in [{@code afterNs}, {@code untilNs}) is a <i>match</i>. Matches are
 * counted from 1 on each node. With {@code nth}, matches before the nth are let through and
 * injection starts at the nth; each candidate from there is injected with {@code probability}
 * (default 1), until {@code count} injections were made on that node. {@code count} defaults to
 * 1 when {@code nth} is given and to unlimited otherwise.
 *
 * @param kind               what goes wrong
 * @param node               the node it happens on ({@code cpu1}, {@code iommu0}, {@code coordinator}); null: any
 * @param link               infrastructure: a link {@code sender>receiver}
 * @param topic              infrastructure: a topic (family) suffix ({@code ipi}, {@code secondary-tlb}, ...)
 * @param event              the stable JSON type name of the events it hits ({@code flush-tlb})
 * @param afterNs            simulated time from which it may hit, inclusive
 * @param untilNs            simulated time until which it may hit, exclusive
 * @param nth                the first match it hits, 1-based
 * @param count              at most this many injections (per node for model faults)
 * @param probability        the chance, in [0, 1], that a candidate match is hit (default 1)
 * @param delayNs            late-cmd-sync: how much later the CMD_SYNC completes
 * @param depth              prq-overflow: how many page requests the queue holds
 * @param retryNs            fast-device-retry: how soon the device retries after its fault
 * @param atEvent            infrastructure: the event id ({@code cpu1#40}) at which it happens
 * @param afterEvents        infrastructure: it happens once the run logged this many events
 * @param pauseMs            pause: for how long, in wall milliseconds
 * @param delayMs            delay: by how much, in wall milliseconds
 * @param downMs             kill, broker-restart: how long the node or broker stays down
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
public record FaultSpec(
        FaultKind kind,
        String node,
        String link,
        String topic,
        String event,
        Long afterNs,
        Long untilNs,
        Long nth,
        Long count,
        Double probability,
        Long delayNs,
        Integer depth,
        Long retryNs,
        String atEvent,
        Long afterEvents,
        Long pauseMs,
        Long delayMs,
        Long downMs) {

    public FaultSpec {
        Objects.requireNonNull(kind, "kind");
    }

    /** A fault of {@code kind} on {@code node} (null: any) with no other filter: every match, for ever. */
    public static FaultSpec of(FaultKind kind, String node) {
        return new FaultSpec(kind, node, null, null, null, null, null, null, null, null, null, null, null, null, null, null,
                null, null);
    }

    /** This fault hitting only the {@code n}th match (and, unless {@link #withCount} says more, only it). */
    public FaultSpec withNth(long n) {
        return new FaultSpec(kind, node, link, topic, event, afterNs, untilNs, n, count, probability, delayNs, depth, retryNs,
                atEvent, afterEvents, pauseMs, delayMs, downMs);
    }

    /** This fault injected at most {@code n} times. */
    public FaultSpec withCount(long n) {
        return new FaultSpec(kind, node, link, topic, event, afterNs, untilNs, nth, n, probability, delayNs, depth, retryNs,
                atEvent, afterEvents, pauseMs, delayMs, downMs);
    }

    /** This fault hitting each candidate with probability {@code p}. */
    public FaultSpec withProbability(double p) {
        return new FaultSpec(kind, node, link, topic, event, afterNs, untilNs, nth, count, p, delayNs, depth, retryNs,
                atEvent, afterEvents, pauseMs, delayMs, downMs);
    }

    /** This fault with its model parameters: {@code delayNs}, {@code depth}, {@code retryNs} (null: unset). */
    public FaultSpec withModelParameters(Long newDelayNs, Integer newDepth, Long newRetryNs) {
        return new FaultSpec(kind, node, link, topic, event, afterNs, untilNs, nth, count, probability, newDelayNs, newDepth,
                newRetryNs, atEvent, afterEvents, pauseMs, delayMs, downMs);
    }

    /** The probability to apply: 1 unless given. */
    public double effectiveProbability() {
        return probability == null ? 1.0 : probability;
    }

    /** The first match that may be hit: 1 unless {@code nth} says otherwise. */
    public long effectiveNth() {
        return nth == null ? 1 : nth;
    }

    /** At most this many injections: {@code count}, else 1 with {@code nth}, else unlimited. */
    public long effectiveCount() {
        return count != null ? count : nth != null ? 1 : Long.MAX_VALUE;
    }

    /** For a fault on a node's inputs (delay, duplicate, redeliver): the node, its link's receiver, or null for every node. */
    public String receiver() {
        return link != null ? link.substring(link.indexOf('>') + 1) : node;
    }

    /** For a fault on a node's inputs: whether it takes {@code in}, by its link's sender, topic and event type. */
    public boolean selectsInput(dev.shootdown.event.Envelope in) {
        String sender = link == null ? null : link.substring(0, link.indexOf('>'));
        return (sender == null || in.node().equals(sender))
                && (topic == null || in.event().family().topicSuffix().equals(topic))
                && (event == null || event.equals(in.event().type().typeName()));
    }

    /** Whether the model fault may hit {@code nodeId} at {@code nowNs} (node and time filters only). */
    public boolean covers(String nodeId, long nowNs) {
        return (node == null || node.equals(nodeId)) && (afterNs == null || nowNs >= afterNs)
                && (untilNs == null || nowNs < untilNs);
    }
}
