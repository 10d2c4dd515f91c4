package dev.shootdown.ftrace;

import dev.shootdown.event.Callers;
import dev.shootdown.event.ControlEvent;
import dev.shootdown.event.Envelope;
import dev.shootdown.event.Event;
import dev.shootdown.event.InShootdown;
import dev.shootdown.event.IpiEvent;
import dev.shootdown.event.IpiEvent.FlushKind;
import dev.shootdown.event.Kernel;
import dev.shootdown.event.PageTableEvent;
import dev.shootdown.event.SecondaryTlbEvent;
import dev.shootdown.event.SyscallEvent;
import dev.shootdown.event.TraceEvent;
import dev.shootdown.ftrace.ImportState.Cpu;
import dev.shootdown.ftrace.ImportState.FlushCall;
import dev.shootdown.ftrace.ImportState.Op;
import dev.shootdown.ftrace.ImportState.PendingHook;
import dev.shootdown.ftrace.ImportState.Round;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SortedMap;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.function.Consumer;
import java.util.regex.Matcher;

/**
 * One pass of the importer over a capture ({@link FtraceImport} says what it does): the state of
 * each CPU and task as the lines go by, and the envelopes it writes.
 */
final class FtraceConverter {

    private final FtraceImport.Capture capture;
    private final Consumer<Envelope> out;
    private final ImportedLog log;
    private final Map<Integer, Cpu> cpus = new TreeMap<>();
    /** The shootdown each task is in (a task's kernel code runs one at a time), by pid; idle tasks by -1 - cpu. */
    private final Map<Integer, Op> ops = new LinkedHashMap<>();
    /** Each task's last event: a task runs on one CPU at a time, so its lines are in program order across migrations. */
    private final Map<Integer, Envelope> lastOfTask = new HashMap<>();
    private int currentTask;
    private final Map<String, Long> mmIds = new HashMap<>();
    final List<ControlEvent.MmAddress> mmList = new ArrayList<>();
    private final Map<Integer, Long> pidMm = new HashMap<>();
    private final Map<String, Set<Long>> bound = new TreeMap<>();
    private final Map<Long, Round> claimed = new HashMap<>();
    private final Set<Long> consumed = new LinkedHashSet<>();
    private final Map<Long, Long> frameEpochs = new HashMap<>();
    final SortedMap<String, Long> ignored = new TreeMap<>();
    private final List<String> warnings = new ArrayList<>();
    private long warningCount;
    private long nextShootdown = 1;
    boolean x86;
    int maxCpu = -1;
    long firstNs = -1;
    private LineWindow window;

    FtraceConverter(FtraceImport.Capture capture, Consumer<Envelope> out) {
        this.capture = capture;
        this.out = out;
        this.log = new ImportedLog(FtraceImport.runId(capture.file()), out);
    }

    List<String> warningList() {
        List<String> w = new ArrayList<>(warnings);
        if (warningCount > warnings.size()) {
            w.add("and " + (warningCount - warnings.size()) + " more");
        }
        return w;
    }

    void run() {
        window = new LineWindow(FtraceImport.parsed(capture, this::warn));
        for (FtraceLine l = window.next(); l != null; l = window.next()) {
            if (firstNs < 0) {
                firstNs = l.timeNs();
            }
            if (consumed.remove(l.number())) {
                continue;
            }
            try {
                handle(l);
            } catch (IllegalArgumentException e) {
                if (e.getMessage() != null && e.getMessage().startsWith(capture.file() + ":")) {
                    throw e; // a line read ahead, already named
                }
                throw new IllegalArgumentException(capture.file() + ":" + l.number() + ": " + e.getMessage(), e);
            }
        }
        if (firstNs < 0) {
            firstNs = 0;
        }
        for (Cpu c : cpus.values()) {
            endHook(c, c.lastNs);
            endWait(c);
        }
        for (Op op : new ArrayList<>(ops.values())) {
            Cpu c = op.cpu;
            c.op = op;
            closeUnmarked(c);
            if (c.op != null) {
                warn(capture.file() + ":" + op.line + ": " + op.word + " on " + c.node
                        + " has no `" + op.word + " returned` marker before the capture ends");
            }
        }
        List<Envelope> last = log.lastOfEachNode();
        long endNs = last.stream().mapToLong(Envelope::timeNs).max().orElse(firstNs);
        emit("control", endNs, null, last, new ControlEvent.RunCompleted("the capture ended"));
    }

