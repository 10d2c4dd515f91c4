package dev.shootdown.audit;

import dev.shootdown.event.Access;
import dev.shootdown.event.Envelope;
import dev.shootdown.event.FaultEvent;
import dev.shootdown.event.InjectionEvent;
import dev.shootdown.event.IpiEvent.FlushKind;
import dev.shootdown.event.IpiEvent;
import dev.shootdown.event.Kernel;
import dev.shootdown.event.PageTableEvent;
import dev.shootdown.event.SecondaryTlbEvent;
import dev.shootdown.event.SyscallEvent;
import dev.shootdown.event.TraceEvent.TranslationSource;
import dev.shootdown.event.TraceEvent;
import dev.shootdown.scenario.Scenarios;
import dev.shootdown.testing.LogBuilder;
import dev.shootdown.testing.TestRuns;
import java.util.List;

/**
 * The hand-built logs the audit's checks are tested on: one page of mm 1 (VA, frame FRAME),
 * cached by cpu0's TLB, iommu0's IOTLB and dev0's ATC, and a shootdown of it: a munmap
 * ({@link Run}), a reclaim pass ({@link Reclaim}), an mprotect ({@link Mprotect}), arm64's
 * permission upgrade ({@link #arm64Upgrade}), the seed's fault livelock ({@link Livelock}). Each
 * test changes one step.
 */
final class AuditLogs {

    private AuditLogs() {}


    static final long VA = 0x7f0000000000L;
    static final long END = VA + 4096;
    static final long FRAME = 0x1000;

    /** The shared beginning: everything cached, then the PTE cleared and the CPU flush sent. */
    static final class Run {
        final LogBuilder b = new LogBuilder("t");
        final Envelope start;
        final Envelope bound;
        final Envelope iotlbFill;
        final Envelope cpuFill;
        final Envelope clear;
        final Envelope flush;

        Run() {
            start = b.emit("control", 0, TestRuns.runStarted("t", 1, Scenarios.munmapDma()));
            bound = b.emit("coordinator", 10, new SecondaryTlbEvent.SvaBound("iommu0", "dev0", 1, 1, true), start);
            b.emit("iommu0", 20, new TraceEvent.PasidBound("iommu0", "dev0", 1, 1, true), bound);
            iotlbFill = b.emit("iommu0", 30, new TraceEvent.IotlbFilled("iommu0", 1, VA, FRAME, 1, true));
            b.emit("iommu0", 30, new TraceEvent.AtcFilled("iommu0", "dev0", 1, VA, FRAME, 1, true));
            b.emit("iommu0", 30, new TraceEvent.DmaCompleted("iommu0", "dev0", 1, VA, FRAME, 1, Access.WRITE,
                    TranslationSource.WALK));
            b.emit("cpu0", 40, new TraceEvent.MmSwitched("cpu0", 0, 1, 0), start);
            cpuFill = b.emit("cpu0", 50, new TraceEvent.TlbFilled("cpu0", 1, VA, FRAME, 1, true));
            Envelope munmap = b.emit("cpu0", 60, new SyscallEvent.Munmap("coordinator", "cpu0", 100, 1, VA, END));
            b.emit("coordinator", 70, new PageTableEvent.MmuGatherStarted(1, 1, VA, END, "munmap", "cpu0", 100), munmap);
            clear = b.emit("coordinator", 70, new PageTableEvent.PteCleared(1, VA, FRAME, 1, 1));
            b.emit("coordinator", 70, new PageTableEvent.MmTlbGenIncremented(1, 1, VA, END, 1));
            flush = b.emit("coordinator", 70, new IpiEvent.FlushTlb("cpu0", 1, VA, END, 1, 1, false, false, 1));
        }

        Envelope cpuAck() {
            return b.emit("cpu0", 100, new IpiEvent.TlbFlushed("coordinator", "cpu0", 1, VA, END, FlushKind.PARTIAL, 1, 1, 1), flush);
        }

