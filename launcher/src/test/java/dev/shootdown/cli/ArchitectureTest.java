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
 * know Jackson's annotations and nothing else (reading variant files is kernel.file's, an edge);
 * hosts and I/O live outside. Checked on the compiled classes of every module. That the core and
 * the fault plan take time, randomness and ids from their host is checked in each module itself
 * ({@code NodePurity}: {@code ModelPurityTest}, {@code CpuPurityTest}, {@code IommuPurityTest},
 * {@code CoordinatorPurityTest}).
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

    @Test
    void theLauncherIsInLayers() {
        // bottom up: the reports (terminal and HTML), running scenarios, experiments (specs, cells, the
        // shrinker), the commands; each layer uses only those below it
        String cli = "dev.shootdown.cli";
        noClasses().that().resideInAPackage(cli + ".report..")
                .should().dependOnClassesThat().resideInAnyPackage(cli, cli + ".run..", cli + ".experiment..")
                .check(classes);
        noClasses().that().resideInAPackage(cli + ".run..")
                .should().dependOnClassesThat().resideInAnyPackage(cli, cli + ".experiment..")
                .check(classes);
        noClasses().that().resideInAPackage(cli + ".experiment..")
                .should().dependOnClassesThat().resideInAPackage(cli)
                .check(classes);
    }
}