    // ---------------------------------------------------------------- lines

    private void handle(FtraceLine l) {
        maxCpu = Math.max(maxCpu, l.cpu());
        String fn = l.function();
        if (fn != null && FtraceImport.X86.contains(fn)) {
            x86 = true;
        }
        Cpu c = cpu(l.cpu());
        int task = l.pid() == 0 ? -1 - l.cpu() : l.pid(); // each CPU's idle task is pid 0
        if (!l.inHardirq() && c.lastTask != null && c.lastTask != task) {
            // The CPU switched tasks. A flush's wait for its IPIs was over: csd_lock_wait spins with
            // preemption disabled, so no other task runs here before every handler answered.
            if (c.waiting != null) {
                endWait(c);
            }
            // An operation the kernel did for the last task without a marker is over.
            Op previous = ops.get(c.lastTask);
            if (previous != null && !previous.marked && previous.cpu == c) {
                c.op = previous;
                closeUnmarked(c);
                ops.remove(c.lastTask);
            }
        }
        if (!l.inHardirq()) {
            c.lastTask = task;
        }
        currentTask = task;
        c.op = ops.get(task);
        if (c.waiting != null && !partOfWait(c, l)) {
            endWait(c);
        }
        String[] callback = l.callback();
        if (callback == null) {
            endHook(c, l.timeNs());
        }
        if (l.event().equals("tracing_mark_write")) {
            onMarker(c, l);
        } else if ("flush_tlb_mm_range".equals(fn)) {
            onFlushCall(c, l, "flush_tlb_mm_range", mm(l, "mm"), l.number("start", 0), l.number("end", -1));
        } else if ("arch_tlbbatch_flush".equals(fn)) {
            onFlushCall(c, l, "arch_tlbbatch_flush", 0, 0, Kernel.TLB_FLUSH_ALL);
        } else if ("native_flush_tlb_multi".equals(fn)) {
            onFlushMulti(c, l);
        } else if ("flush_tlb_func".equals(fn)) {
            onFlushFunc(c, l);
        } else if (fn != null && FtraceImport.HOOKS.containsKey(fn)) {
            onHook(c, l, FtraceImport.HOOKS.get(fn), mm(l, "mm"), l.number("start", 0), l.number("end", -1));
        } else if (callback != null) {
            onCallback(c, l, callback[0], callback[1]);
        } else if (l.body().startsWith("stlb bound")) {
            long mm = mm(l, "mm");
            pidMm.put(l.pid(), mm);
            bind(c, l.timeNs(), FtraceImport.STLB, mm);
        } else if (l.body().startsWith("stlb release")) {
            long mm = mm(l, "mm");
            if (bound.getOrDefault(FtraceImport.STLB, Set.of()).remove(mm)) {
                emitCpu(c, l.timeNs(), null, new SecondaryTlbEvent.SvaUnbound(FtraceImport.STLB, FtraceImport.STLB, 0, mm));
            }
        } else if (l.body().startsWith("stlb range_start") && c.op != null && !c.op.marked && c.op.flushed) {
            closeUnmarked(c); // mmu_notifier_invalidate_range_start: a new operation begins on this CPU
            ignored.merge("mmu_notifier range_start/range_end", 1L, Long::sum);
        } else if (l.event().equals("mm_page_free")) {
            onFree(c, l);
        } else {
            String what = fn != null ? l.event() + " (" + fn + ")"
                    : l.event().equals("tlb_flush") ? "tlb_flush outside flush_tlb_func (switch_mm, or its IPI send)"
                    : l.body().startsWith("stlb range_") ? "mmu_notifier range_start/range_end" : l.event();
            ignored.merge(what, 1L, Long::sum);
        }
        c.lastNs = l.timeNs();
        if (c.op == null) {
            ops.remove(task);
        } else {
            c.op.cpu = c;
            c.op.task = task;
            ops.put(task, c.op);
        }
    }

