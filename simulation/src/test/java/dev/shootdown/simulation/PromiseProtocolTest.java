package dev.shootdown.simulation;

import dev.shootdown.codec.EventCodec;
import dev.shootdown.event.Envelope;
import dev.shootdown.event.NodeIds;
import dev.shootdown.host.CausalClock;
import dev.shootdown.host.LatencyModel;
import dev.shootdown.host.NodeDriver;
import dev.shootdown.host.ScheduledNode;
import dev.shootdown.host.sim.SimEngine;
import dev.shootdown.scenario.Arch;
import dev.shootdown.scenario.Scenario;
import dev.shootdown.scenario.Scenarios;
import dev.shootdown.testing.TestRuns;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The Kafka host's time protocol ({@link CausalClock}) without Kafka, under an adversarial
 * network: each node's {@link ScheduledNode} runs to its bound and says its status as
 * {@code NodeVerticle} does, but every event reaches its destination after any delay, in any
 * order across links (they travel on different topics), and every status reaches each node in
 * the order the one-partition statuses topic holds them, early or late against the events it
 * counts; now and then a node reads everything again from the beginning (a rewind, a restart's
 * catching up); a node that said it quiesced is gone, as a cluster's node leaves the run. Nodes step whenever the network lets them, not in any order. The log must be the
 * deterministic engine's, byte for byte, on every scenario the seed thread is about; a promise
 * made one microsecond too late must be caught and stop the run, never change it.
 */
class PromiseProtocolTest {

    static Stream<Arguments> cells() {
        List<Arguments> cells = new ArrayList<>();
        String[][] matrix = {
            {"munmap-dma", "x86", "linux-6.6"},
            {"smmu-permission-upgrade", "arm64", "linux-6.5"},
            {"smmu-permission-upgrade", "arm64", "linux-6.6"},
            {"kswapd-reclaim", "x86", "series-v2"},
            {"direct-reclaim-cross-mm", "x86", "series-v2"},
            {"mprotect-downgrade", "x86", "linux-6.6"},
        };
        for (String[] c : matrix) {
            for (long seed = 1; seed <= 3; seed++) {
                cells.add(Arguments.of(c[0], c[1], c[2], seed));
            }
        }
        return cells.stream();
    }

    @ParameterizedTest(name = "{0} {1} {2} seed {3}")
    @MethodSource("cells")
    void promisesGiveTheDeterministicEnginesLog(String name, String arch, String policy, long seed) {
        Scenario s = Scenarios.builtIn(name).orElseThrow().with(Arch.of(arch), policy);
        String runId = name + "-promises-s" + seed;
        SimEngine.Result sim = new SimEngine(runId, seed, s, Machine.kernel(s), Machine.stateMachines(s), LatencyModel.defaults())
                .run(2_000_000);
        for (long network = 1; network <= 3; network++) {
            Run run = run(runId, seed, s, 0, network);
            assertSameLog(sim.log(), run.log(), "network " + network);
            if (System.getenv("PROMISE_DEBUG") != null) {
                System.err.println("RATIO " + name + " " + run.statuses() + " statuses " + run.log().size() + " events");
            }
            // Statuses follow what happens, not rounds of every node: fewer than two per event taken.
            assertTrue(run.statuses() < 2L * run.log().size(), run.statuses() + " statuses for " + run.log().size() + " events");
        }
    }

    /**
     * The mm's promises 1 us too late: a node that receives an input due before what was promised
     * stops the run, whether or not it would have taken anything out of order. Where no input
     * falls inside the extra microsecond, the log must be the deterministic engine's.
     */
    @ParameterizedTest(name = "{0} {1} {2} seed {3}")
    @MethodSource("cells")
    void aWrongPromiseStopsTheRunNeverChangesIt(String name, String arch, String policy, long seed) {
        Scenario s = Scenarios.builtIn(name).orElseThrow().with(Arch.of(arch), policy);
        refusedOrSame(name, seed, s);
    }

