package dev.shootdown.event;

/** Node identities. Ids are short strings so logs stay readable: {@code cpu0}, {@code iommu0}. */
public final class NodeIds {
    /** The kernel's mm: page tables, flush policy, reclaim, fault handling. */
    public static final String COORDINATOR = "coordinator";
    /** The run controller: starts a run and waits for every node to quiesce. */
    public static final String CONTROL = "control";
    /**
     * The fault injector of the hosts: it records each infrastructure fault it does (a node
     * killed, a link delayed, the broker restarted) as an event of its own, which no node receives.
     */
    public static final String INJECTOR = "injector";

    private NodeIds() {}

    public static String cpu(int index) {
        return "cpu" + index;
    }

    public static String iommu(int index) {
        return "iommu" + index;
    }

    /** The CPU number of a cpu node id ({@code cpu3} -> 3). */
    public static int cpuIndex(String nodeId) {
        if (!nodeId.startsWith("cpu")) {
            throw new IllegalArgumentException("not a cpu node id: " + nodeId);
        }
        return Integer.parseInt(nodeId.substring(3));
    }
}
