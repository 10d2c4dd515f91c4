package dev.shootdown.iommu;

import dev.shootdown.core.Decision;
import dev.shootdown.core.TimerRequest;
import dev.shootdown.event.Access;
import dev.shootdown.event.ControlEvent;
import dev.shootdown.event.FaultEvent;
import dev.shootdown.event.SecondaryTlbEvent;
import dev.shootdown.event.TraceEvent;
import dev.shootdown.event.TraceEvent.TranslationSource;
import dev.shootdown.event.WalkEvent;
import dev.shootdown.scenario.Arch;
import dev.shootdown.scenario.Scenario;
import dev.shootdown.testing.TestRuns;
import java.util.List;
import org.junit.jupiter.api.Test;
import static org.junit.jupiter.api.Assertions.assertEquals;

/** Regressions found while writing {@link IommuTest}: walk attribution and per-PASID invalidations. */
class IommuRegressionTest {
    static final long BUF = 0x7f0000000000L;

    static Scenario scenario(List<Scenario.DeviceSpec> devices) {
        return new Scenario("p", Arch.X86, "linux-6.6", 1, 1,
                List.of(new Scenario.MmSpec(1, List.of(new Scenario.VmaSpec(BUF, 16, true, true)))),
                List.of(), devices, new Scenario.Timing(500, 800), new Scenario.EndCondition(1));
    }

    @Test
    void givenAStalledDevice_whenThePageResponseIsSuccess_thenItRetriesWithAWalk() {
        Iommu iommu = new Iommu("iommu0");
        long now = 0;
        iommu.onEvent(TestRuns.runStarted("r", 1, scenario(List.of(new Scenario.DeviceSpec("dev0", 0, 1, 1, true,
                new Scenario.DmaProgram(BUF, 2, Access.WRITE, 1_000))))), now);
        iommu.onEvent(new SecondaryTlbEvent.SvaBound("iommu0", "dev0", 1, 1, true), now);
        now += 1_000;
        iommu.onEvent(new ControlEvent.TimerFired("dma:dev0", now), now);
        iommu.onEvent(new WalkEvent.PageWalkCompleted("iommu0", "dev0", 1, 1, BUF, false, -1, -1, false), now);

        now += 1_500;
        Decision retried = iommu.onEvent(new FaultEvent.PageResponseSent("iommu0", "dev0", 1, BUF,
                FaultEvent.PageResponseCode.SUCCESS), now);

        assertEquals(new Decision(List.of(new WalkEvent.PageWalkRequested("coordinator", "iommu0", "dev0", 1, 1, BUF, Access.WRITE)),
                List.of()), retried);
    }

    @Test
    void givenTwoDevicesSharingAPasid_whenTheSecondOnesDmaWalks_thenTheWalkCompletesItsDma() {
        Iommu iommu = new Iommu("iommu0");
        long now = 0;
        iommu.onEvent(TestRuns.runStarted("r", 1, scenario(List.of(
                new Scenario.DeviceSpec("dev0", 0, 1, 1, false, new Scenario.DmaProgram(BUF, 1, Access.READ, 1_000)),
                new Scenario.DeviceSpec("dev1", 0, 1, 1, false, new Scenario.DmaProgram(BUF, 1, Access.READ, 1_000))))), now);
        iommu.onEvent(new SecondaryTlbEvent.SvaBound("iommu0", "dev0", 1, 1, false), now);
        iommu.onEvent(new SecondaryTlbEvent.SvaBound("iommu0", "dev1", 1, 1, false), now);
        now += 1_000;
        iommu.onEvent(new ControlEvent.TimerFired("dma:dev1", now), now); // dev1's DMA walks first

        now += 200;
        Decision done = iommu.onEvent(new WalkEvent.PageWalkCompleted("iommu0", "dev1", 1, 1, BUF, true, 0x1000, 1, true), now);

        assertEquals(new Decision(List.of(
                new TraceEvent.IotlbFilled("iommu0", 1, BUF, 0x1000, 1, true),
                new TraceEvent.DmaCompleted("iommu0", "dev1", 1, BUF, 0x1000, 1, Access.READ, TranslationSource.WALK)),
                List.of(new TimerRequest("dma:dev1", now + 1_000))), done);
    }

    @Test
    void givenTwoPasidsOfOneMm_whenOneShootdownInvalidatesBoth_thenBothIotlbsAreInvalidated() {
        Iommu iommu = new Iommu("iommu0");
        long now = 0;
        iommu.onEvent(TestRuns.runStarted("r", 1, new Scenario("p", Arch.X86, "linux-6.6", 1, 1,
                List.of(new Scenario.MmSpec(1, List.of(new Scenario.VmaSpec(BUF, 1, true, true)))), List.of(),
                List.of(new Scenario.DeviceSpec("dev0", 0, 1, 1, false, new Scenario.DmaProgram(BUF, 1, Access.READ, 1_000)),
                        new Scenario.DeviceSpec("dev1", 0, 2, 1, false, new Scenario.DmaProgram(BUF, 1, Access.READ, 1_000))),
                new Scenario.Timing(500, 800), new Scenario.EndCondition(1))), now);
        iommu.onEvent(new SecondaryTlbEvent.SvaBound("iommu0", "dev0", 1, 1, false), now);
        iommu.onEvent(new SecondaryTlbEvent.SvaBound("iommu0", "dev1", 2, 1, false), now);
        now += 1_000;
        iommu.onEvent(new ControlEvent.TimerFired("dma:dev0", now), now);
        iommu.onEvent(new WalkEvent.PageWalkCompleted("iommu0", "dev0", 1, 1, BUF, true, 0x1000, 1, true), now);
        iommu.onEvent(new ControlEvent.TimerFired("dma:dev1", now), now);
        iommu.onEvent(new WalkEvent.PageWalkCompleted("iommu0", "dev1", 1, 2, BUF, true, 0x1000, 1, true), now);
        assertEquals(1, iommu.iotlbEntries(1));
        assertEquals(1, iommu.iotlbEntries(2));

        iommu.onEvent(new SecondaryTlbEvent.InvalidateSecondaryTlbs("iommu0", 1, 1, BUF, BUF + 4096, 1), now);
        iommu.onEvent(new SecondaryTlbEvent.InvalidateSecondaryTlbs("iommu0", 1, 2, BUF, BUF + 4096, 1), now);
        now += 800;
        iommu.onEvent(new ControlEvent.TimerFired(Iommu.CMDQ_TIMER_PREFIX + Iommu.invalidationKey(1, 1), now), now);
        iommu.onEvent(new ControlEvent.TimerFired(Iommu.CMDQ_TIMER_PREFIX + Iommu.invalidationKey(1, 2), now), now);

        assertEquals(0, iommu.iotlbEntries(1), "each PASID's request is kept apart");
        assertEquals(0, iommu.iotlbEntries(2));
    }
}
