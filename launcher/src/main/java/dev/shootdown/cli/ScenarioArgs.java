package dev.shootdown.cli;

import dev.shootdown.cli.run.BadInputException;
import dev.shootdown.scenario.Scenario;
import dev.shootdown.scenario.Scenarios;
import dev.shootdown.scenario.file.ScenarioFileException;
import dev.shootdown.scenario.file.ScenarioFiles;
import java.nio.file.Files;
import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import java.util.Set;

/** Turns the --scenario, --arch and --kernel (--policy) values into a scenario, or one line of bad input. */
final class ScenarioArgs {

    private ScenarioArgs() {}

    /** Built-in names, for picocli's completion candidates and help. */
    static final class Names implements Iterable<String> {
        @Override
        public Iterator<String> iterator() {
            return Scenarios.names().iterator();
        }
    }

    /** A built-in scenario by name, or the scenario in a .yaml, .yml or .json file. */
    static Scenario scenario(String nameOrFile) throws BadInputException {
        return scenario(nameOrFile, Set.of());
    }

    /**
     * As {@link #scenario(String)}; a scenario file's policy may also name one of {@code kernels},
     * the variant files the command was given.
     */
    static Scenario scenario(String nameOrFile, Set<String> kernels) throws BadInputException {
        var builtIn = Scenarios.builtIn(nameOrFile);
        if (builtIn.isPresent()) {
            return builtIn.get();
        }
        String lower = nameOrFile.toLowerCase(Locale.ROOT);
        boolean looksLikeFile = lower.endsWith(".yaml") || lower.endsWith(".yml") || lower.endsWith(".json");
        if (!looksLikeFile && !exists(nameOrFile)) {
            throw new BadInputException("unknown scenario '" + nameOrFile + "': expected one of "
                    + String.join(", ", Scenarios.names()) + ", or a .yaml, .yml or .json file");
        }
        try {
            return ScenarioFiles.load(Path.of(nameOrFile), kernels);
        } catch (ScenarioFileException e) {
            throw new BadInputException(e.getMessage(), e);
        }
    }

    private static boolean exists(String file) {
        try {
            return Files.exists(Path.of(file));
        } catch (InvalidPathException e) {
            return false;
        }
    }

    /** {@code value} if it is one of {@code allowed}, else bad input naming {@code flag}. */
    static String choice(String flag, String value, List<String> allowed) throws BadInputException {
        if (!allowed.contains(value)) {
            throw new BadInputException(flag + " must be one of " + String.join(", ", allowed) + ", was '" + value + "'");
        }
        return value;
    }
}
