package dev.shootdown.cpu;

import dev.shootdown.core.Decision;
import dev.shootdown.event.InjectionEvent;
import dev.shootdown.event.IpiEvent;
import dev.shootdown.event.Kernel;
import dev.shootdown.event.TraceEvent;
import dev.shootdown.fault.FaultKind;
import dev.shootdown.fault.FaultPlan;
import dev.shootdown.fault.FaultSpec;
import dev.shootdown.scenario.Arch;
import dev.shootdown.scenario.Scenario;
import dev.shootdown.testing.TestRuns;
import java.util.List;
import org.junit.jupiter.api.Test;
import static org.junit.jupiter.api.Assertions.assertEquals;

/** A lost IPI, as the CPU state machine experiences it: flush_tlb_func never runs and nothing is acknowledged. */
class CpuFaultsTest {

    private static final long MM = 1;
    private static final long BUF = 0x7f0000000000L;

    private final Cpu cpu = new Cpu("cpu1");

    private void given(FaultPlan plan) {
        Scenario s = new Scenario("cpu-faults", Arch.X86, "linux-6.6", 2, 0,
                List.of(new Scenario.MmSpec(MM, List.of(new Scenario.VmaSpec(BUF, 4, true, true)))), List.of(), List.of(),
                new Scenario.Timing(100, 800), new Scenario.EndCondition(1)).withFaults(plan);
        cpu.onEvent(TestRuns.runStarted("r", 1, s), 0);
        cpu.evolve(new TraceEvent.MmSwitched("cpu1", Cpu.INIT_MM, MM, 0));
        cpu.evolve(new TraceEvent.TlbFilled("cpu1", MM, BUF, 0x1000, 1, true));
    }

    private static IpiEvent.FlushTlb flush(long shootdownId, boolean viaIpi) {
        return new IpiEvent.FlushTlb("cpu1", MM, BUF, BUF + Kernel.PAGE_SIZE, 1, 1, viaIpi, false, shootdownId);
    }

    @Test
    void givenALostIpi_whenTheFlushIpiArrives_thenOnlyTheFaultIsRecordedAndTheTlbKeepsItsEntries() {
        given(FaultPlan.of(FaultSpec.of(FaultKind.LOST_IPI, "cpu1").withNth(1)));

        Decision lost = cpu.onEvent(flush(3, true), 1_000);

        assertEquals(1, lost.events().size());
        var f = (InjectionEvent.FaultInjected) lost.events().get(0);
        assertEquals(List.of("lost-ipi", "model", "cpu1", "flush-tlb shootdown 3"), List.of(f.fault(), f.layer(), f.node(), f.target()));
        assertEquals(1, cpu.tlbEntries(MM), "flush_tlb_func did not run: the stale entry stays");

        Decision next = cpu.onEvent(flush(4, true), 2_000);
        assertEquals(IpiEvent.TlbFlushed.class, next.events().get(0).getClass(), "nth 1 alone: the next IPI arrives");
        assertEquals(0, cpu.tlbEntries(MM));
    }

    @Test
    void givenALostIpi_whenTheInitiatorFlushesItselfLocally_thenThatIsNoIpiAndRuns() {
        given(FaultPlan.of(FaultSpec.of(FaultKind.LOST_IPI, null)));

        Decision local = cpu.onEvent(flush(3, false), 1_000);

        assertEquals(IpiEvent.TlbFlushed.class, local.events().get(0).getClass());
    }

    @Test
    void givenAProbability_whenManyIpisArrive_thenTheSameSeedLosesTheSameOnes() {
        FaultPlan plan = new FaultPlan(99, List.of(FaultSpec.of(FaultKind.LOST_IPI, "cpu1").withProbability(0.5)));
        String first = lostPattern(plan);
        assertEquals(first, lostPattern(plan));
        assertEquals(true, first.contains("L") && first.contains("."), "some lost, some not: " + first);
    }

    private static String lostPattern(FaultPlan plan) {
        CpuFaultsTest t = new CpuFaultsTest();
        t.given(plan);
        StringBuilder b = new StringBuilder();
        for (int i = 0; i < 40; i++) {
            Decision d = t.cpu.onEvent(flush(10 + i, true), 1_000L * i);
            b.append(d.events().get(0) instanceof InjectionEvent.FaultInjected ? "L" : ".");
        }
        return b.toString();
    }
}
