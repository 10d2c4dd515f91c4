package dev.shootdown.cli.experiment;

import com.fasterxml.jackson.databind.JsonNode;
import dev.shootdown.audit.ViolationKind;
import dev.shootdown.cli.run.BadInputException;
import dev.shootdown.cli.run.ScenarioRunner;
import dev.shootdown.fault.FaultPlan;
import dev.shootdown.fault.file.FaultPlanException;
import dev.shootdown.fault.file.FaultPlans;
import dev.shootdown.scenario.Scenario;
import dev.shootdown.scenario.Scenarios;
import dev.shootdown.scenario.file.LocatedDocument;
import dev.shootdown.scenario.file.ScenarioFileException;
import dev.shootdown.scenario.file.ScenarioFiles;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Pattern;

/**
 * An experiment: scenarios x architectures x policies x fault plans x seeds, and what some of
 * those cells are expected to give. Read from a YAML ({@code .yaml}, {@code .yml}) or JSON
 * ({@code .json}) file; files it names are relative to the spec's own directory.
 *
 * <pre>
 * name: seed-outcomes                 # optional; default: the file's name
 * engine: sim                         # sim (default) or kafka
 * scenarios: [kswapd-reclaim, my.yaml]  # built-in names or scenario files; required
 * archs: [x86, arm64]                 # default: both
 * policies: [linux-6.5, series-v2, linux-6.6]  # any built-ins; default: the seed's three
 * faults: [none, ../faults/lost-ipi.yaml]      # 'none' or fault-plan files; default: [none]
 * seeds: {from: 1, count: 5}          # or a list [1, 2, 7]; default: [1]
 * maxEvents: 5000000                  # optional, as run --max-events
 * livelockThreshold: 16               # optional, as run --livelock-threshold
 * expect:                             # optional; the first entry that selects a cell applies to it
 *   - {scenario: kswapd-reclaim, arch: x86, policy: series-v2, violations: [kernel-oops]}
 *   - {policy: linux-6.6, faults: none, violations: []}     # clean
 *   - {faults: lost-ipi, includes: [stale-translation-use]} # at least these kinds
 * </pre>
 *
 * Every problem is one line naming the file, line, column and field, as for scenario files.
 */
