package dev.shootdown.trace;

import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.shootdown.event.Envelope;
import dev.shootdown.event.EventType;
import java.io.IOException;
import java.util.HashMap;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;

/**
 * A run's log in the Trace Event Format (the JSON that Perfetto's UI and {@code chrome://tracing}
 * open), written as the log is read:
 *
 * <ul>
 *   <li>a process per node, with a thread per track: {@code kernel} (the node's own steps), and
 *       {@code TLB}, {@code IOTLB} and {@code ATC} for what the node's caches did;
 *   <li>every event a complete slice ({@code "ph":"X"}) of 1 ns at its simulated time, named by its
 *       kernel function or hardware step ({@link TraceLine#step}), its fields as {@code args},
 *       addresses in hex;
 *   <li>each shootdown an async slice ({@code "b"}/{@code "e"}, category {@code shootdown}) on the
 *       node that ran it, from {@code tlb_gather_mmu} or the flush's start to its end;
 *   <li>violations as instant events ({@code "ph":"i"}, global scope, category {@code violation}) at
 *       the access that violated, named by kind;
 *   <li>causal links between nodes (an IPI and the flush it runs, a request and its completion) as
 *       flow arrows ({@code "s"}/{@code "f"}) from the cause's slice to the effect's.
 * </ul>
 *
 * Memory: the nodes and tracks, the violations' events (given), and the place of the last
 * {@value #RECENT} events, for the arrows; a cause older than that gets no arrow.
 */
public final class ChromeTrace implements AutoCloseable {

    /** Events whose place is remembered for flow arrows. */
    static final int RECENT = 65_536;

    private static final Set<EventType> TLB = Set.of(EventType.TLB_FILLED, EventType.TLB_FLUSHED, EventType.TLBI_COMPLETED);
    private static final Set<EventType> IOTLB = Set.of(EventType.IOTLB_FILLED, EventType.IOTLB_INVALIDATED);
    private static final Set<EventType> ATC = Set.of(EventType.ATC_FILLED, EventType.ATC_INVALIDATED, EventType.DMA_COMPLETED,
            EventType.DMA_ABORTED);

    private record Place(long timeNs, int pid, int tid) {}

    private final JsonGenerator json;
    private final Map<String, Integer> pids = new HashMap<>();
    private final Map<String, Integer> tids = new HashMap<>();
    private final Map<String, String> violations;
    private final Map<String, Place> recent = new LinkedHashMap<>(1024, 0.75f, false) {
        @Override
        protected boolean removeEldestEntry(Map.Entry<String, Place> eldest) {
            return size() > RECENT;
        }
    };
    private long flows;

    /**
     * @param json       where the trace goes (the caller closes it)
     * @param violations the events that violate, by id, with the kind of violation
     */
    public ChromeTrace(JsonGenerator json, Map<String, String> violations) throws IOException {
        this.json = json;
        this.violations = violations;
        json.writeStartObject();
        json.writeStringField("displayTimeUnit", "ns");
        json.writeArrayFieldStart("traceEvents");
    }

