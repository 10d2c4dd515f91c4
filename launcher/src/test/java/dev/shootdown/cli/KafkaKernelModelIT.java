package dev.shootdown.cli;

import dev.shootdown.audit.AuditReport;
import dev.shootdown.audit.Auditor;
import dev.shootdown.event.Envelope;
import dev.shootdown.host.ErrorLog;
import dev.shootdown.host.LatencyModel;
import dev.shootdown.host.kafka.KafkaHostConfig;
import dev.shootdown.host.kafka.KafkaRunner;
import dev.shootdown.host.kafka.NodeHost;
import dev.shootdown.host.kafka.RecordedEvent;
import dev.shootdown.scenario.Arch;
import dev.shootdown.scenario.Scenario;
import dev.shootdown.scenario.Scenarios;
import dev.shootdown.simulation.Machine;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The seed's table on the Kafka host: every service a verticle on a real (embedded KRaft) broker,
 * and the same verdicts as on the deterministic engine ({@link KernelModelTest}).
 */
@Timeout(value = 2, unit = TimeUnit.MINUTES)
class KafkaKernelModelIT {

    @RegisterExtension
    static final EmbeddedBroker BROKER = new EmbeddedBroker();

    static Stream<Arguments> seedTable() {
        List<Arguments> cases = new ArrayList<>();
        String[][] rows = {{"smmu-permission-upgrade", "arm64"}, {"kswapd-reclaim", "x86"}, {"direct-reclaim-cross-mm", "x86"}};
        for (String[] row : rows) {
            for (String policy : Scenario.POLICIES) {
                cases.add(Arguments.of(row[0], row[1], policy));
            }
        }
        return cases.stream();
    }

    @ParameterizedTest(name = "{0} {1} {2}")
    @MethodSource("seedTable")
    void theSeedTableHoldsOnKafka(String scenario, String arch, String policy) throws Exception {
        Scenario s = Scenarios.builtIn(scenario).orElseThrow().with(Arch.of(arch), policy);
        String runId = scenario + "-" + arch + "-" + policy + "-it-" + Long.toHexString(System.nanoTime());
        KafkaHostConfig config = KafkaHostConfig.defaults(BROKER.bootstrapServers());
        ErrorLog errors = new ErrorLog();
        NodeHost host = new NodeHost(runId, s.nodeIds(), config, LatencyModel.defaults(), errors);
        KafkaRunner.Result result = new KafkaRunner(config).run(host, 1, s, Machine.kernel(s), node -> Machine.verticle(host, node), List.of(),
                Duration.ofSeconds(90), node -> { });
        assertTrue(result.quiesced(), "every node quiesced; missing " + result.missingNodes());
        assertTrue(errors.isEmpty(), String.join("; ", errors.distinct()));
        List<Envelope> log = new ArrayList<>();
        for (RecordedEvent e : result.log()) {
            log.add(e.envelope());
        }
        AuditReport report = Auditor.audit(log);
        assertEquals(KernelModelTest.expected(scenario, arch, policy), KernelModelTest.kinds(report),
                () -> "verdicts of run " + runId + ": " + report.violations());
    }
}