public record ExperimentSpec(Path file, String name, ScenarioRunner.Engine engine, List<ScenarioRef> scenarios, List<String> archs,
        List<String> policies, List<FaultsRef> faults, List<Long> seeds, long maxEvents, int livelockThreshold,
        List<Expectation> expect) {

    static final long DEFAULT_MAX_EVENTS = 5_000_000;
    static final int DEFAULT_LIVELOCK_THRESHOLD = 16;
    /** The most runs one experiment may ask for: a typo in a seed range should not start a week of work. */
    static final long MAX_RUNS = 100_000;

    private static final List<String> FIELDS = List.of("archs", "engine", "expect", "faults", "livelockThreshold", "maxEvents",
            "name", "policies", "scenarios", "seeds");
    private static final List<String> SELECTORS = List.of("arch", "faults", "policy", "scenario");
    private static final Pattern NAME = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]*");

    /** A scenario of the spec, and how a command line names it: a built-in's name or the file's path. */
    public record ScenarioRef(String arg, Scenario scenario) {}

    /**
     * A fault plan of the spec: its label in the table (the file's name without its extension),
     * its file as {@code run --faults} takes it (null for {@code none}), and the plan.
     */
    public record FaultsRef(String label, String file, FaultPlan plan) {
        public static final FaultsRef NONE = new FaultsRef("none", null, FaultPlan.NONE);
    }

    /**
     * What the cells an entry of {@code expect} selects must give, on every seed: exactly the
     * violation kinds {@code violations} (empty: clean), or at least those in {@code includes}.
     * A null selector field selects every value.
     */
    public record Expectation(int index, String scenario, String arch, String policy, String faults, List<String> violations,
            List<String> includes) {

        boolean selects(String scenario, String arch, String policy, String faults) {
            return (this.scenario == null || this.scenario.equals(scenario)) && (this.arch == null || this.arch.equals(arch))
                    && (this.policy == null || this.policy.equals(policy)) && (this.faults == null || this.faults.equals(faults));
        }

        public boolean metBy(List<String> kinds) {
            return violations != null ? new TreeSet<>(violations).equals(new TreeSet<>(kinds)) : kinds.containsAll(includes);
        }

        /** What is expected, as a table or a report says it. */
        public String describe() {
            if (violations != null) {
                return violations.isEmpty() ? "clean" : String.join(", ", new TreeSet<>(violations));
            }
            return "at least " + String.join(", ", new TreeSet<>(includes));
        }
    }

    /** The expectation that applies to a cell: the first entry that selects it, or null. */
    public Expectation expectationFor(String scenario, String arch, String policy, String faults) {
        for (Expectation e : expect) {
            if (e.selects(scenario, arch, policy, faults)) {
                return e;
            }
        }
        return null;
    }

    public long runs() {
        return (long) scenarios.size() * archs.size() * policies.size() * faults.size() * seeds.size();
    }

    /** Reads and checks the spec in {@code file}; every problem is a one-line {@link BadInputException}. */
    public static ExperimentSpec read(Path file) throws BadInputException {
        try {
            return new Reader(ScenarioFiles.read(file, "experiment spec")).read();
        } catch (ScenarioFileException e) {
            throw new BadInputException(e.getMessage(), e);
        }
    }

    /** One pass over a spec's tree. */
    private static final class Reader {
        private final LocatedDocument doc;
        private final Path dir;

        Reader(LocatedDocument doc) {
            this.doc = doc;
            Path parent = doc.file().getParent();
            this.dir = parent == null ? Path.of("") : parent;
        }

        public ExperimentSpec read() throws ScenarioFileException {
            JsonNode root = doc.tree();
            if (root == null || !root.isObject()) {
                throw doc.error("", "expected a mapping with the experiment's fields (scenarios, archs, policies, faults, seeds, ...)",
                        null);
            }
            unknownFields(root, "", FIELDS);
            String fileName = doc.file().getFileName().toString();
            String name = root.has("name") ? text(root.get("name"), "name")
                    : fileName.substring(0, Math.max(1, fileName.lastIndexOf('.')));
            if (!NAME.matcher(name).matches()) {
                throw doc.error("name", "expected letters, digits, '.', '_' or '-', got '" + name + "'", null);
            }
            ScenarioRunner.Engine engine = ScenarioRunner.Engine.sim;
            if (root.has("engine")) {
                String e = text(root.get("engine"), "engine");
                engine = switch (e) {
                    case "sim" -> ScenarioRunner.Engine.sim;
                    case "kafka" -> ScenarioRunner.Engine.kafka;
                    default -> throw doc.error("engine", "expected sim or kafka, got '" + e + "'", null);
                };
            }
            if (!root.has("scenarios")) {
                throw doc.error("", "scenarios: missing; expected a list of built-in scenarios or scenario files", null);
            }
            List<ScenarioRef> scenarios = scenarios(root.get("scenarios"));
            List<String> archs = choices(root, "archs", Scenario.ARCHES);
            List<String> policies = root.has("policies") ? choices(root, "policies", Scenario.KERNELS) : Scenario.POLICIES;
            List<FaultsRef> faults = root.has("faults") ? faults(root.get("faults")) : List.of(FaultsRef.NONE);
            List<Long> seeds = root.has("seeds") ? seeds(root.get("seeds")) : List.of(1L);
            long maxEvents = root.has("maxEvents") ? positive(root.get("maxEvents"), "maxEvents") : DEFAULT_MAX_EVENTS;
            long threshold = root.has("livelockThreshold") ? positive(root.get("livelockThreshold"), "livelockThreshold")
                    : DEFAULT_LIVELOCK_THRESHOLD;
            if (threshold > Integer.MAX_VALUE) {
                throw doc.error("livelockThreshold", "expected at most " + Integer.MAX_VALUE + ", got " + threshold, null);
            }
            List<Expectation> expect = root.has("expect") ? expectations(root.get("expect"), scenarios, archs, policies, faults)
                    : List.of();
            ExperimentSpec spec = new ExperimentSpec(doc.file(), name, engine, scenarios, archs, policies, faults, seeds, maxEvents,
                    (int) threshold, expect);
            if (spec.runs() > MAX_RUNS) {
                throw doc.error("", "expected at most " + MAX_RUNS + " runs, got " + spec.runs() + " (scenarios x archs x policies "
                        + "x faults x seeds)", null);
            }
            checkFaultNodes(spec);
            checkEveryExpectationApplies(spec);
            return spec;
        }

        private List<ScenarioRef> scenarios(JsonNode node) throws ScenarioFileException {
            List<ScenarioRef> refs = new ArrayList<>();
            Map<String, String> argByName = new HashMap<>();
            for (int i = 0; i < list(node, "scenarios", "built-in scenarios or scenario files").size(); i++) {
                String at = "scenarios[" + i + "]";
                String value = text(node.get(i), at);
                String arg;
                Scenario scenario;
                if (Scenarios.builtIn(value).isPresent()) {
                    arg = value;
                    scenario = Scenarios.builtIn(value).get();
                } else {
                    Path path = dir.resolve(value).normalize();
                    String lower = value.toLowerCase(Locale.ROOT);
                    if (!Files.exists(path)) {
                        throw doc.error(at, "expected a built-in scenario (" + String.join(", ", Scenarios.names())
                                + ") or a scenario file, got '" + value + "'"
                                + (lower.endsWith(".yaml") || lower.endsWith(".yml") || lower.endsWith(".json")
                                        ? " (no file " + path + ")" : ""), null);
                    }
                    arg = path.toString();
                    try {
                        scenario = ScenarioFiles.load(path);
                    } catch (ScenarioFileException e) {
                        throw doc.error(at, "the scenario file does not load: " + e.getMessage(), e);
                    }
                }
                String other = argByName.putIfAbsent(scenario.name(), arg);
                if (other != null) {
                    throw doc.error(at, "expected scenarios with distinct names, got a second '" + scenario.name() + "' (" + other
                            + " and " + arg + " would share a row and a directory)", null);
                }
                refs.add(new ScenarioRef(arg, scenario));
            }
            return List.copyOf(refs);
        }

        private List<String> choices(JsonNode root, String field, List<String> allowed) throws ScenarioFileException {
            if (!root.has(field)) {
                return allowed;
            }
            JsonNode node = root.get(field);
            LinkedHashSet<String> chosen = new LinkedHashSet<>();
            for (int i = 0; i < list(node, field, "values of " + String.join(", ", allowed)).size(); i++) {
                String value = text(node.get(i), field + "[" + i + "]");
                if (!allowed.contains(value)) {
                    throw doc.error(field + "[" + i + "]", "expected one of " + String.join(", ", allowed) + ", got '" + value + "'",
                            null);
                }
                if (!chosen.add(value)) {
                    throw doc.error(field + "[" + i + "]", "expected each value once, got '" + value + "' again", null);
                }
            }
            return List.copyOf(chosen);
        }

        private List<FaultsRef> faults(JsonNode node) throws ScenarioFileException {
            List<FaultsRef> refs = new ArrayList<>();
            Set<String> labels = new LinkedHashSet<>();
            for (int i = 0; i < list(node, "faults", "'none' or fault-plan files").size(); i++) {
                String at = "faults[" + i + "]";
                FaultsRef ref = faultPlan(node.get(i), at);
                if (!labels.add(ref.label())) {
                    throw doc.error(at, "expected fault plans with distinct names, got a second '" + ref.label() + "'", null);
                }
                refs.add(ref);
            }
            return List.copyOf(refs);
        }

        /** {@code none}, or a fault-plan file; its label is the file's name without the extension. */
        private FaultsRef faultPlan(JsonNode node, String at) throws ScenarioFileException {
            if (!node.isTextual()) {
                throw doc.error(at, "expected 'none' or the path of a fault-plan file, got " + describe(node)
                        + " (a plan lives in a file of its own, so that each run's `run --faults FILE` reproduces it)", null);
            }
            String value = node.asText();
            if (value.equals("none")) {
                return FaultsRef.NONE;
            }
            Path path = dir.resolve(value).normalize();
            if (!Files.exists(path)) {
                throw doc.error(at, "expected 'none' or a fault-plan file, got '" + value + "' (no file " + path + ")", null);
            }
            FaultPlan plan;
            try {
                plan = FaultPlans.read(path);
            } catch (FaultPlanException e) {
                throw doc.error(at, "the fault plan does not load: " + e.getMessage(), e);
            }
            String fileName = path.getFileName().toString();
            return new FaultsRef(fileName.substring(0, Math.max(1, fileName.lastIndexOf('.'))), path.toString(), plan);
        }

        private List<Long> seeds(JsonNode node) throws ScenarioFileException {
            if (node.isObject()) {
                unknownFields(node, "seeds", List.of("count", "from"));
                if (!node.has("from") || !node.has("count")) {
                    throw doc.error("seeds", "expected {from: N, count: M}, got no " + (node.has("from") ? "count" : "from"), null);
                }
                long from = integer(node.get("from"), "seeds.from");
                long count = positive(node.get("count"), "seeds.count");
                if (count > MAX_RUNS) {
                    throw doc.error("seeds.count", "expected at most " + MAX_RUNS + " seeds, got " + count, null);
                }
                if (from > Long.MAX_VALUE - count + 1) {
                    throw doc.error("seeds.from", "expected a range that fits in 64 bits, got " + from + " + " + count, null);
                }
                List<Long> seeds = new ArrayList<>();
                for (long s = from; s < from + count; s++) {
                    seeds.add(s);
                }
                return List.copyOf(seeds);
            }
            if (!node.isArray()) {
                throw doc.error("seeds", "expected a list of integers or {from: N, count: M}, got " + describe(node), null);
            }
            LinkedHashSet<Long> seeds = new LinkedHashSet<>();
            for (int i = 0; i < list(node, "seeds", "integers").size(); i++) {
                long seed = integer(node.get(i), "seeds[" + i + "]");
                if (!seeds.add(seed)) {
                    throw doc.error("seeds[" + i + "]", "expected each seed once, got " + seed + " again", null);
                }
            }
            return List.copyOf(seeds);
        }

        private List<Expectation> expectations(JsonNode node, List<ScenarioRef> scenarios, List<String> archs, List<String> policies,
                List<FaultsRef> faults) throws ScenarioFileException {
            List<Expectation> expect = new ArrayList<>();
            for (int i = 0; i < list(node, "expect", "entries {scenario, arch, policy, faults, violations | includes}").size(); i++) {
                String at = "expect[" + i + "]";
                JsonNode e = node.get(i);
                if (!e.isObject()) {
                    throw doc.error(at, "expected a mapping {scenario, arch, policy, faults, violations | includes}, got "
                            + describe(e), null);
                }
                List<String> fields = new ArrayList<>(SELECTORS);
                fields.addAll(List.of("includes", "violations"));
                fields.sort(null);
                unknownFields(e, at, fields);
                String scenario = selector(e, at, "scenario", scenarios.stream().map(s -> s.scenario().name()).toList());
                String arch = selector(e, at, "arch", archs);
                String policy = selector(e, at, "policy", policies);
                String fault = selector(e, at, "faults", faults.stream().map(FaultsRef::label).toList());
                if (e.has("violations") == e.has("includes")) {
                    throw doc.error(at, "expected exactly one of violations (the exact kinds; [] for clean) or includes "
                            + "(at least these kinds), got " + (e.has("violations") ? "both" : "neither"), null);
                }
                String kindsField = e.has("violations") ? "violations" : "includes";
                List<String> kinds = kinds(e.get(kindsField), at + "." + kindsField);
                if (kindsField.equals("includes") && kinds.isEmpty()) {
                    throw doc.error(at + ".includes", "expected at least one kind (an empty includes says nothing)", null);
                }
                expect.add(new Expectation(i, scenario, arch, policy, fault, kindsField.equals("violations") ? kinds : null,
                        kindsField.equals("includes") ? kinds : null));
            }
            return List.copyOf(expect);
        }

        private String selector(JsonNode entry, String at, String field, List<String> allowed) throws ScenarioFileException {
            if (!entry.has(field)) {
                return null;
            }
            String value = text(entry.get(field), at + "." + field);
            if (!allowed.contains(value)) {
                throw doc.error(at + "." + field, "expected one of this experiment's " + field + " (" + String.join(", ", allowed)
                        + "), got '" + value + "'", null);
            }
            return value;
        }

        private List<String> kinds(JsonNode node, String at) throws ScenarioFileException {
            List<String> kinds = new ArrayList<>();
            for (int i = 0; i < list(node, at, "violation kinds").size(); i++) {
                String kind = text(node.get(i), at + "[" + i + "]");
                if (ViolationKind.named(kind) == null) {
                    throw doc.error(at + "[" + i + "]", "expected a violation kind (" + ViolationKind.labels() + "), got '" + kind + "'",
                            null);
                }
                kinds.add(kind);
            }
            return List.copyOf(kinds);
        }

        /** A plan's faults name nodes that every scenario of the experiment has. */
        private void checkFaultNodes(ExperimentSpec spec) throws ScenarioFileException {
            for (int i = 0; i < spec.faults().size(); i++) {
                for (ScenarioRef s : spec.scenarios()) {
                    try {
                        spec.faults().get(i).plan().checkNodes(s.scenario().nodeIds());
                    } catch (IllegalArgumentException e) {
                        throw doc.error("faults[" + i + "]", spec.faults().get(i).file() + ": " + e.getMessage() + " (scenario "
                                + s.scenario().name() + ")", e);
                    }
                }
            }
        }

        /** An entry every cell of which an earlier one takes can never apply: surely a mistake in the order. */
        private void checkEveryExpectationApplies(ExperimentSpec spec) throws ScenarioFileException {
            Set<Integer> applied = new java.util.HashSet<>();
            for (ScenarioRef s : spec.scenarios()) {
                for (String arch : spec.archs()) {
                    for (String policy : spec.policies()) {
                        for (FaultsRef f : spec.faults()) {
                            Expectation e = spec.expectationFor(s.scenario().name(), arch, policy, f.label());
                            if (e != null) {
                                applied.add(e.index());
                            }
                        }
                    }
                }
            }
            for (Expectation e : spec.expect()) {
                if (!applied.contains(e.index())) {
                    throw doc.error("expect[" + e.index() + "]", "expected an entry that applies to some cell, but every cell it "
                            + "selects is taken by an earlier entry (the first entry that selects a cell applies)", null);
                }
            }
        }

        private void unknownFields(JsonNode node, String at, List<String> known) throws ScenarioFileException {
            for (String field : (Iterable<String>) node::fieldNames) {
                if (!known.contains(field)) {
                    String path = at.isEmpty() ? field : at + "." + field;
                    throw doc.error(path, "unknown field '" + field + "'; expected one of " + String.join(", ", known), null);
                }
            }
        }

        private JsonNode list(JsonNode node, String at, String ofWhat) throws ScenarioFileException {
            if (!node.isArray()) {
                throw doc.error(at, "expected a list of " + ofWhat + ", got " + describe(node), null);
            }
            if (node.isEmpty() && !at.endsWith("violations")) {
                throw doc.error(at, "expected a list of " + ofWhat + ", got an empty list", null);
            }
            return node;
        }

        private String text(JsonNode node, String at) throws ScenarioFileException {
            if (!node.isTextual()) {
                throw doc.error(at, "expected a string, got " + describe(node), null);
            }
            return node.asText();
        }

        private long integer(JsonNode node, String at) throws ScenarioFileException {
            if (!node.isIntegralNumber() || !node.canConvertToLong()) {
                throw doc.error(at, "expected an integer, got " + describe(node), null);
            }
            return node.asLong();
        }

        private long positive(JsonNode node, String at) throws ScenarioFileException {
            long value = integer(node, at);
            if (value <= 0) {
                throw doc.error(at, "expected an integer > 0, got " + value, null);
            }
            return value;
        }

        private static String describe(JsonNode node) {
            if (node == null || node.isNull()) {
                return "nothing";
            }
            if (node.isObject()) {
                return "a mapping";
            }
            if (node.isArray()) {
                return "a list";
            }
            return "'" + node.asText() + "'";
        }
    }
}
