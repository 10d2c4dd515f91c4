package dev.shootdown.audit;

import dev.shootdown.event.Envelope;
import dev.shootdown.event.FaultEvent;
import dev.shootdown.event.IpiEvent;
import dev.shootdown.event.Kernel;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.function.LongSupplier;

/**
 * Flush progress, judged at the end of the run: a CPU that was delivered a flush IPI of a
 * shootdown that never completed and never acknowledged it leaves the initiator spinning in
 * csd_lock_wait for ever (kernel/smp.c): {@code non-responsive-csd-lock}; each translation it
 * still holds of a page that shootdown changed is a {@code missing-cpu-invalidation} (a lost IPI).
 * A shootdown the kernel's watchdog saw make no progress is a {@code stall}, unless the
 * unacknowledged IPI already explains it.
 */
final class FlushProgress {

    private final Mirrors mirrors;
    private final Verdicts verdicts;
    private final Shootdowns shootdowns;
    private final LongSupplier lastTimeNs;
    /** The watchdog's stall-detected events, settled at the end ({@link #checkStalls}). */
    private final List<Envelope> stalls = new ArrayList<>();
    /** Shootdowns reported non-responsive-csd-lock: the stall the watchdog saw is explained. */
    private final Set<Long> csdLockReported = new HashSet<>();

    FlushProgress(Mirrors mirrors, Verdicts verdicts, Shootdowns shootdowns, LongSupplier lastTimeNs) {
        this.mirrors = mirrors;
        this.verdicts = verdicts;
        this.shootdowns = shootdowns;
        this.lastTimeNs = lastTimeNs;
    }

    /** The kernel's watchdog saw a shootdown make no progress ({@code e}): judged at the end. */
    void stallDetected(Envelope e) {
        stalls.add(e);
    }

    /**
     * At the end of the run: a CPU that was delivered a flush IPI of a shootdown still in flight
     * (its vector clock shows the IPI) but never acknowledged it did not run flush_tlb_func. The
     * initiator waits for that CPU for ever (kernel/smp.c: smp_call_function_many_cond), so the
     * shootdown hangs and its frames are never freed: a {@code non-responsive-csd-lock}. Each
     * translation the CPU still holds of a page the shootdown changed, filled before the change,
     * is also a {@code missing-cpu-invalidation}: the CPU goes on using the stale entries.
     */
    void checkUnacknowledgedFlushes() {
        for (LiveShootdown sd : shootdowns.live()) {
            for (Map.Entry<String, Envelope> issued : sd.flushIssued.entrySet()) {
                String cpu = issued.getKey();
                Envelope last = mirrors.lastOfNode.get(cpu);
                if (sd.flushDone.containsKey(cpu) || last == null || !issued.getValue().happenedBefore(last)) {
                    continue;
                }
                verdicts.nextEnvelope();
                if (issued.getValue().event() instanceof IpiEvent.FlushTlb ipi && ipi.viaIpi()) {
                    reportCsdLockWait(sd, issued.getValue(), ipi, last);
                }
                for (Envelope change : sd.pteChanges) {
                    long mm = LiveShootdown.pteMm(change);
                    long va = Kernel.pageAlign(LiveShootdown.pteVa(change));
                    Mirrors.Cached held = mirrors.cached(Mirrors.cpuHolder(cpu, mm), va);
                    if (held == null || change.happenedBefore(held.fill())) {
                        continue;
                    }
                    List<String> chain = new ArrayList<>(List.of(held.fill().id(), change.id(), issued.getValue().id()));
                    List<Envelope> lost = sd.faultsOn(cpu);
                    lost.forEach(f -> chain.add(f.id()));
                    verdicts.violateOncePerShootdown(ViolationKind.MISSING_CPU_INVALIDATION, cpu, mm, Kernel.hex(va), chain, cpu + " still holds the translation of "
                            + Kernel.hex(va) + " in mm " + mm + " (filled by " + held.fill().id() + ") after the PTE was "
                            + LiveShootdown.changed(change) + " (" + change.id() + "): the flush " + issued.getValue().id() + " of shootdown "
                            + sd.id + " (" + sd.caller + ") reached it but flush_tlb_func never ran"
                            + (lost.isEmpty() ? "" : " (the IPI was lost: " + lost.get(0).id() + ")")
                            + ", and the shootdown never completed", sd.id);
                }
            }
        }
    }

