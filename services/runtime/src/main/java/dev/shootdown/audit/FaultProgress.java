package dev.shootdown.audit;

import dev.shootdown.audit.Mirrors.Pte;
import dev.shootdown.audit.Mirrors.PteKey;
import dev.shootdown.event.Envelope;
import dev.shootdown.event.Event;
import dev.shootdown.event.FaultEvent;
import dev.shootdown.event.Kernel;
import dev.shootdown.event.PageTableEvent;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Fault progress ({@code fault-livelock}): K SUCCESS page responses in a row for the same device,
 * PASID, address and access, while the mirrored PTE already allowed it, are a livelock: the
 * fault handler has nothing left to fix, so the device must be faulting on a translation cached
 * before the PTE changed (the seed's first bug: arm64's ptep_set_access_flags before 6.6).
 */
final class FaultProgress {

    /** SUCCESS responses in a row to one device for the same PASID, address and access. */
    private static final class Streak {
        final String key;
        final Envelope firstFault;
        int count;

        Streak(String key, Envelope firstFault) {
            this.key = key;
            this.firstFault = firstFault;
        }
    }

    private final Mirrors mirrors;
    private final Verdicts verdicts;
    private final int threshold;
    /** "iommu device" -> its latest DeviceFaultRaised. */
    private final Map<String, Envelope> lastDeviceFault = new HashMap<>();
    /** "iommu device" -> its current streak of SUCCESS responses while the PTE allowed the access. */
    private final Map<String, Streak> streaks = new HashMap<>();

    FaultProgress(Mirrors mirrors, Verdicts verdicts, int threshold) {
        this.mirrors = mirrors;
        this.verdicts = verdicts;
        this.threshold = threshold;
    }

    /** A device faulted ({@code e}). */
    void faulted(Envelope e, FaultEvent.DeviceFaultRaised f) {
        lastDeviceFault.put(f.iommu() + " " + f.device(), e);
    }

    /**
     * A page response to a device, paired with its latest fault. K SUCCESS responses in a row for
     * the same PASID, address and access, each while the PTE already allowed that access, is a
     * livelock: the fault handler has nothing left to fix, so the device must be faulting on a
     * translation cached before the PTE changed. Anything else resets the count.
     */
    void pageResponse(Envelope e, FaultEvent.PageResponseSent r) {
        String device = r.target() + " " + r.device();
        Envelope faultEnvelope = lastDeviceFault.get(device);
        if (faultEnvelope == null || r.code() != FaultEvent.PageResponseCode.SUCCESS) {
            streaks.remove(device);
            return;
        }
        var fault = (FaultEvent.DeviceFaultRaised) faultEnvelope.event();
        Pte pte = mirrors.ptes.get(PteKey.of(fault.mm(), r.va()));
        if (pte == null || !pte.allows(fault.access())) {
            streaks.remove(device);
            return;
        }
        String key = r.pasid() + " " + Kernel.pageAlign(r.va()) + " " + fault.access();
        Streak streak = streaks.get(device);
        if (streak == null || !streak.key.equals(key)) {
            streak = new Streak(key, faultEnvelope);
            streaks.put(device, streak);
        }
        if (++streak.count == threshold) {
            String access = fault.access().name().toLowerCase(Locale.ROOT);
            verdicts.violate(0, ViolationKind.FAULT_LIVELOCK, r.target(), fault.mm(), Kernel.hex(r.va()),
                    List.of(streak.firstFault.id(), pte.last().id(), e.id()),
                    r.device() + " pasid " + r.pasid() + " faulted on a " + access + " of " + Kernel.hex(r.va()) + " in mm "
                            + fault.mm() + " and was answered SUCCESS " + streak.count + " times in a row while the PTE"
                            + " already allowed the " + access + " (since " + pte.last().id() + ", " + describe(pte.last())
                            + "): nothing invalidated the translation " + r.target() + " keeps faulting on");
        }
    }

    /** A PTE change as a kernel developer would name it. */
    private static String describe(Envelope change) {
        Event ev = change.event();
        if (ev instanceof PageTableEvent.PteProtectionChanged p) {
            return p.caller() + " made it " + (p.writable() ? "writable" : "read-only");
        }
        if (ev instanceof PageTableEvent.PteCleared) {
            return "ptep_get_and_clear";
        }
        if (ev instanceof PageTableEvent.PteSet p) {
            return "set_pte_at " + (p.writable() ? "writable" : "read-only");
        }
        return ev.getClass().getSimpleName();
    }
}
