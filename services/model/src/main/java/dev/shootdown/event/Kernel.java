package dev.shootdown.event;

/** Constants with the kernel's meaning. */
public final class Kernel {
    /** PAGE_SIZE on both modelled architectures (4 KiB granule). */
    public static final long PAGE_SIZE = 4096L;
    /** TLB_FLUSH_ALL (arch/x86/include/asm/tlbflush.h): an end of -1UL means the whole mm. */
    public static final long TLB_FLUSH_ALL = -1L;

    private Kernel() {}

    /** Page-aligns an address downwards (PAGE_MASK). */
    public static long pageAlign(long va) {
        return va & ~(PAGE_SIZE - 1);
    }

    /** True when {@code va} lies in the end-exclusive range [start, end); end == -1UL covers all. */
    public static boolean covers(long start, long end, long va) {
        if (end == TLB_FLUSH_ALL) {
            return Long.compareUnsigned(va, start) >= 0;
        }
        return Long.compareUnsigned(va, start) >= 0 && Long.compareUnsigned(va, end) < 0;
    }

    /** Formats an address as the kernel prints it in hex. */
    public static String hex(long value) {
        return "0x" + Long.toHexString(value);
    }
}
