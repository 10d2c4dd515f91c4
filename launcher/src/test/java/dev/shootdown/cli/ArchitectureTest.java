package dev.shootdown.cli;

import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.classes;
import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.noClasses;

import com.tngtech.archunit.core.domain.JavaClasses;
import com.tngtech.archunit.core.importer.ClassFileImporter;
import com.tngtech.archunit.core.importer.ImportOption;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The layering: the kernel model (node state machines and the node contract) is pure Java over
 * the event model; the event model, the scenario, the fault plan and the kernel variant's rules
 * know Jackson's annotations and nothing else (reading variant files is kernel.file's, an edge) (the plan's randomness is seeded, never its own); hosts and I/O live outside. Checked on the compiled classes of every module.
 */
class ArchitectureTest {

    /** The pure core: the node contract and the three node state machines. */
    private static final String[] CORE = {
        "dev.shootdown.core", "dev.shootdown.cpu", "dev.shootdown.iommu", "dev.shootdown.mm"
    };

    private static JavaClasses classes;

    @BeforeAll
    static void importClasses() {
        // Tests of other modules arrive as *-tests.jar; they are not part of the layering.
        classes = new ClassFileImporter().withImportOption(ImportOption.Predefined.DO_NOT_INCLUDE_TESTS)
                .withImportOption(location -> !location.contains("-tests.jar"))
                .importPackages("dev.shootdown");
    }

    @Test
    void coreDependsOnlyOnJavaAndTheEventModel() {
        classes().that().resideInAnyPackage(CORE)
                .should().onlyDependOnClassesThat().resideInAnyPackage(
                        "java..", "dev.shootdown.core", "dev.shootdown.event", "dev.shootdown.scenario",
                        "dev.shootdown.fault", "dev.shootdown.kernel", "dev.shootdown.cpu", "dev.shootdown.iommu", "dev.shootdown.mm")
                .check(classes);
    }

    @Test
    void coreTakesTimeRandomnessAndIdsFromItsHost() {
        noClasses().that().resideInAnyPackage(CORE).or().resideInAPackage("dev.shootdown.fault")
                .should().callMethod(System.class, "nanoTime")
                .orShould().callMethod(System.class, "currentTimeMillis")
                .orShould().callMethod(Math.class, "random")
                .orShould().dependOnClassesThat().haveFullyQualifiedName("java.util.UUID")
                .orShould().dependOnClassesThat().haveFullyQualifiedName("java.util.Random")
                .orShould().dependOnClassesThat().haveFullyQualifiedName("java.lang.Thread")
                .orShould().dependOnClassesThat().resideInAnyPackage("java.time..", "java.util.concurrent..", "java.io..",
                        "java.nio..", "java.net..")
                .check(classes);
    }

    @Test
    void eventModelKnowsOnlyJacksonAnnotations() {
        classes().that().resideInAnyPackage("dev.shootdown.event", "dev.shootdown.scenario", "dev.shootdown.fault",
                        "dev.shootdown.kernel")
                .should().onlyDependOnClassesThat().resideInAnyPackage(
                        "java..", "com.fasterxml.jackson.annotation..", "dev.shootdown.event", "dev.shootdown.scenario",
                        "dev.shootdown.fault", "dev.shootdown.kernel")
                .check(classes);
    }

    @Test
    void noVertxKafkaOrJacksonDatabindOutsideTheEdges() {
        noClasses().that().resideInAnyPackage("dev.shootdown.audit..", "dev.shootdown.log..", "dev.shootdown.host",
                        "dev.shootdown.host.sim..")
                .should().dependOnClassesThat().resideInAnyPackage("io.vertx..", "org.apache.kafka..",
                        "com.fasterxml.jackson.databind..")
                .check(classes);
    }
}
