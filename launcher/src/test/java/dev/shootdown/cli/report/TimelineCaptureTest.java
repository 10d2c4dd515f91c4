package dev.shootdown.cli.report;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.shootdown.audit.Violation;
import dev.shootdown.cli.report.HtmlReport.Violating;
import dev.shootdown.event.Access;
import dev.shootdown.event.Envelope;
import dev.shootdown.event.PageTableEvent;
import dev.shootdown.event.TraceEvent;
import dev.shootdown.event.TraceEvent.TranslationSource;
import dev.shootdown.testing.LogBuilder;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** What report.html's timelines are drawn from, kept in memory bounded by what is in flight. */
class TimelineCaptureTest {

    static final long VA = 0x7f0000000000L;
    static final long FRAME = 0x1000;

    private static Violating at(LogBuilder b, long timeNs, String kind) {
        Envelope dma = b.emit("iommu0", timeNs, new TraceEvent.DmaCompleted("iommu0", "dev0", 1, VA, FRAME, 1, Access.WRITE,
                TranslationSource.IOTLB));
        return new Violating(dma, new Violation(kind, "iommu0", 1, "0x7f0000000000", List.of(dma.id()), "x", 1));
    }

    @Test
    void theViolatingAccessesKeptAreTheOnesATimelineDraws() {
        // report.html draws a shootdown's MAX_VIOLATION_MARKS earliest violating accesses of each kind: sorted
        // by time, ties as they came. Keeping only those, as they come, must leave the same ones in the same order.
        Random random = new Random(7);
        for (int round = 0; round < 500; round++) {
            LogBuilder b = new LogBuilder("t");
            List<Violating> all = new ArrayList<>();
            List<Violating> kept = new ArrayList<>();
            int n = random.nextInt(20);
            for (int i = 0; i < n; i++) {
                Violating v = at(b, random.nextInt(6) * 100L, random.nextBoolean() ? "use-after-free" : "race-with-free");
                all.add(v);
                TimelineCapture.keepEarliest(kept, v);
            }
            List<Violating> drawn = new ArrayList<>(all);
            drawn.sort(Comparator.comparingLong(v -> v.at().timeNs()));
            java.util.Map<String, Integer> perKind = new java.util.HashMap<>();
            drawn.removeIf(v -> perKind.merge(v.violation().kind(), 1, Integer::sum) > HtmlReport.MAX_VIOLATION_MARKS);
            List<Violating> keptDrawn = new ArrayList<>(kept);
            keptDrawn.sort(Comparator.comparingLong(v -> v.at().timeNs()));
            assertEquals(drawn, keptDrawn, "round " + round);
        }
    }

    @Test
    void aDeviceWritingAFreedFrameForTheRestOfTheRunKeepsNothingMoreThanTheFirstFew() {
        // Seen in munmap-dma under series-v2 with a dropped IOTLB invalidation: 422,000 uses after free of one
        // shootdown, each kept for its timeline, until the heap ran out.
        LogBuilder b = new LogBuilder("t");
        TimelineCapture capture = new TimelineCapture();
        capture.accept(b.emit("coordinator", 10, new PageTableEvent.MmuGatherStarted(1, 1, VA, VA + 4096, "munmap", "cpu0", 100)));
        capture.accept(b.emit("coordinator", 20, new PageTableEvent.PteCleared(1, VA, FRAME, 1, 1)));
        Envelope free = b.emit("coordinator", 30, new PageTableEvent.FrameFreed(FRAME, 1, 1));
        capture.accept(free);
        int afterFirst = 0;
        for (int i = 0; i < 100_000; i++) {
            Envelope dma = b.emit("iommu0", 100 + i, new TraceEvent.DmaCompleted("iommu0", "dev0", 1, VA, FRAME, 1, Access.WRITE,
                    TranslationSource.IOTLB), free);
            capture.accept(dma);
            capture.onViolation(new Violation("use-after-free", "iommu0", 1, "0x7f0000000000", List.of(free.id(), dma.id()),
                    "write after free", 1));
            if (i == TimelineCapture.RECENT) {
                afterFirst = capture.held();
            }
        }
        assertEquals(afterFirst, capture.held(), "nothing more is held after the ring of recent envelopes filled");
        assertTrue(capture.held() <= TimelineCapture.RECENT + 3 + HtmlReport.MAX_VIOLATION_MARKS, "held " + capture.held());
    }
}
