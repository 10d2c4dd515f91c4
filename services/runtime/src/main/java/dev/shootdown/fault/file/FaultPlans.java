package dev.shootdown.fault.file;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.StreamReadFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import com.fasterxml.jackson.dataformat.yaml.YAMLGenerator;
import com.fasterxml.jackson.dataformat.yaml.YAMLMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLParser;
import dev.shootdown.event.EventType;
import dev.shootdown.event.Family;
import dev.shootdown.fault.FaultKind;
import dev.shootdown.fault.FaultPlan;
import dev.shootdown.fault.FaultSpec;
import dev.shootdown.scenario.file.LocatedDocument;
import dev.shootdown.scenario.file.ScenarioFileException;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Iterator;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Pattern;
import java.util.stream.Collectors;

/**
 * Fault plan files: a {@link FaultPlan} as YAML ({@code .yaml}, {@code .yml}) or JSON
 * ({@code .json}).
 *
 * <pre>
 * seed: 7                      # optional; 0 or absent: the run's seed
 * faults:
 *   - kind: lost-ipi           # see FaultKind
 *     node: cpu1               # optional filters: node, event, afterNs, untilNs, nth, count, probability
 *     nth: 1
 *   - kind: late-cmd-sync
 *     delayNs: 20000           # the kind's parameters
 * </pre>
 *
 * <p>Every problem is a {@link FaultPlanException} with one line naming the file, the line and
 * column, the field ({@code faults[2].probability}) and what was expected: syntax errors,
 * unknown fields and kinds, wrong types and ranges, a filter or parameter that does not apply to
 * the fault's kind, a missing required parameter. Node ids are checked for their form here and
 * against the scenario's nodes when the run starts ({@link FaultPlan#checkNodes}). Thread-safe.
 */
public final class FaultPlans {

    /** The filters every kind takes. */
    static final List<String> COMMON = List.of("kind", "node", "event", "afterNs", "untilNs", "nth", "count", "probability");

    private static final List<String> TOP = List.of("seed", "faults");

    private static final Pattern NODE = Pattern.compile("coordinator|cpu[0-9]+|iommu[0-9]+");
    private static final Pattern EVENT_ID = Pattern.compile("(coordinator|control|cpu[0-9]+|iommu[0-9]+)#[1-9][0-9]*");

