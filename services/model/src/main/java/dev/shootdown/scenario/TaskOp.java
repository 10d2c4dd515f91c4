package dev.shootdown.scenario;

import com.fasterxml.jackson.annotation.JsonSubTypes;
import com.fasterxml.jackson.annotation.JsonTypeInfo;
import com.fasterxml.jackson.annotation.JsonTypeName;
import dev.shootdown.event.Access;

/** One step of a user task's program, executed by the CPU it runs on. */
@JsonTypeInfo(use = JsonTypeInfo.Id.NAME, property = "op")
@JsonSubTypes({
    @JsonSubTypes.Type(value = TaskOp.Touch.class, name = "touch"),
    @JsonSubTypes.Type(value = TaskOp.Munmap.class, name = "munmap"),
    @JsonSubTypes.Type(value = TaskOp.Mprotect.class, name = "mprotect"),
    @JsonSubTypes.Type(value = TaskOp.Compute.class, name = "compute"),
    @JsonSubTypes.Type(value = TaskOp.Madvise.class, name = "madvise"),
    @JsonSubTypes.Type(value = TaskOp.MemoryReclaim.class, name = "memory-reclaim"),
})
public sealed interface TaskOp {

    /** The same step on addresses {@code delta} bytes away (a workload placed elsewhere, {@link Scenario#placed}). */
    TaskOp movedBy(long delta);

    /**
     * Accesses {@code pages} pages from {@code start}, one per CPU step, {@code rounds} times over
     * (0 = until the task is killed or the run ends).
     */
    @JsonTypeName("touch")
    record Touch(long start, int pages, Access access, int rounds) implements TaskOp {
        public Touch {
            if (pages <= 0 || rounds < 0) {
                throw new IllegalArgumentException("touch needs pages > 0 and rounds >= 0");
            }
        }

        @Override
        public Touch movedBy(long delta) {
            return new Touch(start + delta, pages, access, rounds);
        }
    }

    /** The munmap(2) system call on [start, start + pages * PAGE_SIZE). */
    @JsonTypeName("munmap")
    record Munmap(long start, int pages) implements TaskOp {
        public Munmap {
            if (pages <= 0) {
                throw new IllegalArgumentException("munmap needs pages > 0");
            }
        }

        @Override
        public Munmap movedBy(long delta) {
            return new Munmap(start + delta, pages);
        }
    }

    /** The mprotect(2) system call on [start, start + pages * PAGE_SIZE): read-only unless {@code writable}. */
    @JsonTypeName("mprotect")
    record Mprotect(long start, int pages, boolean writable) implements TaskOp {
        public Mprotect {
            if (pages <= 0) {
                throw new IllegalArgumentException("mprotect needs pages > 0");
            }
        }

        @Override
        public Mprotect movedBy(long delta) {
            return new Mprotect(start + delta, pages, writable);
        }
    }

    /**
     * The madvise(2) system call on [start, start + pages * PAGE_SIZE) with {@code advice}
     * (MADV_PAGEOUT: reclaim the range's folios now, in the caller's context).
     */
    @JsonTypeName("madvise")
    record Madvise(long start, int pages, Advice advice) implements TaskOp {
        public Madvise {
            if (pages <= 0) {
                throw new IllegalArgumentException("madvise needs pages > 0");
            }
            if (advice == null) {
                throw new IllegalArgumentException("madvise needs an advice (pageout)");
            }
        }

        @Override
        public Madvise movedBy(long delta) {
            return new Madvise(start + delta, pages, advice);
        }
    }

    /** The advice of a madvise(2) the model runs (include/uapi/asm-generic/mman-common.h). */
    enum Advice {
        /** MADV_PAGEOUT (21): reclaim these pages (mm/madvise.c madvise_pageout). */
        PAGEOUT("MADV_PAGEOUT");

        private final String name;

        Advice(String name) {
            this.name = name;
        }

        /** The kernel's name for it, as the madvise event carries it. */
        public String kernelName() {
            return name;
        }
    }

    /**
     * A write of {@code pages} pages' worth of bytes to the memory cgroup's {@code memory.reclaim}
     * (cgroup v2, Linux 5.19 and later): mm/memcontrol.c memory_reclaim reclaims that much from the
     * cgroup's LRU with try_to_free_mem_cgroup_pages, in the writer's context. The scenario's memory
     * is taken as the task's memory cgroup: its LRU holds every mapped folio, oldest first. The
     * model runs one shrink_folio_list pass, so at most {@link #MAX_PAGES} pages.
     */
    @JsonTypeName("memory-reclaim")
    record MemoryReclaim(int pages) implements TaskOp {
        /** SWAP_CLUSTER_MAX (include/linux/swap.h): the most folios isolate_lru_folios takes for one pass. */
        public static final int MAX_PAGES = 32;

        public MemoryReclaim {
            if (pages <= 0 || pages > MAX_PAGES) {
                throw new IllegalArgumentException("memory-reclaim needs pages from 1 to " + MAX_PAGES
                        + " (SWAP_CLUSTER_MAX: the model runs one shrink_folio_list pass)");
            }
        }

        /** The cgroup's LRU, not a range: the same wherever the workload's memory is. */
        @Override
        public MemoryReclaim movedBy(long delta) {
            return this;
        }
    }

    /** The task computes for {@code ns} without touching memory (it stays on its CPU, its mm loaded). */
    @JsonTypeName("compute")
    record Compute(long ns) implements TaskOp {
        public Compute {
            if (ns <= 0) {
                throw new IllegalArgumentException("compute needs ns > 0");
            }
        }

        @Override
        public Compute movedBy(long delta) {
            return this;
        }
    }
}
