package dev.shootdown.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code shootdown hold}: the model's linux-6.1 and linux-6.12 held against the captures of those
 * kernels in real-kernels/captures, workload by workload; the seed's other kernels are not them.
 */
class HoldCommandTest {

    static final Path REAL = Path.of("..", "real-kernels");
    static final String WORKLOADS = REAL.resolve("workloads.yaml").toString();

    static CliTest.Outcome hold(String capture, String... more) {
        List<String> args = new java.util.ArrayList<>(List.of("hold", REAL.resolve("captures").resolve(capture).toString(),
                "--workloads", WORKLOADS));
        args.addAll(List.of(more));
        return CliTest.shootdown(args.toArray(String[]::new));
    }

    @Test
    void linux61MatchesItsCaptureOnEveryWorkload() {
        CliTest.Outcome o = hold("linux-6.1.0-57-cloud-amd64.trace", "--kernel", "linux-6.1");

        assertEquals(Shootdown.EXIT_CLEAN, o.status(), o.out() + o.err());
        assertTrue(o.out().contains("""
                munmap start (scenarios/munmap-two-threads.yaml, its shootdown 1, placed at 0x7fe6af8a9000): same
                  the kernel                        the model (linux-6.1)
                  invalidate_range(mm, its range)   invalidate_range(mm, its range)
                  cpus flushed (2)                  cpus flushed (2)
                  invalidate_range(mm, its range)   invalidate_range(mm, its range)
                  free                              free
                """), o.out());
        assertTrue(o.out().contains("lazy munmap start (scenarios/lazy-munmap.yaml, its shootdown 1): same"), o.out());
        assertTrue(o.out().endsWith("4 of 8 workloads compared: the model matches the kernel\n"), o.out());
    }

    @Test
    void linux612MatchesItsCapturesOnX86AndArm64() {
        CliTest.Outcome x86 = hold("linux-6.12.117-deb13-cloud-amd64.trace", "--kernel", "linux-6.12");
        assertEquals(Shootdown.EXIT_CLEAN, x86.status(), x86.out() + x86.err());
        assertTrue(x86.out().contains("""
                  cpus flushed (2)                                cpus flushed (2)
                  arch_invalidate_secondary_tlbs(mm, its range)   arch_invalidate_secondary_tlbs(mm, its range)
                  free                                            free
                """), x86.out());
        assertTrue(x86.out().contains("shared-pt munmap start (scenarios/lazy-munmap.yaml, its shootdown 2): same\n"
                + "  the kernel         the model (linux-6.12)\n  cpus flushed (1)   cpus flushed (1)\n"), x86.out());

        CliTest.Outcome arm64 = hold("linux-6.12.117-deb13-arm64.trace", "--kernel", "linux-6.12", "--arch", "arm64");
        assertEquals(Shootdown.EXIT_CLEAN, arm64.status(), arm64.out() + arm64.err());
        assertTrue(arm64.out().contains("lazy munmap start: not compared: no `lazy munmap start` marker in the capture"));
        assertTrue(arm64.out().endsWith("2 of 8 workloads compared: the model matches the kernel\n"), arm64.out());
    }

    @Test
    void theHarnessCapturesHoldOnEveryWorkloadMprotectAndPageoutIncluded() {
        CliTest.Outcome k61 = hold("linux-6.1.0-57-cloud-amd64.harness.trace", "--kernel", "linux-6.1");
        assertEquals(Shootdown.EXIT_CLEAN, k61.status(), k61.out() + k61.err());
        assertTrue(k61.out().contains("mprotect start (scenarios/mprotect-two-threads.yaml, its shootdown 1): same"), k61.out());
        assertTrue(k61.out().endsWith("8 of 8 workloads compared: the model matches the kernel\n"), k61.out());

        // 6.1's madvise(MADV_PAGEOUT) clears the young PTEs into its mmu_gather: after reclaim_pages
        // freed the folios, one more flush of the range and its invalidate_range.
        assertTrue(k61.out().contains("""
                  cpus flushed (1)                     cpus flushed (1)
                  invalidate_range(mm, a page of it)   invalidate_range(mm, a page of it)
                  invalidate_range(mm, a page of it)   invalidate_range(mm, a page of it)
                  free                                 free
                  cpus flushed (1)                     cpus flushed (1)
                  invalidate_range(mm, its range)      invalidate_range(mm, its range)

                straddling pageout start"""), k61.out());

        CliTest.Outcome k612 = hold("linux-6.12.118-deb13-cloud-amd64.harness.trace", "--kernel", "linux-6.12");
        assertEquals(Shootdown.EXIT_CLEAN, k612.status(), k612.out() + k612.err());
        assertTrue(k612.out().contains("""
                  arch_invalidate_secondary_tlbs(mm, all)   arch_invalidate_secondary_tlbs(mm, all)
                  cpus flushed (2)                          cpus flushed (2)
                  free                                      free

                alone pageout start"""), k612.out());
        assertTrue(k612.out().endsWith("8 of 8 workloads compared: the model matches the kernel\n"), k612.out());
    }

