package dev.shootdown.trace;

import com.fasterxml.jackson.databind.JsonNode;
import dev.shootdown.event.Envelope;
import java.util.HashMap;
import java.util.Map;
import java.util.Set;

/**
 * Which events {@code shootdown trace} prints: every condition given must hold (an empty set or a
 * null bound is no condition). Addresses are compared by what an event names: a {@code va},
 * {@code address} or {@code addr} inside the range, a {@code [start, end)} that overlaps it
 * ({@code end} -1UL: the whole address space), or one of its {@code vas} inside it. An event of a
 * device (a DMA, an IOTLB or ATC fill) names its PASID, not its mm: the filter learns which mm a
 * PASID is bound to from the log ({@link #observe}).
 *
 * @param nodes      the nodes whose events to keep
 * @param mm         the mm whose events to keep
 * @param addrFrom   the first address of the range to keep
 * @param addrTo     the end of that range (exclusive)
 * @param addressless whether an event that names no address passes the range (in a --why chain: it
 *                   belongs to the chain by its shootdown)
 * @param shootdown  the shootdown id whose events to keep
 * @param types      log type names ({@code dma-completed}) or steps ({@code DMA}, {@code flush_tlb_func})
 * @param fromNs     the first simulated time to keep
 * @param toNs       the last simulated time to keep
 */
public record TraceFilter(Set<String> nodes, Long mm, Long addrFrom, Long addrTo, boolean addressless, Long shootdown,
        Set<String> types, Long fromNs, Long toNs) {

    /** No condition: every event. */
    public static final TraceFilter ALL = new TraceFilter(Set.of(), null, null, null, false, null, Set.of(), null, null);

    public TraceFilter {
        nodes = Set.copyOf(nodes);
        types = Set.copyOf(types);
    }

    /** The mm each PASID is bound to, as far as the log has said. */
    public static final class Pasids {
        private final Map<Long, Long> mmByPasid = new HashMap<>();

        /** Learns from {@code fields} (an event's) when it binds a PASID to an mm. */
        public void observe(JsonNode fields) {
            if (fields.has("pasid") && fields.has("mm") && fields.get("pasid").asLong() >= 0) {
                mmByPasid.putIfAbsent(fields.get("pasid").asLong(), fields.get("mm").asLong());
            }
        }

        /** The mm {@code fields} concern: theirs, or their PASID's; null when neither is known. */
        public Long mmOf(JsonNode fields) {
            if (fields.has("mm")) {
                return fields.get("mm").asLong();
            }
            return fields.has("pasid") ? mmByPasid.get(fields.get("pasid").asLong()) : null;
        }
    }

    /** Whether {@code e}, whose fields are {@code fields}, passes. */
    public boolean matches(Envelope e, JsonNode fields, String step, Pasids pasids) {
        if (!nodes.isEmpty() && !nodes.contains(e.node())) {
            return false;
        }
        if ((fromNs != null && e.timeNs() < fromNs) || (toNs != null && e.timeNs() > toNs)) {
            return false;
        }
        if (!types.isEmpty() && !types.contains(e.event().type().typeName()) && !types.contains(step)) {
            return false;
        }
        if (shootdown != null && !(fields.has("shootdownId") && fields.get("shootdownId").asLong() == shootdown)) {
            return false;
        }
        if (mm != null) {
            Long its = pasids.mmOf(fields);
            boolean current = fields.has("currentMm") && fields.get("currentMm").asLong() == mm
                    || fields.has("prevMm") && fields.get("prevMm").asLong() == mm;
            if (!(mm.equals(its) || current)) {
                return false;
            }
        }
        if (addrFrom != null) {
            Boolean in = overlaps(fields, addrFrom, addrTo);
            return in == null ? addressless : in;
        }
        return true;
    }

    /** Whether the addresses {@code fields} name meet [from, to); null when they name none. */
    static Boolean overlaps(JsonNode fields, long from, long to) {
        Boolean seen = null;
        for (String key : new String[] {"va", "address", "addr"}) {
            if (fields.has(key)) {
                long a = fields.get(key).asLong();
                if (Long.compareUnsigned(a, from) >= 0 && Long.compareUnsigned(a, to) < 0) {
                    return true;
                }
                seen = false;
            }
        }
        if (fields.has("start") && fields.has("end")) {
            long start = fields.get("start").asLong();
            long end = fields.get("end").asLong();
            if (Long.compareUnsigned(start, to) < 0 && (end == -1 || Long.compareUnsigned(end, from) > 0)) {
                return true;
            }
            seen = false;
        }
        if (fields.has("vas")) {
            for (JsonNode va : fields.get("vas")) {
                long a = va.asLong();
                if (Long.compareUnsigned(a, from) >= 0 && Long.compareUnsigned(a, to) < 0) {
                    return true;
                }
            }
            seen = false;
        }
        return seen;
    }
}
