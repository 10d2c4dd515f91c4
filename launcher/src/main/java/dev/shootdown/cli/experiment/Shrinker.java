package dev.shootdown.cli.experiment;

import dev.shootdown.fault.FaultPlan;
import dev.shootdown.fault.FaultSpec;
import dev.shootdown.scenario.Scenario;
import dev.shootdown.scenario.TaskOp;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import java.util.function.Predicate;

/**
 * Delta debugging (Zeller and Hildebrandt, "Simplifying and Isolating Failure-Inducing Input")
 * over a failing case: its fault plan's faults, its tasks, each task's steps, its devices, its
 * address spaces and their VMAs, then the sizes (pages, rounds, the observation window, CPUs,
 * IOMMUs), until no single
 * reduction keeps the failure. What "fails the same way" means is the caller's {@link Oracle}, which
 * runs a candidate; the shrinker only proposes candidates and keeps those the oracle accepts.
 * Candidates the oracle has already judged are not run again. Deterministic: the same case and
 * oracle give the same result.
 */
public final class Shrinker {

    /** A scenario and the fault plan it runs with (kept apart from the scenario's own {@code faults}). */
    public record Case(Scenario scenario, FaultPlan plan) {
        public Case {
            scenario = scenario.withFaults(FaultPlan.NONE);
        }

        public int steps() {
            return scenario.tasks().stream().mapToInt(t -> t.program().size()).sum();
        }

        public int vmas() {
            return scenario.mms().stream().mapToInt(m -> m.vmas().size()).sum();
        }
    }

    /** Runs a candidate: true when it fails the way the original did. */
    public interface Oracle {
        boolean failsTheSameWay(Case candidate);
    }

    private final Oracle oracle;
    private final Map<Case, Boolean> judged = new HashMap<>();
    private final Runnable onTry;
    private int tries;

    /** {@code onTry} runs after each candidate the oracle judged (for a progress bar). */
    public Shrinker(Oracle oracle, Runnable onTry) {
        this.oracle = oracle;
        this.onTry = onTry;
    }

    /** How many candidates the oracle ran. */
    public int tries() {
        return tries;
    }

    /** The smallest case found from {@code failing}, which must fail the same way itself. */
    public Case shrink(Case failing) {
        Case c = failing;
        for (;;) {
            Case before = c;
            c = shrinkFaults(c);
            c = shrinkTasks(c);
            c = shrinkSteps(c);
            c = shrinkDevices(c);
            c = shrinkMms(c);
            c = shrinkSizes(c);
            c = shrinkMachine(c);
            if (c.equals(before)) {
                return c;
            }
        }
    }

    private boolean fails(Case candidate) {
        return judged.computeIfAbsent(candidate, k -> {
            boolean fails;
            try {
                fails = oracle.failsTheSameWay(k);
            } catch (IllegalArgumentException e) { // not a scenario any more (a task on a CPU that is gone)
                fails = false;
            }
            tries++;
            onTry.run();
            return fails;
        });
    }

    private Case shrinkFaults(Case c) {
        List<FaultSpec> kept = ddmin(c.plan().faults(), fs -> fails(new Case(c.scenario(), new FaultPlan(c.plan().seed(), fs))));
        return new Case(c.scenario(), new FaultPlan(c.plan().seed(), kept));
    }

    private Case shrinkTasks(Case c) {
        return new Case(with(c.scenario(), ddmin(c.scenario().tasks(), ts -> fails(new Case(with(c.scenario(), ts), c.plan())))),
                c.plan());
    }

    private Case shrinkSteps(Case c) {
        Case cur = c;
        for (int i = 0; i < cur.scenario().tasks().size(); i++) {
            final int t = i;
            final Case base = cur;
            Function<List<TaskOp>, Case> withProgram = program -> {
                List<Scenario.TaskSpec> tasks = new ArrayList<>(base.scenario().tasks());
                Scenario.TaskSpec task = tasks.get(t);
                tasks.set(t, new Scenario.TaskSpec(task.pid(), task.mm(), task.cpu(), program));
                return new Case(with(base.scenario(), tasks), base.plan());
            };
            cur = withProgram.apply(ddmin(base.scenario().tasks().get(t).program(), p -> fails(withProgram.apply(p))));
        }
        return cur;
    }

    private Case shrinkDevices(Case c) {
        Scenario s = c.scenario();
        Function<List<Scenario.DeviceSpec>, Case> withDevices = ds -> new Case(new Scenario(s.name(), s.arch(), s.policy(), s.cpus(),
                s.iommus(), s.mms(), s.tasks(), ds, s.timing(), s.end(), s.memory(), s.kswapd()), c.plan());
        return withDevices.apply(ddmin(s.devices(), ds -> fails(withDevices.apply(ds))));
    }

