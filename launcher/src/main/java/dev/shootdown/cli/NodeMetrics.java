package dev.shootdown.cli;

import dev.shootdown.event.Envelope;
import dev.shootdown.event.Event;
import dev.shootdown.event.FaultEvent;
import dev.shootdown.event.IpiEvent;
import dev.shootdown.event.SecondaryTlbEvent;
import dev.shootdown.host.kafka.ClusterNode;
import dev.shootdown.host.kafka.NodeObserver;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.DistributionSummary;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Supplier;

/**
 * A node service's metrics, in Prometheus' text format for {@code /metrics}: events in and out
 * by family, how long inputs waited in Kafka before the node took them (processing lag),
 * invalidations done (CPU flushes, IOTLB and ATC invalidations), faults raised and oopses, the
 * runs it is in and its peers up and dead.
 */
final class NodeMetrics implements NodeObserver {

    private final PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    /** Meters by name and tags, built once: each event only increments (this is on every node's hot path). */
    private final Map<String, Counter> counters = new ConcurrentHashMap<>();
    private final Map<String, DistributionSummary> lags = new ConcurrentHashMap<>();

    NodeMetrics(Supplier<ClusterNode.Health> health) {
        Gauge.builder("shootdown_runs_active", () -> health.get().runs().size()).description("Runs this node is in now")
                .register(registry);
        Gauge.builder("shootdown_peers_up", () -> health.get().peers().values().stream().filter("up"::equals).count())
                .description("Other nodes heard from lately").register(registry);
        Gauge.builder("shootdown_peers_dead", () -> health.get().peers().values().stream().filter("dead"::equals).count())
                .description("Other nodes silent for longer than the dead-peer limit").register(registry);
    }

    @Override
    public void onInput(String node, Envelope in, long recordTimestampMs) {
        counter("shootdown_events_in", "Inputs delivered to the node's state machine", node, "family",
                in.event().family().topicSuffix()).increment();
        if (recordTimestampMs > 0) {
            lags.computeIfAbsent(node, n -> DistributionSummary.builder("shootdown_processing_lag_seconds").tag("node", n)
                    .baseUnit("seconds").description("From an input's write to Kafka to its delivery to the node").register(registry))
                    .record(Math.max(0, System.currentTimeMillis() - recordTimestampMs) / 1000.0);
        }
    }

    @Override
    public void onOutput(String node, Envelope out) {
        Event e = out.event();
        counter("shootdown_events_out", "Events the node published", node, "family", e.family().topicSuffix()).increment();
        String invalidation = e instanceof IpiEvent.TlbFlushed ? "tlb-flush" : e instanceof IpiEvent.TlbiCompleted ? "tlbi"
                : e instanceof SecondaryTlbEvent.IotlbInvalidated ? "iotlb" : e instanceof SecondaryTlbEvent.AtcInvalidated ? "atc"
                : null;
        if (invalidation != null) {
            counter("shootdown_invalidations", "Invalidations done: CPU TLB flushes, IOTLB and ATC invalidations", node, "kind",
                    invalidation).increment();
        }
        String fault = e instanceof FaultEvent.PageFaultRaised ? "page-fault" : e instanceof FaultEvent.DeviceFaultRaised
                ? "device-fault" : e instanceof FaultEvent.KernelOops ? "oops" : null;
        if (fault != null) {
            counter("shootdown_faults", "Faults raised and oopses", node, "kind", fault).increment();
        }
    }

    private Counter counter(String name, String description, String node, String tag, String value) {
        return counters.computeIfAbsent(name + '|' + node + '|' + value, k -> Counter.builder(name).tag("node", node)
                .tag(tag, value).description(description).register(registry));
    }

    /** The Prometheus text exposition. */
    String scrape() {
        return registry.scrape();
    }
}
