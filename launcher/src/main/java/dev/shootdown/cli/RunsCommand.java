package dev.shootdown.cli;

import dev.shootdown.audit.AuditReport;
import dev.shootdown.audit.Auditor;
import dev.shootdown.audit.Violation;
import dev.shootdown.event.Envelope;
import dev.shootdown.host.kafka.RecordedEvent;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.TreeSet;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code shootdown runs}: the runs on a cluster with their scenario, arch, policy, size and verdict. */
@Command(name = "runs", mixinStandardHelpOptions = true,
        description = "List the runs on a Kafka cluster: scenario, arch, policy, events and audit verdict of each.")
final class RunsCommand implements Callable<Integer> {

    @Spec
    CommandSpec spec;

    @Option(names = "--bootstrap-servers", required = true, paramLabel = "HOST:PORT", description = "The cluster.")
    String bootstrapServers;

    @Mixin
    KafkaConfigOption kafkaConfig;

    @Override
    public Integer call() throws Exception {
        ClusterRuns cluster = new ClusterRuns(bootstrapServers, kafkaConfig.file);
        PrintWriter stdout = spec.commandLine().getOut();
        List<String> ids = cluster.ids();
        if (ids.isEmpty()) {
            stdout.println("no runs on " + bootstrapServers);
        } else {
            stdout.printf("%-60s %-24s %-6s %-10s %8s  %s%n", "run", "scenario", "arch", "policy", "events", "verdict");
        }
        for (String id : ids) {
            List<Envelope> log = new ArrayList<>();
            for (RecordedEvent e : cluster.read(id)) {
                log.add(e.envelope());
            }
            AuditReport r = Auditor.audit(log);
            TreeSet<String> kinds = new TreeSet<>();
            for (Violation v : r.violations()) {
                kinds.add(v.kind());
            }
            String verdict = (kinds.isEmpty() ? "clean" : String.join(", ", kinds)) + (r.complete() ? "" : " (incomplete)");
            stdout.printf("%-60s %-24s %-6s %-10s %8d  %s%n", id, r.scenario(), r.arch(), r.policy(), log.size(), verdict);
            stdout.flush();
        }
        stdout.flush();
        return Shootdown.EXIT_CLEAN;
    }
}
