package dev.shootdown.cli;

import dev.shootdown.cli.run.BadInputException;
import java.io.IOException;
import java.io.PrintWriter;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code shootdown install [--prefix DIR]}: puts {@code shootdown} on the PATH, as the README's
 * commands write it: DIR/bin/shootdown runs this checkout's {@code ./shootdown} script, so it
 * rebuilds when the sources change and reads relative paths from where it is run.
 */
@Command(name = "install", mixinStandardHelpOptions = true,
        description = "Put the shootdown command on the PATH: write DIR/bin/shootdown, which runs this checkout's ./shootdown.")
final class InstallCommand implements Callable<Integer> {

    @Spec
    CommandSpec spec;

    @Option(names = "--prefix", paramLabel = "DIR", description = "Where bin/shootdown goes. Default: ~/.local")
    Path prefix;

    @Override
    public Integer call() throws BadInputException {
        Path script = checkoutScript();
        Path dir = prefix != null ? prefix : Path.of(System.getProperty("user.home"), ".local");
        Path bin = dir.resolve("bin");
        Path command = bin.resolve("shootdown");
        try {
            Files.createDirectories(bin);
            Files.writeString(command, "#!/bin/sh\n# written by `shootdown install`: runs the checkout at " + script.getParent()
                    + "\nexec '" + script.toString().replace("'", "'\\''") + "' \"$@\"\n");
            Files.setPosixFilePermissions(command, PosixFilePermissions.fromString("rwxr-xr-x"));
        } catch (IOException | UnsupportedOperationException e) {
            throw new BadInputException("--prefix " + dir + ": cannot write " + command + " (" + e.getMessage() + ")", e);
        }
        PrintWriter out = spec.commandLine().getOut();
        out.println("installed " + command + " (it runs " + script + ")");
        String path = System.getenv().getOrDefault("PATH", "");
        boolean onPath = false;
        for (String p : path.split(java.io.File.pathSeparator)) {
            onPath |= !p.isEmpty() && Path.of(p).toAbsolutePath().normalize().equals(bin.toAbsolutePath().normalize());
        }
        out.println(onPath ? bin + " is on your PATH: `shootdown` works from here on"
                : bin + " is not on your PATH; add it: export PATH=\"" + bin.toAbsolutePath().normalize() + ":$PATH\"");
        out.flush();
        return Shootdown.EXIT_CLEAN;
    }

    /** The checkout's ./shootdown: the jar this runs from is its launcher/target/shootdown.jar. */
    private static Path checkoutScript() throws BadInputException {
        Path jar;
        try {
            jar = Path.of(InstallCommand.class.getProtectionDomain().getCodeSource().getLocation().toURI()).toAbsolutePath();
        } catch (URISyntaxException | RuntimeException e) {
            throw new BadInputException("install: cannot tell where this command runs from (" + e.getMessage() + ")", e);
        }
        Path script = jar.getParent() == null || jar.getParent().getParent() == null ? null
                : jar.getParent().getParent().getParent().resolve("shootdown");
        if (!jar.toString().endsWith(".jar") || script == null || !Files.isExecutable(script)) {
            throw new BadInputException("install: run it from a checkout, as ./shootdown install: " + jar
                    + " is not a checkout's launcher/target/shootdown.jar");
        }
        return script;
    }
}
