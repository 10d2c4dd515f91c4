package dev.shootdown.audit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

/** Every kind a check can report is one a reader can look up. */
class ViolationKindTest {

    @Test
    void labelsAreTheKebabCaseOfTheConstantsAndFindTheirConstantBack() {
        assertEquals("non-responsive-csd-lock", ViolationKind.NON_RESPONSIVE_CSD_LOCK.label());
        for (ViolationKind k : ViolationKind.values()) {
            assertEquals(k, ViolationKind.named(k.label()));
        }
        assertNull(ViolationKind.named("USE_AFTER_FREE"));
    }

    @Test
    void docsAuditMdExplainsEveryKind() throws Exception {
        String doc = Files.readString(Path.of("../../docs/audit.md"));
        for (ViolationKind k : ViolationKind.values()) {
            assertTrue(doc.contains("`" + k.label() + "`"), "docs/audit.md does not name `" + k.label() + "`");
        }
    }
}
