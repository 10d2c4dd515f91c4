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
 * Pure tests of a write to memory.reclaim ({@link Memcontrol}: mm/memcontrol.c memory_reclaim,
 * then try_to_free_mem_cgroup_pages -&gt; shrink_folio_list in the writer's context): the folios
 * it takes (the LRU's oldest, never an mlocked one), the flush per dirty folio on 6.1 and 6.12,
 * what it returns, and a coordinator recovered from the log mid-reclaim. Every IPI and
 * secondary-TLB invalidation is answered as it is sent.
 */
class MemcontrolTest {

    private static final String COORD = NodeIds.COORDINATOR;
    private static final long MM = 1;
    private static final long BUF = 0x7f0000000000L;
    private static final long LOCKED = 0x7f0000010000L;
    private static final long PAGE = Kernel.PAGE_SIZE;

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
     * An x86 machine of 2 CPUs: mm 1 has a populated, writable buffer of {@code pages} pages and
     * an mlocked page the SVA-bound device reads; task 100 on cpu0, task 101 on cpu1 (so the mm is
     * in cpu1's mm_cpumask and reclaim defers its flushes).
     */
    private static Scenario machine(String kernel, int pages) {
        List<Scenario.VmaSpec> vmas = List.of(new Scenario.VmaSpec(BUF, pages, true, true),
                new Scenario.VmaSpec(LOCKED, 1, true, true, false, true));
        List<Scenario.TaskSpec> tasks = List.of(new Scenario.TaskSpec(100, MM, 0, List.of(new TaskOp.Compute(1_000_000))),
                new Scenario.TaskSpec(101, MM, 1, List.of(new TaskOp.Compute(1_000_000))));
        return new Scenario("memcontrol-test", Arch.X86, kernel, 2, 1, List.of(new Scenario.MmSpec(MM, vmas)), tasks,
                List.of(new Scenario.DeviceSpec("dev0", 0, 1, MM, true, new Scenario.DmaProgram(LOCKED, 1, Access.READ, 1_000))),
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

    private static SyscallEvent.MemoryReclaim write(int pages) {
        return new SyscallEvent.MemoryReclaim(COORD, "cpu0", 100, MM, pages);
    }

    /** What the write did, in order, one line per step that tells kernels apart. */
    private List<String> steps() {
        List<String> out = new ArrayList<>();
        for (RecordedSteps.Step s : log.steps()) {
            if (s.input() instanceof SyscallEvent.MemoryReclaim) {
                out.clear(); // the boot's events are not the reclaim's
            }
            for (Event e : s.decision().events()) {
                if (e instanceof PageTableEvent.TlbFlushStarted t) {
                    out.add("started " + t.caller() + " by task" + t.pid() + " (current->mm " + t.currentMm() + ")");
                } else if (e instanceof PageTableEvent.PteCleared p) {
                    out.add("cleared +" + (p.va() - BUF) / PAGE);
                } else if (e instanceof PageTableEvent.TlbFlushCalled c) {
                    out.add(c.function() + " from " + c.caller());
                } else if (e instanceof SecondaryTlbEvent.SecondaryTlbHookCalled h) {
                    out.add("hook " + h.hook() + " from " + h.caller()
                            + (h.start() == 0 && h.end() == Kernel.TLB_FLUSH_ALL ? " all" : " +" + (h.start() - BUF) / PAGE));
                } else if (e instanceof PageTableEvent.FrameFreed) {
                    out.add("free");
                } else if (e instanceof SyscallEvent.MemoryReclaimReturned r) {
                    out.add("returned " + r.rc() + " (" + r.reclaimed() + " of " + r.pages() + ")");
                } else if (e instanceof PageTableEvent.TlbFlushFinished f) {
                    out.add("finished " + f.framesFreed());
                }
            }
        }
        return out;
    }

    @Test
    void linux61InvalidatesEachFolioTwiceAndFlushesItBeforeItsPageout() {
        on(TestRuns.runStarted("r", 1, machine("linux-6.1", 2)));

        runAnswering(write(2));

        assertEquals(List.of(
                "started memory_reclaim by task100 (current->mm 1)",
                "cleared +0",
                "hook invalidate_range from try_to_unmap_one +0",
                "hook invalidate_range from mmu_notifier_invalidate_range_end +0",
                "arch_tlbbatch_flush from try_to_unmap_flush_dirty",
                "cleared +1",
                "hook invalidate_range from try_to_unmap_one +1",
                "hook invalidate_range from mmu_notifier_invalidate_range_end +1",
                "arch_tlbbatch_flush from try_to_unmap_flush_dirty",
                "free", "free",
                "returned 0 (2 of 2)", "finished 2"), steps());
    }

    @Test
    void linux612InvalidatesTheWholeMmPerFolioFromArchTlbbatchAddPending() {
        on(TestRuns.runStarted("r", 1, machine("linux-6.12", 2)));

        runAnswering(write(2));

        assertEquals(List.of(
                "started memory_reclaim by task100 (current->mm 1)",
                "cleared +0",
                "hook arch_invalidate_secondary_tlbs from arch_tlbbatch_add_pending all",
                "arch_tlbbatch_flush from try_to_unmap_flush_dirty",
                "cleared +1",
                "hook arch_invalidate_secondary_tlbs from arch_tlbbatch_add_pending all",
                "arch_tlbbatch_flush from try_to_unmap_flush_dirty",
                "free", "free",
                "returned 0 (2 of 2)", "finished 2"), steps());
    }

    @Test
    void askingForMoreThanTheLruHoldsReclaimsItAllButNeverTheMlockedPageAndIsEagain() {
        on(TestRuns.runStarted("r", 1, machine("linux-6.12", 3)));

        runAnswering(write(5));

        List<String> steps = steps();
        assertEquals(List.of("cleared +0", "cleared +1", "cleared +2"),
                steps.stream().filter(l -> l.startsWith("cleared")).toList(), "the buffer, oldest first; not the mlocked page");
        assertEquals(List.of("returned -11 (3 of 5)", "finished 3"), steps.subList(steps.size() - 2, steps.size()));
        assertEquals(1, coordinator.presentPtes(MM), "the mlocked page is still mapped");
    }

    @Test
    void aCoordinatorRecoveredFromTheLogMidReclaimDecidesTheSameForEveryNextInput() {
        on(TestRuns.runStarted("r", 1, machine("linux-6.1", 3)));
        int compared = log.comparedWithTwinAfterBatchFlushes(coordinator, write(3), 2, now, 100);

        assertTrue(compared > 3, "the rest of the reclaim was compared: " + compared + " inputs");
        assertTrue(steps().contains("returned 0 (3 of 3)"), steps().toString());
    }
}
