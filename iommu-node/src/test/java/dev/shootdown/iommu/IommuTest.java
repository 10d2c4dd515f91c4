package dev.shootdown.iommu;

import dev.shootdown.core.Decision;
import dev.shootdown.core.Lifecycle;
import dev.shootdown.core.TimerRequest;
import dev.shootdown.event.Access;
import dev.shootdown.event.ControlEvent;
import dev.shootdown.event.FaultEvent;
import dev.shootdown.event.FaultEvent.PageResponseCode;
import dev.shootdown.event.Kernel;
import dev.shootdown.event.NodeIds;
import dev.shootdown.event.SecondaryTlbEvent;
import dev.shootdown.event.TraceEvent;
import dev.shootdown.event.TraceEvent.TranslationSource;
import dev.shootdown.event.WalkEvent;
import dev.shootdown.scenario.Arch;
import dev.shootdown.scenario.Scenario;
import dev.shootdown.testing.NodeFixture;
import dev.shootdown.testing.TestRuns;
import java.util.List;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Pure tests of the SMMUv3-like IOMMU: IOTLB and ATC fills, the command queue of
 * arm_smmu_mm_arch_invalidate_secondary_tlbs (TLBI, CMD_SYNC, then ATC_INV, CMD_SYNC) and PRI.
 * Given/when/then, manual clock: {@code now} is advanced by hand.
 */
class IommuTest extends NodeFixture<Iommu> {

    private static final String IOMMU = "iommu0";
    private static final String COORD = NodeIds.COORDINATOR;
    private static final String DEV = "dev0";
    private static final String DEV1 = "dev1";
    private static final int PASID = 1;
    private static final long MM = 1;
    private static final long BUF = 0x7f0000000000L;
    private static final long PAGE = Kernel.PAGE_SIZE;
    private static final long PERIOD_NS = 1_000;
    private static final long SYNC_NS = 800;
    private static final long FRAME0 = 0x1000;
    private static final String DMA_TIMER = Iommu.DMA_TIMER_PREFIX + DEV;
    private static final String DMA_TIMER1 = Iommu.DMA_TIMER_PREFIX + DEV1;

    private Iommu iommu;

    @BeforeEach
    void setUp() {
        iommu = given(new Iommu(IOMMU));
    }

    // ---------------------------------------------------------------- helpers

    private static Scenario scenario(List<Scenario.DeviceSpec> devices) {
        return new Scenario("iommu-test", Arch.X86, "linux-6.6", 1, 1,
                List.of(new Scenario.MmSpec(MM, List.of(new Scenario.VmaSpec(BUF, 16, true, true)))),
                List.of(), devices, new Scenario.Timing(500, SYNC_NS), new Scenario.EndCondition(1));
    }

    private static Scenario.DeviceSpec device(String id, boolean ats, int pages, Access access) {
        return new Scenario.DeviceSpec(id, 0, PASID, MM, ats, new Scenario.DmaProgram(BUF, pages, access, PERIOD_NS));
    }

    /** RunStarted and SvaBound for dev0; its first DMA is due at {@code now + PERIOD_NS}. */
    private void givenBoundDevice(boolean ats, int pages, Access access) {
        assertEquals(Decision.NONE, on(TestRuns.runStarted("r", 1, scenario(List.of(device(DEV, ats, pages, access))))));
        on(new SecondaryTlbEvent.SvaBound(IOMMU, DEV, PASID, MM, ats));
    }

    @Test
    void anInvalidationIsAnsweredAfterBothSyncsWhereEveryPasidHasAnAtsDeviceAndAfterOneElse() {
        on(TestRuns.runStarted("r", 1, scenario(List.of(device(DEV, true, 1, Access.READ)))));
        assertEquals(dev.shootdown.core.Reaction.timersAfter(2 * SYNC_NS),
                iommu.reactionTo(dev.shootdown.event.EventType.INVALIDATE_SECONDARY_TLBS), "the TLBI's CMD_SYNC, then the ATC_INVs'");
        Iommu mixed = new Iommu(IOMMU);
        mixed.evolve(TestRuns.runStarted("r", 1, scenario(List.of(device(DEV, true, 1, Access.READ),
                new Scenario.DeviceSpec(DEV1, 0, PASID + 1, MM, false, new Scenario.DmaProgram(BUF, 1, Access.READ, PERIOD_NS))))));
        assertEquals(dev.shootdown.core.Reaction.timersAfter(SYNC_NS),
                mixed.reactionTo(dev.shootdown.event.EventType.INVALIDATE_SECONDARY_TLBS), "a PASID without ATS: one CMD_SYNC");
    }

