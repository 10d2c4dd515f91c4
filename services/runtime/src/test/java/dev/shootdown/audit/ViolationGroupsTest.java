package dev.shootdown.audit;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** {@link ViolationGroups}: one entry per shootdown and kind, in bounded memory. */
class ViolationGroupsTest {

    private static Violation v(long shootdown, String kind, String node, String va) {
        return new Violation(kind, node, 1, va, List.of(node + "#1"), kind + " at " + va, shootdown);
    }

    @Test
    void violationsOfOneKindInOneShootdownAreOneEntryWithTheirCountNodesAndAddressRange() {
        ViolationGroups g = new ViolationGroups();
        g.add(v(1, "use-after-free", "iommu0", "0x7f0000003000"));
        g.add(v(1, "use-after-free", "iommu1", "0x7f0000000000"));
        g.add(v(2, "use-after-free", "iommu0", "0x7f0000010000"));
        g.add(v(1, "use-after-free", "iommu0", "0x7f000000a000"));
        g.add(v(0, "fault-livelock", "iommu0", "0x7f0000000000"));

        assertEquals(Map.of("use-after-free", 4L, "fault-livelock", 1L), g.byKind());
        assertEquals(List.of(
                new ViolationGroup(1, "use-after-free", 3, List.of("iommu0", "iommu1"), List.of(1L), "0x7f0000000000",
                        "0x7f000000a000", v(1, "use-after-free", "iommu0", "0x7f0000003000")),
                new ViolationGroup(2, "use-after-free", 1, List.of("iommu0"), List.of(1L), "0x7f0000010000", "0x7f0000010000",
                        v(2, "use-after-free", "iommu0", "0x7f0000010000")),
                new ViolationGroup(0, "fault-livelock", 1, List.of("iommu0"), List.of(1L), "0x7f0000000000", "0x7f0000000000",
                        v(0, "fault-livelock", "iommu0", "0x7f0000000000"))), g.groups());
        assertEquals(List.of("use-after-free", "fault-livelock"), g.firstOfEachKind().stream().map(Violation::kind).toList());
    }

    @Test
    void addressesCompareByValueNotAsText() {
        ViolationGroups g = new ViolationGroups();
        g.add(v(1, "k", "n", "0xffff800000000000"));
        g.add(v(1, "k", "n", "0x9000"));
        g.add(v(1, "k", "n", "0x10000"));

        assertEquals("0x9000", g.groups().get(0).lowestVa());
        assertEquals("0xffff800000000000", g.groups().get(0).highestVa());
    }

    @Test
    void beyondTheGroupsKeptTheRestAreCountedAndTheNodesNamedAreBounded() {
        ViolationGroups g = new ViolationGroups();
        for (int i = 1; i <= ViolationGroups.MAX_GROUPS + 5; i++) {
            g.add(v(i, "k", "n", "0x1000"));
        }
        for (int i = 0; i < 20; i++) {
            g.add(v(1, "k", "node" + i, "0x1000"));
        }

        assertEquals(ViolationGroups.MAX_GROUPS, g.groups().size());
        assertEquals(5, g.groupsNotKept());
        assertEquals(ViolationGroups.MAX_GROUPS + 25L, g.byKind().get("k"));
        assertEquals(21, g.groups().get(0).count());
        assertEquals(ViolationGroups.MAX_NODES, g.groups().get(0).nodes().size());
    }
}