    private Case shrinkMms(Case c) {
        Scenario s = c.scenario();
        Function<List<Scenario.MmSpec>, Case> withMms = ms -> new Case(new Scenario(s.name(), s.arch(), s.policy(), s.cpus(),
                s.iommus(), ms, s.tasks(), s.devices(), s.timing(), s.end(), s.memory(), s.kswapd()), c.plan());
        Case cur = withMms.apply(ddmin(s.mms(), ms -> fails(withMms.apply(ms))));
        for (int i = 0; i < cur.scenario().mms().size(); i++) {
            final int m = i;
            final Case base = cur;
            Function<List<Scenario.VmaSpec>, Case> withVmas = vs -> {
                List<Scenario.MmSpec> mms = new ArrayList<>(base.scenario().mms());
                mms.set(m, new Scenario.MmSpec(mms.get(m).mm(), vs));
                Scenario b = base.scenario();
                return new Case(new Scenario(b.name(), b.arch(), b.policy(), b.cpus(), b.iommus(), mms, b.tasks(), b.devices(),
                        b.timing(), b.end(), b.memory(), b.kswapd()), base.plan());
            };
            cur = withVmas.apply(ddmin(base.scenario().mms().get(m).vmas(), vs -> fails(withVmas.apply(vs))));
        }
        return cur;
    }

    /** Fewer pages and rounds: each number as small as still fails, trying its least value first, then halving. */
    private Case shrinkSizes(Case c) {
        Case cur = c;
        for (int t = 0; t < cur.scenario().tasks().size(); t++) {
            for (int o = 0; o < cur.scenario().tasks().get(t).program().size(); o++) {
                final int ti = t;
                final int oi = o;
                TaskOp op = cur.scenario().tasks().get(ti).program().get(oi);
                if (op instanceof TaskOp.Touch touch) {
                    final Case base = cur;
                    cur = smallest(touch.pages(), 1, n -> withOp(base, ti, oi,
                            new TaskOp.Touch(touch.start(), n, touch.access(), touch.rounds())));
                    TaskOp.Touch now = (TaskOp.Touch) cur.scenario().tasks().get(ti).program().get(oi);
                    final Case base2 = cur;
                    java.util.function.IntFunction<Case> rounds = n -> withOp(base2, ti, oi,
                            new TaskOp.Touch(now.start(), now.pages(), now.access(), n));
                    if (now.rounds() == 0) { // "for ever": a few rounds may do as well
                        for (int n = 1; n <= 64; n *= 2) {
                            if (fails(rounds.apply(n))) {
                                cur = smallest(n, 1, rounds);
                                break;
                            }
                        }
                    } else {
                        cur = smallest(now.rounds(), 1, rounds);
                    }
                } else if (op instanceof TaskOp.Munmap munmap) {
                    final Case base = cur;
                    cur = smallest(munmap.pages(), 1, n -> withOp(base, ti, oi, new TaskOp.Munmap(munmap.start(), n)));
                } else if (op instanceof TaskOp.Mprotect mprotect) {
                    final Case base = cur;
                    cur = smallest(mprotect.pages(), 1, n -> withOp(base, ti, oi,
                            new TaskOp.Mprotect(mprotect.start(), n, mprotect.writable())));
                } else if (op instanceof TaskOp.Madvise madvise) {
                    final Case base = cur;
                    cur = smallest(madvise.pages(), 1, n -> withOp(base, ti, oi,
                            new TaskOp.Madvise(madvise.start(), n, madvise.advice())));
                } else if (op instanceof TaskOp.MemoryReclaim write) {
                    final Case base = cur;
                    cur = smallest(write.pages(), 1, n -> withOp(base, ti, oi, new TaskOp.MemoryReclaim(n)));
                }
            }
        }
        for (int m = 0; m < cur.scenario().mms().size(); m++) {
            for (int v = 0; v < cur.scenario().mms().get(m).vmas().size(); v++) {
                final int mi = m;
                final int vi = v;
                final Case base = cur;
                Scenario.VmaSpec vma = base.scenario().mms().get(mi).vmas().get(vi);
                cur = smallest(vma.pages(), 1, n -> {
                    List<Scenario.MmSpec> mms = new ArrayList<>(base.scenario().mms());
                    List<Scenario.VmaSpec> vmas = new ArrayList<>(mms.get(mi).vmas());
                    vmas.set(vi, new Scenario.VmaSpec(vma.start(), n, vma.writable(), vma.populate(), vma.wrprotect(), vma.mlocked()));
                    mms.set(mi, new Scenario.MmSpec(mms.get(mi).mm(), vmas));
                    Scenario b = base.scenario();
                    return new Case(new Scenario(b.name(), b.arch(), b.policy(), b.cpus(), b.iommus(), mms, b.tasks(), b.devices(),
                            b.timing(), b.end(), b.memory(), b.kswapd()), base.plan());
                });
            }
        }
        for (int d = 0; d < cur.scenario().devices().size(); d++) {
            final int di = d;
            final Case base = cur;
            Scenario.DeviceSpec dev = base.scenario().devices().get(di);
            Scenario.DmaProgram dma = dev.dma();
            cur = smallest(dma.pages(), 1, n -> {
                List<Scenario.DeviceSpec> devices = new ArrayList<>(base.scenario().devices());
                devices.set(di, new Scenario.DeviceSpec(dev.id(), dev.iommu(), dev.pasid(), dev.mm(), dev.ats(),
                        new Scenario.DmaProgram(dma.start(), n, dma.accesses(), dma.periodNs())));
                Scenario b = base.scenario();
                return new Case(new Scenario(b.name(), b.arch(), b.policy(), b.cpus(), b.iommus(), b.mms(), b.tasks(), devices,
                        b.timing(), b.end(), b.memory(), b.kswapd()), base.plan());
            });
        }
        return cur;
    }