    private void onMarker(Cpu c, FtraceLine l) {
        String text = l.body().strip();
        Matcher start = FtraceImport.START.matcher(text);
        Matcher ret = FtraceImport.RETURNED.matcher(text);
        if (start.matches()) {
            closeUnmarked(c); // the task's flush before the call is over: its marker comes after it
        }
        emitCpu(c, l.timeNs(), null, new TraceEvent.TraceMarker(c.node, l.pid(), l.task(), text));
        if (start.matches()) {
            if (c.op != null) {
                warn(capture.file() + ":" + l.number() + ": a second `start` marker on " + c.node + " before `"
                        + c.op.word + " returned`; the first is left unreturned");
            }
            String word = start.group(1);
            long from = 0;
            long to = Kernel.TLB_FLUSH_ALL;
            FtraceLine flush = aheadInOp(l, x -> "flush_tlb_mm_range".equals(x.function()));
            if (start.group(2) != null) {
                from = Long.parseUnsignedLong(start.group(2).substring(2), 16);
                to = from + Long.parseUnsignedLong(start.group(3).substring(2), 16);
            } else if (flush != null) {
                from = flush.number("start", 0);
                to = flush.number("end", -1);
            }
            FtraceLine withMm = aheadInOp(l, x -> x.args().containsKey("mm") && (x.function() != null
                    || x.callback() != null));
            long mm = withMm != null ? mm(withMm, "mm") : pidMm.getOrDefault(l.pid(), 0L);
            Op op = new Op(currentTask, nextShootdown++, word, true, mm, from, to, l.pid(), l.number());
            c.op = op;
            switch (word) {
                case "munmap", "mprotect" -> emitCpu(c, l.timeNs(), null,
                        new PageTableEvent.MmuGatherStarted(op.id, mm, from, to, word, c.node, l.pid()));
                case "memory_reclaim" -> emitCpu(c, l.timeNs(), null, new PageTableEvent.TlbFlushStarted(op.id,
                        Callers.MEMORY_RECLAIM, c.node, l.task(), l.pid(), pidMm.getOrDefault(l.pid(), mm), 0, 0,
                        Kernel.TLB_FLUSH_ALL, null)); // the cgroup's LRU: whatever mm its folios are mapped in
                default -> emitCpu(c, l.timeNs(), null, new PageTableEvent.TlbFlushStarted(op.id, Callers.MADVISE_PAGEOUT,
                        c.node, l.task(), l.pid(), mm, mm, from, to, null));
            }
        } else if (ret.matches()) {
            Op op = c.op;
            if (op == null || !op.marked || !op.word.equals(ret.group(1))) {
                warn(capture.file() + ":" + l.number() + ": `" + text + "` on " + c.node + " without its start marker");
                return;
            }
            int rc = ret.group(2) == null ? 0 : Integer.parseInt(ret.group(2));
            switch (op.word) {
                case "munmap" -> {
                    emitCpu(c, l.timeNs(), null, new SyscallEvent.MunmapReturned(c.node, op.pid, op.mm, op.start, op.end, rc));
                    emitCpu(c, l.timeNs(), null, new PageTableEvent.MmuGatherFinished(op.id, op.mm, op.frees));
                }
                case "mprotect" -> {
                    emitCpu(c, l.timeNs(), null, new SyscallEvent.MprotectReturned(c.node, op.pid, op.mm, op.start, op.end, rc));
                    emitCpu(c, l.timeNs(), null, new PageTableEvent.MmuGatherFinished(op.id, op.mm, op.frees));
                }
                case "memory_reclaim" -> {
                    long mm = pidMm.getOrDefault(op.pid, op.mm);
                    int asked = (int) ((op.end - op.start) / Kernel.PAGE_SIZE); // the marker's LEN: the bytes written
                    emitCpu(c, l.timeNs(), null, new SyscallEvent.MemoryReclaimReturned(c.node, op.pid, mm,
                            op.start == 0 ? 0 : asked, op.frees, rc));
                    emitCpu(c, l.timeNs(), null, new PageTableEvent.TlbFlushFinished(op.id, op.frees));
                }
                default -> {
                    emitCpu(c, l.timeNs(), null, new SyscallEvent.MadviseReturned(c.node, op.pid, op.mm, op.start, op.end,
                            "MADV_PAGEOUT", rc));
                    emitCpu(c, l.timeNs(), null, new PageTableEvent.TlbFlushFinished(op.id, op.frees));
                }
            }
            c.op = null;
        }
    }

