package dev.shootdown.ftrace;

import dev.shootdown.audit.AuditReport;
import dev.shootdown.audit.Auditor;
import dev.shootdown.audit.ShootdownSummary;
import dev.shootdown.audit.Violation;
import dev.shootdown.codec.EventCodec;
import dev.shootdown.event.ControlEvent;
import dev.shootdown.event.Envelope;
import dev.shootdown.event.IpiEvent;
import dev.shootdown.event.PageTableEvent;
import dev.shootdown.event.SecondaryTlbEvent;
import dev.shootdown.scenario.Arch;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The captures of real kernels in real-kernels/captures, imported and audited: the seed's story
 * as the kernels told it, with happens-before from what a trace proves. And the same captures
 * changed, line by line, into what a broken kernel would have printed: the audit must say so.
 */
class FtraceImportTest {

    static final Path CAPTURES = Path.of("..", "..", "real-kernels", "captures");
    static final String K61 = "linux-6.1.0-57-cloud-amd64.trace";
    static final String K612 = "linux-6.12.117-deb13-cloud-amd64.trace";
    static final String ARM612 = "linux-6.12.117-deb13-arm64.trace";

    /** A capture held as text, so a test can change it. */
    record Text(String file, List<String> text) implements FtraceImport.Capture {
        static Text of(String file) throws IOException {
            return new Text(file, Files.readAllLines(CAPTURES.resolve(file)));
        }

        @Override
        public String sha256() {
            return "0".repeat(64);
        }

        @Override
        public long lines() {
            return text.size();
        }

        @Override
        public int cpusInHeader() {
            return 2;
        }

        @Override
        public Iterator<String> open() {
            return text.iterator();
        }

        /** The same capture with the lines matching {@code from} (a regex) changed by {@code change}. */
        Text map(java.util.function.UnaryOperator<String> change) {
            return new Text(file, text.stream().map(change).toList());
        }

        Text without(String regex) {
            return new Text(file, text.stream().filter(l -> !l.matches(regex)).toList());
        }
    }

    record Imported(List<Envelope> log, AuditReport report, ControlEvent.TraceImported imported) {
        Map<String, Envelope> byId() {
            return log.stream().collect(Collectors.toMap(Envelope::id, e -> e));
        }

        ShootdownSummary shootdown(String caller, String start) {
            return report.shootdowns().stream().filter(s -> s.caller().equals(caller) && s.start().equals(start)).findFirst()
                    .orElseThrow(() -> new AssertionError("no " + caller + " at " + start + " in " + report.shootdowns()));
        }

        List<Envelope> of(long shootdown, Class<?> type) {
            return log.stream().filter(e -> type.isInstance(e.event())
                    && e.event() instanceof dev.shootdown.event.InShootdown s && s.shootdownId() == shootdown).toList();
        }

        List<String> kinds() {
            return report.violations().stream().map(Violation::kind).toList();
        }

        /** Whether the shootdown was opened by a trace_marker starting with {@code prefix}. */
        boolean shootdownHasMarker(long id, String prefix) {
            for (int k = 0; k + 1 < log.size(); k++) {
                if (log.get(k).event() instanceof dev.shootdown.event.TraceEvent.TraceMarker m && m.text().startsWith(prefix)) {
                    for (int n = k + 1; n < log.size(); n++) {
                        Envelope e = log.get(n);
                        if (e.node().equals(log.get(k).node())) {
                            return e.event() instanceof PageTableEvent.MmuGatherStarted g && g.shootdownId() == id;
                        }
                    }
                }
            }
            return false;
        }
    }

    static Imported importAndAudit(FtraceImport.Capture capture, Arch arch) {
        List<Envelope> log = new ArrayList<>();
        ControlEvent.TraceImported imported = FtraceImport.convert(capture, "test-kernel", arch, log::add);
        return new Imported(log, Auditor.audit(log), imported);
    }

    static Imported importAndAudit(String file) throws IOException {
        return importAndAudit(Text.of(file), file.contains("arm64") ? Arch.ARM64 : null);
    }

