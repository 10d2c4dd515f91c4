package dev.shootdown.testing;

import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.noClasses;

import com.tngtech.archunit.core.domain.JavaClasses;
import com.tngtech.archunit.core.importer.ClassFileImporter;
import com.tngtech.archunit.core.importer.ImportOption;

/**
 * What the compiler cannot check in a state machine's module: that it takes time, randomness
 * and ids from its host. A node module's dependencies (the model alone) already keep Vert.x,
 * Kafka and the file formats out; this rule keeps out clocks, threads, randomness and I/O, so the
 * same inputs give the same decisions on every host. Each node module checks its own packages
 * with it, on its compiled main classes.
 */
public final class NodePurity {

    private NodePurity() {}

    /** Fails when a main class of {@code packages} reads a clock, draws randomness, makes an id, a thread or I/O. */
    public static void check(String... packages) {
        JavaClasses classes = new ClassFileImporter().withImportOption(ImportOption.Predefined.DO_NOT_INCLUDE_TESTS)
                .withImportOption(location -> !location.contains("-tests.jar"))
                .importPackages(packages);
        noClasses().that().resideInAnyPackage(packages)
                .should().callMethod(System.class, "nanoTime")
                .orShould().callMethod(System.class, "currentTimeMillis")
                .orShould().callMethod(Math.class, "random")
                .orShould().dependOnClassesThat().haveFullyQualifiedName("java.util.UUID")
                .orShould().dependOnClassesThat().haveFullyQualifiedName("java.util.Random")
                .orShould().dependOnClassesThat().haveFullyQualifiedName("java.lang.Thread")
                .orShould().dependOnClassesThat().resideInAnyPackage("java.time..", "java.util.concurrent..", "java.io..",
                        "java.nio..", "java.net..")
                .because("a node takes time, randomness and ids from its host (STYLE.md): the same inputs give the same"
                        + " log on every host")
                .check(classes);
    }
}
