/* Workload 5: madvise(MADV_PAGEOUT) of 8 written anonymous pages by a single-threaded process
 * whose mm has never been loaded on another CPU, so try_to_unmap_one flushes each page at
 * once (ptep_clear_flush) instead of deferring to a batch; the test module's notifier is
 * bound. The process pins itself to CPU 0 and executes itself again, so that its mm is made
 * (by exec) and used on CPU 0 only. The buffer is where mmap puts it: `shootdown hold` runs the
 * model's workload at the marker's address. */
#include "workload.h"

int main(int argc, char **argv)
{
	return alone_pageout("tlbalone", "alone pageout", NULL, argc, argv);
}
