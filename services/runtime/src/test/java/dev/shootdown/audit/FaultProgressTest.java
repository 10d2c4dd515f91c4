package dev.shootdown.audit;

import static dev.shootdown.audit.AuditLogs.*;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.shootdown.event.Access;
import dev.shootdown.event.FaultEvent;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * {@link FaultProgress} on hand-built logs: the seed's arm64 6.5 livelock, K SUCCESS page
 * responses in a row while the PTE already allowed the access, and what resets the count.
 */
class FaultProgressTest {

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
}
