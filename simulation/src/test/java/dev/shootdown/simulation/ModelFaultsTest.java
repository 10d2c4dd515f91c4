package dev.shootdown.simulation;

import dev.shootdown.audit.AuditReport;
import dev.shootdown.audit.Auditor;
import dev.shootdown.audit.Violation;
import dev.shootdown.codec.EventCodec;
import dev.shootdown.event.Envelope;
import dev.shootdown.event.FaultEvent;
import dev.shootdown.event.InjectionEvent;
import dev.shootdown.event.IpiEvent;
import dev.shootdown.event.PageTableEvent;
import dev.shootdown.event.SecondaryTlbEvent;
import dev.shootdown.event.TraceEvent;
import dev.shootdown.fault.FaultKind;
import dev.shootdown.fault.FaultPlan;
import dev.shootdown.fault.FaultSpec;
import dev.shootdown.fault.file.FaultPlans;
import dev.shootdown.host.LatencyModel;
import dev.shootdown.host.replay.Replayer;
import dev.shootdown.host.sim.SimEngine;
import dev.shootdown.log.CausalOrder;
import dev.shootdown.scenario.Arch;
import dev.shootdown.scenario.Scenario;
import dev.shootdown.scenario.Scenarios;
import dev.shootdown.scenario.file.ScenarioFiles;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Each model fault of a fault plan, end to end on the deterministic engine: what the kernel then
 * experiences, and what the audit makes of it (the "done when" verdicts), with the
 * fault-injected event in the chain. Faulted runs are deterministic and replay without divergence.
 */
class ModelFaultsTest {

    /** munmap-dma with a 300 us observation window: a fault that stalls the shootdown still lets the run end. */
    static final Scenario WINDOWED = Scenarios.munmapDma().withEnd(new Scenario.EndCondition(3, 300_000));

    record Run(List<Envelope> log, List<String> lines, AuditReport report, boolean quiesced) {
        Set<String> kinds() {
            return report.violations().stream().map(Violation::kind).collect(Collectors.toCollection(TreeSet::new));
        }

        List<Envelope> of(Class<?> type) {
            return log.stream().filter(e -> type.isInstance(e.event())).toList();
        }

        Envelope byId(String id) {
            return log.stream().filter(e -> e.id().equals(id)).findFirst().orElseThrow();
        }
    }

    static Run run(Scenario scenario, long seed) {
        SimEngine.Result result = new SimEngine("faults-s" + seed, seed, scenario, Machine.kernel(scenario), Machine.stateMachines(scenario),
                LatencyModel.defaults()).run(2_000_000);
        List<Envelope> log = CausalOrder.sort(result.log(), e -> e);
        return new Run(log, log.stream().map(EventCodec::encode).toList(), Auditor.audit(log), result.quiesced());
    }

    private static void assertReplaysWithoutDivergence(Run run) {
        Replayer.Result replay = Replayer.replay(run.log(), Machine::fresh);
        assertNull(replay.divergence(), () -> replay.divergence().describe());
    }

    @Test
    void aLostIpiOnX86UnderLinux66IsAMissingCpuInvalidationOfThatCpuWithTheFaultInItsChain() {
        Run run = run(WINDOWED.withFaults(FaultPlan.of(FaultSpec.of(FaultKind.LOST_IPI, "cpu1").withNth(1))), 1);

        assertTrue(run.quiesced(), "the observation window ends the run");
        List<Envelope> injected = run.of(InjectionEvent.FaultInjected.class);
        assertEquals(1, injected.size());
        Envelope lost = injected.get(0);
        assertEquals("cpu1", lost.node());
        var ipi = (IpiEvent.FlushTlb) run.byId(lost.cause()).event();
        assertTrue(ipi.viaIpi() && ipi.target().equals("cpu1"), "the fault hit the IPI to cpu1: " + ipi);
        assertTrue(run.of(IpiEvent.TlbFlushed.class).stream()
                        .noneMatch(e -> e.node().equals("cpu1") && ((IpiEvent.TlbFlushed) e.event()).shootdownId() == ipi.shootdownId()),
                "flush_tlb_func never ran on cpu1");
        assertTrue(run.of(dev.shootdown.event.PageTableEvent.FrameFreed.class).isEmpty(),
                "the initiator waits for ever: nothing is freed");

        List<Violation> cpu = run.report().violations().stream().filter(v -> v.kind().equals("missing-cpu-invalidation")).toList();
        assertFalse(cpu.isEmpty(), "violations: " + run.report().violations());
        for (Violation v : cpu) {
            assertEquals("cpu1", v.node());
            assertTrue(v.events().contains(lost.id()) && v.events().contains(lost.cause()), v.toString());
        }
        Violation hung = run.report().violations().stream().filter(v -> v.kind().equals("non-responsive-csd-lock")).findFirst()
                .orElseThrow(() -> new AssertionError(run.report().violations().toString()));
        assertEquals("cpu1", hung.node());
        assertEquals(List.of(lost.cause(), lost.id()), hung.events().subList(1, 3), "the IPI, then the fault that lost it");
        assertEquals(Set.of("missing-cpu-invalidation", "non-responsive-csd-lock"), run.kinds());
        assertEquals(1, run.report().faultsInjected());
        assertEquals(lost.cause(), run.report().faults().get(0).target());
        assertReplaysWithoutDivergence(run);
    }

