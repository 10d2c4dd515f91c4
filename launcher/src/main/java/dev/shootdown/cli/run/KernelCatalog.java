package dev.shootdown.cli.run;

import dev.shootdown.kernel.KernelVariant;
import dev.shootdown.kernel.file.KernelFiles;
import dev.shootdown.scenario.file.ScenarioFileException;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The kernel variants one command knows, by name: the built-ins, and the files its --kernel
 * options named. A scenario's policy is the name of its variant, so names are unique: a file may
 * not take a built-in's name or another file's. Not thread-safe.
 */
public final class KernelCatalog {

    private final Map<String, KernelVariant> files = new LinkedHashMap<>();

    /**
     * The variant {@code nameOrFile} names, a built-in or a file (then known by its name from here
     * on); {@code flag} names the option in the one line of bad input.
     */
    public KernelVariant resolve(String flag, String nameOrFile) throws BadInputException {
        KernelVariant v;
        try {
            v = KernelFiles.resolve(nameOrFile);
        } catch (ScenarioFileException e) {
            throw new BadInputException(flag + " " + e.getMessage(), e);
        }
        if (KernelFiles.isBuiltIn(nameOrFile)) {
            return v;
        }
        if (KernelFiles.isBuiltIn(v.name())) {
            throw new BadInputException(flag + " " + nameOrFile + ": its name " + v.name() + " is a built-in kernel's; give the "
                    + "variant a name of its own (name: ...)");
        }
        KernelVariant known = files.get(v.name());
        if (known != null && !known.equals(v)) {
            throw new BadInputException(flag + " " + nameOrFile + ": another --kernel file is also called " + v.name()
                    + "; give each variant a name of its own");
        }
        files.put(v.name(), v);
        return v;
    }

    /** The variant called {@code name}: a --kernel file's, or a built-in. */
    public KernelVariant of(String name) {
        KernelVariant v = files.get(name);
        if (v != null) {
            return v;
        }
        return KernelFiles.builtIn(name).orElseThrow(() -> new IllegalArgumentException("no kernel variant called " + name
                + ": expected a built-in (" + String.join(", ", KernelFiles.BUILT_INS) + ") or a --kernel file's name"));
    }

    /** The names of the --kernel files, in the order given. */
    public List<String> fileNames() {
        return List.copyOf(files.keySet());
    }
}
