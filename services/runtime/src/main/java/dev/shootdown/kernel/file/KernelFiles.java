package dev.shootdown.kernel.file;

import com.fasterxml.jackson.databind.JsonNode;
import dev.shootdown.kernel.Hook;
import dev.shootdown.kernel.KernelVariant;
import dev.shootdown.kernel.Rules;
import dev.shootdown.kernel.Site;
import dev.shootdown.scenario.file.LocatedDocument;
import dev.shootdown.scenario.file.ScenarioFileException;
import dev.shootdown.scenario.file.ScenarioFiles;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * Kernel variant files: YAML ({@code .yaml}, {@code .yml}) or JSON, read with the scenario
 * files' reader. A file names the variant, describes it in one line, and gives, section by
 * section ({@code generic}, {@code x86}, {@code arm64}), each kernel function whose flush code
 * differs between kernels: its hook call ({@code hook: none}, or {@code hook: {mm: mm, range:
 * [start, end], at: after-flush}}), its thresholds and predicates, and the kernel {@code source}
 * the rule comes from.
 *
 * <p>A file may start from another ({@code extends: linux-6.6}, or a path relative to the file)
 * and give only what differs: a function's keys replace the ones it extends; a function changed
 * without a {@code source} of its own is marked as changed by this file. A file that extends
 * nothing gives every function, each with its source.
 *
 * <p>The built-ins ship in the repository's {@code kernels/} folder and in the jar. Every problem
 * is a {@link ScenarioFileException} of one line: file, line and column, the field path
 * ({@code x86.flush_tlb_mm_range.hook.at}) and what was expected. Thread-safe.
 */
public final class KernelFiles {

    /** The built-in variants, as {@code shootdown kernels} lists them. */
    public static final List<String> BUILT_INS = List.of("linux-6.1", "linux-6.5", "series-v2", "linux-6.6", "linux-6.12");