    @Test
    void bothSyncsComeBeforeTheAnswerAsClaimed() {
        givenBoundDevice(true, 1, Access.READ);
        long start = now;
        on(new SecondaryTlbEvent.InvalidateSecondaryTlbs(IOMMU, MM, PASID, BUF, BUF + PAGE, 7));
        String sync = Iommu.CMDQ_TIMER_PREFIX + Iommu.invalidationKey(7, PASID);
        now = start + SYNC_NS;
        Decision first = fire(sync);
        assertTrue(first.events().stream().allMatch(e -> e instanceof SecondaryTlbEvent.IotlbInvalidated
                || e instanceof SecondaryTlbEvent.CommandsIssued), "the first CMD_SYNC sends the mm nothing: " + first.events());
        now = start + 2 * SYNC_NS;
        Decision second = fire(sync);
        assertTrue(second.events().stream().anyMatch(e -> e instanceof SecondaryTlbEvent.SecondaryTlbsInvalidated),
                "answered after the second: " + second.events());
    }

    private static WalkEvent.PageWalkCompleted present(long va, long frame, boolean writable) {
        return new WalkEvent.PageWalkCompleted(IOMMU, DEV, MM, PASID, va, true, frame, 1, writable);
    }

    private static WalkEvent.PageWalkCompleted absent(long va) {
        return new WalkEvent.PageWalkCompleted(IOMMU, DEV, MM, PASID, va, false, -1, -1, false);
    }

    private static WalkEvent.PageWalkRequested walk(long va, Access access) {
        return new WalkEvent.PageWalkRequested(COORD, IOMMU, DEV, MM, PASID, va, access);
    }

    /** dev0 does {@code pages} DMAs that each walk and fill page i with frame FRAME0 + i. */
    private void givenTranslationsCached(int pages, Access access) {
        for (int i = 0; i < pages; i++) {
            now += PERIOD_NS;
            long va = BUF + i * PAGE;
            assertEquals(events(walk(va, access)), fire(DMA_TIMER));
            now += 200;
            on(present(va, FRAME0 + i, true));
        }
    }

    private static SecondaryTlbEvent.InvalidateSecondaryTlbs invalidate(long start, long end, long shootdownId) {
        return new SecondaryTlbEvent.InvalidateSecondaryTlbs(IOMMU, MM, PASID, start, end, shootdownId);
    }

    // ---------------------------------------------------------------- binding and DMA

    @Test
    void givenARunningIommu_whenSvaBound_thenThePasidIsBoundAndTheFirstDmaIsScheduled() {
        on(TestRuns.runStarted("r", 1, scenario(List.of(device(DEV, true, 2, Access.WRITE)))));
        assertEquals(Lifecycle.RUNNING, iommu.lifecycle());
        now = 300;

        Decision d = on(new SecondaryTlbEvent.SvaBound(IOMMU, DEV, PASID, MM, true));

        assertEquals(eventsAndTimer(DMA_TIMER, 300 + PERIOD_NS, new TraceEvent.PasidBound(IOMMU, DEV, PASID, MM, true)), d);
    }

    @Test
    void givenADeviceWithoutADmaProgramHere_whenSvaBound_thenItIsBoundButDoesNoDma() {
        on(TestRuns.runStarted("r", 1, scenario(List.of())));

        Decision d = on(new SecondaryTlbEvent.SvaBound(IOMMU, "devX", 7, MM, false));

        assertEquals(events(new TraceEvent.PasidBound(IOMMU, "devX", 7, MM, false)), d);
    }

    @Test
    void givenEmptyCaches_whenTheFirstDmaRuns_thenItWalksAndTheCompletionFillsIotlbAndAtc() {
        givenBoundDevice(true, 2, Access.WRITE);
        now += PERIOD_NS;

        Decision first = fire(DMA_TIMER);
        assertEquals(events(walk(BUF, Access.WRITE)), first);

        now += 200;
        Decision completed = on(present(BUF, FRAME0, true));

        assertEquals(eventsAndTimer(DMA_TIMER, now + PERIOD_NS,
                new TraceEvent.IotlbFilled(IOMMU, PASID, BUF, FRAME0, 1, true),
                new TraceEvent.AtcFilled(IOMMU, DEV, PASID, BUF, FRAME0, 1, true),
                new TraceEvent.DmaCompleted(IOMMU, DEV, PASID, BUF, FRAME0, 1, Access.WRITE, TranslationSource.WALK)), completed);
        assertEquals(1, iommu.iotlbEntries(PASID));
        assertEquals(1, iommu.atcEntries(DEV));
    }

