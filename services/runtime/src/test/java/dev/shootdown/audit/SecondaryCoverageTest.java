package dev.shootdown.audit;

import static dev.shootdown.audit.AuditLogs.*;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.shootdown.event.Envelope;
import dev.shootdown.event.PageTableEvent;
import dev.shootdown.event.SecondaryTlbEvent;
import dev.shootdown.scenario.Scenarios;
import dev.shootdown.testing.LogBuilder;
import dev.shootdown.testing.TestRuns;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * {@link SecondaryCoverage} on hand-built logs: every PTE change of a shootdown covered, for
 * each secondary TLB of its mm, by a completed invalidation before the operation returns or the
 * flush finishes: mprotect's downgrade, arm64's permission upgrade, and x86's, which needs none.
 */
class SecondaryCoverageTest {

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
}
