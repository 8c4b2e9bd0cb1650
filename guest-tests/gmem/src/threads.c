// SPDX-License-Identifier: GPL-2.0
/* Concurrent CPU and device faults on one peer-shared mapping. */
#include "gmem_util.h"
#include <pthread.h>

#define NT 4
#define NPG 1024

static char *g_p;
static int g_fd;
static pthread_barrier_t bar;
static volatile int errs;

static void *cpu_interleaved(void *a)
{
	long id = (long)a;
	int i;

	pthread_barrier_wait(&bar);
	for (i = id; i < NPG; i += NT)
		*(uint32_t *)(g_p + i * PS) = 0xc0de0000 | i;
	return NULL;
}

static void t_cpu_interleaved(struct kt *t)
{
	pthread_t th[NT];
	long i, rss;

	g_fd = dev_attach(t);
	g_p = ps_map_or_die(t, NPG * PS, 0);
	pthread_barrier_init(&bar, NULL, NT);
	for (i = 0; i < NT; i++)
		pthread_create(&th[i], NULL, cpu_interleaved, (void *)i);
	for (i = 0; i < NT; i++)
		pthread_join(th[i], NULL);
	for (i = 0; i < NPG; i++)
		if (*(uint32_t *)(g_p + i * PS) != (0xc0de0000 | i)) {
			kt_fail(t, "page %ld: %#x", i, *(uint32_t *)(g_p + i * PS));
			break;
		}
	rss = smaps_query(0, g_p, "Rss", NULL, 0);
	KT_EXPECT(t, rss == NPG * 4, "Rss %ld kB after %d threads touched %d pages, expected %d kB",
		  rss, NT, NPG, NPG * 4);
}

/* all threads fault the same pages at the same time */
static void *cpu_same(void *a)
{
	int i;

	(void)a;
	pthread_barrier_wait(&bar);
	for (i = 0; i < NPG; i++)
		__atomic_fetch_add((uint32_t *)(g_p + i * PS + 64), 1, __ATOMIC_RELAXED);
	return NULL;
}

static void t_cpu_same_pages(struct kt *t)
{
	pthread_t th[NT];
	long i, rss;
	int bad = 0;

	g_fd = dev_attach(t);
	g_p = ps_map_or_die(t, NPG * PS, 0);
	pthread_barrier_init(&bar, NULL, NT);
	for (i = 0; i < NT; i++)
		pthread_create(&th[i], NULL, cpu_same, NULL);
	for (i = 0; i < NT; i++)
		pthread_join(th[i], NULL);
	for (i = 0; i < NPG; i++)
		if (*(uint32_t *)(g_p + i * PS + 64) != NT) {
			if (bad++ < 3)
				kt_fail(t, "page %ld counter %u, expected %d (an increment was lost: two pages "
					"faulted for one address?)", i, *(uint32_t *)(g_p + i * PS + 64), NT);
		}
	KT_EXPECT(t, bad == 0, "%d of %d pages lost increments", bad, NPG);
	rss = smaps_query(0, g_p, "Rss", NULL, 0);
	KT_EXPECT(t, rss == NPG * 4, "Rss %ld kB, expected %d kB", rss, NPG * 4);
}

/* device faults (ioctl) on some pages while CPU threads touch others */
static void *dev_worker(void *a)
{
	long id = (long)a;
	char b[64];
	int i;

	pthread_barrier_wait(&bar);
	for (i = id; i < NPG; i += NT) {
		if (i % 2)
			continue;
		memset(b, (int)(i & 0x7f) | 1, sizeof(b));
		if (dev_write(g_fd, g_p + i * PS, b, sizeof(b)))
			__atomic_fetch_add(&errs, 1, __ATOMIC_RELAXED);
	}
	return NULL;
}

static void *cpu_odd(void *a)
{
	long id = (long)a;
	int i;

	pthread_barrier_wait(&bar);
	for (i = id; i < NPG; i += NT)
		if (i % 2)
			memset(g_p + i * PS, (int)(i & 0x7f) | 1, 64);
	return NULL;
}

static void t_cpu_and_device(struct kt *t)
{
	pthread_t th[2 * NT];
	long i;
	int bad = 0;
	char b[64];

	g_fd = dev_attach(t);
	g_p = ps_map_or_die(t, NPG * PS, 0);
	errs = 0;
	pthread_barrier_init(&bar, NULL, 2 * NT);
	for (i = 0; i < NT; i++) {
		pthread_create(&th[i], NULL, dev_worker, (void *)i);
		pthread_create(&th[NT + i], NULL, cpu_odd, (void *)i);
	}
	for (i = 0; i < 2 * NT; i++)
		pthread_join(th[i], NULL);
	KT_EXPECT(t, errs == 0, "%d device writes failed", errs);
	/* device view of the device-written pages */
	for (i = 0; i < NPG; i += 2) {
		memset(b, 0, sizeof(b));
		if (dev_read(g_fd, g_p + i * PS, b, sizeof(b)) || b[0] != ((int)(i & 0x7f) | 1)) {
			if (bad++ < 3)
				kt_fail(t, "device page %ld reads %#x, expected %#x", i, b[0], (int)(i & 0x7f) | 1);
		}
	}
	/* CPU view of every page */
	for (i = 0; i < NPG; i++)
		if (g_p[i * PS] != ((int)(i & 0x7f) | 1)) {
			if (bad++ < 6)
				kt_fail(t, "CPU reads %#x on page %ld (%s-written), expected %#x", g_p[i * PS], i,
					i % 2 ? "CPU" : "device", (int)(i & 0x7f) | 1);
		}
	KT_EXPECT(t, bad == 0, "%d mismatches", bad);
	diag_stats(t, g_fd);
}

/* several threads device-faulting the same pages concurrently */
static void *dev_same(void *a)
{
	(void)a;
	pthread_barrier_wait(&bar);
	if (dev_fault(g_fd, g_p, 256, NULL))
		__atomic_fetch_add(&errs, 1, __ATOMIC_RELAXED);
	return NULL;
}

static void t_device_same_pages(struct kt *t)
{
	pthread_t th[NT];
	struct gmem_test_stats s;
	long i;

	g_fd = dev_attach(t);
	g_p = ps_map_or_die(t, NPG * PS, 0);
	errs = 0;
	pthread_barrier_init(&bar, NULL, NT);
	for (i = 0; i < NT; i++)
		pthread_create(&th[i], NULL, dev_same, NULL);
	for (i = 0; i < NT; i++)
		pthread_join(th[i], NULL);
	s = dev_stats(g_fd);
	KT_EXPECT(t, errs == 0, "%d threads saw a failing device fault", errs);
	KT_EXPECT(t, s.dev_pages == 256, "device holds %llu pages, expected 256", (unsigned long long)s.dev_pages);
	diag_stats(t, g_fd);
}

static const struct kt_case cases[] = {
	KT_CASE_B(t_cpu_interleaved, 120, "do_anonymous_page"),
	KT_CASE_B(t_cpu_same_pages, 120, "do_anonymous_page"),
	KT_CASE_B(t_device_same_pages, 120, "gm_dev_fault"),
	KT_CASE_T(t_cpu_and_device, 120),
	{}
};

int main(void)
{
	return kt_main("threads", cases, prereq_dev);
}
