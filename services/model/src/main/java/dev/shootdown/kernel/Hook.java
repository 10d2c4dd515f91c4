package dev.shootdown.kernel;

import com.fasterxml.jackson.annotation.JsonProperty;
import java.util.List;

/**
 * A call of the secondary-TLB hook ({@code mmu_notifier_invalidate_range} in 6.5,
 * {@code mmu_notifier_arch_invalidate_secondary_tlbs} from 6.6) at one call site: with which mm,
 * which range, and where relative to the CPU side of the flush around it.
 *
 * @param mm    the mm passed: the mm whose PTEs changed, or {@code current->mm}
 * @param range the start and end passed: the site's own {@code start} and {@code end} variables
 *              as they hold at that point, or the constants {@code 0} and {@code -1} (-1UL, the
 *              whole address space)
 * @param at    where the call sits in an arch flush function; null at a site with one place only
 */
public record Hook(HookMm mm, List<Bound> range, Position at) {

    public Hook {
        range = List.copyOf(range);
        if (range.size() != 2) {
            throw new IllegalArgumentException("a hook's range is [start, end], got " + range);
        }
    }

    public Bound start() {
        return range.get(0);
    }

    public Bound end() {
        return range.get(1);
    }

    /** Which mm the hook is passed. */
    public enum HookMm {
        /** the mm whose PTEs the flush is for (the function's mm argument). */
        @JsonProperty("mm") MM("mm"),
        /** the mm of the task running the code: NULL in a kernel thread such as kswapd. */
        @JsonProperty("current->mm") CURRENT_MM("current->mm");

        private final String text;

        HookMm(String text) {
            this.text = text;
        }

        public String text() {
            return text;
        }
    }

    /** One end of the hook's range. */
    public enum Bound {
        /** the site's start variable, with the value it holds where the hook is called. */
        @JsonProperty("start") START("start"),
        /** the site's end variable, with the value it holds where the hook is called. */
        @JsonProperty("end") END("end"),
        /** 0. */
        @JsonProperty("0") ZERO("0"),
        /** -1UL (TLB_FLUSH_ALL, ULONG_MAX): with 0, the whole address space. */
        @JsonProperty("-1") ALL("-1");

        private final String text;

        Bound(String text) {
            this.text = text;
        }

        public String text() {
            return text;
        }
    }

    /** Where the hook is called in an arch flush function, relative to its CPU side. */
    public enum Position {
        /** before any IPI or TLBI is sent. */
        @JsonProperty("before-flush") BEFORE_FLUSH("before-flush"),
        /** after the TLBIs (or IPIs) are sent, before dsb(ish) (or the IPIs' acknowledgement) waits for them. */
        @JsonProperty("before-wait") BEFORE_WAIT("before-wait"),
        /** once every CPU flushed: after dsb(ish), or after flush_tlb_multi returned. */
        @JsonProperty("after-flush") AFTER_FLUSH("after-flush");

        private final String text;

        Position(String text) {
            this.text = text;
        }

        public String text() {
            return text;
        }
    }

    /** How the kernel source would read it: {@code hook(mm, start, end) after-flush}. */
    public String describe() {
        return "(" + mm.text() + ", " + start().text() + ", " + end().text() + ")" + (at == null ? "" : " " + at.text());
    }
}