    @Test
    void eachWorkloadRunsWhereTheKernelsMmapPutItAcrossAPageTablesSpanToo() {
        // tlbstraddle's 8 pages are 6 below a 2 MiB boundary and 2 above: madvise_cold_or_pageout_pte_range
        // walks, and reclaims, one page table at a time. On arm64 try_to_unmap_one always defers, so the
        // first pass leaves mm->tlb_flush_batched set and the second walk's flush_tlb_batched_pending
        // flushes the whole mm (flush_tlb_mm: the hook on 0..-1) before its two pages. The scenario puts
        // its buffer inside one page table; hold runs it at the marker's address, as the kernel did.
        CliTest.Outcome arm64 = hold("linux-6.12.118-deb13-arm64.harness.trace", "--kernel", "linux-6.12", "--arch", "arm64");
        assertEquals(Shootdown.EXIT_CLEAN, arm64.status(), arm64.out() + arm64.err());
        String page = "  arch_invalidate_secondary_tlbs(mm, a page of it)   arch_invalidate_secondary_tlbs(mm, a page of it)\n";
        assertTrue(arm64.out().contains("straddling pageout start (scenarios/pageout-alone.yaml, its shootdown 1,"
                + " placed at 0x7f00001fa000): same\n"
                + "  the kernel                                         the model (linux-6.12)\n"
                + page.repeat(6)
                + "  free                                               free\n"
                + "  arch_invalidate_secondary_tlbs(mm, all)            arch_invalidate_secondary_tlbs(mm, all)\n"
                + page.repeat(2) + "\n"), arm64.out());
        // tlbalone's buffer is wherever mmap put it: the model follows it there
        assertTrue(arm64.out().contains("alone pageout start (scenarios/pageout-alone.yaml, its shootdown 1, placed at 0xffff"),
                arm64.out());

        // x86-64: the mm is on CPU 0 only, so nothing is deferred (ptep_clear_flush, page by page) and
        // the second walk has nothing batched to catch up: two passes, a free after each
        CliTest.Outcome x86 = hold("linux-6.12.118-deb13-cloud-amd64.harness.trace", "--kernel", "linux-6.12");
        assertEquals(Shootdown.EXIT_CLEAN, x86.status(), x86.out() + x86.err());
        String flushed = "  cpus flushed (1)                                   cpus flushed (1)\n" + page;
        assertTrue(x86.out().contains("placed at 0x7f00001fa000): same\n"
                + "  the kernel                                         the model (linux-6.12)\n"
                + flushed.repeat(6)
                + "  free                                               free\n"
                + flushed.repeat(2) + "\n"), x86.out());
    }

    @Test
    void memcgReclaimIsHeldFolioByFolioWhicheverPassFreesIt() {
        // 6.1 reclaims the 8 folios in two try_to_free_mem_cgroup_pages calls (1, then 7: the first
        // scan keeps the young ones), freeing the first after its own flush; the model in one pass.
        // Each folio's steps are the same; the first free comes after a whole folio's in both.
        CliTest.Outcome k61 = hold("linux-6.1.0-57-cloud-amd64.harness.trace", "--kernel", "linux-6.1");
        assertEquals(Shootdown.EXIT_CLEAN, k61.status(), k61.out() + k61.err());
        String perFolio61 = """
                  invalidate_range(current->mm, a page of it)   invalidate_range(current->mm, a page of it)
                  invalidate_range(current->mm, a page of it)   invalidate_range(current->mm, a page of it)
                  cpus flushed (2)                              cpus flushed (2)
                """;
        assertTrue(k61.out().contains("memory_reclaim start (scenarios/memcg-reclaim.yaml, its shootdown 1): same\n"
                + "  the kernel                                    the model (linux-6.1)\n"
                + perFolio61.repeat(8)
                + "  free (after a whole folio's steps)            free (after a whole folio's steps)\n"), k61.out());

        CliTest.Outcome k612 = hold("linux-6.12.118-deb13-cloud-amd64.harness.trace", "--kernel", "linux-6.12");
        assertEquals(Shootdown.EXIT_CLEAN, k612.status(), k612.out() + k612.err());
        assertTrue(k612.out().contains("""
                  arch_invalidate_secondary_tlbs(current->mm, all)   arch_invalidate_secondary_tlbs(current->mm, all)
                  cpus flushed (2)                                   cpus flushed (2)
                  free (after a whole folio's steps)                 free (after a whole folio's steps)
                """), k612.out());
    }

