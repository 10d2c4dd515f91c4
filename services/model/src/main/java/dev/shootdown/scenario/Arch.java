package dev.shootdown.scenario;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonValue;
import java.util.Arrays;
import java.util.List;

/**
 * The architectures the model knows: what differs is how a CPU TLB is flushed (arch/x86/mm/tlb.c:
 * IPIs to flush_tlb_func; arch/arm64/include/asm/tlbflush.h: broadcast TLBI and DSB) and the
 * IOMMU behind it (Intel VT-d or AMD-Vi, or the Arm SMMUv3). Scenario files, logs and reports
 * write the {@link #label()} ({@code x86}, {@code arm64}).
 */
public enum Arch {
    /** x86-64. */
    X86("x86"),
    /** arm64 (AArch64). */
    ARM64("arm64");

    private final String label;

    Arch(String label) {
        this.label = label;
    }

    /** The name scenario files, logs, reports and {@code --arch} use. */
    @JsonValue
    public String label() {
        return label;
    }

    /** Every label, in declaration order. */
    public static List<String> labels() {
        return Arrays.stream(values()).map(Arch::label).toList();
    }

    /** The architecture labelled {@code label}, or null. */
    public static Arch named(String label) {
        for (Arch a : values()) {
            if (a.label.equals(label)) {
                return a;
            }
        }
        return null;
    }

    /** The architecture labelled {@code label}; an {@link IllegalArgumentException} naming the labels otherwise. */
    @JsonCreator
    public static Arch of(String label) {
        Arch a = named(label);
        if (a == null) {
            throw new IllegalArgumentException("expected one of " + String.join(", ", labels()) + ", got '" + label + "'");
        }
        return a;
    }

    /** The label: messages and file names read as before the enum. */
    @Override
    public String toString() {
        return label;
    }
}
