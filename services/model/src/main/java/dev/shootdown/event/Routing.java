package dev.shootdown.event;

import java.util.List;

/** Who receives an event, and the Kafka key that keeps what must stay ordered in one partition. */
public final class Routing {

    private Routing() {}

    /**
     * The nodes an event is delivered to. Directed events go to their target; the run's start
     * goes to every node; its completion to every node but the coordinator that decided it. Facts
     * are recorded, not delivered.
     */
    public static List<String> destinations(Event event, List<String> topology) {
        if (event instanceof Directed d) {
            return List.of(d.target());
        }
        if (event instanceof ControlEvent.RunStarted) {
            return topology;
        }
        if (event instanceof ControlEvent.RunCompleted) {
            return topology.stream().filter(n -> !n.equals(NodeIds.COORDINATOR)).toList();
        }
        return List.of();
    }

    /** The record key: the target for directed events, else the emitting node. */
    public static String key(Envelope envelope) {
        if (envelope.event() instanceof Directed d) {
            return d.target();
        }
        return envelope.node();
    }

    /** The topic of {@code family} for {@code runId}. */
    public static String topic(String runId, Family family) {
        return "shootdown." + runId + "." + family.topicSuffix();
    }
}
