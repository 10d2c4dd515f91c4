package dev.shootdown.cli;

import dev.shootdown.cli.run.BadInputException;
import dev.shootdown.cli.run.KernelCatalog;
import dev.shootdown.kernel.KernelVariant;
import dev.shootdown.kernel.file.KernelFileWriter;
import dev.shootdown.kernel.file.KernelFiles;
import java.io.PrintWriter;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code shootdown kernels}: the built-in kernel variants, one line each; one of them as the file
 * it ships as ({@code --export}), or any variant with every rule written out ({@code --resolved}).
 */
@Command(name = "kernels", mixinStandardHelpOptions = true,
        description = {"List the built-in kernel variants (the files of kernels/), or print one to start your own from: "
                + "a variant file can extend a built-in and change one rule (see kernels/examples/).",
                "  shootdown kernels --export linux-6.6             the file as it ships",
                "  shootdown kernels --resolved series-v2           every rule, with what it extends filled in",
                "  shootdown kernels --resolved my-patch.yaml       the same for your own file, checked"})
final class KernelsCommand implements Callable<Integer> {

    @Spec
    CommandSpec spec;

    @Option(names = "--export", paramLabel = "NAME", description = "Print the built-in kernel variant NAME's file as it ships.")
    String export;

    @Option(names = "--resolved", paramLabel = "NAME|FILE",
            description = "Print a built-in or a variant file with every rule written out, what it extends resolved.")
    String resolved;

    @Override
    public Integer call() throws BadInputException {
        PrintWriter out = spec.commandLine().getOut();
        if (export != null && resolved != null) {
            throw new BadInputException("--export and --resolved: give one of them");
        }
        if (export != null) {
            if (!KernelFiles.isBuiltIn(export)) {
                throw new BadInputException("--export: unknown kernel variant '" + export + "': expected one of "
                        + String.join(", ", KernelFiles.BUILT_INS) + " (--resolved FILE prints a file of your own)");
            }
            out.print(KernelFiles.builtInText(export));
        } else if (resolved != null) {
            KernelVariant v = new KernelCatalog().resolve("--resolved", resolved);
            out.print(KernelFileWriter.toYaml(v));
        } else {
            for (String name : KernelFiles.BUILT_INS) {
                KernelVariant v = KernelFiles.builtIn(name).orElseThrow();
                out.printf("%-10s %-31s %s%n", name, "hook " + v.hook(), v.description()
                        + (v.basedOn() == null ? "" : " (extends " + v.basedOn() + ")"));
            }
        }
        out.flush();
        return Shootdown.EXIT_CLEAN;
    }
}
