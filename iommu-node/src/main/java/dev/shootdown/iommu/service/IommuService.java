package dev.shootdown.iommu.service;

import dev.shootdown.host.kafka.NodeHost;
import dev.shootdown.host.kafka.NodeVerticle;
import dev.shootdown.iommu.Iommu;

/** The iommu-node service: one {@link Iommu} (with its devices) hosted by a Kafka verticle. */
public final class IommuService {

    private IommuService() {}

    /** A verticle running IOMMU {@code nodeId} ({@code iommu0}, ...) of the run described by {@code host}. */
    public static NodeVerticle verticle(NodeHost host, String nodeId) {
        return new NodeVerticle(host, new Iommu(nodeId));
    }
}