    // ------------------------------------------------------------------ the three captures

    @Test
    void linux61MunmapInvalidatesTheSecondaryTlbBeforeAndAfterTheCpuFlush() throws IOException {
        Imported i = importAndAudit(K61);
        ShootdownSummary munmap = i.shootdown("munmap", "0x7fe6af8a9000");
        Map<String, Envelope> byId = i.byId();

        assertEquals(2, munmap.hookCalls().size(), munmap.toString());
        List<Envelope> flushed = i.of(munmap.id(), IpiEvent.TlbFlushed.class);
        assertEquals(List.of("cpu0", "cpu1"), flushed.stream().map(e -> ((IpiEvent.TlbFlushed) e.event()).cpu()).sorted().toList());
        List<Envelope> done = i.of(munmap.id(), SecondaryTlbEvent.SecondaryTlbsInvalidated.class);
        assertEquals(2, done.size());
        Envelope before = done.get(0);
        Envelope after = done.get(1);
        for (Envelope cpu : flushed) {
            assertTrue(before.happenedBefore(cpu), before.id() + " (from mmu_notifier_invalidate_range_end) before " + cpu.id());
            assertTrue(cpu.happenedBefore(after), cpu.id() + " before " + after.id() + " (from tlb_flush_mmu_tlbonly)");
        }
        for (var hook : munmap.hookCalls()) {
            assertEquals("invalidate_range", hook.hook());
            assertEquals(munmap.mm(), hook.mm());
            assertEquals("0x7fe6af8a9000", hook.start());
            assertEquals("0x7fe6af8b9000", hook.end());
        }
        List<Envelope> frees = i.of(munmap.id(), PageTableEvent.FrameFreed.class);
        assertEquals(17, frees.size(), "16 pages and their page table");
        assertTrue(after.happenedBefore(frees.get(0)));
        assertEquals("secondary-after-cpu", munmap.order());
        assertEquals("clean", i.report().verdict(), i.report().violations().toString());
        assertTrue(byId.get(munmap.hookCalls().get(0).event()).happenedBefore(byId.get(munmap.hookCalls().get(1).event())));
    }

    @Test
    void linux612MunmapInvalidatesOnceAfterTheCpuFlush() throws IOException {
        Imported i = importAndAudit(K612);
        ShootdownSummary munmap = i.shootdown("munmap", "0x7f8c757d8000");

        assertEquals(1, munmap.hookCalls().size());
        assertEquals("arch_invalidate_secondary_tlbs", munmap.hookCalls().get(0).hook());
        assertEquals("0x7f8c757e8000", munmap.hookCalls().get(0).end());
        Envelope done = i.of(munmap.id(), SecondaryTlbEvent.SecondaryTlbsInvalidated.class).get(0);
        List<Envelope> flushed = i.of(munmap.id(), IpiEvent.TlbFlushed.class);
        assertEquals(2, flushed.size());
        flushed.forEach(cpu -> assertTrue(cpu.happenedBefore(done), cpu.id() + " before " + done.id()));
        i.of(munmap.id(), PageTableEvent.FrameFreed.class).forEach(free -> assertTrue(done.happenedBefore(free)));
        assertEquals("secondary-after-cpu", munmap.order());
        assertEquals("clean", i.report().verdict(), i.report().violations().toString());
    }