        /** The IOMMU invalidates after the request; returns its completion. */
        Envelope secondary(Envelope request) {
            b.emit("iommu0", 300, new SecondaryTlbEvent.IotlbInvalidated("iommu0", 1, VA, END, "TLBI_NH_VA", 1, 1), request);
            b.emit("iommu0", 400, new SecondaryTlbEvent.AtcInvalidated("iommu0", "dev0", 1, VA, END, 1, 1));
            return b.emit("iommu0", 400, new SecondaryTlbEvent.SecondaryTlbsInvalidated("coordinator", "iommu0", 1, 1, VA, END, 1));
        }

        Envelope free(Envelope... seen) {
            Envelope free = b.emit("coordinator", 500, new PageTableEvent.FrameFreed(FRAME, 1, 1), seen);
            b.emit("coordinator", 500, new SyscallEvent.MunmapReturned("cpu0", 100, 1, VA, END, 0));
            b.emit("coordinator", 500, new PageTableEvent.MmuGatherFinished(1, 1, 1));
            return free;
        }

        AuditReport audit() {
            Auditor auditor = new Auditor();
            b.log().forEach(auditor::accept);
            return auditor.finish();
        }
    }

    static List<String> kinds(AuditReport r) {
        return r.violations().stream().map(Violation::kind).distinct().sorted().toList();
    }

    /**
     * A reclaim pass (shrink_folio_list with TTU_BATCH_FLUSH) on an arm64 6.6 kernel, by kswapd
     * on cpu1: the PTE of VA in mm 1 is cleared, arch_tlbbatch_add_pending invalidates mm 1's
     * secondary TLB whole and sends the TLBI; arch_tlbbatch_flush's DSB waits for it; the folio
     * is freed and the pass ends.
     */
    static final class Reclaim {
        final LogBuilder b = new LogBuilder("t");
        final Envelope start;
        final Envelope iotlbFill;
        final Envelope started;
        final Envelope clear;

        Reclaim(String caller, long currentMm) {
            start = b.emit("control", 0, TestRuns.runStarted("t", 1, Scenarios.munmapDma()));
            Envelope bound = b.emit("coordinator", 10, new SecondaryTlbEvent.SvaBound("iommu0", "dev0", 1, 1, false), start);
            b.emit("iommu0", 20, new TraceEvent.PasidBound("iommu0", "dev0", 1, 1, false), bound);
            iotlbFill = b.emit("iommu0", 30, new TraceEvent.IotlbFilled("iommu0", 1, VA, FRAME, 1, true));
            b.emit("cpu0", 40, new TraceEvent.MmSwitched("cpu0", 0, 1, 0), start);
            b.emit("cpu0", 50, new TraceEvent.TlbFilled("cpu0", 1, VA, FRAME, 1, true));
            started = b.emit("coordinator", 60, new PageTableEvent.TlbFlushStarted(7, caller, "cpu1",
                    caller.equals("kswapd") ? "kswapd0" : "stress-ng", 50, currentMm, 0, 0, Kernel.TLB_FLUSH_ALL, ""));
            clear = b.emit("coordinator", 70, new PageTableEvent.PteCleared(1, VA, FRAME, 1, 7));
            b.emit("coordinator", 70, new PageTableEvent.TlbBatchAddPending(7, 1, VA));
        }

        /** The secondary-TLB hook called for {@code mm} [start, end), and, unless mm is NULL, its invalidation. */
        Envelope hook(String caller, long mm, long start, long end, Envelope... seen) {
            Envelope call = b.emit("coordinator", 80, new SecondaryTlbEvent.SecondaryTlbHookCalled("cpu1", caller,
                    "arch_invalidate_secondary_tlbs", mm, start, end, mm == 0 ? 0 : 1, 7), seen);
            if (mm == 0) {
                return call;
            }
            Envelope request = b.emit("coordinator", 80, new SecondaryTlbEvent.InvalidateSecondaryTlbs("iommu0", mm, 1, start, end, 7));
            b.emit("iommu0", 90, new SecondaryTlbEvent.IotlbInvalidated("iommu0", 1, start, end, "TLBI_NH_ASID", 1, 7), request);
            return b.emit("iommu0", 100, new SecondaryTlbEvent.SecondaryTlbsInvalidated("coordinator", "iommu0", mm, 1, start, end, 7));
        }

