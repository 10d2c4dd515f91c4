package dev.shootdown.event;

/**
 * Hardware page-table walks. The page tables live in the coordinator's memory, so a CPU's or an
 * IOMMU's walk is a read request answered with the PTE as it is when the coordinator serves it.
 */
public sealed interface WalkEvent extends Event {

    @Override
    default Family family() {
        return Family.WALK;
    }

    /**
     * A TLB, IOTLB or ATS translation miss on {@code requester}. {@code stream} names who
     * waits for it: the device (its StreamID) for an IOMMU walk, the CPU for a CPU walk. pasid
     * is -1 for a CPU walk.
     */
    record PageWalkRequested(String target, String requester, String stream, long mm, int pasid, long va, Access access)
            implements WalkEvent, Directed {}

    /** The PTE the walk read, for {@code stream}. Not present: frame and frameEpoch are -1. */
    record PageWalkCompleted(
            String target, String stream, long mm, int pasid, long va, boolean present, long frame, long frameEpoch,
            boolean writable)
            implements WalkEvent, Directed {}
}