    /** The first line ahead on the marker's CPU, before its `returned` marker, that matches. */
    private FtraceLine aheadInOp(FtraceLine marker, java.util.function.Predicate<FtraceLine> test) {
        boolean[] ended = {false};
        return window.nextOn(marker.cpu(), x -> {
            if (ended[0]) {
                return false;
            }
            if (x.event().equals("tracing_mark_write")) {
                ended[0] = true;
                return false;
            }
            return test.test(x);
        });
    }

    private void onFlushCall(Cpu c, FtraceLine l, String function, long mm, long start, long end) {
        Op op = c.op;
        if (op == null || !op.marked && (op.flushed || mm != 0 && op.mm != mm)) {
            closeUnmarked(c);
            op = new Op(currentTask, nextShootdown++, function, false, mm, start, end, l.pid(), l.number());
            c.op = op;
            emitCpu(c, l.timeNs(), null, new PageTableEvent.TlbFlushStarted(op.id, function, c.node, l.task(), l.pid(),
                    pidMm.getOrDefault(l.pid(), -1L), mm, start, end, null));
        }
        op.flushed = true;
        boolean freedTables = l.number("freed_tables", 0) != 0;
        int strideShift = (int) l.number("stride_shift", -1);
        emitCpu(c, l.timeNs(), null, new PageTableEvent.TlbFlushCalled(op.id, c.node, "unknown", function, mm, start, end,
                strideShift, freedTables));
        c.flush = new FlushCall(op.id, mm, start, end, freedTables);
    }

    /**
     * native_flush_tlb_multi: IPIs out, the local flush, then the wait. Its targets are the
     * CPUs whose next flush_tlb_func in hard-interrupt context comes before this CPU's first
     * line after the wait, among those of its {@code mask=} argument when probed. The mask is
     * mm_cpumask(mm), which holds lazy CPUs too: the kernel interrupts them only when page tables
     * were freed (on_each_cpu_mask when info->freed_tables, else on_each_cpu_cond_mask with
     * tlb_is_not_lazy, should_flush_tlb in later 6.x.y; arch/x86/mm/tlb.c). So only a flush whose
     * {@code freed_tables=} was probed and set must be answered by every CPU of the mask.
     */
    private void onFlushMulti(Cpu c, FtraceLine l) {
        FlushCall f = c.flush != null ? c.flush : new FlushCall(ensureOp(c, l, "native_flush_tlb_multi", 0, 0, -1).id,
                0, 0, Kernel.TLB_FLUSH_ALL, false);
        long mask = l.args().containsKey("mask") ? l.number("mask", 0) : -1;
        Map<Integer, FtraceLine> handlers = new TreeMap<>();
        boolean local = false;
        boolean afterLocal = false;
        int postWait = -1; // where the sender's first line after its wait is, once seen
        Set<Integer> seenAfterWait = new HashSet<>();
        for (int i = 0; i < LineWindow.LOOKAHEAD; i++) {
            FtraceLine x = window.peek(i);
            if (x == null) {
                break;
            }
            if (postWait >= 0) {
                // Lines whose timestamp ties with the sender's first line after its wait are in no
                // order the trace can prove: a handler among them answered this IPI, and goes first.
                if (x.timeNs() > window.peek(postWait).timeNs()) {
                    break;
                }
                if (x.cpu() != l.cpu() && !seenAfterWait.contains(x.cpu()) && answers(x, mask, handlers)) {
                    window.moveBefore(i, postWait);
                    handlers.put(x.cpu(), x);
                    postWait++;
                }
                seenAfterWait.add(x.cpu());
                continue;
            }
            if (x.cpu() == l.cpu()) {
                boolean sameRound = x.inHardirq()
                        || x.event().equals("tlb_flush") && (x.isRemoteSend() || afterLocal)
                        || "flush_tlb_func".equals(x.function()) && !local;
                if (!sameRound) {
                    postWait = i;
                    continue;
                }
                afterLocal = false;
                if ("flush_tlb_func".equals(x.function()) && !x.inHardirq()) {
                    local = true;
                    afterLocal = true;
                }
            } else if (answers(x, mask, handlers)) {
                handlers.put(x.cpu(), x);
            }
        }
        Round r = new Round(f, c.node);
        for (Map.Entry<Integer, FtraceLine> h : handlers.entrySet()) {
            Cpu target = cpu(h.getKey());
            r.requests.put(h.getKey(), emitCpu(c, l.timeNs(), null,
                    new IpiEvent.FlushTlb(target.node, f.mm(), f.start(), f.end(), -1, -1, true, f.freedTables(), f.shootdown())));
            claimed.put(h.getValue().number(), r);
        }
        if (mask != -1 && f.freedTables()) {
            for (int cpu = 0; cpu < 64; cpu++) {
                if ((mask >>> cpu & 1) == 1 && cpu != l.cpu() && !handlers.containsKey(cpu)) {
                    emitCpu(c, l.timeNs(), null, new IpiEvent.FlushTlb(cpu(cpu).node, f.mm(), f.start(), f.end(), -1, -1, true,
                            f.freedTables(), f.shootdown()));
                    warn(capture.file() + ":" + l.number() + ": no flush_tlb_func on cpu" + cpu + " answers this IPI"
                            + " before " + c.node + " stops waiting");
                }
            }
        }
        if (local) {
            r.local = emitCpu(c, l.timeNs(), null,
                    new IpiEvent.FlushTlb(c.node, f.mm(), f.start(), f.end(), -1, -1, false, f.freedTables(), f.shootdown()));
        }
        c.waiting = r;
    }

