package dev.shootdown.event;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.annotation.JsonSubTypes;
import dev.shootdown.codec.EventCodec;
import dev.shootdown.codec.LogFormatException;
import dev.shootdown.kernel.KernelVariant;
import dev.shootdown.kernel.file.KernelFiles;
import dev.shootdown.scenario.Scenario;
import dev.shootdown.scenario.Scenarios;
import dev.shootdown.scenario.TaskOp;
import java.lang.reflect.RecordComponent;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;

class EventModelTest {

    /** Every concrete record reachable through the sealed hierarchy under Event. */
    private static Set<Class<?>> permittedRecords(Class<?> type) {
        Set<Class<?>> out = new HashSet<>();
        if (type.isRecord()) {
            out.add(type);
            return out;
        }
        assertTrue(type.isSealed(), type + " must be sealed");
        for (Class<?> sub : type.getPermittedSubclasses()) {
            out.addAll(permittedRecords(sub));
        }
        return out;
    }

    private static Map<Class<?>, String> declaredSubtypes() {
        Map<Class<?>, String> names = new java.util.HashMap<>();
        for (JsonSubTypes.Type t : Event.class.getAnnotation(JsonSubTypes.class).value()) {
            assertTrue(names.put(t.value(), t.name()) == null, t.value() + " is declared twice");
        }
        return names;
    }

    @Test
    void jsonSubtypesListExactlyThePermittedRecords() {
        assertEquals(permittedRecords(Event.class), declaredSubtypes().keySet());
    }

    @Test
    void typeNamesAreStableKebabCaseAndUnique() {
        Set<String> seen = new HashSet<>();
        for (String name : declaredSubtypes().values()) {
            assertTrue(name.matches("[a-z][a-z0-9-]*"), "type name '" + name + "' is not kebab-case");
            assertTrue(seen.add(name), "type name '" + name + "' is used twice");
        }
    }

    @Test
    void everyEventRoundTripsThroughTheCodec() throws Exception {
        for (Class<?> type : permittedRecords(Event.class)) {
            Event event = (Event) sample(type);
            Envelope envelope = new Envelope("r1", "cpu0", 3, Envelope.SCHEMA_VERSION, 1234,
                    new VectorClock(new TreeMap<>(Map.of("cpu0", 3L, "coordinator", 9L))), "coordinator#9",
                    new TreeMap<>(Map.of("coordinator", 2L)), event);
            String line = EventCodec.encode(envelope);
            assertTrue(line.contains("\"type\":\"" + declaredSubtypes().get(type) + "\""), line);
            assertEquals(envelope, EventCodec.decode(line), type.getSimpleName());
            assertEquals(line, EventCodec.encode(EventCodec.decode(line)), "encoding is stable for " + type.getSimpleName());
        }
    }

    @Test
    void unknownTypeAndNewerSchemaAreRejectedWithAReason() {
        String good = EventCodec.encode(new Envelope("r", "coordinator", 1, 1, 0, VectorClock.EMPTY.with("coordinator", 1), null,
                null, new PageTableEvent.MmCreated(1)));
        LogFormatException unknown = assertThrows(LogFormatException.class,
                () -> EventCodec.decode(good.replace("mm-created", "mm-exploded")));
        assertTrue(unknown.getMessage().contains("mm-exploded"), unknown.getMessage());
        LogFormatException newer = assertThrows(LogFormatException.class,
                () -> EventCodec.decode(good.replace("\"schema\":1", "\"schema\":" + (Envelope.SCHEMA_VERSION + 1))));
        assertTrue(newer.getMessage().contains("schema version " + (Envelope.SCHEMA_VERSION + 1)), newer.getMessage());
        assertThrows(LogFormatException.class, () -> EventCodec.decode(good.substring(0, good.length() / 2)));
    }

    @Test
    void happensBeforeFollowsTheVectorClock() {
        Envelope a = new Envelope("r", "cpu0", 2, 1, 0, VectorClock.EMPTY.with("cpu0", 2), null, null, new PageTableEvent.MmCreated(1));
        Envelope b = new Envelope("r", "coordinator", 5, 1, 0, VectorClock.EMPTY.with("cpu0", 2).with("coordinator", 5), null, null,
                new PageTableEvent.MmCreated(1));
        Envelope c = new Envelope("r", "cpu1", 1, 1, 0, VectorClock.EMPTY.with("cpu1", 1).with("cpu0", 1), null, null,
                new PageTableEvent.MmCreated(1));
        assertTrue(a.happenedBefore(b));
        assertTrue(!b.happenedBefore(a));
        assertTrue(!a.happenedBefore(c) && !c.happenedBefore(a), "concurrent events are ordered neither way");
        assertTrue(!a.happenedBefore(a));
    }

    /** A value of every type the event model uses, so each record can be built reflectively. */
    private static Object sample(Class<?> type) throws Exception {
        if (type == String.class) {
            return "cpu1";
        } else if (type == long.class || type == Long.class) {
            return 0x7f0000001000L;
        } else if (type == int.class || type == Integer.class) {
            return 7;
        } else if (type == boolean.class) {
            return true;
        } else if (type == java.util.SortedMap.class) {
            return new java.util.TreeMap<>(java.util.Map.of("tlb_flush", 3L, "tuf (try_to_unmap_flush)", 1L));
        } else if (type.isEnum()) {
            Object[] constants = type.getEnumConstants();
            return constants[constants.length - 1];
        } else if (type == Scenario.class) {
            return Scenarios.munmapDma();
        } else if (type == KernelVariant.class) {
            return KernelFiles.builtIn("series-v2").orElseThrow(); // extends linux-6.6: every kind of rule, hooks and none
        } else if (type == List.class) {
            return List.of(new TaskOp.Munmap(0x1000, 2));
        } else if (type.isRecord()) {
            RecordComponent[] components = type.getRecordComponents();
            Object[] args = new Object[components.length];
            Class<?>[] types = new Class<?>[components.length];
            for (int i = 0; i < components.length; i++) {
                types[i] = components[i].getType();
                java.lang.reflect.Type generic = components[i].getGenericType();
                if (types[i] == List.class && generic instanceof java.lang.reflect.ParameterizedType p
                        && p.getActualTypeArguments()[0] instanceof Class<?> element && element != TaskOp.class) {
                    args[i] = List.of(sample(element)); // a list of the element type the record declares
                } else {
                    args[i] = components[i].getName().equals("commands") ? List.of("CMD_SYNC") : sample(types[i]);
                }
            }
            Object value = type.getDeclaredConstructor(types).newInstance(args);
            assertNotNull(value);
            return value;
        }
        throw new AssertionError("no sample for " + type + "; extend sample()");
    }

    @Test
    void listsAreCopiedDefensively() {
        List<TaskOp> program = new ArrayList<>(List.of(new TaskOp.Munmap(0x1000, 1)));
        IpiEvent.TaskScheduled t = new IpiEvent.TaskScheduled("cpu0", 1, 1, 0, program);
        program.clear();
        assertEquals(1, t.program().size());
    }
}
