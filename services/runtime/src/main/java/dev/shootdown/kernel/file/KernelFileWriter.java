package dev.shootdown.kernel.file;

import dev.shootdown.kernel.Hook;
import dev.shootdown.kernel.KernelVariant;
import dev.shootdown.kernel.Rules;
import dev.shootdown.kernel.Site;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * A kernel variant written out as its file reads: every rule, resolved, for {@code shootdown
 * kernels --resolved}, {@code compare}'s rules that differ and {@code shrink}'s saved variant.
 * {@link KernelFiles} reads what this writes.
 */
public final class KernelFileWriter {

    private KernelFileWriter() {}

    /**
     * {@code v} resolved, every rule written out, as YAML that {@link KernelFiles#load} reads back to the same
     * rules (without {@code extends}: nothing is left to inherit).
     */
    public static String toYaml(KernelVariant v) {
        StringBuilder b = new StringBuilder();
        b.append("# ").append(v.name()).append(", resolved").append(v.basedOn() == null ? "" : " (extends " + v.basedOn() + ")")
                .append(": every rule written out\n");
        b.append("name: ").append(v.name()).append('\n');
        b.append("description: ").append(quote(v.description())).append('\n');
        b.append("hook: ").append(v.hook()).append('\n');
        for (var section : rules(v).entrySet()) {
            b.append(section.getKey()).append(":\n");
            for (var function : section.getValue().entrySet()) {
                b.append("  ").append(function.getKey()).append(":\n");
                for (var key : function.getValue().entrySet()) {
                    String value = key.getKey().equals("source") ? quote(key.getValue()) : key.getValue();
                    b.append("    ").append(key.getKey()).append(": ").append(value).append('\n');
                }
            }
        }
        return b.toString();
    }

    /**
     * Every rule of {@code v}, section by section and function by function, each value as a file
     * writes it ({@code hook: {mm: mm, range: [start, end], at: after-flush}}), source last. What
     * {@code compare} and {@code kernels} print.
     */
    public static Map<String, Map<String, Map<String, String>>> rules(KernelVariant v) {
        Map<String, Map<String, Map<String, String>>> out = new LinkedHashMap<>();
        Map<String, Map<String, String>> generic = new LinkedHashMap<>();
        generic.put("mmu_notifier_invalidate_range_end", site(v.generic().invalidateRangeEnd()));
        generic.put("tlb_flush_mmu_tlbonly", site(v.generic().tlbFlushMmuTlbonly()));
        generic.put("try_to_unmap_one", site(v.generic().tryToUnmapOne()));
        Rules.ColdOrPageoutPteRange pageout = v.generic().madviseColdOrPageoutPteRange();
        generic.put("madvise_cold_or_pageout_pte_range",
                kv("pageout_clears_young", String.valueOf(pageout.pageoutClearsYoung()), pageout.source()));
        out.put("generic", generic);
        KernelVariant.X86 x = v.x86();
        Map<String, Map<String, String>> x86 = new LinkedHashMap<>();
        x86.put("flush_tlb_mm_range", kv("tlb_single_page_flush_ceiling", String.valueOf(x.flushTlbMmRange().ceiling()), "hook",
                hook(x.flushTlbMmRange().hook()), x.flushTlbMmRange().source()));
        x86.put("native_flush_tlb_multi", kv("lazy_cpus", x.nativeFlushTlbMulti().lazyCpus().text(), x.nativeFlushTlbMulti().source()));
        x86.put("arch_tlbbatch_should_defer", kv("defer", x.archTlbbatchShouldDefer().defer().text(),
                x.archTlbbatchShouldDefer().source()));
        x86.put("arch_tlbbatch_add_pending", site(x.archTlbbatchAddPending()));
        x86.put("arch_tlbbatch_flush", site(x.archTlbbatchFlush()));
        x86.put("arch_flush_tlb_batched_pending", kv("flush", x.archFlushTlbBatchedPending().flush().text(),
                x.archFlushTlbBatchedPending().source()));
        x86.put("mmu_gather", kv("merge_vmas", String.valueOf(x.mmuGather().mergeVmas()), x.mmuGather().source()));
        out.put("x86", x86);
        KernelVariant.Arm64 a = v.arm64();
        Map<String, Map<String, String>> arm64 = new LinkedHashMap<>();
        arm64.put("flush_tlb_mm", site(a.flushTlbMm()));
        arm64.put("__flush_tlb_range", kv("max_tlbi_ops", String.valueOf(a.flushTlbRange().maxTlbiOps()), "hook",
                hook(a.flushTlbRange().hook()), a.flushTlbRange().source()));
        arm64.put("__flush_tlb_range_op", kv("advances_start", String.valueOf(a.flushTlbRangeOp().advancesStart()),
                a.flushTlbRangeOp().source()));
        arm64.put("__flush_tlb_page_nosync", site(a.flushTlbPageNosync()));
        arm64.put("arch_tlbbatch_should_defer", kv("defer", a.archTlbbatchShouldDefer().defer().text(),
                a.archTlbbatchShouldDefer().source()));
        arm64.put("arch_tlbbatch_flush", site(a.archTlbbatchFlush()));
        arm64.put("arch_flush_tlb_batched_pending", kv("flush", a.archFlushTlbBatchedPending().flush().text(),
                a.archFlushTlbBatchedPending().source()));
        arm64.put("mmu_gather", kv("merge_vmas", String.valueOf(a.mmuGather().mergeVmas()), a.mmuGather().source()));
        out.put("arm64", arm64);
        return out;
    }

    /** A hook as a file writes it. */
    public static String hook(Hook h) {
        if (h == null) {
            return "none";
        }
        return "{mm: " + h.mm().text() + ", range: [" + h.start().text() + ", " + h.end().text() + "]"
                + (h.at() == null ? "" : ", at: " + h.at().text()) + "}";
    }

    private static Map<String, String> site(Site s) {
        Map<String, String> m = new LinkedHashMap<>();
        m.put("hook", hook(s.hook()));
        m.put("source", s.source());
        return m;
    }

    private static Map<String, String> kv(String k, String v, String source) {
        Map<String, String> m = new LinkedHashMap<>();
        m.put(k, v);
        m.put("source", source);
        return m;
    }

    private static Map<String, String> kv(String k1, String v1, String k2, String v2, String source) {
        Map<String, String> m = new LinkedHashMap<>();
        m.put(k1, v1);
        m.put(k2, v2);
        m.put("source", source);
        return m;
    }

    private static String quote(String s) {
        return "\"" + s.replace("\\", "\\\\").replace("\"", "\\\"") + "\"";
    }
}
