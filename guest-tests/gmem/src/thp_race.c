// SPDX-License-Identifier: GPL-2.0
/*
 * THP fault error paths of RFC 6/6 (mm/huge_memory.c): a PMD fault on a
 * peer-shared VMA takes the 2 MiB extent's gm_mapping mutex and re-checks
 * pmd_none() under it.  It finds the PMD populated when another fault on the
 * same extent won the race while it slept on the mutex.  Two threads fault the
 * same THP-sized ranges at once to get there; a device fault and a CPU fault
 * on one extent race the same way.
 *
 * The guests have ONE vCPU (virtme-min has no ACPI, so QEMU's extra CPUs never
 * come up): "at once" means the threads interleave by preemption only.  The
 * fault that zeroes 2 MiB (folio_zero_user(), cond_resched() per subpage)
 * gives the scheduler a chance to run the other thread mid-fault; with
 * CONFIG_PREEMPT (debug.config) any preemptible point does.  Each subtest
 * reports how many involuntary context switches its threads saw, as evidence
 * that they did interleave.
 */
#include "gmem_util.h"
#include <pthread.h>
#include <sys/resource.h>

#define NX 4		/* 2 MiB extents per round */
#define ROUNDS 16	/* each round maps a fresh region: no munmap while attached */

static char *g_p;
static int g_fd;
static pthread_barrier_t bar;
static long g_nivcsw[2];

static long my_nivcsw(void)
{
	struct rusage ru;

	return getrusage(RUSAGE_THREAD, &ru) ? 0 : ru.ru_nivcsw;
}

/* both threads write their own word at the start of every extent, same order */
static void *writer(void *arg)
{
	long id = (long)arg, n0 = my_nivcsw();
	int i;

	pthread_barrier_wait(&bar);
	for (i = 0; i < NX; i++)
		((volatile uint32_t *)(g_p + i * HPS))[id * 16] = 0x7ead0000 | (id << 8) | i;
	g_nivcsw[id] += my_nivcsw() - n0;
	return NULL;
}

static int run_pair(void *(*a)(void *), void *(*b)(void *))
{
	pthread_t th[2];

	pthread_barrier_init(&bar, NULL, 2);
	pthread_create(&th[0], NULL, a, (void *)0L);
	pthread_create(&th[1], NULL, b, (void *)1L);
	pthread_join(th[0], NULL);
	pthread_join(th[1], NULL);
	pthread_barrier_destroy(&bar);
	return 0;
}

/* each extent: both words present, the rest zero */
static int check_extent(struct kt *t, char *x, int i, int round)
{
	uint32_t *w = (uint32_t *)x;
	long bad;
	int id;

	for (id = 0; id < 2; id++) {
		if (w[id * 16] != (0x7ead0000u | (id << 8) | i)) {
			kt_fail(t, "round %d extent %d: thread %d's word is %#x", round, i, id,
				w[id * 16]);
			return -1;
		}
		w[id * 16] = 0;
	}
	bad = check_zero(x, HPS);
	if (bad >= 0) {
		kt_fail(t, "round %d extent %d: not zero at offset %#lx (a stale folio?)", round, i,
			bad * 8);
		return -1;
	}
	return 0;
}

static void t_two_threads_same_extents(struct kt *t)
{
	long thp = 0;
	int round, i;

	g_fd = dev_attach(t);
	for (round = 0; round < ROUNDS && t->status != KT_FAIL; round++) {
		g_p = ps_map_aligned(t, NX * HPS, 0);
		madvise(g_p, NX * HPS, MADV_HUGEPAGE);
		run_pair(writer, writer);
		thp += smaps_query(0, g_p, "AnonHugePages", NULL, 0);
		for (i = 0; i < NX; i++)
			if (check_extent(t, g_p + i * HPS, i, round))
				break;
	}
	kt_diag(t, "%d rounds x %d extents; AnonHugePages total %ld kB; involuntary context"
		" switches: thread 0 %ld, thread 1 %ld", round, NX, thp, g_nivcsw[0], g_nivcsw[1]);
	KT_EXPECT(t, thp > 0, "no extent was THP-backed: the PMD fault path never ran");
}

