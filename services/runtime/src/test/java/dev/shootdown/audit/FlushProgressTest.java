package dev.shootdown.audit;

import static dev.shootdown.audit.AuditLogs.*;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.shootdown.event.Access;
import dev.shootdown.event.ControlEvent;
import dev.shootdown.event.Envelope;
import dev.shootdown.event.FaultEvent;
import dev.shootdown.event.IpiEvent.FlushKind;
import dev.shootdown.event.IpiEvent;
import dev.shootdown.event.Kernel;
import dev.shootdown.event.SecondaryTlbEvent;
import dev.shootdown.event.TraceEvent;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * {@link FlushProgress} on hand-built logs: a delivered flush IPI never acknowledged (a hung
 * csd_lock_wait, and the stale entries of the CPU that never flushed), and the watchdog's stall.
 */
class FlushProgressTest {

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
}
