package dev.shootdown.trace;

import com.fasterxml.jackson.databind.JsonNode;
import dev.shootdown.audit.Auditor;
import dev.shootdown.audit.ShootdownSummary;
import dev.shootdown.audit.Violation;
import dev.shootdown.event.Envelope;
import dev.shootdown.event.EventType;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * {@code shootdown trace --why EVENT}: what led to one event, read from the log in three passes
 * (each one streaming, so a log of any length is read in bounded memory):
 *
 * <ol>
 *   <li>{@link #find}: the event itself, and what the auditor says of it: the violations whose
 *       evidence includes it, with their events (for a use after free: the fill of the stale
 *       translation, the free of the frame, the access).
 *   <li>{@link #collect}: the shootdowns that changed the event's page, up to the event: every PTE
 *       change of its mm and page ({@code ptep_get_and_clear}, {@code pte_mkold}, a protection
 *       change, {@code arch_tlbbatch_add_pending}) names its shootdown; where the event names a
 *       frame, only the changes of the PTE that mapped that frame (the same allocation).
 *   <li>{@link #includes}: the chain, in log order up to the event: the events of those shootdowns
 *       that concern the page or no page in particular (the IPIs, the hook call, the IOMMU's
 *       commands and their completions, the frees); the life of the event's frame (its allocation,
 *       the PTE that mapped it, the walks and fills that cached it, its free); the auditor's
 *       evidence; and the event. Other accesses to the frame are left out.
 * </ol>
 */
public final class WhyChain {

    /** The page size the chain compares addresses in. */
    static final long PAGE = 4096;

    private final String targetId;
    private Envelope target;
    private Long mm;
    private long page = -1;
    private long frame = -1;
    private long epoch = -1;
    private final Set<Long> shootdowns = new HashSet<>();
    private final Set<String> evidence = new HashSet<>();
    private final List<Violation> violations = new ArrayList<>();
    private boolean finished;
    private final Auditor auditor = new Auditor(Auditor.DEFAULT_FAULT_LIVELOCK_THRESHOLD, new Auditor.Sink() {
        @Override
        public void onViolation(Violation v) {
            if (v.events().contains(targetId)) {
                violations.add(v);
                evidence.addAll(v.events());
            }
        }

        @Override
        public void onShootdown(ShootdownSummary shootdown) {}
    });

    public WhyChain(String targetId) {
        this.targetId = targetId;
    }

    /** Pass 1, every event of the log: finds the event and audits the log. */
    public void find(Envelope e, JsonNode fields, TraceFilter.Pasids pasids) {
        auditor.accept(e);
        if (target == null && e.id().equals(targetId)) {
            target = e;
            mm = pasids.mmOf(fields);
            for (String key : new String[] {"va", "address", "addr"}) {
                if (fields.has(key)) {
                    page = fields.get(key).asLong() & -PAGE;
                    break;
                }
            }
            if (fields.has("frame")) {
                frame = fields.get("frame").asLong();
                epoch = fields.has("frameEpoch") ? fields.get("frameEpoch").asLong() : fields.path("epoch").asLong(-1);
            }
            if (fields.has("shootdownId") && fields.get("shootdownId").asLong() > 0) {
                shootdowns.add(fields.get("shootdownId").asLong());
            }
        }
    }

    /** After pass 1: the event, or null when the log has no event of that id. */
    public Envelope target() {
        return target;
    }

    /** After pass 1: the auditor's violations whose evidence includes the event. */
    public List<Violation> violations() {
        if (!finished) {
            finished = true;
            auditor.finish(); // settles what waited for the end (a stale translation's use)
        }
        return List.copyOf(violations);
    }

    /** Pass 2, the log up to the event: the shootdowns that changed its page (of its frame, where it names one). */
    public boolean collect(Envelope e, JsonNode fields, TraceFilter.Pasids pasids) {
        if (e.id().equals(targetId)) {
            return false;
        }
        boolean pteChange = switch (e.event().type()) {
            case PTE_CLEARED, PTE_YOUNG_CLEARED, PTE_PROTECTION_CHANGED, TLB_BATCH_ADD_PENDING -> true;
            default -> false;
        };
        if (pteChange && page >= 0 && fields.has("va") && (fields.get("va").asLong() & -PAGE) == page
                && (mm == null || mm.equals(pasids.mmOf(fields)))
                && (frame < 0 || !fields.has("frame") || (fields.get("frame").asLong() == frame
                        && fields.path("frameEpoch").asLong(epoch) == epoch))) {
            long sd = fields.path("shootdownId").asLong(-1);
            if (sd > 0) {
                shootdowns.add(sd);
            }
        }
        return true;
    }

    /** Pass 3, the log up to the event: whether {@code e} is in the chain. */
    public boolean includes(Envelope e, JsonNode fields) {
        if (e.id().equals(targetId) || evidence.contains(e.id())) {
            return true;
        }
        EventType type = e.event().type();
        boolean access = type == EventType.MEMORY_ACCESSED || type == EventType.DMA_COMPLETED || type == EventType.DMA_ABORTED;
        boolean hasFrame = fields.has("frame");
        boolean ofFrame = hasFrame && frame >= 0 && fields.get("frame").asLong() == frame
                && (fields.has("frameEpoch") ? fields.get("frameEpoch").asLong() : fields.path("epoch").asLong(epoch)) == epoch;
        if (ofFrame && !access) {
            return true;
        }
        if (fields.has("shootdownId") && shootdowns.contains(fields.get("shootdownId").asLong()) && !access) {
            Boolean onPage = page < 0 ? null : TraceFilter.overlaps(fields, page, page + PAGE);
            return (onPage == null || onPage) && (!hasFrame || ofFrame);
        }
        return false;
    }
}
