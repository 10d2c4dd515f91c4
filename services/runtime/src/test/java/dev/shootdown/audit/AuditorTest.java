package dev.shootdown.audit;

import dev.shootdown.testing.TestRuns;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.shootdown.event.Access;
import dev.shootdown.event.ControlEvent;
import dev.shootdown.event.Envelope;
import dev.shootdown.event.FaultEvent;
import dev.shootdown.event.InjectionEvent;
import dev.shootdown.event.IpiEvent;
import dev.shootdown.event.IpiEvent.FlushKind;
import dev.shootdown.event.Kernel;
import dev.shootdown.event.PageTableEvent;
import dev.shootdown.event.SecondaryTlbEvent;
import dev.shootdown.event.SyscallEvent;
import dev.shootdown.event.TraceEvent;
import dev.shootdown.event.TraceEvent.TranslationSource;
import dev.shootdown.scenario.Scenarios;
import dev.shootdown.testing.LogBuilder;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The auditor judged on hand-built logs: one page of mm 1, cached by cpu0's TLB, iommu0's IOTLB
 * and dev0's ATC, unmapped by cpu0. Each test changes one step of the shootdown.
 */
class AuditorTest {

    static final long VA = 0x7f0000000000L;
    static final long END = VA + 4096;
    static final long FRAME = 0x1000;

    /** The shared beginning: everything cached, then the PTE cleared and the CPU flush sent. */
    private static final class Run {
        final LogBuilder b = new LogBuilder("t");
        final Envelope start;
        final Envelope bound;
        final Envelope iotlbFill;
        final Envelope cpuFill;
        final Envelope clear;
        final Envelope flush;

        Run() {
            start = b.emit("control", 0, TestRuns.runStarted("t", 1, Scenarios.munmapDma()));
            bound = b.emit("coordinator", 10, new SecondaryTlbEvent.SvaBound("iommu0", "dev0", 1, 1, true), start);
            b.emit("iommu0", 20, new TraceEvent.PasidBound("iommu0", "dev0", 1, 1, true), bound);
            iotlbFill = b.emit("iommu0", 30, new TraceEvent.IotlbFilled("iommu0", 1, VA, FRAME, 1, true));
            b.emit("iommu0", 30, new TraceEvent.AtcFilled("iommu0", "dev0", 1, VA, FRAME, 1, true));
            b.emit("iommu0", 30, new TraceEvent.DmaCompleted("iommu0", "dev0", 1, VA, FRAME, 1, Access.WRITE,
                    TranslationSource.WALK));
            b.emit("cpu0", 40, new TraceEvent.MmSwitched("cpu0", 0, 1, 0), start);
            cpuFill = b.emit("cpu0", 50, new TraceEvent.TlbFilled("cpu0", 1, VA, FRAME, 1, true));
            Envelope munmap = b.emit("cpu0", 60, new SyscallEvent.Munmap("coordinator", "cpu0", 100, 1, VA, END));
            b.emit("coordinator", 70, new PageTableEvent.MmuGatherStarted(1, 1, VA, END, "munmap", "cpu0", 100), munmap);
            clear = b.emit("coordinator", 70, new PageTableEvent.PteCleared(1, VA, FRAME, 1, 1));
            b.emit("coordinator", 70, new PageTableEvent.MmTlbGenIncremented(1, 1, VA, END, 1));
            flush = b.emit("coordinator", 70, new IpiEvent.FlushTlb("cpu0", 1, VA, END, 1, 1, false, false, 1));
        }

        Envelope cpuAck() {
            return b.emit("cpu0", 100, new IpiEvent.TlbFlushed("coordinator", "cpu0", 1, VA, END, FlushKind.PARTIAL, 1, 1, 1), flush);
        }

        /** The IOMMU invalidates after the request; returns its completion. */
        Envelope secondary(Envelope request) {
            b.emit("iommu0", 300, new SecondaryTlbEvent.IotlbInvalidated("iommu0", 1, VA, END, "TLBI_NH_VA", 1, 1), request);
            b.emit("iommu0", 400, new SecondaryTlbEvent.AtcInvalidated("iommu0", "dev0", 1, VA, END, 1, 1));
            return b.emit("iommu0", 400, new SecondaryTlbEvent.SecondaryTlbsInvalidated("coordinator", "iommu0", 1, 1, VA, END, 1));
        }

        Envelope free(Envelope... seen) {
            Envelope free = b.emit("coordinator", 500, new PageTableEvent.FrameFreed(FRAME, 1, 1), seen);
            b.emit("coordinator", 500, new SyscallEvent.MunmapReturned("cpu0", 100, 1, VA, END, 0));
            b.emit("coordinator", 500, new PageTableEvent.MmuGatherFinished(1, 1, 1));
            return free;
        }

        AuditReport audit() {
            Auditor auditor = new Auditor();
            b.log().forEach(auditor::accept);
            return auditor.finish();
        }
    }

    private static List<String> kinds(AuditReport r) {
        return r.violations().stream().map(Violation::kind).distinct().sorted().toList();
    }

    @Test
    void linux66OrderIsCleanWithSecondaryAfterCpu() {
        Run run = new Run();
        Envelope ack = run.cpuAck();
        Envelope request = run.b.emit("coordinator", 200,
                new SecondaryTlbEvent.InvalidateSecondaryTlbs("iommu0", 1, 1, VA, END, 1), ack);
        Envelope done = run.secondary(request);
        Envelope free = run.free(done);
        // After the free the device faults: its translation is gone.
        run.b.emit("iommu0", 600, new FaultEvent.DeviceFaultRaised("coordinator", "iommu0", "dev0", 1, 1, VA, Access.WRITE), free);

        AuditReport r = run.audit();
        assertEquals("clean", r.verdict(), () -> r.violations().toString());
        ShootdownSummary s = r.shootdowns().get(0);
        assertEquals("secondary-after-cpu", s.order());
        assertEquals(70L, s.pteChangeNs());
        assertEquals(300L, s.lagNs());
        assertEquals(200L, s.secondary().get(0).issuedNs());
        assertEquals(300L, s.secondary().get(0).iotlbNs());
        assertEquals(400L, s.secondary().get(0).atcNs());
        assertEquals(500L, s.lastFreeNs());
        assertEquals(500L, s.returnedNs());
    }

    @Test
    void aSecondRequestToTheSameIommuGetsItsOwnRowNotTheFirstOnesCompletion() {
        // Given a shootdown that asks iommu0 twice (6.5's per-page invalidate_range), the first request done,
        Run run = new Run();
        Envelope first = run.b.emit("coordinator", 80,
                new SecondaryTlbEvent.InvalidateSecondaryTlbs("iommu0", 1, 1, VA, END, 1), run.clear);
        Envelope done = run.secondary(first);
        // when the second is issued after it and the log ends before the IOMMU answers it,
        run.b.emit("coordinator", 450, new SecondaryTlbEvent.InvalidateSecondaryTlbs("iommu0", 1, 1, VA, END, 1), done);

        // then iommu0's row is the second request's: issued at 450, nothing completed, not the first one's times.
        ShootdownSummary.SecondaryInvalidation row = run.audit().shootdowns().get(0).secondary().get(0);
        assertEquals(450L, row.issuedNs());
        assertEquals(null, row.iotlbNs(), row.toString());
        assertEquals(null, row.atcNs(), row.toString());
        assertEquals(null, row.completedNs(), row.toString());
    }

