package dev.shootdown.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.shootdown.codec.EventCodec;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Options from the environment, for containers: SHOOTDOWN_ plus the long name; a flag wins over the variable. */
class EnvDefaultsTest {

    @TempDir
    Path dir;

    @Test
    void theVariableOfAnOptionIsItsLongNameInCapitals() {
        assertEquals("SHOOTDOWN_BOOTSTRAP_SERVERS", EnvDefaults.variable("--bootstrap-servers"));
        assertEquals("SHOOTDOWN_KAFKA_CONFIG", EnvDefaults.variable("--kafka-config"));
        assertEquals("SHOOTDOWN_INDEX", EnvDefaults.variable("--index"));
    }

    @Test
    void theEnvironmentSetsAnOptionAndAFlagOverridesIt() throws Exception {
        Map<String, String> env = Map.of("SHOOTDOWN_SEED", "7", "SHOOTDOWN_ENGINE", "sim", "SHOOTDOWN_OUT", dir.resolve("env").toString());
        assertEquals(Shootdown.EXIT_CLEAN, run(env, "run", "--scenario", "munmap-dma"));
        JsonNode fromEnv = EventCodec.mapper().readTree(dir.resolve("env/report.json").toFile());
        assertEquals(7, fromEnv.get("seed").asLong());
        assertTrue(fromEnv.get("run").asText().contains("-sim-"), "the engine came from SHOOTDOWN_ENGINE");

        assertEquals(Shootdown.EXIT_CLEAN, run(env, "run", "--scenario", "munmap-dma", "--seed", "9", "--out", dir.resolve("flag").toString()));
        assertEquals(9, EventCodec.mapper().readTree(dir.resolve("flag/report.json").toFile()).get("seed").asLong());
    }

    @Test
    void aBadValueFromTheEnvironmentIsOneLineOfBadInput() {
        StringWriter err = new StringWriter();
        int status = Shootdown.execute(new PrintWriter(new StringWriter()), new PrintWriter(err), Map.of("SHOOTDOWN_SEED", "seven"),
                "run", "--scenario", "munmap-dma", "--engine", "sim", "--out", dir.resolve("bad").toString());
        assertEquals(Shootdown.EXIT_BAD_INPUT, status);
        assertTrue(err.toString().contains("seven"), err.toString());
    }

    private static int run(Map<String, String> env, String... args) {
        return Shootdown.execute(new PrintWriter(new StringWriter()), new PrintWriter(new StringWriter()), env, args);
    }
}
