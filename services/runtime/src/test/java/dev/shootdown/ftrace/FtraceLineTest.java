package dev.shootdown.ftrace;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/** The lines of a tracefs {@code trace} file and of {@code trace-cmd report}, as the importer reads them. */
class FtraceLineTest {

    @Test
    void aKprobeLineGivesItsFunctionAndArguments() {
        FtraceLine l = FtraceLine.parse(7, "        tlbprobe-99      [000] ...1.     3.012878: fmr: (flush_tlb_mm_range+0x0/0x170)"
                + " mm=0xffff8dba98158000 start=0x7fe6af8a9000 end=0x7fe6af8b9000");

        assertEquals(7, l.number());
        assertEquals("tlbprobe", l.task());
        assertEquals(99, l.pid());
        assertEquals(0, l.cpu());
        assertEquals("...1.", l.flags());
        assertEquals(3_012_878_000L, l.timeNs());
        assertEquals("fmr", l.event());
        assertEquals("flush_tlb_mm_range", l.function());
        assertEquals(0x7fe6af8a9000L, l.number("start", 0));
        assertEquals(0xffff8dba98158000L, l.number("mm", 0));
        assertEquals(-1, l.number("freed_tables", -1));
        assertFalse(l.inHardirq());
    }

    @Test
    void anIpiHandlerRunsInHardirqAndTheIdleTaskIsPidZero() {
        FtraceLine l = FtraceLine.parse(1, "          <idle>-0       [001] d.h1.     3.078321: ftf: (flush_tlb_func+0x0/0x1f0)");

        assertEquals("<idle>", l.task());
        assertEquals(0, l.pid());
        assertEquals(1, l.cpu());
        assertTrue(l.inHardirq());
        assertEquals("flush_tlb_func", l.function());
    }

    @Test
    void tracepointsPrintkAndMarkersKeepTheirBody() {
        FtraceLine tlb = FtraceLine.parse(1, "  tlbprobe-100 [001] d.h.. 3.013104: tlb_flush: pages:16 reason:remote shootdown (1)");
        assertEquals("tlb_flush", tlb.event());
        assertNull(tlb.function());
        assertEquals("pages:16 reason:remote shootdown (1)", tlb.body());

        FtraceLine printk = FtraceLine.parse(2, "  tlbprobe-99 [000] ..... 3.013128: stlb_invalidate_range: stlb invalidate_range"
                + " mm=ffff8dba98158000 start=7fe6af8a9000 end=7fe6af8b9000");
        assertEquals(0x7fe6af8b9000L, printk.number("end", 0), "trace_printk's %lx has no 0x");

        FtraceLine marker = FtraceLine.parse(3, "  tlbprobe-99 [000] ..... 3.011383: tracing_mark_write: munmap start 0x7fe6af8a9000 len 0x10000");
        assertEquals("munmap start 0x7fe6af8a9000 len 0x10000", marker.body());
    }

    @Test
    void traceCmdReportLinesWithoutFlagsAndWithATgidColumnParse() {
        FtraceLine l = FtraceLine.parse(1, "     kworker/u4:1-45    (   45) [001]  3.000000123: mm_page_free: page=0000 pfn=0x10 order=1");

        assertEquals("kworker/u4:1", l.task());
        assertEquals(45, l.pid());
        assertEquals("", l.flags());
        assertEquals(3_000_000_123L, l.timeNs());
    }

    @Test
    void commentsStackFramesAndLostEventNotesAreNotEventLines() {
        assertNull(FtraceLine.parse(1, "# tracer: nop"));
        assertNull(FtraceLine.parse(2, ""));
        assertNull(FtraceLine.parse(3, " => flush_tlb_mm_range"));
        assertNull(FtraceLine.parse(4, "CPU:1 [LOST 120 EVENTS]"));
        assertEquals(1, FtraceLine.lost("CPU:1 [LOST 120 EVENTS]"));
        assertEquals(-1, FtraceLine.lost("tlbprobe-99 [000] ..... 3.0: x: y"));
    }

    @Test
    void anythingElseIsRefusedSayingWhatWasExpected() {
        var e = assertThrows(IllegalArgumentException.class, () -> FtraceLine.parse(9, "this is not a trace"));

        assertEquals("expected an ftrace event line, TASK-PID [CPU] FLAGS SECONDS: EVENT: ..., found `this is not a trace`",
                e.getMessage());
        FtraceLine badNumber = FtraceLine.parse(1, " a-1 [000] ..... 1.0: fmr: (flush_tlb_mm_range+0x0/0x1) mm=0xzz");
        var n = assertThrows(IllegalArgumentException.class, () -> badNumber.number("mm", 0));
        assertEquals("fmr: mm=0xzz is not a hexadecimal number", n.getMessage());
    }
}