    /** The check must bite: on most cells a promise 1 us too late is caught. */
    @Test
    void aWrongPromiseIsCaughtOnMostCells() {
        long refused = cells().filter(a -> {
            Object[] c = a.get();
            Scenario s = Scenarios.builtIn((String) c[0]).orElseThrow().with(Arch.of((String) c[1]), (String) c[2]);
            return refusedOrSame((String) c[0], (Long) c[3], s);
        }).count();
        assertTrue(refused * 2 > cells().count(), refused + " of " + cells().count() + " cells caught a promise 1 us too late");
    }

    /**
     * A CPU whose state machine claims it answers every input no sooner than 10 us later: the mm
     * works out that nothing from it can come sooner and runs ahead; an answer that comes sooner
     * stops the run. Where none does (the CPU's answers happen to come later, or the mm's other
     * bounds were tighter), the log must be the deterministic engine's.
     */
    @ParameterizedTest(name = "{0} {1} {2} seed {3}")
    @MethodSource("cells")
    void aStateMachineThatClaimsTooMuchStopsTheRunNeverChangesIt(String name, String arch, String policy, long seed) {
        Scenario s = Scenarios.builtIn(name).orElseThrow().with(Arch.of(arch), policy);
        liarCaughtOrSame(name, seed, s);
    }

    /** The check must bite: on most cells the lying CPU is caught. */
    @Test
    void aStateMachineThatClaimsTooMuchIsCaughtOnMostCells() {
        long caught = cells().filter(a -> {
            Object[] c = a.get();
            Scenario s = Scenarios.builtIn((String) c[0]).orElseThrow().with(Arch.of((String) c[1]), (String) c[2]);
            return liarCaughtOrSame((String) c[0], (Long) c[3], s);
        }).count();
        assertTrue(caught * 2 > cells().count(), caught + " of " + cells().count() + " cells caught the lying CPU");
    }

    /** Says every input is answered 10 us later at the soonest; does what {@code inner} does. */
    private record Lying(dev.shootdown.core.NodeStateMachine inner) implements dev.shootdown.core.NodeStateMachine {
        @Override
        public String nodeId() {
            return inner.nodeId();
        }

        @Override
        public dev.shootdown.core.Lifecycle lifecycle() {
            return inner.lifecycle();
        }

        @Override
        public dev.shootdown.core.Decision onEvent(dev.shootdown.event.Event input, long nowNs) {
            return inner.onEvent(input, nowNs);
        }

        @Override
        public void evolve(dev.shootdown.event.Event event) {
            inner.evolve(event);
        }

        @Override
        public void evolve(dev.shootdown.event.Event event, long timeNs) {
            inner.evolve(event, timeNs);
        }

        @Override
        public boolean keepsInput(dev.shootdown.event.Event input) {
            return inner.keepsInput(input);
        }

        @Override
        public List<dev.shootdown.core.TimerRequest> timersAfterRecovery(long nowNs) {
            return inner.timersAfterRecovery(nowNs);
        }

        @Override
        public dev.shootdown.core.Reaction reactionTo(dev.shootdown.event.EventType type) {
            return dev.shootdown.core.Reaction.timersAfter(10_000);
        }
    }

    /** True when the mm's promise 1 us too late was caught, false when the run gave the deterministic engine's log. */
    private static boolean refusedOrSame(String name, long seed, Scenario s) {
        return caughtOrSame(name + "-wrong-s" + seed, seed, s, 1_000, null, "a wrong promise was taken and changed the run",
                "(.*a wrong promise, the run stops.*|.*let it run past an input still on its way.*)");
    }

    /** True when the lying CPU was caught, false when the run gave the deterministic engine's log. */
    private static boolean liarCaughtOrSame(String name, long seed, Scenario s) {
        return caughtOrSame(name + "-liar-s" + seed, seed, s, 0, "cpu0", "a state machine's wrong claim was taken and changed the run",
                "coordinator: event \\d+ from cpu0 on its link is due at \\d+ ns, but after its event \\d+ nothing was to be due "
                        + "before \\d+ ns \\(from cpu0's status .*\\): a wrong promise, the run stops");
    }