        /** The broadcast TLBI for VA of mm 1, sent after {@code seen}, reaches cpu0 and completes. */
        Envelope tlbi(Envelope... seen) {
            Envelope tlbi = b.emit("coordinator", 110, new IpiEvent.Tlbi("cpu0", "VALE1IS", 1, VA, END, 7), seen);
            return b.emit("cpu0", 120, new IpiEvent.TlbiCompleted("coordinator", "cpu0", 1, VA, END, 1, 7), tlbi);
        }

        /** The folio is freed after {@code seen}, and the pass ends. */
        Envelope freeAndFinish(Envelope... seen) {
            Envelope free = b.emit("coordinator", 200, new PageTableEvent.FrameFreed(FRAME, 1, 7), seen);
            b.emit("coordinator", 210, new PageTableEvent.TlbFlushFinished(7, 1));
            return free;
        }

        AuditReport audit() {
            return Auditor.audit(b.log());
        }
    }

    /**
     * x86 6.6: the batch's hook completed, then arch_tlbbatch_flush IPIs cpu0 (no mm attached)
     * and the IPI is lost there; the pass never frees nor finishes. Returns the IPI, then the
     * fault-injected event that lost it.
     */
    static List<Envelope> lostBatchIpi(Reclaim r) {
        Envelope done = r.hook("arch_tlbbatch_add_pending", 1, 0, Kernel.TLB_FLUSH_ALL, r.clear);
        r.b.emit("coordinator", 110, new PageTableEvent.TlbBatchFlushStarted(7, List.of("cpu0", "cpu1")), done);
        Envelope ipi = r.b.emit("coordinator", 110, new IpiEvent.FlushTlb("cpu0", 0, 0, Kernel.TLB_FLUSH_ALL, -1, -1, true, false, 7,
                List.of(new IpiEvent.MmTlbGen(1, 1))));
        Envelope lost = r.b.emit("cpu0", 120, new InjectionEvent.FaultInjected("lost-ipi", "model", "cpu0", "flush-tlb shootdown 7",
                "the flush IPI of shootdown 7 never reached cpu0"), ipi);
        return List.of(ipi, lost);
    }

    /**
     * The seed's arm64 6.5 livelock: VA of mm 1 is mapped read-only in a writable VMA and cached
     * so in iommu0's IOTLB; dev0 writes it and faults; the first fault's handler makes the PTE
     * writable (ptep_set_access_flags, no secondary invalidation on 6.5), and every fault is
     * answered SUCCESS.
     */
    static final class Livelock {
        final LogBuilder b = new LogBuilder("t");
        final Envelope start;
        Envelope upgrade;
        final List<Envelope> faults = new java.util.ArrayList<>();
        final List<Envelope> responses = new java.util.ArrayList<>();
        private Envelope last;

        Livelock() {
            start = b.emit("control", 0, TestRuns.runStarted("t", 1, Scenarios.smmuPermissionUpgrade()));
            Envelope bound = b.emit("coordinator", 10, new SecondaryTlbEvent.SvaBound("iommu0", "dev0", 1, 1, false), start);
            b.emit("coordinator", 20, new PageTableEvent.PteSet(1, VA, FRAME, 1, false));
            b.emit("coordinator", 20, new PageTableEvent.PteSet(1, VA2, FRAME + 4096, 1, true));
            last = b.emit("iommu0", 30, new TraceEvent.IotlbFilled("iommu0", 1, VA, FRAME, 1, false), bound);
        }