    @Test
    void linux612BatchedReclaimInvalidatesTheWholeMmOncePerPageBeforeEachFlush() throws IOException {
        Imported i = importAndAudit(K612);
        ShootdownSummary pageout = i.shootdown("madvise_pageout", "0x7f57193e9000");

        assertEquals(8, pageout.framesFreed());
        assertEquals(8, pageout.hookCalls().size());
        pageout.hookCalls().forEach(h -> assertEquals(List.of("0x0", "0xffffffffffffffff"), List.of(h.start(), h.end())));
        // Each arch_tlbbatch_flush comes after exactly one new whole-mm invalidation, done before its IPIs.
        List<Envelope> calls = i.of(pageout.id(), PageTableEvent.TlbFlushCalled.class);
        List<Envelope> done = i.of(pageout.id(), SecondaryTlbEvent.SecondaryTlbsInvalidated.class);
        assertEquals(8, calls.size());
        for (int k = 0; k < 8; k++) {
            assertEquals("arch_tlbbatch_flush", ((PageTableEvent.TlbFlushCalled) calls.get(k).event()).function());
            Envelope call = calls.get(k);
            Envelope previous = k == 0 ? null : calls.get(k - 1);
            long between = done.stream().filter(d -> d.happenedBefore(call) && (previous == null || previous.happenedBefore(d)))
                    .count();
            assertEquals(1, between, "invalidations between flush " + k + " and the one before");
        }
        assertEquals("secondary-before-cpu", pageout.order());
        assertEquals(8, i.report().stats().framesReclaimed());
        assertEquals("clean", i.report().verdict(), i.report().violations().toString());
    }

    @Test
    void lazyCpusGetTheIpiOnlyWhenPageTablesAreFreed() throws IOException {
        for (String file : List.of(K61, K612)) {
            Imported i = importAndAudit(file);
            ShootdownSummary lazy = i.shootdown("munmap", "0x500000000000");
            ShootdownSummary shared = i.shootdown("munmap", "0x600000000000");

            assertEquals(List.of("partial", "lazy"), lazy.cpuFlushes().stream().map(ShootdownSummary.CpuFlush::kind).toList(), file);
            assertEquals(List.of("cpu0"), shared.cpuFlushes().stream().map(ShootdownSummary.CpuFlush::cpu).toList(), file);
            assertEquals("no-secondary-tlb", lazy.order());
        }
    }

    @Test
    void arm64ShowsTheHookWithTheExactRangeAndNoCpuFlush() throws IOException {
        Imported i = importAndAudit(ARM612);
        ShootdownSummary munmap = i.shootdown("munmap", "0xffffa6809000");

        assertEquals(List.of("0xffffa6809000", "0xffffa6819000"),
                List.of(munmap.hookCalls().get(0).start(), munmap.hookCalls().get(0).end()));
        assertEquals("no-cpu-flush", munmap.order());
        ShootdownSummary pageout = i.shootdown("madvise_pageout", "0xffffa9019000");
        assertEquals(8, pageout.hookCalls().size(), "one per page: __flush_tlb_page_nosync from arch_tlbbatch_add_pending");
        assertTrue(i.imported().notTraced().get(0).startsWith("CPU flushes: arm64"));
        assertEquals("clean", i.report().verdict(), i.report().violations().toString());
    }

    @Test
    void aSecondCallbackOfTheSameSecondaryTlbIsASecondCall() throws IOException {
        // 6.1 on arm64 flushes at tlb_end_vma: tlb_flush_mmu_tlbonly's invalidate_range (probed, with its
        // callback), then range_end's own ->invalidate_range, whose callback alone shows it (the hook is
        // not probed there). A hook calls each notifier once: two callbacks are two calls.
        Imported i = importAndAudit(Text.of("linux-6.1.0-57-arm64.harness.trace"), Arch.ARM64);
        ShootdownSummary munmap = i.report().shootdowns().stream().filter(s -> s.caller().equals("munmap")
                && i.shootdownHasMarker(s.id(), "munmap start 0x")).findFirst().orElseThrow();

        assertEquals(2, munmap.hookCalls().size(), munmap.hookCalls().toString());
        assertEquals(munmap.hookCalls().get(0).start(), munmap.hookCalls().get(1).start());
        assertEquals("clean", i.report().verdict());
    }

