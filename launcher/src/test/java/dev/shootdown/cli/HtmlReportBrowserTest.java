package dev.shootdown.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code report.html} in a real headless browser (Debian's chromium): the page the browser built
 * shows, for direct-reclaim-cross-mm, the difference between series-v2 and linux-6.6 at a glance.
 * Skipped where no chromium is installed, unless {@code SHOOTDOWN_REQUIRE_BROWSER} is set (CI
 * installs chromium and sets it, so there the check always runs).
 */
@Timeout(value = 3, unit = TimeUnit.MINUTES)
class HtmlReportBrowserTest {

    static Path chromium() {
        for (String candidate : List.of("/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome")) {
            if (Files.isExecutable(Path.of(candidate))) {
                return Path.of(candidate);
            }
        }
        boolean required = System.getenv("SHOOTDOWN_REQUIRE_BROWSER") != null;
        if (required) {
            throw new AssertionError("SHOOTDOWN_REQUIRE_BROWSER is set but no chromium is installed");
        }
        Assumptions.abort("no chromium installed (apt-get install chromium)");
        return null;
    }

    /** Runs headless chromium with {@code args} on {@code page}; its stdout. */
    static String chromium(Path dir, Path page, String... args) throws IOException, InterruptedException {
        List<String> command = new ArrayList<>(List.of(chromium().toString(), "--headless", "--no-sandbox", "--disable-gpu",
                "--user-data-dir=" + dir.resolve("profile")));
        command.addAll(Arrays.asList(args));
        command.add(page.toUri().toString());
        Process p = new ProcessBuilder(command).redirectError(dir.resolve("chromium.err").toFile()).start();
        byte[] out = p.getInputStream().readAllBytes();
        assertTrue(p.waitFor(90, TimeUnit.SECONDS), "chromium finished");
        assertEquals(0, p.exitValue(), "chromium: " + Files.readString(dir.resolve("chromium.err")));
        return new String(out, StandardCharsets.UTF_8);
    }

    private static Path report(Path dir, String policy) {
        CliTest.Outcome o = CliTest.shootdown("run", "--scenario", "direct-reclaim-cross-mm", "--policy", policy, "--engine", "sim",
                "--out", dir.resolve(policy).toString());
        assertTrue(o.status() == Shootdown.EXIT_CLEAN || o.status() == Shootdown.EXIT_VIOLATIONS, o.err());
        return dir.resolve(policy).resolve("report.html");
    }

    /** The marks of kind {@code kind} on lane {@code lane} of the first timeline, in the browser's DOM. */
    private static int marks(String dom, String lane, String kind) {
        Matcher svg = Pattern.compile("<svg class=\"timeline\".*?</svg>", Pattern.DOTALL).matcher(dom);
        assertTrue(svg.find(), "a timeline in the DOM");
        String first = svg.group();
        Matcher m = Pattern.compile("<text class=\"mark " + kind + "\" data-lane=\"" + Pattern.quote(lane) + "\"").matcher(first);
        int n = 0;
        while (m.find()) {
            n++;
        }
        return n;
    }

    @Test
    void theBrowserShowsTheV2WrongMmBugAndTheMergedFixApart(@TempDir Path dir) throws Exception {
        chromium();
        String v2 = chromium(dir, report(dir, "series-v2"), "--dump-dom");
        String fixed = chromium(dir, report(dir, "linux-6.6"), "--dump-dom");

        assertTrue(v2.contains("id=\"verdict\" class=\"violations\""), "v2 is red");
        assertTrue(v2.contains("<strong>use-after-free</strong>") && v2.contains("<strong>wrong-mm-invalidation</strong>"), v2);
        assertTrue(fixed.contains("id=\"verdict\" class=\"clean\""), "6.6 is green");
        // The first reclaim batch: 6.6 invalidates the device's IOTLB and ATC; v2 never does and
        // the device keeps writing frames it freed.
        assertEquals(0, marks(v2, "iommu0", "inval"), "no IOTLB/ATC invalidation under v2");
        assertTrue(marks(v2, "iommu0", "violation") > 0, "violating DMA drawn under v2");
        assertTrue(marks(fixed, "iommu0", "inval") >= 2, "IOTLB and ATC invalidations under 6.6");
        assertEquals(0, marks(fixed, "iommu0", "violation"));
        assertTrue(marks(fixed, "coordinator", "hook") >= 1 && marks(v2, "coordinator", "hook") >= 1,
                "both call the hook; only one calls it for the right mm");
    }

    @Test
    void itRendersToAScreenshot(@TempDir Path dir) throws Exception {
        chromium();
        Path png = dir.resolve("report.png");
        chromium(dir, report(dir, "series-v2"), "--window-size=1100,1000", "--screenshot=" + png);

        byte[] bytes = Files.readAllBytes(png);
        assertArrayEquals(new byte[] {(byte) 0x89, 'P', 'N', 'G'}, Arrays.copyOf(bytes, 4), "a PNG");
        assertTrue(bytes.length > 20_000, "not a blank page: " + bytes.length + " bytes");
        assertFalse(Files.readString(dir.resolve("series-v2/report.html")).contains("<script"), "no script: self-contained");
    }
}