    /**
     * Whether {@code x}, on another CPU, can be the handler of an IPI: its first unclaimed
     * flush_tlb_func, in a hard interrupt, or in the idle task (an idle CPU polling for work runs
     * the queued call from its idle loop, kernel/smp.c flush_smp_call_function_queue, with no
     * interrupt), and in the mask when it was probed.
     */
    private boolean answers(FtraceLine x, long mask, Map<Integer, FtraceLine> handlers) {
        return "flush_tlb_func".equals(x.function()) && (x.inHardirq() || x.pid() == 0) && !claimed.containsKey(x.number())
                && !handlers.containsKey(x.cpu()) && (mask == -1 || (mask >>> x.cpu() & 1) == 1);
    }

    private void onFlushFunc(Cpu c, FtraceLine l) {
        FtraceLine said = window.nextOn(l.cpu());
        FlushKind kind = FlushKind.NONE;
        long doneNs = l.timeNs();
        if (said != null && said.event().equals("tlb_flush") && !said.isRemoteSend() && said.inHardirq() == l.inHardirq()) {
            consumed.add(said.number());
            kind = said.flushKind();
            doneNs = said.timeNs();
        }
        Round r = claimed.remove(l.number());
        if (r != null || l.inHardirq()) {
            if (r == null) {
                warn(capture.file() + ":" + l.number() + ": flush_tlb_func in an interrupt on " + c.node
                        + " with no native_flush_tlb_multi before it that it can answer; not imported");
                ignored.merge("flush_tlb_func (an IPI whose sender is not in the capture)", 1L, Long::sum);
                return;
            }
            Envelope request = r.requests.get(l.cpu());
            r.acks.add(emitCpu(c, doneNs, request, new IpiEvent.TlbFlushed(r.initiator, c.node, r.flush.mm(), r.flush.start(),
                    r.flush.end(), kind, -1, -1, r.flush.shootdown())));
        } else if (c.waiting != null && c.waiting.local != null && !c.waiting.localDone) {
            Round own = c.waiting;
            own.localDone = true;
            emitCpu(c, doneNs, own.local, new IpiEvent.TlbFlushed(c.node, c.node, own.flush.mm(), own.flush.start(), own.flush.end(),
                    kind, -1, -1, own.flush.shootdown()));
        } else if (c.flush != null) {
            FlushCall f = c.flush;
            Envelope request = emitCpu(c, l.timeNs(), null,
                    new IpiEvent.FlushTlb(c.node, f.mm(), f.start(), f.end(), -1, -1, false, f.freedTables(), f.shootdown()));
            emitCpu(c, doneNs, request, new IpiEvent.TlbFlushed(c.node, c.node, f.mm(), f.start(), f.end(), kind, -1, -1,
                    f.shootdown()));
            c.flush = null;
        } else {
            ignored.merge("flush_tlb_func (no flush call traced before it)", 1L, Long::sum);
        }
    }

