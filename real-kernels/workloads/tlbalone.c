/* Workload 5: madvise(MADV_PAGEOUT) of 8 written anonymous pages by a single-threaded process
 * whose mm has never been loaded on another CPU, so try_to_unmap_one flushes each page at
 * once (ptep_clear_flush) instead of deferring to a batch; the test module's notifier is
 * bound. The process pins itself to CPU 0 and executes itself again, so that its mm is made
 * (by exec) and used on CPU 0 only. */
#include "workload.h"

int main(int argc, char **argv)
{
	size_t len = 8 * PAGE;

	prog = "tlbalone";
	if (argc < 2 || strcmp(argv[1], "pinned") != 0) {
		char self[4096];
		ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
		if (n < 0)
			die("readlink /proc/self/exe");
		self[n] = 0;
		pin(0);
		execl(self, argv[0], "pinned", (char *)NULL);
		die("exec itself");
	}
	bind_stlb();
	char *buf = map_anon(NULL, len);
	touch(buf, len);
	usleep(200000);

	mark("alone pageout start 0x%lx len 0x%lx", (unsigned long)buf, (unsigned long)len);
	int ret = madvise(buf, len, MADV_PAGEOUT);
	mark("alone pageout returned %d", ret);
	if (ret)
		die("madvise(MADV_PAGEOUT)");
	return 0;
}
