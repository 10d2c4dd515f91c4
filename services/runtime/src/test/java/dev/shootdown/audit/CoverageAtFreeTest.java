package dev.shootdown.audit;

import static dev.shootdown.audit.AuditLogs.*;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.shootdown.event.Envelope;
import dev.shootdown.event.Kernel;
import dev.shootdown.event.SecondaryTlbEvent;
import dev.shootdown.event.TraceEvent;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * {@link CoverageAtFree} on hand-built logs: every cache that held the freed frame dropped it
 * before the free, by an invalidation ordered before it; a CPU that switched away is exempt.
 */
class CoverageAtFreeTest {

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
}