    /** The first shootdown: kswapd0's first batch, on the scenario's kswapd CPU. */
    private static PageTableEvent.TlbFlushStarted kswapdBatch(Run run) {
        var first = (PageTableEvent.TlbFlushStarted) run.of(PageTableEvent.TlbFlushStarted.class).get(0).event();
        assertEquals("kswapd0", first.comm());
        return first;
    }

    @Test
    void kswapdWhoseBatchFlushIpisAreLostStaysInCsdLockWaitAndTheRunIsNotClean() {
        Scenario scenario = Scenarios.kswapdReclaim().withFaults(FaultPlan.of(FaultSpec.of(FaultKind.LOST_IPI, null).withNth(1)));
        Run run = run(scenario, 1);

        assertTrue(run.quiesced(), "the observation window ends the run");
        PageTableEvent.TlbFlushStarted batch = kswapdBatch(run);
        long id = batch.shootdownId();
        List<Envelope> lost = run.of(InjectionEvent.FaultInjected.class);
        assertEquals(List.of("cpu1", "cpu2"), lost.stream().map(Envelope::node).toList());
        for (Envelope f : lost) {
            var ipi = (IpiEvent.FlushTlb) run.byId(f.cause()).event();
            assertTrue(ipi.viaIpi() && ipi.mm() == 0 && ipi.shootdownId() == id, "arch_tlbbatch_flush's IPI was lost: " + ipi);
        }

        // kswapd0 spins in csd_lock_wait for ever: its batch frees nothing and it starts no other.
        assertTrue(run.of(PageTableEvent.FrameFreed.class).stream()
                .noneMatch(e -> ((PageTableEvent.FrameFreed) e.event()).shootdownId() == id), "the batch's folios are never freed");
        assertTrue(run.of(PageTableEvent.TlbFlushFinished.class).stream()
                .noneMatch(e -> ((PageTableEvent.TlbFlushFinished) e.event()).shootdownId() == id));
        List<PageTableEvent.TlbFlushStarted> later = run.of(PageTableEvent.TlbFlushStarted.class).stream()
                .filter(e -> lost.get(0).happenedBefore(e)).map(e -> (PageTableEvent.TlbFlushStarted) e.event()).toList();
        assertFalse(later.isEmpty(), "other contexts go on reclaiming");
        for (PageTableEvent.TlbFlushStarted t : later) {
            assertFalse(t.comm().equals("kswapd0"), "kswapd0 is stuck: " + t);
            assertFalse(t.cpu().equals(batch.cpu()), "nothing else runs on " + batch.cpu() + " while it spins: " + t);
        }
        // Other CPUs' tasks and the device still run, and other batches still free their folios.
        assertTrue(run.of(TraceEvent.MemoryAccessed.class).stream().anyMatch(lost.get(1)::happenedBefore));
        assertTrue(run.of(TraceEvent.DmaCompleted.class).stream().anyMatch(lost.get(1)::happenedBefore));
        assertTrue(run.of(PageTableEvent.FrameFreed.class).stream().anyMatch(lost.get(1)::happenedBefore));

        // cpu1 and cpu2 lost nothing stale (later batches flushed them whole), but reclaim hung: not clean.
        assertEquals("violations", run.report().verdict());
        assertEquals(Set.of("non-responsive-csd-lock"), run.kinds());
        assertEquals(Set.of("cpu1", "cpu2"), run.report().violations().stream().map(Violation::node).collect(Collectors.toSet()));
        for (Violation v : run.report().violations()) {
            Envelope fault = lost.stream().filter(f -> f.node().equals(v.node())).findFirst().orElseThrow();
            assertEquals(List.of(fault.cause(), fault.id()), v.events().subList(1, 3), v.toString());
            assertEquals(0, v.mm(), "arch_tlbbatch_flush names no mm");
        }
        var summary = run.report().shootdowns().stream().filter(s -> s.id() == id).findFirst().orElseThrow();
        assertNull(summary.finishedNs());
        assertEquals(List.of("cpu1", "cpu2"), summary.unacknowledged().stream().filter(u -> u.delivered())
                .map(u -> u.cpu()).toList());
        assertEquals(run.lines(), run(scenario, 1).lines(), "same seed and plan, same bytes");
        assertReplaysWithoutDivergence(run);
    }