/* one thread faults the extents on the device, the other on the CPU */
static void *device_faulter(void *arg)
{
	long id = (long)arg, n0 = my_nivcsw();
	int i;

	pthread_barrier_wait(&bar);
	for (i = 0; i < NX; i++)
		dev_fault(g_fd, g_p + i * HPS + PS, 1, NULL);
	g_nivcsw[id] += my_nivcsw() - n0;
	return NULL;
}

static void *cpu_writer(void *arg)
{
	long id = (long)arg, n0 = my_nivcsw();
	int i;

	pthread_barrier_wait(&bar);
	for (i = 0; i < NX; i++)
		((volatile uint32_t *)(g_p + i * HPS))[0] = 0xc0de0000 | i;
	g_nivcsw[id] += my_nivcsw() - n0;
	return NULL;
}

static void t_cpu_and_device_same_extents(struct kt *t)
{
	int round, i;
	long bad;

	g_fd = dev_attach(t);
	g_nivcsw[0] = g_nivcsw[1] = 0;
	for (round = 0; round < ROUNDS && t->status != KT_FAIL; round++) {
		g_p = ps_map_aligned(t, NX * HPS, 0);
		madvise(g_p, NX * HPS, MADV_HUGEPAGE);
		run_pair(cpu_writer, device_faulter);
		for (i = 0; i < NX; i++) {
			uint32_t *w = (uint32_t *)(g_p + i * HPS);

			if (w[0] != (0xc0de0000u | i)) {
				kt_fail(t, "round %d extent %d: CPU write lost (%#x)", round, i, w[0]);
				break;
			}
			w[0] = 0;
			bad = check_zero(g_p + i * HPS, HPS);
			if (bad >= 0) {
				kt_fail(t, "round %d extent %d: not zero at offset %#lx", round, i,
					bad * 8);
				break;
			}
		}
	}
	kt_diag(t, "%d rounds; involuntary context switches: CPU thread %ld, device thread %ld",
		round, g_nivcsw[0], g_nivcsw[1]);
	diag_stats(t, g_fd);
}

/*
 * The device writes an inner page of an untouched 2 MiB extent; the CPU then
 * takes a PMD fault on the extent's head.  The THP fault asks GMEM about the
 * head's gm_mapping only: the inner page's device copy must still reach the
 * CPU, not be shadowed by a zero-filled huge page.
 */
static void t_thp_fault_over_inner_device_page(struct kt *t)
{
	int fd = dev_attach(t), r;
	char *p = ps_map_aligned(t, 2 * HPS, 0);
	static char b[PS];
	long bad;

	madvise(p, 2 * HPS, MADV_HUGEPAGE);
	fill(b, PS, 77);
	r = dev_write(fd, p + 5 * PS, b, PS);
	KT_ASSERT(t, r == 0, "device write of page 5: %s", strerror(-r));
	p[0] = 1;	/* PMD fault on the head */
	kt_diag(t, "AnonHugePages %ld kB after the head fault",
		smaps_query(0, p, "AnonHugePages", NULL, 0));
	bad = check(p + 5 * PS, PS, 77);
	KT_EXPECT(t, bad < 0, "page 5 reads word %ld as %#x, the device wrote %#x: the huge page"
		  " fault mapped over a page that lives in device memory", bad,
		  ((uint32_t *)(p + 5 * PS))[bad < 0 ? 0 : bad], expect_word(77, bad));
	diag_stats(t, fd);
}

static const struct kt_case cases[] = {
	KT_CASE_B(t_two_threads_same_extents, 90, "do_huge_pmd_anonymous_page"),
	KT_CASE_B(t_cpu_and_device_same_extents, 90, "do_huge_pmd_anonymous_page"),
	KT_CASE_B(t_thp_fault_over_inner_device_page, 0, "do_huge_pmd_anonymous_page"),
	{}
};

int main(void)
{
	return kt_main("thp_race", cases, prereq_dev);
}
