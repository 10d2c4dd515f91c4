package dev.shootdown.iommu;

/**
 * One arch_invalidate_secondary_tlbs request in flight for a PASID: its range and where its
 * commands are ({@link Phase}; the transitions are in {@link Iommu}'s Javadoc).
 */
final class Invalidation {
    final long shootdownId;
    final long mm;
    final int pasid;
    final long start;
    final long end;
    Phase phase = Phase.IOTLB_SYNC;
    /** The fault dropped-iotlb-invalidation hit its TLBI: the IOTLB keeps its entries. */
    boolean tlbiDropped;

    Invalidation(long shootdownId, long mm, int pasid, long start, long end) {
        this.shootdownId = shootdownId;
        this.mm = mm;
        this.pasid = pasid;
        this.start = start;
        this.end = end;
    }

    /** Which CMD_SYNC the invalidation waits for. */
    enum Phase { IOTLB_SYNC, ATC_SYNC, ATC_FIRST, IOTLB_LAST }
}
