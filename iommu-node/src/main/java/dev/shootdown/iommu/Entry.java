package dev.shootdown.iommu;

import dev.shootdown.event.Access;

/** A cached translation, in an IOTLB or a device's ATC: the frame (its allocation epoch) and whether it allows writes. */
record Entry(long frame, long frameEpoch, boolean writable) {
    boolean allows(Access access) {
        return writable || !access.isWrite();
    }
}
