package dev.shootdown.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.shootdown.cli.experiment.Cells;
import dev.shootdown.cli.run.KernelCatalog;
import dev.shootdown.cli.run.ScenarioRunner;
import dev.shootdown.codec.EventCodec;
import dev.shootdown.event.ControlEvent;
import dev.shootdown.event.Envelope;
import dev.shootdown.host.LatencyModel;
import dev.shootdown.host.sim.SimEngine;
import dev.shootdown.log.CausalOrder;
import dev.shootdown.simulation.Machine;
import dev.shootdown.scenario.Arch;
import dev.shootdown.scenario.Scenario;
import dev.shootdown.scenario.Scenarios;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * Several Kafka runs at once on one broker ({@code matrix --engine kafka --jobs N}, {@code
 * experiment} with {@code engine: kafka}): they overlap, and each run's log is still the
 * deterministic engine's for its run id and seed, event for event, in the same order.
 */
@Timeout(value = 8, unit = TimeUnit.MINUTES)
class KafkaCellsIT {

    @RegisterExtension
    static final EmbeddedBroker BROKER = new EmbeddedBroker();

    @Test
    void cellsRunAtOnceOnOneBrokerAndEachLogIsTheDeterministicEnginesOwn(@TempDir Path dir) throws Exception {
        List<Scenario> scenarios = List.of(Scenarios.munmapDma().with(Arch.X86, "linux-6.6"),
                Scenarios.kswapdReclaim().with(Arch.X86, "series-v2"), Scenarios.directReclaimCrossMm().with(Arch.X86, "series-v2"),
                Scenarios.smmuPermissionUpgrade().with(Arch.ARM64, "linux-6.5"));
        KernelCatalog kernels = new KernelCatalog();
        List<Cells.Spec> cells = new ArrayList<>();
        for (Scenario s : scenarios) {
            cells.add(new Cells.Spec(s.name(), s.policy(), s, null, null, 1, s.name() + "/" + s.arch().label() + "/" + s.policy()));
        }
        Cells.Settings settings = new Cells.Settings(ScenarioRunner.Engine.kafka, 1_000_000, 20, 300, BROKER.bootstrapServers(), kernels);
        List<String> order = Collections.synchronizedList(new ArrayList<>());
        StringWriter progress = new StringWriter();
        List<Cells.Result> results;
        try (ScenarioRunner kafka = ScenarioRunner.kafka(BROKER.bootstrapServers(), null, 1, Duration.ofSeconds(300), 20,
                new PrintWriter(progress, true))) {
            results = Cells.run(cells, settings, kafka, 3, dir, new PrintWriter(progress, true), new Cells.Listener() {
                @Override
                public void onStarted(int index, Cells.Spec cell) {
                    order.add("started " + index);
                }

                @Override
                public void onFinished(int index, Cells.Spec cell, Cells.Result result, RuntimeException failure) {
                    order.add("finished " + index);
                }
            });
        }
        // three at a time: the first three started before any finished, the fourth after one did
        assertEquals(List.of("started 0", "started 1", "started 2"), order.subList(0, 3).stream().sorted().toList(), order.toString());
        assertTrue(order.indexOf("started 3") > order.indexOf(order.stream().filter(o -> o.startsWith("finished")).findFirst().orElseThrow()),
                order.toString());

        assertEquals(List.of("clean", "violations", "violations", "violations"), results.stream().map(Cells.Result::verdict).toList(),
                progress.toString());
        List<String> runIds = new ArrayList<>();
        for (int i = 0; i < cells.size(); i++) {
            Path cellDir = dir.resolve(cells.get(i).dir());
            List<String> lines = Files.readAllLines(cellDir.resolve("events.jsonl"));
            JsonNode report = EventCodec.mapper().readTree(cellDir.resolve("report.json").toFile());
            String runId = report.get("run").asText();
            runIds.add(runId);
            ControlEvent.RunStarted started = (ControlEvent.RunStarted) EventCodec.decode(lines.get(0)).event();
            SimEngine.Result sim = new SimEngine(runId, started.seed(), started.scenario(), started.kernel(),
                    Machine.stateMachines(started.scenario()), LatencyModel.defaults()).run(1_000_000);
            List<String> expected = CausalOrder.sort(sim.log(), (Envelope e) -> e).stream().map(EventCodec::encode).toList();
            assertEquals(expected.size(), lines.size(), runId + ": events");
            for (int j = 0; j < lines.size(); j++) {
                assertEquals(expected.get(j), lines.get(j), runId + ": line " + (j + 1));
            }
        }
        assertEquals(runIds.size(), runIds.stream().distinct().count(), "each run its own id: " + runIds);
    }
}
