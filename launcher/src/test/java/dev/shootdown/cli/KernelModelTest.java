package dev.shootdown.cli;

import dev.shootdown.audit.AuditReport;
import dev.shootdown.audit.Auditor;
import dev.shootdown.audit.Violation;
import dev.shootdown.cli.experiment.ExperimentSpec;
import dev.shootdown.cli.run.BadInputException;
import dev.shootdown.codec.EventCodec;
import dev.shootdown.event.Envelope;
import dev.shootdown.event.Event;
import dev.shootdown.event.FaultEvent;
import dev.shootdown.event.IpiEvent;
import dev.shootdown.event.Kernel;
import dev.shootdown.event.PageTableEvent;
import dev.shootdown.event.SecondaryTlbEvent;
import dev.shootdown.host.LatencyModel;
import dev.shootdown.host.sim.SimEngine;
import dev.shootdown.log.CausalOrder;
import dev.shootdown.scenario.Arch;
import dev.shootdown.scenario.Scenario;
import dev.shootdown.scenario.Scenarios;
import dev.shootdown.simulation.DeterministicEngineTest;
import dev.shootdown.simulation.Machine;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.function.Predicate;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * The seed's three outcomes, and the absence of any other, come out of the modelled kernel steps
 * on the deterministic engine over many seeds; and the steps that produce them are in the log in
 * the kernel's order. The expected verdicts are the seed's table, read from
 * experiments/seed-outcomes.yaml (expectations of the model, never consulted by it).
 */
class KernelModelTest {

    /**
     * The seed's table, in one place: the fault-free expectations of experiments/seed-outcomes.yaml
     * (the three outcomes, every other cell clean), which {@code shootdown experiment} checks too.
     */
    static final ExperimentSpec SEED_OUTCOMES = seedOutcomes();

    private static ExperimentSpec seedOutcomes() {
        try {
            return ExperimentSpec.read(ExperimentCommandTest.SEED_OUTCOMES);
        } catch (BadInputException e) {
            throw new IllegalStateException(e.getMessage(), e);
        }
    }

    static List<Long> seeds(int count) {
        List<Long> seeds = new ArrayList<>();
        DeterministicEngineTest.seeds(count).forEach(seeds::add);
        return seeds;
    }

    /** The table's nine cells (the seed's three scenarios on their architecture) over 15 seeds. */
    static Stream<Arguments> seedTable() {
        List<Arguments> cases = new ArrayList<>();
        String[][] rows = {{"smmu-permission-upgrade", "arm64"}, {"kswapd-reclaim", "x86"}, {"direct-reclaim-cross-mm", "x86"}};
        for (long seed : seeds(15)) {
            for (String[] row : rows) {
                for (String policy : Scenario.POLICIES) {
                    cases.add(Arguments.of(row[0], row[1], policy, seed));
                }
            }
        }
        return cases.stream();
    }

    /** Every scenario x architecture x policy over 3 seeds. */
    static Stream<Arguments> everyCell() {
        List<Arguments> cases = new ArrayList<>();
        for (long seed : seeds(3)) {
            for (String name : Scenarios.names()) {
                for (String arch : Scenario.ARCHES) {
                    for (String policy : Scenario.POLICIES) {
                        cases.add(Arguments.of(name, arch, policy, seed));
                    }
                }
            }
        }
        return cases.stream();
    }

    /** The verdict kinds a fault-free cell must show: what the seed's table expects of it. */
    static Set<String> expected(String scenario, String arch, String policy) {
        ExperimentSpec.Expectation e = SEED_OUTCOMES.expectationFor(scenario, arch, policy, "none");
        if (e == null || e.violations() == null) {
            throw new IllegalStateException(ExperimentCommandTest.SEED_OUTCOMES + " expects nothing exact of " + scenario + " "
                    + arch + " " + policy + " without faults");
        }
        return new TreeSet<>(e.violations());
    }

    static List<Envelope> run(String scenario, String arch, String policy, long seed) {
        Scenario s = Scenarios.builtIn(scenario).orElseThrow().with(Arch.of(arch), policy);
        SimEngine.Result r = new SimEngine(scenario + "-" + arch + "-" + policy + "-s" + seed, seed, s, Machine.kernel(s), Machine.stateMachines(s),
                LatencyModel.defaults()).run(1_000_000);
        assertTrue(r.quiesced(), "every node quiesced: shootdown run --engine sim --scenario " + scenario + " --arch " + arch
                + " --policy " + policy + " --seed " + seed);
        return CausalOrder.sort(r.log(), e -> e);
    }

