package dev.shootdown.scenario.file;

import dev.shootdown.core.OneLine;

/**
 * A scenario file that cannot be used. The message is one line:
 * {@code FILE:LINE:COLUMN: FIELD: what was expected}, e.g.
 * {@code my.yaml:14:12: devices[0].iommu: expected an IOMMU index in [0, 1), got 3}.
 */
public final class ScenarioFileException extends Exception {
    private static final long serialVersionUID = 1L;

    /** {@code message} on one line: a line break it quotes from the input is written as {@code \\n}. */
    public ScenarioFileException(String message, Throwable cause) {
        super(OneLine.of(message), cause);
    }
}