    @Test
    void givenACachedTranslation_whenTheNextDmaReachesTheSamePage_thenItHitsTheAtc() {
        givenBoundDevice(true, 1, Access.WRITE);
        givenTranslationsCached(1, Access.WRITE);
        now += PERIOD_NS;

        Decision hit = fire(DMA_TIMER);

        assertEquals(eventsAndTimer(DMA_TIMER, now + PERIOD_NS,
                new TraceEvent.DmaCompleted(IOMMU, DEV, PASID, BUF, FRAME0, 1, Access.WRITE, TranslationSource.ATC)), hit);
    }

    @Test
    void givenADeviceWithoutAts_whenItReusesATranslation_thenTheIotlbTranslatesAndNoAtcIsFilled() {
        givenBoundDevice(false, 1, Access.READ);
        givenTranslationsCached(1, Access.READ);
        assertEquals(0, iommu.atcEntries(DEV));
        now += PERIOD_NS;

        Decision hit = fire(DMA_TIMER);

        assertEquals(eventsAndTimer(DMA_TIMER, now + PERIOD_NS,
                new TraceEvent.DmaCompleted(IOMMU, DEV, PASID, BUF, FRAME0, 1, Access.READ, TranslationSource.IOTLB)), hit);
    }

    @Test
    void givenAWriteDma_whenTheWalkFindsAReadOnlyPte_thenItFaultsAndCachesNothing() {
        givenBoundDevice(true, 1, Access.WRITE);
        now += PERIOD_NS;
        fire(DMA_TIMER);

        Decision fault = on(present(BUF, FRAME0, false));

        assertEquals(events(new FaultEvent.DeviceFaultRaised(COORD, IOMMU, DEV, PASID, MM, BUF, Access.WRITE)), fault);
        assertEquals(0, iommu.iotlbEntries(PASID));
        assertEquals(0, iommu.atcEntries(DEV));
    }

    @Test
    void givenADeviceWaitingForAWalk_whenItsDmaTimerFires_thenNothingHappens() {
        givenBoundDevice(true, 2, Access.WRITE);
        now += PERIOD_NS;
        fire(DMA_TIMER);

        now += PERIOD_NS;
        assertEquals(Decision.NONE, fire(DMA_TIMER));
    }

    @Test
    void givenNoDeviceWaiting_whenAWalkCompletes_thenItIsIgnored() {
        givenBoundDevice(true, 2, Access.WRITE);

        assertEquals(Decision.NONE, on(present(BUF, FRAME0, true)));
        assertEquals(0, iommu.iotlbEntries(PASID));
    }

    // ---------------------------------------------------------------- secondary TLB invalidation

    @Test
    void givenCachedTranslations_whenInvalidateSecondaryTlbs_thenCommandsAreQueuedButNothingIsInvalidatedYet() {
        givenBoundDevice(true, 2, Access.WRITE);
        givenTranslationsCached(2, Access.WRITE);
        long nextDmaAt = now + PERIOD_NS;
        now = nextDmaAt - 100;

        Decision issued = on(invalidate(BUF, BUF + 2 * PAGE, 5));

        assertEquals(eventsAndTimer(Iommu.CMDQ_TIMER_PREFIX + Iommu.invalidationKey(5, PASID), now + SYNC_NS,
                new SecondaryTlbEvent.CommandsIssued(IOMMU, MM, PASID, BUF, BUF + 2 * PAGE,
                        List.of("TLBI_NH_VA asid=1 addr=0x7f0000000000 size=0x2000", "CMD_SYNC"), 5)), issued);
        assertEquals(2, iommu.iotlbEntries(PASID));
        assertEquals(2, iommu.atcEntries(DEV));

        // Until CMD_SYNC completes, the device still translates through its ATC.
        now = nextDmaAt;
        assertEquals(eventsAndTimer(DMA_TIMER, now + PERIOD_NS,
                new TraceEvent.DmaCompleted(IOMMU, DEV, PASID, BUF, FRAME0, 1, Access.WRITE, TranslationSource.ATC)),
                fire(DMA_TIMER));
    }

