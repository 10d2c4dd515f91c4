/* Workload 7: tlbalone's madvise(MADV_PAGEOUT), its 8 written pages placed across the end of a
 * page table's span (2 MiB on x86-64 and on arm64 with 4 KiB pages): 6 pages in one, 2 in the
 * next. walk_page_range calls madvise_cold_or_pageout_pte_range once per page table, and each
 * call reclaims what it isolated (reclaim_pages) before the next begins (mm/madvise.c): two
 * shrink_folio_list passes, two frees. Where try_to_unmap_one defers its flushes (arm64 always:
 * arch_tlbbatch_should_defer), the first pass leaves mm->tlb_flush_batched set, and the second
 * walk's flush_tlb_batched_pending (mm/rmap.c) flushes the whole mm first. The model runs
 * real-kernels/scenarios/pageout-alone.yaml placed at this address. */
#include "workload.h"

/* 6 pages below a 2 MiB boundary: the address the marker names, as the model is placed. */
#define STRADDLE_AT ((char *)(0x7f0000200000UL - 6 * PAGE))

int main(int argc, char **argv)
{
	return alone_pageout("tlbstraddle", "straddling pageout", STRADDLE_AT, argc, argv);
}
