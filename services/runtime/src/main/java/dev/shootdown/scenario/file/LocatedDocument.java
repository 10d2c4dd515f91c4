package dev.shootdown.scenario.file;

import com.fasterxml.jackson.core.JsonLocation;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.JsonStreamContext;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.snakeyaml.error.MarkedYAMLException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.HashMap;
import java.util.Map;
import java.util.stream.Collectors;

/**
 * A YAML or JSON file read as a tree, with where each field path ({@code devices[0].iommu})
 * starts in it, so that a problem found anywhere later can be named in one line:
 * {@code FILE:LINE:COLUMN: FIELD: what was expected}. Syntax errors surface on {@link #read}.
 * Immutable once read; thread-safe.
 */
public final class LocatedDocument {

    private final Path file;
    private final JsonNode tree;
    private final Map<String, JsonLocation> locations;

    private LocatedDocument(Path file, JsonNode tree, Map<String, JsonLocation> locations) {
        this.file = file;
        this.tree = tree;
        this.locations = Map.copyOf(locations);
    }

    /** Reads {@code file} with {@code mapper} (YAML or JSON); a syntax error or an unreadable file is one line. */
    public static LocatedDocument read(Path file, ObjectMapper mapper) throws ScenarioFileException {
        byte[] bytes;
        try {
            bytes = Files.readAllBytes(file);
        } catch (IOException e) {
            throw new ScenarioFileException(file + ": cannot read the file (" + e + ")", e);
        }
        return parse(file, bytes, mapper);
    }

    /**
     * Parses {@code bytes} with {@code mapper} as the content of {@code file} (a name for
     * messages: a file inside the jar, say); a syntax error is one line.
     */
    public static LocatedDocument parse(Path file, byte[] bytes, ObjectMapper mapper) throws ScenarioFileException {
        Map<String, JsonLocation> locations = locate(mapper, bytes, file);
        try {
            return new LocatedDocument(file, mapper.readTree(bytes), locations);
        } catch (IOException e) {
            throw new ScenarioFileException(file + ": " + oneLine(e.getMessage()), e);
        }
    }

    public Path file() {
        return file;
    }

    /** The document's root: null for an empty file. */
    public JsonNode tree() {
        return tree;
    }

    /** Whether the document itself holds {@code path} (a default filled in later does not count). */
    public boolean has(String path) {
        return locations.containsKey(path);
    }

    /** An error at {@code path}, located at the path or, if it is absent, its nearest present ancestor. */
    public ScenarioFileException error(String path, String expected, Throwable cause) {
        String at = path;
        while (!locations.containsKey(at) && !at.isEmpty()) {
            at = at.substring(0, Math.max(0, Math.max(at.lastIndexOf('.'), at.lastIndexOf('['))));
        }
        return new ScenarioFileException(file + position(locations.get(at)) + ": " + (path.isEmpty() ? "" : path + ": ") + expected,
                cause);
    }

    private static String position(JsonLocation loc) {
        if (loc == null || loc.getLineNr() <= 0) {
            return "";
        }
        return ":" + loc.getLineNr() + (loc.getColumnNr() > 0 ? ":" + loc.getColumnNr() : "");
    }

    /** Walks the document's tokens and records where every field path starts; syntax errors surface here. */
    private static Map<String, JsonLocation> locate(ObjectMapper mapper, byte[] bytes, Path file) throws ScenarioFileException {
        Map<String, JsonLocation> locations = new HashMap<>();
        JsonParser p = null;
        try {
            p = mapper.createParser(bytes);
            for (JsonToken t = p.nextToken(); t != null; t = p.nextToken()) {
                JsonStreamContext ctx = p.getParsingContext();
                if (t == JsonToken.START_OBJECT || t == JsonToken.START_ARRAY) {
                    ctx = ctx.getParent(); // the token opened a new context; it is a value of the enclosing one
                }
                if (t != JsonToken.END_OBJECT && t != JsonToken.END_ARRAY) {
                    locations.putIfAbsent(path(ctx), p.currentTokenLocation());
                }
            }
            p.close();
            return locations;
        } catch (JsonProcessingException e) {
            String in = p == null || p.getParsingContext() == null || path(p.getParsingContext()).isEmpty() ? ""
                    : " in " + path(p.getParsingContext());
            String where = position(e.getLocation());
            String what = oneLine(e.getOriginalMessage());
            if (e instanceof MarkedYAMLException m && m.getProblemMark() != null) {
                // SnakeYAML's own mark points at the offending character; its lines and columns count from 0
                where = ":" + (m.getProblemMark().getLine() + 1) + ":" + (m.getProblemMark().getColumn() + 1);
                what = (m.getContext() == null ? "" : m.getContext() + ": ") + m.getProblem();
            }
            throw new ScenarioFileException(file + where + ": syntax error" + in + ": " + what, e);
        } catch (IOException e) {
            throw new ScenarioFileException(file + ": cannot read the file (" + e + ")", e);
        }
    }

    private static String path(JsonStreamContext ctx) {
        if (ctx == null || ctx.inRoot()) {
            return "";
        }
        String parent = path(ctx.getParent());
        if (ctx.inArray()) {
            return parent + "[" + Math.max(0, ctx.getCurrentIndex()) + "]";
        }
        String name = ctx.getCurrentName() == null ? "" : ctx.getCurrentName();
        return parent.isEmpty() ? name : parent + "." + name;
    }

    /** A parser's message, which for YAML spans several lines with a snippet, as one line. */
    public static String oneLine(String message) {
        if (message == null) {
            return "unreadable";
        }
        return Arrays.stream(message.split("\\R"))
                .map(String::strip)
                .filter(l -> !l.isEmpty() && !l.startsWith("in 'reader'") && !l.startsWith("at [Source") && !l.equals("^"))
                .filter(l -> !l.matches("\\^+"))
                .collect(Collectors.joining(" "));
    }
}