    @Test
    void theLogIsWellFormedCausalAndTheSameEveryTime() throws Exception {
        Text capture = Text.of(K612);
        List<String> first = new ArrayList<>();
        List<String> second = new ArrayList<>();
        List<Envelope> log = new ArrayList<>();
        FtraceImport.convert(capture, "k", null, e -> {
            first.add(EventCodec.encode(e));
            log.add(e);
        });
        FtraceImport.convert(capture, "k", null, e -> second.add(EventCodec.encode(e)));

        assertEquals(first, second);
        for (String line : first) {
            assertEquals(line, EventCodec.encode(EventCodec.decode(line)));
        }
        java.util.Set<String> seen = new java.util.HashSet<>();
        for (Envelope e : log) {
            e.clock().entries().forEach((node, seq) -> assertTrue(seq == 0 || seen.contains(node + "#" + seq)
                    || node.equals(e.node()) && seq == e.seq(), e.id() + " comes after " + node + "#" + seq));
            seen.add(e.id());
        }
        assertTrue(log.get(0).event() instanceof ControlEvent.RunStarted);
        assertTrue(log.get(1).event() instanceof ControlEvent.TraceImported);
        assertTrue(log.get(log.size() - 1).event() instanceof ControlEvent.RunCompleted);
    }

    // ------------------------------------------------------------------ what a broken kernel would print

    /** The 6.12 munmap's hook line and its callback line. */
    private static final String MNIS_612 = ".*3\\.790676: mnis:.*";
    private static final String STLB_612 = ".*3\\.790755: stlb_secondary:.*";

    @Test
    void aFreeBeforeTheFlushIsAnotherPagesAndAsksNothingOfTheSecondaryTlb() throws IOException {
        // mm_page_free is not filtered by page: the task frees something of its own inside the pageout
        // bracket before reclaim flushes anything. What reclaim unmaps is freed only after its flush.
        List<String> lines = new ArrayList<>(Text.of(K612).text());
        int marker = indexOf(lines, ".*4\\.086767: tracing_mark_write: pageout start.*");
        lines.add(marker + 1, "      tlbreclaim-150     [000] .....     4.086800: mm_page_free: page=0000000012345678 pfn=0x1234 order=0");
        Imported i = importAndAudit(new Text(K612, lines), null);

        assertEquals(List.of(), i.kinds(), i.report().violations().toString());
        assertEquals(9, i.shootdown("madvise_pageout", "0x7f57193e9000").framesFreed());

        // The same free after the first batch flush, with the whole-mm invalidations gone: caught.
        Text stale = new Text(K612, lines).without(".*4\\.0(89|91|92)[0-9]+: (mnis|stlb_secondary):.*");
        assertEquals(List.of("missing-secondary-invalidation"), importAndAudit(stale, null).kinds());
    }

    @Test
    void aFreeBeforeTheFlushCallIsNotTheShootdownsFirstFreeStep() throws IOException {
        // The task frees a page of something else inside its munmap bracket, before flush_tlb_mm_range.
        List<String> lines = new ArrayList<>(Text.of(K612).text());
        int marker = indexOf(lines, ".*3\\.788832: tracing_mark_write: munmap start.*");
        lines.add(marker + 1, "        tlbprobe-148     [000] .....     3.789000: mm_page_free: page=0000000012345678 pfn=0x1234 order=0");
        Imported i = importAndAudit(new Text(K612, lines), null);

        long id = i.shootdown("munmap", "0x7f8c757d8000").id();
        assertEquals(List.of("cpus flushed (2)", "arch_invalidate_secondary_tlbs(mm, its range)", "free"),
                dev.shootdown.audit.FlushSequence.of(i.log(), id, true).orElseThrow());
        assertEquals("clean", i.report().verdict(), i.report().violations().toString());
    }

    @Test
    void aHookWhoseCallbackNeverRanLeavesTheSecondaryTlbStale() throws IOException {
        Imported i = importAndAudit(Text.of(K612).without(STLB_612), null);

        Violation v = i.report().violations().get(0);
        assertEquals(List.of("missing-secondary-invalidation"), i.kinds());
        assertEquals("stlb", v.node());
        assertTrue(v.explanation().contains("before the first free"), v.explanation());
    }

