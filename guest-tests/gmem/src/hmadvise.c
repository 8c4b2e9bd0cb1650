// SPDX-License-Identifier: GPL-2.0
/* hmadvise(hnid, start, len, behavior) (RFC 4/6): valid and invalid calls. */
#include "gmem_util.h"
#include <pthread.h>

#define EXPECT_ERR(t, r, e, what) \
	KT_EXPECT(t, (r) == -1 && errno == (e), "%s: returned %ld errno %d (%s), expected -1/%s", \
		  what, (long)(r), (r) == -1 ? errno : 0, (r) == -1 ? strerror(errno) : "-", #e)

static void t_syscall_exists(struct kt *t)
{
	long r = hmadvise(-1, 0, 0, MADV_DONTNEED);

	KT_EXPECT(t, r == 0, "hmadvise(-1, 0, 0, MADV_DONTNEED) = %ld (%s), expected 0",
		  r, r ? strerror(errno) : "");
}

static void t_invalid_args(struct kt *t)
{
	int fd = dev_attach(t);
	char *p = ps_map_or_die(t, 16 * PS, 0);
	unsigned long a = (unsigned long)p;
	long r;

	r = hmadvise(-1, a, 16 * PS, 12345);
	EXPECT_ERR(t, r, EINVAL, "unknown behavior");
	r = hmadvise(-1, a, 16 * PS, MADV_PREFETCH);
	EXPECT_ERR(t, r, EINVAL, "MADV_PREFETCH without a node");
	r = hmadvise(-1, a, 16 * PS, MADV_WILLNEED);
	EXPECT_ERR(t, r, EINVAL, "MADV_WILLNEED (unsupported)");
	r = hmadvise(-2, a, 16 * PS, MADV_DONTNEED);
	EXPECT_ERR(t, r, EINVAL, "negative node -2");
	r = hmadvise(0, a, 16 * PS, MADV_PREFETCH);
	EXPECT_ERR(t, r, EINVAL, "CPU node 0 is not a heterogeneous node");
	r = hmadvise(1 << 20, a, 16 * PS, MADV_PREFETCH);
	EXPECT_ERR(t, r, EINVAL, "node 1<<20 (beyond MAX_NUMNODES)");
	r = hmadvise(-1, ~0UL - PS + 1, 2 * PS, MADV_DONTNEED);
	EXPECT_ERR(t, r, EINVAL, "start+len overflow");
	(void)fd;
}

/* out-of-range node id far beyond any nodemask (must not read out of bounds) */
static void t_huge_node_id(struct kt *t)
{
	int fd = dev_attach(t);
	char *p = ps_map_or_die(t, 4 * PS, 0);
	long r = hmadvise(0x7fffffff, (unsigned long)p, 4 * PS, MADV_PREFETCH);

	EXPECT_ERR(t, r, EINVAL, "node INT_MAX");
	(void)fd;
}

/* hmadvise(-1, ..., MADV_DONTNEED) on CPU pages: discarded, read back as zero */
static void t_dontneed_cpu(struct kt *t)
{
	int fd = dev_attach(t);
	char *p = ps_map_aligned(t, 2 * HPS, 0);
	long r, b;

	madvise(p, 2 * HPS, MADV_NOHUGEPAGE);
	fill(p, 2 * HPS, 3);
	r = hmadvise(-1, (unsigned long)p, 2 * HPS, MADV_DONTNEED);
	KT_ASSERT(t, r == 0, "hmadvise DONTNEED: %ld %s", r, strerror(errno));
	b = check_zero(p, 2 * HPS);
	KT_EXPECT(t, b < 0, "data survived hmadvise(MADV_DONTNEED): first nonzero at offset %#lx "
		  "(page %ld of %lu)", b * 8, b * 8 / PS, 2 * HPS / PS);
	fill(p, PS, 4);
	KT_EXPECT(t, check(p, PS, 4) < 0, "rewrite after DONTNEED");
	(void)fd;
}

/* DONTNEED of a sub-2MiB range must not silently do nothing */
static void t_dontneed_small_range(struct kt *t)
{
	int fd = dev_attach(t);
	char *p = ps_map_or_die(t, 16 * PS, 0);
	long r, b;

	fill(p, 16 * PS, 6);
	r = hmadvise(-1, (unsigned long)p + 4 * PS, 4 * PS, MADV_DONTNEED);
	if (r) {
		kt_diag(t, "sub-2MiB DONTNEED rejected: %s", strerror(errno));
		return;
	}
	b = check_zero(p + 4 * PS, 4 * PS);
	KT_EXPECT(t, b < 0, "hmadvise(MADV_DONTNEED, 16 KiB) returned 0 but the pages keep their data");
	KT_EXPECT(t, check(p, 4 * PS, 6) < 0 && check(p + 8 * PS, 8 * PS, 6) < 0,
		  "pages outside the range changed");
	(void)fd;
}

/* DONTNEED releases device memory */
static void t_dontneed_device(struct kt *t)
{
	int fd = dev_attach(t);
	char *p = ps_map_aligned(t, 2 * HPS, 0);
	struct gmem_test_stats s;
	long r, n;
	int i;

	madvise(p, 2 * HPS, MADV_NOHUGEPAGE);
	for (i = 0; i < 8; i++)
		KT_ASSERT(t, dev_fault(fd, p + i * 64 * PS, 1, NULL) == 0, "device fault");
	s = dev_stats(fd);
	KT_ASSERT(t, s.dev_pages == 8, "device holds %llu pages", (unsigned long long)s.dev_pages);
	r = hmadvise(-1, (unsigned long)p, 2 * HPS, MADV_DONTNEED);
	KT_ASSERT(t, r == 0, "hmadvise DONTNEED: %s", strerror(errno));
	s = dev_stats(fd);
	n = dev_present(fd, p, 512, NULL);
	KT_EXPECT(t, s.dev_pages == 0, "device still holds %llu of 8 pages after DONTNEED (%ld in the "
		  "first 2 MiB; only 2 MiB-aligned logical pages are looked at?)",
		  (unsigned long long)s.dev_pages, n);
	diag_stats(t, fd);
}

static void t_prefetch(struct kt *t)
{
	int fd = dev_attach(t);
	char *p;
	struct gmem_test_stats s0, s1;
	static char b[PS];
	long r, n;
	int i;

	if (g_hnid < 0)
		kt_skip(t, "fake device has no hNUMA node (gm_dev_register_physmem failed)");
	p = ps_map_aligned(t, 2 * HPS, 0);
	madvise(p, 2 * HPS, MADV_NOHUGEPAGE);
	for (i = 0; i < 8; i++)
		fill(p + i * 128 * PS, PS, 200 + i);
	s0 = dev_stats(fd);
	r = hmadvise(g_hnid, (unsigned long)p, 2 * HPS, MADV_PREFETCH);
	s1 = dev_stats(fd);
	KT_ASSERT(t, r == 0, "hmadvise(%d, MADV_PREFETCH) = %ld (%s)", g_hnid, r, r < 0 ? strerror(errno) : "");
	kt_diag(t, "prefetch: %llu peer_map calls", (unsigned long long)(s1.peer_map - s0.peer_map));
	n = dev_present(fd, p, 1024, NULL);
	KT_EXPECT(t, n == 1024, "after MADV_PREFETCH of 4 MiB, %ld of 1024 pages are in device memory", n);
	for (i = 0; i < 8; i++) {
		r = dev_rw(fd, 0, p + i * 128 * PS, b, PS, GMEM_TEST_RW_NOFAULT, NULL);
		KT_EXPECT(t, r == 0 && check(b, PS, 200 + i) < 0,
			  "page %d not prefetched with the CPU data (r=%ld)", i * 128, r);
	}
}

static void t_prefetch_bad_range(struct kt *t)
{
	int fd = dev_attach(t);
	char *p;
	long r;

	if (g_hnid < 0)
		kt_skip(t, "fake device has no hNUMA node (gm_dev_register_physmem failed)");
	p = ps_map_aligned(t, HPS, 0);
	/* range not covered by any VMA */
	r = hmadvise(g_hnid, (unsigned long)p + 64 * HPS, HPS, MADV_PREFETCH);
	KT_EXPECT(t, r == -1, "MADV_PREFETCH of an unmapped range returned %ld (errno %d), expected -1",
		  r, errno);
	/* plain (non peer-shared) VMA */
	{
		char *q = mmap(NULL, 4 * HPS, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		char *a = (char *)(((unsigned long)q + HPS - 1) & ~(HPS - 1));

		a[0] = 1;
		r = hmadvise(g_hnid, (unsigned long)a, HPS, MADV_PREFETCH);
		KT_EXPECT(t, r == -1, "MADV_PREFETCH of a non-peer-shared VMA returned %ld, expected -1", r);
	}
	(void)fd;
}

/* the node must be usable by the whole process, not only the attaching thread */
#include <pthread.h>
static char *volatile g_addr;

static void *thr_prefetch(void *a)
{
	long r;

	(void)a;
	while (!g_addr)
		kt_sleep_ms(1);
	r = hmadvise(g_hnid, (unsigned long)g_addr, HPS, MADV_PREFETCH);
	return (void *)(long)(r ? (r == -1 ? errno : 1000) : 0);
}

static void t_prefetch_other_thread(struct kt *t)
{
	pthread_t before, after;
	void *r1, *r2;
	char *p;
	int fd;

	pthread_create(&before, NULL, thr_prefetch, NULL);	/* exists before the attach */
	fd = dev_attach(t);
	if (g_hnid < 0) {
		g_addr = (char *)1;
		pthread_join(before, NULL);
		kt_skip(t, "fake device has no hNUMA node (gm_dev_register_physmem failed)");
	}
	pthread_create(&after, NULL, thr_prefetch, NULL);
	p = ps_map_aligned(t, HPS, 0);
	madvise(p, HPS, MADV_NOHUGEPAGE);
	g_addr = p;
	pthread_join(before, &r1);
	pthread_join(after, &r2);
	KT_EXPECT(t, r2 == 0, "thread created after the attach: MADV_PREFETCH failed: %s", strerror((long)r2));
	KT_EXPECT(t, r1 == 0, "thread created before the attach: MADV_PREFETCH failed: %s "
		  "(the attach made the node allowed only for the attaching thread)", strerror((long)r1));
	(void)fd;
}

static const struct kt_case cases[] = {
	KT_CASE_B(t_syscall_exists, 0, "sys_hmadvise"),
	KT_CASE_B(t_invalid_args, 0, "sys_hmadvise"),
	KT_CASE_B(t_huge_node_id, 0, "sys_hmadvise"),
	KT_CASE_B(t_dontneed_cpu, 0, "hmadvise_do_eagerfree"),
	KT_CASE_B(t_dontneed_small_range, 0, "hmadvise_do_eagerfree"),
	KT_CASE_B(t_dontneed_device, 0, "hmadvise_do_eagerfree"),
	KT_CASE_B(t_prefetch, 0, "hmadvise_do_prefetch"),
	KT_CASE_B(t_prefetch_bad_range, 0, "hmadvise_do_prefetch"),
	KT_CASE_B(t_prefetch_other_thread, 0, "hmadvise_do_prefetch"),
	{}
};

int main(void)
{
	return kt_main("hmadvise", cases, prereq_dev);
}
