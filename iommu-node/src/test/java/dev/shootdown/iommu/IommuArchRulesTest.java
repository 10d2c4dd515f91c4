package dev.shootdown.iommu;

import dev.shootdown.core.Decision;
import dev.shootdown.event.Access;
import dev.shootdown.event.ControlEvent;
import dev.shootdown.event.Event;
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

/**
 * Pure tests of which TLB rules the IOMMU follows per architecture (an arm64 SMMU keeps a cached
 * read-only entry and faults on it until invalidated; x86 rules walk again) and of read-modify-write
 * DMA programs. Given/when/then, manual clock: {@code now} is advanced by hand.
 */
class IommuArchRulesTest extends NodeFixture<Iommu> {

    private static final String IOMMU = "iommu0";
    private static final String COORD = NodeIds.COORDINATOR;
    private static final String DEV = "dev0";
    private static final int PASID = 1;
    private static final long MM = 1;
    private static final long BUF = 0x7f0000000000L;
    private static final long PAGE = Kernel.PAGE_SIZE;
    private static final long PERIOD_NS = 1_000;
    private static final long SYNC_NS = 800;
    private static final long FRAME0 = 0x1000;
    private static final String DMA_TIMER = Iommu.DMA_TIMER_PREFIX + DEV;

    private Iommu iommu;

    @BeforeEach
    void setUp() {
        iommu = given(new Iommu(IOMMU));
    }

    // ---------------------------------------------------------------- helpers

    /** dev0 (no ATS) reads then writes each of {@code pages} pages: a read-modify-write DMA. */
    private void givenReadModifyWriteDevice(String arch, int pages) {
        Scenario s = new Scenario("iommu-arch-test", Arch.of(arch), "linux-6.6", 1, 1,
                List.of(new Scenario.MmSpec(MM, List.of(new Scenario.VmaSpec(BUF, pages, true, true, true)))),
                List.of(),
                List.of(new Scenario.DeviceSpec(DEV, 0, PASID, MM, false,
                        new Scenario.DmaProgram(BUF, pages, List.of(Access.READ, Access.WRITE), PERIOD_NS))),
                new Scenario.Timing(500, SYNC_NS), new Scenario.EndCondition(0, 100_000));
        assertEquals(Decision.NONE, on(TestRuns.runStarted("r", 1, s)));
        on(new SecondaryTlbEvent.SvaBound(IOMMU, DEV, PASID, MM, false));
    }

    private Decision fire() {
        return fire(DMA_TIMER);
    }

    private Decision eventsAndNextDma(Event... events) {
        return eventsAndTimer(DMA_TIMER, now + PERIOD_NS, events);
    }

    private static WalkEvent.PageWalkRequested walk(long va, Access access) {
        return new WalkEvent.PageWalkRequested(COORD, IOMMU, DEV, MM, PASID, va, access);
    }

    private static WalkEvent.PageWalkCompleted present(long va, long frame, boolean writable) {
        return new WalkEvent.PageWalkCompleted(IOMMU, DEV, MM, PASID, va, true, frame, 1, writable);
    }

    private static FaultEvent.DeviceFaultRaised writeFault(long va) {
        return new FaultEvent.DeviceFaultRaised(COORD, IOMMU, DEV, PASID, MM, va, Access.WRITE);
    }

    /** The read of page 0 walks a read-only PTE and caches it in the IOTLB. */
    private void givenReadOnlyEntryCached() {
        now += PERIOD_NS;
        assertEquals(events(walk(BUF, Access.READ)), fire());
        assertEquals(eventsAndNextDma(
                new TraceEvent.IotlbFilled(IOMMU, PASID, BUF, FRAME0, 1, false),
                new TraceEvent.DmaCompleted(IOMMU, DEV, PASID, BUF, FRAME0, 1, Access.READ, TranslationSource.WALK)),
                on(present(BUF, FRAME0, false)));
        assertEquals(1, iommu.iotlbEntries(PASID));
    }

    // ---------------------------------------------------------------- arm64: the cached read-only entry faults

    @Test
    void givenArm64ReadOnlyIotlbEntry_whenTheDeviceWrites_thenItFaultsAtOnceWithoutAWalk() {
        givenReadModifyWriteDevice("arm64", 1);
        givenReadOnlyEntryCached();

        now += PERIOD_NS;
        Decision d = fire();

        assertEquals(events(writeFault(BUF)), d);
        assertEquals(1, iommu.iotlbEntries(PASID), "the faulting entry is kept");
    }

    @Test
    void givenArm64FaultOnACachedReadOnlyEntry_whenThePageResponseIsSuccess_thenTheRetryFaultsAgainOnTheSameEntry() {
        givenReadModifyWriteDevice("arm64", 1);
        givenReadOnlyEntryCached();
        now += PERIOD_NS;
        fire();

        for (int retry = 0; retry < 3; retry++) {
            now += 2_000;
            Decision d = on(new FaultEvent.PageResponseSent(IOMMU, DEV, PASID, BUF, PageResponseCode.SUCCESS));
            assertEquals(events(writeFault(BUF)), d, "retry " + retry + ": the seed's infinite faults");
        }
        assertEquals(1, iommu.iotlbEntries(PASID));
    }