    private static final Pattern NAME = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]*");
    private static final Pattern IDENTIFIER = Pattern.compile("[A-Za-z_][A-Za-z0-9_]*");
    private static final List<String> TOP = List.of("name", "description", "extends", "hook", "generic", "x86", "arm64");
    private static final List<Hook.Position> ALL_POSITIONS = List.of(Hook.Position.values());
    private static final List<Hook.Position> NOSYNC_POSITIONS = List.of(Hook.Position.BEFORE_FLUSH, Hook.Position.BEFORE_WAIT);
    private static final List<Hook.HookMm> ANY_MM = List.of(Hook.HookMm.values());
    private static final List<Hook.HookMm> CURRENT_MM_ONLY = List.of(Hook.HookMm.CURRENT_MM);

    /** What one key of a function takes. */
    private sealed interface Type permits HookType, IntType, BoolType, EnumType {}

    /** A hook call: the positions {@code at} may name (empty: none, the site has one place) and the mms it may pass. */
    private record HookType(List<Hook.Position> positions, List<Hook.HookMm> mms) implements Type {}

    private record IntType(int min) implements Type {}

    private record BoolType() implements Type {}

    private record EnumType(Map<String, Object> values) implements Type {}

    /** Every section, function and key a variant has, in the order files and exports list them. */
    private static final Map<String, Map<String, Map<String, Type>>> SCHEMA = schema();

    private static Map<String, Map<String, Map<String, Type>>> schema() {
        HookType fixed = new HookType(List.of(), ANY_MM);
        HookType positioned = new HookType(ALL_POSITIONS, ANY_MM);
        HookType noMm = new HookType(ALL_POSITIONS, CURRENT_MM_ONLY);
        EnumType lazy = enumType(Rules.LazyCpus.values());
        EnumType defer = enumType(Rules.Defer.values());
        EnumType batched = enumType(Rules.BatchedPendingFlush.values());
        Map<String, Map<String, Map<String, Type>>> s = new LinkedHashMap<>();
        Map<String, Map<String, Type>> generic = new LinkedHashMap<>();
        generic.put("mmu_notifier_invalidate_range_end", Map.of("hook", fixed));
        generic.put("tlb_flush_mmu_tlbonly", Map.of("hook", fixed));
        generic.put("try_to_unmap_one", Map.of("hook", fixed));
        generic.put("madvise_cold_or_pageout_pte_range", Map.of("pageout_clears_young", new BoolType()));
        s.put("generic", generic);
        Map<String, Map<String, Type>> x86 = new LinkedHashMap<>();
        x86.put("flush_tlb_mm_range", ordered("tlb_single_page_flush_ceiling", new IntType(0), "hook", positioned));
        x86.put("native_flush_tlb_multi", Map.of("lazy_cpus", lazy));
        x86.put("arch_tlbbatch_should_defer", Map.of("defer", defer));
        x86.put("arch_tlbbatch_add_pending", Map.of("hook", fixed));
        x86.put("arch_tlbbatch_flush", Map.of("hook", noMm));
        x86.put("arch_flush_tlb_batched_pending", Map.of("flush", batched));
        x86.put("mmu_gather", Map.of("merge_vmas", new BoolType()));
        s.put("x86", x86);
        Map<String, Map<String, Type>> arm64 = new LinkedHashMap<>();
        arm64.put("flush_tlb_mm", Map.of("hook", positioned));
        arm64.put("__flush_tlb_range", ordered("max_tlbi_ops", new IntType(1), "hook", positioned));
        arm64.put("__flush_tlb_range_op", Map.of("advances_start", new BoolType()));
        arm64.put("__flush_tlb_page_nosync", Map.of("hook", new HookType(NOSYNC_POSITIONS, ANY_MM)));
        arm64.put("arch_tlbbatch_should_defer", Map.of("defer", defer));
        arm64.put("arch_tlbbatch_flush", Map.of("hook", noMm));
        arm64.put("arch_flush_tlb_batched_pending", Map.of("flush", batched));
        arm64.put("mmu_gather", Map.of("merge_vmas", new BoolType()));
        s.put("arm64", arm64);
        return s;
    }

    private static Map<String, Type> ordered(String k1, Type t1, String k2, Type t2) {
        Map<String, Type> m = new LinkedHashMap<>();
        m.put(k1, t1);
        m.put(k2, t2);
        return m;
    }

    private static EnumType enumType(Enum<?>[] constants) {
        Map<String, Object> values = new LinkedHashMap<>();
        for (Enum<?> c : constants) {
            try {
                values.put((String) c.getClass().getMethod("text").invoke(c), c);
            } catch (ReflectiveOperationException e) {
                throw new IllegalStateException(e);
            }
        }
        return new EnumType(values);
    }

    /** One function's rules as a file gives them, with the document that gave them. */
    private static final class Entry {
        final Map<String, Object> values = new LinkedHashMap<>();
        String source;
    }

    /** A file's content, or a merge of files: what each function is given. */
    private static final class Partial {
        String name;
        String description;
        String extendsRef;
        String hook;
        final Map<String, Map<String, Entry>> sections = new LinkedHashMap<>();
        LocatedDocument doc;
    }

    private static final Map<String, KernelVariant> BUILT_IN_CACHE = new HashMap<>();

    private KernelFiles() {}

    /** Whether {@code name} is a built-in variant. */
    public static boolean isBuiltIn(String name) {
        return BUILT_INS.contains(name);
    }

    /** The built-in variant {@code name}, if there is one. */
    public static Optional<KernelVariant> builtIn(String name) {
        if (!isBuiltIn(name)) {
            return Optional.empty();
        }
        synchronized (BUILT_IN_CACHE) {
            KernelVariant v = BUILT_IN_CACHE.get(name);
            if (v == null) {
                try {
                    v = build(resolveBuiltIn(name, new LinkedHashSet<>()));
                } catch (ScenarioFileException e) {
                    throw new IllegalStateException("the built-in kernel variant " + name + " is broken: " + e.getMessage(), e);
                }
                BUILT_IN_CACHE.put(name, v);
            }
            return Optional.of(v);
        }
    }

    /** The catalog hosts hand the coordinator, for logs recorded before variants were recorded in them. */
    public static KernelVariant.Catalog catalog() {
        return name -> builtIn(name).orElseThrow(() -> new IllegalArgumentException("no built-in kernel variant '" + name
                + "': expected one of " + String.join(", ", BUILT_INS)));
    }

    /** The text of the built-in {@code name}'s file, as it ships in kernels/. */
    public static String builtInText(String name) {
        if (!isBuiltIn(name)) {
            throw new IllegalArgumentException("no built-in kernel variant '" + name + "'");
        }
        return new String(resourceBytes(name), StandardCharsets.UTF_8);
    }

    /**
     * A built-in variant by name, or the variant in a .yaml, .yml or .json file; bad input is a
     * {@link ScenarioFileException} of one line.
     */
    public static KernelVariant resolve(String nameOrFile) throws ScenarioFileException {
        if (isBuiltIn(nameOrFile)) {
            return builtIn(nameOrFile).orElseThrow();
        }
        String lower = nameOrFile.toLowerCase(Locale.ROOT);
        boolean looksLikeFile = lower.endsWith(".yaml") || lower.endsWith(".yml") || lower.endsWith(".json");
        if (!looksLikeFile && !exists(nameOrFile)) {
            throw new ScenarioFileException("unknown kernel '" + nameOrFile + "': expected one of " + String.join(", ", BUILT_INS)
                    + " (shootdown kernels), or a .yaml, .yml or .json kernel variant file", null);
        }
        return load(Path.of(nameOrFile));
    }

    /** Reads and checks the variant in {@code file}, and the files it extends. */
    public static KernelVariant load(Path file) throws ScenarioFileException {
        return build(resolveFile(file, new LinkedHashSet<>()));
    }

    private static boolean exists(String file) {
        try {
            return Files.exists(Path.of(file));
        } catch (InvalidPathException e) {
            return false;
        }
    }

    // ------------------------------------------------------------------ reading and merging

    private static Partial resolveBuiltIn(String name, Set<String> chain) throws ScenarioFileException {
        Path shown = Path.of("kernels", name + ".yaml");
        LocatedDocument doc = LocatedDocument.parse(shown, resourceBytes(name), ScenarioFiles.mapperFor(shown, "kernel variant file"));
        return resolveDoc(doc, null, chain);
    }

    private static Partial resolveFile(Path file, Set<String> chain) throws ScenarioFileException {
        LocatedDocument doc = ScenarioFiles.read(file, "kernel variant file");
        return resolveDoc(doc, file.toAbsolutePath().getParent(), chain);
    }

    private static Partial resolveDoc(LocatedDocument doc, Path dir, Set<String> chain) throws ScenarioFileException {
        String key = doc.file().toString();
        if (!chain.add(key)) {
            throw doc.error("extends", "extends itself through " + String.join(" -> ", chain) + " -> " + key, null);
        }
        Partial own = parse(doc);
        if (own.extendsRef == null) {
            checkComplete(own, doc);
            return own;
        }
        Partial parent;
        if (isBuiltIn(own.extendsRef)) {
            parent = resolveBuiltIn(own.extendsRef, chain);
        } else {
            String lower = own.extendsRef.toLowerCase(Locale.ROOT);
            if (!(lower.endsWith(".yaml") || lower.endsWith(".yml") || lower.endsWith(".json"))) {
                throw doc.error("extends", "expected a built-in kernel (" + String.join(", ", BUILT_INS)
                        + ") or a .yaml, .yml or .json file, got '" + own.extendsRef + "'", null);
            }
            Path parentFile = dir == null ? Path.of(own.extendsRef) : dir.resolve(own.extendsRef);
            if (!Files.exists(parentFile)) {
                throw doc.error("extends", "no such file: " + parentFile, null);
            }
            parent = resolveFile(parentFile, chain);
        }
        return merge(parent, own);
    }

    private static Partial merge(Partial parent, Partial child) {
        Partial m = new Partial();
        m.doc = child.doc;
        m.name = child.name;
        m.description = child.description;
        m.extendsRef = child.extendsRef;
        m.hook = child.hook != null ? child.hook : parent.hook;
        for (var section : SCHEMA.keySet()) {
            Map<String, Entry> merged = new LinkedHashMap<>();
            Map<String, Entry> fromParent = parent.sections.getOrDefault(section, Map.of());
            Map<String, Entry> fromChild = child.sections.getOrDefault(section, Map.of());
            for (String function : SCHEMA.get(section).keySet()) {
                Entry p = fromParent.get(function);
                Entry c = fromChild.get(function);
                if (c == null) {
                    if (p != null) {
                        merged.put(function, p);
                    }
                    continue;
                }
                Entry e = new Entry();
                if (p != null) {
                    e.values.putAll(p.values);
                }
                e.values.putAll(c.values);
                if (c.source != null) {
                    e.source = c.source;
                } else {
                    String was = p == null || p.source == null ? "" : "; was: " + p.source;
                    e.source = "changed by " + child.name + " (" + child.doc.file().getFileName() + ")" + was;
                }
                merged.put(function, e);
            }
            m.sections.put(section, merged);
        }
        return m;
    }

    /** A file that extends nothing gives everything, each function with its source. */
    private static void checkComplete(Partial p, LocatedDocument doc) throws ScenarioFileException {
        if (p.hook == null) {
            throw doc.error("", "expected hook: the hook's name in this kernel (invalidate_range, arch_invalidate_secondary_tlbs)", null);
        }
        for (var section : SCHEMA.entrySet()) {
            Map<String, Entry> given = p.sections.get(section.getKey());
            if (given == null) {
                throw doc.error("", "expected the section " + section.getKey() + " (a file that extends nothing gives every section)",
                        null);
            }
            for (var function : section.getValue().entrySet()) {
                String path = section.getKey() + "." + function.getKey();
                Entry e = given.get(function.getKey());
                if (e == null) {
                    throw doc.error(section.getKey(), "expected " + function.getKey()
                            + " (a file that extends nothing gives every function of " + section.getKey() + ")", null);
                }
                for (String key : function.getValue().keySet()) {
                    if (!e.values.containsKey(key)) {
                        throw doc.error(path, "expected " + key, null);
                    }
                }
                if (e.source == null) {
                    throw doc.error(path, "expected source: the kernel file, function and version this rule comes from", null);
                }
            }
        }
    }

    private static Partial parse(LocatedDocument doc) throws ScenarioFileException {
        JsonNode root = doc.tree();
        if (root == null || !root.isObject()) {
            throw doc.error("", "expected a mapping with the variant's fields (name, description, extends or hook, generic, x86, arm64)",
                    null);
        }
        Partial p = new Partial();
        p.doc = doc;
        for (Iterator<String> it = root.fieldNames(); it.hasNext();) {
            String field = it.next();
            if (!TOP.contains(field)) {
                throw doc.error(field, "unknown field: expected one of " + String.join(", ", TOP), null);
            }
        }
        p.name = text(doc, root, "name", true);
        if (!NAME.matcher(p.name).matches()) {
            throw doc.error("name", "expected letters, digits, '.', '_' or '-' (it becomes part of run ids), got '" + p.name + "'", null);
        }
        p.description = text(doc, root, "description", true);
        if (p.description.contains("\n")) {
            throw doc.error("description", "expected one line", null);
        }
        p.extendsRef = text(doc, root, "extends", false);
        p.hook = text(doc, root, "hook", false);
        if (p.hook != null && !IDENTIFIER.matcher(p.hook).matches()) {
            throw doc.error("hook", "expected the hook's C name (invalidate_range, arch_invalidate_secondary_tlbs), got '" + p.hook + "'",
                    null);
        }
        for (var section : SCHEMA.entrySet()) {
            JsonNode node = root.get(section.getKey());
            if (node == null) {
                continue;
            }
            if (!node.isObject()) {
                throw doc.error(section.getKey(), "expected a mapping of kernel functions (" + String.join(", ",
                        section.getValue().keySet()) + ")", null);
            }
            Map<String, Entry> entries = new LinkedHashMap<>();
            for (var it = node.fields(); it.hasNext();) {
                var f = it.next();
                String path = section.getKey() + "." + f.getKey();
                Map<String, Type> keys = section.getValue().get(f.getKey());
                if (keys == null) {
                    throw doc.error(path, "unknown function: expected one of " + String.join(", ", section.getValue().keySet()), null);
                }
                entries.put(f.getKey(), entry(doc, path, f.getValue(), keys));
            }
            p.sections.put(section.getKey(), entries);
        }
        return p;
    }

    private static Entry entry(LocatedDocument doc, String path, JsonNode node, Map<String, Type> keys) throws ScenarioFileException {
        if (node == null || !node.isObject()) {
            throw doc.error(path, "expected a mapping of " + String.join(", ", keys.keySet()) + " and source", null);
        }
        Entry e = new Entry();
        for (var it = node.fields(); it.hasNext();) {
            var f = it.next();
            String key = f.getKey();
            String at = path + "." + key;
            if (key.equals("source")) {
                if (!f.getValue().isTextual() || f.getValue().asText().isBlank()) {
                    throw doc.error(at, "expected text: the kernel file, function and version this rule comes from", null);
                }
                e.source = f.getValue().asText().strip();
                continue;
            }
            Type type = keys.get(key);
            if (type == null) {
                throw doc.error(at, "unknown field: expected " + String.join(", ", keys.keySet()) + " or source", null);
            }
            e.values.put(key, value(doc, at, f.getValue(), type));
        }
        return e;
    }

    private static Object value(LocatedDocument doc, String at, JsonNode v, Type type) throws ScenarioFileException {
        if (v == null || v.isNull()) {
            throw doc.error(at, "expected a value, got null", null);
        }
        if (type instanceof IntType t) {
            if (!v.isIntegralNumber() || !v.canConvertToInt() || v.asInt() < t.min()) {
                throw doc.error(at, "expected a whole number of at least " + t.min() + ", got " + v, null);
            }
            return v.asInt();
        }
        if (type instanceof BoolType) {
            if (!v.isBoolean()) {
                throw doc.error(at, "expected true or false, got " + v, null);
            }
            return v.asBoolean();
        }
        if (type instanceof EnumType t) {
            Object c = v.isTextual() ? t.values().get(v.asText()) : null;
            if (c == null) {
                throw doc.error(at, "expected one of " + String.join(", ", t.values().keySet()) + ", got " + v, null);
            }
            return c;
        }
        return hook(doc, at, v, (HookType) type);
    }

    /** {@code none}, or {@code {mm: ..., range: [..., ...], at: ...}}; empty when none. */
    private static Optional<Hook> hook(LocatedDocument doc, String at, JsonNode v, HookType type) throws ScenarioFileException {
        String shape = "none, or {mm: " + join(type.mms()) + ", range: [start, end]" + (type.positions().isEmpty() ? ""
                : ", at: " + String.join(" | ", type.positions().stream().map(Hook.Position::text).toList())) + "}";
        if (v.isTextual() && v.asText().equals("none")) {
            return Optional.empty();
        }
        if (!v.isObject()) {
            throw doc.error(at, "expected " + shape + ", got " + v, null);
        }
        for (Iterator<String> it = v.fieldNames(); it.hasNext();) {
            String f = it.next();
            if (!List.of("mm", "range", "at").contains(f) || (f.equals("at") && type.positions().isEmpty())) {
                throw doc.error(at + "." + f, "unknown field: expected " + shape
                        + (f.equals("at") ? " (this call site has one place only)" : ""), null);
            }
        }
        JsonNode mmNode = v.get("mm");
        Hook.HookMm mm = null;
        for (Hook.HookMm m : type.mms()) {
            if (mmNode != null && mmNode.isTextual() && m.text().equals(mmNode.asText())) {
                mm = m;
            }
        }
        if (mm == null) {
            String why = type.mms().size() == 1 ? " (this function has no mm argument)" : "";
            throw doc.error(at + ".mm", "expected " + join(type.mms()) + why + ", got " + (mmNode == null ? "nothing" : mmNode), null);
        }
        JsonNode rangeNode = v.get("range");
        if (rangeNode == null || !rangeNode.isArray() || rangeNode.size() != 2) {
            throw doc.error(at + ".range", "expected [start, end]: two of start, end, 0, -1", null);
        }
        List<Hook.Bound> range = new ArrayList<>();
        for (int i = 0; i < 2; i++) {
            JsonNode b = rangeNode.get(i);
            String text = b.isIntegralNumber() ? b.asText() : b.isTextual() ? b.asText() : null;
            Hook.Bound bound = null;
            for (Hook.Bound candidate : Hook.Bound.values()) {
                if (candidate.text().equals(text) || (candidate == Hook.Bound.ALL && "-1UL".equals(text))) {
                    bound = candidate;
                }
            }
            if (bound == null) {
                throw doc.error(at + ".range[" + i + "]", "expected start, end, 0 or -1, got " + b, null);
            }
            range.add(bound);
        }
        Hook.Position position = null;
        if (!type.positions().isEmpty()) {
            JsonNode atNode = v.get("at");
            for (Hook.Position p : type.positions()) {
                if (atNode != null && atNode.isTextual() && p.text().equals(atNode.asText())) {
                    position = p;
                }
            }
            if (position == null) {
                throw doc.error(at + ".at", "expected " + String.join(", ", type.positions().stream().map(Hook.Position::text).toList())
                        + ", got " + (atNode == null ? "nothing" : atNode), null);
            }
        }
        return Optional.of(new Hook(mm, range, position));
    }

    private static String join(List<Hook.HookMm> mms) {
        return String.join(" | ", mms.stream().map(Hook.HookMm::text).toList());
    }

    private static String text(LocatedDocument doc, JsonNode root, String field, boolean required) throws ScenarioFileException {
        JsonNode v = root.get(field);
        if (v == null) {
            if (required) {
                throw doc.error("", "expected " + field, null);
            }
            return null;
        }
        if (!v.isTextual() || v.asText().isBlank()) {
            throw doc.error(field, "expected text, got " + v, null);
        }
        return v.asText().strip();
    }

    // ------------------------------------------------------------------ building

    @SuppressWarnings("unchecked")
    private static KernelVariant build(Partial p) {
        Map<String, Map<String, Entry>> s = p.sections;
        String basedOn = p.extendsRef;
        return new KernelVariant(p.name, p.description, basedOn, p.hook,
                new KernelVariant.Generic(
                        site(s, "generic", "mmu_notifier_invalidate_range_end"),
                        site(s, "generic", "tlb_flush_mmu_tlbonly"),
                        site(s, "generic", "try_to_unmap_one"),
                        new Rules.ColdOrPageoutPteRange(
                                (Boolean) val(s, "generic", "madvise_cold_or_pageout_pte_range", "pageout_clears_young"),
                                src(s, "generic", "madvise_cold_or_pageout_pte_range"))),
                new KernelVariant.X86(
                        new Rules.FlushTlbMmRange((Integer) val(s, "x86", "flush_tlb_mm_range", "tlb_single_page_flush_ceiling"),
                                hookVal(s, "x86", "flush_tlb_mm_range"), src(s, "x86", "flush_tlb_mm_range")),
                        new Rules.FlushTlbMulti((Rules.LazyCpus) val(s, "x86", "native_flush_tlb_multi", "lazy_cpus"),
                                src(s, "x86", "native_flush_tlb_multi")),
                        new Rules.ShouldDefer((Rules.Defer) val(s, "x86", "arch_tlbbatch_should_defer", "defer"),
                                src(s, "x86", "arch_tlbbatch_should_defer")),
                        site(s, "x86", "arch_tlbbatch_add_pending"),
                        site(s, "x86", "arch_tlbbatch_flush"),
                        new Rules.BatchedPending((Rules.BatchedPendingFlush) val(s, "x86", "arch_flush_tlb_batched_pending", "flush"),
                                src(s, "x86", "arch_flush_tlb_batched_pending")),
                        new Rules.MmuGather((Boolean) val(s, "x86", "mmu_gather", "merge_vmas"), src(s, "x86", "mmu_gather"))),
                new KernelVariant.Arm64(
                        site(s, "arm64", "flush_tlb_mm"),
                        new Rules.FlushTlbRange((Integer) val(s, "arm64", "__flush_tlb_range", "max_tlbi_ops"),
                                hookVal(s, "arm64", "__flush_tlb_range"), src(s, "arm64", "__flush_tlb_range")),
                        new Rules.RangeOp((Boolean) val(s, "arm64", "__flush_tlb_range_op", "advances_start"),
                                src(s, "arm64", "__flush_tlb_range_op")),
                        site(s, "arm64", "__flush_tlb_page_nosync"),
                        new Rules.ShouldDefer((Rules.Defer) val(s, "arm64", "arch_tlbbatch_should_defer", "defer"),
                                src(s, "arm64", "arch_tlbbatch_should_defer")),
                        site(s, "arm64", "arch_tlbbatch_flush"),
                        new Rules.BatchedPending((Rules.BatchedPendingFlush) val(s, "arm64", "arch_flush_tlb_batched_pending", "flush"),
                                src(s, "arm64", "arch_flush_tlb_batched_pending")),
                        new Rules.MmuGather((Boolean) val(s, "arm64", "mmu_gather", "merge_vmas"), src(s, "arm64", "mmu_gather"))));
    }

    private static Object val(Map<String, Map<String, Entry>> s, String section, String function, String key) {
        return s.get(section).get(function).values.get(key);
    }

    @SuppressWarnings("unchecked")
    private static Hook hookVal(Map<String, Map<String, Entry>> s, String section, String function) {
        return ((Optional<Hook>) val(s, section, function, "hook")).orElse(null);
    }

    private static String src(Map<String, Map<String, Entry>> s, String section, String function) {
        return s.get(section).get(function).source;
    }

    private static Site site(Map<String, Map<String, Entry>> s, String section, String function) {
        return new Site(hookVal(s, section, function), src(s, section, function));
    }

    private static byte[] resourceBytes(String name) {
        try (InputStream in = KernelFiles.class.getResourceAsStream("/kernels/" + name + ".yaml")) {
            if (in == null) {
                throw new IllegalStateException("the built-in kernel variant " + name + " is missing from the jar (kernels/" + name
                        + ".yaml)");
            }
            return in.readAllBytes();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
