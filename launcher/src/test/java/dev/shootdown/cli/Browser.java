package dev.shootdown.cli;

import com.microsoft.playwright.BrowserType;
import com.microsoft.playwright.Page;
import com.microsoft.playwright.Playwright;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;

/**
 * A real browser for the page tests: Playwright driving Debian's {@code chromium} package, headless,
 * with no browser downloaded ({@code PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD}). The tests that use it are
 * skipped where no chromium is installed, unless {@code SHOOTDOWN_REQUIRE_BROWSER} is set (CI
 * installs chromium and sets it, so there they always run).
 */
final class Browser implements AutoCloseable {

    private final Playwright playwright;
    private final com.microsoft.playwright.Browser browser;

    private Browser(Playwright playwright, com.microsoft.playwright.Browser browser) {
        this.playwright = playwright;
        this.browser = browser;
    }

    /** The chromium installed here; skips the test (or fails it, where a browser is required) without one. */
    static Path chromium() {
        for (String candidate : List.of("/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome")) {
            if (Files.isExecutable(Path.of(candidate))) {
                return Path.of(candidate);
            }
        }
        if (System.getenv("SHOOTDOWN_REQUIRE_BROWSER") != null) {
            throw new AssertionError("SHOOTDOWN_REQUIRE_BROWSER is set but no chromium is installed");
        }
        Assumptions.abort("no chromium installed (apt-get install chromium)");
        return null;
    }

    /** Runs headless chromium by its command line with {@code args} on {@code page} (for --dump-dom); its stdout. */
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

    static Browser open() {
        Path chromium = chromium();
        Playwright playwright = Playwright.create(new Playwright.CreateOptions().setEnv(Map.of("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1")));
        try {
            return new Browser(playwright, playwright.chromium().launch(new BrowserType.LaunchOptions().setExecutablePath(chromium)
                    .setHeadless(true).setArgs(List.of("--no-sandbox", "--disable-gpu", "--disable-background-networking",
                            "--disable-component-update", "--disable-sync", "--no-first-run"))));
        } catch (RuntimeException e) {
            playwright.close();
            throw e;
        }
    }

    /** A new page of {@code width} x {@code height} CSS pixels showing {@code file}; nothing may be fetched from the network. */
    Page show(Path file, int width, int height) {
        Page page = browser.newPage(new com.microsoft.playwright.Browser.NewPageOptions().setViewportSize(width, height));
        page.route(url -> !url.startsWith("file:"), route -> route.abort());
        page.navigate(file.toUri().toString());
        return page;
    }

    @Override
    public void close() {
        browser.close();
        playwright.close();
    }
}
