package dev.shootdown.audit;

import static dev.shootdown.audit.AuditLogs.*;
import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.shootdown.event.Access;
import dev.shootdown.event.Envelope;
import dev.shootdown.event.FaultEvent;
import dev.shootdown.event.IpiEvent;
import dev.shootdown.event.IpiEvent.FlushKind;
import dev.shootdown.event.Kernel;
import dev.shootdown.event.SecondaryTlbEvent;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The shootdowns the audit follows ({@link Shootdowns}), on hand-built logs: each summarized
 * with its CPU flushes, secondary invalidations and hook calls, and classified by when the
 * secondary invalidation completed relative to the CPU flushes.
 */
class ShootdownsTest {

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
    void everyReclaimPathsFreedFramesCountAsReclaimedAndAMunmapsDoNot() {
        // shrink_folio_list (mm/vmscan.c) frees the folios of kswapd, direct reclaim, MADV_PAGEOUT
        // and a write to memory.reclaim alike
        for (String caller : List.of("kswapd", "direct-reclaim", "madvise_pageout", "memory_reclaim")) {
            Reclaim r = new Reclaim(caller, 0);
            Envelope done = r.hook("arch_tlbbatch_add_pending", 1, 0, Kernel.TLB_FLUSH_ALL, r.clear);
            r.freeAndFinish(done, r.tlbi(done));
            assertEquals(1, r.audit().stats().framesReclaimed(), caller);
        }
        Run run = new Run();
        Envelope request = run.b.emit("coordinator", 80,
                new SecondaryTlbEvent.InvalidateSecondaryTlbs("iommu0", 1, 1, VA, END, 1), run.clear);
        Envelope ack = run.b.emit("cpu0", 450, new IpiEvent.TlbFlushed("coordinator", "cpu0", 1, VA, END, FlushKind.PARTIAL, 1, 1, 1),
                run.flush, run.secondary(request));
        run.free(ack);
        assertEquals(0, run.audit().stats().framesReclaimed());
    }
}