    @Test
    void framesFreedBeforeTheHookAreCaught() throws IOException {
        Text original = Text.of(K612);
        List<String> lines = new ArrayList<>(original.text());
        int hook = indexOf(lines, MNIS_612);
        int firstFree = indexOf(lines, ".*3\\.790824: mm_page_free:.*");
        // The same lines, the frees moved before the hook (timestamps kept: order comes from the CPU's program order).
        List<String> frees = new ArrayList<>(lines.subList(firstFree, firstFree + 17));
        lines.subList(firstFree, firstFree + 17).clear();
        lines.addAll(hook, frees);
        Imported i = importAndAudit(new Text(K612, lines), null);

        assertEquals(List.of("missing-secondary-invalidation"), i.kinds());
        assertEquals("secondary-after-cpu", i.shootdown("munmap", "0x7f8c757d8000").order());
    }

    @Test
    void anIpiTheMaskSaysWasSentButNoHandlerAnsweredIsAMissingCpuFlush() throws IOException {
        // With page tables freed, every CPU of mm_cpumask gets the IPI, lazy or not: one that never answers was not flushed.
        Text changed = Text.of(K612)
                .map(l -> l.contains("3.790331: fmr:") ? l + " freed_tables=0x1" : l.contains("3.790363: nftm:") ? l + " mask=0x3" : l)
                .without(".*tlbprobe-149 +\\[001\\] d\\.h\\.\\. +3\\.7904(88|647).*");
        Imported i = importAndAudit(changed, null);

        assertEquals(List.of("missing-cpu-invalidation"), i.kinds());
        assertEquals("cpu1", i.report().violations().get(0).node());
        assertTrue(i.imported().warnings().get(0).contains("no flush_tlb_func on cpu1 answers this IPI"),
                i.imported().warnings().toString());
    }

    @Test
    void withoutFreedTablesTheMaskIsOnlyWhereTheIpisMayGo() throws IOException {
        // mm_cpumask holds lazy CPUs, which tlb_is_not_lazy (should_flush_tlb) skips: no IPI to cpu1 is no missing flush.
        Text changed = Text.of(K612)
                .map(l -> l.contains("3.790331: fmr:") ? l + " freed_tables=0x0" : l.contains("3.790363: nftm:") ? l + " mask=0x3" : l)
                .without(".*tlbprobe-149 +\\[001\\] d\\.h\\.\\. +3\\.7904(88|647).*");
        Imported i = importAndAudit(changed, null);

        assertEquals(List.of(), i.kinds());
        assertEquals(List.of("cpu0"), i.shootdown("munmap", "0x7f8c757d8000").cpuFlushes().stream()
                .map(ShootdownSummary.CpuFlush::cpu).toList());
    }

    @Test
    void aHookForAnotherMmIsAWrongMmInvalidation() throws IOException {
        String other = "ffff89e44106c780"; // the reclaim test's mm
        Imported i = importAndAudit(Text.of(K612).map(l -> l.matches(MNIS_612) || l.matches(STLB_612)
                ? l.replace("ffff89e441070b00", other) : l), null);

        assertTrue(i.kinds().contains("wrong-mm-invalidation"), i.kinds().toString());
        assertTrue(i.kinds().contains("missing-secondary-invalidation"), "the munmap's own mm was left stale: " + i.kinds());
    }

    @Test
    void timestampsOfDifferentCpusOrderNothing() throws IOException {
        // cpu1's handler printed after cpu0 went on, later by its clock: the importer cannot pair it, and says so,
        // rather than order it by its timestamp.
        Imported i = importAndAudit(handlerAfterTheWait("3.790700", "3.790710"), null);

        ShootdownSummary munmap = i.shootdown("munmap", "0x7f8c757d8000");
        assertEquals(List.of("cpu0"), munmap.cpuFlushes().stream().map(ShootdownSummary.CpuFlush::cpu).toList());
        assertTrue(i.imported().warnings().stream().anyMatch(w -> w.contains("with no native_flush_tlb_multi before it")),
                i.imported().warnings().toString());
    }

