package dev.shootdown.codec;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.exc.InvalidTypeIdException;
import com.fasterxml.jackson.databind.json.JsonMapper;
import dev.shootdown.event.Envelope;
import java.io.UncheckedIOException;

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
        try {
            Envelope e = MAPPER.readValue(line, Envelope.class);
            if (e.schema() > Envelope.SCHEMA_VERSION) {
                throw new LogFormatException("schema version " + e.schema() + " is newer than this build reads ("
                        + Envelope.SCHEMA_VERSION + ")", null);
            }
            return e;
        } catch (InvalidTypeIdException e) {
            throw new LogFormatException("unknown event type '" + e.getTypeId() + "'", e);
        } catch (JsonProcessingException e) {
            throw new LogFormatException(e.getOriginalMessage(), e);
        }
    }
}
