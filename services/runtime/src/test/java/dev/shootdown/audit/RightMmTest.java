package dev.shootdown.audit;

import static dev.shootdown.audit.AuditLogs.*;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.shootdown.event.Envelope;
import dev.shootdown.event.FaultEvent;
import dev.shootdown.event.Kernel;
import dev.shootdown.event.SecondaryTlbEvent;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * {@link RightMm} on hand-built logs: the seed's v2 bugs, the NULL mm handed to the hook in
 * kswapd (an oops) and current->mm in direct reclaim (the wrong mm), and the fixed kernel.
 */
class RightMmTest {

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
    void theFixedKernelHandsTheHookTheRightMmAndDoesNotOops() {
        Reclaim r = new Reclaim("kswapd", 0);
        Envelope done = r.hook("arch_tlbbatch_add_pending", 1, 0, Kernel.TLB_FLUSH_ALL, r.clear);
        r.freeAndFinish(done, r.tlbi(done));
        AuditReport report = r.audit();
        assertTrue(report.violations().stream().noneMatch(v -> v.kind().equals("kernel-oops")), () -> report.violations().toString());
        assertEquals("clean", report.verdict());
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
}