    /**
     * The flush IPI {@code issued} of {@code sd} reached its CPU ({@code last}, that CPU's latest
     * event, follows it; so does the fault that lost it, if one did) and was never acknowledged:
     * the initiator spins in csd_lock_wait with preemption disabled for the rest of the run.
     * CONFIG_CSD_LOCK_WAIT_DEBUG reports it as "csd: Detected non-responsive CSD lock" once
     * smp.csd_lock_timeout (5 s by default) has passed; the model's evidence is the delivered,
     * unacknowledged IPI itself, since no acknowledgement can come after it was handled.
     */
    private void reportCsdLockWait(LiveShootdown sd, Envelope issued, IpiEvent.FlushTlb ipi, Envelope last) {
        csdLockReported.add(sd.id);
        String cpu = ipi.target();
        List<Envelope> lost = sd.faultsOn(cpu);
        List<String> chain = new ArrayList<>(List.of(sd.started.id(), issued.id()));
        if (lost.isEmpty()) {
            chain.add(last.id());
        } else {
            lost.forEach(f -> chain.add(f.id()));
        }
        String reached = lost.isEmpty() ? " (" + cpu + " went on: " + last.id() + ")" : " (the IPI was lost: " + lost.get(0).id() + ")";
        String frames = sd.ptesCleared + sd.ptesProtectionChanged + " PTEs changed, " + sd.frees.size() + " frames freed";
        verdicts.violateOncePerShootdown(ViolationKind.NON_RESPONSIVE_CSD_LOCK, cpu, ipi.mm(), Kernel.hex(ipi.start()), chain, "shootdown " + sd.id + " ("
                + sd.caller + ": " + sd.context() + " on " + sd.cpu + ") never completed: its flush IPI " + issued.id()
                + " reached " + cpu + reached + " but flush_tlb_func never ran there, so " + sd.cpu
                + " was still spinning in csd_lock_wait with preemption disabled when the run ended, "
                + String.format(Locale.ROOT, "%.3f us", (lastTimeNs.getAsLong() - issued.timeNs()) / 1000.0) + " later (" + frames
                + "); CONFIG_CSD_LOCK_WAIT_DEBUG reports \"csd: Detected non-responsive CSD lock\" for it", sd.id);
    }

    /**
     * The kernel's watchdog ended the run on a shootdown that made no progress for the stall
     * window: a {@code stall}, unless the audit already proved why it hangs (an unacknowledged IPI:
     * {@code non-responsive-csd-lock}), which says more.
     */
    void checkStalls() {
        for (Envelope e : stalls) {
            var st = (FaultEvent.StallDetected) e.event();
            if (csdLockReported.contains(st.shootdownId())) {
                continue;
            }
            LiveShootdown sd = shootdowns.get(st.shootdownId()).orElse(null);
            long mm = sd == null ? 0 : sd.mm;
            String va = sd == null ? "0x0" : Kernel.hex(sd.pteChanges.isEmpty() ? sd.start : LiveShootdown.pteVa(sd.pteChanges.get(0)));
            List<String> chain = new ArrayList<>();
            if (sd != null) {
                chain.add(sd.started.id());
                sd.faultsOn(st.cpu()).forEach(f -> chain.add(f.id()));
            }
            chain.add(e.id());
            verdicts.violateOncePerShootdown(ViolationKind.STALL, st.cpu(), mm, va, chain, String.format(Locale.ROOT,
                    "shootdown %d (%s on %s, in %s) made no progress from %.3f us for the stall window of %.3f us: %s waits "
                            + "for %s; the kernel's watchdog (%s) reports it and nothing it waits for ever answers (%s)",
                    st.shootdownId(), sd == null ? "?" : sd.caller, st.cpu(), st.comm(), st.sinceNs() / 1000.0,
                    st.stallWindowNs() / 1000.0, st.function(),
                    st.waitingFor().isEmpty() ? "nothing it could name" : String.join(", ", st.waitingFor()),
                    st.function().equals("csd_lock_wait") ? "CONFIG_CSD_LOCK_WAIT_DEBUG" : "the hung-task detector", e.id()),
                    st.shootdownId());
        }
    }
}
