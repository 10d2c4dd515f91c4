package dev.shootdown.audit;

import java.util.List;

/**
 * The violations of one kind found in one shootdown (or outside any: {@code shootdown} 0), as
 * one entry: how many, on which nodes and address spaces, over which addresses, and the first
 * of them as the witness a person reads.
 *
 * @param shootdown the shootdown they belong to, or 0
 * @param kind      the violation kind
 * @param count     how many were found
 * @param nodes     the nodes at fault, in order (at most {@link ViolationGroups#MAX_NODES})
 * @param mms       the address spaces, in order
 * @param lowestVa  the lowest address, hex
 * @param highestVa the highest address, hex
 * @param first     the first one found
 */
public record ViolationGroup(long shootdown, String kind, long count, List<String> nodes, List<Long> mms, String lowestVa,
        String highestVa, Violation first) {
    public ViolationGroup {
        nodes = List.copyOf(nodes);
        mms = List.copyOf(mms);
    }
}
