package dev.shootdown.mm;

import dev.shootdown.core.Decision;
import dev.shootdown.core.TimerRequest;
import java.util.List;

/**
 * For tests of the kernel's steps: a decision without the watchdog's timer requests, which every
 * decision that moves a shootdown carries (its own tests: {@link WatchdogTest}).
 */
final class KernelSteps {

    private KernelSteps() {}

    static Decision of(Decision d) {
        List<TimerRequest> timers = d.timers().stream().filter(t -> !t.name().equals(Coordinator.WATCHDOG_TIMER)).toList();
        if (timers.size() == d.timers().size()) {
            return d;
        }
        return d.events().isEmpty() && timers.isEmpty() ? Decision.NONE : new Decision(d.events(), timers);
    }
}
