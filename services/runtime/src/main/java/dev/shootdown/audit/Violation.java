package dev.shootdown.audit;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonProperty;
import java.util.List;

/**
 * One broken invariant.
 *
 * @param kind        {@code use-after-free}, {@code missing-secondary-invalidation},
 *                    {@code missing-cpu-invalidation}, ...
 * @param node        the node whose cache or access is at fault
 * @param mm          the address space
 * @param va          the virtual address, hex
 * @param events      ids of the events that prove it, in causal order
 * @param explanation one line a kernel developer can follow
 * @param shootdown   the shootdown it belongs to (whose flush it escaped, or whose free it
 *                    follows), or 0 when none
 */
public record Violation(String kind, String node, long mm, String va, List<String> events, String explanation,
        @JsonInclude(JsonInclude.Include.NON_DEFAULT) long shootdown) {
    public Violation {
        events = List.copyOf(events);
    }

    /** A violation of no one shootdown. */
    public Violation(String kind, String node, long mm, String va, List<String> events, String explanation) {
        this(kind, node, mm, va, events, explanation, 0);
    }

    /** For Jackson: a report written before violations named their shootdown has none. */
    @JsonCreator
    static Violation read(@JsonProperty("kind") String kind, @JsonProperty("node") String node, @JsonProperty("mm") long mm,
            @JsonProperty("va") String va, @JsonProperty("events") List<String> events,
            @JsonProperty("explanation") String explanation, @JsonProperty("shootdown") Long shootdown) {
        return new Violation(kind, node, mm, va, events, explanation, shootdown == null ? 0 : shootdown);
    }
}
