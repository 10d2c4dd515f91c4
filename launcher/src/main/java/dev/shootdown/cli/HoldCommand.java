package dev.shootdown.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import dev.shootdown.audit.FlushSequence;
import dev.shootdown.cli.run.BadInputException;
import dev.shootdown.cli.run.KernelCatalog;
import dev.shootdown.cli.run.ScenarioRunner;
import dev.shootdown.event.ControlEvent;
import dev.shootdown.event.Envelope;
import dev.shootdown.event.Kernel;
import dev.shootdown.event.PageTableEvent;
import dev.shootdown.event.TraceEvent;
import dev.shootdown.ftrace.FtraceFile;
import dev.shootdown.ftrace.FtraceImport;
import dev.shootdown.host.kafka.InfrastructureException;
import dev.shootdown.kernel.KernelVariant;
import dev.shootdown.scenario.Arch;
import dev.shootdown.scenario.Scenario;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.Callable;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/**
 * {@code shootdown hold CAPTURE --kernel NAME}: the model held against a real kernel. Each
 * workload of {@code real-kernels/workloads.yaml} found in the capture is run as its scenario
 * under the variant, placed where the kernel ran it ({@link Scenario#placed}), and the capture's
 * shootdown and the model's are compared step by step ({@link FlushSequence}).
 */
@Command(name = "hold", mixinStandardHelpOptions = true,
        description = {"Hold the model against a capture of a real kernel: each workload of the workloads file found in the"
                + " capture runs as its scenario under --kernel, where the kernel ran it (a marker's 0xADDR len 0xLEN moves"
                + " the scenario's address space so that its system call starts at ADDR), and the two shootdowns are"
                + " compared step by step (hook calls, CPU flush completions, the first free). A mismatch prints both side"
                + " by side.",
                "",
                "Exit status: 0 every workload found matches; 1 a mismatch; 2 bad input."},
        exitCodeListHeading = "")
final class HoldCommand implements Callable<Integer> {

    @Spec
    CommandSpec spec;

    @Parameters(index = "0", paramLabel = "CAPTURE", description = "An ftrace capture (docs/real-kernels.md).")
    Path capture;

    @Option(names = "--kernel", required = true, paramLabel = "NAME|FILE",
            description = "The kernel variant that models the captured kernel: a built-in or a variant file.")
    String kernel;

    @Option(names = "--arch", paramLabel = "ARCH", description = "x86 or arm64. Default: x86 when an x86 flush function is probed.")
    String arch;

    @Option(names = "--workloads", defaultValue = "real-kernels/workloads.yaml", paramLabel = "FILE",
            description = "Which marker is which scenario. Default: ${DEFAULT-VALUE}")
    Path workloads;

    /**
     * One workload: the marker its shootdown starts with, its scenario, which of the run's
     * shootdowns, and whether its first free is compared by where it is ({@code in-order}) or
     * by what it follows ({@code after-any-folio}, {@link FlushSequence#freeAfterAnyFolio}).
     */
    record Workload(String marker, String scenario, int shootdown, boolean freeAfterAnyFolio) {}

    /**
     * A workload compared: the capture's steps and the model's, or why it was not compared;
     * {@code placedAt}, where the model's workload was moved to (the capture's address), or null
     * when it ran where its scenario puts it.
     */
    record Held(Workload workload, List<String> real, List<String> model, String skipped, Long placedAt) {
        boolean same() {
            return skipped == null && real.equals(model);
        }
    }

    @Override
    public Integer call() throws Exception {
        if (!Files.isRegularFile(capture)) {
            throw new BadInputException(capture + ": no such file");
        }
        if (arch != null && !Scenario.ARCHES.contains(arch)) {
            throw new BadInputException("--arch: expected x86 or arm64, found " + arch);
        }
        PrintWriter out = spec.commandLine().getOut();
        List<Workload> held = read(workloads);
        KernelCatalog kernels = new KernelCatalog();
        KernelVariant variant = kernels.resolve("--kernel", kernel);
        List<Envelope> real = new ArrayList<>();
        ControlEvent.TraceImported imported;
        try {
            imported = FtraceImport.convert(new FtraceFile(capture), variant.name(), arch == null ? null : Arch.of(ScenarioArgs.choice("--arch", arch, Scenario.ARCHES)), real::add);
        } catch (IllegalArgumentException e) {
            throw new BadInputException(e.getMessage(), e);
        }
        boolean cpuFlushes = real.stream().anyMatch(e -> e.event() instanceof PageTableEvent.TlbFlushCalled);
        out.printf("holding %s (%s) against the model's %s%s%n", capture.getFileName(), imported.arch(), variant.name(),
                cpuFlushes ? "" : "; the capture shows no CPU flush, so none is compared");
        List<Held> results = new ArrayList<>();
        try (ScenarioRunner runner = ScenarioRunner.sim(1, 5_000_000, 16, new PrintWriter(PrintWriter.nullWriter()))
                .withKernels(kernels)) {
            for (Workload w : held) {
                results.add(hold(w, real, imported.arch(), variant, runner, cpuFlushes));
            }
        }
        int differ = 0;
        for (Held h : results) {
            print(h, variant.name(), out);
            if (h.skipped() == null && !h.same()) {
                differ++;
            }
        }
        long compared = results.stream().filter(h -> h.skipped() == null).count();
        out.printf("%n%d of %d workloads compared: %s%n", compared, results.size(),
                differ == 0 ? "the model matches the kernel" : differ + " differ");
        out.flush();
        return differ == 0 ? Shootdown.EXIT_CLEAN : Shootdown.EXIT_VIOLATIONS;
    }

