package dev.shootdown.event;

/**
 * The event families; each is one Kafka topic per run ({@code shootdown.<run>.<topic>}).
 *
 * <p>Keys: directed events are keyed by their target node, so everything one node must see in
 * order shares a partition; facts are keyed by the mm or the emitting node.
 */
public enum Family {
    /** IPIs and their acks, and reschedule cross-calls (coordinator &lt;-&gt; CPUs). */
    IPI("ipi"),
    /** Secondary-TLB invalidation requests, completions and SVA binds (coordinator &lt;-&gt; IOMMUs). */
    SECONDARY_TLB("secondary-tlb"),
    /** Page-table walks by CPU and IOMMU hardware, reading the coordinator's page tables. */
    WALK("walk"),
    /** Page faults (CPU faults, device faults through PRI) and their responses. */
    FAULT("fault"),
    /** System calls from user tasks into the kernel's mm (munmap) and their returns. */
    SYSCALL("syscall"),
    /** Page-table changes, VMAs, tlb_gen and frame lifecycle, as the coordinator makes them. */
    PAGETABLE("pagetable"),
    /** Node-local facts: TLB, IOTLB and ATC fills, memory and DMA accesses, task lifecycle. */
    TRACE("trace"),
    /** Run control: run start and completion, timers, quiescence. */
    CONTROL("control"),
    /** Faults injected by a fault plan, model or infrastructure: facts, delivered to no node. */
    INJECTION("injection");

    private final String topicSuffix;

    Family(String topicSuffix) {
        this.topicSuffix = topicSuffix;
    }

    /** The last component of this family's topic name. */
    public String topicSuffix() {
        return topicSuffix;
    }
}
