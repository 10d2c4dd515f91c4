package dev.shootdown.broker;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Properties;
import kafka.tools.StorageTool;
import org.apache.kafka.common.Uuid;

/**
 * The embedded broker's log directory: made (or a temporary one), refused while another broker
 * holds it, and formatted for KRaft once, as {@code kafka-storage.sh format} would.
 */
final class KafkaLogDir {

    private KafkaLogDir() {}

    static Path prepare(Path logDirOrNull) throws BrokerStartException {
        Path dir = logDirOrNull == null ? null : logDirOrNull.toAbsolutePath().normalize();
        try {
            if (dir == null) {
                return Files.createTempDirectory("shootdown-kafka-").toAbsolutePath();
            }
            Files.createDirectories(dir);
        } catch (IOException | RuntimeException e) {
            throw new BrokerStartException("cannot create log directory "
                    + (dir == null ? "(temporary)" : dir) + ": " + EmbeddedKafkaBroker.oneLine(e), e);
        }
        refuseALockedDirectory(dir);
        return dir;
    }

    /**
     * A directory a running broker holds is refused before Kafka touches it. Kafka's own check
     * (LogManager locking {@code .lock}) comes only after its raft manager has opened the metadata
     * log in the same directory, which can leave the running broker with a failed log directory,
     * and Kafka then halts the JVM. The lock is Kafka's: a {@link FileChannel#tryLock} on
     * {@code .lock}, held by a broker in this JVM (an overlapping lock) or in another process.
     */
    private static void refuseALockedDirectory(Path dir) throws BrokerStartException {
        Path lockFile = dir.resolve(".lock");
        if (!Files.exists(lockFile)) {
            return;
        }
        String inUse = "log directory " + dir + " is in use by another Kafka broker (" + lockFile + " is locked)";
        try (FileChannel channel = FileChannel.open(lockFile, StandardOpenOption.WRITE)) {
            FileLock lock = channel.tryLock();
            if (lock == null) {
                throw new BrokerStartException(inUse, null);
            }
            lock.release();
        } catch (OverlappingFileLockException e) {
            throw new BrokerStartException(inUse, e);
        } catch (IOException e) {
            throw new BrokerStartException("cannot check the lock of log directory " + dir + ": " + EmbeddedKafkaBroker.oneLine(e), e);
        }
    }

    /**
     * Formats {@code dir} for these settings with a new random cluster id, exactly as
     * {@code kafka-storage.sh format --config FILE --cluster-id ID} does (through
     * {@link StorageTool#execute}, the non-exiting part of its {@code main}), unless the directory
     * already holds {@code meta.properties}: formatting again would give it a new cluster id, which
     * Kafka then refuses to start with. The tool's output is kept out of stdout.
     *
     * @return whether the directory was formatted now
     */
    static boolean formatIfNeeded(Properties settings, Path dir) throws BrokerStartException {
        if (Files.exists(dir.resolve(EmbeddedKafkaBroker.META_PROPERTIES))) {
            return false;
        }
        String failure = "formatting log directory " + dir + " failed: ";
        Path configFile;
        try {
            configFile = Files.createTempFile("shootdown-kafka-format-", ".properties");
        } catch (IOException e) {
            throw new BrokerStartException(failure + "cannot create its configuration file: " + EmbeddedKafkaBroker.oneLine(e), e);
        }
        ByteArrayOutputStream output = new ByteArrayOutputStream();
        try {
            try (OutputStream out = Files.newOutputStream(configFile)) {
                settings.store(out, "kafka-storage format, written by " + EmbeddedKafkaBroker.class.getName());
            }
            int status;
            try (PrintStream toolOutput = new PrintStream(output, true, StandardCharsets.UTF_8)) {
                status = StorageTool.execute(new String[] {
                    "format", "--config", configFile.toString(), "--cluster-id", Uuid.randomUuid().toString()
                }, toolOutput);
            }
            if (status != 0) {
                throw new BrokerStartException(failure + "kafka-storage format ended with status " + status
                        + ": " + EmbeddedKafkaBroker.oneLine(output.toString(StandardCharsets.UTF_8)));
            }
        } catch (BrokerStartException e) {
            throw e;
        } catch (Exception e) {
            throw new BrokerStartException(failure + EmbeddedKafkaBroker.oneLine(e), e);
        } finally {
            EmbeddedKafkaBroker.deleteQuietly(configFile);
        }
        EmbeddedKafkaBroker.LOG.debug("Formatted {}: {}", dir, output.toString(StandardCharsets.UTF_8).strip());
        return true;
    }
}
