package dev.shootdown.audit;

import static dev.shootdown.audit.AuditLogs.*;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.shootdown.event.Access;
import dev.shootdown.event.Envelope;
import dev.shootdown.event.PageTableEvent;
import dev.shootdown.event.SecondaryTlbEvent;
import dev.shootdown.event.TraceEvent.TranslationSource;
import dev.shootdown.event.TraceEvent;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * {@link UseAfterFree} on hand-built logs: an access after the free through a stale translation,
 * a race with the free, and a stale access that the free shows to be a use after free.
 */
class UseAfterFreeTest {

    @Test
    void freeingWithoutTheSecondaryHookIsMissingSecondaryInvalidationAndTheNextDmaIsUseAfterFree() {
        Run run = new Run();
        Envelope ack = run.cpuAck();
        run.free(ack);
        // The device never heard of it: its ATC still maps the freed frame.
        run.b.emit("iommu0", 600, new TraceEvent.DmaCompleted("iommu0", "dev0", 1, VA, FRAME, 1, Access.WRITE,
                TranslationSource.ATC));

        AuditReport r = run.audit();
        assertEquals("violations", r.verdict());
        assertEquals(List.of("missing-secondary-invalidation", "race-with-free", "use-after-free"), kinds(r));
        assertEquals("secondary-never", r.shootdowns().get(0).order());
        // The DMA through the stale ATC entry (iommu0#5): proved by the ATC fill and the free.
        Violation uaf = r.violations().stream().filter(v -> v.events().contains("iommu0#5")).findFirst().orElseThrow();
        assertEquals("use-after-free", uaf.kind());
        assertEquals("iommu0", uaf.node());
        assertEquals(List.of("iommu0#3", "coordinator#6", "iommu0#5"), uaf.events());
        for (Violation v : r.violations()) {
            assertEquals(1, v.mm(), "every violation names the mm: " + v);
            assertEquals("0x7f0000000000", v.va(), "every violation names the address: " + v);
        }
        // The DMA before the munmap (iommu0#4) is not ordered before the free either: nothing made the
        // kernel wait for the device. But it came first in simulated time: a race with the free, not a use of it.
        Violation race = r.violations().stream().filter(v -> v.kind().equals("race-with-free")).findFirst().orElseThrow();
        assertEquals(List.of("iommu0#4", "coordinator#6"), race.events());
        assertTrue(r.violations().stream().noneMatch(v -> v.kind().equals("use-after-free") && v.events().contains("iommu0#4")));
    }


    @Test
    void aStaleAccessToAFreedFrameIsReportedAsUseAfterFreeOnly() {
        Run run = new Run();
        Envelope ack = run.cpuAck();
        Envelope request = run.b.emit("coordinator", 200,
                new SecondaryTlbEvent.InvalidateSecondaryTlbs("iommu0", 1, 1, VA, END, 1), ack);
        Envelope free = run.free(run.secondary(request));
        List<Envelope> log = run.b.log();
        Envelope finished = log.get(log.size() - 1);
        // cpu1 had VA of mm 1 cached and was never flushed (not in the shootdown at all).
        run.b.emit("cpu1", 45, new TraceEvent.MmSwitched("cpu1", 0, 1, 0), run.start);
        Envelope cpu1Fill = run.b.emit("cpu1", 50, new TraceEvent.TlbFilled("cpu1", 1, VA, FRAME, 1, true));
        Envelope access = run.b.emit("cpu1", 600, new TraceEvent.MemoryAccessed("cpu1", 101, 1, VA, FRAME, 1, Access.WRITE, true),
                finished);

        AuditReport r = run.audit();
        assertTrue(kinds(r).contains("use-after-free"), () -> r.violations().toString());
        assertTrue(r.violations().stream().noneMatch(v -> v.kind().equals("stale-translation-use")), () -> r.violations().toString());
        assertTrue(r.violations().stream().anyMatch(v -> v.kind().equals("use-after-free")
                && v.events().equals(List.of(cpu1Fill.id(), free.id(), access.id()))), () -> r.violations().toString());
    }


    @Test
    void aStaleWriteThatTheFreeShowsToBeAUseAfterFreeIsReportedOnlyAsThat() {
        Mprotect m = new Mprotect();
        Envelope returned = m.returns(m.cpuAck);
        Envelope dma = dmaThroughIotlb(m.b, Access.WRITE, returned); // at 300 us
        assertEquals(List.of("missing-secondary-invalidation", "stale-translation-use"), kinds(m.audit()));
        // Then the task munmaps the page and the frame is freed without waiting for the device, at 250 us:
        // concurrent with the DMA by happens-before, before it in simulated time.
        m.b.emit("coordinator", 240, new PageTableEvent.MmuGatherStarted(4, 1, VA, END, "munmap", "cpu0", 100), returned);
        m.b.emit("coordinator", 240, new PageTableEvent.PteCleared(1, VA, FRAME, 1, 4));
        m.b.emit("coordinator", 250, new PageTableEvent.FrameFreed(FRAME, 1, 4));

        AuditReport r = m.audit();
        assertTrue(kinds(r).contains("use-after-free"), () -> r.violations().toString());
        assertTrue(r.violations().stream().noneMatch(v -> v.kind().equals("stale-translation-use")), () -> r.violations().toString());
        assertTrue(r.violations().stream().anyMatch(v -> v.kind().equals("use-after-free") && v.events().contains(dma.id())));
    }


    @Test
    void aStaleWriteBeforeTheFreeStaysAStaleWriteAndRacedWithTheFree() {
        Mprotect m = new Mprotect();
        Envelope returned = m.returns(m.cpuAck);
        Envelope dma = dmaThroughIotlb(m.b, Access.WRITE, returned); // at 300 us
        // The free comes at 410 us, after the DMA in simulated time, and nothing orders the DMA before it.
        m.b.emit("coordinator", 400, new PageTableEvent.MmuGatherStarted(4, 1, VA, END, "munmap", "cpu0", 100), returned);
        m.b.emit("coordinator", 400, new PageTableEvent.PteCleared(1, VA, FRAME, 1, 4));
        Envelope free = m.b.emit("coordinator", 410, new PageTableEvent.FrameFreed(FRAME, 1, 4));

        AuditReport r = m.audit();
        assertEquals(List.of("missing-secondary-invalidation", "race-with-free", "stale-translation-use"), kinds(r));
        Violation race = r.violations().stream().filter(v -> v.kind().equals("race-with-free")).findFirst().orElseThrow();
        assertEquals(List.of(dma.id(), free.id()), race.events());
        assertEquals("access " + dma.id() + " to frame 0x1000 at 0.300 us through iommu0 iotlb pasid 1 is not ordered before the free "
                + free.id() + " at 0.410 us: it came first in simulated time, but nothing made the free wait for it (its"
                + " translation was not invalidated before the free)", race.explanation());
    }
}