    /**
     * Runs the protocol with the mm's promises {@code skewNs} too late, or {@code liar} lying: true
     * when it stopped with a message that matches {@code caught}, false when it gave the
     * deterministic engine's log; fails otherwise.
     */
    private static boolean caughtOrSame(String runId, long seed, Scenario s, long skewNs, String liar, String changed, String caught) {
        try {
            Run run = run(runId, seed, s, skewNs, 1, liar);
            SimEngine.Result sim = new SimEngine(runId, seed, s, Machine.kernel(s), Machine.stateMachines(s), LatencyModel.defaults())
                    .run(2_000_000);
            assertSameLog(sim.log(), run.log(), changed);
            return false;
        } catch (IllegalStateException e) {
            if (System.getenv("PROMISE_DEBUG") != null) {
                System.err.println("CAUGHT " + e.getMessage());
            }
            assertTrue(e.getMessage().matches(caught), e.getMessage());
            return true;
        }
    }

    record Run(List<Envelope> log, long statuses) {}

    /**
     * Runs the protocol over a network driven by {@code network} (a seed for its choices), the
     * mm's promises made {@code skewNs} too late.
     */
    static Run run(String runId, long seed, Scenario s, long skewNs, long network) {
        return run(runId, seed, s, skewNs, network, null);
    }

    /** As above, {@code liar} (when not null) saying every input it takes is answered no sooner than 10 us later. */
    static Run run(String runId, long seed, Scenario s, long skewNs, long network, String liar) {
        LatencyModel latency = LatencyModel.defaults();
        List<String> topology = s.nodeIds();
        Random random = new Random(network * 1_000_003 + seed);
        Map<String, ScheduledNode> nodes = new LinkedHashMap<>();
        Map<String, CausalClock> clocks = new LinkedHashMap<>();
        Map<String, CausalClock.Status> said = new TreeMap<>();
        Map<String, List<Envelope>> events = new TreeMap<>(); // in flight to each node, in no order
        List<CausalClock.Status> topic = new ArrayList<>(); // every status, at its offset
        Map<String, Integer> read = new TreeMap<>(); // how far each node has read the topic
        for (String id : topology) {
            dev.shootdown.core.NodeStateMachine machine = id.equals(liar) ? new Lying(Machine.fresh(id)) : Machine.fresh(id);
            ScheduledNode n = ScheduledNode.rebuild(runId, machine, topology, latency, List.of(), true);
            CausalClock c = new CausalClock(id, topology, latency, id.equals(NodeIds.COORDINATOR) ? skewNs : 0);
            n.checkArrivals(c::checkArrival);
            nodes.put(id, n);
            clocks.put(id, c);
            events.put(id, new ArrayList<>());
            read.put(id, 0);
        }
        List<Envelope> log = new ArrayList<>();
        NodeDriver control = NodeDriver.source(runId, NodeIds.CONTROL, topology);
        Envelope start = control.emit(TestRuns.runStarted(runId, seed, s), 0L);
        log.add(start);
        Map<String, Long> due = new TreeMap<>();
        for (String id : topology) {
            due.put(id, start.timeNs() + latency.sampleNs(start, id, seed));
            events.get(id).add(start);
        }
        CausalClock.Status started = new CausalClock.Status(NodeIds.CONTROL, start.seq(), 0, control.sentOnLinks(), Map.of(),
                Long.MAX_VALUE, Long.MAX_VALUE, due, Map.of(), false, false);
        topic.add(started);
        List<Envelope> published = new ArrayList<>(List.of(start));
        long count = 0;
        int rewinds = 0;
        List<String> ids = List.copyOf(topology);
        for (long step = 0; ; step++) {
            if (step > 20_000_000) {
                throw new AssertionError("no end after " + step + " steps");
            }
            String id = ids.get(random.nextInt(ids.size()));
            boolean gone = said.containsKey(id) && said.get(id).quiesced();
            if (gone) {
                // Gone, as a cluster's node leaves a run once it quiesced: it takes and says nothing more.
                events.get(id).clear();
                read.put(id, topic.size());
            }
            int what = gone ? -1 : random.nextInt(3);
            if (!gone && rewinds < 24 && random.nextInt(2_000) == 0) {
                rewinds++;
                // A rewind: the node's consumer reads every topic again from the beginning.
                read.put(id, 0);
                for (Envelope e : published) {
                    if (e.links().containsKey(id)) {
                        events.get(id).add(e);
                    }
                }
                continue;
            }
            if (what == 0 && !events.get(id).isEmpty()) {
                List<Envelope> bag = events.get(id);
                nodes.get(id).receive(bag.remove(random.nextInt(bag.size())));
                continue;
            }
            if (what == 1 && read.get(id) < topic.size()) {
                int offset = read.get(id);
                if (clocks.get(id).hears(topic.get(offset).node())) { // as the Kafka host's transport hands them over
                    clocks.get(id).onStatus(topic.get(offset), offset);
                }
                read.put(id, offset + 1);
                continue;
            }
            if (what == 2) {
                ScheduledNode n = nodes.get(id);
                CausalClock c = clocks.get(id);
                List<Envelope> out = new ArrayList<>();
                long bound = c.bound(n);
                while (n.nextAtNs() < bound) {
                    out.addAll(n.runUntil(bound));
                    bound = c.bound(n);
                }
                for (Envelope e : out) {
                    log.add(e);
                    published.add(e);
                    for (String dest : e.links().keySet()) {
                        if (events.containsKey(dest)) {
                            events.get(dest).add(e);
                        }
                    }
                }
                CausalClock.Status status = c.statusWorthSaying(n, bound, said.get(id));
                assertEquals(c.worthSaying(c.status(n, bound), said.get(id)), status != null,
                        id + ": the cheap check and the full one disagree on whether the status is worth saying");
                if (status != null) {
                    said.put(id, status);
                    count++;
                    topic.add(status);
                }
                continue;
            }
            boolean everyoneRead = true;
            for (Map.Entry<String, Integer> r : read.entrySet()) {
                if (said.containsKey(r.getKey()) && said.get(r.getKey()).quiesced()) {
                    events.get(r.getKey()).clear();
                    r.setValue(topic.size());
                }
                everyoneRead &= r.getValue() == topic.size();
            }
            if (everyoneRead && events.values().stream().allMatch(List::isEmpty) && idle(nodes, clocks, said)) {
                if (System.getenv("PROMISE_DEBUG") != null) {
                    nodes.forEach((k, n) -> System.err.println(k + " next=" + n.nextAtNs() + " bound=" + clocks.get(k).bound(n)
                            + " quiesced=" + n.driver().quiesced() + " said=" + said.get(k)));
                }
                return new Run(log, count);
            }
        }
    }

