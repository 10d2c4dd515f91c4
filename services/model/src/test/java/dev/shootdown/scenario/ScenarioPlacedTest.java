package dev.shootdown.scenario;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.shootdown.event.Access;
import dev.shootdown.event.Kernel;
import java.util.List;
import org.junit.jupiter.api.Test;

/** {@link Scenario#placed}: an address space moved as a whole, and nothing else. */
class ScenarioPlacedTest {

    static final long BUF = 0x7f7bf5d5f000L;
    static final long DELTA = 0x29b000L; // to 6 pages below a 2 MiB boundary

    static Scenario twoMms() {
        return new Scenario("placed", Arch.X86, "linux-6.12", 2, 1,
                List.of(new Scenario.MmSpec(1, List.of(new Scenario.VmaSpec(BUF, 8, true, true),
                                new Scenario.VmaSpec(0x7f7bf6000000L, 1, true, true, false, true))),
                        new Scenario.MmSpec(2, List.of(new Scenario.VmaSpec(BUF, 8, true, true)))),
                List.of(new Scenario.TaskSpec(100, 1, 0, List.of(new TaskOp.Touch(BUF, 8, Access.WRITE, 1),
                                new TaskOp.Compute(500), new TaskOp.Madvise(BUF, 8, TaskOp.Advice.PAGEOUT),
                                new TaskOp.Mprotect(BUF, 2, false), new TaskOp.Munmap(BUF, 8), new TaskOp.MemoryReclaim(8))),
                        new Scenario.TaskSpec(200, 2, 1, List.of(new TaskOp.Munmap(BUF, 8)))),
                List.of(new Scenario.DeviceSpec("dev0", 0, 1, 1, true,
                                new Scenario.DmaProgram(0x7f7bf6000000L, 1, List.of(Access.READ, Access.WRITE), 1000)),
                        new Scenario.DeviceSpec("dev1", 0, 2, 2, true, new Scenario.DmaProgram(BUF, 1, Access.READ, 1000))),
                new Scenario.Timing(500, 800), new Scenario.EndCondition(0, 200_000));
    }

    @Test
    void everyAddressOfTheMmMovesTogetherAndTheOtherMmStays() {
        Scenario s = twoMms();
        Scenario p = s.placed(1, DELTA);

        assertEquals(List.of(new Scenario.VmaSpec(BUF + DELTA, 8, true, true),
                new Scenario.VmaSpec(0x7f7bf6000000L + DELTA, 1, true, true, false, true)), p.mms().get(0).vmas());
        assertEquals(List.of(new TaskOp.Touch(BUF + DELTA, 8, Access.WRITE, 1), new TaskOp.Compute(500),
                new TaskOp.Madvise(BUF + DELTA, 8, TaskOp.Advice.PAGEOUT), new TaskOp.Mprotect(BUF + DELTA, 2, false),
                new TaskOp.Munmap(BUF + DELTA, 8), new TaskOp.MemoryReclaim(8)), p.tasks().get(0).program());
        assertEquals(new Scenario.DmaProgram(0x7f7bf6000000L + DELTA, 1, List.of(Access.READ, Access.WRITE), 1000),
                p.devices().get(0).dma());
        // the other address space, its task and its device are where they were
        assertEquals(s.mms().get(1), p.mms().get(1));
        assertEquals(s.tasks().get(1), p.tasks().get(1));
        assertEquals(s.devices().get(1), p.devices().get(1));
        assertEquals(s, p.placed(1, -DELTA), "placing back is the scenario itself");
        // the buffer now crosses a page table's span: 6 pages below the 2 MiB boundary, 2 above
        long pmd = 2L << 20;
        assertEquals(6, (pmd - (BUF + DELTA) % pmd) / Kernel.PAGE_SIZE);
    }

    @Test
    void onlyWholePagesPlaceAScenario() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> twoMms().placed(1, 100));
        assertEquals("a scenario is placed by whole pages, not by 100 bytes", e.getMessage());
    }
}