    /** Writes {@code e}, with what it begins, ends and links. */
    public void accept(Envelope e) throws IOException {
        ObjectNode fields = TraceLine.fields(e);
        EventType type = e.event().type();
        int pid = pid(e.node());
        int tid = tid(e.node(), pid, TLB.contains(type) ? "TLB" : IOTLB.contains(type) ? "IOTLB" : ATC.contains(type) ? "ATC" : "kernel");
        double ts = e.timeNs() / 1000.0;
        json.writeStartObject();
        json.writeStringField("name", TraceLine.step(e.event()));
        json.writeStringField("cat", type.typeName());
        json.writeStringField("ph", "X");
        json.writeNumberField("ts", ts);
        json.writeNumberField("dur", 0.001);
        json.writeNumberField("pid", pid);
        json.writeNumberField("tid", tid);
        json.writeObjectFieldStart("args");
        json.writeStringField("id", e.id());
        for (Iterator<Map.Entry<String, com.fasterxml.jackson.databind.JsonNode>> it = fields.fields(); it.hasNext();) {
            Map.Entry<String, com.fasterxml.jackson.databind.JsonNode> f = it.next();
            if (f.getKey().equals("type") || f.getValue().isNull() || f.getValue().isContainerNode()) {
                continue;
            }
            String key = TraceLine.snake(f.getKey());
            if (f.getValue().isIntegralNumber() && TraceLine.HEX.contains(f.getKey())) {
                json.writeStringField(key, "0x" + Long.toHexString(f.getValue().asLong()));
            } else if (f.getValue().isNumber()) {
                json.writeNumberField(key, f.getValue().asLong());
            } else if (f.getValue().isBoolean()) {
                json.writeBooleanField(key, f.getValue().asBoolean());
            } else {
                json.writeStringField(key, f.getValue().asText());
            }
        }
        json.writeEndObject();
        json.writeEndObject();

        String shootdown = switch (type) {
            case MMU_GATHER_STARTED, TLB_FLUSH_STARTED -> "b";
            case MMU_GATHER_FINISHED, TLB_FLUSH_FINISHED -> "e";
            default -> null;
        };
        if (shootdown != null) {
            long id = fields.path("shootdownId").asLong();
            json.writeStartObject();
            json.writeStringField("name", "shootdown " + id + (fields.has("caller") ? " (" + fields.get("caller").asText() + ")" : ""));
            json.writeStringField("cat", "shootdown");
            json.writeStringField("ph", shootdown);
            json.writeStringField("id", "shootdown-" + id);
            json.writeNumberField("ts", ts);
            json.writeNumberField("pid", pid);
            json.writeNumberField("tid", tid);
            json.writeEndObject();
        }
        String kind = violations.get(e.id());
        if (kind != null) {
            json.writeStartObject();
            json.writeStringField("name", kind);
            json.writeStringField("cat", "violation");
            json.writeStringField("ph", "i");
            json.writeStringField("s", "g");
            json.writeNumberField("ts", ts);
            json.writeNumberField("pid", pid);
            json.writeNumberField("tid", tid);
            json.writeObjectFieldStart("args");
            json.writeStringField("event", e.id());
            json.writeEndObject();
            json.writeEndObject();
        }
        Place cause = e.cause() == null ? null : recent.get(e.cause());
        if (cause != null && cause.pid() != pid) {
            long id = ++flows;
            flow("s", id, cause.timeNs() / 1000.0, cause.pid(), cause.tid());
            flow("f", id, ts, pid, tid);
        }
        recent.put(e.id(), new Place(e.timeNs(), pid, tid));
    }

    private void flow(String ph, long id, double ts, int pid, int tid) throws IOException {
        json.writeStartObject();
        json.writeStringField("name", "cause");
        json.writeStringField("cat", "cause");
        json.writeStringField("ph", ph);
        json.writeNumberField("id", id);
        json.writeNumberField("ts", ts);
        json.writeNumberField("pid", pid);
        json.writeNumberField("tid", tid);
        if (ph.equals("f")) {
            json.writeStringField("bp", "e"); // bind to the slice the arrow ends in
        }
        json.writeEndObject();
    }

    private int pid(String node) throws IOException {
        Integer pid = pids.get(node);
        if (pid == null) {
            pid = pids.size() + 1;
            pids.put(node, pid);
            metadata("process_name", pid, 0, node);
            metadata("process_sort_index", pid, 0, null);
        }
        return pid;
    }

    private int tid(String node, int pid, String track) throws IOException {
        String key = node + "/" + track;
        Integer tid = tids.get(key);
        if (tid == null) {
            tid = switch (track) {
                case "kernel" -> 1;
                case "TLB" -> 2;
                case "IOTLB" -> 3;
                default -> 4;
            };
            tids.put(key, tid);
            metadata("thread_name", pid, tid, track);
        }
        return tid;
    }

    /** A metadata event: a process's or thread's name, or (name null) a process's place in the list. */
    private void metadata(String what, int pid, int tid, String name) throws IOException {
        json.writeStartObject();
        json.writeStringField("name", what);
        json.writeStringField("ph", "M");
        json.writeNumberField("pid", pid);
        json.writeNumberField("tid", tid);
        json.writeObjectFieldStart("args");
        if (name == null) {
            json.writeNumberField("sort_index", pid);
        } else {
            json.writeStringField("name", name);
        }
        json.writeEndObject();
        json.writeEndObject();
    }

    /** Ends the trace's JSON. */
    @Override
    public void close() throws IOException {
        json.writeEndArray();
        json.writeEndObject();
        json.flush();
    }
}
