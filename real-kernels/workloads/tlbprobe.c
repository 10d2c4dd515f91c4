/* Workload 1: munmap of 16 written pages while another thread of the process runs on CPU 1
 * and the test module's notifier (a secondary TLB) is bound to the mm. */
#include "workload.h"

int main(void)
{
	struct reader r = {0};
	size_t len = 16 * PAGE;

	char *buf = two_threads_bound("tlbprobe", &r, len);

	mark("munmap start 0x%lx len 0x%lx", (unsigned long)buf, (unsigned long)len);
	if (munmap(buf, len))
		die("munmap");
	mark("munmap returned");

	usleep(50000);
	reader_stop(&r);
	return 0;
}
