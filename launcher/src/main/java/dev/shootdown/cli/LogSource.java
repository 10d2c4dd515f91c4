package dev.shootdown.cli;

import dev.shootdown.cli.run.BadInputException;
import java.nio.file.Path;
import picocli.CommandLine.Option;

/**
 * Where a command reads a recorded run from, for an exclusive {@code @ArgGroup}: an exported log
 * ({@code --log FILE}) or a run on a Kafka cluster ({@code --run ID}, at the command's own
 * {@code --bootstrap-servers}).
 */
final class LogSource {

    @Option(names = "--log", required = true, paramLabel = "FILE", description = "An exported log (events.jsonl, or .gz).")
    Path log;

    @Option(names = "--run", required = true, paramLabel = "ID", description = "A run on the Kafka cluster at --bootstrap-servers.")
    String run;

    /** Refuses {@code --run} without {@code --bootstrap-servers}, and {@code --bootstrap-servers} with {@code --log}. */
    void check(String bootstrapServers) throws BadInputException {
        if (run != null && bootstrapServers == null) {
            throw new BadInputException("--run needs --bootstrap-servers: the cluster that holds the run");
        }
        if (log != null && bootstrapServers != null) {
            throw new BadInputException("--bootstrap-servers applies to --run only");
        }
    }
}
