package dev.shootdown.trace;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.shootdown.codec.EventCodec;
import dev.shootdown.event.Callers;
import dev.shootdown.event.Envelope;
import dev.shootdown.event.Event;
import dev.shootdown.event.EventType;
import dev.shootdown.event.FaultEvent;
import dev.shootdown.event.IpiEvent;
import dev.shootdown.event.PageTableEvent;
import dev.shootdown.event.SecondaryTlbEvent;
import dev.shootdown.event.WalkEvent;
import java.util.Iterator;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * One event of a run's log as one line of text, in the manner of {@code trace-cmd report}: the
 * simulated time in microseconds, the node, the event's id, the kernel function or hardware step
 * it is ({@code flush_tlb_func}, {@code arch_tlbbatch_add_pending}, {@code TLBI_NH_VA,CMD_SYNC},
 * {@code ATC_INV}, {@code DMA}), then its fields as {@code key=value} in the kernel's snake_case,
 * addresses and frames in hex:
 *
 * <pre>
 *      255.678  coordinator  coordinator#168   free_pages_and_swap_cache      frame=0x1007 epoch=1 shootdown_id=1
 * </pre>
 *
 * Function names are the kernel's, as each event record's documentation cites them; a step that
 * is hardware, not kernel code, is in capitals as the architecture's manual names it; a step that is
 * neither (the simulation's own control events) keeps the log's type name.
 */
public final class TraceLine {

    /** Fields whose values are virtual addresses or page frame numbers: written in hex. */
    static final Set<String> HEX = Set.of("start", "end", "va", "vas", "address", "addr", "frame");

    /** Fields written once already, in the line's first columns. */
    private static final Set<String> SKIPPED = Set.of("type");

    private TraceLine() {}

    /** The line for {@code e}. */
    public static String format(Envelope e) {
        return format(e, fields(e), step(e.event()));
    }

    /** The fields of {@code e}'s event, by their names in the log. */
    public static ObjectNode fields(Envelope e) {
        return EventCodec.mapper().valueToTree(e.event());
    }

    /** The line for {@code e}, whose event's {@link #fields} and {@link #step} are given. */
    public static String format(Envelope e, ObjectNode fields, String step) {
        StringBuilder b = new StringBuilder(160);
        b.append(String.format(Locale.ROOT, "%12.3f  %-12s %-17s %-30s", e.timeNs() / 1000.0, e.node(), e.id(), step));
        for (Iterator<Map.Entry<String, JsonNode>> it = fields.fields(); it.hasNext();) {
            Map.Entry<String, JsonNode> f = it.next();
            if (SKIPPED.contains(f.getKey()) || f.getValue().isNull()) {
                continue;
            }
            b.append(' ').append(snake(f.getKey())).append('=');
            value(b, f.getKey(), f.getValue());
        }
        return b.toString().stripTrailing();
    }

    /** The kernel function or hardware step {@code event} is. */
    public static String step(Event event) {
        EventType type = event.type();
        return switch (type) {
            case TASK_SCHEDULED -> "smp_send_reschedule";
            case FLUSH_TLB -> "flush_tlb_func";
            case TLB_FLUSHED -> "flush_tlb_func__return";
            case TLBI -> "TLBI_" + ((IpiEvent.Tlbi) event).op();
            case TLBI_COMPLETED -> "TLBI_done";
            case SVA_BOUND -> "iommu_sva_bind_device";
            case SVA_UNBOUND -> "iommu_sva_unbind_device";
            case SECONDARY_TLB_HOOK_CALLED -> "mmu_notifier_" + ((SecondaryTlbEvent.SecondaryTlbHookCalled) event).hook();
            case INVALIDATE_SECONDARY_TLBS -> "mn_ops->invalidate_secondary_tlbs";
            case CMDQ_ISSUED -> String.join(",", ((SecondaryTlbEvent.CommandsIssued) event).commands());
            case IOTLB_INVALIDATED -> ((SecondaryTlbEvent.IotlbInvalidated) event).command() + "_done";
            case ATC_INVALIDATED -> "ATC_INV_done";
            case SECONDARY_TLBS_INVALIDATED -> "mn_ops->invalidate_secondary_tlbs__return";
            case PAGE_WALK_REQUESTED -> ((WalkEvent.PageWalkRequested) event).pasid() < 0 ? "page_walk" : "iommu_page_walk";
            case PAGE_WALK_COMPLETED -> ((WalkEvent.PageWalkCompleted) event).pasid() < 0 ? "page_walk__return"
                    : "iommu_page_walk__return";
            case PAGE_FAULT_RAISED -> "exc_page_fault";
            case PAGE_FAULT_HANDLED -> "handle_mm_fault__return";
            case DEVICE_FAULT_RAISED -> "iommu_queue_iopf";
            case PAGE_RESPONSE_SENT -> "iopf_group_response";
            case KERNEL_OOPS -> "Oops:" + ((FaultEvent.KernelOops) event).function();
            case STALL_DETECTED -> "watchdog:" + ((FaultEvent.StallDetected) event).function();
            case MUNMAP -> "sys_munmap";
            case MUNMAP_RETURNED -> "sys_munmap__return";
            case TASK_EXITED -> "do_exit";
            case MPROTECT -> "sys_mprotect";
            case MPROTECT_RETURNED -> "sys_mprotect__return";
            case MADVISE -> "sys_madvise";
            case MADVISE_RETURNED -> "sys_madvise__return";
            case MEMORY_RECLAIM -> "memory_reclaim";
            case MEMORY_RECLAIM_RETURNED -> "memory_reclaim__return";
            case MM_CREATED -> "init_new_context";
            case VMA_MAPPED -> "mmap_region";
            case VMA_UNMAPPED -> "detach_vmas_to_be_unmapped";
            case VMA_PROTECTION_CHANGED -> "mprotect_fixup";
            case FRAME_ALLOCATED -> "alloc_pages";
            case PTE_SET -> "set_pte_at";
            case PTE_CLEARED -> "ptep_get_and_clear";
            case PTE_YOUNG_CLEARED -> "pte_mkold";
            case RECLAIM_PAGES_CALLED -> "reclaim_pages";
            case MMU_GATHER_STARTED -> "tlb_gather_mmu";
            case MMU_GATHER_FINISHED -> "tlb_finish_mmu__return";
            case MM_TLB_GEN_INCREMENTED -> "inc_mm_tlb_gen";
            case FRAME_FREED -> "free_pages_and_swap_cache";
            case PTE_PROTECTION_CHANGED -> ((PageTableEvent.PteProtectionChanged) event).caller();
            case TLB_FLUSH_STARTED -> Callers.reclaims(((PageTableEvent.TlbFlushStarted) event).caller()) ? "shrink_folio_list"
                    : ((PageTableEvent.TlbFlushStarted) event).caller();
            case TLB_FLUSH_FINISHED -> "tlb_flush_finished";
            case TLB_BATCH_ADD_PENDING -> "arch_tlbbatch_add_pending";
            case TLB_BATCH_FLUSH_STARTED -> "arch_tlbbatch_flush";
            case TLB_BATCHED_PENDING_FLUSHED -> "flush_tlb_batched_pending";
            case MEMORY_PRESSURE -> ((PageTableEvent.MemoryPressure) event).action();
            case TLB_FLUSH_CALLED -> ((PageTableEvent.TlbFlushCalled) event).function();
            case PAGE_TABLE_FREED -> "free_pgtables";
            case MM_SWITCHED -> "switch_mm_irqs_off";
            case TASK_STARTED -> "task_started";
            case TASK_COMPUTED -> "task_computed";
            case TLB_FILLED -> "TLB_fill";
            case MEMORY_ACCESSED -> "access";
            case PASID_BOUND -> "pasid_table_entry";
            case IOTLB_FILLED -> "IOTLB_fill";
            case ATC_FILLED -> "ATC_fill";
            case DMA_COMPLETED -> "DMA";
            case DMA_ABORTED -> "DMA_aborted";
            case TRACE_MARKER -> "tracing_mark_write";
            case RUN_STARTED, RUN_COMPLETED, TRACE_IMPORTED, NODE_QUIESCED, TIMER_FIRED, FAULT_INJECTED -> type.typeName();
        };
    }

    private static void value(StringBuilder b, String key, JsonNode v) {
        if (v.isArray()) {
            b.append('[');
            int i = 0;
            for (JsonNode item : v) {
                if (i++ > 0) {
                    b.append(',');
                }
                if (item.isContainerNode()) {
                    b.append(item.has("name") ? item.get("name").asText() : "{..}");
                } else {
                    value(b, key, item);
                }
            }
            b.append(']');
        } else if (v.isObject()) {
            b.append(v.has("name") ? v.get("name").asText() : "{..}");
        } else if (v.isIntegralNumber() && HEX.contains(key)) {
            b.append("0x").append(Long.toHexString(v.asLong()));
        } else if (v.isTextual()) {
            String s = v.asText();
            b.append(s.isEmpty() || s.indexOf(' ') >= 0 ? '"' + s + '"' : s);
        } else {
            b.append(v.asText());
        }
    }

    /** {@code shootdownId} -> {@code shootdown_id}. */
    static String snake(String camel) {
        StringBuilder s = new StringBuilder(camel.length() + 4);
        for (int i = 0; i < camel.length(); i++) {
            char c = camel.charAt(i);
            if (Character.isUpperCase(c)) {
                s.append('_').append(Character.toLowerCase(c));
            } else {
                s.append(c);
            }
        }
        return s.toString();
    }
}
