package dev.shootdown.scenario.file;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonSubTypes;
import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.StreamReadFeature;
import com.fasterxml.jackson.databind.BeanDescription;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonMappingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.MapperFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationConfig;
import com.fasterxml.jackson.databind.SerializerProvider;
import com.fasterxml.jackson.databind.cfg.EnumFeature;
import com.fasterxml.jackson.databind.cfg.MapperBuilder;
import com.fasterxml.jackson.databind.exc.InvalidFormatException;
import com.fasterxml.jackson.databind.exc.InvalidTypeIdException;
import com.fasterxml.jackson.databind.exc.UnrecognizedPropertyException;
import com.fasterxml.jackson.databind.exc.ValueInstantiationException;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.databind.module.SimpleModule;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.BooleanNode;
import com.fasterxml.jackson.databind.node.IntNode;
import com.fasterxml.jackson.databind.node.NullNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.databind.ser.BeanPropertyWriter;
import com.fasterxml.jackson.databind.ser.BeanSerializerModifier;
import com.fasterxml.jackson.databind.ser.std.StdSerializer;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import com.fasterxml.jackson.dataformat.yaml.YAMLGenerator;
import com.fasterxml.jackson.dataformat.yaml.YAMLMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLParser;
import dev.shootdown.scenario.Arch;
import dev.shootdown.scenario.Scenario;
import dev.shootdown.scenario.TaskOp;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.reflect.RecordComponent;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.regex.Pattern;
import java.util.stream.Collectors;

/**
 * Scenario files: a whole {@link Scenario} as YAML ({@code .yaml}, {@code .yml}) or JSON
 * ({@code .json}), with the records' own field names. Task steps are tagged with {@code op}
 * ({@code touch}, {@code munmap}, {@code mprotect}, {@code compute}, {@code madvise}, {@code memory-reclaim}); enum values
 * are case-insensitive.
 *
 * <p>Optional, with their defaults: {@code iommus} (0), {@code devices} (none), {@code memory}
 * (unlimited; {@code memory.reclaimBatch} 32), {@code kswapd} (none), a VMA's {@code populate},
 * {@code wrprotect} and {@code mlocked} (false), {@code end.deviceFaults}, {@code end.afterNs} and
 * {@code end.stallWindowNs} (0: the default window). Every other field is required.
 *
 * <p>Every problem, from a syntax error to a task on a CPU the machine does not have, is a
 * {@link ScenarioFileException} whose one-line message names the file, the line and column, the
 * field path ({@code devices[0].iommu}) and what was expected. Thread-safe.
 */
public final class ScenarioFiles {

    /** Fields that may be null: the rest must hold a value when present. */
    private static final Set<String> NULLABLE = Set.of("memory", "kswapd", "faults");

