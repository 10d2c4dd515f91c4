package dev.shootdown.audit;

import dev.shootdown.event.Envelope;
import dev.shootdown.event.FaultEvent;
import dev.shootdown.event.Kernel;
import dev.shootdown.event.SecondaryTlbEvent;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

/**
 * Right mm ({@code wrong-mm-invalidation}, {@code kernel-oops}): the secondary-TLB hook names an
 * mm whose PTEs its shootdown changed; a simulated oops (a hook handed the NULL mm, as the seed's
 * v2 arch_tlbbatch_flush did from kswapd) is a violation, with the hook call that caused it.
 */
final class RightMm {

    private final Verdicts verdicts;
    /** shootdownId -> the last call of the secondary-TLB hook with a NULL mm. */
    private final Map<Long, Envelope> nullMmHookCalls = new HashMap<>();

    RightMm(Verdicts verdicts) {
        this.verdicts = verdicts;
    }

    /** The hook was called ({@code e}), within {@code sd} if that is in flight (null otherwise). */
    void hookCalled(Envelope e, SecondaryTlbEvent.SecondaryTlbHookCalled h, LiveShootdown sd) {
        if (h.mm() == 0) {
            nullMmHookCalls.put(h.shootdownId(), e);
        }
        if (sd != null && h.mm() != 0) {
            checkHookMm(sd, e, h);
        }
    }

    /** The hook must name an mm whose PTEs the shootdown changed (some of them, so far). */
    private void checkHookMm(LiveShootdown sd, Envelope call, SecondaryTlbEvent.SecondaryTlbHookCalled h) {
        if (sd.pteChanges.isEmpty()) {
            return;
        }
        Set<Long> changed = new TreeSet<>();
        for (Envelope change : sd.pteChanges) {
            changed.add(LiveShootdown.pteMm(change));
        }
        if (changed.contains(h.mm())) {
            return;
        }
        Envelope first = sd.pteChanges.get(0);
        String mms = changed.stream().map(String::valueOf).reduce((a, b) -> a + ", " + b).orElseThrow();
        String who = sd.currentMm == h.mm() ? " (current->mm)" : "";
        String what = sd.reclaim() ? "the batch" : "shootdown " + sd.id + " (" + sd.caller + ")";
        verdicts.violateOncePerShootdown(ViolationKind.WRONG_MM_INVALIDATION, h.cpu(), h.mm(), Kernel.hex(LiveShootdown.pteVa(first)),
                List.of(first.id(), call.id()), h.caller() + " called " + h.hook() + " for mm " + h.mm() + who + " but " + what
                        + " changed PTEs of mm " + mms + " only (" + first.id() + "): the secondary TLBs of mm " + mms
                        + " are not invalidated by it",
                sd.id);
    }

    /** A simulated oops: one verdict each, with the hook call that handed it a NULL mm, if any. */
    void oops(Envelope e, FaultEvent.KernelOops o) {
        List<String> chain = new ArrayList<>();
        Envelope hook = nullMmHookCalls.get(o.shootdownId());
        String cause = "";
        if (hook != null) {
            var h = (SecondaryTlbEvent.SecondaryTlbHookCalled) hook.event();
            chain.add(hook.id());
            cause = "; " + h.caller() + " called " + h.hook() + " with a NULL mm (" + hook.id() + ")";
        }
        chain.add(e.id());
        verdicts.violate(o.shootdownId(), ViolationKind.KERNEL_OOPS, o.cpu(), 0, Kernel.hex(o.address()), chain, "oops in " + o.function()
                + " called from " + o.caller() + " on " + o.cpu() + " in " + o.comm() + " (pid " + o.pid() + "): " + o.message()
                + cause);
    }

    /** The shootdown was let go. */
    void forget(long shootdown) {
        nullMmHookCalls.remove(shootdown);
    }
}
