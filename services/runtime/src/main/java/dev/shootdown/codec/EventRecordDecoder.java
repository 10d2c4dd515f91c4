package dev.shootdown.codec;

import com.fasterxml.jackson.annotation.JsonTypeInfo;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import dev.shootdown.event.Event;
import dev.shootdown.event.EventType;
import java.io.IOException;
import java.lang.annotation.Annotation;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;
import java.lang.reflect.Field;
import java.lang.reflect.ParameterizedType;
import java.lang.reflect.RecordComponent;
import java.lang.reflect.Type;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Decodes an event object as {@link EventCodec#encode} writes it, token by token: the type id
 * first, then every record component in declaration order, each of the JSON type Jackson writes
 * for it; the record is built with its canonical constructor, as Jackson's data binding builds it.
 * Only events whose components are all {@code long}, {@code int}, {@code boolean}, {@code String},
 * an {@code Integer} (a number or null), a plain enum (no Jackson annotation), a {@code List<String>}, a
 * {@code List<Long>} or a list of records of those
 * (not events themselves) have a decoder; for the others,
 * and for any object not in that exact shape, {@link #decode} answers null and the caller decodes
 * the line with data binding. Thread-safe: built once, immutable.
 */
final class EventRecordDecoder {

    private enum Kind { LONG, INT, BOXED_INT, BOOLEAN, STRING, ENUM, STRING_LIST, LONG_LIST, RECORD_LIST }

    /** One record component: its JSON name, its kind, an enum's constants by name, a list's element shape. */
    private record Component(String name, Kind kind, Map<String, Object> constants, RecordShape element) {}

    private record RecordShape(Component[] components, MethodHandle constructor) {}

    /** By type id; absent for events that only data binding decodes. */
    private static final Map<String, RecordShape> SHAPES = shapes();

    private EventRecordDecoder() {}

    /**
     * The event whose object starts at the parser's current token ({@code START_OBJECT}), leaving
     * the parser on its {@code END_OBJECT}; null when it is not in the shape above (the parser is
     * then somewhere inside it).
     */
    static Event decode(JsonParser p) throws IOException {
        if (p.nextToken() != JsonToken.FIELD_NAME || !"type".equals(p.currentName()) || p.nextToken() != JsonToken.VALUE_STRING) {
            return null;
        }
        RecordShape shape = SHAPES.get(p.getText());
        return shape == null ? null : (Event) fields(p, shape);
    }

    /** The rest of a record's object, its components from the next token on, up to its END_OBJECT; null when not in shape. */
    private static Object fields(JsonParser p, RecordShape shape) throws IOException {
        Component[] components = shape.components();
        Object[] args = new Object[components.length];
        for (int i = 0; i < components.length; i++) {
            Component c = components[i];
            if (p.nextToken() != JsonToken.FIELD_NAME || !c.name().equals(p.currentName())) {
                return null;
            }
            JsonToken t = p.nextToken();
            Object value;
            switch (c.kind()) {
                case LONG -> {
                    if (t != JsonToken.VALUE_NUMBER_INT || p.getNumberType() == JsonParser.NumberType.BIG_INTEGER) {
                        return null;
                    }
                    value = p.getLongValue();
                }
                case INT -> {
                    if (t != JsonToken.VALUE_NUMBER_INT || p.getNumberType() != JsonParser.NumberType.INT) {
                        return null;
                    }
                    value = p.getIntValue();
                }
                case BOXED_INT -> {
                    if (t == JsonToken.VALUE_NULL) {
                        value = null;
                    } else if (t == JsonToken.VALUE_NUMBER_INT && p.getNumberType() == JsonParser.NumberType.INT) {
                        value = p.getIntValue();
                    } else {
                        return null;
                    }
                }
                case BOOLEAN -> {
                    if (t != JsonToken.VALUE_TRUE && t != JsonToken.VALUE_FALSE) {
                        return null;
                    }
                    value = t == JsonToken.VALUE_TRUE;
                }
                case STRING -> {
                    if (t == JsonToken.VALUE_STRING) {
                        value = p.getText();
                    } else if (t == JsonToken.VALUE_NULL) {
                        value = null;
                    } else {
                        return null;
                    }
                }
                case ENUM -> {
                    value = t == JsonToken.VALUE_STRING ? c.constants().get(p.getText()) : null;
                    if (value == null) {
                        return null;
                    }
                }
                case STRING_LIST -> {
                    if (t != JsonToken.START_ARRAY) {
                        return null;
                    }
                    List<String> list = new ArrayList<>();
                    for (t = p.nextToken(); t != JsonToken.END_ARRAY; t = p.nextToken()) {
                        if (t != JsonToken.VALUE_STRING) {
                            return null;
                        }
                        list.add(p.getText());
                    }
                    value = list;
                }
                case LONG_LIST -> {
                    if (t != JsonToken.START_ARRAY) {
                        return null;
                    }
                    List<Long> list = new ArrayList<>();
                    for (t = p.nextToken(); t != JsonToken.END_ARRAY; t = p.nextToken()) {
                        if (t != JsonToken.VALUE_NUMBER_INT || p.getNumberType() == JsonParser.NumberType.BIG_INTEGER) {
                            return null;
                        }
                        list.add(p.getLongValue());
                    }
                    value = list;
                }
                case RECORD_LIST -> {
                    if (t != JsonToken.START_ARRAY) {
                        return null;
                    }
                    List<Object> list = new ArrayList<>();
                    for (t = p.nextToken(); t != JsonToken.END_ARRAY; t = p.nextToken()) {
                        Object element = t == JsonToken.START_OBJECT ? fields(p, c.element()) : null;
                        if (element == null) {
                            return null;
                        }
                        list.add(element);
                    }
                    value = list;
                }
                default -> throw new IllegalStateException("unhandled component kind " + c.kind());
            }
            args[i] = value;
        }
        if (p.nextToken() != JsonToken.END_OBJECT) {
            return null;
        }
        try {
            return shape.constructor().invokeExact(args);
        } catch (RuntimeException e) {
            return null; // the record refused the values: data binding says why
        } catch (Error e) {
            throw e;
        } catch (Throwable e) {
            throw new IllegalStateException("constructing a record of " + shape.constructor() + " failed", e);
        }
    }

    /** A shape per event type whose components all have a kind. */
    private static Map<String, RecordShape> shapes() {
        Map<String, RecordShape> shapes = new HashMap<>();
        for (EventType type : EventType.values()) {
            RecordShape shape = shape(type.eventClass());
            if (shape != null) {
                shapes.put(type.typeName(), shape);
            }
        }
        return Map.copyOf(shapes);
    }

    /** The shape of a record Jackson reads by its canonical constructor, no annotation changing how; null for another class. */
    private static RecordShape shape(Class<?> record) {
        if (!record.isRecord() || jacksonAnnotated(record.getAnnotations())) {
            return null;
        }
        for (var m : record.getDeclaredMethods()) {
            if (jacksonAnnotated(m.getAnnotations())) {
                return null;
            }
        }
        for (var k : record.getDeclaredConstructors()) {
            if (jacksonAnnotated(k.getAnnotations())) {
                return null;
            }
        }
        RecordComponent[] rcs = record.getRecordComponents();
        Component[] components = new Component[rcs.length];
        Class<?>[] types = new Class<?>[rcs.length];
        for (int i = 0; i < rcs.length; i++) {
            RecordComponent rc = rcs[i];
            if (jacksonAnnotated(rc.getAnnotations()) || jacksonAnnotated(rc.getAccessor().getAnnotations())) {
                return null;
            }
            Kind kind = kindOf(rc.getGenericType());
            RecordShape element = null;
            if (kind == Kind.RECORD_LIST) {
                Class<?> of = (Class<?>) ((ParameterizedType) rc.getGenericType()).getActualTypeArguments()[0];
                element = Event.class.isAssignableFrom(of) || of.isAnnotationPresent(JsonTypeInfo.class) ? null : shape(of);
                if (element == null) {
                    return null;
                }
            }
            if (kind == null) {
                return null;
            }
            components[i] = new Component(rc.getName(), kind, kind == Kind.ENUM ? constants(rc.getType()) : Map.of(), element);
            types[i] = rc.getType();
        }
        try {
            MethodHandle constructor = MethodHandles.publicLookup()
                    .findConstructor(record, MethodType.methodType(void.class, types))
                    .asSpreader(Object[].class, types.length)
                    .asType(MethodType.methodType(Object.class, Object[].class));
            return new RecordShape(components, constructor);
        } catch (ReflectiveOperationException | IllegalArgumentException e) {
            return null; // not publicly constructible: data binding decodes it
        }
    }

    private static Kind kindOf(Type type) {
        if (type == long.class) {
            return Kind.LONG;
        }
        if (type == int.class) {
            return Kind.INT;
        }
        if (type == boolean.class) {
            return Kind.BOOLEAN;
        }
        if (type == Integer.class) {
            return Kind.BOXED_INT;
        }
        if (type == String.class) {
            return Kind.STRING;
        }
        if (type instanceof Class<?> c && c.isEnum() && plainEnum(c)) {
            return Kind.ENUM;
        }
        if (type instanceof ParameterizedType pt && pt.getRawType() == List.class) {
            Type of = pt.getActualTypeArguments()[0];
            if (of == String.class) {
                return Kind.STRING_LIST;
            }
            if (of == Long.class) {
                return Kind.LONG_LIST;
            }
            if (of instanceof Class<?> c && c.isRecord()) {
                return Kind.RECORD_LIST;
            }
        }
        return null;
    }

    /** An enum Jackson writes and reads by {@code name()}: no Jackson annotation on it or its constants. */
    private static boolean plainEnum(Class<?> e) {
        if (jacksonAnnotated(e.getAnnotations())) {
            return false;
        }
        for (Field f : e.getDeclaredFields()) {
            if (jacksonAnnotated(f.getAnnotations())) {
                return false;
            }
        }
        for (var m : e.getDeclaredMethods()) {
            if (jacksonAnnotated(m.getAnnotations())) {
                return false;
            }
        }
        return true;
    }

    private static boolean jacksonAnnotated(Annotation[] annotations) {
        for (Annotation a : annotations) {
            // @JsonInclude only leaves a value out of what is written; a line that has it reads the same
            if (a.annotationType().getPackageName().startsWith("com.fasterxml.jackson")
                    && a.annotationType() != com.fasterxml.jackson.annotation.JsonInclude.class) {
                return true;
            }
        }
        return false;
    }

    private static Map<String, Object> constants(Class<?> e) {
        Map<String, Object> byName = new HashMap<>();
        for (Object constant : e.getEnumConstants()) {
            byName.put(((Enum<?>) constant).name(), constant);
        }
        return Map.copyOf(byName);
    }
}
