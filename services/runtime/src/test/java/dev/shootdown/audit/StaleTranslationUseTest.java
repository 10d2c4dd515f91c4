package dev.shootdown.audit;

import static dev.shootdown.audit.AuditLogs.*;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.shootdown.event.Access;
import dev.shootdown.event.Envelope;
import dev.shootdown.event.Kernel;
import dev.shootdown.event.PageTableEvent;
import dev.shootdown.event.TraceEvent;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * {@link StaleTranslationUse} on hand-built logs: an access through a translation cached
 * before a PTE change whose operation was done before the access, and the accesses that are not.
 */
class StaleTranslationUseTest {

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
}
