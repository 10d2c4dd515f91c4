package dev.shootdown.mm;

import dev.shootdown.core.Decider;
import dev.shootdown.kernel.KernelVariant;

/**
 * The modelled kernel: its state ({@link MmState}) and its code, one unit per kernel file, wired
 * to each other as the kernel's functions call each other. The architecture's TLB code
 * ({@link ArchTlb}) is chosen when the run starts; what differs between kernel versions comes
 * from the run's kernel variant ({@link MmState#kernel}). Thread: the host's node thread.
 */
final class Linux {

    final MmState state;
    final Memory memory = new Memory(this);
    final PageAlloc pageAlloc = new PageAlloc(this);
    final Vmscan vmscan = new Vmscan(this);
    final Rmap rmap = new Rmap(this);
    final Mmap mmap = new Mmap(this);
    final Mprotect mprotect = new Mprotect(this);
    final Madvise madvise = new Madvise(this);
    final Memcontrol memcontrol = new Memcontrol(this);
    final MmuGather mmuGather = new MmuGather(this);
    final MmuNotifier mmuNotifier = new MmuNotifier(this);
    final Smp smp = new Smp(this);
    final IoPgfault ioPgfault = new IoPgfault(this);
    private final ArchTlb x86 = new X86Tlb(this);
    private final ArchTlb arm64 = new Arm64Tlbflush(this);

    Linux(KernelVariant.Catalog catalog) {
        this.state = new MmState(catalog);
    }

    /** The running architecture's TLB code. */
    ArchTlb arch() {
        return state.arm64 ? arm64 : x86;
    }

    /**
     * Runs {@code sd}'s next steps until it has to wait (for IPI acks, TLBI completions or the
     * secondary-TLB hook) or is done. What comes next is read from the state its events built.
     */
    void advance(Decider d, Shootdown sd) {
        while (sd != null && !sd.oopsed && !sd.waiting() && state.shootdowns.containsKey(sd.id)) {
            if (!step(d, sd)) {
                return;
            }
        }
    }

    /** One step of {@code sd}; false when it now waits on CPUs or is finished. */
    private boolean step(Decider d, Shootdown sd) {
        return switch (sd.kind) {
            case GATHER -> mmuGather.step(d, sd);
            case FLUSH_PAGE -> memory.stepFlushPage(d, sd);
            case RECLAIM -> vmscan.step(d, sd);
            case PAGEOUT -> madvise.step(d, sd);
        };
    }
}