    @Test
    void theHarnessArm64CapturesHoldOnEveryWorkloadToo() {
        for (String[] k : List.of(new String[] {"linux-6.1.0-57-arm64.harness.trace", "linux-6.1"},
                new String[] {"linux-6.12.118-deb13-arm64.harness.trace", "linux-6.12"})) {
            CliTest.Outcome o = hold(k[0], "--kernel", k[1], "--arch", "arm64");
            assertEquals(Shootdown.EXIT_CLEAN, o.status(), o.out() + o.err());
            assertTrue(o.out().endsWith("8 of 8 workloads compared: the model matches the kernel\n"), o.out());
        }
    }

    @Test
    void anotherKernelsModelDiffersAndBothSequencesArePrinted() {
        CliTest.Outcome o = hold("linux-6.1.0-57-cloud-amd64.trace", "--kernel", "linux-6.6");

        assertEquals(Shootdown.EXIT_VIOLATIONS, o.status(), o.out() + o.err());
        assertTrue(o.out().contains("""
                munmap start (scenarios/munmap-two-threads.yaml, its shootdown 1, placed at 0x7fe6af8a9000): DIFFERENT
                  the kernel                        the model (linux-6.6)
                  invalidate_range(mm, its range) | cpus flushed (2)
                """), o.out());
        assertTrue(o.out().contains("pageout start (scenarios/pageout-two-threads.yaml, its shootdown 1, placed at 0x7fcc3ad3f000):"
                + " DIFFERENT"), o.out());
        assertTrue(o.out().endsWith("4 of 8 workloads compared: 2 differ\n"), o.out());

        // arm64 6.6 hands the hook start == end (the loop advanced start: fixed by f7edb07ad7c6); 6.12.117 does not.
        CliTest.Outcome arm64 = hold("linux-6.12.117-deb13-arm64.trace", "--kernel", "linux-6.6", "--arch", "arm64");
        assertEquals(Shootdown.EXIT_VIOLATIONS, arm64.status());
        assertTrue(arm64.out().contains("arch_invalidate_secondary_tlbs(mm, its range) | arch_invalidate_secondary_tlbs(mm, empty)"),
                arm64.out());
    }

    @Test
    void theYoungBitRuleOf612IsWhatTellsItsPageoutFrom66s() {
        // 6.6 still clears the young PTEs under MADV_PAGEOUT and flushes them after the frees;
        // 6.12 (2864f3d0f583) does not. Everything else of 6.12 on x86 is 6.6's.
        CliTest.Outcome o = hold("linux-6.12.118-deb13-cloud-amd64.harness.trace", "--kernel", "linux-6.6");

        assertEquals(Shootdown.EXIT_VIOLATIONS, o.status(), o.out() + o.err());
        assertTrue(o.out().contains("pageout start (scenarios/pageout-two-threads.yaml, its shootdown 1): DIFFERENT"), o.out());
        assertTrue(o.out().contains("alone pageout start (scenarios/pageout-alone.yaml, its shootdown 1, placed at 0x7f97875ee000):"
                + " DIFFERENT"), o.out());
        assertTrue(o.out().contains("""
                  free                                               free
                                                                   | cpus flushed (1)
                                                                   | arch_invalidate_secondary_tlbs(mm, its range)
                """), o.out());
        assertTrue(o.out().contains("straddling pageout start (scenarios/pageout-alone.yaml, its shootdown 1, placed at 0x7f00001fa000):"
                + " DIFFERENT"), o.out());
        assertTrue(o.out().endsWith("8 of 8 workloads compared: 3 differ\n"), o.out());
    }

    @Test
    void aWorkloadsFileThatIsWrongIsOneLine(@TempDir Path dir) throws IOException {
        Path bad = dir.resolve("workloads.yaml");
        Files.writeString(bad, "held:\n  - marker: munmap start\n");
        CliTest.Outcome o = CliTest.shootdown("hold", REAL.resolve("captures/linux-6.1.0-57-cloud-amd64.trace").toString(),
                "--kernel", "linux-6.1", "--workloads", bad.toString());

        assertEquals(Shootdown.EXIT_BAD_INPUT, o.status());
        assertEquals("shootdown: " + bad + ": held[0]: expected marker and scenario, as text\n", o.err());
    }
}
