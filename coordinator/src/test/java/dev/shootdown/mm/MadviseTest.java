package dev.shootdown.mm;

import dev.shootdown.core.Decision;
import dev.shootdown.event.Access;
import dev.shootdown.event.Event;
import dev.shootdown.event.Kernel;
import dev.shootdown.event.NodeIds;
import dev.shootdown.event.PageTableEvent;
import dev.shootdown.event.SecondaryTlbEvent;
import dev.shootdown.event.SyscallEvent;
import dev.shootdown.kernel.file.KernelFiles;
import dev.shootdown.scenario.Arch;
import dev.shootdown.scenario.Scenario;
import dev.shootdown.scenario.TaskOp;
import dev.shootdown.testing.TestRuns;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Pure tests of madvise(MADV_PAGEOUT) ({@link Madvise}: mm/madvise.c madvise_pageout and
 * madvise_cold_or_pageout_pte_range, then reclaim_pages -&gt; shrink_folio_list): what 6.1 and
 * 6.12 do differently (clearing the young PTEs into the mmu_gather, and flushing them after the
 * frees), batched and not, VMA by VMA, and a coordinator recovered from the log mid-pageout.
 * Every IPI and secondary-TLB invalidation is answered as it is sent.
 */
class MadviseTest {

    private static final String COORD = NodeIds.COORDINATOR;
    private static final long MM = 1;
    private static final int PASID = 1;
    private static final long BUF = 0x7f0000000000L;
    private static final long PAGE = Kernel.PAGE_SIZE;
    private static final long ALL = Kernel.TLB_FLUSH_ALL;

    private Coordinator coordinator;
    private final RecordedSteps log = new RecordedSteps();
    private long now;

    @BeforeEach
    void setUp() {
        coordinator = new Coordinator(KernelFiles.catalog());
        log.clear();
        now = 0;
    }

    /**
     * An x86 machine of 2 CPUs: mm 1 has {@code vmas} (start, pages: populated, writable) and an
     * SVA-bound device; task 100 runs on cpu0 and, if {@code secondThread}, task 101 on cpu1 (so
     * the mm is in cpu1's mm_cpumask and reclaim defers its flushes).
     */
    private static Scenario machine(String kernel, boolean secondThread, long[]... vmas) {
        List<Scenario.VmaSpec> specs = new ArrayList<>();
        for (long[] v : vmas) {
            specs.add(new Scenario.VmaSpec(v[0], (int) v[1], true, true));
        }
        specs.add(new Scenario.VmaSpec(0x7f1000000000L, 1, true, true)); // the device's DMA page
        List<Scenario.TaskSpec> tasks = new ArrayList<>();
        tasks.add(new Scenario.TaskSpec(100, MM, 0, List.of(new TaskOp.Compute(1_000_000))));
        if (secondThread) {
            tasks.add(new Scenario.TaskSpec(101, MM, 1, List.of(new TaskOp.Compute(1_000_000))));
        }
        return new Scenario("madvise-test", Arch.X86, kernel, 2, 1, List.of(new Scenario.MmSpec(MM, specs)), tasks,
                List.of(new Scenario.DeviceSpec("dev0", 0, PASID, MM, true,
                        new Scenario.DmaProgram(0x7f1000000000L, 1, Access.READ, 1_000))),
                new Scenario.Timing(500, 800), new Scenario.EndCondition(0), null, null);
    }

    private Decision on(Event input) {
        now += 100;
        return log.on(coordinator, input, now);
    }

    /** Feeds {@code first}, then answers every IPI and invalidation the coordinator sends, until it sends none. */
    private void runAnswering(Event first) {
        now = log.runAnswering(coordinator, first, now, 100);
    }

    private static SyscallEvent.Madvise pageout(long start, int pages) {
        return new SyscallEvent.Madvise(COORD, "cpu0", 100, MM, start, start + pages * PAGE, "MADV_PAGEOUT");
    }

