package dev.shootdown.audit;

import java.util.Arrays;
import java.util.Locale;
import java.util.stream.Collectors;

/**
 * What the audit can find wrong, one constant per kind of violation; {@link #label()} is the name
 * a report, an experiment's expectations and the docs use ({@code use-after-free}). The checks
 * report with these constants, so a kind cannot be misspelt where it is found; the report keeps the
 * label (docs/audit.md says what each one means and which check finds it).
 */
public enum ViolationKind {
    /** An access through a translation to a frame allocation freed before it ({@link UseAfterFree}). */
    USE_AFTER_FREE,
    /** An access concurrent with the free of its frame: neither happened before the other ({@link UseAfterFree}). */
    RACE_WITH_FREE,
    /**
     * A CPU TLB still held a translation when its frame was freed ({@link CoverageAtFree}), or at the
     * end after a lost IPI ({@link FlushProgress}); in an imported trace, a CPU asked to flush that
     * never did ({@link TraceCoverage}).
     */
    MISSING_CPU_INVALIDATION,
    /** A secondary TLB was not invalidated for a PTE change in time ({@link SecondaryCoverage}, {@link CoverageAtFree}). */
    MISSING_SECONDARY_INVALIDATION,
    /** An access through a translation its finished operation forbade ({@link StaleTranslationUse}). */
    STALE_TRANSLATION_USE,
    /** The secondary-TLB hook named an mm whose PTEs its shootdown did not change ({@link RightMm}). */
    WRONG_MM_INVALIDATION,
    /** The simulated kernel oopsed, a NULL mm dereferenced in the hook ({@link RightMm}). */
    KERNEL_OOPS,
    /** A device faulted again and again on an address its PTE already allowed ({@link FaultProgress}). */
    FAULT_LIVELOCK,
    /** An ATC_INV issued before its IOTLB invalidation was synced ({@link AtcAfterIotlb}). */
    ATC_BEFORE_IOTLB,
    /** A CPU never answered a flush IPI: the initiator spins in csd_lock_wait ({@link FlushProgress}). */
    NON_RESPONSIVE_CSD_LOCK,
    /** The simulated kernel's watchdog saw a shootdown make no progress ({@link FlushProgress}). */
    STALL;

    private final String label;

    ViolationKind() {
        this.label = name().toLowerCase(Locale.ROOT).replace('_', '-');
    }

    /** The kind's name in reports and experiment files ({@code use-after-free}). */
    public String label() {
        return label;
    }

    /** The kind labelled {@code label}, or null. */
    public static ViolationKind named(String label) {
        for (ViolationKind k : values()) {
            if (k.label.equals(label)) {
                return k;
            }
        }
        return null;
    }

    /** Every label, comma-separated, in declaration order: for a message naming what was expected. */
    public static String labels() {
        return Arrays.stream(values()).map(ViolationKind::label).collect(Collectors.joining(", "));
    }
}
