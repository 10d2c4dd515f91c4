package dev.shootdown.cli;

import dev.shootdown.broker.EmbeddedKafkaBroker;
import org.junit.jupiter.api.extension.AfterAllCallback;
import org.junit.jupiter.api.extension.BeforeAllCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * A real KRaft broker for one test class: {@code @RegisterExtension static final EmbeddedBroker
 * BROKER = new EmbeddedBroker();}. Started before the class's tests, stopped (and its data
 * deleted) after them.
 */
final class EmbeddedBroker implements BeforeAllCallback, AfterAllCallback {

    private EmbeddedKafkaBroker broker;

    @Override
    public void beforeAll(ExtensionContext context) throws Exception {
        broker = EmbeddedKafkaBroker.start(null);
    }

    @Override
    public void afterAll(ExtensionContext context) {
        if (broker != null) {
            broker.close();
        }
    }

    String bootstrapServers() {
        return broker.bootstrapServers();
    }
}
