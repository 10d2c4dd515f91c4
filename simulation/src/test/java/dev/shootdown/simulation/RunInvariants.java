package dev.shootdown.simulation;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.shootdown.codec.EventCodec;
import dev.shootdown.codec.LogFormatException;
import dev.shootdown.event.Envelope;
import dev.shootdown.event.FaultEvent;
import dev.shootdown.event.IpiEvent;
import dev.shootdown.event.Kernel;
import dev.shootdown.event.PageTableEvent;
import dev.shootdown.event.SecondaryTlbEvent;
import dev.shootdown.event.SyscallEvent;
import dev.shootdown.event.TraceEvent;
import java.util.ArrayList;
import java.util.List;

/**
 * What a correct munmap-dma run must show, checked straight from its log with vector clocks,
 * independently of the auditor (which these tests also run, so a wrong auditor cannot hide a
 * wrong model, nor the other way round).
 */
public final class RunInvariants {

    private RunInvariants() {}

    public static List<Envelope> decode(List<String> lines) throws LogFormatException {
        List<Envelope> log = new ArrayList<>();
        for (String line : lines) {
            log.add(EventCodec.decode(line));
        }
        return log;
    }

    public static void assertMunmapDmaCorrect(List<Envelope> log) {
        List<Envelope> cpuAcks = of(log, IpiEvent.TlbFlushed.class);
        List<Envelope> secondaryDone = of(log, SecondaryTlbEvent.SecondaryTlbsInvalidated.class);
        List<Envelope> frees = of(log, PageTableEvent.FrameFreed.class);
        List<Envelope> returned = of(log, SyscallEvent.MunmapReturned.class);
        assertEquals(2, cpuAcks.size(), "both CPUs of mm_cpumask acknowledged the flush");
        assertEquals(1, secondaryDone.size(), "the IOMMU completed one invalidation");
        assertEquals(16, frees.size(), "every page of the buffer was freed");
        assertEquals(1, returned.size());
        for (Envelope ack : cpuAcks) {
            IpiEvent.FlushKind kind = ((IpiEvent.TlbFlushed) ack.event()).kind();
            assertEquals(IpiEvent.FlushKind.PARTIAL, kind, "16 pages is under tlb_single_page_flush_ceiling");
            assertTrue(ack.happenedBefore(secondaryDone.get(0)), "6.6: the secondary hook runs after the IPIs complete");
        }
        Envelope lastIotlb = of(log, SecondaryTlbEvent.IotlbInvalidated.class).get(0);
        Envelope atc = of(log, SecondaryTlbEvent.AtcInvalidated.class).get(0);
        assertTrue(lastIotlb.happenedBefore(atc), "the ATC is invalidated after the IOTLB");
        for (Envelope free : frees) {
            for (Envelope ack : cpuAcks) {
                assertTrue(ack.happenedBefore(free), "frame freed before " + ack.id());
            }
            assertTrue(secondaryDone.get(0).happenedBefore(free), "frame freed before the secondary invalidation completed");
            assertTrue(free.happenedBefore(returned.get(0)), "munmap returned before " + free.id());
        }
        // After munmap returned, nothing reaches the old buffer through a translation.
        for (Envelope e : log) {
            if (returned.get(0).happenedBefore(e)) {
                assertFalse(e.event() instanceof TraceEvent.DmaCompleted d && inBuffer(d.va()), "DMA after munmap: " + e.id());
                assertFalse(e.event() instanceof TraceEvent.MemoryAccessed a && inBuffer(a.va()),
                        "CPU access after munmap: " + e.id());
            }
        }
        long invalidAfter = of(log, FaultEvent.PageResponseSent.class).stream()
                .filter(e -> returned.get(0).happenedBefore(e))
                .filter(e -> ((FaultEvent.PageResponseSent) e.event()).code() == FaultEvent.PageResponseCode.INVALID).count();
        assertTrue(invalidAfter >= 3, "the device faulted on the unmapped range and was answered INVALID");
        assertTrue(of(log, SyscallEvent.TaskExited.class).stream()
                .anyMatch(e -> ((SyscallEvent.TaskExited) e.event()).reason().equals("SIGSEGV")),
                "the thread still reading the buffer got SIGSEGV");
    }

    /** The auditor finds the run clean, with the 6.6 order: secondary invalidation after the CPU flushes. */
    public static void assertAuditClean(List<Envelope> log) {
        dev.shootdown.audit.AuditReport report = dev.shootdown.audit.Auditor.audit(log);
        assertEquals("clean", report.verdict(), () -> report.violations().toString());
        assertEquals("secondary-after-cpu", report.shootdowns().get(0).order());
        assertTrue(report.complete(), "the log holds the run's completion");
    }

    private static boolean inBuffer(long va) {
        return Kernel.covers(dev.shootdown.scenario.Scenarios.BUFFER, dev.shootdown.scenario.Scenarios.BUFFER + 16 * Kernel.PAGE_SIZE,
                va);
    }

    public static List<Envelope> of(List<Envelope> log, Class<?> type) {
        return log.stream().filter(e -> type.isInstance(e.event())).toList();
    }
}
