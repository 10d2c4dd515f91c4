package dev.shootdown.cli;

import java.util.Locale;
import java.util.Map;
import picocli.CommandLine.IDefaultValueProvider;
import picocli.CommandLine.Model.ArgSpec;
import picocli.CommandLine.Model.OptionSpec;

/**
 * Every option can also be set from the environment, for containers: {@code --bootstrap-servers}
 * is {@code SHOOTDOWN_BOOTSTRAP_SERVERS}, {@code --kafka-config} is {@code SHOOTDOWN_KAFKA_CONFIG},
 * and so on ({@code SHOOTDOWN_} and the long name in upper case, dashes as underscores). A flag
 * on the command line wins over the environment, which wins over the built-in default.
 */
final class EnvDefaults implements IDefaultValueProvider {

    private final Map<String, String> env;

    EnvDefaults(Map<String, String> env) {
        this.env = env;
    }

    /** The variable for an option's long name: {@code --run-timeout} -> {@code SHOOTDOWN_RUN_TIMEOUT}. */
    static String variable(String longName) {
        return "SHOOTDOWN_" + longName.replaceFirst("^--", "").replace('-', '_').toUpperCase(Locale.ROOT);
    }

    @Override
    public String defaultValue(ArgSpec arg) {
        if (!(arg instanceof OptionSpec option) || option.usageHelp() || option.versionHelp()) {
            return null;
        }
        String value = env.get(variable(option.longestName()));
        return value == null || value.isEmpty() ? null : value;
    }
}
