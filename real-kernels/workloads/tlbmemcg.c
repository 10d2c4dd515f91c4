/* Workload 6: memory-cgroup reclaim in the caller's context. The process joins a memory cgroup
 * of its own, locks everything it has mapped so far (mlockall: its stack, the reader's buffer
 * and stack), then writes an 8-page buffer, the only evictable memory charged to the cgroup,
 * (its written neighbour page is mlocked too) while another thread runs on CPU 1 (another CPU in
 * mm_cpumask, so try_to_unmap_one defers each flush to a batch), with the test module's notifier
 * bound. It then writes the buffer's size in bytes to the cgroup's memory.reclaim:
 * mm/memcontrol.c memory_reclaim calls try_to_free_mem_cgroup_pages (mm/vmscan.c) in this task,
 * which runs shrink_folio_list over the cgroup's LRU. Its marker's range is the buffer, whose
 * length is what was written. real-kernels/scenarios/memcg-reclaim.yaml models it. */
#include "workload.h"
#include <sys/mount.h>
#include <sys/stat.h>

#define CGROOT "/sys/fs/cgroup"
#define CG CGROOT "/shootdown-memcg"

static void put(const char *file, const char *text)
{
	int fd = open(file, O_WRONLY);
	if (fd < 0)
		die(file);
	if (write(fd, text, strlen(text)) != (ssize_t)strlen(text))
		die(file);
	close(fd);
}

int main(void)
{
	struct reader r = {0};
	size_t len = 8 * PAGE;
	char pid[32];

	prog = "tlbmemcg";
	pin(0);
	if (access(CGROOT "/cgroup.controllers", F_OK) && mount("cgroup2", CGROOT, "cgroup2", 0, NULL))
		die("mount cgroup2 on " CGROOT);
	put(CGROOT "/cgroup.subtree_control", "+memory");
	if (mkdir(CG, 0755) && errno != EEXIST)
		die("mkdir " CG);
	reader_start(&r);
	bind_stlb();
	if (mlockall(MCL_CURRENT))
		die("mlockall");
	snprintf(pid, sizeof pid, "%d", getpid());
	put(CG "/cgroup.procs", pid);

	char *buf = map_anon(BUF_AT, len);
	char *neighbour = map_anon(BUF_AT + len, PAGE);
	touch(buf, len);
	touch(neighbour, PAGE);
	if (mlock(neighbour, PAGE))
		die("mlock");
	usleep(200000);

	char bytes[32];
	int n = snprintf(bytes, sizeof bytes, "%lu", (unsigned long)len);
	int fd = open(CG "/memory.reclaim", O_WRONLY);
	if (fd < 0)
		die("open " CG "/memory.reclaim");
	mark("memory_reclaim start 0x%lx len 0x%lx", (unsigned long)buf, (unsigned long)len);
	int ret = write(fd, bytes, n) == n ? 0 : -errno;
	mark("memory_reclaim returned %d", ret);
	close(fd);
	if (ret)
		die("write memory.reclaim");

	usleep(50000);
	reader_stop(&r);
	return 0;
}
