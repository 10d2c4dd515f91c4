package dev.shootdown.codec;

import dev.shootdown.scenario.Scenario;
import dev.shootdown.scenario.Scenarios;
import dev.shootdown.scenario.TaskOp;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.ParameterizedType;
import java.lang.reflect.RecordComponent;
import java.util.List;

/** A value of every type the event model uses (as EventModelTest builds them), two list elements each. */
public final class EventSamples {

    private EventSamples() {}

    public static Object sample(Class<?> type) throws Exception {
        return sample(type, false);
    }

    /**
     * As {@link #sample(Class)}; with {@code nulls}, the record's own boxed number and boolean
     * components are null where its constructor takes a null.
     */
    public static Object sample(Class<?> type, boolean nulls) throws Exception {
        if (type == String.class) {
            return "cpu1";
        } else if (type == long.class || type == Long.class) {
            return 0x7f0000001000L;
        } else if (type == int.class || type == Integer.class) {
            return 7;
        } else if (type == boolean.class || type == Boolean.class) {
            return true;
        } else if (type == java.util.SortedMap.class) {
            return new java.util.TreeMap<>(java.util.Map.of("tlb_flush", 3L, "tuf (try_to_unmap_flush)", 1L));
        } else if (type.isEnum()) {
            Object[] constants = type.getEnumConstants();
            return constants[constants.length - 1];
        } else if (type == Scenario.class) {
            return Scenarios.munmapDma();
        } else if (type.isRecord()) {
            RecordComponent[] components = type.getRecordComponents();
            Object[] args = new Object[components.length];
            Class<?>[] types = new Class<?>[components.length];
            for (int i = 0; i < components.length; i++) {
                types[i] = components[i].getType();
                if (types[i] == List.class) {
                    Class<?> element = (Class<?>) ((ParameterizedType) components[i].getGenericType()).getActualTypeArguments()[0];
                    args[i] = element == TaskOp.class ? List.of(new TaskOp.Munmap(0x1000, 2))
                            : element == String.class ? List.of("TLBI_NH_VA", "CMD_SYNC") : List.of(sample(element), sample(element));
                } else if (nulls && (types[i] == Long.class || types[i] == Integer.class || types[i] == Boolean.class)) {
                    args[i] = null;
                } else {
                    args[i] = sample(types[i]);
                }
            }
            try {
                return type.getDeclaredConstructor(types).newInstance(args);
            } catch (InvocationTargetException refused) {
                if (nulls) {
                    return sample(type, false);
                }
                throw refused;
            }
        }
        throw new AssertionError("no sample for " + type + "; extend sample()");
    }
}
