/* Workload 4: mprotect(PROT_READ) of 16 written pages (a permission downgrade, which needs a
 * flush) while another thread runs on CPU 1 and the test module's notifier is bound. */
#include "workload.h"

int main(void)
{
	struct reader r = {0};
	size_t len = 16 * PAGE;

	char *buf = two_threads_bound("tlbprotect", &r, len);

	mark("mprotect start 0x%lx len 0x%lx", (unsigned long)buf, (unsigned long)len);
	if (mprotect(buf, len, PROT_READ))
		die("mprotect");
	mark("mprotect returned");

	if (read_all(buf, len) != 136) { /* 1 + 2 + ... + 16: still mapped, now read-only */
		errno = EIO;
		die("pages lost by mprotect");
	}
	usleep(50000);
	reader_stop(&r);
	return 0;
}