    @Test
    void aHandlerWhoseTimestampTiesWithTheSendersNextLineAnswersTheIpi() throws IOException {
        // A clock too coarse to tell them apart (QEMU's without KVM): tied lines are in no proven order, and the
        // kernel waits for the handler (smp_call_function_many_cond), so it came first.
        Imported i = importAndAudit(handlerAfterTheWait("3.790676", "3.790676"), null);

        ShootdownSummary munmap = i.shootdown("munmap", "0x7f8c757d8000");
        assertEquals(List.of("cpu0", "cpu1"), munmap.cpuFlushes().stream().map(ShootdownSummary.CpuFlush::cpu).toList());
        assertEquals(List.of(), i.imported().warnings());
        assertEquals("clean", i.report().verdict(), i.report().violations().toString());
    }

    /** A capture of {@code lines} after the 6.12 harness capture's 12-line header (2 CPUs). */
    private static Text synthetic(String name, String... lines) throws IOException {
        List<String> text = new ArrayList<>(Text.of("linux-6.12.118-deb13-cloud-amd64.harness.trace").text().subList(0, 12));
        text.addAll(List.of(lines));
        return new Text(name, text);
    }

    @Test
    void aSenderSwitchedOutAfterItsWaitWasAnsweredBeforeTheSwitch() throws IOException {
        // kswapd0's batch flush IPI, answered on cpu1; kswapd0 traces nothing more before cpu0 runs another task.
        // csd_lock_wait spins with preemption disabled: the switch itself proves every handler answered first.
        // (Seen in a 6.12 capture of kswapd reclaim: without this the answer was not ordered before the end.)
        Imported i = importAndAudit(synthetic("switched.trace",
                "         kswapd0-49      [000] .....    20.557935: abf: (arch_tlbbatch_flush+0x4/0x100) mask=0x2",
                "         kswapd0-49      [000] ...1.    20.557942: nftm: (native_flush_tlb_multi+0x4/0x100) mask=0x2",
                "         kswapd0-49      [000] ...1.    20.557945: tlb_flush: pages:-1 reason:remote ipi send (4)",
                "       tlbkswapd-174     [001] d.h..    20.558624: ftf: (flush_tlb_func+0x4/0x220)",
                "       tlbkswapd-174     [001] d.h..    20.558662: tlb_flush: pages:-1 reason:remote shootdown (1)",
                "       tlbkswapd-173     [000] d..2.    20.572478: tlb_flush: pages:-1 reason:flush on task switch (0)"), null);

        assertEquals("clean", i.report().verdict(), i.report().violations().toString());
        ShootdownSummary batch = i.report().shootdowns().get(0);
        assertEquals(List.of("cpu1"), batch.cpuFlushes().stream().map(ShootdownSummary.CpuFlush::cpu).toList());
    }

    @Test
    void anUnmarkedFlushEndsAfterWhatItsTaskDidLastEvenWhenTheTaskMoved() throws IOException {
        // Task 118 flushes locally on cpu1 and migrates to cpu0; the capture ends with cpu1 idle. The flush's end is
        // task 118's, after its local flush_tlb_func on cpu1, whichever task the importer read last.
        // (Seen in a 6.1 capture, a forked child's copy-on-write flush.)
        Imported i = importAndAudit(synthetic("migrated.trace",
                "       tlbkswapd-118     [001] .....     6.570565: fmr: (flush_tlb_mm_range+0x0/0x170) mm=0xffff888b41a57600"
                        + " start=0x4d1000 end=0x4d3000 stride_shift=0xc freed_tables=0x0",
                "       tlbkswapd-118     [001] d..1.     6.570582: ftf: (flush_tlb_func+0x0/0x1f0)",
                "       tlbkswapd-118     [001] d..1.     6.570588: tlb_flush: pages:2 reason:local mm shootdown (3)",
                "       tlbkswapd-117     [000] d..2.     6.572315: tlb_flush: pages:-1 reason:flush on task switch (0)",
                "       tlbkswapd-118     [000] d..2.     6.572444: tlb_flush: pages:-1 reason:flush on task switch (0)",
                "          <idle>-0       [001] d..2.     6.578949: tlb_flush: pages:-1 reason:flush on task switch (0)"), null);

        assertEquals("clean", i.report().verdict(), i.report().violations().toString());
        Envelope flushed = i.log().stream().filter(e -> e.event() instanceof IpiEvent.TlbFlushed).findFirst().orElseThrow();
        Envelope end = i.log().stream().filter(e -> e.event() instanceof PageTableEvent.TlbFlushFinished).findFirst().orElseThrow();
        assertTrue(flushed.happenedBefore(end), flushed.id() + " before " + end.id());
    }