        /** dev0 faults with {@code access} on {@code va}; the handler upgrades VA's PTE the first time, and answers {@code code}. */
        Livelock fault(long va, Access access, FaultEvent.PageResponseCode code) {
            Envelope fault = b.emit("iommu0", 40, new FaultEvent.DeviceFaultRaised("coordinator", "iommu0", "dev0", 1, 1, va, access),
                    last);
            faults.add(fault);
            if (upgrade == null && va == VA && access == Access.WRITE) {
                upgrade = b.emit("coordinator", 50, new PageTableEvent.PteProtectionChanged(1, VA, FRAME, 1, true,
                        "ptep_set_access_flags", 3), fault);
            }
            last = b.emit("coordinator", 60, new FaultEvent.PageResponseSent("iommu0", "dev0", 1, va, code), fault);
            responses.add(last);
            return this;
        }

        Livelock writes(int n) {
            for (int i = 0; i < n; i++) {
                fault(VA, Access.WRITE, FaultEvent.PageResponseCode.SUCCESS);
            }
            return this;
        }
    }

    static final long VA2 = VA + 0x10000;

    /**
     * mprotect(PROT_READ) of VA in mm 1 by task 100 on cpu0 (shootdown 2): VA is cached writable
     * by cpu0's TLB and iommu0's IOTLB; change_pte_range makes the PTE read-only and
     * flush_tlb_mm_range flushes cpu0.
     */
    static final class Mprotect {
        final LogBuilder b = new LogBuilder("t");
        final Envelope start;
        final Envelope iotlbFill;
        final Envelope cpuFill;
        final Envelope downgrade;
        final Envelope cpuAck;

        Mprotect() {
            start = b.emit("control", 0, TestRuns.runStarted("t", 1, Scenarios.mprotectDowngrade()));
            Envelope bound = b.emit("coordinator", 10, new SecondaryTlbEvent.SvaBound("iommu0", "dev0", 1, 1, false), start);
            b.emit("coordinator", 10, new PageTableEvent.PteSet(1, VA, FRAME, 1, true));
            b.emit("iommu0", 20, new TraceEvent.PasidBound("iommu0", "dev0", 1, 1, false), bound);
            iotlbFill = b.emit("iommu0", 30, new TraceEvent.IotlbFilled("iommu0", 1, VA, FRAME, 1, true));
            b.emit("cpu0", 40, new TraceEvent.MmSwitched("cpu0", 0, 1, 0), start);
            cpuFill = b.emit("cpu0", 50, new TraceEvent.TlbFilled("cpu0", 1, VA, FRAME, 1, true));
            Envelope call = b.emit("cpu0", 60, new SyscallEvent.Mprotect("coordinator", "cpu0", 100, 1, VA, END, false));
            b.emit("coordinator", 70, new PageTableEvent.MmuGatherStarted(2, 1, VA, END, "mprotect", "cpu0", 100), call);
            downgrade = b.emit("coordinator", 70, new PageTableEvent.PteProtectionChanged(1, VA, FRAME, 1, false,
                    "change_pte_range", 2));
            Envelope flush = b.emit("coordinator", 70, new IpiEvent.FlushTlb("cpu0", 1, VA, END, 1, 1, false, false, 2));
            cpuAck = b.emit("cpu0", 100, new IpiEvent.TlbFlushed("coordinator", "cpu0", 1, VA, END, FlushKind.PARTIAL, 1, 1, 2),
                    flush);
        }

        /** flush_tlb_mm_range calls the hook and iommu0 invalidates VA; returns the completion. */
        Envelope secondary() {
            Envelope call = b.emit("coordinator", 110, new SecondaryTlbEvent.SecondaryTlbHookCalled("cpu0", "flush_tlb_mm_range",
                    "arch_invalidate_secondary_tlbs", 1, VA, END, 1, 2), cpuAck);
            Envelope request = b.emit("coordinator", 110, new SecondaryTlbEvent.InvalidateSecondaryTlbs("iommu0", 1, 1, VA, END, 2),
                    call);
            b.emit("iommu0", 120, new SecondaryTlbEvent.IotlbInvalidated("iommu0", 1, VA, END, "TLBI_NH_VA", 1, 2), request);
            return b.emit("iommu0", 130, new SecondaryTlbEvent.SecondaryTlbsInvalidated("coordinator", "iommu0", 1, 1, VA, END, 2));
        }

