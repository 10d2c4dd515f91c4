package dev.shootdown.host.kafka;

import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.regex.Pattern;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;

/**
 * The index of a replica that cannot be told its own ({@code shootdown node cpu --index auto},
 * compose's {@code --scale}): the lowest one of its kind that no live node holds and nobody claimed
 * first. Replicas that start together all see the same free index; each says so with a
 * {@link ClusterTopics.NodeClaim} on {@value ClusterTopics#PRESENCE}, whose single partition puts
 * the claims in one order that every replica reads alike. The first claim of an id wins; the
 * others try the next index at once, in the same process.
 *
 * <p>A node that held an index before (its previous process, {@code previous}: the same container
 * after a crash) claims that index again: its previous process's heartbeats and claim are its
 * own, not another holder's, even while they are recent.
 */
public final class IndexClaim {

    /** How long a claim holds its id for a process that has not yet said it is alive. */
    public static final long CLAIM_MS = 20_000;

    /** The node a process ran as before, and that process ({@code instance}, as in its heartbeats). */
    public record Previous(String node, String instance) {}

    private IndexClaim() {}

    /**
     * Claims an index of {@code kind} ({@code cpu}, {@code iommu}) for the process {@code instance}.
     *
     * @param previous what this process's predecessor in the same place held, or null
     * @return the node id won: {@code kind} and the index
     */
    public static String claim(KafkaHostConfig config, String kind, String instance, Previous previous)
            throws InfrastructureException {
        Pattern ofKind = Pattern.compile(Pattern.quote(kind) + "(\\d+)");
        String mine = previous != null && ofKind.matcher(previous.node()).matches() ? previous.node() : null;
        String pastSelf = previous == null ? null : previous.instance();
        TopicPartition tp = new TopicPartition(ClusterTopics.PRESENCE, 0);
        try (Admin admin = Admin.create(config.baseProperties());
                KafkaConsumer<String, String> consumer = new KafkaConsumer<>(config.consumerProperties("shootdown-claim-" + kind));
                KafkaProducer<String, String> producer = new KafkaProducer<>(config.producerProperties("shootdown-claim-" + kind))) {
            RunTopics.checkReachable(admin, config);
            ClusterTopics.create(admin, config);
            consumer.assign(List.of(tp));
            Set<Integer> lost = new TreeSet<>();
            while (true) {
                long now = System.currentTimeMillis();
                long from = seekTo(consumer, tp, now - Math.max(CLAIM_MS, 2 * ClusterTopics.PEER_DEAD_MS), config);
                // Who holds what now: live heartbeats, and claims too recent to have been followed by any.
                Holders held = read(consumer, tp, consumer.endOffsets(List.of(tp), config.requestTimeout()).get(tp), ofKind,
                        pastSelf, config);
                String candidate = mine != null && !held.taken(mine, now, pastSelf) ? mine : null;
                for (int i = 0; candidate == null; i++) {
                    if (!lost.contains(i) && !held.taken(kind + i, now, pastSelf)) {
                        candidate = kind + i;
                    }
                }
                long at = System.currentTimeMillis();
                long offset = producer.send(new ProducerRecord<>(ClusterTopics.PRESENCE, candidate,
                        ClusterTopics.encode(new ClusterTopics.NodeClaim(candidate, instance, at))))
                        .get(config.requestTimeout().toMillis(), TimeUnit.MILLISECONDS).offset();
                // Everything up to this claim, in the topic's one order: is the first live claim of the id this one (or
                // this process's predecessor's), and nobody else alive as it?
                consumer.seek(tp, from);
                Holders before = read(consumer, tp, offset + 1, ofKind, pastSelf, config);
                String first = before.firstClaim(candidate, at);
                if ((instance.equals(first) || (first != null && first.equals(pastSelf))) && !before.alive(candidate, at, instance)) {
                    return candidate;
                }
                lost.add(Integer.parseInt(candidate.substring(kind.length())));
                mine = null;
            }
        } catch (ExecutionException | TimeoutException e) {
            throw new InfrastructureException("cannot claim a " + kind + " index on " + config.bootstrapServers() + ": "
                    + e.getMessage(), e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new InfrastructureException("interrupted while claiming a " + kind + " index");
        }
    }

    /** Positions {@code consumer} at the first record at or after {@code sinceMs}; returns that offset. */
    private static long seekTo(KafkaConsumer<String, String> consumer, TopicPartition tp, long sinceMs, KafkaHostConfig config) {
        var at = consumer.offsetsForTimes(Map.of(tp, sinceMs), config.requestTimeout()).get(tp);
        long offset = at != null ? at.offset() : consumer.endOffsets(List.of(tp), config.requestTimeout()).get(tp);
        consumer.seek(tp, offset);
        return offset;
    }

    /**
     * The claims and heartbeats of ids of one kind, from the consumer's position up to {@code until} (exclusive);
     * {@code pastSelf}'s heartbeats are left out.
     */
    private static Holders read(KafkaConsumer<String, String> consumer, TopicPartition tp, long until, Pattern ofKind,
            String pastSelf, KafkaHostConfig config) throws TimeoutException {
        Holders h = new Holders();
        long deadline = System.currentTimeMillis() + config.requestTimeout().toMillis();
        while (consumer.position(tp) < until) {
            if (System.currentTimeMillis() > deadline) {
                throw new TimeoutException("the presence topic was not read up to offset " + until + " in "
                        + config.requestTimeout().toMillis() + " ms");
            }
            for (ConsumerRecord<String, String> r : consumer.poll(Duration.ofMillis(100))) {
                if (r.offset() >= until) {
                    break;
                }
                ClusterTopics.Presence said;
                try {
                    said = ClusterTopics.decode(r.value(), ClusterTopics.Presence.class);
                } catch (com.fasterxml.jackson.core.JsonProcessingException notPresence) {
                    continue;
                }
                if (said instanceof ClusterTopics.NodeHeartbeat beat && ofKind.matcher(beat.node()).matches()
                        && !beat.instance().equals(pastSelf)) {
                    h.beats.merge(beat.node(), beat, (a, b) -> b.atMs() >= a.atMs() ? b : a);
                } else if (said instanceof ClusterTopics.NodeClaim claim && ofKind.matcher(claim.node()).matches()) {
                    // all claims, the predecessor's too: a claim that came after the one that won the id lost it
                    h.claims.computeIfAbsent(claim.node(), k -> new java.util.ArrayList<>()).add(claim);
                }
            }
        }
        return h;
    }

    /** What a stretch of the presence topic says about who holds which id. */
    private static final class Holders {
        /** Each id's latest heartbeat. */
        final Map<String, ClusterTopics.NodeHeartbeat> beats = new java.util.HashMap<>();
        /** Each id's claims, in the topic's order. */
        final Map<String, List<ClusterTopics.NodeClaim>> claims = new java.util.HashMap<>();

        /** Whether a process other than {@code instance} was alive as {@code node} at {@code nowMs}. */
        boolean alive(String node, long nowMs, String instance) {
            ClusterTopics.NodeHeartbeat beat = beats.get(node);
            return beat != null && !beat.instance().equals(instance) && nowMs - beat.atMs() < ClusterTopics.PEER_DEAD_MS;
        }

        /**
         * Whether {@code node} is held at {@code nowMs}, by another process than {@code pastSelf}: alive, or claimed
         * too recently to have lapsed.
         */
        boolean taken(String node, long nowMs, String pastSelf) {
            String first = firstClaim(node, nowMs);
            return alive(node, nowMs, null) || (first != null && !first.equals(pastSelf));
        }

        /** The instance of the first claim of {@code node} that still holds at {@code nowMs}, or null. */
        String firstClaim(String node, long nowMs) {
            for (ClusterTopics.NodeClaim c : claims.getOrDefault(node, List.of())) {
                if (nowMs - c.atMs() < CLAIM_MS) {
                    return c.instance();
                }
            }
            return null;
        }
    }
}