    /** Fewer CPUs and IOMMUs (the highest-numbered go: tasks and devices keep their numbers), a shorter window. */
    private Case shrinkMachine(Case before) {
        Case c = shrinkWindow(before);
        Scenario s = c.scenario();
        Case cur = smallest(s.cpus(), 1, n -> new Case(new Scenario(s.name(), s.arch(), s.policy(), n, s.iommus(), s.mms(), s.tasks(),
                s.devices(), s.timing(), s.end(), s.memory(), s.kswapd()), c.plan()));
        Scenario b = cur.scenario();
        Case base = cur;
        return smallest(b.iommus(), 0, n -> new Case(new Scenario(b.name(), b.arch(), b.policy(), b.cpus(), n, b.mms(), b.tasks(),
                b.devices(), b.timing(), b.end(), b.memory(), b.kswapd()), base.plan()));
    }

    /** An observation window ({@code end.afterNs}) halved while the failure still shows within it. */
    private Case shrinkWindow(Case c) {
        Case cur = c;
        while (cur.scenario().end().afterNs() > 1) {
            Scenario s = cur.scenario();
            Case shorter = new Case(s.withEnd(new Scenario.EndCondition(s.end().deviceFaults(), s.end().afterNs() / 2)), cur.plan());
            if (!fails(shorter)) {
                break;
            }
            cur = shorter;
        }
        return cur;
    }

    private static Case withOp(Case c, int task, int index, TaskOp op) {
        List<Scenario.TaskSpec> tasks = new ArrayList<>(c.scenario().tasks());
        Scenario.TaskSpec t = tasks.get(task);
        List<TaskOp> program = new ArrayList<>(t.program());
        program.set(index, op);
        tasks.set(task, new Scenario.TaskSpec(t.pid(), t.mm(), t.cpu(), program));
        return new Case(with(c.scenario(), tasks), c.plan());
    }

    private static Scenario with(Scenario s, List<Scenario.TaskSpec> tasks) {
        return new Scenario(s.name(), s.arch(), s.policy(), s.cpus(), s.iommus(), s.mms(), tasks, s.devices(), s.timing(), s.end(),
                s.memory(), s.kswapd());
    }

    /**
     * The case for the smallest value in [{@code least}, {@code value}] that still fails, found by
     * trying {@code least}, then halving from {@code value}; {@code value}'s own case when none does.
     */
    private Case smallest(int value, int least, java.util.function.IntFunction<Case> caseFor) {
        if (value <= least) {
            return caseFor.apply(value);
        }
        Case at = caseFor.apply(least);
        if (fails(at)) {
            return at;
        }
        int kept = value;
        int lo = least; // known not to fail
        while (kept - lo > 1) {
            int mid = (int) (((long) lo + kept) / 2);
            if (fails(caseFor.apply(mid))) {
                kept = mid;
            } else {
                lo = mid;
            }
        }
        return caseFor.apply(kept);
    }

    /**
     * ddmin: a 1-minimal sublist of {@code items} (removing any one element no longer fails) that
     * still fails, trying the empty list first. Order is kept.
     */
    public static <T> List<T> ddmin(List<T> items, Predicate<List<T>> fails) {
        if (items.isEmpty() || fails.test(List.of())) {
            return List.of();
        }
        List<T> c = List.copyOf(items);
        int n = 2;
        while (c.size() >= 2) {
            List<List<T>> parts = split(c, n);
            boolean reduced = false;
            for (List<T> part : parts) {
                if (part.size() < c.size() && fails.test(part)) {
                    c = part;
                    n = 2;
                    reduced = true;
                    break;
                }
            }
            if (!reduced && n > 2) {
                for (int i = 0; i < parts.size(); i++) {
                    List<T> complement = new ArrayList<>();
                    for (int j = 0; j < parts.size(); j++) {
                        if (j != i) {
                            complement.addAll(parts.get(j));
                        }
                    }
                    if (fails.test(complement)) {
                        c = List.copyOf(complement);
                        n = Math.max(n - 1, 2);
                        reduced = true;
                        break;
                    }
                }
            }
            if (!reduced) {
                if (n >= c.size()) {
                    break;
                }
                n = Math.min(c.size(), 2 * n);
            }
        }
        return c;
    }

    private static <T> List<List<T>> split(List<T> items, int n) {
        List<List<T>> parts = new ArrayList<>();
        int start = 0;
        for (int i = 0; i < n; i++) {
            int end = start + (items.size() - start) / (n - i);
            parts.add(List.copyOf(items.subList(start, end)));
            start = end;
        }
        return parts;
    }
}
