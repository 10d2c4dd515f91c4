package dev.shootdown.event;

/** The kind of memory access, as in the fault flags (FAULT_FLAG_WRITE). */
public enum Access {
    READ, WRITE;

    public boolean isWrite() {
        return this == WRITE;
    }
}
