package dev.shootdown.cli.report;

import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.core.util.DefaultPrettyPrinter;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.ObjectWriter;
import dev.shootdown.audit.AuditReport;
import dev.shootdown.audit.Auditor;
import dev.shootdown.audit.ShootdownSummary;
import dev.shootdown.audit.Violation;
import dev.shootdown.codec.EventCodec;
import dev.shootdown.event.Envelope;
import java.io.BufferedReader;
import java.io.BufferedWriter;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.function.Predicate;

/**
 * An audit whose memory does not grow with the log: envelopes go through the auditor one by one;
 * the violations and shootdown summaries it settles are spooled to files beside the report as
 * they come, and {@code report.json} is assembled from them at the end, the same bytes
 * {@code run} writes for the same log. {@code report.html} gets the timelines a
 * {@link TimelineCapture} chose on the way.
 */
public final class StreamingAudit implements Auditor.Sink, AutoCloseable {

    /** Shootdowns and violations kept for the terminal; the rest are in report.json. */
    static final int PRINTED_SHOOTDOWNS = 20;
    static final int PRINTED_VIOLATIONS = 50;

    /** What the audit found, for the terminal: totals, and the first shootdowns and violations. */
    public record Result(AuditReport report, long violations, long shootdowns, List<Violation> firstViolations,
            List<ShootdownSummary> firstShootdowns) {}

    private final Path dir;
    private final Path violationSpool;
    private final Path shootdownSpool;
    private final BufferedWriter violationsOut;
    private final BufferedWriter shootdownsOut;
    private final ObjectWriter compact = EventCodec.mapper().writer();
    private final Auditor auditor;
    private final TimelineCapture capture = new TimelineCapture();
    private final Overview overview = new Overview();
    private final Map<String, Long> kinds = new TreeMap<>();
    private final List<Violation> firstViolations = new ArrayList<>();
    private final List<ShootdownSummary> firstShootdowns = new ArrayList<>();
    private long violations;
    private long shootdowns;
    private Predicate<ShootdownSummary> worthPrinting = s -> true;

    public StreamingAudit(Path dir, int faultLivelockThreshold) throws IOException {
        this.dir = dir;
        this.violationSpool = dir.resolve(".report-violations.jsonl.spool");
        this.shootdownSpool = dir.resolve(".report-shootdowns.jsonl.spool");
        this.violationsOut = Files.newBufferedWriter(violationSpool, StandardCharsets.UTF_8);
        this.shootdownsOut = Files.newBufferedWriter(shootdownSpool, StandardCharsets.UTF_8);
        this.auditor = new Auditor(faultLivelockThreshold, this);
    }

    /**
     * Which shootdowns the terminal and report.html show (the first {@link #PRINTED_SHOOTDOWNS} and
     * the first timelines of them); all by default. report.json has every one.
     */
    public StreamingAudit printing(Predicate<ShootdownSummary> which) {
        this.worthPrinting = which;
        return this;
    }

    /** The next envelope, in causal order. */
    public void accept(Envelope e) {
        capture.accept(e);
        auditor.accept(e);
    }

    /** What every TLB, IOTLB and ATC holds after the envelopes accepted so far. */
    public java.util.SortedMap<String, List<Auditor.CachedTranslation>> cachesNow() {
        return auditor.cachesNow();
    }

    @Override
    public void onViolation(Violation v) {
        spool(violationsOut, violationSpool, v);
        violations++;
        kinds.merge(v.kind(), 1L, Long::sum);
        if (firstViolations.size() < Math.max(PRINTED_VIOLATIONS, HtmlReport.MAX_VIOLATION_ROWS)) {
            firstViolations.add(v);
        }
        overview.onViolation(v, w -> HtmlReport.accessOf(w, capture::recent));
        capture.onViolation(v);
    }

    @Override
    public void onShootdown(ShootdownSummary s) {
        spool(shootdownsOut, shootdownSpool, s);
        shootdowns++;
        overview.onShootdown(s);
        if (!worthPrinting.test(s)) {
            capture.skip(s.id());
            return;
        }
        if (firstShootdowns.size() < PRINTED_SHOOTDOWNS) {
            firstShootdowns.add(s);
        }
        capture.onShootdown(s);
    }

    private void spool(Writer out, Path file, Object value) {
        try {
            out.write(compact.writeValueAsString(value));
            out.write('\n');
        } catch (IOException e) {
            throw new UncheckedIOException(IoFailure.named(file, "write", e));
        }
    }

    /**
     * Settles the audit and writes {@code report.json} and {@code report.html}; {@code problems}
     * (one line each) mark the report incomplete.
     */
    public Result finish(List<String> problems) throws IOException {
        AuditReport report = auditor.finish().withLogProblems(problems);
        closeSpool(violationsOut, violationSpool);
        closeSpool(shootdownsOut, shootdownSpool);
        Path json = dir.resolve("report.json");
        try {
            writeJson(report);
        } catch (IOException e) {
            throw IoFailure.named(json, "write", e);
        }
        List<Violation> rows = firstViolations.subList(0, Math.min(HtmlReport.MAX_VIOLATION_ROWS, firstViolations.size()));
        Path html = dir.resolve("report.html");
        try {
            Files.writeString(html, HtmlReport.render(new HtmlReport.Page(report, violations, kinds, rows, shootdowns,
                    capture.finish(), overview)), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw IoFailure.named(html, "write", e);
        }
        return new Result(report, violations, shootdowns,
                firstViolations.subList(0, Math.min(PRINTED_VIOLATIONS, firstViolations.size())), List.copyOf(firstShootdowns));
    }

    private static void closeSpool(Writer out, Path file) throws IOException {
        try {
            out.close();
        } catch (IOException e) {
            throw IoFailure.named(file, "write", e);
        }
    }

    /** report.json as {@code run} writes it (indented), with the two lists read back from the spools. */
    private void writeJson(AuditReport header) throws IOException {
        ObjectMapper mapper = EventCodec.mapper();
        JsonNode head = mapper.valueToTree(header);
        try (Writer out = Files.newBufferedWriter(dir.resolve("report.json"), StandardCharsets.UTF_8);
                JsonGenerator g = mapper.getFactory().createGenerator(out)) {
            g.setPrettyPrinter(new DefaultPrettyPrinter());
            g.writeStartObject();
            for (Iterator<Map.Entry<String, JsonNode>> it = head.fields(); it.hasNext();) {
                Map.Entry<String, JsonNode> field = it.next();
                g.writeFieldName(field.getKey());
                if (field.getKey().equals("violations")) {
                    copy(violationSpool, g, mapper);
                } else if (field.getKey().equals("shootdowns")) {
                    copy(shootdownSpool, g, mapper);
                } else {
                    g.writeTree(field.getValue());
                }
            }
            g.writeEndObject();
            g.flush();
            out.write("\n");
        }
    }

    private static void copy(Path spool, JsonGenerator g, ObjectMapper mapper) throws IOException {
        g.writeStartArray();
        try (BufferedReader in = Files.newBufferedReader(spool, StandardCharsets.UTF_8)) {
            for (String line = in.readLine(); line != null; line = in.readLine()) {
                g.writeTree(mapper.readTree(line));
            }
        }
        g.writeEndArray();
    }

    /** Removes the spools (the report, once written, holds everything they did). */
    @Override
    public void close() throws IOException {
        violationsOut.close();
        shootdownsOut.close();
        Files.deleteIfExists(violationSpool);
        Files.deleteIfExists(shootdownSpool);
    }
}
