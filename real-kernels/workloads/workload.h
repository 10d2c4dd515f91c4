/* What the workloads share: trace markers, CPU pinning, a reader thread that keeps an mm
 * loaded on another CPU, and the test module's notifier. Built with gcc -static -O2 -pthread.
 * Every failure exits 1 with one line on stderr, which the init script reports. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#ifndef MADV_PAGEOUT
#define MADV_PAGEOUT 21
#endif
#ifndef MAP_FIXED_NOREPLACE
#define MAP_FIXED_NOREPLACE 0x100000
#endif

#define PAGE 4096UL

static const char *prog = "workload";

static inline void die(const char *what)
{
	fprintf(stderr, "%s: %s: %s\n", prog, what, strerror(errno));
	exit(1);
}

/* docs/real-kernels.md, "A workload marks its calls like this". */
static int marker = -1;
static inline void mark(const char *fmt, ...)
{
	char line[128];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	if (n < 0)
		die("vsnprintf");
	if ((size_t)n >= sizeof line)
		n = sizeof line - 1; /* vsnprintf returns the untruncated length: write what the buffer holds */
	if (marker < 0)
		marker = open("/sys/kernel/tracing/trace_marker", O_WRONLY);
	if (marker < 0)
		die("open /sys/kernel/tracing/trace_marker");
	if (write(marker, line, n) != n)
		die("write trace_marker");
}

static inline void pin(int cpu)
{
	cpu_set_t set;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	if (sched_setaffinity(0, sizeof set, &set))
		die("sched_setaffinity");
}

static inline void *map_anon(void *at, size_t len)
{
	int flags = MAP_PRIVATE | MAP_ANONYMOUS | (at ? MAP_FIXED_NOREPLACE : 0);
	void *p = mmap(at, len, PROT_READ | PROT_WRITE, flags, -1, 0);
	if (p == MAP_FAILED)
		die("mmap");
	if (at && p != at) {
		errno = EEXIST;
		die("mmap at a fixed address");
	}
	return p;
}

static inline void touch(void *p, size_t len)
{
	for (size_t off = 0; off < len; off += PAGE)
		((volatile char *)p)[off] = (char)(off / PAGE + 1);
}

static inline unsigned long read_all(const void *p, size_t len)
{
	unsigned long sum = 0;
	for (size_t off = 0; off < len; off += PAGE)
		sum += ((const volatile char *)p)[off];
	return sum;
}

/* Registers the test module's notifier on this process's mm (a secondary TLB). The file stays
 * open until exit. */
static inline void bind_stlb(void)
{
	if (open("/proc/stlb", O_RDONLY) < 0)
		die("open /proc/stlb");
}

/* A thread on CPU 1 that keeps reading a buffer of its own until told to stop, so the mm
 * stays loaded (not lazy) on CPU 1 while CPU 0 changes the mappings. */
struct reader {
	pthread_t thread;
	volatile int started, stop;
	char *buf;
	size_t len;
	unsigned long sum;
};

static void *reader_loop(void *arg)
{
	struct reader *r = arg;
	pin(1);
	r->started = 1;
	while (!r->stop)
		r->sum += read_all(r->buf, r->len);
	return NULL;
}

static inline void reader_start(struct reader *r)
{
	r->len = 4 * PAGE;
	r->buf = map_anon(NULL, r->len);
	touch(r->buf, r->len);
	if ((errno = pthread_create(&r->thread, NULL, reader_loop, r)))
		die("pthread_create");
	while (!r->started)
		sched_yield();
}

static inline void reader_stop(struct reader *r)
{
	r->stop = 1;
	if ((errno = pthread_join(r->thread, NULL)))
		die("pthread_join");
}

/* Where two_threads_bound maps its buffer: the address the model's scenarios use. */
#define BUF_AT ((char *)0x7f0000000000UL)

/*
 * What tlbprobe, tlbprotect and tlbreclaim do before their call: this thread on CPU 0, a reader
 * on CPU 1 (the mm stays loaded there), the test module's notifier bound, len bytes mapped at
 * BUF_AT and written, with a written page right after them, then a pause while the reader runs.
 * The neighbour keeps the buffer's page table in use, so unmapping the buffer frees none
 * whatever the address-space layout (a buffer alone in its 2 MiB would have its page table freed,
 * and the mmu_gather's range grown to it): real-kernels/scenarios/ has the same layout.
 */
static inline char *two_threads_bound(const char *name, struct reader *r, size_t len)
{
	prog = name;
	pin(0);
	reader_start(r);
	bind_stlb();
	char *buf = map_anon(BUF_AT, len);
	char *neighbour = map_anon(BUF_AT + len, PAGE);
	touch(buf, len);
	touch(neighbour, PAGE);
	usleep(200000);
	return buf;
}

/*
 * tlbalone and tlbstraddle: this process pins itself to CPU 0 and executes itself again
 * (argv[1] "pinned" the second time), so that exec makes its mm on CPU 0 and it is never loaded
 * on another CPU; binds the test module's notifier; writes 8 pages mapped at `at` (NULL: where
 * mmap puts them) and calls madvise(MADV_PAGEOUT) on them between "WHAT start 0x... len 0x..."
 * and "WHAT returned RC".
 */
static inline int alone_pageout(const char *name, const char *what, void *at, int argc, char **argv)
{
	size_t len = 8 * PAGE;

	prog = name;
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
	char *buf = map_anon(at, len);
	touch(buf, len);
	usleep(200000);

	mark("%s start 0x%lx len 0x%lx", what, (unsigned long)buf, (unsigned long)len);
	int ret = madvise(buf, len, MADV_PAGEOUT);
	mark("%s returned %d", what, ret);
	if (ret)
		die("madvise(MADV_PAGEOUT)");
	return 0;
}
