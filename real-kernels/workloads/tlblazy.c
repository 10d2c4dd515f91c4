/* Workload 3 (no notifier): lazy CPUs. A 16-page VMA alone in its own 1 GiB-aligned region
 * (so unmapping it frees its page tables) is read by a thread on CPU 1 that then exits: CPU 1
 * goes idle, lazy on the mm. CPU 0 unmaps it. Then the same with a VMA that shares its page
 * table with a neighbour (no page table freed). */
#include "workload.h"

#define LAZY_AT ((void *)0x500000000000UL)      /* 1 GiB-aligned, nothing else within 1 GiB */
#define SHARED_AT ((void *)0x600000000000UL)

struct once {
	char *buf;
	size_t len;
	unsigned long sum;
};

static void *read_once(void *arg)
{
	struct once *o = arg;
	pin(1);
	o->sum = read_all(o->buf, o->len);
	return NULL;
}

/* Reads buf from a thread on CPU 1, which then exits; CPU 1 is left idle (lazy on the mm). */
static void read_on_cpu1(char *buf, size_t len)
{
	struct once o = { buf, len, 0 };
	pthread_t t;
	if ((errno = pthread_create(&t, NULL, read_once, &o)))
		die("pthread_create");
	if ((errno = pthread_join(t, NULL)))
		die("pthread_join");
	usleep(100000);
}

int main(void)
{
	size_t len = 16 * PAGE;

	prog = "tlblazy";
	pin(0);

	char *lazy = map_anon(LAZY_AT, len);
	touch(lazy, len);
	read_on_cpu1(lazy, len);
	mark("lazy munmap start 0x%lx len 0x%lx", (unsigned long)lazy, (unsigned long)len);
	if (munmap(lazy, len))
		die("munmap");
	mark("lazy munmap returned");

	/* The neighbour: one page in the same page table (the same 2 MiB), one page apart so
	 * that the two VMAs do not merge. */
	char *shared = map_anon(SHARED_AT, len);
	char *neighbour = map_anon(SHARED_AT + len + PAGE, PAGE);
	touch(shared, len);
	touch(neighbour, PAGE);
	read_on_cpu1(shared, len);
	mark("shared-pt munmap start");
	if (munmap(shared, len))
		die("munmap");
	mark("shared-pt munmap returned");
	return 0;
}
