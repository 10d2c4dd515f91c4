package dev.shootdown.audit;

import java.util.ArrayList;
import java.util.List;

/** The auditor's default sink: every settled violation and summary kept in memory, for {@link Auditor#finish()}'s report. */
final class CollectingSink implements Auditor.Sink {
    final List<Violation> violations = new ArrayList<>();
    final List<ShootdownSummary> shootdowns = new ArrayList<>();

    @Override
    public void onViolation(Violation violation) {
        violations.add(violation);
    }

    @Override
    public void onShootdown(ShootdownSummary shootdown) {
        shootdowns.add(shootdown);
    }
}
