package dev.shootdown.audit;

import static dev.shootdown.audit.AuditLogs.*;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.shootdown.event.Envelope;
import dev.shootdown.event.InjectionEvent;
import dev.shootdown.event.SecondaryTlbEvent;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * {@link AtcAfterIotlb} on hand-built logs: the munmap of {@link AuditLogs.Run}, whose secondary
 * invalidation iommu0 carries out as arm-smmu-v3 does, the TLBI and its CMD_SYNC in one step and
 * the ATC_INV in a later one, or not.
 */
class AtcAfterIotlbTest {

    /** The munmap's request to iommu0, after cpu0's flush. */
    private static Envelope request(Run run) {
        return run.b.emit("coordinator", 200, new SecondaryTlbEvent.InvalidateSecondaryTlbs("iommu0", 1, 1, VA, END, 1), run.cpuAck());
    }

    private static Envelope commands(Run run, long ns, List<String> commands, Envelope cause) {
        return run.b.emit("iommu0", ns, new SecondaryTlbEvent.CommandsIssued("iommu0", 1, 1, VA, END, commands, 1), cause);
    }

    private static List<Violation> atcBeforeIotlb(Run run) {
        return run.audit().violations().stream().filter(v -> v.kind().equals("atc-before-iotlb")).toList();
    }

    @Test
    void anAtcInvIssuedInALaterStepThanTheSyncedTlbiIsInOrder() {
        Run run = new Run();
        Envelope request = request(run);
        Envelope tlbi = commands(run, 210, List.of("TLBI_NH_VA", "CMD_SYNC"), request);
        // the CMD_SYNC completed: the IOMMU's next step issues the ATC_INV
        commands(run, 300, List.of("ATC_INV", "CMD_SYNC"), tlbi);

        assertEquals(List.of(), atcBeforeIotlb(run));
    }

    @Test
    void anAtcInvIssuedInTheTlbisOwnStepIsBeforeTheIotlbInvalidationCompletedReportedOnce() {
        Run run = new Run();
        Envelope request = request(run);
        Envelope tlbi = commands(run, 210, List.of("TLBI_NH_VA"), request);
        Envelope atc = commands(run, 210, List.of("ATC_INV", "CMD_SYNC"), request);
        commands(run, 220, List.of("ATC_INV", "CMD_SYNC"), request); // again, in the same step: the same finding

        List<Violation> found = atcBeforeIotlb(run);
        assertEquals(1, found.size(), found::toString);
        Violation v = found.get(0);
        assertEquals("iommu0", v.node());
        assertEquals(1, v.mm());
        assertEquals("0x7f0000000000", v.va());
        assertEquals(List.of(request.id(), atc.id()), v.events());
        assertEquals("iommu0 issued ATC_INV for pasid 1 of shootdown 1 (" + atc.id() + ") before the IOTLB invalidation "
                + tlbi.id() + " had completed: a device translating in between refills its ATC from the stale IOTLB entry",
                v.explanation());
    }

    @Test
    void anAtcInvWithNoTlbiAtAllIsReportedWithTheFaultThatDroppedIt() {
        Run run = new Run();
        Envelope request = request(run);
        Envelope dropped = run.b.emit("iommu0", 205, new InjectionEvent.FaultInjected("dropped-iotlb-inv", "model", "iommu0",
                "invalidate-secondary-tlbs shootdown 1", "iommu0 dropped the TLBI of shootdown 1"), request);
        Envelope atc = commands(run, 210, List.of("ATC_INV", "CMD_SYNC"), request);

        List<Violation> found = atcBeforeIotlb(run);
        assertEquals(1, found.size(), found::toString);
        assertEquals(List.of(request.id(), dropped.id(), atc.id()), found.get(0).events());
        assertTrue(found.get(0).explanation().contains("before any IOTLB invalidation of it"), found.get(0).explanation());
    }
}