    @Test
    void givenArm64FaultingEntry_whenItIsInvalidatedAndTheResponseIsSuccess_thenTheRetryWalksAndWrites() {
        givenReadModifyWriteDevice("arm64", 1);
        givenReadOnlyEntryCached();
        now += PERIOD_NS;
        fire();
        on(new SecondaryTlbEvent.InvalidateSecondaryTlbs(IOMMU, MM, PASID, BUF, BUF + PAGE, 5));
        now += SYNC_NS;
        on(new ControlEvent.TimerFired(Iommu.CMDQ_TIMER_PREFIX + Iommu.invalidationKey(5, PASID), now));
        assertEquals(0, iommu.iotlbEntries(PASID));

        Decision d = on(new FaultEvent.PageResponseSent(IOMMU, DEV, PASID, BUF, PageResponseCode.SUCCESS));

        assertEquals(events(walk(BUF, Access.WRITE)), d);
        assertEquals(eventsAndNextDma(
                new TraceEvent.IotlbFilled(IOMMU, PASID, BUF, FRAME0, 1, true),
                new TraceEvent.DmaCompleted(IOMMU, DEV, PASID, BUF, FRAME0, 1, Access.WRITE, TranslationSource.WALK)),
                on(present(BUF, FRAME0, true)));
    }

    // ---------------------------------------------------------------- x86 rules: a faulting translation is not kept

    @Test
    void givenX86ReadOnlyIotlbEntry_whenTheDeviceWrites_thenItWalksInsteadOfFaulting() {
        givenReadModifyWriteDevice("x86", 1);
        givenReadOnlyEntryCached();

        now += PERIOD_NS;
        Decision d = fire();

        assertEquals(events(walk(BUF, Access.WRITE)), d);
        assertEquals(eventsAndNextDma(
                new TraceEvent.IotlbFilled(IOMMU, PASID, BUF, FRAME0, 1, true),
                new TraceEvent.DmaCompleted(IOMMU, DEV, PASID, BUF, FRAME0, 1, Access.WRITE, TranslationSource.WALK)),
                on(present(BUF, FRAME0, true)), "the walk sees the upgraded PTE and refills the IOTLB writable");
    }

    // ---------------------------------------------------------------- DmaProgram with several accesses

    @Test
    void givenAReadWriteProgram_whenTheDeviceRuns_thenEachPageIsReadThenWrittenInTurn() {
        givenReadModifyWriteDevice("x86", 2);

        now += PERIOD_NS;
        assertEquals(events(walk(BUF, Access.READ)), fire());
        assertEquals(eventsAndNextDma(
                new TraceEvent.IotlbFilled(IOMMU, PASID, BUF, FRAME0, 1, true),
                new TraceEvent.DmaCompleted(IOMMU, DEV, PASID, BUF, FRAME0, 1, Access.READ, TranslationSource.WALK)),
                on(present(BUF, FRAME0, true)));

        now += PERIOD_NS;
        assertEquals(eventsAndNextDma(
                new TraceEvent.DmaCompleted(IOMMU, DEV, PASID, BUF, FRAME0, 1, Access.WRITE, TranslationSource.IOTLB)), fire(),
                "the second access writes the same page");

        now += PERIOD_NS;
        assertEquals(events(walk(BUF + PAGE, Access.READ)), fire(), "the third reads the next page");
        on(present(BUF + PAGE, FRAME0 + 1, true));

        now += PERIOD_NS;
        assertEquals(eventsAndNextDma(
                new TraceEvent.DmaCompleted(IOMMU, DEV, PASID, BUF + PAGE, FRAME0 + 1, 1, Access.WRITE, TranslationSource.IOTLB)),
                fire());

        now += PERIOD_NS;
        assertEquals(eventsAndNextDma(
                new TraceEvent.DmaCompleted(IOMMU, DEV, PASID, BUF, FRAME0, 1, Access.READ, TranslationSource.IOTLB)), fire(),
                "round robin: back to page 0, reading");
    }

    @Test
    void givenAReadWriteProgram_whenTheWriteIsAbortedInvalid_thenTheDeviceMovesOnToTheNextPagesRead() {
        givenReadModifyWriteDevice("arm64", 2);
        givenReadOnlyEntryCached();
        now += PERIOD_NS;
        assertEquals(events(writeFault(BUF)), fire());

        Decision d = on(new FaultEvent.PageResponseSent(IOMMU, DEV, PASID, BUF, PageResponseCode.INVALID));

        assertEquals(eventsAndNextDma(new TraceEvent.DmaAborted(IOMMU, DEV, PASID, BUF, Access.WRITE)), d);
        now += PERIOD_NS;
        assertEquals(events(walk(BUF + PAGE, Access.READ)), fire());
    }
}