    @Test
    void secondaryCompletingBeforeTheCpuAckIsClassifiedSecondaryBeforeCpu() {
        Run run = new Run();
        Envelope request = run.b.emit("coordinator", 80,
                new SecondaryTlbEvent.InvalidateSecondaryTlbs("iommu0", 1, 1, VA, END, 1), run.clear);
        Envelope done = run.secondary(request);
        Envelope ack = run.b.emit("cpu0", 450, new IpiEvent.TlbFlushed("coordinator", "cpu0", 1, VA, END, FlushKind.PARTIAL, 1, 1, 1),
                run.flush, done);
        run.free(ack);
        AuditReport r = run.audit();
        assertEquals("clean", r.verdict(), () -> r.violations().toString());
        assertEquals("secondary-before-cpu", r.shootdowns().get(0).order());
    }

    @Test
    void freeingWithoutTheSecondaryHookIsMissingSecondaryInvalidationAndTheNextDmaIsUseAfterFree() {
        Run run = new Run();
        Envelope ack = run.cpuAck();
        run.free(ack);
        // The device never heard of it: its ATC still maps the freed frame.
        run.b.emit("iommu0", 600, new TraceEvent.DmaCompleted("iommu0", "dev0", 1, VA, FRAME, 1, Access.WRITE,
                TranslationSource.ATC));

        AuditReport r = run.audit();
        assertEquals("violations", r.verdict());
        assertEquals(List.of("missing-secondary-invalidation", "race-with-free", "use-after-free"), kinds(r));
        assertEquals("secondary-never", r.shootdowns().get(0).order());
        // The DMA through the stale ATC entry (iommu0#5): proved by the ATC fill and the free.
        Violation uaf = r.violations().stream().filter(v -> v.events().contains("iommu0#5")).findFirst().orElseThrow();
        assertEquals("use-after-free", uaf.kind());
        assertEquals("iommu0", uaf.node());
        assertEquals(List.of("iommu0#3", "coordinator#6", "iommu0#5"), uaf.events());
        for (Violation v : r.violations()) {
            assertEquals(1, v.mm(), "every violation names the mm: " + v);
            assertEquals("0x7f0000000000", v.va(), "every violation names the address: " + v);
        }
        // The DMA before the munmap (iommu0#4) is not ordered before the free either: nothing made the
        // kernel wait for the device. But it came first in simulated time: a race with the free, not a use of it.
        Violation race = r.violations().stream().filter(v -> v.kind().equals("race-with-free")).findFirst().orElseThrow();
        assertEquals(List.of("iommu0#4", "coordinator#6"), race.events());
        assertTrue(r.violations().stream().noneMatch(v -> v.kind().equals("use-after-free") && v.events().contains("iommu0#4")));
    }

    @Test
    void anInvalidationNotOrderedBeforeTheFreeDoesNotCount() {
        Run run = new Run();
        Envelope ack = run.cpuAck();
        Envelope request = run.b.emit("coordinator", 200,
                new SecondaryTlbEvent.InvalidateSecondaryTlbs("iommu0", 1, 1, VA, END, 1), ack);
        // The coordinator frees without waiting for the completion.
        Envelope free = run.free();
        run.secondary(request);
        AuditReport r = run.audit();
        assertTrue(kinds(r).contains("missing-secondary-invalidation"), () -> r.violations().toString());
        assertTrue(r.violations().stream().anyMatch(v -> v.explanation().contains("not ordered before the free")),
                () -> r.violations().toString());
        assertTrue(free.seq() > 0);
    }

    @Test
    void aLoadedCpuThatWasNeverFlushedIsMissingCpuInvalidation() {
        Run run = new Run();
        Envelope request = run.b.emit("coordinator", 200,
                new SecondaryTlbEvent.InvalidateSecondaryTlbs("iommu0", 1, 1, VA, END, 1), run.clear);
        Envelope done = run.secondary(request);
        run.free(done);
        AuditReport r = run.audit();
        assertEquals(List.of("missing-cpu-invalidation"), kinds(r));
        assertEquals("cpu0", r.violations().get(0).node());
        assertEquals(1, r.violations().get(0).mm());
        assertEquals("0x7f0000000000", r.violations().get(0).va());
    }

    @Test
    void aCpuThatSwitchedAwayIsNotBlamedAtTheFree() {
        Run run = new Run();
        run.b.emit("cpu0", 65, new TraceEvent.MmSwitched("cpu0", 1, 0, 0));
        Envelope request = run.b.emit("coordinator", 200,
                new SecondaryTlbEvent.InvalidateSecondaryTlbs("iommu0", 1, 1, VA, END, 1), run.clear);
        Envelope done = run.secondary(request);
        run.free(done);
        AuditReport r = run.audit();
        assertEquals("clean", r.verdict(), () -> r.violations().toString());
        assertTrue(run.cpuFill.seq() > 0 && run.iotlbFill.seq() > 0);
    }

    /**
     * A reclaim pass (shrink_folio_list with TTU_BATCH_FLUSH) on an arm64 6.6 kernel, by kswapd
     * on cpu1: the PTE of VA in mm 1 is cleared, arch_tlbbatch_add_pending invalidates mm 1's
     * secondary TLB whole and sends the TLBI; arch_tlbbatch_flush's DSB waits for it; the folio
     * is freed and the pass ends.
     */
    private static final class Reclaim {
        final LogBuilder b = new LogBuilder("t");
        final Envelope start;
        final Envelope iotlbFill;
        final Envelope started;
        final Envelope clear;

        Reclaim(String caller, long currentMm) {
            start = b.emit("control", 0, TestRuns.runStarted("t", 1, Scenarios.munmapDma()));
            Envelope bound = b.emit("coordinator", 10, new SecondaryTlbEvent.SvaBound("iommu0", "dev0", 1, 1, false), start);
            b.emit("iommu0", 20, new TraceEvent.PasidBound("iommu0", "dev0", 1, 1, false), bound);
            iotlbFill = b.emit("iommu0", 30, new TraceEvent.IotlbFilled("iommu0", 1, VA, FRAME, 1, true));
            b.emit("cpu0", 40, new TraceEvent.MmSwitched("cpu0", 0, 1, 0), start);
            b.emit("cpu0", 50, new TraceEvent.TlbFilled("cpu0", 1, VA, FRAME, 1, true));
            started = b.emit("coordinator", 60, new PageTableEvent.TlbFlushStarted(7, caller, "cpu1",
                    caller.equals("kswapd") ? "kswapd0" : "stress-ng", 50, currentMm, 0, 0, Kernel.TLB_FLUSH_ALL, ""));
            clear = b.emit("coordinator", 70, new PageTableEvent.PteCleared(1, VA, FRAME, 1, 7));
            b.emit("coordinator", 70, new PageTableEvent.TlbBatchAddPending(7, 1, VA));
        }

