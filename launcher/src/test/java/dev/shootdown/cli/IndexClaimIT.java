package dev.shootdown.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;

import dev.shootdown.host.kafka.ClusterTopics;
import dev.shootdown.host.kafka.IndexClaim;
import dev.shootdown.host.kafka.KafkaHostConfig;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * {@code --index auto} on a real broker: replicas that start together get different indexes at
 * once (compose's three CPU replicas; before, they all saw cpu0 free, and two of them exited to
 * try again), a later one the next, and a process restarted in the same place its old index
 * again, while its predecessor's claim and heartbeats are still recent.
 */
@Timeout(value = 3, unit = TimeUnit.MINUTES)
class IndexClaimIT {

    @RegisterExtension
    static final EmbeddedBroker BROKER = new EmbeddedBroker();

    private static String instance(String name) {
        return name + "/pid 1/started 2026-12-03T00:00:00Z";
    }

    @Test
    void replicasStartingTogetherEachGetTheirOwnIndexAndARestartedOneGetsItsOldOneBack() throws Exception {
        KafkaHostConfig config = KafkaHostConfig.defaults(BROKER.bootstrapServers());
        ExecutorService pool = Executors.newFixedThreadPool(3);
        List<Future<String>> claims = new ArrayList<>();
        for (String replica : List.of("a", "b", "c")) {
            Callable<String> claim = () -> IndexClaim.claim(config, "cpu", instance(replica), null);
            claims.add(pool.submit(claim));
        }
        Set<String> won = new TreeSet<>();
        List<String> byReplica = new ArrayList<>();
        for (Future<String> f : claims) {
            byReplica.add(f.get(60, TimeUnit.SECONDS));
        }
        pool.shutdown();
        won.addAll(byReplica);
        assertEquals(Set.of("cpu0", "cpu1", "cpu2"), won, "three replicas, three indexes: " + byReplica);

        // cpu1's process is alive: it says so, as a node does every second.
        String cpu1 = instance(List.of("a", "b", "c").get(byReplica.indexOf("cpu1")));
        try (KafkaProducer<String, String> producer = new KafkaProducer<>(config.producerProperties("test"))) {
            producer.send(new ProducerRecord<>(ClusterTopics.PRESENCE, "cpu1", ClusterTopics.encode(
                    new ClusterTopics.NodeHeartbeat("cpu1", cpu1, System.currentTimeMillis(), List.of())))).get();
        }
        // A fourth replica: the three are claimed, so cpu3.
        assertEquals("cpu3", IndexClaim.claim(config, "cpu", instance("d"), null));
        // A claim that names another process as cpu1's predecessor does not get cpu1: that process is someone else.
        assertNotEquals("cpu1", IndexClaim.claim(config, "cpu", instance("e"), new IndexClaim.Previous("cpu1", instance("x"))));
        // cpu1's process crashed and its container started it again: the new process claims cpu1 back at once, its
        // predecessor's heartbeat and claim being its own.
        assertEquals("cpu1", IndexClaim.claim(config, "cpu", instance("b2"), new IndexClaim.Previous("cpu1", cpu1)));
        // An IOMMU replica is of another kind: iommu0.
        assertEquals("iommu0", IndexClaim.claim(config, "iommu", instance("f"), null));
    }
}
