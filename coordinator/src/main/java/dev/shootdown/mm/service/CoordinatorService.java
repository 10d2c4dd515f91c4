package dev.shootdown.mm.service;

import dev.shootdown.host.kafka.NodeHost;
import dev.shootdown.host.kafka.NodeVerticle;
import dev.shootdown.kernel.file.KernelFiles;
import dev.shootdown.mm.Coordinator;

/**
 * The coordinator service: the kernel's mm ({@link Coordinator}) hosted by a Kafka verticle, with
 * the built-in kernel variants for logs whose run-started does not carry its own.
 */
public final class CoordinatorService {

    private CoordinatorService() {}

    public static NodeVerticle verticle(NodeHost host) {
        return new NodeVerticle(host, new Coordinator(KernelFiles.catalog()));
    }
}