        /** The secondary-TLB hook called for {@code mm} [start, end), and, unless mm is NULL, its invalidation. */
        Envelope hook(String caller, long mm, long start, long end, Envelope... seen) {
            Envelope call = b.emit("coordinator", 80, new SecondaryTlbEvent.SecondaryTlbHookCalled("cpu1", caller,
                    "arch_invalidate_secondary_tlbs", mm, start, end, mm == 0 ? 0 : 1, 7), seen);
            if (mm == 0) {
                return call;
            }
            Envelope request = b.emit("coordinator", 80, new SecondaryTlbEvent.InvalidateSecondaryTlbs("iommu0", mm, 1, start, end, 7));
            b.emit("iommu0", 90, new SecondaryTlbEvent.IotlbInvalidated("iommu0", 1, start, end, "TLBI_NH_ASID", 1, 7), request);
            return b.emit("iommu0", 100, new SecondaryTlbEvent.SecondaryTlbsInvalidated("coordinator", "iommu0", mm, 1, start, end, 7));
        }

        /** The broadcast TLBI for VA of mm 1, sent after {@code seen}, reaches cpu0 and completes. */
        Envelope tlbi(Envelope... seen) {
            Envelope tlbi = b.emit("coordinator", 110, new IpiEvent.Tlbi("cpu0", "VALE1IS", 1, VA, END, 7), seen);
            return b.emit("cpu0", 120, new IpiEvent.TlbiCompleted("coordinator", "cpu0", 1, VA, END, 1, 7), tlbi);
        }

        /** The folio is freed after {@code seen}, and the pass ends. */
        Envelope freeAndFinish(Envelope... seen) {
            Envelope free = b.emit("coordinator", 200, new PageTableEvent.FrameFreed(FRAME, 1, 7), seen);
            b.emit("coordinator", 210, new PageTableEvent.TlbFlushFinished(7, 1));
            return free;
        }

        AuditReport audit() {
            return Auditor.audit(b.log());
        }
    }

    @Test
    void aReclaimPassIsAShootdownWithItsHookCallsTlbiCompletionsAndWholeMmInvalidationsPerReclaimedPage() {
        Reclaim r = new Reclaim("kswapd", 0);
        Envelope done = r.hook("arch_tlbbatch_add_pending", 1, 0, Kernel.TLB_FLUSH_ALL, r.clear);
        Envelope ack = r.tlbi(done);
        r.freeAndFinish(done, ack);

        AuditReport report = r.audit();
        assertEquals("clean", report.verdict(), () -> report.violations().toString());
        ShootdownSummary s = report.shootdowns().get(0);
        assertEquals("kswapd", s.caller());
        assertEquals("cpu1", s.cpu());
        assertEquals(0, s.mm());
        assertEquals(1, s.ptesCleared());
        assertEquals(70L, s.pteChangeNs());
        assertEquals(1, s.hookCalls().size());
        assertEquals("arch_tlbbatch_add_pending", s.hookCalls().get(0).caller());
        assertEquals(1, s.hookCalls().get(0).mm());
        assertEquals("0xffffffffffffffff", s.hookCalls().get(0).end());
        assertEquals(1, s.cpuFlushes().size());
        assertEquals("VALE1IS", s.cpuFlushes().get(0).kind());
        assertEquals(120L, s.cpuFlushes().get(0).completedNs());
        assertEquals("secondary-before-cpu", s.order());
        assertEquals(210L, s.finishedNs());
        assertEquals(1, report.stats().wholeMmSecondaryInvalidations());
        assertEquals(1, report.stats().framesReclaimed());
        assertEquals(1.0, report.stats().wholeMmSecondaryInvalidationsPerReclaimedPage());
        assertEquals(Auditor.DEFAULT_FAULT_LIVELOCK_THRESHOLD, report.faultLivelockThreshold());
    }

    @Test
    void aTlbiCompletionDropsTheCpuEntrySoTheFreeIsCoveredAndWithoutItItIsNot() {
        Reclaim covered = new Reclaim("kswapd", 0);
        Envelope done = covered.hook("arch_tlbbatch_add_pending", 1, 0, Kernel.TLB_FLUSH_ALL, covered.clear);
        covered.freeAndFinish(done, covered.tlbi());
        assertEquals("clean", covered.audit().verdict(), () -> covered.audit().violations().toString());

        Reclaim uncovered = new Reclaim("kswapd", 0);
        uncovered.freeAndFinish(uncovered.hook("arch_tlbbatch_add_pending", 1, 0, Kernel.TLB_FLUSH_ALL, uncovered.clear));
        AuditReport r = uncovered.audit();
        assertEquals(List.of("missing-cpu-invalidation"), kinds(r));
        assertEquals(0.0, new Reclaim("kswapd", 0).audit().stats().wholeMmSecondaryInvalidationsPerReclaimedPage());
    }

    /**
     * x86 6.6: the batch's hook completed, then arch_tlbbatch_flush IPIs cpu0 (no mm attached)
     * and the IPI is lost there; the pass never frees nor finishes. Returns the IPI, then the
     * fault-injected event that lost it.
     */
    private static List<Envelope> lostBatchIpi(Reclaim r) {
        Envelope done = r.hook("arch_tlbbatch_add_pending", 1, 0, Kernel.TLB_FLUSH_ALL, r.clear);
        r.b.emit("coordinator", 110, new PageTableEvent.TlbBatchFlushStarted(7, List.of("cpu0", "cpu1")), done);
        Envelope ipi = r.b.emit("coordinator", 110, new IpiEvent.FlushTlb("cpu0", 0, 0, Kernel.TLB_FLUSH_ALL, -1, -1, true, false, 7,
                List.of(new IpiEvent.MmTlbGen(1, 1))));
        Envelope lost = r.b.emit("cpu0", 120, new InjectionEvent.FaultInjected("lost-ipi", "model", "cpu0", "flush-tlb shootdown 7",
                "the flush IPI of shootdown 7 never reached cpu0"), ipi);
        return List.of(ipi, lost);
    }

    @Test
    void aLostBatchIpiToACpuStillHoldingAPageOfAnotherMmIsAMissingCpuInvalidationOfThatMmAndAHungCsdLock() {
        Reclaim r = new Reclaim("kswapd", 0);
        List<Envelope> ipiAndLost = lostBatchIpi(r);
        Envelope ipi = ipiAndLost.get(0);
        Envelope lost = ipiAndLost.get(1);

        AuditReport report = r.audit();
        assertEquals(List.of("missing-cpu-invalidation", "non-responsive-csd-lock"), kinds(report));
        Violation stale = report.violations().stream().filter(v -> v.kind().equals("missing-cpu-invalidation")).findFirst()
                .orElseThrow();
        assertEquals("cpu0", stale.node());
        assertEquals(1, stale.mm(), "the page's mm, not the batch's (0)");
        assertEquals("0x7f0000000000", stale.va());
        assertEquals(List.of("cpu0#2", r.clear.id(), ipi.id(), lost.id()), stale.events(), "fill, PTE cleared, the flush, the loss");
    }