    /**
     * cpu2 loses every IPI. kswapd's first folio is dirty, so try_to_unmap_flush_dirty flushes its
     * batch before its pageout (mm/vmscan.c shrink_folio_list): kswapd spins in csd_lock_wait on
     * that first flush, and no folio it unmapped is ever written out or freed. The hang is the
     * verdict, with the lost IPI in its chain.
     */
    @Test
    void aCpuThatLosesEveryBatchIpiHangsReclaimAtItsFirstFolioAndNothingItUnmappedIsFreed() {
        Run run = run(Scenarios.kswapdReclaim().withFaults(FaultPlan.of(FaultSpec.of(FaultKind.LOST_IPI, "cpu2"))), 1);

        long id = kswapdBatch(run).shootdownId();
        Envelope ipi = run.of(IpiEvent.FlushTlb.class).stream()
                .filter(e -> ((IpiEvent.FlushTlb) e.event()).shootdownId() == id && ((IpiEvent.FlushTlb) e.event()).target().equals("cpu2"))
                .findFirst().orElseThrow();
        Envelope lost = run.of(InjectionEvent.FaultInjected.class).stream().filter(f -> f.cause().equals(ipi.id())).findFirst()
                .orElseThrow();
        assertEquals(1, run.of(PageTableEvent.PteCleared.class).stream()
                .filter(e -> ((PageTableEvent.PteCleared) e.event()).shootdownId() == id).count(), "one folio, then the hang");
        assertTrue(run.of(PageTableEvent.FrameFreed.class).stream()
                .noneMatch(e -> ((PageTableEvent.FrameFreed) e.event()).shootdownId() == id), "nothing kswapd unmapped is freed");
        List<Violation> hung = run.report().violations().stream()
                .filter(v -> v.kind().equals("non-responsive-csd-lock") && v.events().contains(ipi.id())).toList();
        assertEquals(1, hung.size(), run.report().violations().toString());
        assertEquals("cpu2", hung.get(0).node());
        assertTrue(hung.get(0).events().contains(lost.id()), "the loss is in its chain: " + hung.get(0));
        assertFalse(run.kinds().contains("use-after-free"), run.kinds().toString());
        assertReplaysWithoutDivergence(run);
    }

    @Test
    void aFaultThatNeverMatchesIsSaidSoAndOneThatDidIsNot() {
        // arm64 sends no flush IPIs (broadcast TLBIs): a lost IPI has nothing to hit.
        Run arm64 = run(Scenarios.munmapDma().with(Arch.ARM64, "linux-6.6")
                .withFaults(FaultPlan.of(FaultSpec.of(FaultKind.LOST_IPI, "cpu1"),
                        FaultSpec.of(FaultKind.LATE_CMD_SYNC, "iommu0").withNth(1).withModelParameters(1_000L, null, null))), 1);
        assertEquals(List.of("faults[0] lost-ipi on cpu1: never matched anything in this run"), arm64.report().faultsNeverMatched());

        Run x86 = run(WINDOWED.withFaults(FaultPlan.of(FaultSpec.of(FaultKind.LOST_IPI, "cpu1").withNth(1))), 1);
        assertEquals(List.of(), x86.report().faultsNeverMatched());
        assertEquals(0, x86.of(InjectionEvent.FaultInjected.class).stream()
                .mapToInt(e -> ((InjectionEvent.FaultInjected) e.event()).index()).sum(), "the lost IPI is faults[0]");
    }

