package dev.shootdown.fault;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonValue;
import java.util.Arrays;
import java.util.List;
import java.util.Set;

/**
 * The kinds of fault a plan can inject, by stable kebab-case name. A MODEL fault is simulated
 * hardware misbehaving, injected by the node state machine that experiences it; an
 * INFRASTRUCTURE fault is done to the hosts (processes, links, the broker) and injected by them.
 */
public enum FaultKind {
    /** MODEL: a flush IPI to a CPU is lost; flush_tlb_func never runs there and the initiator waits forever. */
    LOST_IPI("lost-ipi", Layer.MODEL, "flush-tlb", "cpu"),
    /** MODEL: the IOMMU drops a TLBI command (an erratum) but still completes its CMD_SYNC. */
    DROPPED_IOTLB_INVALIDATION("dropped-iotlb-invalidation", Layer.MODEL, "invalidate-secondary-tlbs", "iommu"),
    /** MODEL: a CMD_SYNC completes {@code delayNs} late. */
    LATE_CMD_SYNC("late-cmd-sync", Layer.MODEL, "cmdq-issued", "iommu"),
    /** MODEL: the driver issues ATC_INV before the IOTLB invalidation has completed. */
    ATC_BEFORE_IOTLB("atc-before-iotlb", Layer.MODEL, "invalidate-secondary-tlbs", "iommu"),
    /** MODEL: a device retries a faulted access after {@code retryNs} without waiting for the page response. */
    FAST_DEVICE_RETRY("fast-device-retry", Layer.MODEL, "device-fault-raised", "iommu"),
    /** MODEL: the page-request queue holds {@code depth} requests; one more overflows it and is discarded. */
    PRQ_OVERFLOW("prq-overflow", Layer.MODEL, "device-fault-raised", "iommu"),
    /** INFRASTRUCTURE: a node's process crashes and is restarted (rebuilt from the log). */
    KILL("kill", Layer.INFRASTRUCTURE, null, null),
    /** INFRASTRUCTURE: a node stops handling inputs for {@code pauseMs}. */
    PAUSE("pause", Layer.INFRASTRUCTURE, null, null),
    /** INFRASTRUCTURE: messages on a link, topic or to a node are delayed by {@code delayMs}. */
    DELAY("delay", Layer.INFRASTRUCTURE, null, null),
    /** INFRASTRUCTURE: a message is delivered twice (the driver must drop the copy). */
    DUPLICATE("duplicate", Layer.INFRASTRUCTURE, null, null),
    /** INFRASTRUCTURE: messages already delivered are delivered again, as after a consumer rewind. */
    REDELIVER("redeliver", Layer.INFRASTRUCTURE, null, null),
    /** INFRASTRUCTURE: the Kafka broker stops for {@code downMs} and restarts. */
    BROKER_RESTART("broker-restart", Layer.INFRASTRUCTURE, null, null),
    /**
     * MODEL: a bug in a node's own code: its state machine throws on an input (the {@code nth}
     * one it takes, of the {@code event} type when given). Injected by the host's driver of that
     * node, on every host: it checks that a run whose node failed ends at once, naming it.
     */
    NODE_BUG("node-bug", Layer.MODEL, null, null);


    /** Where a fault happens. */
    public enum Layer {
        /** In the simulated machine: the kernel experiences it. */
        MODEL,
        /** In the hosts running the simulation: the protocol must survive it. */
        INFRASTRUCTURE;

        /** {@code model} or {@code infrastructure}, as FaultInjected names it. */
        public String label() {
            return this == MODEL ? "model" : "infrastructure";
        }
    }

    private final String kebab;
    private final Layer layer;
    private final String event;
    private final String nodeKind;

    FaultKind(String kebab, Layer layer, String event, String nodeKind) {
        this.kebab = kebab;
        this.layer = layer;
        this.event = event;
        this.nodeKind = nodeKind;
    }

    /** The stable name, as plans and logs write it. */
    @JsonValue
    public String kebab() {
        return kebab;
    }

    public Layer layer() {
        return layer;
    }

    /** The event type a model fault hits (its {@code event} filter can only name this one); null for infrastructure. */
    public String event() {
        return event;
    }

    /** The kind of node a model fault happens on ({@code cpu}, {@code iommu}); null for infrastructure. */
    public String nodeKind() {
        return nodeKind;
    }

    /**
     * The kind-specific parameters this kind takes, beyond the common filters; {@link #required}
     * says which of them must be given.
     */
    public Set<String> parameters() {
        return switch (this) {
            case LATE_CMD_SYNC -> Set.of("delayNs");
            case FAST_DEVICE_RETRY -> Set.of("retryNs");
            case PRQ_OVERFLOW -> Set.of("depth");
            case KILL -> Set.of("atEvent", "afterEvents", "downMs");
            case PAUSE -> Set.of("atEvent", "afterEvents", "pauseMs");
            case DELAY -> Set.of("link", "topic", "delayMs");
            case DUPLICATE, REDELIVER -> Set.of("link", "topic");
            case BROKER_RESTART -> Set.of("atEvent", "afterEvents", "downMs");
            case LOST_IPI, DROPPED_IOTLB_INVALIDATION, ATC_BEFORE_IOTLB, NODE_BUG -> Set.of();
        };
    }

    /** The fields that must be given. */
    public Set<String> required() {
        return switch (this) {
            case LATE_CMD_SYNC -> Set.of("delayNs");
            case FAST_DEVICE_RETRY -> Set.of("retryNs");
            case PRQ_OVERFLOW -> Set.of("depth");
            case KILL, NODE_BUG -> Set.of("node");
            case PAUSE -> Set.of("node", "pauseMs");
            case DELAY -> Set.of("delayMs");
            case LOST_IPI, DROPPED_IOTLB_INVALIDATION, ATC_BEFORE_IOTLB, DUPLICATE, REDELIVER, BROKER_RESTART -> Set.of();
        };
    }

    /** Whether the common {@code node} filter applies (every kind but broker-restart). */
    public boolean takesNode() {
        return this != BROKER_RESTART;
    }

    /** The kind named {@code name}, or null. */
    public static FaultKind byName(String name) {
        for (FaultKind k : values()) {
            if (k.kebab.equals(name)) {
                return k;
            }
        }
        return null;
    }

    /** For Jackson: the kind named {@code name}. */
    @JsonCreator
    public static FaultKind of(String name) {
        FaultKind k = byName(name);
        if (k == null) {
            throw new IllegalArgumentException("unknown fault kind '" + name + "'; expected one of " + String.join(", ", names()));
        }
        return k;
    }

    /** Every name, in declaration order. */
    public static List<String> names() {
        return Arrays.stream(values()).map(FaultKind::kebab).toList();
    }
}
