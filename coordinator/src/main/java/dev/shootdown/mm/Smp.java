package dev.shootdown.mm;

import dev.shootdown.event.NodeIds;

/**
 * kernel/smp.c and the scheduler, as far as a flush cares: a CPU whose flush spins in
 * csd_lock_wait runs nothing else, so a kernel thread woken then runs elsewhere.
 */
final class Smp {

    private final Linux k;

    Smp(Linux k) {
        this.k = k;
    }

    /**
     * The CPU a kernel thread woken now runs on: {@code preferred}, unless a flush initiated there
     * spins in csd_lock_wait ({@link #inCsdLockWait}), then the first CPU that does not; null when
     * every CPU does. kswapd may run on any CPU of its node (mm/vmscan.c: kswapd sets its
     * cpumask to the node's), and the IOPF worker on any CPU.
     */
    String schedulableCpu(String preferred) {
        if (!inCsdLockWait(preferred)) {
            return preferred;
        }
        for (int i = 0; i < k.state.scenario.cpus(); i++) {
            String cpu = NodeIds.cpu(i);
            if (!inCsdLockWait(cpu)) {
                return cpu;
            }
        }
        return null;
    }

    /**
     * Whether a shootdown initiated on {@code cpu} waits there for another CPU's flush_tlb_func:
     * x86 flush_tlb_mm_range and arch_tlbbatch_flush hold get_cpu() (preemption off) around
     * flush_tlb_multi, whose smp_call_function_many_cond spins in csd_lock_wait until every
     * target ran the function (arch/x86/mm/tlb.c, kernel/smp.c). Nothing else runs in process
     * context on that CPU meanwhile; a lost IPI keeps it so for ever. arm64 sends no IPIs.
     */
    boolean inCsdLockWait(String cpu) {
        if (!k.arch().waitsForIpis()) {
            return false;
        }
        for (Shootdown sd : k.state.shootdowns.values()) {
            if (sd.cpu.equals(cpu) && !sd.oopsed) {
                for (String target : sd.pendingCpus.keySet()) {
                    if (!target.equals(cpu)) {
                        return true;
                    }
                }
            }
        }
        return false;
    }
}
