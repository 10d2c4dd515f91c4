package dev.shootdown.ftrace;

import dev.shootdown.event.IpiEvent.FlushKind;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * One event line of an ftrace text capture, as {@code cat /sys/kernel/tracing/trace} prints it
 * (kernel/trace/trace_output.c, the default and the irq-info columns) and as
 * {@code trace-cmd report} prints it:
 *
 * <pre>
 *   tlbprobe-99  [000] d..2.  3.012940: ftf: (flush_tlb_func+0x0/0x1f0)
 *   TASK-PID     [CPU] FLAGS  SECONDS:  EVENT: BODY
 * </pre>
 *
 * @param number   the line's number in the file, from 1
 * @param task     the task's comm ({@code <idle>} for the idle task)
 * @param pid      its pid
 * @param cpu      the CPU it ran on
 * @param flags    the irq-info column ({@code d.h1.}), or "" when the capture has none
 * @param timeNs   the trace clock, in nanoseconds
 * @param event    the event's name: a tracepoint ({@code tlb_flush}), a kprobe's name as the
 *                 capture chose it ({@code fmr}), or the function a trace_printk ran in
 * @param function for a kprobe, the probed function ({@code flush_tlb_mm_range}); else null
 * @param body     what follows {@code EVENT: }
 * @param args     the {@code key=value} pairs of the body, in order
 */
public record FtraceLine(long number, String task, int pid, int cpu, String flags, long timeNs, String event,
        String function, String body, Map<String, String> args) {

    private static final Pattern LINE = Pattern.compile(
            "^\\s*(?<task>.+?)-(?<pid>\\d+)\\s+(?:\\(\\s*(?:\\d+|-+)\\)\\s+)?\\[(?<cpu>\\d+)\\]\\s+"
                    + "(?:(?<flags>\\S{4,5})\\s+)?(?<ts>\\d+\\.\\d+):\\s+(?<event>[^:\\s]+):\\s?(?<body>.*)$");
    private static final Pattern KPROBE = Pattern.compile("^\\((?<fn>[A-Za-z0-9_.$]+)\\+0x[0-9a-f]+/0x[0-9a-f]+\\)\\s*(?<rest>.*)$");
    private static final Pattern ARG = Pattern.compile("([A-Za-z_][A-Za-z0-9_]*)=(\\S+)");

    public FtraceLine {
        args = Collections.unmodifiableMap(new LinkedHashMap<>(args));
    }

    /**
     * The line parsed, or null when it is not an event line (a comment, a blank line, a stack
     * trace's {@code =>} frame, a {@code CPU:N [LOST M EVENTS]} note: see {@link #lost}).
     *
     * @throws IllegalArgumentException naming what was expected, when it is none of these
     */
    public static FtraceLine parse(long number, String text) {
        String t = text.strip();
        if (t.isEmpty() || t.startsWith("#") || t.startsWith("=>") || t.startsWith("<stack trace>") || lost(text) >= 0) {
            return null;
        }
        Matcher m = LINE.matcher(text);
        if (!m.matches()) {
            throw new IllegalArgumentException("expected an ftrace event line, TASK-PID [CPU] FLAGS SECONDS: EVENT: ...,"
                    + " found `" + abbreviate(t) + "`");
        }
        String body = m.group("body");
        String function = null;
        String rest = body;
        Matcher k = KPROBE.matcher(body);
        if (k.matches()) {
            function = k.group("fn");
            rest = k.group("rest");
        }
        Map<String, String> args = new LinkedHashMap<>();
        Matcher a = ARG.matcher(rest);
        while (a.find()) {
            args.putIfAbsent(a.group(1), a.group(2));
        }
        String flags = m.group("flags") == null ? "" : m.group("flags");
        return new FtraceLine(number, m.group("task"), Integer.parseInt(m.group("pid")), Integer.parseInt(m.group("cpu")),
                flags, nanos(m.group("ts")), m.group("event"), function, body, args);
    }

    /** For a {@code CPU:N [LOST M EVENTS]} line, N; else -1. */
    public static int lost(String text) {
        Matcher m = Pattern.compile("^\\s*CPU:(\\d+) \\[LOST (\\d+) EVENTS\\]\\s*$").matcher(text);
        return m.matches() ? Integer.parseInt(m.group(1)) : -1;
    }

    /** Whether the line ran in a hardware interrupt (the irq-info column's third flag, h or H): an IPI's handler. */
    public boolean inHardirq() {
        return flags.length() >= 3 && (flags.charAt(2) == 'h' || flags.charAt(2) == 'H');
    }

    /** The argument {@code key} as an unsigned number (hex with or without 0x), or {@code otherwise} when absent. */
    public long number(String key, long otherwise) {
        String v = args.get(key);
        if (v == null) {
            return otherwise;
        }
        String digits = v.startsWith("0x") || v.startsWith("0X") ? v.substring(2) : v;
        try {
            return Long.parseUnsignedLong(digits, 16);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException(event + ": " + key + "=" + v + " is not a hexadecimal number");
        }
    }

    /** "task-pid". */
    public String taskPid() {
        return task + "-" + pid;
    }

    private static long nanos(String seconds) {
        int dot = seconds.indexOf('.');
        String frac = (seconds.substring(dot + 1) + "000000000").substring(0, 9);
        return Long.parseLong(seconds.substring(0, dot)) * 1_000_000_000L + Long.parseLong(frac);
    }

    private static String abbreviate(String s) {
        return s.length() <= 80 ? s : s.substring(0, 77) + "...";
    }

    /** For a notifier callback's line (probed function or trace_printk), the secondary TLB and hook; else null. */
    String[] callback() {
        if (function() != null) {
            return FtraceImport.CALLBACKS.get(function());
        }
        if (body().startsWith("stlb invalidate_range")) {
            return new String[] {FtraceImport.STLB, "invalidate_range"};
        }
        if (body().startsWith("stlb arch_invalidate_secondary_tlbs")) {
            return new String[] {FtraceImport.STLB, "arch_invalidate_secondary_tlbs"};
        }
        return null;
    }

    /** Whether this tlb:tlb_flush line is the sender's side of a flush IPI ({@code reason:remote ipi send}). */
    boolean isRemoteSend() {
        return event().equals("tlb_flush") && body().contains("reason:remote ipi send");
    }

    /** What a tlb:tlb_flush line flushed: a task switch's (lazy), everything (pages:-1), or a range. */
    FlushKind flushKind() {
        Matcher m = FtraceImport.TLB_FLUSH.matcher(body().strip());
        if (!m.matches()) {
            throw new IllegalArgumentException("tlb_flush without `pages:N reason:...`: `" + body() + "`");
        }
        if (m.group(2).startsWith("flush on task switch")) {
            return FlushKind.LAZY;
        }
        return Long.parseLong(m.group(1)) == -1 ? FlushKind.FULL
                : FlushKind.PARTIAL;
    }
}