    private void onHook(Cpu c, FtraceLine l, String hook, long mm, long start, long end) {
        if (c.op != null && !c.op.marked && c.op.flushed && c.op.mm != mm) {
            closeUnmarked(c); // another mm's: not the flush the CPU did last
        }
        Op op = ensureOp(c, l, hook, mm, start, end);
        Envelope call = emitCpu(c, l.timeNs(), null, new SecondaryTlbEvent.SecondaryTlbHookCalled(c.node, "unknown", hook,
                mm, start, end, boundTo(mm), op.id));
        c.hook = new PendingHook(call, op.id, mm, start, end);
    }

    private void onCallback(Cpu c, FtraceLine l, String node, String hook) {
        long mm = mm(l, "mm");
        long start = l.number("start", 0);
        long end = l.number("end", -1);
        bind(c, l.timeNs(), node, mm);
        if (c.hook == null || c.hook.mm != mm || c.hook.start != start || c.hook.end != end
                || c.hook.calledBack.contains(node)) {
            // The hook was not probed (6.5's mn_hlist_invalidate_end calls ->invalidate_range itself), or
            // this secondary TLB already answered the pending one: a hook calls each notifier once
            // (mm/mmu_notifier.c), so its callback shows another call.
            endHook(c, l.timeNs());
            onHook(c, l, hook, mm, start, end);
        }
        invalidate(c, l.timeNs(), node, c.hook);
        c.hook.callbacks++;
        c.hook.calledBack.add(node);
    }

    /** A hook call ended (its CPU went on): if none of its callbacks was traced, they ran unseen inside it. */
    private void endHook(Cpu c, long nowNs) {
        PendingHook h = c.hook;
        if (h == null) {
            return;
        }
        c.hook = null;
        // With no callback traced after it, the hook ran none that the capture shows: mm_has_notifiers() stays
        // true after the last notifier is released (mm->notifier_subscriptions outlives it), so a hook call is
        // no evidence of a secondary TLB. A driver's callback has to be probed to see one (docs/real-kernels.md).
    }

    private void invalidate(Cpu c, long nowNs, String node, PendingHook h) {
        Envelope request = emitCpu(c, nowNs, null,
                new SecondaryTlbEvent.InvalidateSecondaryTlbs(node, h.mm, 0, h.start, h.end, h.shootdown));
        Envelope done = emit(node, nowNs, request, List.of(),
                new SecondaryTlbEvent.SecondaryTlbsInvalidated(c.node, node, h.mm, 0, h.start, h.end, h.shootdown));
        c.mergeNext.add(done);
    }

    private void bind(Cpu c, long nowNs, String node, long mm) {
        if (bound.computeIfAbsent(node, k -> new TreeSet<>()).add(mm)) {
            emitCpu(c, nowNs, null, new SecondaryTlbEvent.SvaBound(node, node, 0, mm, false));
        }
    }

    private int boundTo(long mm) {
        return (int) bound.values().stream().filter(s -> s.contains(mm)).count();
    }

    private void onFree(Cpu c, FtraceLine l) {
        Matcher m = FtraceImport.PAGE_FREE.matcher(l.body());
        if (!m.find()) {
            throw new IllegalArgumentException("mm_page_free without `pfn=... order=N`: `" + l.body() + "`");
        }
        String pfnText = m.group(1);
        long pfn = pfnText.startsWith("0x") ? Long.parseUnsignedLong(pfnText.substring(2), 16) : Long.parseLong(pfnText);
        int order = Integer.parseInt(m.group(2));
        long shootdown = c.op == null ? 0 : c.op.id;
        for (long k = 0; k < 1L << Math.min(order, 20); k++) {
            long frame = pfn + k;
            long epoch = frameEpochs.merge(frame, 1L, Long::sum);
            emitCpu(c, l.timeNs(), null, new PageTableEvent.FrameFreed(frame, epoch, shootdown));
            if (c.op != null) {
                c.op.frees++;
            }
        }
    }