    /** What the pageout did, in order, one line per step that tells kernels apart. */
    private List<String> steps() {
        List<String> out = new ArrayList<>();
        for (RecordedSteps.Step s : log.steps()) {
            if (s.input() instanceof SyscallEvent.Madvise) {
                out.clear(); // the boot's events are not the pageout's
            }
            for (Event e : s.decision().events()) {
                String line = line(e);
                if (line != null) {
                    out.add(line);
                }
            }
        }
        return out;
    }

    private static String line(Event e) {
        if (e instanceof PageTableEvent.TlbFlushStarted t) {
            return "started " + t.caller() + " " + range(t.start(), t.end());
        } else if (e instanceof PageTableEvent.PteYoungCleared y) {
            return "young cleared " + off(y.va());
        } else if (e instanceof PageTableEvent.ReclaimPagesCalled r) {
            return "reclaim_pages " + range(r.start(), r.end()) + " " + r.vas().stream().map(MadviseTest::off).toList();
        } else if (e instanceof PageTableEvent.PteCleared p) {
            return "cleared " + off(p.va());
        } else if (e instanceof PageTableEvent.TlbFlushCalled c) {
            return c.function() + " from " + c.caller() + (c.end() == ALL && c.start() == 0 ? "" : " " + range(c.start(), c.end()));
        } else if (e instanceof SecondaryTlbEvent.SecondaryTlbHookCalled h) {
            return "hook " + h.hook() + " from " + h.caller() + " " + range(h.start(), h.end());
        } else if (e instanceof PageTableEvent.FrameFreed) {
            return "free";
        } else if (e instanceof SyscallEvent.MadviseReturned r) {
            return "returned " + r.rc();
        } else if (e instanceof PageTableEvent.TlbFlushFinished f) {
            return "finished " + f.framesFreed();
        }
        return null;
    }

    private static String off(long va) {
        return "+" + (va - BUF) / PAGE;
    }

    private static String range(long start, long end) {
        return start == 0 && end == ALL ? "all" : "[" + off(start) + ", " + off(end) + ")";
    }

    @Test
    void linux61ClearsTheYoungPtesAndFlushesThemOnceTheFoliosAreFreed() {
        on(TestRuns.runStarted("r", 1, machine("linux-6.1", true, new long[] {BUF, 2})));

        runAnswering(pageout(BUF, 2));

        assertEquals(List.of(
                "started madvise_pageout [+0, +2)",
                "young cleared +0", "young cleared +1", "reclaim_pages [+0, +2) [+0, +1]",
                "cleared +0",
                "hook invalidate_range from try_to_unmap_one [+0, +1)",
                "hook invalidate_range from mmu_notifier_invalidate_range_end [+0, +1)",
                "arch_tlbbatch_flush from try_to_unmap_flush_dirty",
                "cleared +1",
                "hook invalidate_range from try_to_unmap_one [+1, +2)",
                "hook invalidate_range from mmu_notifier_invalidate_range_end [+1, +2)",
                "arch_tlbbatch_flush from try_to_unmap_flush_dirty",
                "free", "free",
                "flush_tlb_mm_range from tlb_flush_mmu_tlbonly [+0, +2)",
                "hook invalidate_range from tlb_flush_mmu_tlbonly [+0, +2)",
                "returned 0", "finished 2"), steps());
        assertEquals(1, coordinator.presentPtes(MM), "only the device's page is still mapped");
    }

    @Test
    void linux612LeavesThePtesYoungAndHasNothingToFlushAfterTheFrees() {
        on(TestRuns.runStarted("r", 1, machine("linux-6.12", true, new long[] {BUF, 2})));

        runAnswering(pageout(BUF, 2));

        assertEquals(List.of(
                "started madvise_pageout [+0, +2)",
                "reclaim_pages [+0, +2) [+0, +1]",
                "cleared +0",
                "hook arch_invalidate_secondary_tlbs from arch_tlbbatch_add_pending all",
                "arch_tlbbatch_flush from try_to_unmap_flush_dirty",
                "cleared +1",
                "hook arch_invalidate_secondary_tlbs from arch_tlbbatch_add_pending all",
                "arch_tlbbatch_flush from try_to_unmap_flush_dirty",
                "free", "free",
                "returned 0", "finished 2"), steps());
    }

