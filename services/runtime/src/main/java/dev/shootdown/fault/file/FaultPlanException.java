package dev.shootdown.fault.file;

import dev.shootdown.core.OneLine;

/**
 * A fault plan file that cannot be used. The message is one line:
 * {@code FILE:LINE:COLUMN: FIELD: what was expected}, e.g.
 * {@code plan.yaml:9:5: faults[2].probability: expected a number in [0, 1], got 3}.
 */
public final class FaultPlanException extends Exception {
    private static final long serialVersionUID = 1L;

    /** {@code message} on one line: a line break it quotes from the input is written as {@code \\n}. */
    public FaultPlanException(String message, Throwable cause) {
        super(OneLine.of(message), cause);
    }
}
