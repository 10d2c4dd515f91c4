package dev.shootdown.mm;

import dev.shootdown.event.Access;
import dev.shootdown.event.ControlEvent;
import dev.shootdown.event.Event;
import dev.shootdown.event.FaultEvent;
import dev.shootdown.event.IpiEvent;
import dev.shootdown.event.Kernel;
import dev.shootdown.event.NodeIds;
import dev.shootdown.event.PageTableEvent;
import dev.shootdown.event.SecondaryTlbEvent;
import dev.shootdown.event.SyscallEvent;
import dev.shootdown.kernel.KernelVariant;
import dev.shootdown.kernel.file.KernelFiles;
import dev.shootdown.scenario.Arch;
import dev.shootdown.scenario.Scenario;
import dev.shootdown.scenario.TaskOp;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;
import org.junit.jupiter.api.Test;
import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * Each architecture's flush order under each kernel variant, the events in the kernel's order:
 * where the secondary-TLB hook is called (which call site, mm and range) relative to the CPU
 * flush it belongs to, and to the free. A small harness answers every request at once, in the
 * order it was made (flush_tlb_func acks, TLBI completions, the IOMMU's completion), and writes
 * down one step per event: {@code call flush_tlb_mm_range(a..b)}, {@code ipi cpu1},
 * {@code ack cpu1}, {@code hook tlb_flush_mmu_tlbonly(mm 1, a..b)}, {@code done iommu0},
 * {@code free}. Given/when/then; the sources are the kernel files the variants cite.
 */
class FlushOrderTest {

    private static final String COORD = NodeIds.COORDINATOR;
    private static final long MM = 1;
    private static final long BUF = 0x7f0000000000L;
    /** A neighbour VMA in the same PMD: the buffer's page tables stay (free_pgtables frees none). */
    private static final long NEIGHBOUR = BUF + 0x100000;
    private static final long PAGE = Kernel.PAGE_SIZE;
    private static final long ALL = Kernel.TLB_FLUSH_ALL;

    /** The coordinator, driven by answering each request it makes, in order. */
    private static final class Harness {
        final Coordinator coordinator = new Coordinator(KernelFiles.catalog());
        final List<String> steps = new ArrayList<>();
        private final Deque<Event> pending = new ArrayDeque<>();
        long now;

        Harness(Scenario s, KernelVariant kernel) {
            feed(new ControlEvent.RunStarted("r", 1, s, kernel));
            steps.clear();
        }

        /** Gives the coordinator {@code input}, then every answer to what it asks, until it asks nothing more. */
        Harness feed(Event input) {
            pending.add(input);
            while (!pending.isEmpty()) {
                Event in = pending.poll();
                now += 100;
                if (in instanceof IpiEvent.TlbFlushed f) {
                    steps.add("ack " + f.cpu());
                } else if (in instanceof IpiEvent.TlbiCompleted t) {
                    steps.add("ack " + t.cpu());
                } else if (in instanceof SecondaryTlbEvent.SecondaryTlbsInvalidated s) {
                    steps.add("done " + s.iommu());
                }
                for (Event e : coordinator.onEvent(in, now).events()) {
                    record(e);
                    answer(e);
                }
            }
            return this;
        }

        private void answer(Event e) {
            if (e instanceof IpiEvent.FlushTlb f) {
                pending.add(new IpiEvent.TlbFlushed(COORD, f.target(), f.mm() == 0 ? MM : f.mm(), f.start(), f.end(),
                        IpiEvent.FlushKind.PARTIAL, 1, 0, f.shootdownId()));
            } else if (e instanceof IpiEvent.Tlbi t) {
                pending.add(new IpiEvent.TlbiCompleted(COORD, t.target(), t.mm(), t.start(), t.end(), 0, t.shootdownId()));
            } else if (e instanceof SecondaryTlbEvent.InvalidateSecondaryTlbs r) {
                pending.add(new SecondaryTlbEvent.SecondaryTlbsInvalidated(COORD, r.target(), r.mm(), r.pasid(), r.start(), r.end(),
                        r.shootdownId()));
            }
        }

        private void record(Event e) {
            String step = null;
            if (e instanceof PageTableEvent.TlbFlushCalled c) {
                step = "call " + c.function() + "(" + range(c.start(), c.end()) + (c.freedTables() ? ", freed_tables" : "") + ")";
            } else if (e instanceof IpiEvent.FlushTlb f) {
                step = (f.viaIpi() ? "ipi " : "local ") + f.target();
            } else if (e instanceof IpiEvent.Tlbi t) {
                step = "tlbi " + t.op() + " " + t.target() + " " + range(t.start(), t.end());
            } else if (e instanceof SecondaryTlbEvent.SecondaryTlbHookCalled h) {
                step = "hook " + h.caller() + "(" + (h.mm() == 0 ? "NULL" : "mm " + h.mm()) + ", " + range(h.start(), h.end()) + ")";
            } else if (e instanceof FaultEvent.KernelOops o) {
                step = "oops in " + o.comm();
            } else if (e instanceof PageTableEvent.TlbBatchAddPending a) {
                step = "add_pending " + range(a.va(), a.va() + PAGE);
            } else if (e instanceof PageTableEvent.TlbBatchedPendingFlushed) {
                step = "flush_tlb_batched_pending";
            } else if (e instanceof PageTableEvent.PageTableFreed f) {
                step = "free " + f.level() + " table";
            } else if (e instanceof PageTableEvent.PteCleared p) {
                step = "clear " + range(p.va(), p.va() + PAGE);
            } else if (e instanceof PageTableEvent.FrameFreed) {
                step = "free frame";
            } else if (e instanceof SyscallEvent.MunmapReturned || e instanceof SyscallEvent.MprotectReturned) {
                step = "returned";
            }
            if (step != null) {
                steps.add(step);
            }
        }
    }

    /** {@code a..b}, relative to the buffer: {@code +0..+4p}; the whole address space {@code 0..-1}. */
    private static String range(long start, long end) {
        return offset(start) + ".." + offset(end);
    }

    private static String offset(long va) {
        if (va == ALL) {
            return "-1";
        }
        if (va == 0) {
            return "0";
        }
        long d = va - BUF;
        return d % PAGE == 0 ? "+" + d / PAGE + "p" : "+" + Long.toHexString(d);
    }

    private static KernelVariant kernel(String name) {
        return KernelFiles.builtIn(name).orElseThrow();
    }

    /** Steps folded: consecutive equal steps as one with {@code xN}. */
    private static List<String> folded(List<String> steps) {
        List<String> out = new ArrayList<>();
        for (int i = 0; i < steps.size();) {
            int j = i;
            while (j < steps.size() && steps.get(j).equals(steps.get(i))) {
                j++;
            }
            out.add(steps.get(i) + (j - i > 1 ? " x" + (j - i) : ""));
            i = j;
        }
        return out;
    }

    private static Scenario.DeviceSpec device(long start, int pages) {
        return new Scenario.DeviceSpec("dev0", 0, 1, MM, true, new Scenario.DmaProgram(start, pages, Access.WRITE, 1_000));
    }

    /**
     * Two CPUs run mm 1 (tasks 100, 101); a 4-page populated buffer bound to one device, and a
     * neighbour VMA in the same page table unless {@code alone}.
     */
    private static Scenario munmapScenario(String arch, String policy, boolean alone, int pages) {
        List<Scenario.VmaSpec> vmas = new ArrayList<>(List.of(new Scenario.VmaSpec(BUF, pages, true, true)));
        if (!alone) {
            vmas.add(new Scenario.VmaSpec(NEIGHBOUR, 1, true, true));
        }
        return new Scenario("flush-order", Arch.of(arch), policy, 2, 1, List.of(new Scenario.MmSpec(MM, vmas)),
                List.of(new Scenario.TaskSpec(100, MM, 0, List.of(new TaskOp.Munmap(BUF, pages))),
                        new Scenario.TaskSpec(101, MM, 1, List.of(new TaskOp.Touch(BUF, 1, Access.READ, 0)))),
                List.of(device(BUF, pages)), new Scenario.Timing(500, 800), new Scenario.EndCondition(0));
    }

    private static List<String> munmap(String arch, String policy, boolean alone, int pages) {
        Harness h = new Harness(munmapScenario(arch, policy, alone, pages), kernel(policy));
        h.feed(new SyscallEvent.Munmap(COORD, "cpu0", 100, MM, BUF, BUF + pages * PAGE));
        return folded(h.steps);
    }

    // ---------------------------------------------------------------- munmap, x86

    @Test
    void givenX86Linux66_whenMunmap_thenFlushTlbMmRangeIpisThenItsHookThenTheFree() {
        assertEquals(List.of(
                "clear +0p..+1p", "clear +1p..+2p", "clear +2p..+3p", "clear +3p..+4p",
                "call flush_tlb_mm_range(+0p..+4p)", "local cpu0", "ipi cpu1", "ack cpu0", "ack cpu1",
                "hook flush_tlb_mm_range(mm 1, +0p..+4p)", "done iommu0",
                "free frame x4", "returned"), munmap("x86", "linux-6.6", false, 4));
    }

    @Test
    void givenX86SeriesV2_whenMunmap_thenTheSameAs66() {
        assertEquals(munmap("x86", "linux-6.6", false, 4), munmap("x86", "series-v2", false, 4));
    }

    /** include/asm-generic/tlb.h and mm/mmu_notifier.c, v6.5; x86 merges VMAs, one flush in tlb_finish_mmu. */
    @Test
    void givenX86Linux65_whenMunmap_thenRangeEndBeforeTheFlushAndTlbonlyAfterItBothBeforeTheFree() {
        assertEquals(List.of(
                "clear +0p..+1p", "clear +1p..+2p", "clear +2p..+3p", "clear +3p..+4p",
                "hook mmu_notifier_invalidate_range_end(mm 1, +0p..+4p)", "done iommu0",
                "call flush_tlb_mm_range(+0p..+4p)", "local cpu0", "ipi cpu1", "ack cpu0", "ack cpu1",
                "hook tlb_flush_mmu_tlbonly(mm 1, +0p..+4p)", "done iommu0",
                "free frame x4", "returned"), munmap("x86", "linux-6.5", false, 4));
    }

    /**
     * A VMA alone in its page tables: free_pgtables frees the PTE, PMD and PUD tables, and the
     * flush has freed_tables (on x86 that also means lazy CPUs get the IPI, see below).
     */
    @Test
    void givenX86Linux66AVmaAloneInItsTables_whenMunmap_thenTheTablesAreFreedBeforeTheOneFlushWithFreedTables() {
        assertEquals(List.of(
                "clear +0p..+1p", "clear +1p..+2p",
                "free pte table", "free pmd table", "free pud table",
                "call flush_tlb_mm_range(+0p..+2p, freed_tables)", "local cpu0", "ipi cpu1", "ack cpu0", "ack cpu1",
                "hook flush_tlb_mm_range(mm 1, +0p..+2p)", "done iommu0",
                "free frame x2", "returned"), munmap("x86", "linux-6.6", true, 2));
    }

    /** arch/x86/mm/tlb.c flush_tlb_mm_range: ((end - start) >> 12) > 33 widens to (0, TLB_FLUSH_ALL), the hook's range too. */
    @Test
    void givenX86Linux66_when34PagesAreUnmapped_thenTheHookGetsTheWidenedRangeAnd33DoNot() {
        List<String> wide = munmap("x86", "linux-6.6", false, 34);
        assertEquals("hook flush_tlb_mm_range(mm 1, 0..-1)", wide.get(wide.indexOf("ack cpu1") + 1));
        List<String> narrow = munmap("x86", "linux-6.6", false, 33);
        assertEquals("hook flush_tlb_mm_range(mm 1, +0p..+33p)", narrow.get(narrow.indexOf("ack cpu1") + 1));
    }

    // ---------------------------------------------------------------- munmap, arm64

    /**
     * arch/arm64/include/asm/tlbflush.h __flush_tlb_range, v6.6: TLBIs, dsb(ish), then the hook
     * with start advanced to end by __flush_tlb_range_op; arm64 flushes at tlb_end_vma.
     */
    @Test
    void givenArm64Linux66_whenMunmap_thenTlbisThenTheDsbThenTheHookWithStartEqualToEnd() {
        assertEquals(List.of(
                "clear +0p..+1p", "clear +1p..+2p", "clear +2p..+3p", "clear +3p..+4p",
                "call __flush_tlb_range(+0p..+4p)", "tlbi VALE1IS cpu0 +0p..+4p", "tlbi VALE1IS cpu1 +0p..+4p",
                "ack cpu0", "ack cpu1",
                "hook __flush_tlb_range(mm 1, +4p..+4p)", "done iommu0",
                "free frame x4", "returned"), munmap("arm64", "linux-6.6", false, 4));
    }

    /** v6.5: tlb_end_vma's flush and tlb_flush_mmu_tlbonly's invalidate_range after it, then range_end's, then the free. */
    @Test
    void givenArm64Linux65_whenMunmap_thenTlbonlyAfterTheDsbThenRangeEndThenTheFree() {
        assertEquals(List.of(
                "clear +0p..+1p", "clear +1p..+2p", "clear +2p..+3p", "clear +3p..+4p",
                "call __flush_tlb_range(+0p..+4p)", "tlbi VALE1IS cpu0 +0p..+4p", "tlbi VALE1IS cpu1 +0p..+4p",
                "ack cpu0", "ack cpu1",
                "hook tlb_flush_mmu_tlbonly(mm 1, +0p..+4p)", "done iommu0",
                "hook mmu_notifier_invalidate_range_end(mm 1, +0p..+4p)", "done iommu0",
                "free frame x4", "returned"), munmap("arm64", "linux-6.5", false, 4));
    }

    /**
     * __flush_tlb_range falls back to flush_tlb_mm when (end - start) >= MAX_TLBI_OPS * stride:
     * 512 pages is flush_tlb_mm (TLBI ASIDE1IS, its hook (0, -1) after the dsb), 511 is not.
     */
    @Test
    void givenArm64Linux66_when512PagesAreUnmapped_thenFlushTlbMmAnd511AreFlushedPageByPage() {
        List<String> all = munmap("arm64", "linux-6.6", false, 512);
        assertEquals("tlbi ASIDE1IS cpu0 0..-1", all.get(all.indexOf("call __flush_tlb_range(+0p..+512p)") + 1));
        assertEquals("hook flush_tlb_mm(mm 1, 0..-1)", all.get(all.indexOf("ack cpu1") + 1));
        List<String> some = munmap("arm64", "linux-6.6", false, 511);
        assertEquals("tlbi VALE1IS cpu0 +0p..+511p", some.get(some.indexOf("call __flush_tlb_range(+0p..+511p)") + 1));
        assertEquals("hook __flush_tlb_range(mm 1, +511p..+511p)", some.get(some.indexOf("ack cpu1") + 1));
    }

    // ---------------------------------------------------------------- lazy CPUs

    /**
     * native_flush_tlb_multi: lazy CPUs are skipped unless page tables were freed. cpu2 ran a
     * thread of mm 1 that exited: it is lazy on mm 1.
     */
    @Test
    void givenALazyCpu_whenAMunmapFreesPageTables_thenItGetsTheIpiAndOtherwiseNot() {
        for (boolean alone : List.of(true, false)) {
            Scenario s = munmapScenario("x86", "linux-6.6", alone, 2);
            s = new Scenario(s.name(), s.arch(), s.policy(), 3, s.iommus(), s.mms(),
                    List.of(s.tasks().get(0), s.tasks().get(1), new Scenario.TaskSpec(102, MM, 2, List.of())), s.devices(),
                    s.timing(), s.end());
            Harness h = new Harness(s, kernel("linux-6.6"));
            h.feed(new SyscallEvent.TaskExited(COORD, "cpu2", 102, MM, "exit"));
            h.feed(new SyscallEvent.Munmap(COORD, "cpu0", 100, MM, BUF, BUF + 2 * PAGE));
            assertEquals(alone, h.steps.contains("ipi cpu2"), "page tables freed: " + alone + ", steps " + h.steps);
        }
    }

    // ---------------------------------------------------------------- reclaim

    /**
     * Direct reclaim: task 100 on cpu0 faults on the heap at the min watermark and reclaims the
     * buffer's two pages. {@code otherCpu}: task 101 of mm 1 runs on cpu1 (so reclaim defers on
     * x86); otherwise the mm runs on cpu0 alone.
     */
    private static List<String> reclaim(String arch, String policy, boolean otherCpu) {
        long heap = BUF + 0x40000000L;
        List<Scenario.TaskSpec> tasks = new ArrayList<>(List.of(new Scenario.TaskSpec(100, MM, 0,
                List.of(new TaskOp.Touch(heap, 1, Access.WRITE, 0)))));
        if (otherCpu) {
            tasks.add(new Scenario.TaskSpec(101, MM, 1, List.of(new TaskOp.Touch(BUF, 1, Access.READ, 0))));
        }
        Scenario s = new Scenario("reclaim-order", Arch.of(arch), policy, 2, 1,
                List.of(new Scenario.MmSpec(MM, List.of(new Scenario.VmaSpec(BUF, 2, true, true),
                        new Scenario.VmaSpec(heap, 2, true, false)))),
                tasks, List.of(device(BUF, 2)), new Scenario.Timing(500, 800), new Scenario.EndCondition(0),
                new Scenario.Memory(3, 1, 1, 1, 2), null);
        Harness h = new Harness(s, kernel(policy));
        h.feed(new FaultEvent.PageFaultRaised(COORD, "cpu0", 100, MM, heap, Access.WRITE));
        return folded(h.steps.subList(0, h.steps.indexOf("free frame")));
    }

    /**
     * x86 6.6: arch_tlbbatch_add_pending invalidates the whole mm for each page, before
     * arch_tlbbatch_flush's IPIs; the folio being dirty, try_to_unmap_flush_dirty flushes the
     * batch before its pageout, so each page gets its own IPIs (as the 6.12 capture of
     * real-kernels/captures shows: one whole-mm hook, then arch_tlbbatch_flush, per page).
     */
    @Test
    void givenX86Linux66_whenReclaimDefers_thenEachPageIsInvalidatedWholeMmBeforeItsBatchIpis() {
        assertEquals(List.of(
                "clear +0p..+1p", "add_pending +0p..+1p", "hook arch_tlbbatch_add_pending(mm 1, 0..-1)", "done iommu0",
                "call arch_tlbbatch_flush(0..-1)", "local cpu0", "ipi cpu1", "ack cpu0", "ack cpu1",
                "clear +1p..+2p", "add_pending +1p..+2p", "hook arch_tlbbatch_add_pending(mm 1, 0..-1)", "done iommu0",
                "call arch_tlbbatch_flush(0..-1)", "local cpu0", "ipi cpu1", "ack cpu0", "ack cpu1"),
                reclaim("x86", "linux-6.6", true));
    }

    /**
     * x86 v2: no hook at add time; arch_tlbbatch_flush, from try_to_unmap_flush_dirty for each
     * dirty page, calls it after the IPIs with current->mm (task 100's mm here).
     */
    @Test
    void givenX86SeriesV2_whenReclaimDefers_thenAHookAfterEachPagesBatchIpisWithCurrentMm() {
        assertEquals(List.of(
                "clear +0p..+1p", "add_pending +0p..+1p",
                "call arch_tlbbatch_flush(0..-1)", "local cpu0", "ipi cpu1", "ack cpu0", "ack cpu1",
                "hook arch_tlbbatch_flush(mm 1, 0..-1)", "done iommu0",
                "clear +1p..+2p", "add_pending +1p..+2p",
                "call arch_tlbbatch_flush(0..-1)", "local cpu0", "ipi cpu1", "ack cpu0", "ack cpu1",
                "hook arch_tlbbatch_flush(mm 1, 0..-1)", "done iommu0"), reclaim("x86", "series-v2", true));
    }

    /**
     * x86 6.5: invalidate_range for each page under the page-table lock, then range_end's; the
     * CPUs after, each page's batch flushed by try_to_unmap_flush_dirty before its pageout (the
     * 6.1 capture of real-kernels/captures: two invalidate_range, then arch_tlbbatch_flush, per page).
     */
    @Test
    void givenX86Linux65_whenReclaimDefers_thenEachPageGetsTwoInvalidateRangesBeforeItsBatchIpis() {
        assertEquals(List.of(
                "clear +0p..+1p", "add_pending +0p..+1p", "hook try_to_unmap_one(mm 1, +0p..+1p)", "done iommu0",
                "hook mmu_notifier_invalidate_range_end(mm 1, +0p..+1p)", "done iommu0",
                "call arch_tlbbatch_flush(0..-1)", "local cpu0", "ipi cpu1", "ack cpu0", "ack cpu1",
                "clear +1p..+2p", "add_pending +1p..+2p", "hook try_to_unmap_one(mm 1, +1p..+2p)", "done iommu0",
                "hook mmu_notifier_invalidate_range_end(mm 1, +1p..+2p)", "done iommu0",
                "call arch_tlbbatch_flush(0..-1)", "local cpu0", "ipi cpu1", "ack cpu0", "ack cpu1"),
                reclaim("x86", "linux-6.5", true));
    }

    /**
     * x86, the mm on the reclaiming CPU alone: arch_tlbbatch_should_defer says no, so
     * ptep_clear_flush flushes each page at once (flush_tlb_page: flush_tlb_mm_range of the page,
     * with 6.6's hook after it) and try_to_unmap_flush has nothing to do.
     */
    @Test
    void givenX86Linux66AndTheMmOnTheReclaimingCpuAlone_whenReclaim_thenEachPageIsFlushedAtOnceNoBatch() {
        assertEquals(List.of(
                "clear +0p..+1p", "call flush_tlb_mm_range(+0p..+1p)", "local cpu0", "ack cpu0",
                "hook flush_tlb_mm_range(mm 1, +0p..+1p)", "done iommu0",
                "clear +1p..+2p", "call flush_tlb_mm_range(+1p..+2p)", "local cpu0", "ack cpu0",
                "hook flush_tlb_mm_range(mm 1, +1p..+2p)", "done iommu0"), reclaim("x86", "linux-6.6", false));
    }

    /** x86 v2 without a deferred page: nothing reaches arch_tlbbatch_flush, so its current->mm hook is never called. */
    @Test
    void givenX86SeriesV2AndNothingDeferred_whenReclaim_thenArchTlbbatchFlushIsNeverCalled() {
        List<String> steps = reclaim("x86", "series-v2", false);
        assertEquals(List.of(), steps.stream().filter(s -> s.contains("arch_tlbbatch_flush")).toList(), steps.toString());
    }

    /**
     * arm64 6.6: always deferred; each page's TLBI and hook from __flush_tlb_page_nosync, and
     * its dsb(ish) from arch_tlbbatch_flush when try_to_unmap_flush_dirty flushes before the
     * page's pageout.
     */
    @Test
    void givenArm64Linux66_whenReclaim_thenEachPagesTlbiAndHookWithoutDsbThenItsArchTlbbatchFlush() {
        assertEquals(List.of(
                "clear +0p..+1p", "add_pending +0p..+1p", "tlbi VALE1IS cpu0 +0p..+1p", "tlbi VALE1IS cpu1 +0p..+1p",
                "hook __flush_tlb_page_nosync(mm 1, +0p..+1p)", "ack cpu0", "ack cpu1", "done iommu0",
                "call arch_tlbbatch_flush(0..-1)",
                "clear +1p..+2p", "add_pending +1p..+2p", "tlbi VALE1IS cpu0 +1p..+2p", "tlbi VALE1IS cpu1 +1p..+2p",
                "hook __flush_tlb_page_nosync(mm 1, +1p..+2p)", "ack cpu0", "ack cpu1", "done iommu0",
                "call arch_tlbbatch_flush(0..-1)"), reclaim("arm64", "linux-6.6", true));
    }

    /** arm64 6.5 has no batched flush: ptep_clear_flush -> flush_tlb_page for each page, then its two invalidate_ranges. */
    @Test
    void givenArm64Linux65_whenReclaim_thenFlushTlbPageForEachPageThenItsTwoInvalidateRanges() {
        assertEquals(List.of(
                "clear +0p..+1p", "call flush_tlb_page(+0p..+1p)", "tlbi VALE1IS cpu0 +0p..+1p", "tlbi VALE1IS cpu1 +0p..+1p",
                "ack cpu0", "ack cpu1", "hook try_to_unmap_one(mm 1, +0p..+1p)", "done iommu0",
                "hook mmu_notifier_invalidate_range_end(mm 1, +0p..+1p)", "done iommu0",
                "clear +1p..+2p", "call flush_tlb_page(+1p..+2p)", "tlbi VALE1IS cpu0 +1p..+2p", "tlbi VALE1IS cpu1 +1p..+2p",
                "ack cpu0", "ack cpu1", "hook try_to_unmap_one(mm 1, +1p..+2p)", "done iommu0",
                "hook mmu_notifier_invalidate_range_end(mm 1, +1p..+2p)", "done iommu0"), reclaim("arm64", "linux-6.5", true));
    }

    // ---------------------------------------------------------------- flush_tlb_batched_pending

    /**
     * mm/rmap.c flush_tlb_batched_pending: after a deferred reclaim of mm 1 its
     * tlb_flush_batched stays pending (only flush_tlb_batched_pending catches it up), so the next
     * munmap's zap first flushes the whole mm (x86 flush_tlb_mm: freed_tables, 6.6's hook
     * (0, -1)); the munmap after that does not.
     */
    @Test
    void givenADeferredReclaimOfTheMm_whenItIsUnmappedTwice_thenOnlyTheFirstZapFlushesTheWholeMmFirst() {
        long heap = BUF + 0x40000000L;
        Scenario s = new Scenario("pending", Arch.X86, "linux-6.6", 2, 1,
                List.of(new Scenario.MmSpec(MM, List.of(new Scenario.VmaSpec(BUF, 4, true, true),
                        new Scenario.VmaSpec(heap, 2, true, false)))),
                List.of(new Scenario.TaskSpec(100, MM, 0, List.of()), new Scenario.TaskSpec(101, MM, 1, List.of())),
                List.of(device(BUF, 4)), new Scenario.Timing(500, 800), new Scenario.EndCondition(0),
                new Scenario.Memory(5, 1, 1, 1, 1), null);
        Harness h = new Harness(s, kernel("linux-6.6"));
        h.feed(new FaultEvent.PageFaultRaised(COORD, "cpu0", 100, MM, heap, Access.WRITE)); // reclaims page 0, deferred
        h.steps.clear();

        h.feed(new SyscallEvent.Munmap(COORD, "cpu0", 100, MM, BUF + 2 * PAGE, BUF + 3 * PAGE));
        assertEquals(List.of("flush_tlb_batched_pending", "call flush_tlb_mm_range(0..-1, freed_tables)", "local cpu0", "ipi cpu1",
                "ack cpu0", "ack cpu1", "hook flush_tlb_mm_range(mm 1, 0..-1)", "done iommu0", "clear +2p..+3p"),
                h.steps.subList(0, 9));
        h.steps.clear();

        h.feed(new SyscallEvent.Munmap(COORD, "cpu0", 100, MM, BUF + 3 * PAGE, BUF + 4 * PAGE));
        assertEquals("clear +3p..+4p", h.steps.get(0), "the pending batch was caught up: " + h.steps);
    }
}
