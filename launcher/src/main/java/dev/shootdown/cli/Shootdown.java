package dev.shootdown.cli;

import dev.shootdown.cli.run.BadInputException;
import dev.shootdown.core.OneLine;
import dev.shootdown.host.kafka.InfrastructureException;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.util.Arrays;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/**
 * The {@code shootdown} command. Exit status: 0 clean (for {@code matrix}: every cell ran), 1
 * violations found, 2 bad input, 3 infrastructure failure.
 */
@Command(
        name = "shootdown",
        mixinStandardHelpOptions = true,
        version = "shootdown 0.1.0",
        description = "Simulates Linux TLB shootdowns with secondary TLBs (IOMMU IOTLB, device ATC) "
                + "across services that talk through Kafka, and audits the recorded log.",
        subcommands = {RunCommand.class, MatrixCommand.class, CompareCommand.class, ExperimentCommand.class, ShrinkCommand.class,
                ScenariosCommand.class, KernelsCommand.class, AuditCommand.class, ImportFtraceCommand.class, HoldCommand.class, ReplayCommand.class, TraceCommand.class, ExportCommand.class, RunsCommand.class, NodeCommand.class, ClusterCommand.class, InstallCommand.class,
                CommandLine.HelpCommand.class})
public final class Shootdown implements Runnable {

    public static final int EXIT_CLEAN = 0;
    public static final int EXIT_VIOLATIONS = 1;
    public static final int EXIT_BAD_INPUT = 2;
    public static final int EXIT_INFRASTRUCTURE = 3;

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    /** Every command's: declared once here, inherited by each subcommand. */
    @CommandLine.Option(names = "--verbose", scope = CommandLine.ScopeType.INHERIT, description = "Show stack traces of failures.")
    boolean verbose;

    /** Whether the command line of {@code spec}'s command asked for stack traces ({@code --verbose}). */
    static boolean verbose(CommandLine.Model.CommandSpec spec) {
        return ((Shootdown) spec.root().userObject()).verbose;
    }

    @Override
    public void run() {
        spec.commandLine().usage(spec.commandLine().getOut());
    }

    public static void main(String[] args) {
        System.exit(execute(args));
    }

    /** Runs the command line on stdout and stderr and returns the exit status. */
    public static int execute(String... args) {
        return execute(new PrintWriter(System.out, true), new PrintWriter(System.err, true), args);
    }

    /** Runs the command line with the given output streams (tests call this) and returns the exit status. */
    public static int execute(PrintWriter out, PrintWriter errWriter, String... args) {
        return execute(out, errWriter, System.getenv(), args);
    }

    /** As above, with options' defaults taken from {@code env} ({@link EnvDefaults}). */
    static int execute(PrintWriter out, PrintWriter errWriter, java.util.Map<String, String> env, String... args) {
        boolean verbose = Arrays.asList(args).contains("--verbose");
        CommandLine cl = new CommandLine(new Shootdown());
        cl.setDefaultValueProvider(new EnvDefaults(env));
        cl.setOut(out);
        cl.setErr(errWriter);
        cl.setParameterExceptionHandler((ex, a) -> {
            PrintWriter err = ex.getCommandLine().getErr();
            err.println("shootdown: " + OneLine.of(ex.getMessage())); // an argument may hold a line break
            err.println("try '" + ex.getCommandLine().getCommandSpec().qualifiedName() + " --help'");
            return EXIT_BAD_INPUT;
        });
        cl.setExecutionExceptionHandler((ex, c, parsed) -> {
            PrintWriter err = c.getErr();
            if (ex instanceof BadInputException) {
                err.println("shootdown: " + OneLine.of(ex.getMessage()));
                if (verbose && ex.getCause() != null) {
                    ex.getCause().printStackTrace(err);
                }
                return EXIT_BAD_INPUT;
            }
            if (ex instanceof InfrastructureException) {
                err.println("shootdown: " + OneLine.of(ex.getMessage()));
                if (verbose) {
                    ex.printStackTrace(err);
                }
                return EXIT_INFRASTRUCTURE;
            }
            if (ex instanceof IOException || ex instanceof UncheckedIOException) {
                // a file the command could not read or write (a full disk, a directory it may not write): not a bug
                Throwable io = ex instanceof UncheckedIOException u ? u.getCause() : ex;
                err.println("shootdown: I/O error: " + OneLine.of(io.getMessage() != null ? io.getMessage() : String.valueOf(io)));
                if (verbose) {
                    ex.printStackTrace(err);
                }
                return EXIT_INFRASTRUCTURE;
            }
            err.println("shootdown: internal error: " + OneLine.of(String.valueOf(ex)));
            if (verbose) {
                ex.printStackTrace(err);
            } else {
                err.println("(run again with --verbose for the stack trace)");
            }
            return EXIT_INFRASTRUCTURE;
        });
        try {
            return cl.execute(args);
        } catch (Error e) {
            // picocli hands only Exceptions to the handler above; a broken classpath or an
            // exhausted heap still gets one line.
            errWriter.println("shootdown: fatal: " + e);
            if (verbose) {
                e.printStackTrace(errWriter);
            }
            errWriter.flush();
            return EXIT_INFRASTRUCTURE;
        }
    }
}
