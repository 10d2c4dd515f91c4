package dev.shootdown.log;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.shootdown.event.Envelope;
import dev.shootdown.event.PageTableEvent;
import dev.shootdown.testing.LogBuilder;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

class CausalOrderTest {

    private static List<Envelope> sampleLog() {
        LogBuilder b = new LogBuilder("r");
        Envelope a1 = b.emit("a", 10, new PageTableEvent.MmCreated(1));
        Envelope b1 = b.emit("b", 5, new PageTableEvent.MmCreated(2));
        Envelope a2 = b.emit("a", 20, new PageTableEvent.MmCreated(3), b1);
        // c1 is earlier in simulated time than a2 but causally after it.
        b.emit("c", 1, new PageTableEvent.MmCreated(4), a2);
        b.emit("b", 30, new PageTableEvent.MmCreated(5), a1);
        return b.log();
    }

    @Test
    void theStreamRefusesTimeGoingBackARepeatAndEndsOnAGap() {
        LogBuilder b = new LogBuilder("r");
        Envelope a1 = b.emit("a", 10, new PageTableEvent.MmCreated(1));
        Envelope a2 = b.emit("a", 20, new PageTableEvent.MmCreated(2));
        Envelope c1 = b.emit("c", 5, new PageTableEvent.MmCreated(3), a2);
        Envelope a3 = b.emit("a", 30, new PageTableEvent.MmCreated(4));
        List<Envelope> out = new ArrayList<>();

        CausalOrder.Stream back = new CausalOrder.Stream(out::add);
        back.accept(a1);
        back.accept(a2);
        IllegalStateException earlier = assertThrows(IllegalStateException.class, () -> back.accept(c1));
        assertEquals("event c#1 at 5 ns comes after one at 20 ns: the stream's simulated times must not decrease",
                earlier.getMessage());
        assertEquals(List.of(a1), out, "a#1 is let out once a later instant is seen; a#2 is held");

        CausalOrder.Stream twice = new CausalOrder.Stream(e -> {});
        twice.accept(a1);
        twice.accept(a2);
        assertThrows(IllegalStateException.class, () -> twice.accept(a1), "already let out");
        assertThrows(IllegalStateException.class, () -> twice.accept(a2), "held");

        CausalOrder.Stream gap = new CausalOrder.Stream(e -> {});
        gap.accept(a1);
        gap.accept(a3);
        IllegalStateException missing = assertThrows(IllegalStateException.class, gap::finish);
        assertEquals("the log has a gap: event a#2 is not in the log; a#3, the next event of a, follows it", missing.getMessage());
    }

    @Test
    void anyShuffleSortsToTheSameCausalOrder() {
        List<Envelope> canonical = CausalOrder.sort(sampleLog(), e -> e);
        for (int seed = 0; seed < 50; seed++) {
            List<Envelope> shuffled = new ArrayList<>(sampleLog());
            Collections.shuffle(shuffled, new Random(seed));
            assertEquals(canonical, CausalOrder.sort(shuffled, e -> e));
        }
        for (int i = 0; i < canonical.size(); i++) {
            for (int j = i + 1; j < canonical.size(); j++) {
                assertTrue(!canonical.get(j).happenedBefore(canonical.get(i)), "causality violated at " + i + "," + j);
            }
        }
        assertEquals("b#1", canonical.get(0).id(), "ties between concurrent events go to the earlier time");
    }

    @Test
    void aMissingEventIsNamed() {
        List<Envelope> log = new ArrayList<>(sampleLog());
        log.removeIf(e -> e.id().equals("a#2"));
        IllegalArgumentException gap = assertThrows(IllegalArgumentException.class, () -> CausalOrder.sort(log, e -> e));
        assertTrue(gap.getMessage().contains("a#2"), gap.getMessage());
    }

    @Test
    void aDuplicatedEventIsNamed() {
        List<Envelope> log = new ArrayList<>(sampleLog());
        log.add(log.get(1));
        IllegalArgumentException dup = assertThrows(IllegalArgumentException.class, () -> CausalOrder.sort(log, e -> e));
        assertTrue(dup.getMessage().contains("b#1"), dup.getMessage());
    }

    @Test
    void aMissingEventLeavesEverythingThatDependsOnItUnplacedAndTheRestOrdered() {
        List<Envelope> log = new ArrayList<>(sampleLog());
        log.removeIf(e -> e.id().equals("a#2"));

        CausalOrder.Partial<Envelope> p = CausalOrder.sortPartially(log, e -> e);

        // c#1 depends on a#2; a#1, b#1 and b#2 do not.
        assertEquals(List.of("b#1", "a#1", "b#2"), p.ordered().stream().map(Envelope::id).toList());
        assertEquals(List.of("c#1"), p.blocked().stream().map(Envelope::id).toList());
        assertTrue(p.gap().contains("a#2"), p.gap());
    }
}
