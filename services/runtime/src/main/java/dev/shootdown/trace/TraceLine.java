package dev.shootdown.trace;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
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
import java.util.List;
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

    /**
     * The fields of {@code e}'s event, by their names in the log: what {@code valueToTree} gives,
     * built straight from the record's components where they are numbers, booleans, strings or
     * lists of those (a quarter of the time trace took through Jackson), through Jackson otherwise.
     * {@code TraceLineTest} holds the two equal for every event type.
     */
    public static ObjectNode fields(Envelope e) {
        Fields direct = FIELDS.get(e.event().getClass());
        return direct == null ? EventCodec.mapper().valueToTree(e.event()) : direct.of(e.event());
    }

    /** Whether {@code type}'s fields are built without Jackson. */
    static boolean builtDirectly(Class<?> type) {
        return FIELDS.get(type) != null;
    }

    /** The same, always through Jackson (for the test that holds the two equal). */
    static ObjectNode fieldsThroughJackson(Envelope e) {
        return EventCodec.mapper().valueToTree(e.event());
    }

    private static final ClassValue<Fields> FIELDS = new ClassValue<>() {
        @Override
        protected Fields computeValue(Class<?> type) {
            return Fields.of(type);
        }
    };

    /** How to read one record type's components into a tree; null for a type with anything else or with Jackson annotations. */
    private record Fields(String typeName, String[] names, java.lang.invoke.MethodHandle[] getters) {

        static Fields of(Class<?> type) {
            if (!type.isRecord() || !Event.class.isAssignableFrom(type)) {
                return null;
            }
            java.lang.reflect.RecordComponent[] components = type.getRecordComponents();
            String[] names = new String[components.length];
            java.lang.invoke.MethodHandle[] getters = new java.lang.invoke.MethodHandle[components.length];
            java.lang.invoke.MethodHandles.Lookup lookup = java.lang.invoke.MethodHandles.publicLookup();
            for (int i = 0; i < components.length; i++) {
                java.lang.reflect.RecordComponent c = components[i];
                if (!plain(c.getType(), c.getGenericType()) || c.getAnnotations().length > 0 || c.getAccessor().getAnnotations().length > 0) {
                    return null;
                }
                try {
                    java.lang.reflect.Field field = type.getDeclaredField(c.getName());
                    if (field.getAnnotations().length > 0) {
                        return null;
                    }
                    getters[i] = lookup.unreflect(c.getAccessor()).asType(java.lang.invoke.MethodType.methodType(Object.class, Object.class));
                } catch (ReflectiveOperationException | RuntimeException notPublic) {
                    return null;
                }
                names[i] = c.getName();
            }
            for (java.lang.annotation.Annotation a : type.getAnnotations()) {
                if (a.annotationType().getName().startsWith("com.fasterxml.jackson")) {
                    return null;
                }
            }
            for (EventType t : EventType.values()) {
                if (t.eventClass() == type) {
                    return new Fields(t.typeName(), names, getters);
                }
            }
            return null;
        }

        /** A component type written as Jackson writes it by default: a number, a boolean, a string, a list of those. */
        private static boolean plain(Class<?> type, java.lang.reflect.Type generic) {
            if (type == long.class || type == int.class || type == boolean.class || type == Long.class || type == Integer.class
                    || type == Boolean.class || type == String.class) {
                return true;
            }
            if (type == List.class && generic instanceof java.lang.reflect.ParameterizedType p) {
                java.lang.reflect.Type element = p.getActualTypeArguments()[0];
                return element == Long.class || element == Integer.class || element == String.class || element == Boolean.class;
            }
            return false;
        }

        ObjectNode of(Event event) {
            ObjectNode node = EventCodec.mapper().createObjectNode();
            node.put("type", typeName);
            for (int i = 0; i < names.length; i++) {
                Object v;
                try {
                    v = getters[i].invokeExact((Object) event);
                } catch (RuntimeException | Error e) {
                    throw e;
                } catch (Throwable e) {
                    throw new IllegalStateException(e);
                }
                put(node, names[i], v);
            }
            return node;
        }

        private static void put(ObjectNode node, String name, Object v) {
            if (v == null) {
                node.putNull(name);
            } else if (v instanceof Long l) {
                node.put(name, l.longValue());
            } else if (v instanceof Integer n) {
                node.put(name, n.intValue());
            } else if (v instanceof Boolean b) {
                node.put(name, b.booleanValue());
            } else if (v instanceof String s) {
                node.put(name, s);
            } else {
                ArrayNode array = node.putArray(name);
                for (Object item : (List<?>) v) {
                    if (item == null) {
                        array.addNull();
                    } else if (item instanceof Long l) {
                        array.add(l.longValue());
                    } else if (item instanceof Integer n) {
                        array.add(n.intValue());
                    } else if (item instanceof Boolean b) {
                        array.add(b.booleanValue());
                    } else {
                        array.add((String) item);
                    }
                }
            }
        }
    }

    /** The line for {@code e}, whose event's {@link #fields} and {@link #step} are given. */
    public static String format(Envelope e, ObjectNode fields, String step) {
        StringBuilder b = new StringBuilder(160);
        // "%12.3f  %-12s %-17s %-30s" of the time in us, the node, the id and the step, without a Formatter (a quarter of
        // the time trace took with one)
        int at = b.length();
        long ns = e.timeNs();
        if (ns < 0) {
            b.append('-');
            ns = -ns;
        }
        long frac = ns % 1000;
        b.append(ns / 1000).append('.').append((char) ('0' + frac / 100)).append((char) ('0' + frac / 10 % 10))
                .append((char) ('0' + frac % 10));
        while (b.length() - at < 12) {
            b.insert(at, ' ');
        }
        b.append("  ");
        pad(b, e.node(), 12).append(' ');
        pad(b, e.id(), 17).append(' ');
        pad(b, step, 30);
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

    /** {@code s}, then spaces to {@code width} characters: {@code %-Ns}. */
    private static StringBuilder pad(StringBuilder b, String s, int width) {
        b.append(s);
        for (int i = s.length(); i < width; i++) {
            b.append(' ');
        }
        return b;
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
        return SNAKE.computeIfAbsent(camel, TraceLine::toSnake);
    }

    /** Field names, a few dozen in all, each converted once. */
    private static final java.util.concurrent.ConcurrentHashMap<String, String> SNAKE = new java.util.concurrent.ConcurrentHashMap<>();

    private static String toSnake(String camel) {
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