    @Test
    void aDroppedIotlbInvalidationIsAMissingSecondaryInvalidationAndTheDeviceUsesTheFreedFrame() {
        Run run = run(WINDOWED.withFaults(FaultPlan.of(FaultSpec.of(FaultKind.DROPPED_IOTLB_INVALIDATION, "iommu0").withNth(1))),
                1);

        Envelope dropped = run.of(InjectionEvent.FaultInjected.class).get(0);
        assertEquals("dropped-iotlb-invalidation", ((InjectionEvent.FaultInjected) dropped.event()).fault());
        assertTrue(run.of(SecondaryTlbEvent.IotlbInvalidated.class).isEmpty(), "the TLBI was dropped");
        assertFalse(run.of(SecondaryTlbEvent.SecondaryTlbsInvalidated.class).isEmpty(), "the kernel saw its CMD_SYNC complete");
        assertTrue(run.kinds().containsAll(Set.of("missing-secondary-invalidation", "use-after-free")), run.kinds().toString());
        assertTrue(run.report().violations().stream().anyMatch(v -> v.kind().equals("missing-secondary-invalidation")
                && v.node().equals("iommu0") && v.events().contains(dropped.id())), run.report().violations().toString());
        assertTrue(run.report().violations().stream().anyMatch(v -> v.kind().equals("use-after-free") && v.node().equals("iommu0")),
                "dev0 DMAs into a freed frame through the stale IOTLB (or the ATC it refilled)");
        assertReplaysWithoutDivergence(run);
    }

    @Test
    void atcInvalidatedBeforeTheIotlbIsAnOrderingViolation() {
        Run run = run(Scenarios.munmapDma().withFaults(FaultPlan.of(FaultSpec.of(FaultKind.ATC_BEFORE_IOTLB, "iommu0").withNth(1))),
                1);

        Envelope fault = run.of(InjectionEvent.FaultInjected.class).get(0);
        List<Envelope> issued = run.of(SecondaryTlbEvent.CommandsIssued.class);
        assertTrue(((SecondaryTlbEvent.CommandsIssued) issued.get(0).event()).commands().get(0).startsWith("ATC_INV"),
                "the ATC_INV went first");
        Violation order = run.report().violations().stream().filter(v -> v.kind().equals("atc-before-iotlb")).findFirst()
                .orElseThrow(() -> new AssertionError(run.report().violations().toString()));
        assertEquals("iommu0", order.node());
        assertEquals(List.of(fault.cause(), fault.id(), issued.get(0).id()), order.events());
        assertReplaysWithoutDivergence(run);
    }

    @Test
    void aLateCmdSyncDelaysTheSecondaryInvalidationAndThePolicySurvivesIt() {
        long delayNs = 50_000;
        Run run = run(Scenarios.munmapDma().withFaults(FaultPlan.of(FaultSpec.of(FaultKind.LATE_CMD_SYNC, "iommu0").withNth(1)
                .withModelParameters(delayNs, null, null))), 1);

        assertEquals(Set.of(), run.kinds(), "the kernel waits for the sync: clean");
        Envelope late = run.of(InjectionEvent.FaultInjected.class).get(0);
        Envelope tlbi = run.of(SecondaryTlbEvent.CommandsIssued.class).get(0);
        Envelope synced = run.of(SecondaryTlbEvent.IotlbInvalidated.class).get(0);
        assertTrue(tlbi.happenedBefore(late));
        assertTrue(synced.timeNs() - tlbi.timeNs() >= 800 + delayNs, "the CMD_SYNC took cmdqSyncNs + delayNs");
        Envelope returned = run.of(dev.shootdown.event.SyscallEvent.MunmapReturned.class).get(0);
        assertTrue(synced.happenedBefore(returned), "munmap returns only after the late sync");
        assertReplaysWithoutDivergence(run);
    }