    @Test
    void givenAQueuedInvalidation_whenTheCmdqSyncsComplete_thenTheIotlbIsInvalidatedStrictlyBeforeTheAtc() {
        givenBoundDevice(true, 2, Access.WRITE);
        givenTranslationsCached(2, Access.WRITE);
        on(invalidate(BUF, BUF + 2 * PAGE, 5));
        String cmdq = Iommu.CMDQ_TIMER_PREFIX + Iommu.invalidationKey(5, PASID);

        now += SYNC_NS;
        Decision iotlbSynced = fire(cmdq);

        assertEquals(eventsAndTimer(cmdq, now + SYNC_NS,
                new SecondaryTlbEvent.IotlbInvalidated(IOMMU, PASID, BUF, BUF + 2 * PAGE, "TLBI_NH_VA", 2, 5),
                new SecondaryTlbEvent.CommandsIssued(IOMMU, MM, PASID, BUF, BUF + 2 * PAGE,
                        List.of("ATC_INV sid=dev0 ssid=1 addr=0x7f0000000000 size=0x2000", "CMD_SYNC"), 5)), iotlbSynced);
        assertEquals(0, iommu.iotlbEntries(PASID));
        assertEquals(2, iommu.atcEntries(DEV), "the ATC waits for its own CMD_SYNC");

        now += SYNC_NS;
        Decision atcSynced = fire(cmdq);

        assertEquals(events(
                new SecondaryTlbEvent.AtcInvalidated(IOMMU, DEV, PASID, BUF, BUF + 2 * PAGE, 2, 5),
                new SecondaryTlbEvent.SecondaryTlbsInvalidated(COORD, IOMMU, MM, PASID, BUF, BUF + 2 * PAGE, 5)), atcSynced);
        assertEquals(0, iommu.atcEntries(DEV));

        now += SYNC_NS;
        assertEquals(Decision.NONE, fire(cmdq), "a completed invalidation has no more syncs");
    }

    @Test
    void givenARangeInvalidation_whenItCompletes_thenOnlyTheRangeIsDropped() {
        givenBoundDevice(true, 3, Access.WRITE);
        givenTranslationsCached(3, Access.WRITE);
        String cmdq = Iommu.CMDQ_TIMER_PREFIX + Iommu.invalidationKey(6, PASID);
        on(invalidate(BUF + PAGE, BUF + 2 * PAGE, 6));

        now += SYNC_NS;
        Decision iotlbSynced = fire(cmdq);
        now += SYNC_NS;
        Decision atcSynced = fire(cmdq);

        assertEquals(new SecondaryTlbEvent.IotlbInvalidated(IOMMU, PASID, BUF + PAGE, BUF + 2 * PAGE, "TLBI_NH_VA", 1, 6),
                iotlbSynced.events().get(0));
        assertEquals(new SecondaryTlbEvent.AtcInvalidated(IOMMU, DEV, PASID, BUF + PAGE, BUF + 2 * PAGE, 1, 6),
                atcSynced.events().get(0));
        assertEquals(2, iommu.iotlbEntries(PASID));
        assertEquals(2, iommu.atcEntries(DEV));
    }

    @Test
    void givenCachedTranslations_whenTheWholeAddressSpaceIsInvalidated_thenTlbiNhAsidAndAnAtcInvOfAllAreUsed() {
        givenBoundDevice(true, 2, Access.WRITE);
        givenTranslationsCached(2, Access.WRITE);
        String cmdq = Iommu.CMDQ_TIMER_PREFIX + Iommu.invalidationKey(9, PASID);

        Decision issued = on(invalidate(0, Kernel.TLB_FLUSH_ALL, 9));
        assertEquals(eventsAndTimer(cmdq, now + SYNC_NS,
                new SecondaryTlbEvent.CommandsIssued(IOMMU, MM, PASID, 0, Kernel.TLB_FLUSH_ALL,
                        List.of("TLBI_NH_ASID asid=1", "CMD_SYNC"), 9)), issued);

        now += SYNC_NS;
        Decision iotlbSynced = fire(cmdq);
        assertEquals(eventsAndTimer(cmdq, now + SYNC_NS,
                new SecondaryTlbEvent.IotlbInvalidated(IOMMU, PASID, 0, Kernel.TLB_FLUSH_ALL, "TLBI_NH_ASID", 2, 9),
                new SecondaryTlbEvent.CommandsIssued(IOMMU, MM, PASID, 0, Kernel.TLB_FLUSH_ALL,
                        List.of("ATC_INV sid=dev0 ssid=1 addr=0x0 size=all", "CMD_SYNC"), 9)), iotlbSynced);

        now += SYNC_NS;
        Decision atcSynced = fire(cmdq);
        assertEquals(events(
                new SecondaryTlbEvent.AtcInvalidated(IOMMU, DEV, PASID, 0, Kernel.TLB_FLUSH_ALL, 2, 9),
                new SecondaryTlbEvent.SecondaryTlbsInvalidated(COORD, IOMMU, MM, PASID, 0, Kernel.TLB_FLUSH_ALL, 9)), atcSynced);
        assertEquals(0, iommu.iotlbEntries(PASID));
        assertEquals(0, iommu.atcEntries(DEV));
    }

