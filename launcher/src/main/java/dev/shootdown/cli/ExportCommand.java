package dev.shootdown.cli;

import dev.shootdown.cli.run.BadInputException;
import java.io.BufferedWriter;
import java.io.IOException;
import java.io.OutputStream;
import java.io.OutputStreamWriter;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import java.util.zip.GZIPOutputStream;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code shootdown export --run ID}: a run's events from Kafka to a file, in causal order, lines as stored. */
@Command(name = "export", mixinStandardHelpOptions = true,
        description = "Write a run's events from Kafka to a file (events.jsonl; gzip when FILE ends in .gz), in causal order.")
final class ExportCommand implements Callable<Integer> {

    @Spec
    CommandSpec spec;

    @Option(names = "--run", required = true, paramLabel = "ID", description = "The run to export.")
    String run;

    @Option(names = "--bootstrap-servers", required = true, paramLabel = "HOST:PORT", description = "The cluster that holds it.")
    String bootstrapServers;

    @Mixin
    KafkaConfigOption kafkaConfig;

    @Option(names = "--out", paramLabel = "FILE", description = "Where to write it. Default: RUN.jsonl")
    Path out;

    @Override
    public Integer call() throws Exception {
        Path file = out == null ? Path.of(run + ".jsonl") : out;
        if (Files.isDirectory(file)) {
            throw new BadInputException("--out " + file + ": is a directory; give a file name");
        }
        boolean gzip = file.getFileName().toString().endsWith(".gz");
        Path parent = file.toAbsolutePath().getParent();
        if (!Files.isDirectory(parent)) {
            throw new BadInputException("--out " + file + ": no directory " + parent + " to write it in");
        }
        long events;
        // streamed: a spool per node and partition beside the file, merged into the canonical order as it is written
        Path spool = Files.createTempDirectory(parent, ".spool-");
        try (OutputStream os = gzip ? new GZIPOutputStream(Files.newOutputStream(file)) : Files.newOutputStream(file);
                BufferedWriter w = new BufferedWriter(new OutputStreamWriter(os, StandardCharsets.UTF_8))) {
            events = new ClusterRuns(bootstrapServers, kafkaConfig.file).stream(run, spool, (line, envelope) -> {
                w.write(line);
                w.write('\n');
            });
        } catch (IOException e) {
            throw new BadInputException("--out " + file + ": cannot write it (" + e.getMessage() + ")");
        } finally {
            Files.deleteIfExists(spool);
        }
        PrintWriter stdout = spec.commandLine().getOut();
        stdout.println("wrote " + file + " (" + events + " events of run " + run + ")");
        stdout.flush();
        return Shootdown.EXIT_CLEAN;
    }
}
