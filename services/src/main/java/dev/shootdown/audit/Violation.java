package dev.shootdown.audit;

import java.util.List;

/**
 * One broken invariant.
 *
 * @param kind        {@code use-after-free}, {@code missing-secondary-invalidation},
 *                    {@code missing-cpu-invalidation}, ...
 * @param node        the node whose cache or access is at fault
 * @param mm          the address space
 * @param va          the virtual address, hex
 * @param events      ids of the events that prove it, in causal order
 * @param explanation one line a kernel developer can follow
 */
public record Violation(String kind, String node, long mm, String va, List<String> events, String explanation) {
    public Violation {
        events = List.copyOf(events);
    }
}