    /** True when no node can take anything more or has anything new to say (every status and event delivered). */
    private static boolean idle(Map<String, ScheduledNode> nodes, Map<String, CausalClock> clocks, Map<String, CausalClock.Status> said) {
        for (Map.Entry<String, ScheduledNode> e : nodes.entrySet()) {
            if (said.containsKey(e.getKey()) && said.get(e.getKey()).quiesced()) {
                continue; // gone
            }
            ScheduledNode n = e.getValue();
            CausalClock c = clocks.get(e.getKey());
            long bound = c.bound(n);
            if (n.nextAtNs() < bound || c.worthSaying(c.status(n, bound), said.get(e.getKey()))) {
                return false;
            }
        }
        return true;
    }

    /** The two logs hold the same events, byte for byte; a failure names the first difference, not both logs. */
    static void assertSameLog(List<Envelope> expected, List<Envelope> actual, String what) {
        List<String> a = sorted(expected);
        List<String> b = sorted(actual);
        for (int i = 0; i < Math.min(a.size(), b.size()); i++) {
            if (!a.get(i).equals(b.get(i))) {
                throw new AssertionError(what + ": event " + i + " of the sorted logs differs:\n  expected " + a.get(i)
                        + "\n  but was  " + b.get(i));
            }
        }
        assertEquals(a.size(), b.size(), what + ": the logs hold different numbers of events (the rest is the same)");
    }

    private static List<String> sorted(List<Envelope> log) {
        return log.stream().map(EventCodec::encode).sorted().toList();
    }
}