    static Set<String> kinds(AuditReport report) {
        Set<String> kinds = new TreeSet<>();
        for (Violation v : report.violations()) {
            kinds.add(v.kind());
        }
        return kinds;
    }

    /** The seed's table over 15 seeds, then every cell over 3. */
    static Stream<Arguments> cells() {
        return Stream.concat(seedTable(), everyCell());
    }

    @ParameterizedTest(name = "{0} {1} {2} seed {3}")
    @MethodSource("cells")
    void eachCellHasExactlyItsExpectedVerdicts(String scenario, String arch, String policy, long seed) {
        AuditReport report = Auditor.audit(run(scenario, arch, policy, seed));
        assertEquals(expected(scenario, arch, policy), kinds(report), () -> "verdicts of shootdown run --engine sim --scenario "
                + scenario + " --arch " + arch + " --policy " + policy + " --seed " + seed + ": " + report.violations());
    }

    @ParameterizedTest(name = "{0} {1} {2}")
    @MethodSource("seedTableRows")
    void theSameSeedGivesTheSameLogByteForByte(String scenario, String arch, String policy) {
        List<Envelope> first = run(scenario, arch, policy, 42);
        List<Envelope> second = run(scenario, arch, policy, 42);
        assertEquals(first.size(), second.size());
        for (int i = 0; i < first.size(); i++) {
            assertEquals(EventCodec.encode(first.get(i)), EventCodec.encode(second.get(i)), "line " + (i + 1));
        }
    }

    static Stream<Arguments> seedTableRows() {
        return seedTable().filter(a -> (long) a.get()[3] == seeds(1).get(0));
    }

    // ------------------------------------------------------------------ the steps behind the verdicts

    private static <T extends Event> List<Envelope> all(List<Envelope> log, Class<T> type, Predicate<T> which) {
        List<Envelope> out = new ArrayList<>();
        for (Envelope e : log) {
            if (type.isInstance(e.event()) && which.test(type.cast(e.event()))) {
                out.add(e);
            }
        }
        return out;
    }