    @Test
    void aLostBatchIpiToACpuThatKeptNothingStaleIsStillANonResponsiveCsdLockAndTheShootdownWaitsForThatCpu() {
        Reclaim r = new Reclaim("kswapd", 0);
        List<Envelope> ipiAndLost = lostBatchIpi(r);
        // A later full flush of mm 1 on cpu0 (another shootdown) drops the stale entry anyway.
        r.b.emit("cpu0", 150, new IpiEvent.TlbFlushed("coordinator", "cpu0", 1, 0, Kernel.TLB_FLUSH_ALL, FlushKind.FULL, 5, 1, 8));
        r.b.emit("cpu0", 900, new TraceEvent.MmSwitched("cpu0", 1, 0, 0));

        AuditReport report = r.audit();
        assertEquals("violations", report.verdict(), "reclaim hung: the run is not clean");
        assertEquals(1, report.violations().size(), () -> report.violations().toString());
        Violation hung = report.violations().get(0);
        assertEquals("non-responsive-csd-lock", hung.kind());
        assertEquals("cpu0", hung.node());
        assertEquals(0, hung.mm(), "arch_tlbbatch_flush's IPI names no mm");
        assertEquals(List.of(r.started.id(), ipiAndLost.get(0).id(), ipiAndLost.get(1).id()), hung.events());
        assertTrue(hung.explanation().contains("csd_lock_wait") && hung.explanation().contains("kswapd0 on cpu1"), hung.explanation());
        ShootdownSummary s = report.shootdowns().get(0);
        assertEquals(null, s.finishedNs());
        assertEquals(List.of(new ShootdownSummary.UnacknowledgedFlush("cpu0", true, 110, true, ipiAndLost.get(0).id())),
                s.unacknowledged());
    }

    @Test
    void anIpiADeliveredCpuNeverAnsweredIsANonResponsiveCsdLockEvenWithoutAnInjectedFault() {
        Reclaim r = new Reclaim("kswapd", 0);
        Envelope done = r.hook("arch_tlbbatch_add_pending", 1, 0, Kernel.TLB_FLUSH_ALL, r.clear);
        Envelope ipi = r.b.emit("coordinator", 110, new IpiEvent.FlushTlb("cpu0", 0, 0, Kernel.TLB_FLUSH_ALL, -1, -1, true, false, 7,
                List.of(new IpiEvent.MmTlbGen(1, 1))), done);
        Envelope after = r.b.emit("cpu0", 130, new TraceEvent.MemoryAccessed("cpu0", 100, 1, VA, FRAME, 1, Access.READ, true), ipi);

        AuditReport report = r.audit();
        Violation hung = report.violations().stream().filter(v -> v.kind().equals("non-responsive-csd-lock")).findFirst()
                .orElseThrow(() -> new AssertionError(report.violations().toString()));
        assertEquals(List.of(r.started.id(), ipi.id(), after.id()), hung.events(), "the CPU's later event proves the delivery");
    }

    @Test
    void anIpiStillInFlightWhenTheLogEndsIsNotAHang() {
        Reclaim r = new Reclaim("kswapd", 0);
        Envelope done = r.hook("arch_tlbbatch_add_pending", 1, 0, Kernel.TLB_FLUSH_ALL, r.clear);
        r.b.emit("cpu0", 105, new TraceEvent.MmSwitched("cpu0", 1, 0, 0)); // cpu0's last event, before the IPI reaches it
        Envelope ipi = r.b.emit("coordinator", 110, new IpiEvent.FlushTlb("cpu0", 0, 0, Kernel.TLB_FLUSH_ALL, -1, -1, true, false, 7,
                List.of(new IpiEvent.MmTlbGen(1, 1))), done);

        AuditReport report = r.audit();
        assertEquals("clean", report.verdict(), () -> report.violations().toString());
        assertEquals(List.of(new ShootdownSummary.UnacknowledgedFlush("cpu0", true, 110, false, ipi.id())),
                report.shootdowns().get(0).unacknowledged());
    }

    @Test
    void aNullMmHandedToTheHookIsAKernelOopsNamingTheHookCallAndTheOops() {
        // series-v2: arch_tlbbatch_flush passes current->mm, NULL in kswapd.
        Reclaim r = new Reclaim("kswapd", 0);
        Envelope call = r.hook("arch_tlbbatch_flush", 0, 0, Kernel.TLB_FLUSH_ALL, r.clear);
        Envelope oops = r.b.emit("coordinator", 90, new FaultEvent.KernelOops("cpu1", "kswapd0", 50, "mm_has_notifiers",
                "arch_tlbbatch_flush", 0x300, "BUG: kernel NULL pointer dereference, address: 0000000000000300", 7), call);

        AuditReport report = r.audit();
        assertEquals(List.of("kernel-oops"), kinds(report));
        Violation v = report.violations().get(0);
        assertEquals("cpu1", v.node());
        assertEquals(0, v.mm());
        assertEquals("0x300", v.va());
        assertEquals(List.of(call.id(), oops.id()), v.events());
        assertTrue(v.explanation().contains("mm_has_notifiers") && v.explanation().contains("arch_tlbbatch_flush")
                && v.explanation().contains("kswapd0"), v.explanation());
        assertEquals(null, report.shootdowns().get(0).finishedNs(), "the oopsed pass never finishes");
    }

    @Test
    void aShootdownTheWatchdogFoundStuckInTheHookIsAStallNamingWhatItWaitsFor() {
        // The IOMMU never answers the invalidation: nothing proves why, so the watchdog's report is the verdict.
        Reclaim r = new Reclaim("kswapd", 0);
        Envelope call = r.b.emit("coordinator", 80, new SecondaryTlbEvent.SecondaryTlbHookCalled("cpu1", "arch_tlbbatch_add_pending",
                "arch_invalidate_secondary_tlbs", 1, 0, Kernel.TLB_FLUSH_ALL, 1, 7), r.clear);
        r.b.emit("coordinator", 80, new SecondaryTlbEvent.InvalidateSecondaryTlbs("iommu0", 1, 1, 0, Kernel.TLB_FLUSH_ALL, 7));
        Envelope stall = r.b.emit("coordinator", 800_080, new FaultEvent.StallDetected("cpu1", "kswapd0", 7,
                "arch_invalidate_secondary_tlbs (the IOMMU's invalidation)", List.of("iommu0 pasid 1"), 80, 800_000), call);
        r.b.emit("coordinator", 800_080, new ControlEvent.RunCompleted("the watchdog: shootdown 7 ..."), stall);

        AuditReport report = r.audit();

        assertEquals(List.of("stall"), kinds(report));
        Violation v = report.violations().get(0);
        assertEquals("cpu1", v.node());
        assertEquals(List.of(r.started.id(), stall.id()), v.events());
        assertEquals("shootdown 7 (kswapd on cpu1, in kswapd0) made no progress from 0.080 us for the stall window of 800.000 us:"
                + " arch_invalidate_secondary_tlbs (the IOMMU's invalidation) waits for iommu0 pasid 1; the kernel's watchdog"
                + " (the hung-task detector) reports it and nothing it waits for ever answers (" + stall.id() + ")", v.explanation());
        assertEquals("the watchdog: shootdown 7 ...", report.ended());
    }

