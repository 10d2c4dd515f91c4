package dev.shootdown.bench;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;

/**
 * One of Kafka's own tools ({@code org.apache.kafka.tools}, kafka-tools with its own clients,
 * copied to {@code bench/target/kafka-tools} at package) run in a JVM of its own, as the
 * references of the pipeline and latency rows are.
 */
final class KafkaTool {

    private KafkaTool() {}

    /**
     * What a tool printed, its exit status, and the processor time its JVM had used when last
     * seen before it exited (followed every 20 ms: a lower bound).
     */
    record Output(String tool, int exit, String out, String err, long cpuNs) {

        /** The tool's failure: its exit status, {@code why}, and the ends of what it printed. */
        IllegalStateException failed(String why) {
            return new IllegalStateException(tool + " failed (exit " + exit + (why.isEmpty() ? "" : ", " + why) + "): "
                    + out.substring(Math.max(0, out.length() - 2000)) + err.substring(0, Math.min(2000, err.length())));
        }
    }

    /** Runs {@code org.apache.kafka.tools.<tool>} with {@code args} from {@code kafkaTools}, waiting up to 10 minutes. */
    static Output run(Path kafkaTools, String tool, String... args) throws IOException, InterruptedException {
        if (!Files.isDirectory(kafkaTools)) {
            throw new IllegalStateException("no " + kafkaTools.toAbsolutePath() + ": build bench first (mvn -B -q install"
                    + " -DskipTests copies Kafka's tools there)");
        }
        Path stdout = Files.createTempFile("kafka-tool", ".out");
        Path stderr = Files.createTempFile("kafka-tool", ".err");
        try {
            List<String> command = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                    "-Xmx256m", "-cp", kafkaTools.toAbsolutePath() + "/*", "org.apache.kafka.tools." + tool));
            command.addAll(List.of(args));
            Process p = new ProcessBuilder(command).redirectOutput(stdout.toFile()).redirectError(stderr.toFile()).start();
            long cpuNs = 0;
            long deadline = System.nanoTime() + TimeUnit.MINUTES.toNanos(10);
            while (p.isAlive() && System.nanoTime() < deadline) {
                Optional<Duration> used = p.toHandle().info().totalCpuDuration();
                if (used.isPresent()) {
                    cpuNs = Math.max(cpuNs, used.get().toNanos());
                }
                Thread.sleep(20);
            }
            if (!p.waitFor(1, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                throw new IllegalStateException(tool + " did not finish in 10 minutes");
            }
            return new Output(tool, p.exitValue(), Files.readString(stdout), Files.readString(stderr), cpuNs);
        } finally {
            Files.deleteIfExists(stdout);
            Files.deleteIfExists(stderr);
        }
    }
}
