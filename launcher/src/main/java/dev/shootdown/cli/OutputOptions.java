package dev.shootdown.cli;

import dev.shootdown.cli.run.BadInputException;
import dev.shootdown.cli.report.AuditPrinter;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.Writer;
import java.nio.file.Files;
import java.nio.file.Path;
import picocli.CommandLine.Option;

/**
 * What a command that ends with an audit prints on stdout (a picocli mixin, shared by
 * {@code run}, {@code audit} and {@code replay}): by default the audit for a person; with
 * {@code --json} report.json itself, for a script; with {@code --quiet} the verdict line alone;
 * with {@code --all} every shootdown's steps and every violation.
 * Problems and errors go to stderr whatever is chosen, and the exit status is the same.
 */
final class OutputOptions {

    @Option(names = "--json", description = "Print report.json on stdout and nothing else (the exit status is unchanged).")
    boolean json;

    @Option(names = "--quiet", description = "Print the verdict line only (the exit status is unchanged).")
    boolean quiet;

    @Option(names = "--all", description = "Print every shootdown's steps and every violation (read back from report.json),"
            + " not the first of each kind and the first " + AuditPrinter.TABLE_ROWS + " rows of each table.")
    boolean all;

    void validate() throws BadInputException {
        if (json && quiet) {
            throw new BadInputException("--json and --quiet: choose one");
        }
        if (all && (json || quiet)) {
            throw new BadInputException("--all and --" + (json ? "json" : "quiet") + ": choose one");
        }
    }

    /**
     * The audit for a person: {@code bounded} by default, or with --all every shootdown and
     * violation of {@code reportJson}.
     */
    Runnable person(Runnable bounded, Path reportJson, String source, PrintWriter out) {
        if (!all) {
            return bounded;
        }
        return () -> {
            try {
                AuditPrinter.printAll(reportJson, source, out);
            } catch (IOException e) {
                throw new java.io.UncheckedIOException(reportJson + ": cannot read the report just written", e);
            }
        };
    }

    /** Where a command's narration (headers, progress, what it wrote) goes: stdout, or nowhere with --json or --quiet. */
    PrintWriter narration(PrintWriter stdout) {
        return json || quiet ? new PrintWriter(Writer.nullWriter()) : stdout;
    }

    /**
     * The audit's answer on {@code stdout}: {@code person} prints it for a person; with --quiet
     * only {@code verdictLine}; with --json the bytes of {@code reportJson}, as written.
     */
    void answer(PrintWriter stdout, Runnable person, String verdictLine, Path reportJson) throws BadInputException {
        if (json) {
            try {
                stdout.print(Files.readString(reportJson));
            } catch (IOException e) {
                throw new BadInputException(reportJson + ": cannot read the report just written (" + e.getMessage() + ")", e);
            }
        } else if (quiet) {
            stdout.println(verdictLine);
        } else {
            person.run();
        }
        stdout.flush();
    }
}