    @Test
    void theFixedKernelHandsTheHookTheRightMmAndDoesNotOops() {
        Reclaim r = new Reclaim("kswapd", 0);
        Envelope done = r.hook("arch_tlbbatch_add_pending", 1, 0, Kernel.TLB_FLUSH_ALL, r.clear);
        r.freeAndFinish(done, r.tlbi(done));
        AuditReport report = r.audit();
        assertTrue(report.violations().stream().noneMatch(v -> v.kind().equals("kernel-oops")), () -> report.violations().toString());
        assertEquals("clean", report.verdict());
    }

    /**
     * The seed's arm64 6.5 livelock: VA of mm 1 is mapped read-only in a writable VMA and cached
     * so in iommu0's IOTLB; dev0 writes it and faults; the first fault's handler makes the PTE
     * writable (ptep_set_access_flags, no secondary invalidation on 6.5), and every fault is
     * answered SUCCESS.
     */
    private static final class Livelock {
        final LogBuilder b = new LogBuilder("t");
        final Envelope start;
        Envelope upgrade;
        final List<Envelope> faults = new java.util.ArrayList<>();
        final List<Envelope> responses = new java.util.ArrayList<>();
        private Envelope last;

        Livelock() {
            start = b.emit("control", 0, TestRuns.runStarted("t", 1, Scenarios.smmuPermissionUpgrade()));
            Envelope bound = b.emit("coordinator", 10, new SecondaryTlbEvent.SvaBound("iommu0", "dev0", 1, 1, false), start);
            b.emit("coordinator", 20, new PageTableEvent.PteSet(1, VA, FRAME, 1, false));
            b.emit("coordinator", 20, new PageTableEvent.PteSet(1, VA2, FRAME + 4096, 1, true));
            last = b.emit("iommu0", 30, new TraceEvent.IotlbFilled("iommu0", 1, VA, FRAME, 1, false), bound);
        }

        /** dev0 faults with {@code access} on {@code va}; the handler upgrades VA's PTE the first time, and answers {@code code}. */
        Livelock fault(long va, Access access, FaultEvent.PageResponseCode code) {
            Envelope fault = b.emit("iommu0", 40, new FaultEvent.DeviceFaultRaised("coordinator", "iommu0", "dev0", 1, 1, va, access),
                    last);
            faults.add(fault);
            if (upgrade == null && va == VA && access == Access.WRITE) {
                upgrade = b.emit("coordinator", 50, new PageTableEvent.PteProtectionChanged(1, VA, FRAME, 1, true,
                        "ptep_set_access_flags", 3), fault);
            }
            last = b.emit("coordinator", 60, new FaultEvent.PageResponseSent("iommu0", "dev0", 1, va, code), fault);
            responses.add(last);
            return this;
        }

        Livelock writes(int n) {
            for (int i = 0; i < n; i++) {
                fault(VA, Access.WRITE, FaultEvent.PageResponseCode.SUCCESS);
            }
            return this;
        }
    }

    static final long VA2 = VA + 0x10000;

    @Test
    void kSuccessResponsesInARowWhileThePteAllowsTheWriteAreAFaultLivelockReportedOnce() {
        Livelock l = new Livelock().writes(8);

        AuditReport r = Auditor.audit(l.b.log(), 4);
        assertEquals(4, r.faultLivelockThreshold());
        assertEquals(List.of("fault-livelock"), kinds(r));
        assertEquals(1, r.violations().size(), "one report per streak: " + r.violations());
        Violation v = r.violations().get(0);
        assertEquals("iommu0", v.node());
        assertEquals(1, v.mm());
        assertEquals("0x7f0000000000", v.va());
        assertEquals(List.of(l.faults.get(0).id(), l.upgrade.id(), l.responses.get(3).id()), v.events());
        assertTrue(v.explanation().contains("ptep_set_access_flags"), v.explanation());
    }

    @Test
    void kMinusOneSuccessResponsesAreNoLivelockAndTheDefaultThresholdIsSixteen() {
        assertEquals("clean", Auditor.audit(new Livelock().writes(3).b.log(), 4).verdict());
        assertEquals("clean", Auditor.audit(new Livelock().writes(15).b.log()).verdict());
        assertEquals(List.of("fault-livelock"), kinds(Auditor.audit(new Livelock().writes(16).b.log())));
        Auditor auditor = new Auditor(2);
        new Livelock().writes(2).b.log().forEach(auditor::accept);
        assertEquals(List.of("fault-livelock"), kinds(auditor.finish()));
    }

    @Test
    void aResponseForAnotherAddressOrAnInvalidOneResetsTheCount() {
        Livelock otherVa = new Livelock().writes(3);
        otherVa.fault(VA2, Access.WRITE, FaultEvent.PageResponseCode.SUCCESS);
        otherVa.writes(3);
        assertEquals("clean", Auditor.audit(otherVa.b.log(), 4).verdict(), "3 + 3 with another address between");

        Livelock invalid = new Livelock().writes(3);
        invalid.fault(VA, Access.WRITE, FaultEvent.PageResponseCode.INVALID);
        invalid.writes(3);
        assertEquals("clean", Auditor.audit(invalid.b.log(), 4).verdict(), "3 + 3 with an INVALID between");

        Livelock otherAccess = new Livelock().writes(3);
        otherAccess.fault(VA, Access.READ, FaultEvent.PageResponseCode.SUCCESS);
        otherAccess.writes(3);
        assertEquals("clean", Auditor.audit(otherAccess.b.log(), 4).verdict(), "3 + 3 with a read between");
        otherAccess.writes(1);
        assertEquals(List.of("fault-livelock"), kinds(Auditor.audit(otherAccess.b.log(), 4)), "then 4 in a row");
    }

    @Test
    void successResponsesWhileThePteStillForbidsTheWriteAreNoLivelock() {
        // The handler answers SUCCESS but never made the PTE writable: not the seed's livelock.
        Livelock l = new Livelock();
        l.upgrade = l.start; // suppress the upgrade
        l.writes(8);
        assertEquals("clean", Auditor.audit(l.b.log(), 4).verdict());
    }

    @Test
    void directReclaimHandingTheHookCurrentMmInsteadOfTheBatchMmIsAWrongMmInvalidation() {
        // series-v2, direct reclaim by a task of mm 2: arch_tlbbatch_flush invalidates current->mm.
        Reclaim r = new Reclaim("direct-reclaim", 2);
        Envelope call = r.b.emit("coordinator", 80, new SecondaryTlbEvent.SecondaryTlbHookCalled("cpu1", "arch_tlbbatch_flush",
                "arch_invalidate_secondary_tlbs", 2, 0, Kernel.TLB_FLUSH_ALL, 0, 7), r.clear);
        r.freeAndFinish(call, r.tlbi(call));

        AuditReport report = r.audit();
        assertTrue(kinds(report).contains("wrong-mm-invalidation"), () -> report.violations().toString());
        List<Violation> wrong = report.violations().stream().filter(v -> v.kind().equals("wrong-mm-invalidation")).toList();
        assertEquals(1, wrong.size());
        Violation v = wrong.get(0);
        assertEquals("cpu1", v.node());
        assertEquals(2, v.mm());
        assertEquals("0x7f0000000000", v.va());
        assertEquals(List.of(r.clear.id(), call.id()), v.events());
        assertTrue(v.explanation().contains("for mm 2 (current->mm)") && v.explanation().contains("PTEs of mm 1 only"),
                v.explanation());
        // And mm 1's IOMMU still held the freed frame: reported once, at the free, not again at the pass's end.
        assertEquals(1, report.violations().stream().filter(x -> x.kind().equals("missing-secondary-invalidation")).count(),
                () -> report.violations().toString());
    }

