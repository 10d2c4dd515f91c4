package dev.shootdown.iommu;

import dev.shootdown.core.Decision;
import dev.shootdown.core.TimerRequest;
import dev.shootdown.event.Access;
import dev.shootdown.event.FaultEvent;
import dev.shootdown.event.InjectionEvent;
import dev.shootdown.event.Kernel;
import dev.shootdown.event.NodeIds;
import dev.shootdown.event.SecondaryTlbEvent;
import dev.shootdown.event.WalkEvent;
import dev.shootdown.fault.FaultKind;
import dev.shootdown.fault.FaultPlan;
import dev.shootdown.fault.FaultSpec;
import dev.shootdown.scenario.Arch;
import dev.shootdown.scenario.Scenario;
import dev.shootdown.testing.NodeFixture;
import dev.shootdown.testing.TestRuns;
import java.util.List;
import org.junit.jupiter.api.Test;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The IOMMU's model faults, as pure state-machine steps: given a plan, when the event it hits arrives, then what the hardware does. */
class IommuFaultsTest extends NodeFixture<Iommu> {

    private static final String IOMMU = "iommu0";
    private static final String DEV = "dev0";
    private static final String COORD = NodeIds.COORDINATOR;
    private static final long MM = 1;
    private static final int PASID = 1;
    private static final long BUF = 0x7f0000000000L;
    private static final long PAGE = Kernel.PAGE_SIZE;
    private static final long PERIOD_NS = 1000;
    private static final long SYNC_NS = 800;
    private static final String CMDQ = Iommu.CMDQ_TIMER_PREFIX + Iommu.invalidationKey(5, PASID);
    private static final String DMA = Iommu.DMA_TIMER_PREFIX + DEV;

    private final Iommu iommu = given(new Iommu(IOMMU));

    /** dev0 (with an ATC) bound under the plan, with 2 pages cached in its IOTLB and ATC. */
    private void given(FaultSpec... faults) {
        Scenario s = new Scenario("iommu-faults", Arch.X86, "linux-6.6", 1, 1,
                List.of(new Scenario.MmSpec(MM, List.of(new Scenario.VmaSpec(BUF, 16, true, true)))), List.of(),
                List.of(new Scenario.DeviceSpec(DEV, 0, PASID, MM, true, new Scenario.DmaProgram(BUF, 2, Access.WRITE, PERIOD_NS))),
                new Scenario.Timing(500, SYNC_NS), new Scenario.EndCondition(1)).withFaults(FaultPlan.of(faults));
        on(TestRuns.runStarted("r", 1, s));
        on(new SecondaryTlbEvent.SvaBound(IOMMU, DEV, PASID, MM, true));
        for (int i = 0; i < 2; i++) {
            now += PERIOD_NS;
            fire(DMA);
            on(new WalkEvent.PageWalkCompleted(IOMMU, DEV, MM, PASID, BUF + i * PAGE, true, 0x1000 + i, 1, true));
        }
    }

    private Decision invalidate() {
        return on(new SecondaryTlbEvent.InvalidateSecondaryTlbs(IOMMU, MM, PASID, BUF, BUF + 2 * PAGE, 5));
    }

    /** The caches are invalidated (no fault of the plan hits it), and dev0's next DMA walks: its page request. */
    private WalkEvent.PageWalkRequested givenCachesInvalidatedAndTheNextDmaWalks() {
        invalidate();
        now += SYNC_NS;
        fire(CMDQ);
        now += SYNC_NS;
        fire(CMDQ);
        now += PERIOD_NS;
        Decision walk = fire(DMA);
        assertEquals(List.of("PageWalkRequested"), types(walk));
        return (WalkEvent.PageWalkRequested) walk.events().get(0);
    }

    private static List<String> types(Decision d) {
        return d.events().stream().map(e -> e.getClass().getSimpleName()).toList();
    }

    @Test
    void givenADroppedIotlbInvalidation_whenItsCmdSyncCompletes_thenTheIotlbKeepsItsEntriesButTheKernelIsToldItIsDone() {
        given(FaultSpec.of(FaultKind.DROPPED_IOTLB_INVALIDATION, IOMMU).withNth(1));

        Decision issued = invalidate();
        assertEquals(List.of("CommandsIssued", "FaultInjected"), types(issued));
        var fault = (InjectionEvent.FaultInjected) issued.events().get(1);
        assertEquals(List.of("dropped-iotlb-invalidation", "model", IOMMU, "shootdown 5 pasid 1"),
                List.of(fault.fault(), fault.layer(), fault.node(), fault.target()));

        now += SYNC_NS;
        Decision tlbiSynced = fire(CMDQ);
        assertEquals(List.of("CommandsIssued"), types(tlbiSynced), "no IotlbInvalidated: straight on to the ATC_INV");
        assertEquals(2, iommu.iotlbEntries(PASID), "the dropped TLBI left the IOTLB as it was");

        now += SYNC_NS;
        Decision done = fire(CMDQ);
        assertEquals(List.of("AtcInvalidated", "SecondaryTlbsInvalidated"), types(done));
        assertEquals(0, iommu.atcEntries(DEV));
        assertEquals(2, iommu.iotlbEntries(PASID));
    }