    @Test
    void x86Linux66InvalidatesTheWholeMmAtArchTlbbatchAddPendingBeforeTheBatchsIpis() {
        List<Envelope> log = run("kswapd-reclaim", "x86", "linux-6.6", 1);
        List<Envelope> batches = all(log, PageTableEvent.TlbBatchFlushStarted.class, b -> true);
        assertFalse(batches.isEmpty(), "kswapd reclaimed");
        for (Envelope batch : batches) {
            long id = ((PageTableEvent.TlbBatchFlushStarted) batch.event()).shootdownId();
            List<Envelope> added = all(log, PageTableEvent.TlbBatchAddPending.class, a -> a.shootdownId() == id);
            List<Envelope> hooks = all(log, SecondaryTlbEvent.SecondaryTlbHookCalled.class, h -> h.shootdownId() == id);
            List<Envelope> ipis = all(log, IpiEvent.FlushTlb.class, f -> f.shootdownId() == id);
            List<Envelope> done = all(log, SecondaryTlbEvent.SecondaryTlbsInvalidated.class, s -> s.shootdownId() == id);
            assertEquals(added.size(), hooks.size(), "one hook call per folio added to batch " + id);
            assertFalse(ipis.isEmpty(), "batch " + id + " sent IPIs");
            for (int i = 0; i < added.size(); i++) {
                var a = (PageTableEvent.TlbBatchAddPending) added.get(i).event();
                var h = (SecondaryTlbEvent.SecondaryTlbHookCalled) hooks.get(i).event();
                assertEquals("arch_tlbbatch_add_pending", h.caller());
                assertEquals(a.mm(), h.mm(), "the hook names the mm whose PTE was cleared");
                assertEquals(0, h.start());
                assertEquals(Kernel.TLB_FLUSH_ALL, h.end(), "the whole mm");
                assertTrue(added.get(i).happenedBefore(hooks.get(i)));
                if (i + 1 < added.size()) {
                    assertTrue(hooks.get(i).happenedBefore(added.get(i + 1)), "the hook returns before the next folio");
                }
            }
            // Each folio is dirty: try_to_unmap_flush_dirty flushes its batch before the next folio, so each
            // batch's IPIs follow the completion of the invalidations requested before it (one per folio).
            List<Envelope> starts = all(log, PageTableEvent.TlbBatchFlushStarted.class, b -> b.shootdownId() == id);
            for (Envelope start : starts) {
                for (Envelope s : done) {
                    Envelope request = log.stream().filter(e -> e.id().equals(s.cause())).findFirst().orElseThrow();
                    if (request.happenedBefore(start)) {
                        assertTrue(s.happenedBefore(start), "secondary invalidation " + s.id() + " completed before the batch "
                                + start.id() + " sent its IPIs");
                    }
                }
            }
            Envelope previous = null;
            for (Envelope start : starts) {
                Envelope after = previous;
                assertTrue(added.stream().anyMatch(a -> (after == null || after.happenedBefore(a)) && a.happenedBefore(start)),
                        "batch " + start.id() + " flushes a folio added since the last one");
                previous = start;
            }
        }
        AuditReport report = Auditor.audit(log);
        assertEquals("secondary-before-cpu", report.shootdowns().stream()
                .filter(s -> s.caller().equals("kswapd")).findFirst().orElseThrow().order());
        long before = report.shootdowns().stream().filter(s -> s.lagNs() != null && s.lagNs() < 0).count();
        assertEquals(before, report.stats().secondaryBeforeCpu().shootdowns(), "the lag histogram counts each shootdown once");
        assertEquals(List.of(), report.shootdowns().stream().filter(s -> s.finishedNs() != null && s.order().equals("secondary-after-cpu"))
                .map(s -> s.id()).toList(), "6.6 batched reclaim never invalidates after the CPUs (a pass the window cut off may end on"
                + " a folio whose batch it never flushed)");
        long maxLead = report.shootdowns().stream().filter(s -> s.lagNs() != null).mapToLong(s -> -s.lagNs()).max().orElseThrow();
        assertEquals(maxLead, report.stats().secondaryBeforeCpu().maxNs(), 1 + maxLead / 1000, "HdrHistogram, 3 digits");
    }

    @Test
    void x86Linux66MunmapInvalidatesTheSecondaryTlbAfterTheCpusAndTheLagIsRecorded() {
        AuditReport report = Auditor.audit(run("munmap-dma", "x86", "linux-6.6", 1));
        var shootdown = report.shootdowns().get(0);
        assertEquals("secondary-after-cpu", shootdown.order());
        assertEquals(1, report.stats().secondaryAfterCpu().shootdowns());
        assertEquals(shootdown.lagNs(), report.stats().secondaryAfterCpu().p50Ns(), 1 + shootdown.lagNs() / 1000);
        assertEquals(0, report.stats().secondaryBeforeCpu().shootdowns());
    }

    @Test
    void seriesV2CallsTheHookFromArchTlbbatchFlushWithKswapdsNullMmAfterTheIpisAndOopses() {
        List<Envelope> log = run("kswapd-reclaim", "x86", "series-v2", 1);
        List<Envelope> oopses = all(log, FaultEvent.KernelOops.class, o -> o.comm().equals("kswapd0"));
        assertEquals(1, oopses.size(), "kswapd oopses once, and is gone");
        var oops = (FaultEvent.KernelOops) oopses.get(0).event();
        assertEquals("mm_has_notifiers", oops.function());
        assertEquals("arch_tlbbatch_flush", oops.caller());
        long id = oops.shootdownId();
        assertTrue(all(log, PageTableEvent.TlbBatchAddPending.class, a -> a.shootdownId() == id).size() > 0);
        List<Envelope> hooks = all(log, SecondaryTlbEvent.SecondaryTlbHookCalled.class, h -> h.shootdownId() == id);
        assertEquals(1, hooks.size(), "no hook at add_pending in v2, one at arch_tlbbatch_flush");
        assertEquals(0, ((SecondaryTlbEvent.SecondaryTlbHookCalled) hooks.get(0).event()).mm(), "current->mm of kswapd");
        for (Envelope ack : all(log, IpiEvent.TlbFlushed.class, f -> f.shootdownId() == id)) {
            assertTrue(ack.happenedBefore(hooks.get(0)), "the hook runs after the batch's IPIs were acknowledged");
        }
        assertTrue(all(log, PageTableEvent.FrameFreed.class, f -> f.shootdownId() == id).isEmpty(),
                "the oopsed reclaim frees nothing");
        assertTrue(all(log, PageTableEvent.TlbFlushFinished.class, f -> f.shootdownId() == id).isEmpty());
    }