    private Held hold(Workload w, List<Envelope> real, Arch captureArch, KernelVariant variant, ScenarioRunner runner,
            boolean cpuFlushes) throws BadInputException, InfrastructureException {
        Optional<Marked> marked = markedShootdown(real, w.marker());
        if (marked.isEmpty()) {
            return new Held(w, List.of(), List.of(), "no `" + w.marker() + "` marker in the capture", null);
        }
        long realId = marked.get().shootdown();
        String caller = started(real, realId).caller();
        Scenario scenario = ScenarioArgs.scenario(resolveScenario(w.scenario()), new HashSet<>()).with(captureArch, variant.name());
        ScenarioRunner.Outcome run = runner.run(scenario);
        long modelId = modelShootdown(run.log(), caller, w, variant);
        // The workload's range is where the kernel's mmap put it; the model runs it there too, its
        // address space moved as a whole, so a range that crosses a page table's span in the
        // capture crosses it in the model (madvise_cold_or_pageout_pte_range walks, and reclaims,
        // page table by page table).
        Long placedAt = null;
        Matcher range = MARKER_RANGE.matcher(marked.get().text());
        if (range.find()) {
            long at = Long.parseUnsignedLong(range.group(1), 16);
            long len = Long.parseUnsignedLong(range.group(2), 16);
            Started model = started(run.log(), modelId);
            long delta = at - model.start();
            // only a system call's own range is placed (memory.reclaim's marker names the
            // workload's memory, but its reclaim is of the cgroup's LRU: no range of its own)
            if (model.end() - model.start() == len && delta != 0 && delta % Kernel.PAGE_SIZE == 0) {
                run = runner.run(scenario.placed(model.mm(), delta));
                modelId = modelShootdown(run.log(), caller, w, variant);
                placedAt = at;
            }
        }
        List<String> realSteps = FlushSequence.of(real, realId, cpuFlushes).orElseThrow();
        List<String> modelSteps = FlushSequence.of(run.log(), modelId, cpuFlushes).orElseThrow();
        if (w.freeAfterAnyFolio()) {
            realSteps = FlushSequence.freeAfterAnyFolio(realSteps, FlushSequence.framesFreed(real, realId));
            modelSteps = FlushSequence.freeAfterAnyFolio(modelSteps, FlushSequence.framesFreed(run.log(), modelId));
        }
        return new Held(w, realSteps, modelSteps, null, placedAt);
    }

    /** The model's shootdown the workload names: the n-th of its run whose caller is the capture's. */
    private long modelShootdown(List<Envelope> log, String caller, Workload w, KernelVariant variant) throws BadInputException {
        List<Long> same = new ArrayList<>();
        for (Envelope e : log) {
            if (e.event() instanceof PageTableEvent.MmuGatherStarted g && g.caller().equals(caller)) {
                same.add(g.shootdownId());
            } else if (e.event() instanceof PageTableEvent.TlbFlushStarted f && f.caller().equals(caller)) {
                same.add(f.shootdownId());
            }
        }
        if (same.size() < w.shootdown()) {
            throw new BadInputException(workloads + ": " + w.scenario() + " under " + variant.name() + " has " + same.size()
                    + " " + caller + " shootdown(s), not the " + w.shootdown() + " its workload `" + w.marker() + "` names");
        }
        return same.get(w.shootdown() - 1);
    }

    /** A workload's scenario: a built-in's name, or a file beside the workloads file. */
    private String resolveScenario(String scenario) {
        String lower = scenario.toLowerCase(java.util.Locale.ROOT);
        if (lower.endsWith(".yaml") || lower.endsWith(".yml") || lower.endsWith(".json")) {
            Path dir = workloads.toAbsolutePath().getParent();
            return dir.resolve(scenario).toString();
        }
        return scenario;
    }

    /** A workload's range in its marker's text: {@code ... 0xADDR len 0xLEN}. */
    static final Pattern MARKER_RANGE = Pattern.compile(" 0x([0-9a-fA-F]+) len 0x([0-9a-fA-F]+)$");

