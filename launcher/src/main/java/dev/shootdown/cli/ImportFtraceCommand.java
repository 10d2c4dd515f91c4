package dev.shootdown.cli;

import dev.shootdown.cli.report.AuditPrinter;
import dev.shootdown.cli.report.StreamingAudit;
import dev.shootdown.cli.run.BadInputException;
import dev.shootdown.codec.EventCodec;
import dev.shootdown.event.Callers;
import dev.shootdown.event.ControlEvent;
import dev.shootdown.event.Envelope;
import dev.shootdown.ftrace.FtraceFile;
import dev.shootdown.ftrace.FtraceImport;
import dev.shootdown.scenario.Arch;
import java.io.BufferedWriter;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/**
 * {@code shootdown import-ftrace FILE}: a capture of a real kernel ({@link FtraceImport}) as a
 * Shootdown log, audited as it is written, like a run's.
 */
@Command(name = "import-ftrace", mixinStandardHelpOptions = true,
        description = "Import an ftrace capture of a real kernel (the text of tracefs' trace file, or of trace-cmd report)"
                + " as a Shootdown log: write DIR/events.jsonl, audit it, and write DIR/report.json and DIR/report.html."
                + " docs/real-kernels.md says what to probe.")
final class ImportFtraceCommand implements Callable<Integer> {

    /** The callers of the shootdowns a workload brackets with trace_marker lines. */
    private static final Set<String> MARKED = Set.of(Callers.MUNMAP, Callers.MPROTECT, Callers.MADVISE_PAGEOUT);

    @Spec
    CommandSpec spec;

    @Parameters(index = "0", paramLabel = "FILE", description = "The capture.")
    Path file;

    @Option(names = "--out", defaultValue = "shootdown-out", paramLabel = "DIR",
            description = "Where events.jsonl, report.json and report.html go. Default: ${DEFAULT-VALUE}")
    Path out;

    @Option(names = "--kernel", paramLabel = "NAME",
            description = "The kernel the capture ran on, as the report names it. Default: FILE's name without its extension.")
    String kernel;

    @Option(names = "--arch", paramLabel = "ARCH",
            description = "x86 or arm64. Default: x86 when an x86 flush function is probed; otherwise required.")
    String arch;

    @Mixin
    AuditOptions audit;

    @Override
    public Integer call() throws Exception {
        if (!Files.isRegularFile(file)) {
            throw new BadInputException(file + ": no such file");
        }
        if (arch != null && !arch.equals("x86") && !arch.equals("arm64")) {
            throw new BadInputException("--arch: expected x86 or arm64, found " + arch);
        }
        PrintWriter stdout = spec.commandLine().getOut();
        FtraceFile capture = new FtraceFile(file);
        String name = kernel != null ? kernel : FtraceImport.runId(capture.file()).substring("ftrace-".length());
        RunCommand.createOutputDirectory(out);
        Path events = out.resolve("events.jsonl");
        long[] written = {0};
        ControlEvent.TraceImported imported;
        StreamingAudit.Result result;
        try (BufferedWriter w = Files.newBufferedWriter(events, StandardCharsets.UTF_8);
                StreamingAudit streaming = new StreamingAudit(out, audit.livelockThreshold()).printing(
                        // the workload's system calls, and whatever had a secondary TLB to invalidate; not the
                        // boot's and the shell's own flushes
                        s -> !s.order().equals("no-secondary-tlb") || MARKED.contains(s.caller()))) {
            try {
                imported = FtraceImport.convert(capture, name, arch == null ? null : Arch.of(arch), (Envelope e) -> {
                    try {
                        w.write(EventCodec.encode(e));
                        w.write('\n');
                    } catch (IOException io) {
                        throw new UncheckedIOException(io);
                    }
                    written[0]++;
                    streaming.accept(e);
                });
            } catch (IllegalArgumentException e) {
                throw new BadInputException(e.getMessage(), e);
            }
            result = streaming.finish(List.of());
        }
        stdout.printf(Locale.ROOT, "imported %s (%,d lines, sha256 %s): %,d events on %d CPUs%n", capture.file(),
                capture.lines(), capture.sha256().substring(0, 12), written[0], imported.cpus());
        imported.mms().forEach(m -> stdout.printf("  mm %d = %s (first seen in %s)%n", m.mm(), m.address(), m.task()));
        imported.ignoredLines().forEach((what, n) -> stdout.printf(Locale.ROOT, "  not imported: %,d x %s%n", n, what));
        imported.warnings().forEach(wn -> stdout.println("  warning: " + wn));
        stdout.println();
        AuditPrinter.print(result, "ftrace " + capture.file(), stdout);
        stdout.println("wrote " + events + " (" + written[0] + " events), " + out.resolve("report.json") + " and "
                + out.resolve("report.html"));
        stdout.flush();
        return result.violations() == 0 ? Shootdown.EXIT_CLEAN : Shootdown.EXIT_VIOLATIONS;
    }
}