    // ---------------------------------------------------------------- state

    /** Whether a line of a CPU waiting for its IPIs is still part of that round (not its first line after the wait). */
    private boolean partOfWait(Cpu c, FtraceLine l) {
        if (l.inHardirq() || consumed.contains(l.number())) {
            return true;
        }
        if (l.event().equals("tlb_flush") && l.isRemoteSend()) {
            return true;
        }
        return "flush_tlb_func".equals(l.function()) && c.waiting.local != null && !c.waiting.localDone;
    }

    /** The wait is over: the CPU's next event comes after every handler that answered. */
    private void endWait(Cpu c) {
        if (c.waiting != null) {
            c.mergeNext.addAll(c.waiting.acks);
            c.waiting = null;
        }
    }

    private Op ensureOp(Cpu c, FtraceLine l, String caller, long mm, long start, long end) {
        if (c.op == null) {
            Op op = new Op(currentTask, nextShootdown++, caller, false, mm, start, end, l.pid(), l.number());
            c.op = op;
            emitCpu(c, l.timeNs(), null, new PageTableEvent.TlbFlushStarted(op.id, caller, c.node, l.task(), l.pid(),
                    pidMm.getOrDefault(l.pid(), -1L), mm, start, end, null));
        }
        return c.op;
    }

    private void closeUnmarked(Cpu c) {
        if (c.op != null && !c.op.marked) {
            // The end is the op's task's: after what that task did last, wherever it ran (it may have
            // migrated since, and this CPU may be switching to another task now).
            int running = currentTask;
            currentTask = c.op.task;
            emitCpu(c, c.op.lastNs, null, new PageTableEvent.TlbFlushFinished(c.op.id, c.op.frees));
            currentTask = running;
            c.op = null;
            c.flush = null;
        }
    }

    private Cpu cpu(int n) {
        return cpus.computeIfAbsent(n, k -> new Cpu("cpu" + k));
    }

    /** The log's id of the mm the argument {@code key} points to (ids from 1, in order of first sight). */
    private long mm(FtraceLine l, String key) {
        if (!l.args().containsKey(key)) {
            throw new IllegalArgumentException(l.event() + " has no " + key + "= argument: `" + l.body() + "`");
        }
        long address = l.number(key, 0);
        if (address == 0) {
            return 0;
        }
        String hex = "0x" + Long.toHexString(address);
        Long id = mmIds.get(hex);
        if (id == null) {
            id = (long) mmIds.size() + 1;
            mmIds.put(hex, id);
            mmList.add(new ControlEvent.MmAddress(id, hex, l.taskPid()));
        }
        return id;
    }



    private void warn(String warning) {
        warningCount++;
        if (warnings.size() < FtraceImport.MAX_WARNINGS) {
            warnings.add(warning);
        }
    }

    // ---------------------------------------------------------------- envelopes

    private Envelope emitCpu(Cpu c, long timeNs, Envelope cause, Event event) {
        List<Envelope> merge = new ArrayList<>(c.mergeNext);
        c.mergeNext.clear();
        Envelope before = lastOfTask.get(currentTask);
        if (before != null && !before.node().equals(c.node)) {
            merge.add(before); // the task migrated: what it did on its last CPU came first
        }
        if (c.op != null && event instanceof InShootdown in && in.shootdownId() == c.op.id) {
            c.op.lastNs = Math.max(c.op.lastNs, timeNs);
        }
        Envelope e = emit(c.node, timeNs, cause, merge, event);
        lastOfTask.put(currentTask, e);
        return e;
    }

    Envelope emit(String node, long timeNs, Envelope cause, List<Envelope> merge, Event event) {
        return log.emit(node, timeNs, cause, merge, event);
    }
}
