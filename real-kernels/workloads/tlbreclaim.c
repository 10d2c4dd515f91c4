/* Workload 2: madvise(MADV_PAGEOUT) of 8 written anonymous pages (swapped out to zram) while
 * another thread runs on CPU 1, so try_to_unmap_one defers the CPU flush to a batch
 * (another CPU is in mm_cpumask); the test module's notifier is bound. */
#include "workload.h"

int main(void)
{
	struct reader r = {0};
	size_t len = 8 * PAGE;

	char *buf = two_threads_bound("tlbreclaim", &r, len);

	mark("pageout start 0x%lx len 0x%lx", (unsigned long)buf, (unsigned long)len);
	int ret = madvise(buf, len, MADV_PAGEOUT);
	mark("pageout returned %d", ret);
	if (ret)
		die("madvise(MADV_PAGEOUT)");

	usleep(50000);
	reader_stop(&r);
	return 0;
}