    @Test
    void aDeviceThatRetriesFasterThanTheKernelAnswersNeverTakesItsAnswerAndThePolicySurvivesIt() {
        Run run = run(Scenarios.munmapDma().withFaults(FaultPlan.of(FaultSpec.of(FaultKind.FAST_DEVICE_RETRY, "iommu0")
                .withModelParameters(null, null, 300L))), 1);

        assertEquals(Set.of(), run.kinds(), "no stale translation is used: the retries walk and fault again");
        assertTrue(run.quiesced(), "the kernel answered the device's faults: the run ends");
        Envelope first = run.of(InjectionEvent.FaultInjected.class).get(0);
        List<Envelope> walksAfter = run.of(dev.shootdown.event.WalkEvent.PageWalkRequested.class).stream()
                .filter(e -> e.node().equals("iommu0") && first.happenedBefore(e)).toList();
        assertFalse(walksAfter.isEmpty(), "the device retried before its page response came");
        List<Envelope> responses = run.of(FaultEvent.PageResponseSent.class).stream().filter(first::happenedBefore).toList();
        assertFalse(responses.isEmpty());
        assertTrue(run.of(TraceEvent.DmaAborted.class).stream().noneMatch(first::happenedBefore),
                "every INVALID response found the device walking again, so it never gave the access up");
        assertTrue(run.of(FaultEvent.DeviceFaultRaised.class).stream().filter(first::happenedBefore)
                        .map(e -> ((FaultEvent.DeviceFaultRaised) e.event()).va()).distinct().count() == 1,
                "it keeps faulting on the one address");
        assertReplaysWithoutDivergence(run);
    }

    @Test
    void aPageRequestQueueOverflowHidesFaultsFromTheKernelAndThePolicySurvivesIt() {
        Run run = run(Scenarios.munmapDma().withFaults(FaultPlan.of(FaultSpec.of(FaultKind.PRQ_OVERFLOW, "iommu0").withCount(2)
                .withModelParameters(null, 0, null))), 1);

        assertEquals(Set.of(), run.kinds(), "the device retries and faults again: no stale translation is used");
        assertTrue(run.quiesced(), "the overflowed requests are retried and answered in the end");
        List<Envelope> overflows = run.of(InjectionEvent.FaultInjected.class);
        assertEquals(2, overflows.size());
        Envelope first = overflows.get(0);
        Envelope nextFault = run.of(FaultEvent.DeviceFaultRaised.class).stream().filter(first::happenedBefore).findFirst()
                .orElseThrow(() -> new AssertionError("the device retried and its fault reached the kernel"));
        assertEquals("iommu0", nextFault.node());
        assertReplaysWithoutDivergence(run);
    }

    @Test
    void theSameSeedAndPlanGiveTheSameLogByteForByteAndANoisyPlanReadsFromItsFile() throws Exception {
        FaultPlan noisy = FaultPlans.read(Path.of("..", "faults", "noisy.yaml"));
        Scenario windowed = ScenarioFiles.load(Path.of("..", "faults", "scenarios", "munmap-dma-window.yaml"));
        Run a = run(windowed.withFaults(noisy), 3);
        Run b = run(windowed.withFaults(noisy), 3);

        assertEquals(a.lines(), b.lines());
        assertFalse(a.of(InjectionEvent.FaultInjected.class).isEmpty());
        assertTrue(a.kinds().contains("missing-secondary-invalidation"), "the one fault that matters: " + a.kinds());
        assertReplaysWithoutDivergence(a);
    }

    @Test
    void anEmptyPlanChangesNothing() {
        Run plain = run(Scenarios.munmapDma(), 5);
        Run empty = run(Scenarios.munmapDma().withFaults(FaultPlan.NONE), 5);
        Run neverFires = run(Scenarios.munmapDma().withFaults(FaultPlan.of(FaultSpec.of(FaultKind.LOST_IPI, null)
                .withProbability(0))), 5);

        assertEquals(plain.lines(), empty.lines());
        assertEquals(plain.report(), empty.report());
        assertEquals(plain.lines().subList(1, plain.lines().size()), neverFires.lines().subList(1, neverFires.lines().size()),
                "only RunStarted (which carries the plan) differs");
    }
}
