package dev.shootdown.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.shootdown.event.Envelope;
import dev.shootdown.log.LogFile;
import dev.shootdown.log.LogStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A recorded run's log read by the streaming reader gives what LogFile gives, clean or damaged. */
class LogStreamOnARecordedRunTest {

    @TempDir
    static Path runDir;

    static List<String> lines;

    @BeforeAll
    static void recordARun() throws IOException {
        lines = CliTest.recordDirectReclaimV2(runDir);
    }

    record Streamed(List<Envelope> out, List<LogFile.Problem> problems, long unplaced) {}

    static Streamed stream(Path file) throws IOException {
        try (LogStream s = LogStream.open(file)) {
            List<Envelope> out = new ArrayList<>();
            for (Envelope e = s.next(); e != null; e = s.next()) {
                out.add(e);
            }
            assertEquals(out.size(), s.placed());
            assertEquals(s.problems().size(), s.problemCount());
            return new Streamed(out, s.problems(), s.unplaced());
        }
    }

    @Test
    void theExportedLogStreamsInItsOwnOrderWhichIsLogFilesOrder() throws IOException {
        Path file = runDir.resolve("events.jsonl");

        Streamed s = stream(file);
        LogFile.Contents whole = LogFile.read(file);

        assertEquals(lines.size(), s.out().size());
        assertEquals(whole.ordered(), s.out());
        assertEquals(List.of(), s.problems());
        assertEquals(0, s.unplaced());
    }

    @Test
    void aDamagedLogGivesLogFilesProblemsOrderAndUnplacedCount(@TempDir Path dir) throws IOException {
        List<String> bad = new ArrayList<>(lines);
        int last = bad.size();
        bad.set(last - 3, "{\"run\": oops");
        bad.set(last - 2, bad.get(last - 2).replaceFirst("\"type\":\"[a-z-]+\"", "\"type\":\"warp-drive\""));
        bad.set(last - 1, bad.get(last - 1).replace("\"schema\":" + Envelope.SCHEMA_VERSION, "\"schema\":9"));
        bad.add(lines.get(10));
        bad.remove(20);
        bad.add(lines.get(40).substring(0, 30));
        Path file = dir.resolve("bad.jsonl");
        Files.writeString(file, String.join("\n", bad), StandardCharsets.UTF_8);

        Streamed s = stream(file);
        LogFile.Contents whole = LogFile.read(file);

        assertEquals(whole.problems(), s.problems());
        assertEquals(6, s.problems().size(), s.problems().toString());
        assertEquals(whole.ordered(), s.out());
        assertEquals(whole.unplaced().size(), s.unplaced());
        assertTrue(s.unplaced() > 0);
    }
}