        /** mprotect returns to task 100 after {@code seen}. */
        Envelope returns(Envelope... seen) {
            Envelope returned = b.emit("coordinator", 200, new SyscallEvent.MprotectReturned("cpu0", 100, 1, VA, END, 0), seen);
            b.emit("coordinator", 200, new PageTableEvent.MmuGatherFinished(2, 1, 0));
            return returned;
        }

        AuditReport audit() {
            return auditOf(b);
        }
    }

    static AuditReport auditOf(LogBuilder b) {
        return Auditor.audit(b.log());
    }

    /**
     * arm64: dev0 write-faults on VA of mm 1, mapped read-only and cached so by iommu0; the
     * handler's ptep_set_access_flags makes the PTE writable and flushes (shootdown 3,
     * flush_tlb_page: a TLBI to cpu0).
     */
    static LogBuilder arm64Upgrade(boolean secondary) {
        LogBuilder b = new LogBuilder("t");
        Envelope start = b.emit("control", 0, TestRuns.runStarted("t", 1, Scenarios.smmuPermissionUpgrade()));
        Envelope bound = b.emit("coordinator", 10, new SecondaryTlbEvent.SvaBound("iommu0", "dev0", 1, 1, false), start);
        b.emit("coordinator", 10, new PageTableEvent.PteSet(1, VA, FRAME, 1, false));
        b.emit("iommu0", 30, new TraceEvent.IotlbFilled("iommu0", 1, VA, FRAME, 1, false), bound);
        Envelope fault = b.emit("iommu0", 40, new FaultEvent.DeviceFaultRaised("coordinator", "iommu0", "dev0", 1, 1, VA,
                Access.WRITE));
        b.emit("coordinator", 50, new PageTableEvent.TlbFlushStarted(3, "ptep_set_access_flags", "cpu2", "iopf", 0, 0, 1, VA,
                END, "iommu0#2"), fault);
        b.emit("coordinator", 50, new PageTableEvent.PteProtectionChanged(1, VA, FRAME, 1, true, "ptep_set_access_flags", 3));
        Envelope tlbi = b.emit("coordinator", 50, new IpiEvent.Tlbi("cpu0", "VALE1IS", 1, VA, END, 3));
        Envelope last = b.emit("cpu0", 60, new IpiEvent.TlbiCompleted("coordinator", "cpu0", 1, VA, END, 0, 3), tlbi);
        if (secondary) {
            Envelope call = b.emit("coordinator", 70, new SecondaryTlbEvent.SecondaryTlbHookCalled("cpu2", "__flush_tlb_page_nosync",
                    "arch_invalidate_secondary_tlbs", 1, VA, END, 1, 3), last);
            Envelope request = b.emit("coordinator", 70, new SecondaryTlbEvent.InvalidateSecondaryTlbs("iommu0", 1, 1, VA, END, 3));
            b.emit("iommu0", 80, new SecondaryTlbEvent.IotlbInvalidated("iommu0", 1, VA, END, "TLBI_NH_VA", 1, 3), request);
            last = b.emit("iommu0", 90, new SecondaryTlbEvent.SecondaryTlbsInvalidated("coordinator", "iommu0", 1, 1, VA, END, 3));
        }
        b.emit("coordinator", 100, new PageTableEvent.TlbFlushFinished(3, 0), last);
        b.emit("coordinator", 100, new FaultEvent.PageResponseSent("iommu0", "dev0", 1, VA, FaultEvent.PageResponseCode.SUCCESS));
        return b;
    }

    static Envelope dmaThroughIotlb(LogBuilder b, Access access, Envelope... seen) {
        return b.emit("iommu0", 300, new TraceEvent.DmaCompleted("iommu0", "dev0", 1, VA, FRAME, 1, access,
                TranslationSource.IOTLB), seen);
    }
}