    @Test
    void givenADeviceWithoutAts_whenTheIotlbSyncCompletes_thenTheInvalidationCompletesWithoutAtcInv() {
        givenBoundDevice(false, 2, Access.READ);
        givenTranslationsCached(2, Access.READ);
        String cmdq = Iommu.CMDQ_TIMER_PREFIX + Iommu.invalidationKey(3, PASID);
        on(invalidate(BUF, BUF + 2 * PAGE, 3));

        now += SYNC_NS;
        Decision synced = fire(cmdq);

        assertEquals(events(
                new SecondaryTlbEvent.IotlbInvalidated(IOMMU, PASID, BUF, BUF + 2 * PAGE, "TLBI_NH_VA", 2, 3),
                new SecondaryTlbEvent.SecondaryTlbsInvalidated(COORD, IOMMU, MM, PASID, BUF, BUF + 2 * PAGE, 3)), synced);
        assertEquals(0, iommu.iotlbEntries(PASID));
    }

    @Test
    void givenAnInvalidationOfAnotherPasid_whenItCompletes_thenThisPasidsCachesAreKept() {
        givenBoundDevice(true, 2, Access.WRITE);
        givenTranslationsCached(2, Access.WRITE);
        String cmdq = Iommu.CMDQ_TIMER_PREFIX + Iommu.invalidationKey(4, 2);
        on(new SecondaryTlbEvent.InvalidateSecondaryTlbs(IOMMU, 2, 2, BUF, BUF + 2 * PAGE, 4));

        now += SYNC_NS;
        Decision synced = fire(cmdq);

        assertEquals(events(
                new SecondaryTlbEvent.IotlbInvalidated(IOMMU, 2, BUF, BUF + 2 * PAGE, "TLBI_NH_VA", 0, 4),
                new SecondaryTlbEvent.SecondaryTlbsInvalidated(COORD, IOMMU, 2, 2, BUF, BUF + 2 * PAGE, 4)), synced);
        assertEquals(2, iommu.iotlbEntries(PASID));
        assertEquals(2, iommu.atcEntries(DEV));
    }

    @Test
    void givenNoInvalidationInFlight_whenACmdqTimerFires_thenNothingHappens() {
        givenBoundDevice(true, 2, Access.WRITE);

        assertEquals(Decision.NONE, fire(Iommu.CMDQ_TIMER_PREFIX + 42));
    }

    // ---------------------------------------------------------------- device faults (PRI)

    @Test
    void givenAWalk_whenThePteIsNotPresent_thenThePageRequestIsQueuedAndTheDeviceStalls() {
        givenBoundDevice(true, 2, Access.WRITE);
        now += PERIOD_NS;
        fire(DMA_TIMER);

        now += 200;
        Decision fault = on(absent(BUF));

        assertEquals(events(new FaultEvent.DeviceFaultRaised(COORD, IOMMU, DEV, PASID, MM, BUF, Access.WRITE)), fault);
        now += PERIOD_NS;
        assertEquals(Decision.NONE, fire(DMA_TIMER), "a stalled device issues no DMA");
    }

