package dev.shootdown.cli;

import dev.shootdown.cli.run.ScenarioRunner;
import dev.shootdown.cli.report.StreamingAudit;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.shootdown.audit.AuditReport;
import dev.shootdown.audit.Auditor;
import dev.shootdown.event.Envelope;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * The streaming audit ({@code shootdown audit}) writes the same report.json and report.html as
 * {@code run} does holding the whole log, byte for byte, for each of the seed's outcomes; it
 * leaves no spool behind.
 */
class StreamingAuditTest {

    @TempDir
    Path dir;

    @ParameterizedTest(name = "{0} {1} {2}")
    @CsvSource({
        "munmap-dma, x86, linux-6.6",
        "smmu-permission-upgrade, arm64, linux-6.5",
        "kswapd-reclaim, x86, series-v2",
        "direct-reclaim-cross-mm, x86, series-v2",
        "direct-reclaim-cross-mm, x86, linux-6.6",
        "mprotect-downgrade, x86, linux-6.5",
    })
    void writesTheReportsRunWrites(String scenario, String arch, String policy) throws Exception {
        List<Envelope> log = KernelModelTest.run(scenario, arch, policy, 1);
        Path whole = Files.createDirectory(dir.resolve("whole"));
        Path streamed = Files.createDirectory(dir.resolve("streamed"));
        AuditReport report = Auditor.audit(log);
        ScenarioRunner.writeReport(whole, report, log);

        StreamingAudit.Result result;
        try (StreamingAudit audit = new StreamingAudit(streamed, Auditor.DEFAULT_FAULT_LIVELOCK_THRESHOLD)) {
            log.forEach(audit::accept);
            result = audit.finish(List.of());
        }
        assertEquals(Files.readString(whole.resolve("report.json")), Files.readString(streamed.resolve("report.json")));
        assertEquals(Files.readString(whole.resolve("report.html")), Files.readString(streamed.resolve("report.html")));
        assertEquals(report.violations().size(), result.violations());
        assertEquals(report.shootdowns().size(), result.shootdowns());
        assertEquals(report.verdict(), result.report().verdict());
        try (var files = Files.list(streamed)) {
            assertEquals(List.of("report.html", "report.json"), files.map(p -> p.getFileName().toString()).sorted().toList());
        }
        assertFalse(report.shootdowns().isEmpty());
        assertTrue(report.verdict().equals("clean") == report.violations().isEmpty());
    }
}
