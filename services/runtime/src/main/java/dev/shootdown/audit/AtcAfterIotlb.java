package dev.shootdown.audit;

import dev.shootdown.event.Envelope;
import dev.shootdown.event.Kernel;
import dev.shootdown.event.SecondaryTlbEvent;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/**
 * ATC after IOTLB ({@code atc-before-iotlb}): an ATC_INV is issued only after the IOTLB
 * invalidation of the same shootdown and PASID was issued and synced, in an earlier step of the
 * IOMMU (drivers/iommu/arm/arm-smmu-v3/arm-smmu-v3.c: arm_smmu_atc_inv_domain after the TLBI's
 * CMD_SYNC).
 */
final class AtcAfterIotlb {

    private final Verdicts verdicts;

    AtcAfterIotlb(Verdicts verdicts) {
        this.verdicts = verdicts;
    }

    /**
     * Commands on an IOMMU's queue: a TLBI is remembered; an ATC_INV must follow a TLBI of the
     * same shootdown and PASID issued in an earlier step, that is after its CMD_SYNC completed
     * (drivers/iommu/arm/arm-smmu-v3/arm-smmu-v3.c: arm_smmu_atc_inv_domain after the TLBI and
     * its sync, or the device can refill its ATC from the IOTLB entry still there).
     */
    void commandsIssued(LiveShootdown sd, Envelope e, SecondaryTlbEvent.CommandsIssued c) {
        String key = e.node() + " " + c.pasid();
        if (c.commands().stream().anyMatch(cmd -> cmd.startsWith("TLBI"))) {
            sd.tlbiIssued.putIfAbsent(key, e);
        }
        if (c.commands().stream().noneMatch(cmd -> cmd.startsWith("ATC_INV"))) {
            return;
        }
        Envelope tlbi = sd.tlbiIssued.get(key);
        boolean synced = tlbi != null && tlbi != e && tlbi.happenedBefore(e) && !Objects.equals(tlbi.cause(), e.cause());
        if (synced) {
            return;
        }
        List<String> chain = new ArrayList<>();
        Envelope request = sd.secondaryIssued.get(e.node());
        if (request != null) {
            chain.add(request.id());
        }
        for (Envelope f : sd.faultsOn(e.node())) {
            chain.add(f.id());
        }
        chain.add(e.id());
        verdicts.violateOncePerShootdown(ViolationKind.ATC_BEFORE_IOTLB, e.node(), c.mm(), Kernel.hex(c.start()), chain, e.node() + " issued ATC_INV for pasid "
                + c.pasid() + " of shootdown " + sd.id + " (" + e.id() + ") " + (tlbi == null
                        ? "before any IOTLB invalidation of it"
                        : "before the IOTLB invalidation " + tlbi.id() + " had completed")
                + ": a device translating in between refills its ATC from the stale IOTLB entry", sd.id);
    }
}