    @Test
    void givenAStalledDevice_whenThePageResponseIsInvalid_thenTheDmaIsAbortedAndTheDeviceMovesOn() {
        givenBoundDevice(true, 2, Access.WRITE);
        now += PERIOD_NS;
        fire(DMA_TIMER);
        on(absent(BUF));

        now += 1_500;
        Decision aborted = on(new FaultEvent.PageResponseSent(IOMMU, DEV, PASID, BUF, PageResponseCode.INVALID));

        assertEquals(eventsAndTimer(DMA_TIMER, now + PERIOD_NS,
                new TraceEvent.DmaAborted(IOMMU, DEV, PASID, BUF, Access.WRITE)), aborted);
        now += PERIOD_NS;
        assertEquals(events(walk(BUF + PAGE, Access.WRITE)), fire(DMA_TIMER), "the next DMA goes to the next page");
    }

    @Test
    void givenAStalledDevice_whenTheResponseIsForAnotherAddress_thenItIsIgnored() {
        givenBoundDevice(true, 2, Access.WRITE);
        now += PERIOD_NS;
        fire(DMA_TIMER);
        on(absent(BUF));

        assertEquals(Decision.NONE, on(new FaultEvent.PageResponseSent(IOMMU, DEV, PASID, BUF + PAGE, PageResponseCode.INVALID)));
    }

    @Test
    void givenADeviceNotStalled_whenAPageResponseArrives_thenItIsIgnored() {
        givenBoundDevice(true, 2, Access.WRITE);

        assertEquals(Decision.NONE, on(new FaultEvent.PageResponseSent(IOMMU, DEV, PASID, BUF, PageResponseCode.SUCCESS)));
    }

    @Test
    void givenAStalledDeviceAndASiblingThatCachedThePage_whenTheResponseIsSuccess_thenTheDeviceRetriesTheSameAccess() {
        // dev0 (ATS) and dev1 (no ATS) share PASID 1 and both write page BUF.
        on(TestRuns.runStarted("r", 1, scenario(List.of(
                device(DEV, true, 1, Access.WRITE), device(DEV1, false, 1, Access.WRITE)))));
        on(new SecondaryTlbEvent.SvaBound(IOMMU, DEV, PASID, MM, true));
        on(new SecondaryTlbEvent.SvaBound(IOMMU, DEV1, PASID, MM, false));
        now += PERIOD_NS;
        assertEquals(events(walk(BUF, Access.WRITE)), fire(DMA_TIMER));
        assertEquals(events(new FaultEvent.DeviceFaultRaised(COORD, IOMMU, DEV, PASID, MM, BUF, Access.WRITE)),
                on(absent(BUF)));
        // While dev0 waits for its page response, the fault handler mapped the page and dev1 walks it.
        assertEquals(events(new WalkEvent.PageWalkRequested(COORD, IOMMU, DEV1, MM, PASID, BUF, Access.WRITE)),
                fire(DMA_TIMER1));
        assertEquals(eventsAndTimer(DMA_TIMER1, now + PERIOD_NS,
                new TraceEvent.IotlbFilled(IOMMU, PASID, BUF, FRAME0, 1, true),
                new TraceEvent.DmaCompleted(IOMMU, DEV1, PASID, BUF, FRAME0, 1, Access.WRITE, TranslationSource.WALK)),
                on(new WalkEvent.PageWalkCompleted(IOMMU, DEV1, MM, PASID, BUF, true, FRAME0, 1, true)));

        now += 1_500;
        Decision retried = on(new FaultEvent.PageResponseSent(IOMMU, DEV, PASID, BUF, PageResponseCode.SUCCESS));

        assertEquals(eventsAndTimer(DMA_TIMER, now + PERIOD_NS,
                new TraceEvent.AtcFilled(IOMMU, DEV, PASID, BUF, FRAME0, 1, true),
                new TraceEvent.DmaCompleted(IOMMU, DEV, PASID, BUF, FRAME0, 1, Access.WRITE, TranslationSource.IOTLB)), retried);
        assertEquals(1, iommu.atcEntries(DEV));
    }

    // ---------------------------------------------------------------- run completion

    @Test
    void givenBoundDevices_whenRunCompleted_thenDmaTimersAreCancelledAndTheIommuQuiesces() {
        givenBoundDevice(true, 2, Access.WRITE);

        Decision d = on(new ControlEvent.RunCompleted("done"));

        assertEquals(new Decision(List.of(new ControlEvent.NodeQuiesced(NodeIds.CONTROL, IOMMU)),
                List.of(TimerRequest.cancel(DMA_TIMER))), d);
        assertEquals(Lifecycle.QUIESCED, iommu.lifecycle());
    }
}
