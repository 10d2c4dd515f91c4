package dev.shootdown.bench.jmh;

import dev.shootdown.core.Decision;
import dev.shootdown.core.Lifecycle;
import dev.shootdown.core.NodeStateMachine;
import dev.shootdown.core.TimerRequest;
import dev.shootdown.event.ControlEvent;
import dev.shootdown.event.Envelope;
import dev.shootdown.event.Event;
import dev.shootdown.host.LatencyModel;
import dev.shootdown.host.sim.SimEngine;
import dev.shootdown.scenario.Arch;
import dev.shootdown.scenario.Scenario;
import dev.shootdown.scenario.Scenarios;
import dev.shootdown.simulation.Machine;
import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;

/**
 * A real run the microbenchmarks take their inputs from: a built-in scenario on the deterministic
 * engine ({@link SimEngine}), its whole log, and, for the nodes asked for, every step their
 * {@code NodeDriver} took, in order (an input envelope delivered, or a timer fired), so that a
 * benchmark can drive a fresh node through the same history. Built once per benchmark trial,
 * outside the timed code.
 */
final class RecordedRun {

    /** One step of a node: {@code input} delivered at {@code nowNs}, or, when null, timer {@code timer} fired at it. */
    record Step(Envelope input, String timer, long nowNs) {}

    final String runId;
    final Scenario scenario;
    final List<Envelope> log = new ArrayList<>();
    final Map<String, List<Step>> steps = new java.util.HashMap<>();

    /**
     * Runs {@code scenario} (a built-in's name) at {@code arch} and {@code policy} with {@code seed},
     * recording the steps of {@code nodes}.
     */
    RecordedRun(String scenarioName, String arch, String policy, long seed, List<String> nodes) {
        this.scenario = Scenarios.builtIn(scenarioName).orElseThrow().with(Arch.of(arch), policy);
        this.runId = scenarioName + "-jmh-s" + seed;
        Map<String, List<Map.Entry<Event, Long>>> calls = new java.util.HashMap<>();
        List<NodeStateMachine> machines = new ArrayList<>();
        for (NodeStateMachine m : Machine.stateMachines(scenario)) {
            if (nodes.contains(m.nodeId())) {
                List<Map.Entry<Event, Long>> mine = new ArrayList<>();
                calls.put(m.nodeId(), mine);
                machines.add(new Recording(m, mine));
            } else {
                machines.add(m);
            }
        }
        new SimEngine(runId, seed, scenario, Machine.kernel(scenario), machines, LatencyModel.defaults()).streamTo(log::add).run(5_000_000);
        // The engine hands the node the very event object its envelope carries: find the envelope by identity.
        Map<Event, Envelope> byEvent = new IdentityHashMap<>();
        for (Envelope e : log) {
            byEvent.put(e.event(), e);
        }
        for (Map.Entry<String, List<Map.Entry<Event, Long>>> node : calls.entrySet()) {
            List<Step> list = new ArrayList<>();
            for (Map.Entry<Event, Long> call : node.getValue()) {
                Envelope input = byEvent.get(call.getKey());
                if (call.getKey() instanceof ControlEvent.TimerFired t && (input == null || input.node().equals(node.getKey()))) {
                    list.add(new Step(null, t.timer(), call.getValue()));
                } else if (input != null) {
                    list.add(new Step(input, null, call.getValue()));
                } else {
                    throw new IllegalStateException(node.getKey() + " handled an event that is not in the log: " + call.getKey());
                }
            }
            if (list.isEmpty()) {
                throw new IllegalStateException(node.getKey() + " took no step in " + runId);
            }
            steps.put(node.getKey(), List.copyOf(list));
        }
    }

    /** Passes everything on to the node, remembering each event it handled and when. */
    private record Recording(NodeStateMachine node, List<Map.Entry<Event, Long>> calls) implements NodeStateMachine {
        @Override
        public String nodeId() {
            return node.nodeId();
        }

        @Override
        public Lifecycle lifecycle() {
            return node.lifecycle();
        }

        @Override
        public Decision onEvent(Event input, long nowNs) {
            calls.add(Map.entry(input, nowNs));
            return node.onEvent(input, nowNs);
        }

        @Override
        public void evolve(Event event) {
            node.evolve(event);
        }

        @Override
        public boolean keepsInput(Event input) {
            return node.keepsInput(input);
        }

        @Override
        public List<TimerRequest> timersAfterRecovery(long nowNs) {
            return node.timersAfterRecovery(nowNs);
        }
    }
}