    @Test
    void seriesV2DirectReclaimInvalidatesTheReclaimersMmAndTheDeviceWritesAFrameBReused() {
        List<Envelope> log = run("direct-reclaim-cross-mm", "x86", "series-v2", 1);
        Envelope hook = all(log, SecondaryTlbEvent.SecondaryTlbHookCalled.class, h -> h.caller().equals("arch_tlbbatch_flush"))
                .get(0);
        var h = (SecondaryTlbEvent.SecondaryTlbHookCalled) hook.event();
        assertEquals(2, h.mm(), "current->mm is B's");
        assertTrue(all(log, PageTableEvent.PteCleared.class, p -> p.shootdownId() == h.shootdownId() && p.mm() == 1).size() > 0,
                "the batch cleared A's PTEs");
        AuditReport report = Auditor.audit(log);
        Violation uaf = report.violations().stream().filter(v -> v.kind().equals("use-after-free")).findFirst().orElseThrow();
        assertEquals(1, uaf.mm(), "A's device, through A's stale translation");
    }

    @Test
    void arm64Linux65UpgradesThePteFlushesOnlyTheCpusAndTheDeviceFaultsOnTheSameAddressForever() {
        List<Envelope> log = run("smmu-permission-upgrade", "arm64", "linux-6.5", 1);
        List<Envelope> upgrades = all(log, PageTableEvent.PteProtectionChanged.class, p -> p.writable());
        assertEquals(1, upgrades.size(), "the first page's PTE is upgraded once, and the device never gets further");
        long id = ((PageTableEvent.PteProtectionChanged) upgrades.get(0).event()).shootdownId();
        assertFalse(all(log, IpiEvent.Tlbi.class, t -> t.shootdownId() == id).isEmpty(), "flush_tlb_page broadcast a TLBI");
        assertTrue(all(log, SecondaryTlbEvent.SecondaryTlbHookCalled.class, x -> true).isEmpty(), "6.5 never calls the hook here");
        List<Envelope> responses = all(log, FaultEvent.PageResponseSent.class,
                r -> r.code() == FaultEvent.PageResponseCode.SUCCESS);
        long va = ((PageTableEvent.PteProtectionChanged) upgrades.get(0).event()).va();
        assertTrue(responses.size() > 16, "more SUCCESS responses than the livelock threshold: " + responses.size());
        responses.forEach(r -> assertEquals(va, ((FaultEvent.PageResponseSent) r.event()).va()));
    }

    @Test
    void arm64Linux66InvalidatesTheSmmuFromFlushTlbPageBeforeThePageResponse() {
        List<Envelope> log = run("smmu-permission-upgrade", "arm64", "linux-6.6", 1);
        List<Envelope> hooks = all(log, SecondaryTlbEvent.SecondaryTlbHookCalled.class, h -> true);
        assertEquals(4, hooks.size(), "one flush_tlb_page per upgraded page");
        for (Envelope hookEnvelope : hooks) {
            var h = (SecondaryTlbEvent.SecondaryTlbHookCalled) hookEnvelope.event();
            assertEquals("__flush_tlb_page_nosync", h.caller());
            assertEquals(Kernel.PAGE_SIZE, h.end() - h.start());
            Envelope done = all(log, SecondaryTlbEvent.SecondaryTlbsInvalidated.class, s -> s.shootdownId() == h.shootdownId())
                    .get(0);
            Envelope response = all(log, FaultEvent.PageResponseSent.class, r -> r.va() == h.start()).stream()
                    .filter(r -> done.happenedBefore(r)).findFirst()
                    .orElseGet(() -> fail("no page response after the SMMU invalidation of " + Kernel.hex(h.start())));
            assertEquals(FaultEvent.PageResponseCode.SUCCESS, ((FaultEvent.PageResponseSent) response.event()).code());
        }
    }
}
