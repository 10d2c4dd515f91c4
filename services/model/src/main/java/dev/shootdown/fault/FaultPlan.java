package dev.shootdown.fault;

import com.fasterxml.jackson.annotation.JsonIgnore;
import java.util.ArrayList;
import java.util.List;

/**
 * The faults to inject into a run, read from a plan file ({@code FaultPlans}) or built in code.
 * It travels inside the run's {@code Scenario}, so every node, the replayer and the audit read
 * it from the log's {@code RunStarted}.
 *
 * @param seed   the seed of the plan's probabilities; 0: use the run's seed
 * @param faults the faults, in the plan's order (a fault's index names it: {@code faults[2]})
 */
public record FaultPlan(long seed, List<FaultSpec> faults) {

    /** No faults: a run as if there were no plan. */
    public static final FaultPlan NONE = new FaultPlan(0, List.of());

    public FaultPlan {
        faults = faults == null ? List.of() : List.copyOf(faults);
    }

    /** A plan of {@code faults} whose probabilities follow the run's seed. */
    public static FaultPlan of(FaultSpec... faults) {
        return new FaultPlan(0, List.of(faults));
    }

    @JsonIgnore
    public boolean isEmpty() {
        return faults.isEmpty();
    }

    /** The seed probabilities are drawn from: the plan's own, else the run's. */
    public long effectiveSeed(long runSeed) {
        return seed != 0 ? seed : runSeed;
    }

    /** The faults of {@code layer}, each with its index in {@link #faults}. */
    public List<Indexed> of(FaultKind.Layer layer) {
        List<Indexed> out = new ArrayList<>();
        for (int i = 0; i < faults.size(); i++) {
            if (faults.get(i).kind().layer() == layer) {
                out.add(new Indexed(i, faults.get(i)));
            }
        }
        return out;
    }

    /** A fault and its index in the plan. */
    public record Indexed(int index, FaultSpec spec) {}

    /**
     * Checks the nodes and links the plan names against a run's topology (the scenario's
     * {@code nodeIds()}): a fault on a node the run does not have could never fire.
     *
     * @throws IllegalArgumentException one line naming the fault's field ({@code faults[1].node})
     */
    public void checkNodes(List<String> nodeIds) {
        for (int i = 0; i < faults.size(); i++) {
            FaultSpec f = faults.get(i);
            if (f.node() != null && !nodeIds.contains(f.node())) {
                throw new IllegalArgumentException("faults[" + i + "].node: expected a node of the scenario ("
                        + String.join(", ", nodeIds) + "), got '" + f.node() + "'");
            }
            if (f.link() != null) {
                String[] ends = f.link().split(">", -1);
                for (String end : ends) {
                    if (!nodeIds.contains(end) && !end.equals("control")) {
                        throw new IllegalArgumentException("faults[" + i + "].link: expected sender>receiver among the nodes of"
                                + " the scenario (" + String.join(", ", nodeIds) + "), got '" + f.link() + "'");
                    }
                }
            }
        }
    }

    /**
     * The plan applied to one node of the run: its model-fault matcher. {@code runSeed} is the
     * run's seed (RunStarted), used unless the plan has its own.
     */
    public FaultMatcher matcherFor(String nodeId, long runSeed) {
        return new FaultMatcher(this, nodeId, effectiveSeed(runSeed));
    }
}
