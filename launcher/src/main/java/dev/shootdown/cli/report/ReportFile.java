package dev.shootdown.cli.report;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import dev.shootdown.audit.ShootdownSummary;
import dev.shootdown.codec.EventCodec;
import java.io.IOException;
import java.nio.file.Path;
import java.util.function.Consumer;

/** A written {@code report.json}, read as a stream: a report of any size in bounded memory. */
public final class ReportFile {

    private ReportFile() {}

    /** What {@link #eachField} does with a top-level field: the parser is at its value. */
    interface FieldReader {
        void read(String field, JsonParser p) throws IOException;
    }

    /** Reads {@code reportJson} as a stream, handing each top-level field to {@code reader}. */
    static void eachField(Path reportJson, FieldReader reader) throws IOException {
        try (JsonParser p = EventCodec.mapper().getFactory().createParser(reportJson.toFile())) {
            if (p.nextToken() != JsonToken.START_OBJECT) {
                throw new IOException(reportJson + ": not a report (expected a JSON object)");
            }
            while (p.nextToken() == JsonToken.FIELD_NAME) {
                String field = p.currentName();
                p.nextToken();
                reader.read(field, p);
            }
        }
    }

    /** Hands {@code each} every shootdown of {@code reportJson}, in the report's order. */
    public static void eachShootdown(Path reportJson, Consumer<ShootdownSummary> each) throws IOException {
        eachField(reportJson, (field, p) -> {
            if (field.equals("shootdowns") && p.currentToken() == JsonToken.START_ARRAY) {
                while (p.nextToken() != JsonToken.END_ARRAY) {
                    each.accept(EventCodec.mapper().readValue(p, ShootdownSummary.class));
                }
            } else {
                p.skipChildren();
            }
        });
    }
}