    private static final ObjectMapper YAML = YAMLMapper.builder(YAMLFactory.builder()
                    .enable(YAMLParser.Feature.EMPTY_STRING_AS_NULL)
                    .disable(YAMLGenerator.Feature.WRITE_DOC_START_MARKER)
                    .enable(YAMLGenerator.Feature.MINIMIZE_QUOTES)
                    .enable(YAMLGenerator.Feature.INDENT_ARRAYS_WITH_INDICATOR)
                    .build())
            .enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION)
            .serializationInclusion(JsonInclude.Include.NON_NULL)
            .build();

    private static final ObjectMapper JSON = JsonMapper.builder()
            .enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION)
            .serializationInclusion(JsonInclude.Include.NON_NULL)
            .build();

    private FaultPlans() {}

    /** Reads and checks the plan in {@code file}. */
    public static FaultPlan read(Path file) throws FaultPlanException {
        Doc doc;
        try {
            doc = new Doc(LocatedDocument.read(file, mapperFor(file)));
        } catch (ScenarioFileException e) { // the reading and its one-line errors are the scenario files'
            throw new FaultPlanException(e.getMessage(), e);
        }
        JsonNode tree = doc.located().tree();
        if (tree == null || !tree.isObject()) {
            throw doc.error("", "expected a mapping with the plan's fields (faults, and optionally seed)");
        }
        unknownFields(tree, "", TOP, TOP, null, doc);
        long seed = tree.has("seed") ? integer(tree.get("seed"), "seed", Long.MIN_VALUE, doc) : 0;
        JsonNode list = tree.get("faults");
        if (list == null) {
            throw doc.error("faults", "missing; a plan lists its faults (an empty list is a plan without faults)");
        }
        if (!list.isArray()) {
            throw doc.error("faults", "expected a list of faults");
        }
        List<FaultSpec> faults = new ArrayList<>();
        for (int i = 0; i < list.size(); i++) {
            faults.add(fault(list.get(i), "faults[" + i + "]", doc));
        }
        return new FaultPlan(seed, faults);
    }

    /** The plan as YAML, the form {@link #read} reads back to an equal plan. */
    public static String toYaml(FaultPlan plan) {
        try {
            return YAML.writeValueAsString(plan);
        } catch (JsonProcessingException e) {
            throw new UncheckedIOException("cannot write a fault plan", e);
        }
    }

    /** Writes {@code plan} to {@code file} as YAML. */
    public static void write(FaultPlan plan, Path file) throws IOException {
        Files.writeString(file, toYaml(plan));
    }

    private static FaultSpec fault(JsonNode f, String at, Doc doc) throws FaultPlanException {
        if (f == null || !f.isObject()) {
            throw doc.error(at, "expected a mapping with the fault's kind and filters");
        }
        JsonNode kindNode = f.get("kind");
        if (kindNode == null) {
            throw doc.error(at + ".kind", "missing; expected one of " + String.join(", ", FaultKind.names()));
        }
        FaultKind kind = kindNode.isTextual() ? FaultKind.byName(kindNode.asText()) : null;
        if (kind == null) {
            throw doc.error(at + ".kind", "expected one of " + String.join(", ", FaultKind.names()) + ", got "
                    + show(kindNode));
        }
        List<String> takes = new ArrayList<>(COMMON);
        if (!kind.takesNode()) {
            takes.remove("node");
        }
        takes.addAll(new TreeSet<>(kind.parameters()));
        unknownFields(f, at, allFields(), takes, kind, doc);
        for (String required : new TreeSet<>(kind.required())) {
            if (!f.has(required)) {
                throw doc.error(at + "." + required, "missing; " + kind.kebab() + " needs " + required);
            }
        }
        String node = string(f, "node", at, doc);
        if (node != null) {
            if (!NODE.matcher(node).matches()) {
                throw doc.error(at + ".node", "expected a node id (coordinator, cpu0, iommu0, ...), got '" + node + "'");
            }
            if (kind.nodeKind() != null && !node.startsWith(kind.nodeKind())) {
                throw doc.error(at + ".node", "expected " + (kind.nodeKind().equals("cpu") ? "a CPU (cpu0, cpu1, ...)"
                        : "an IOMMU (iommu0, ...)") + ": " + kind.kebab() + " happens there, got '" + node + "'");
            }
        }
        String link = string(f, "link", at, doc);
        if (link != null) {
            String[] ends = link.split(">", -1);
            if (ends.length != 2 || !NODE.matcher(ends[0]).matches() && !ends[0].equals("control")
                    || !NODE.matcher(ends[1]).matches()) {
                throw doc.error(at + ".link", "expected sender>receiver, e.g. coordinator>cpu1, got '" + link + "'");
            }
        }
        String topic = string(f, "topic", at, doc);
        if (topic != null) {
            List<String> topics = Arrays.stream(Family.values()).map(Family::topicSuffix).toList();
            if (!topics.contains(topic)) {
                throw doc.error(at + ".topic", "expected one of " + String.join(", ", topics) + ", got '" + topic + "'");
            }
        }
        String event = string(f, "event", at, doc);
        if (event != null) {
            if (kind.event() != null && !kind.event().equals(event)) {
                throw doc.error(at + ".event", kind.kebab() + " hits " + kind.event() + " events only, got '" + event + "'");
            }
            if (!eventTypes().contains(event)) {
                throw doc.error(at + ".event", "expected an event type such as flush-tlb or invalidate-secondary-tlbs, got '"
                        + event + "'");
            }
        }
        Long afterNs = optionalInteger(f, "afterNs", at, 0, doc);
        Long untilNs = optionalInteger(f, "untilNs", at, 0, doc);
        if (afterNs != null && untilNs != null && untilNs <= afterNs) {
            throw doc.error(at + ".untilNs", "expected a time after afterNs (" + afterNs + "), got " + untilNs);
        }
        Long nth = optionalInteger(f, "nth", at, 1, doc);
        Long count = optionalInteger(f, "count", at, 1, doc);
        Double probability = null;
        if (f.has("probability")) {
            JsonNode p = f.get("probability");
            if (!p.isNumber() || p.asDouble() < 0 || p.asDouble() > 1) {
                throw doc.error(at + ".probability", "expected a number in [0, 1], got " + show(p));
            }
            probability = p.asDouble();
        }
        Long delayNs = optionalInteger(f, "delayNs", at, 1, doc);
        Long depth = optionalInteger(f, "depth", at, 0, doc);
        if (depth != null && depth > Integer.MAX_VALUE) {
            throw doc.error(at + ".depth", "expected a queue depth up to " + Integer.MAX_VALUE + ", got " + depth);
        }
        Long retryNs = optionalInteger(f, "retryNs", at, 1, doc);
        String atEvent = string(f, "atEvent", at, doc);
        if (atEvent != null && !EVENT_ID.matcher(atEvent).matches()) {
            throw doc.error(at + ".atEvent", "expected an event id node#seq, e.g. cpu1#40, got '" + atEvent + "'");
        }
        Long afterEvents = optionalInteger(f, "afterEvents", at, 0, doc);
        Long pauseMs = optionalInteger(f, "pauseMs", at, 1, doc);
        Long delayMs = optionalInteger(f, "delayMs", at, 1, doc);
        Long downMs = optionalInteger(f, "downMs", at, 1, doc);
        return new FaultSpec(kind, node, link, topic, event, afterNs, untilNs, nth, count, probability, delayNs,
                depth == null ? null : depth.intValue(), retryNs, atEvent, afterEvents, pauseMs, delayMs,
                downMs);
    }

    /** Every field any fault may have. */
    private static List<String> allFields() {
        Set<String> all = new LinkedHashSet<>(COMMON);
        for (FaultKind k : FaultKind.values()) {
            all.addAll(new TreeSet<>(k.parameters()));
        }
        return List.copyOf(all);
    }

    /** A field nobody knows, or one that {@code kind} does not take. */
    private static void unknownFields(JsonNode object, String at, List<String> known, List<String> takes, FaultKind kind,
            Doc doc) throws FaultPlanException {
        for (Iterator<String> names = object.fieldNames(); names.hasNext();) {
            String name = names.next();
            String path = at.isEmpty() ? name : at + "." + name;
            if (!known.contains(name)) {
                throw doc.error(path, "unknown field '" + name + "'; expected one of " + String.join(", ", takes));
            }
            if (!takes.contains(name)) {
                throw doc.error(path, "does not apply to " + kind.kebab() + ", which takes " + String.join(", ", takes));
            }
        }
    }

    private static String string(JsonNode f, String field, String at, Doc doc) throws FaultPlanException {
        JsonNode v = f.get(field);
        if (v == null) {
            return null;
        }
        if (!v.isTextual()) {
            throw doc.error(at + "." + field, "expected a string, got " + show(v));
        }
        return v.asText();
    }

    private static Long optionalInteger(JsonNode f, String field, String at, long min, Doc doc) throws FaultPlanException {
        JsonNode v = f.get(field);
        return v == null ? null : integer(v, at + "." + field, min, doc);
    }

    private static long integer(JsonNode v, String path, long min, Doc doc) throws FaultPlanException {
        if (!v.isIntegralNumber() || !v.canConvertToLong()) {
            throw doc.error(path, "expected an integer" + (min == Long.MIN_VALUE ? "" : " >= " + min) + ", got " + show(v));
        }
        if (v.asLong() < min) {
            throw doc.error(path, "expected an integer >= " + min + ", got " + v.asLong());
        }
        return v.asLong();
    }

    private static String show(JsonNode v) {
        if (v.isNull()) {
            return "nothing";
        }
        if (v.isTextual()) {
            return "'" + v.asText() + "'";
        }
        if (v.isContainerNode()) {
            return v.isArray() ? "a list" : "a mapping";
        }
        return v.asText();
    }

    /** The stable type names of the event model. */
    static Set<String> eventTypes() {
        return Arrays.stream(EventType.values()).map(EventType::typeName).collect(Collectors.toCollection(TreeSet::new));
    }

    private static ObjectMapper mapperFor(Path file) throws FaultPlanException {
        String name = file.getFileName() == null ? "" : file.getFileName().toString().toLowerCase(Locale.ROOT);
        if (name.endsWith(".yaml") || name.endsWith(".yml")) {
            return YAML;
        }
        if (name.endsWith(".json")) {
            return JSON;
        }
        throw new FaultPlanException(file + ": expected a .yaml, .yml or .json fault plan", null);
    }

    /** The plan's document, whose errors are fault-plan errors. */
    private record Doc(LocatedDocument located) {

        /** An error at {@code path}, located at the path or, if it is absent, its nearest present ancestor. */
        FaultPlanException error(String path, String expected) {
            return new FaultPlanException(located.error(path, expected, null).getMessage(), null);
        }
    }
}
