package dev.shootdown.kernel;

/**
 * A call site of the secondary-TLB hook: whether the kernel calls it there ({@code hook} null:
 * it does not) and how, with the kernel source the rule comes from.
 */
public record Site(Hook hook, String source) {

    public boolean calls() {
        return hook != null;
    }
}
