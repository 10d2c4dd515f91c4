package dev.shootdown.audit;

import dev.shootdown.audit.Mirrors.FrameKey;
import dev.shootdown.audit.Mirrors.Holding;
import dev.shootdown.event.Envelope;
import dev.shootdown.event.Kernel;
import dev.shootdown.event.PageTableEvent;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Coverage at the free ({@code missing-cpu-invalidation}, {@code missing-secondary-invalidation}):
 * every cache that held a translation to a frame dropped it, by an invalidation that happened
 * before the frame was freed. CPUs that no longer have the mm loaded, or have it lazily, flush
 * when they switch back (switch_mm), so they are exempt; what a shootdown's return or finish
 * already reported ({@link SecondaryCoverage}) is not reported again.
 */
final class CoverageAtFree {

    private final Mirrors mirrors;
    private final Verdicts verdicts;
    private final Shootdowns shootdowns;

    CoverageAtFree(Mirrors mirrors, Verdicts verdicts, Shootdowns shootdowns) {
        this.mirrors = mirrors;
        this.verdicts = verdicts;
        this.shootdowns = shootdowns;
    }

    /** {@code frame} was freed ({@code free}): every cache that held it must have dropped it before. */
    void freed(Envelope free, PageTableEvent.FrameFreed f, FrameKey frame) {
        for (Map.Entry<String, Holding> held : mirrors.holdings.getOrDefault(frame, Map.of()).entrySet()) {
            String holder = held.getKey();
            Holding h = held.getValue();
            boolean cpu = holder.contains(" tlb mm ");
            if (h.drop != null && h.drop.happenedBefore(free)) {
                continue;
            }
            if (cpu && h.drop == null && !mirrors.cpuStillUses(holder)) {
                continue; // not loaded or lazy: switch_mm flushes before the next user access
            }
            ViolationKind kind = cpu ? ViolationKind.MISSING_CPU_INVALIDATION : ViolationKind.MISSING_SECONDARY_INVALIDATION;
            String node = holder.substring(0, holder.indexOf(' '));
            String va = Kernel.hex(h.va);
            if (verdicts.wasReportedAtEnd(f.shootdownId(), kind, node, h.mm, va)) {
                continue; // already reported at the shootdown's return or finish
            }
            if (shootdowns.isLive(f.shootdownId())) {
                verdicts.reportedFor(f.shootdownId(), kind, node, h.mm, va);
            }
            List<String> chain = new ArrayList<>(List.of(h.fill.id()));
            if (h.drop != null) {
                chain.add(h.drop.id());
            }
            shootdowns.get(f.shootdownId()).ifPresent(sd -> sd.faultsOn(node).forEach(fault -> chain.add(fault.id())));
            chain.add(free.id());
            verdicts.violate(f.shootdownId(), kind, node, h.mm, va, chain, holder + " still held frame "
                    + Kernel.hex(f.frame()) + " (filled by " + h.fill.id() + ") when it was freed by " + free.id()
                    + (h.drop == null ? "" : "; the invalidation " + h.drop.id() + " was not ordered before the free"));
        }
    }
}