    @Test
    void aHookNamingTheMmWhosePtesChangedIsNoWrongMmInvalidation() {
        Reclaim r = new Reclaim("direct-reclaim", 2);
        Envelope done = r.hook("arch_tlbbatch_add_pending", 1, 0, Kernel.TLB_FLUSH_ALL, r.clear);
        r.freeAndFinish(done, r.tlbi(done));
        AuditReport report = r.audit();
        assertEquals("clean", report.verdict(), () -> report.violations().toString());
    }

    /**
     * mprotect(PROT_READ) of VA in mm 1 by task 100 on cpu0 (shootdown 2): VA is cached writable
     * by cpu0's TLB and iommu0's IOTLB; change_pte_range makes the PTE read-only and
     * flush_tlb_mm_range flushes cpu0.
     */
    private static final class Mprotect {
        final LogBuilder b = new LogBuilder("t");
        final Envelope start;
        final Envelope iotlbFill;
        final Envelope cpuFill;
        final Envelope downgrade;
        final Envelope cpuAck;

        Mprotect() {
            start = b.emit("control", 0, TestRuns.runStarted("t", 1, Scenarios.mprotectDowngrade()));
            Envelope bound = b.emit("coordinator", 10, new SecondaryTlbEvent.SvaBound("iommu0", "dev0", 1, 1, false), start);
            b.emit("coordinator", 10, new PageTableEvent.PteSet(1, VA, FRAME, 1, true));
            b.emit("iommu0", 20, new TraceEvent.PasidBound("iommu0", "dev0", 1, 1, false), bound);
            iotlbFill = b.emit("iommu0", 30, new TraceEvent.IotlbFilled("iommu0", 1, VA, FRAME, 1, true));
            b.emit("cpu0", 40, new TraceEvent.MmSwitched("cpu0", 0, 1, 0), start);
            cpuFill = b.emit("cpu0", 50, new TraceEvent.TlbFilled("cpu0", 1, VA, FRAME, 1, true));
            Envelope call = b.emit("cpu0", 60, new SyscallEvent.Mprotect("coordinator", "cpu0", 100, 1, VA, END, false));
            b.emit("coordinator", 70, new PageTableEvent.MmuGatherStarted(2, 1, VA, END, "mprotect", "cpu0", 100), call);
            downgrade = b.emit("coordinator", 70, new PageTableEvent.PteProtectionChanged(1, VA, FRAME, 1, false,
                    "change_pte_range", 2));
            Envelope flush = b.emit("coordinator", 70, new IpiEvent.FlushTlb("cpu0", 1, VA, END, 1, 1, false, false, 2));
            cpuAck = b.emit("cpu0", 100, new IpiEvent.TlbFlushed("coordinator", "cpu0", 1, VA, END, FlushKind.PARTIAL, 1, 1, 2),
                    flush);
        }

        /** flush_tlb_mm_range calls the hook and iommu0 invalidates VA; returns the completion. */
        Envelope secondary() {
            Envelope call = b.emit("coordinator", 110, new SecondaryTlbEvent.SecondaryTlbHookCalled("cpu0", "flush_tlb_mm_range",
                    "arch_invalidate_secondary_tlbs", 1, VA, END, 1, 2), cpuAck);
            Envelope request = b.emit("coordinator", 110, new SecondaryTlbEvent.InvalidateSecondaryTlbs("iommu0", 1, 1, VA, END, 2),
                    call);
            b.emit("iommu0", 120, new SecondaryTlbEvent.IotlbInvalidated("iommu0", 1, VA, END, "TLBI_NH_VA", 1, 2), request);
            return b.emit("iommu0", 130, new SecondaryTlbEvent.SecondaryTlbsInvalidated("coordinator", "iommu0", 1, 1, VA, END, 2));
        }

        /** mprotect returns to task 100 after {@code seen}. */
        Envelope returns(Envelope... seen) {
            Envelope returned = b.emit("coordinator", 200, new SyscallEvent.MprotectReturned("cpu0", 100, 1, VA, END, 0), seen);
            b.emit("coordinator", 200, new PageTableEvent.MmuGatherFinished(2, 1, 0));
            return returned;
        }

        AuditReport audit() {
            return auditOf(b);
        }
    }

    private static AuditReport auditOf(LogBuilder b) {
        return Auditor.audit(b.log());
    }

    @Test
    void anMprotectDowngradeWithoutSecondaryInvalidationIsMissingSecondaryInvalidationAtItsReturn() {
        Mprotect m = new Mprotect();
        Envelope returned = m.returns(m.cpuAck);

        AuditReport r = m.audit();
        assertEquals(List.of("missing-secondary-invalidation"), kinds(r));
        assertEquals(1, r.violations().size(), () -> r.violations().toString());
        Violation v = r.violations().get(0);
        assertEquals("iommu0", v.node());
        assertEquals(1, v.mm());
        assertEquals("0x7f0000000000", v.va());
        assertEquals(List.of(m.downgrade.id(), returned.id()), v.events());
        assertTrue(v.explanation().contains("read-only by change_pte_range") && v.explanation().contains("mprotect returned"),
                v.explanation());
        ShootdownSummary s = r.shootdowns().get(0);
        assertEquals("mprotect", s.caller());
        assertEquals(1, s.ptesProtectionChanged());
        assertEquals(0, s.ptesCleared());
        assertEquals(200L, s.returnedNs());
        assertEquals("secondary-never", s.order());
    }

    @Test
    void anMprotectDowngradeWithItsSecondaryInvalidationBeforeTheReturnIsClean() {
        Mprotect m = new Mprotect();
        Envelope done = m.secondary();
        m.returns(m.cpuAck, done);
        AuditReport r = m.audit();
        assertEquals("clean", r.verdict(), () -> r.violations().toString());
        assertEquals("secondary-after-cpu", r.shootdowns().get(0).order());
        assertEquals(1, r.shootdowns().get(0).hookCalls().size());
    }

    @Test
    void anInvalidationCompletingOnlyAfterMprotectReturnedDoesNotCover() {
        Mprotect m = new Mprotect();
        m.returns(m.cpuAck);
        m.secondary();
        assertEquals(List.of("missing-secondary-invalidation"), kinds(m.audit()));

        // Completed, and logged, before the return, but mprotect did not wait for it.
        Mprotect concurrent = new Mprotect();
        concurrent.secondary();
        concurrent.returns(concurrent.cpuAck);
        assertEquals(List.of("missing-secondary-invalidation"), kinds(concurrent.audit()));
    }