    /** The shootdown a trace_marker opened, and the marker's text. */
    record Marked(long shootdown, String text) {}

    /** The shootdown a trace_marker starting with {@code marker} opened: the next start on the marker's node. */
    private static Optional<Marked> markedShootdown(List<Envelope> log, String marker) {
        String node = null;
        String text = null;
        for (Envelope e : log) {
            if (node == null) {
                if (e.event() instanceof TraceEvent.TraceMarker m
                        && (m.text().equals(marker) || m.text().startsWith(marker + " 0x"))) {
                    node = e.node();
                    text = m.text();
                }
            } else if (e.node().equals(node)) {
                if (e.event() instanceof PageTableEvent.MmuGatherStarted g) {
                    return Optional.of(new Marked(g.shootdownId(), text));
                }
                if (e.event() instanceof PageTableEvent.TlbFlushStarted f) {
                    return Optional.of(new Marked(f.shootdownId(), text));
                }
                if (e.event() instanceof TraceEvent.TraceMarker) {
                    return Optional.empty(); // the marker opened no shootdown
                }
            }
        }
        return Optional.empty();
    }

    /** How shootdown {@code id} of {@code log} started: its caller, mm and range. */
    record Started(String caller, long mm, long start, long end) {}

    private static Started started(List<Envelope> log, long id) {
        for (Envelope e : log) {
            if (e.event() instanceof PageTableEvent.MmuGatherStarted g && g.shootdownId() == id) {
                return new Started(g.caller(), g.mm(), g.start(), g.end());
            }
            if (e.event() instanceof PageTableEvent.TlbFlushStarted f && f.shootdownId() == id) {
                return new Started(f.caller(), f.mm(), f.start(), f.end());
            }
        }
        throw new IllegalStateException("no start of shootdown " + id);
    }

    private static void print(Held h, String kernel, PrintWriter out) {
        Workload w = h.workload();
        if (h.skipped() != null) {
            out.printf("%n%s: not compared: %s%n", w.marker(), h.skipped());
            return;
        }
        out.printf("%n%s (%s, its shootdown %d%s): %s%n", w.marker(), w.scenario(), w.shootdown(),
                h.placedAt() == null ? "" : String.format(", placed at 0x%x", h.placedAt()), h.same() ? "same" : "DIFFERENT");
        int width = Math.max("the kernel".length(), h.real().stream().mapToInt(String::length).max().orElse(0));
        out.printf("  %-" + width + "s   %s%n", "the kernel", "the model (" + kernel + ")");
        for (int i = 0; i < Math.max(h.real().size(), h.model().size()); i++) {
            String r = i < h.real().size() ? h.real().get(i) : "";
            String m = i < h.model().size() ? h.model().get(i) : "";
            out.printf("  %-" + width + "s %s %s%n", r, r.equals(m) ? " " : "|", m);
        }
    }

    private static List<Workload> read(Path file) throws BadInputException {
        if (!Files.isRegularFile(file)) {
            throw new BadInputException(file + ": no such file (the workloads file; --workloads FILE)");
        }
        JsonNode root;
        try {
            root = new ObjectMapper(new YAMLFactory()).readTree(file.toFile());
        } catch (IOException e) {
            throw new BadInputException(file + ": not YAML: " + e.getMessage().lines().findFirst().orElse(""), e);
        }
        JsonNode list = root == null ? null : root.get("held");
        if (list == null || !list.isArray() || list.isEmpty()) {
            throw new BadInputException(file + ": held: expected a list of workloads (marker, scenario, shootdown)");
        }
        List<Workload> out = new ArrayList<>();
        for (int i = 0; i < list.size(); i++) {
            JsonNode w = list.get(i);
            String at = file + ": held[" + i + "]";
            if (!w.hasNonNull("marker") || !w.get("marker").isTextual() || !w.hasNonNull("scenario") || !w.get("scenario").isTextual()) {
                throw new BadInputException(at + ": expected marker and scenario, as text");
            }
            int shootdown = w.has("shootdown") ? w.get("shootdown").asInt(0) : 1;
            if (shootdown < 1) {
                throw new BadInputException(at + ".shootdown: expected a number from 1, got " + w.get("shootdown"));
            }
            String frees = w.hasNonNull("frees") ? w.get("frees").asText() : "in-order";
            if (!frees.equals("in-order") && !frees.equals("after-any-folio")) {
                throw new BadInputException(at + ".frees: expected in-order or after-any-folio, got " + w.get("frees"));
            }
            out.add(new Workload(w.get("marker").asText(), w.get("scenario").asText(), shootdown,
                    frees.equals("after-any-folio")));
        }
        return out;
    }
}