    @Test
    void givenAtcBeforeIotlb_whenAnInvalidationArrives_thenAtcInvAndItsSyncGoFirstAndTheTlbiAfter() {
        given(FaultSpec.of(FaultKind.ATC_BEFORE_IOTLB, IOMMU).withNth(1));

        Decision issued = invalidate();
        assertEquals(List.of("FaultInjected", "CommandsIssued"), types(issued));
        assertEquals(List.of("ATC_INV sid=dev0 ssid=1 addr=0x7f0000000000 size=0x2000", "CMD_SYNC"),
                ((SecondaryTlbEvent.CommandsIssued) issued.events().get(1)).commands());

        now += SYNC_NS;
        Decision atcSynced = fire(CMDQ);
        assertEquals(List.of("AtcInvalidated", "CommandsIssued"), types(atcSynced));
        assertTrue(((SecondaryTlbEvent.CommandsIssued) atcSynced.events().get(1)).commands().get(0).startsWith("TLBI_NH_VA"));
        assertEquals(0, iommu.atcEntries(DEV));
        assertEquals(2, iommu.iotlbEntries(PASID), "the IOTLB still holds the range while the ATC is already clean");

        now += SYNC_NS;
        assertEquals(List.of("IotlbInvalidated", "SecondaryTlbsInvalidated"), types(fire(CMDQ)));
        assertEquals(0, iommu.iotlbEntries(PASID));
    }

    @Test
    void givenALateCmdSync_whenTheTlbiIsIssued_thenItsSyncIsDueDelayNsLater() {
        given(FaultSpec.of(FaultKind.LATE_CMD_SYNC, IOMMU).withNth(1).withModelParameters(7_000L, null, null));

        Decision issued = invalidate();

        assertEquals(List.of("CommandsIssued", "FaultInjected"), types(issued));
        assertEquals(List.of(new TimerRequest(CMDQ, now + SYNC_NS + 7_000)), issued.timers());
        now += SYNC_NS + 7_000;
        assertEquals(List.of("IotlbInvalidated", "CommandsIssued"), types(fire(CMDQ)));
    }

    @Test
    void givenAFullPageRequestQueue_whenTheDeviceFaults_thenTheRequestIsLostToTheKernelAndTheDeviceRetries() {
        given(FaultSpec.of(FaultKind.PRQ_OVERFLOW, IOMMU).withNth(1).withModelParameters(null, 0, null));
        long va = givenCachesInvalidatedAndTheNextDmaWalks().va();

        Decision overflow = on(new WalkEvent.PageWalkCompleted(IOMMU, DEV, MM, PASID, va, false, -1, -1, false));
        assertEquals(List.of("FaultInjected"), types(overflow), "no DeviceFaultRaised reaches the kernel");
        assertEquals(List.of(new TimerRequest(DMA, now + PERIOD_NS)), overflow.timers());

        now += PERIOD_NS;
        Decision retry = fire(DMA);
        assertEquals(List.of(new WalkEvent.PageWalkRequested(COORD, IOMMU, DEV, MM, PASID, va, Access.WRITE)), retry.events(),
                "the same access again");
        Decision queued = on(new WalkEvent.PageWalkCompleted(IOMMU, DEV, MM, PASID, va, false, -1, -1, false));
        assertEquals(List.of(new FaultEvent.DeviceFaultRaised(COORD, IOMMU, DEV, PASID, MM, va, Access.WRITE)), queued.events(),
                "count 1 (nth alone): the next request is queued");
    }

    @Test
    void givenAFastDevice_whenItFaults_thenItRetriesAfterRetryNsAndIgnoresTheLateResponse() {
        given(FaultSpec.of(FaultKind.FAST_DEVICE_RETRY, IOMMU).withNth(1).withModelParameters(null, null, 300L));
        long va = givenCachesInvalidatedAndTheNextDmaWalks().va();
        Decision fault = on(new WalkEvent.PageWalkCompleted(IOMMU, DEV, MM, PASID, va, false, -1, -1, false));

        assertEquals(List.of("DeviceFaultRaised", "FaultInjected"), types(fault));
        assertEquals(List.of(new TimerRequest(Iommu.RETRY_TIMER_PREFIX + DEV, now + 300)), fault.timers());

        now += 300;
        Decision retry = fire(Iommu.RETRY_TIMER_PREFIX + DEV);
        assertEquals(List.of("PageWalkRequested"), types(retry), "it retries without waiting for the response");
        Decision late = on(new FaultEvent.PageResponseSent(IOMMU, DEV, PASID, va, FaultEvent.PageResponseCode.INVALID));
        assertTrue(late.events().isEmpty(), "the response finds it walking again: ignored");
    }
}
