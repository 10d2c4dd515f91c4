package dev.shootdown.bench;

import java.util.Locale;

/**
 * One line of the suite's table: a rate measured in this run, the rate of its reference measured
 * in the same run (same JVM, same thread, same inputs where the reference has any), their ratio,
 * and how the row stands against the goal.
 *
 * @param goal     the goal number: 1 to 5 from the benchmarks issue, 6 the bounded memory of "every run ends
 *                 honestly", 7 the trace and export of "seeing a run" (issue 18), 8 runs at once on one cluster
 *                 (issue 19)
 * @param name     what was measured
 * @param workload the input: scenario, arch, policy, sizes
 * @param rate     the measured rate, in {@code unit}
 * @param unit     the rate's unit, e.g. {@code events/s}
 * @param refName  the reference, in a few words
 * @param refRate  the reference's rate, in {@code unit}
 * @param target   the goal, in words
 * @param verdict  met, or by how much it is missed
 * @param also     further figures of the same measurement (seeds per minute, heap)
 */
public record Row(int goal, String name, String workload, double rate, String unit, String refName, double refRate,
        String target, String verdict, String also) {

    public Row {
        if (!(rate > 0) || !(refRate > 0)) {
            throw new IllegalArgumentException(name + ": rates must be positive, were " + rate + " and " + refRate);
        }
    }

    /** This row with other notes. */
    Row withAlso(String notes) {
        return new Row(goal, name, workload, rate, unit, refName, refRate, target, verdict, notes);
    }

    /** The measured rate over the reference's. */
    public double ratio() {
        return rate / refRate;
    }

    /** A rate with thousands separators and no decimals ({@code 1,234,567}), or two significant decimals when small. */
    static String format(double rate) {
        return rate >= 100 ? String.format(Locale.ROOT, "%,.0f", rate) : String.format(Locale.ROOT, "%.2f", rate);
    }

    /** The verdict for an absolute goal of at least {@code goalRate}. */
    static String atLeast(double rate, double goalRate, String unit) {
        if (rate >= goalRate) {
            return String.format(Locale.ROOT, "met (%.2fx the goal)", rate / goalRate);
        }
        return String.format(Locale.ROOT, "missed: %.2f of the goal, %.2fx short (%s %s)", rate / goalRate, goalRate / rate,
                format(goalRate - rate), unit);
    }

    /** The verdict for a goal of at least {@code goalRatio} of the reference. */
    static String ratioAtLeast(double ratio, double goalRatio) {
        if (ratio >= goalRatio) {
            return String.format(Locale.ROOT, "met (%.3f >= %.2f)", ratio, goalRatio);
        }
        return String.format(Locale.ROOT, "missed: ratio %.3f < %.2f, %.2fx short", ratio, goalRatio, goalRatio / ratio);
    }
}
