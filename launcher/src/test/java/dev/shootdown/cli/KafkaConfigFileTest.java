package dev.shootdown.cli;

import dev.shootdown.cli.run.BadInputException;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.shootdown.host.kafka.KafkaHostConfig;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Properties;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code --kafka-config FILE}: settings reach every Kafka client; bad files are one line; secrets are never printed. */
class KafkaConfigFileTest {

    private static final String JAAS = "org.apache.kafka.common.security.plain.PlainLoginModule required username=\"u\" password=\"hunter2\";";

    @TempDir
    Path dir;

    @Test
    void theSettingsReachProducersConsumersAndAdminClients() throws Exception {
        Path file = dir.resolve("client.properties");
        Files.writeString(file, "security.protocol=SASL_SSL\nsasl.mechanism=PLAIN\nsasl.jaas.config=" + JAAS + "\n");
        KafkaHostConfig config = KafkaConfigFile.config("broker:9093", file);

        for (Properties p : new Properties[] {config.baseProperties(), config.producerProperties("p"), config.consumerProperties("c")}) {
            assertEquals("SASL_SSL", p.getProperty("security.protocol"));
            assertEquals("PLAIN", p.getProperty("sasl.mechanism"));
            assertEquals(JAAS, p.getProperty("sasl.jaas.config"));
            assertEquals("broker:9093", p.getProperty("bootstrap.servers"));
        }
        assertEquals("all", config.producerProperties("p").getProperty("acks"), "Shootdown's own guarantees stay");
    }

    @Test
    void aTuningSettingOverTheHostsOwnReachesTheClients() throws Exception {
        Path file = dir.resolve("client.properties");
        Files.writeString(file, "linger.ms=7\nfetch.max.wait.ms=9\n");
        KafkaHostConfig config = KafkaConfigFile.config("b:1", file);
        assertEquals("7", config.producerProperties("p").getProperty("linger.ms"), "the host sends at once unless told otherwise");
        assertEquals("9", config.consumerProperties("c").getProperty("fetch.max.wait.ms"));
        assertEquals("0", KafkaHostConfig.defaults("b:1").producerProperties("p").getProperty("linger.ms"));
    }

    @Test
    void aSettingShootdownOwnsIsRefusedByKeyWithoutItsValue() throws Exception {
        Path file = dir.resolve("client.properties");
        Files.writeString(file, "sasl.jaas.config=" + JAAS + "\nacks=0\n");
        BadInputException e = assertThrows(BadInputException.class, () -> KafkaConfigFile.config("b:1", file));
        assertEquals("--kafka-config " + file + ": acks is set by Shootdown and cannot be changed", e.getMessage());

        Files.writeString(file, "bootstrap.servers=elsewhere:9092\n");
        e = assertThrows(BadInputException.class, () -> KafkaConfigFile.config("b:1", file));
        assertTrue(e.getMessage().endsWith("bootstrap.servers is set by Shootdown; give the cluster with --bootstrap-servers"),
                e.getMessage());
    }

    @Test
    void onTheCommandLineABadFileIsOneLineAndNoSecretIsPrinted() throws Exception {
        Path file = dir.resolve("client.properties");
        Files.writeString(file, "sasl.jaas.config=" + JAAS + "\nenable.idempotence=false\n");
        CliTest.Outcome o = CliTest.shootdown("runs", "--bootstrap-servers", "127.0.0.1:9", "--kafka-config", file.toString());
        assertEquals(Shootdown.EXIT_BAD_INPUT, o.status());
        assertEquals(1, o.err().lines().count(), o.err());
        assertTrue(o.err().contains("enable.idempotence is set by Shootdown"), o.err());
        assertFalse((o.out() + o.err()).contains("hunter2"));

        CliTest.Outcome missing = CliTest.shootdown("node", "cpu", "--bootstrap-servers", "127.0.0.1:9", "--kafka-config",
                dir.resolve("nope.properties").toString());
        assertEquals(Shootdown.EXIT_BAD_INPUT, missing.status());
        assertTrue(missing.err().contains("--kafka-config " + dir.resolve("nope.properties") + ": no such file"), missing.err());
    }
}