    @Test
    void aProcessOnNoOtherCpuIsNotDeferredEachPageIsFlushedAtOnce() {
        on(TestRuns.runStarted("r", 1, machine("linux-6.12", false, new long[] {BUF, 2})));

        runAnswering(pageout(BUF, 2));

        assertEquals(List.of(
                "started madvise_pageout [+0, +2)",
                "reclaim_pages [+0, +2) [+0, +1]",
                "cleared +0",
                "flush_tlb_mm_range from ptep_clear_flush [+0, +1)",
                "hook arch_invalidate_secondary_tlbs from flush_tlb_mm_range [+0, +1)",
                "cleared +1",
                "flush_tlb_mm_range from ptep_clear_flush [+1, +2)",
                "hook arch_invalidate_secondary_tlbs from flush_tlb_mm_range [+1, +2)",
                "free", "free",
                "returned 0", "finished 2"), steps());
    }

    @Test
    void eachVmaHasItsOwnMmuGatherAndAHoleInTheRangeIsEnomem() {
        // [+0, +1) and [+3, +5) are mapped, [+1, +3) is not; the second VMA crosses into the next
        // page table's span only if it were larger: one walk per VMA here.
        on(TestRuns.runStarted("r", 1, machine("linux-6.1", true, new long[] {BUF, 1}, new long[] {BUF + 3 * PAGE, 2})));

        runAnswering(pageout(BUF, 5));

        List<String> steps = steps();
        assertEquals(List.of(
                "started madvise_pageout [+0, +5)",
                "young cleared +0", "reclaim_pages [+0, +1) [+0]",
                "free",
                "flush_tlb_mm_range from tlb_flush_mmu_tlbonly [+0, +1)",
                "hook invalidate_range from tlb_flush_mmu_tlbonly [+0, +1)",
                // the first VMA's reclaim left mm->tlb_flush_batched set (try_to_unmap_flush does
                // not clear it): the next walk's flush_tlb_batched_pending flushes the whole mm
                "flush_tlb_mm_range from flush_tlb_batched_pending",
                "young cleared +3", "young cleared +4", "reclaim_pages [+3, +5) [+3, +4]"),
                steps.stream().filter(l -> !l.startsWith("cleared") && !l.contains("try_to_unmap") && !l.contains("range_end"))
                        .toList().subList(0, 10));
        assertEquals(List.of("free", "free",
                "flush_tlb_mm_range from tlb_flush_mmu_tlbonly [+3, +5)",
                "hook invalidate_range from tlb_flush_mmu_tlbonly [+3, +5)",
                "returned -12", "finished 3"), steps.subList(steps.size() - 6, steps.size()));
    }

    @Test
    void aRangeAcrossTwoPageTablesIsWalkedAndReclaimedOnePageTableAtATime() {
        long base = 0x7f00001fe000L; // two pages below a 2 MiB boundary, two above
        on(TestRuns.runStarted("r", 1, machine("linux-6.12", true, new long[] {base, 4})));

        runAnswering(new SyscallEvent.Madvise(COORD, "cpu0", 100, MM, base, base + 4 * PAGE, "MADV_PAGEOUT"));

        List<String> walks = new ArrayList<>();
        for (String l : steps()) {
            if (l.startsWith("reclaim_pages") || l.equals("free")) {
                walks.add(l.startsWith("free") ? l : l.substring(0, "reclaim_pages".length()));
            }
        }
        assertEquals(List.of("reclaim_pages", "free", "free", "reclaim_pages", "free", "free"), walks);
    }

    @Test
    void aCoordinatorRecoveredFromTheLogMidPageoutDecidesTheSameForEveryNextInput() {
        on(TestRuns.runStarted("r", 1, machine("linux-6.1", true, new long[] {BUF, 3})));
        int compared = log.comparedWithTwinAfterBatchFlushes(coordinator, pageout(BUF, 3), 2, now, 100);

        assertTrue(compared > 5, "the rest of the pageout was compared: " + compared + " inputs");
        assertTrue(steps().contains("returned 0"), steps().toString());
    }
}
