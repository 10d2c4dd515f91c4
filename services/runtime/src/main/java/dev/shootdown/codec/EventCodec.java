package dev.shootdown.codec;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.exc.InvalidTypeIdException;
import com.fasterxml.jackson.databind.json.JsonMapper;
import dev.shootdown.event.Envelope;
import dev.shootdown.event.Event;
import dev.shootdown.event.VectorClock;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.Arrays;
import java.util.TreeMap;

/**
 * JSON encoding of envelopes, one line each. Deterministic: record components in declaration
 * order, maps sorted. Thread-safe.
 */
public final class EventCodec {

    private static final ObjectMapper MAPPER = JsonMapper.builder()
            .enable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES)
            .enable(DeserializationFeature.FAIL_ON_NULL_FOR_PRIMITIVES)
            .enable(SerializationFeature.ORDER_MAP_ENTRIES_BY_KEYS)
            .build();

    private EventCodec() {}

    /** The shared mapper, configured for the log format (also for reports). */
    public static ObjectMapper mapper() {
        return MAPPER;
    }

    public static String encode(Envelope envelope) {
        try {
            return MAPPER.writeValueAsString(envelope);
        } catch (JsonProcessingException e) {
            throw new UncheckedIOException("cannot encode " + envelope.id(), e);
        }
    }

    /** Decodes one log line; a bad line gets a one-line reason. */
    public static Envelope decode(String line) throws LogFormatException {
        Envelope e = decodeCanonical(line);
        if (e == null) {
            e = decodeGeneral(line);
        }
        return checkSchema(e);
    }

    private static Envelope checkSchema(Envelope e) throws LogFormatException {
        if (e.schema() > Envelope.SCHEMA_VERSION) {
            throw new LogFormatException("schema version " + e.schema() + " is newer than this build reads ("
                    + Envelope.SCHEMA_VERSION + ")", null);
        }
        return e;
    }

    /**
     * Decodes one log line held in {@code chars} (from {@code offset}, {@code length} of them),
     * as {@link #decode(String)} does, without making a {@code String} of a line the fast way
     * reads. The array is only read, and only during the call.
     */
    public static Envelope decode(char[] chars, int offset, int length) throws LogFormatException {
        Envelope e;
        try (JsonParser p = MAPPER.getFactory().createParser(chars, offset, length)) {
            e = decodeCanonical(p);
        } catch (IOException | RuntimeException ex) {
            e = null;
        }
        if (e == null) {
            e = decodeGeneral(new String(chars, offset, length));
        }
        return checkSchema(e);
    }

    /** Jackson's data binding of the whole line: any field order, and the reasons a bad line gets. */
    static Envelope decodeGeneral(String line) throws LogFormatException {
        try {
            return MAPPER.readValue(line, Envelope.class);
        } catch (InvalidTypeIdException e) {
            throw new LogFormatException("unknown event type '" + e.getTypeId() + "'", e);
        } catch (JsonProcessingException e) {
            throw new LogFormatException(e.getOriginalMessage(), e);
        }
    }

    /**
     * The fast way, for a line as {@link #encode} writes it: the envelope's fields in declaration
     * order, the clock's and the links' keys strictly ascending, read token by token with no
     * intermediate map or boxed number, the event by {@link EventRecordDecoder}. Null for
     * anything else (another field order, a null or a fraction where a number belongs, trailing
     * tokens, any error), which {@link #decodeGeneral} then decodes, or rejects with its reason,
     * as it always did: both ways give equal envelopes. The audit's profile (BENCHMARKS.md): data
     * binding the envelope with its two maps cost more than Jackson's whole tree parse of the line.
     */
    static Envelope decodeCanonical(String line) {
        try (JsonParser p = MAPPER.getFactory().createParser(line)) {
            return decodeCanonical(p);
        } catch (IOException | RuntimeException e) {
            return null; // the general way decodes it, or says what is wrong with it
        }
    }

    /** {@link #decodeCanonical(String)} from a parser on the line; may throw where it would answer null. */
    private static Envelope decodeCanonical(JsonParser p) throws IOException {
        if (p.nextToken() != JsonToken.START_OBJECT) {
            return null;
        }
        String run = stringField(p, "run");
        String node = stringField(p, "node");
        if (run == null || node == null || !isField(p, "seq") || p.nextToken() != JsonToken.VALUE_NUMBER_INT
                || p.getNumberType() == JsonParser.NumberType.BIG_INTEGER) {
            return null;
        }
        long seq = p.getLongValue();
        if (!isField(p, "schema") || p.nextToken() != JsonToken.VALUE_NUMBER_INT
                || p.getNumberType() != JsonParser.NumberType.INT) {
            return null;
        }
        int schema = p.getIntValue();
        if (!isField(p, "timeNs") || p.nextToken() != JsonToken.VALUE_NUMBER_INT
                || p.getNumberType() == JsonParser.NumberType.BIG_INTEGER) {
            return null;
        }
        long timeNs = p.getLongValue();
        if (!isField(p, "clock") || p.nextToken() != JsonToken.START_OBJECT) {
            return null;
        }
        VectorClock clock = readClock(p);
        if (clock == null || !isField(p, "cause")) {
            return null;
        }
        JsonToken causeToken = p.nextToken();
        String cause;
        if (causeToken == JsonToken.VALUE_STRING) {
            cause = p.getText();
        } else if (causeToken == JsonToken.VALUE_NULL) {
            cause = null;
        } else {
            return null;
        }
        if (!isField(p, "links") || p.nextToken() != JsonToken.START_OBJECT) {
            return null;
        }
        TreeMap<String, Long> links = readLinks(p);
        if (links == null || !isField(p, "event") || p.nextToken() != JsonToken.START_OBJECT) {
            return null;
        }
        Event event = EventRecordDecoder.decode(p);
        if (event == null || p.nextToken() != JsonToken.END_OBJECT || p.nextToken() != null) {
            return null;
        }
        return new Envelope(run, node, seq, schema, timeNs, clock, cause, links, event);
    }

    /** The value of the next field, which must be {@code name} and a string; null otherwise. */
    private static String stringField(JsonParser p, String name) throws IOException {
        return isField(p, name) && p.nextToken() == JsonToken.VALUE_STRING ? p.getText() : null;
    }

    /** True when the next token is the field {@code name} (names are interned by the parser, but equals is cheap). */
    private static boolean isField(JsonParser p, String name) throws IOException {
        return p.nextToken() == JsonToken.FIELD_NAME && name.equals(p.currentName());
    }

    /** A clock object's entries, strictly ascending, as long values; null for anything else. */
    private static VectorClock readClock(JsonParser p) throws IOException {
        String[] nodes = new String[8];
        long[] seqs = new long[8];
        int n = 0;
        for (JsonToken t = p.nextToken(); t != JsonToken.END_OBJECT; t = p.nextToken()) {
            if (t != JsonToken.FIELD_NAME) {
                return null;
            }
            String key = p.currentName();
            if (p.nextToken() != JsonToken.VALUE_NUMBER_INT || p.getNumberType() == JsonParser.NumberType.BIG_INTEGER) {
                return null;
            }
            if (n == nodes.length) {
                nodes = Arrays.copyOf(nodes, n * 2);
                seqs = Arrays.copyOf(seqs, n * 2);
            }
            nodes[n] = key;
            seqs[n++] = p.getLongValue();
        }
        String[] previous = LAST_CLOCK_NODES.get();
        boolean same = previous.length == n;
        for (int i = 0; same && i < n; i++) {
            same = previous[i] == nodes[i]; // names come interned from the parser
        }
        String[] kept = same ? previous : Arrays.copyOf(nodes, n);
        VectorClock clock = VectorClock.ofSorted(kept, Arrays.copyOf(seqs, n));
        if (clock != null && !same) {
            LAST_CLOCK_NODES.set(kept);
        }
        return clock;
    }

    /**
     * The node ids of the last clock decoded on this thread: consecutive clocks nearly always
     * name the same nodes, and a clock's id array is never changed, so they share it.
     */
    private static final ThreadLocal<String[]> LAST_CLOCK_NODES = ThreadLocal.withInitial(() -> new String[0]);

    /** A links object, keys strictly ascending, long values; null for anything else. */
    private static TreeMap<String, Long> readLinks(JsonParser p) throws IOException {
        TreeMap<String, Long> links = new TreeMap<>();
        String last = null;
        for (JsonToken t = p.nextToken(); t != JsonToken.END_OBJECT; t = p.nextToken()) {
            if (t != JsonToken.FIELD_NAME) {
                return null;
            }
            String key = p.currentName();
            if ((last != null && last.compareTo(key) >= 0) || p.nextToken() != JsonToken.VALUE_NUMBER_INT
                    || p.getNumberType() == JsonParser.NumberType.BIG_INTEGER) {
                return null;
            }
            links.put(key, p.getLongValue());
            last = key;
        }
        return links;
    }
}