    /**
     * arm64: dev0 write-faults on VA of mm 1, mapped read-only and cached so by iommu0; the
     * handler's ptep_set_access_flags makes the PTE writable and flushes (shootdown 3,
     * flush_tlb_page: a TLBI to cpu0).
     */
    private static LogBuilder arm64Upgrade(boolean secondary) {
        LogBuilder b = new LogBuilder("t");
        Envelope start = b.emit("control", 0, TestRuns.runStarted("t", 1, Scenarios.smmuPermissionUpgrade()));
        Envelope bound = b.emit("coordinator", 10, new SecondaryTlbEvent.SvaBound("iommu0", "dev0", 1, 1, false), start);
        b.emit("coordinator", 10, new PageTableEvent.PteSet(1, VA, FRAME, 1, false));
        b.emit("iommu0", 30, new TraceEvent.IotlbFilled("iommu0", 1, VA, FRAME, 1, false), bound);
        Envelope fault = b.emit("iommu0", 40, new FaultEvent.DeviceFaultRaised("coordinator", "iommu0", "dev0", 1, 1, VA,
                Access.WRITE));
        b.emit("coordinator", 50, new PageTableEvent.TlbFlushStarted(3, "ptep_set_access_flags", "cpu2", "iopf", 0, 0, 1, VA,
                END, "iommu0#2"), fault);
        b.emit("coordinator", 50, new PageTableEvent.PteProtectionChanged(1, VA, FRAME, 1, true, "ptep_set_access_flags", 3));
        Envelope tlbi = b.emit("coordinator", 50, new IpiEvent.Tlbi("cpu0", "VALE1IS", 1, VA, END, 3));
        Envelope last = b.emit("cpu0", 60, new IpiEvent.TlbiCompleted("coordinator", "cpu0", 1, VA, END, 0, 3), tlbi);
        if (secondary) {
            Envelope call = b.emit("coordinator", 70, new SecondaryTlbEvent.SecondaryTlbHookCalled("cpu2", "__flush_tlb_page_nosync",
                    "arch_invalidate_secondary_tlbs", 1, VA, END, 1, 3), last);
            Envelope request = b.emit("coordinator", 70, new SecondaryTlbEvent.InvalidateSecondaryTlbs("iommu0", 1, 1, VA, END, 3));
            b.emit("iommu0", 80, new SecondaryTlbEvent.IotlbInvalidated("iommu0", 1, VA, END, "TLBI_NH_VA", 1, 3), request);
            last = b.emit("iommu0", 90, new SecondaryTlbEvent.SecondaryTlbsInvalidated("coordinator", "iommu0", 1, 1, VA, END, 3));
        }
        b.emit("coordinator", 100, new PageTableEvent.TlbFlushFinished(3, 0), last);
        b.emit("coordinator", 100, new FaultEvent.PageResponseSent("iommu0", "dev0", 1, VA, FaultEvent.PageResponseCode.SUCCESS));
        return b;
    }

    @Test
    void anArm64PermissionUpgradeFlushWithoutTheHookIsMissingSecondaryInvalidation() {
        AuditReport r = Auditor.audit(arm64Upgrade(false).log());
        assertEquals(List.of("missing-secondary-invalidation"), kinds(r));
        Violation v = r.violations().get(0);
        assertEquals("iommu0", v.node());
        assertEquals(List.of("coordinator#4", "coordinator#6"), v.events(), "the upgrade, then the flush's end");
        assertTrue(v.explanation().contains("made writable by ptep_set_access_flags"), v.explanation());
        assertTrue(v.explanation().contains("the ptep_set_access_flags flush finished"), v.explanation());
        ShootdownSummary s = r.shootdowns().get(0);
        assertEquals("ptep_set_access_flags", s.caller());
        assertEquals(1, s.mm());
        assertEquals(1, s.cpuFlushes().size());
    }

    @Test
    void anArm64PermissionUpgradeFlushThatCallsTheHookIsClean() {
        AuditReport r = Auditor.audit(arm64Upgrade(true).log());
        assertEquals("clean", r.verdict(), () -> r.violations().toString());
        assertEquals("secondary-after-cpu", r.shootdowns().get(0).order());
    }

    @Test
    void anX86PermissionUpgradeNeedsNoFlushAndNoSecondaryInvalidation() {
        LogBuilder b = new LogBuilder("t");
        Envelope start = b.emit("control", 0, TestRuns.runStarted("t", 1, Scenarios.smmuPermissionUpgrade()));
        b.emit("coordinator", 10, new SecondaryTlbEvent.SvaBound("iommu0", "dev0", 1, 1, false), start);
        b.emit("coordinator", 10, new PageTableEvent.PteSet(1, VA, FRAME, 1, false));
        b.emit("coordinator", 50, new PageTableEvent.PteProtectionChanged(1, VA, FRAME, 1, true, "ptep_set_access_flags", -1));
        assertEquals("clean", Auditor.audit(b.log()).verdict());
    }

    @Test
    void aPageMissingItsSecondaryInvalidationIsReportedAtTheFreeAndNotAgainAtTheReturn() {
        Run run = new Run();
        run.free(run.cpuAck());
        AuditReport r = run.audit();
        List<Violation> missing = r.violations().stream().filter(v -> v.kind().equals("missing-secondary-invalidation")).toList();
        // One for the IOTLB, one for the ATC, both found at the free; munmap's return adds nothing.
        assertEquals(2, missing.size(), missing::toString);
        assertTrue(missing.stream().allMatch(v -> v.explanation().contains("still held frame")), missing::toString);
    }

    private static Envelope dmaThroughIotlb(LogBuilder b, Access access, Envelope... seen) {
        return b.emit("iommu0", 300, new TraceEvent.DmaCompleted("iommu0", "dev0", 1, VA, FRAME, 1, access,
                TranslationSource.IOTLB), seen);
    }

    @Test
    void aDmaWriteThroughTheWritableIotlbEntryAfterMprotectReturnedIsAStaleTranslationUse() {
        Mprotect m = new Mprotect();
        Envelope returned = m.returns(m.cpuAck);
        // The task tells the device the buffer is read-only now; the device writes anyway, and the
        // IOTLB still has the writable entry.
        Envelope dma = dmaThroughIotlb(m.b, Access.WRITE, returned);

        AuditReport r = m.audit();
        assertEquals(List.of("missing-secondary-invalidation", "stale-translation-use"), kinds(r));
        Violation v = r.violations().stream().filter(x -> x.kind().equals("stale-translation-use")).findFirst().orElseThrow();
        assertEquals("iommu0", v.node());
        assertEquals(1, v.mm());
        assertEquals("0x7f0000000000", v.va());
        assertEquals(List.of(m.iotlbFill.id(), m.downgrade.id(), returned.id(), dma.id()), v.events());
        assertTrue(v.explanation().contains("read-only by change_pte_range") && v.explanation().contains("mprotect returned"),
                v.explanation());
    }

    @Test
    void aDmaWriteNotAfterMprotectReturnedOrAReadAfterItIsNoStaleTranslationUse() {
        Mprotect before = new Mprotect();
        dmaThroughIotlb(before.b, Access.WRITE, before.iotlbFill); // concurrent with the mprotect
        before.returns(before.cpuAck);
        assertEquals(List.of("missing-secondary-invalidation"), kinds(before.audit()));

        Mprotect read = new Mprotect();
        dmaThroughIotlb(read.b, Access.READ, read.returns(read.cpuAck));
        assertEquals(List.of("missing-secondary-invalidation"), kinds(read.audit()));

        Mprotect fixed = new Mprotect();
        Envelope early = dmaThroughIotlb(fixed.b, Access.WRITE, fixed.iotlbFill);
        Envelope done = fixed.secondary();
        fixed.returns(fixed.cpuAck, done);
        AuditReport r = fixed.audit();
        assertEquals("clean", r.verdict(), () -> r.violations().toString());
        assertTrue(early.seq() > 0);
    }