    /** A scenario's name becomes part of run ids, Kafka topic names and output directories. */
    private static final Pattern NAME = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]*");

    private static final ObjectMapper YAML = configure(YAMLMapper.builder(YAMLFactory.builder()
                    .enable(YAMLParser.Feature.EMPTY_STRING_AS_NULL) // "cpus:" with no value is null, not ""
                    .disable(YAMLGenerator.Feature.WRITE_DOC_START_MARKER)
                    .enable(YAMLGenerator.Feature.MINIMIZE_QUOTES)
                    .enable(YAMLGenerator.Feature.INDENT_ARRAYS_WITH_INDICATOR)
                    .disable(YAMLGenerator.Feature.USE_NATIVE_TYPE_ID)
                    .build()));

    private static final ObjectMapper JSON = configure(JsonMapper.builder());

    private ScenarioFiles() {}

    private static ObjectMapper configure(MapperBuilder<?, ?> builder) {
        return builder
                .enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION)
                .enable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES)
                .enable(DeserializationFeature.FAIL_ON_NULL_FOR_PRIMITIVES)
                .enable(DeserializationFeature.FAIL_ON_MISSING_CREATOR_PROPERTIES)
                .disable(DeserializationFeature.ACCEPT_FLOAT_AS_INT)
                .enable(MapperFeature.ACCEPT_CASE_INSENSITIVE_ENUMS)
                .configure(EnumFeature.WRITE_ENUMS_TO_LOWERCASE, true)
                .serializationInclusion(JsonInclude.Include.NON_NULL)
                .addModule(new SimpleModule("hex-addresses").setSerializerModifier(new HexAddresses()))
                .withConfigOverride(Scenario.Memory.class, o -> o.setInclude(
                        JsonInclude.Value.construct(JsonInclude.Include.CUSTOM, null, UnlimitedMemory.class, null)))
                .build();
    }

    /** Leaves unlimited memory, the default, out of what is written. */
    private static final class UnlimitedMemory {
        @Override
        public boolean equals(Object o) {
            return o == null || (o instanceof Scenario.Memory m && m.equals(Scenario.Memory.UNLIMITED));
        }

        @Override
        public int hashCode() {
            return 0;
        }
    }

    /** Reads and checks the scenario in {@code file}. */
    public static Scenario load(Path file) throws ScenarioFileException {
        return load(file, Set.of());
    }

    /**
     * Reads and checks the scenario in {@code file}; its policy may also name one of
     * {@code kernels}, the kernel variant files a command was given (--kernel), besides the
     * built-ins.
     */
    public static Scenario load(Path file, Set<String> kernels) throws ScenarioFileException {
        ObjectMapper mapper = mapperFor(file, "scenario file");
        LocatedDocument doc = LocatedDocument.read(file, mapper);
        JsonNode tree = doc.tree();
        if (tree == null || !tree.isObject()) {
            throw doc.error("", "expected a mapping with the scenario's fields (name, arch, policy, cpus, ...)", null);
        }
        if (tree.has("faults")) {
            throw doc.error("faults", "a fault plan goes in its own file, given with --faults FILE", null);
        }
        rejectNulls(tree, "", doc);
        fillDefaults((ObjectNode) tree);
        checkBeforeBinding(tree, doc);
        Scenario scenario;
        try {
            scenario = mapper.treeToValue(tree, Scenario.class);
        } catch (JsonMappingException e) {
            throw mappingError(e, tree, doc);
        } catch (JsonProcessingException e) {
            throw new ScenarioFileException(file + ": " + LocatedDocument.oneLine(e.getOriginalMessage()), e);
        }
        check(scenario, doc, kernels);
        return scenario;
    }

    /** Writes {@code scenario} to {@code file} as YAML. */
    public static void write(Scenario scenario, Path file) throws IOException {
        Files.writeString(file, toYaml(scenario), StandardCharsets.UTF_8);
    }

    /** The scenario as YAML, the form {@link #load} reads back to an equal scenario. */
    public static String toYaml(Scenario scenario) {
        try {
            return YAML.writeValueAsString(scenario);
        } catch (JsonProcessingException e) {
            throw new UncheckedIOException("cannot write scenario " + scenario.name(), e);
        }
    }

    /**
     * Reads {@code file} as a tree with the parser settings of scenario files (duplicate keys
     * refused, an empty YAML value is null), for other files of the same family (experiment
     * specs, fault plans); {@code what} names the kind of file in the error for a wrong extension.
     */
    public static LocatedDocument read(Path file, String what) throws ScenarioFileException {
        return LocatedDocument.read(file, mapperFor(file, what));
    }

    /**
     * The mapper scenario files are read with, for {@code file}'s extension (.yaml, .yml or
     * .json); {@code what} names the kind of file in the error for another extension.
     */
    public static ObjectMapper mapperFor(Path file, String what) throws ScenarioFileException {
        String name = file.getFileName() == null ? "" : file.getFileName().toString().toLowerCase(Locale.ROOT);
        if (name.endsWith(".yaml") || name.endsWith(".yml")) {
            return YAML;
        }
        if (name.endsWith(".json")) {
            return JSON;
        }
        throw new ScenarioFileException(file + ": expected a .yaml, .yml or .json " + what, null);
    }

    private static String path(List<JsonMappingException.Reference> refs) {
        StringBuilder b = new StringBuilder();
        for (JsonMappingException.Reference r : refs) {
            if (r.getFieldName() != null) {
                b.append(b.length() == 0 ? "" : ".").append(r.getFieldName());
            } else if (r.getIndex() >= 0) {
                b.append('[').append(r.getIndex()).append(']');
            }
        }
        return b.toString();
    }

    private static void rejectNulls(JsonNode node, String path, LocatedDocument doc) throws ScenarioFileException {
        if (node.isNull() && !NULLABLE.contains(path)) {
            throw doc.error(path, "expected a value, got null (leave an optional field out instead)", null);
        }
        if (node.isObject()) {
            for (Map.Entry<String, JsonNode> f : node.properties()) {
                rejectNulls(f.getValue(), path.isEmpty() ? f.getKey() : path + "." + f.getKey(), doc);
            }
        } else if (node.isArray()) {
            for (int i = 0; i < node.size(); i++) {
                rejectNulls(node.get(i), path + "[" + i + "]", doc);
            }
        }
    }

    /** The optional fields' defaults (see the class comment); everything else must be present. */
    private static void fillDefaults(ObjectNode root) {
        putIfAbsent(root, "iommus", IntNode.valueOf(0));
        putIfAbsent(root, "devices", root.arrayNode());
        putIfAbsent(root, "memory", NullNode.getInstance());
        putIfAbsent(root, "kswapd", NullNode.getInstance());
        putIfAbsent(root, "faults", NullNode.getInstance());
        putIfAbsent(root.get("memory"), "reclaimBatch", IntNode.valueOf(Scenario.Memory.UNLIMITED.reclaimBatch()));
        putIfAbsent(root.get("end"), "deviceFaults", IntNode.valueOf(0));
        putIfAbsent(root.get("end"), "afterNs", IntNode.valueOf(0));
        putIfAbsent(root.get("end"), "stallWindowNs", IntNode.valueOf(0));
        for (JsonNode mm : elements(root.get("mms"))) {
            for (JsonNode vma : elements(mm.get("vmas"))) {
                putIfAbsent(vma, "populate", BooleanNode.FALSE);
                putIfAbsent(vma, "wrprotect", BooleanNode.FALSE);
                putIfAbsent(vma, "mlocked", BooleanNode.FALSE);
            }
        }
    }

    private static void putIfAbsent(JsonNode node, String field, JsonNode value) {
        if (node instanceof ObjectNode o && !o.has(field)) {
            o.set(field, value);
        }
    }

    private static Iterable<JsonNode> elements(JsonNode node) {
        return node instanceof ArrayNode a ? a : List.of();
    }

    /** What the Scenario constructor would reject with no field named: say which field it is. */
    private static void checkBeforeBinding(JsonNode root, LocatedDocument doc) throws ScenarioFileException {
        JsonNode arch = root.path("arch");
        if (!arch.isMissingNode() && Arch.named(arch.asText()) == null) {
            throw doc.error("arch", "expected one of " + String.join(", ", Arch.labels()) + ", got '" + arch.asText() + "'", null);
        }
        JsonNode cpus = root.path("cpus");
        if (cpus.isIntegralNumber() && cpus.asLong() < 1) {
            throw doc.error("cpus", "expected a number of CPUs >= 1, got " + cpus.asText(), null);
        }
        JsonNode iommus = root.path("iommus");
        if (iommus.isIntegralNumber() && iommus.asLong() < 0) {
            throw doc.error("iommus", "expected a number of IOMMUs >= 0, got " + iommus.asText(), null);
        }
    }

    private static ScenarioFileException mappingError(JsonMappingException e, JsonNode tree, LocatedDocument doc) {
        String path = path(e.getPath());
        if (e instanceof UnrecognizedPropertyException u) {
            List<String> known = u.getKnownPropertyIds() == null ? List.of()
                    : u.getKnownPropertyIds().stream().map(String::valueOf).sorted().collect(Collectors.toList());
            return doc.error(path, "unknown field '" + u.getPropertyName() + "'; expected one of " + String.join(", ", known), e);
        }
        if (e instanceof InvalidTypeIdException t) {
            String ops = Arrays.stream(TaskOp.class.getAnnotation(JsonSubTypes.class).value())
                    .map(JsonSubTypes.Type::name).collect(Collectors.joining(", "));
            String got = t.getTypeId() == null ? "no op" : "op '" + t.getTypeId() + "'";
            return doc.error(path, "expected op: one of " + ops + ", got " + got, e);
        }
        if (e instanceof ValueInstantiationException && e.getCause() != null) {
            return doc.error(path, String.valueOf(e.getCause().getMessage()), e);
        }
        if (!doc.has(path)) {
            // Jackson checks a record's creator fields before its unknown ones; a misspelt field is the likelier news
            String unknown = unknownField(e.getPath(), tree);
            if (unknown != null) {
                return doc.error(unknown, "unknown field '" + unknown.substring(unknown.lastIndexOf('.') + 1)
                        + "'; expected one of " + String.join(", ", fields(e.getPath())), e);
            }
            return doc.error(path, "missing; this field is required", e); // only optional fields get a default
        }
        if (e instanceof InvalidFormatException f) {
            return doc.error(path, "expected " + expected(f.getTargetType()) + ", got '" + f.getValue() + "'", e);
        }
        if (e instanceof com.fasterxml.jackson.databind.exc.MismatchedInputException m && m.getTargetType() != null) {
            return doc.error(path, "expected " + expected(m.getTargetType()), e);
        }
        return doc.error(path, LocatedDocument.oneLine(e.getOriginalMessage()), e);
    }

    /** The record's fields, when {@code refs} ends in a field of a record. */
    private static List<String> fields(List<JsonMappingException.Reference> refs) {
        Object from = refs.isEmpty() ? null : refs.get(refs.size() - 1).getFrom();
        if (!(from instanceof Class<?> c) || !c.isRecord()) {
            return List.of();
        }
        return Arrays.stream(c.getRecordComponents()).map(RecordComponent::getName).sorted().collect(Collectors.toList());
    }

    /** The path of a field beside the last one of {@code refs} that its record does not have, if any. */
    private static String unknownField(List<JsonMappingException.Reference> refs, JsonNode tree) {
        List<String> known = fields(refs);
        if (known.isEmpty()) {
            return null;
        }
        JsonNode node = tree;
        for (JsonMappingException.Reference r : refs.subList(0, refs.size() - 1)) {
            node = r.getFieldName() != null ? node.path(r.getFieldName()) : node.path(r.getIndex());
        }
        String parent = path(refs.subList(0, refs.size() - 1));
        for (Iterator<String> names = node.fieldNames(); names.hasNext(); ) {
            String name = names.next();
            if (!known.contains(name) && !name.equals("op")) {
                return parent.isEmpty() ? name : parent + "." + name;
            }
        }
        return null;
    }

    private static String expected(Class<?> type) {
        if (type == int.class || type == Integer.class || type == long.class || type == Long.class) {
            return "an integer";
        }
        if (type == boolean.class || type == Boolean.class) {
            return "true or false";
        }
        if (type == String.class) {
            return "a string";
        }
        if (type.isEnum()) {
            return "one of " + Arrays.stream(type.getEnumConstants())
                    .map(c -> ((Enum<?>) c).name().toLowerCase(Locale.ROOT)).collect(Collectors.joining(", "));
        }
        if (List.class.isAssignableFrom(type)) {
            return "a list";
        }
        return "a mapping of fields";
    }

    /** The rules the types alone do not carry: names that must resolve, ranges, uniqueness. */
    private static void check(Scenario s, LocatedDocument doc, Set<String> kernels) throws ScenarioFileException {
        if (!NAME.matcher(s.name()).matches()) {
            throw doc.error("name", "expected letters, digits, '.', '_' or '-' (it names the run, its Kafka topics and "
                    + "its output directory), got '" + s.name() + "'", null);
        }
        if (!Scenario.KERNELS.contains(s.policy()) && !kernels.contains(s.policy())) {
            throw doc.error("policy", "expected a built-in kernel (" + String.join(", ", Scenario.KERNELS)
                    + ") or the name of a variant given with --kernel FILE, got '" + s.policy() + "'", null);
        }
        Set<Long> mms = new HashSet<>();
        for (int i = 0; i < s.mms().size(); i++) {
            Scenario.MmSpec mm = s.mms().get(i);
            if (!mms.add(mm.mm())) {
                throw doc.error("mms[" + i + "].mm", "duplicate mm id " + mm.mm(), null);
            }
            for (int j = 0; j < mm.vmas().size(); j++) {
                positive(mm.vmas().get(j).pages(), "mms[" + i + "].vmas[" + j + "].pages", doc);
            }
        }
        Set<Integer> pids = new HashSet<>();
        Map<Integer, Integer> pidOnCpu = new HashMap<>();
        for (int i = 0; i < s.tasks().size(); i++) {
            Scenario.TaskSpec t = s.tasks().get(i);
            String at = "tasks[" + i + "]";
            if (!pids.add(t.pid())) {
                throw doc.error(at + ".pid", "duplicate pid " + t.pid(), null);
            }
            inRange(t.cpu(), s.cpus(), at + ".cpu", "a CPU", doc);
            Integer other = pidOnCpu.putIfAbsent(t.cpu(), t.pid());
            if (other != null) {
                throw doc.error(at + ".cpu", "expected a free CPU: cpu " + t.cpu() + " already runs pid " + other
                        + " (one task per CPU)", null);
            }
            declared(t.mm(), mms, at + ".mm", doc);
        }
        Set<String> deviceIds = new HashSet<>();
        for (int i = 0; i < s.devices().size(); i++) {
            Scenario.DeviceSpec d = s.devices().get(i);
            String at = "devices[" + i + "]";
            if (!deviceIds.add(d.id())) {
                throw doc.error(at + ".id", "duplicate device id '" + d.id() + "'", null);
            }
            inRange(d.iommu(), s.iommus(), at + ".iommu", "an IOMMU index", doc);
            declared(d.mm(), mms, at + ".mm", doc);
            positive(d.dma().pages(), at + ".dma.pages", doc);
            positive(d.dma().periodNs(), at + ".dma.periodNs", doc);
        }
        positive(s.timing().cpuStepNs(), "timing.cpuStepNs", doc);
        notNegative(s.timing().cmdqSyncNs(), "timing.cmdqSyncNs", doc);
        notNegative(s.end().deviceFaults(), "end.deviceFaults", doc);
        notNegative(s.end().afterNs(), "end.afterNs", doc);
        notNegative(s.end().stallWindowNs(), "end.stallWindowNs", doc);
        if (s.end().deviceFaults() == 0 && s.end().afterNs() == 0) {
            throw doc.error("end", "expected deviceFaults > 0 or afterNs > 0; as written the run never ends", null);
        }
        Scenario.Memory m = s.memory();
        notNegative(m.frames(), "memory.frames", doc);
        if (m.limited()) {
            notNegative(m.min(), "memory.min", doc);
            if (!(m.min() <= m.low() && m.low() <= m.high() && m.high() <= m.frames())) {
                String field = m.low() < m.min() ? "memory.low" : m.high() < m.low() ? "memory.high" : "memory.frames";
                throw doc.error(field, "expected min <= low <= high <= frames, got " + m.min() + ", " + m.low() + ", "
                        + m.high() + ", " + m.frames(), null);
            }
            positive(m.reclaimBatch(), "memory.reclaimBatch", doc);
        }
        if (s.kswapd() != null) {
            inRange(s.kswapd().cpu(), s.cpus(), "kswapd.cpu", "a CPU", doc);
        }
    }

    private static void positive(long value, String path, LocatedDocument doc) throws ScenarioFileException {
        if (value <= 0) {
            throw doc.error(path, "expected a number > 0, got " + value, null);
        }
    }

    private static void notNegative(long value, String path, LocatedDocument doc) throws ScenarioFileException {
        if (value < 0) {
            throw doc.error(path, "expected a number >= 0, got " + value, null);
        }
    }

    private static void inRange(int value, int count, String path, String what, LocatedDocument doc) throws ScenarioFileException {
        if (value < 0 || value >= count) {
            throw doc.error(path, "expected " + what + " in [0, " + count + "), got " + value, null);
        }
    }

    private static void declared(long mm, Set<Long> mms, String path, LocatedDocument doc) throws ScenarioFileException {
        if (!mms.contains(mm)) {
            List<Long> ids = new ArrayList<>(mms);
            ids.sort(null);
            throw doc.error(path, "expected a declared mm (" + ids.stream().map(String::valueOf).collect(Collectors.joining(", "))
                    + "), got " + mm, null);
        }
    }

    /** Addresses ({@code start}) in hex, as the kernel and every scenario author write them. */
    private static final class HexAddresses extends BeanSerializerModifier {
        private static final long serialVersionUID = 1L;

        @Override
        public List<BeanPropertyWriter> changeProperties(SerializationConfig config, BeanDescription bean,
                List<BeanPropertyWriter> properties) {
            for (BeanPropertyWriter w : properties) {
                if (w.getName().equals("start") && w.getType().getRawClass() == long.class) {
                    w.assignSerializer(HEX);
                }
            }
            return properties;
        }
    }

    private static final StdSerializer<Object> HEX = new StdSerializer<>(Object.class) {
        private static final long serialVersionUID = 1L;

        @Override
        public void serialize(Object value, JsonGenerator gen, SerializerProvider provider) throws IOException {
            long v = (Long) value;
            if (gen instanceof YAMLGenerator && v >= 0) {
                gen.writeNumber("0x" + Long.toHexString(v));
            } else {
                gen.writeNumber(v);
            }
        }
    };
}