    @Test
    void anIdleCpuRunsTheCallFromItsIdleLoopWithNoInterrupt() throws IOException {
        // An idle CPU polling for work gets no IPI: flush_smp_call_function_queue runs the queued flush_tlb_func
        // from the idle loop (kernel/smp.c), in the idle task, outside any interrupt (flags dN.1.).
        Imported i = importAndAudit(Text.of(K612).map(l -> l.contains("4.277927: ftf:") || l.contains("4.277956: tlb_flush:")
                ? l.replace("d.h1.", "dN.1.") : l), null);

        ShootdownSummary lazy = i.shootdown("munmap", "0x500000000000");
        assertEquals(List.of("partial", "lazy"), lazy.cpuFlushes().stream().map(ShootdownSummary.CpuFlush::kind).toList());
        assertEquals(List.of(), i.imported().warnings());
    }

    /** The 6.12 capture with cpu1's munmap handler (its two lines) moved after cpu0's hook line, at {@code ftf} and {@code tlb}. */
    private static Text handlerAfterTheWait(String ftf, String tlb) throws IOException {
        List<String> lines = new ArrayList<>(Text.of(K612).text());
        int handler = indexOf(lines, ".*tlbprobe-149 +\\[001\\] d\\.h\\.\\. +3\\.790488: ftf:.*");
        List<String> moved = new ArrayList<>(List.of(lines.get(handler).replace("3.790488", ftf),
                lines.get(handler + 1).replace("3.790647", tlb)));
        lines.subList(handler, handler + 2).clear();
        lines.addAll(indexOf(lines, MNIS_612) + 1, moved);
        return new Text(K612, lines);
    }

    @Test
    void aLineThatIsNotFtraceIsNamedByFileAndLine() throws IOException {
        List<String> lines = new ArrayList<>(Text.of(K612).text());
        lines.set(99, "garbage");
        var e = assertThrows(IllegalArgumentException.class, () -> importAndAudit(new Text(K612, lines), null));

        assertEquals(K612 + ":100: expected an ftrace event line, TASK-PID [CPU] FLAGS SECONDS: EVENT: ..., found `garbage`",
                e.getMessage());
        var arch = assertThrows(IllegalArgumentException.class, () -> importAndAudit(Text.of(ARM612), null));
        assertTrue(arch.getMessage().startsWith(ARM612 + ": no x86 flush function"), arch.getMessage());
    }

    @Test
    void lostEventsAreAWarningTheLogKeeps() throws IOException {
        List<String> lines = new ArrayList<>(Text.of(K612).text());
        lines.add(300, "CPU:1 [LOST 42 EVENTS]");
        Imported i = importAndAudit(new Text(K612, lines), null);

        assertEquals(List.of(K612 + ":301: CPU:1 [LOST 42 EVENTS]: the capture is missing events there"), i.imported().warnings());
    }

    private static int indexOf(List<String> lines, String regex) {
        for (int k = 0; k < lines.size(); k++) {
            if (lines.get(k).matches(regex)) {
                return k;
            }
        }
        throw new AssertionError("no line matches " + regex);
    }
}