    @Test
    void aDmaThroughATranslationFilledAfterTheDowngradeIsFresh() {
        Mprotect m = new Mprotect();
        Envelope returned = m.returns(m.cpuAck);
        // The IOTLB refilled after the change (e.g. after an invalidation): not stale, whatever
        // its permission; the refill read the read-only PTE.
        m.b.emit("iommu0", 250, new TraceEvent.IotlbFilled("iommu0", 1, VA, FRAME, 1, true), m.downgrade);
        dmaThroughIotlb(m.b, Access.WRITE, returned);
        assertEquals(List.of("missing-secondary-invalidation"), kinds(m.audit()));
    }

    @Test
    void aStaleAccessToAFreedFrameIsReportedAsUseAfterFreeOnly() {
        Run run = new Run();
        Envelope ack = run.cpuAck();
        Envelope request = run.b.emit("coordinator", 200,
                new SecondaryTlbEvent.InvalidateSecondaryTlbs("iommu0", 1, 1, VA, END, 1), ack);
        Envelope free = run.free(run.secondary(request));
        List<Envelope> log = run.b.log();
        Envelope finished = log.get(log.size() - 1);
        // cpu1 had VA of mm 1 cached and was never flushed (not in the shootdown at all).
        run.b.emit("cpu1", 45, new TraceEvent.MmSwitched("cpu1", 0, 1, 0), run.start);
        Envelope cpu1Fill = run.b.emit("cpu1", 50, new TraceEvent.TlbFilled("cpu1", 1, VA, FRAME, 1, true));
        Envelope access = run.b.emit("cpu1", 600, new TraceEvent.MemoryAccessed("cpu1", 101, 1, VA, FRAME, 1, Access.WRITE, true),
                finished);

        AuditReport r = run.audit();
        assertTrue(kinds(r).contains("use-after-free"), () -> r.violations().toString());
        assertTrue(r.violations().stream().noneMatch(v -> v.kind().equals("stale-translation-use")), () -> r.violations().toString());
        assertTrue(r.violations().stream().anyMatch(v -> v.kind().equals("use-after-free")
                && v.events().equals(List.of(cpu1Fill.id(), free.id(), access.id()))), () -> r.violations().toString());
    }

    @Test
    void aTlbHitAfterAFinishedReclaimPassWhoseFrameWasNotFreedIsAStaleTranslationUse() {
        // The pass cleared the PTE and finished without freeing the folio (kept, e.g. dirty and
        // redirtied); cpu0 was never flushed and later reads through its old entry.
        Reclaim r = new Reclaim("kswapd", 0);
        Envelope done = r.hook("arch_tlbbatch_add_pending", 1, 0, Kernel.TLB_FLUSH_ALL, r.clear);
        Envelope finished = r.b.emit("coordinator", 210, new PageTableEvent.TlbFlushFinished(7, 0), done);
        Envelope access = r.b.emit("cpu0", 300, new TraceEvent.MemoryAccessed("cpu0", 100, 1, VA, FRAME, 1, Access.READ, true),
                finished);
        AuditReport report = r.audit();
        assertEquals(List.of("stale-translation-use"), kinds(report));
        Violation v = report.violations().get(0);
        assertEquals("cpu0", v.node());
        assertEquals(List.of("cpu0#2", r.clear.id(), finished.id(), access.id()), v.events());
        assertTrue(v.explanation().contains("the shootdown finished"), v.explanation());

        // The same read without a TLB hit followed a fresh walk: nothing stale.
        Reclaim walked = new Reclaim("kswapd", 0);
        Envelope d = walked.hook("arch_tlbbatch_add_pending", 1, 0, Kernel.TLB_FLUSH_ALL, walked.clear);
        Envelope f = walked.b.emit("coordinator", 210, new PageTableEvent.TlbFlushFinished(7, 0), d);
        walked.b.emit("cpu0", 300, new TraceEvent.MemoryAccessed("cpu0", 100, 1, VA, FRAME, 1, Access.READ, false), f);
        assertEquals("clean", walked.audit().verdict(), () -> walked.audit().violations().toString());
    }

    @Test
    void aStaleWriteThatTheFreeShowsToBeAUseAfterFreeIsReportedOnlyAsThat() {
        Mprotect m = new Mprotect();
        Envelope returned = m.returns(m.cpuAck);
        Envelope dma = dmaThroughIotlb(m.b, Access.WRITE, returned); // at 300 us
        assertEquals(List.of("missing-secondary-invalidation", "stale-translation-use"), kinds(m.audit()));
        // Then the task munmaps the page and the frame is freed without waiting for the device, at 250 us:
        // concurrent with the DMA by happens-before, before it in simulated time.
        m.b.emit("coordinator", 240, new PageTableEvent.MmuGatherStarted(4, 1, VA, END, "munmap", "cpu0", 100), returned);
        m.b.emit("coordinator", 240, new PageTableEvent.PteCleared(1, VA, FRAME, 1, 4));
        m.b.emit("coordinator", 250, new PageTableEvent.FrameFreed(FRAME, 1, 4));

        AuditReport r = m.audit();
        assertTrue(kinds(r).contains("use-after-free"), () -> r.violations().toString());
        assertTrue(r.violations().stream().noneMatch(v -> v.kind().equals("stale-translation-use")), () -> r.violations().toString());
        assertTrue(r.violations().stream().anyMatch(v -> v.kind().equals("use-after-free") && v.events().contains(dma.id())));
    }

    @Test
    void aStaleWriteBeforeTheFreeStaysAStaleWriteAndRacedWithTheFree() {
        Mprotect m = new Mprotect();
        Envelope returned = m.returns(m.cpuAck);
        Envelope dma = dmaThroughIotlb(m.b, Access.WRITE, returned); // at 300 us
        // The free comes at 410 us, after the DMA in simulated time, and nothing orders the DMA before it.
        m.b.emit("coordinator", 400, new PageTableEvent.MmuGatherStarted(4, 1, VA, END, "munmap", "cpu0", 100), returned);
        m.b.emit("coordinator", 400, new PageTableEvent.PteCleared(1, VA, FRAME, 1, 4));
        Envelope free = m.b.emit("coordinator", 410, new PageTableEvent.FrameFreed(FRAME, 1, 4));

        AuditReport r = m.audit();
        assertEquals(List.of("missing-secondary-invalidation", "race-with-free", "stale-translation-use"), kinds(r));
        Violation race = r.violations().stream().filter(v -> v.kind().equals("race-with-free")).findFirst().orElseThrow();
        assertEquals(List.of(dma.id(), free.id()), race.events());
        assertEquals("access " + dma.id() + " to frame 0x1000 at 0.300 us through iommu0 iotlb pasid 1 is not ordered before the free "
                + free.id() + " at 0.410 us: it came first in simulated time, but nothing made the free wait for it (its"
                + " translation was not invalidated before the free)", race.explanation());
    }
}
