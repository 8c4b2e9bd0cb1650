// SPDX-License-Identifier: GPL-2.0
/* Large (>= 1 GiB virtual) peer-shared mappings, touched sparsely. */
#include "gmem_util.h"

#define GB (1UL << 30)
#define STRIDE (16UL << 20)

static void t_map_1g_sparse_cpu(struct kt *t)
{
	int fd = dev_attach(t);
	char *p = ps_mmap(NULL, GB, 0);
	unsigned long off;
	long rss;
	int n = 0;

	KT_ASSERT(t, p != MAP_FAILED, "mmap 1 GiB MAP_PEER_SHARED: %s", strerror(errno));
	madvise(p, GB, MADV_NOHUGEPAGE);
	KT_EXPECT(t, vma_has_flag(0, p, "ps") == 1, "no 'ps'");
	for (off = 0; off < GB; off += STRIDE, n++)
		*(unsigned long *)(p + off) = off ^ 0x5a5a;
	for (off = 0; off < GB; off += STRIDE)
		if (*(unsigned long *)(p + off) != (off ^ 0x5a5a)) {
			kt_fail(t, "offset %#lx: %#lx", off, *(unsigned long *)(p + off));
			break;
		}
	rss = smaps_query(0, p, "Rss", NULL, 0);
	KT_EXPECT(t, rss == n * 4, "Rss %ld kB after touching %d pages", rss, n);
	(void)fd;
}

static void t_map_1g_sparse_device(struct kt *t)
{
	int fd = dev_attach(t);
	char *p = ps_mmap(NULL, GB, 0);
	unsigned long off, v;
	struct gmem_test_stats s;
	int r, n = 0, bad = 0;

	KT_ASSERT(t, p != MAP_FAILED, "mmap 1 GiB MAP_PEER_SHARED: %s", strerror(errno));
	madvise(p, GB, MADV_NOHUGEPAGE);
	for (off = PS; off < GB; off += STRIDE, n++) {
		v = off ^ 0xdddd;
		r = dev_write(fd, p + off, &v, sizeof(v));
		if (r) {
			kt_fail(t, "device write at +%#lx: %s", off, strerror(-r));
			break;
		}
	}
	s = dev_stats(fd);
	KT_EXPECT(t, s.dev_pages == (uint64_t)n, "device holds %llu pages for %d written",
		  (unsigned long long)s.dev_pages, n);
	for (off = PS; off < GB; off += STRIDE)
		if (*(unsigned long *)(p + off) != (off ^ 0xdddd) && bad++ < 3)
			kt_fail(t, "CPU read at +%#lx: %#lx, expected %#lx", off,
				*(unsigned long *)(p + off), off ^ 0xdddd);
	KT_EXPECT(t, bad == 0, "%d of %d device-written pages wrong on the CPU", bad, n);
	diag_stats(t, fd);
}

static void t_map_4g_noreserve(struct kt *t)
{
	int fd = dev_attach(t);
	char *p = ps_mmap(NULL, 4 * GB, MAP_NORESERVE);
	unsigned long off;

	KT_ASSERT(t, p != MAP_FAILED, "mmap 4 GiB MAP_PEER_SHARED|MAP_NORESERVE: %s", strerror(errno));
	madvise(p, 4 * GB, MADV_NOHUGEPAGE);
	for (off = 0; off < 4 * GB; off += 256UL << 20)
		p[off + 123] = (char)(off >> 28) | 1;
	for (off = 0; off < 4 * GB; off += 256UL << 20)
		KT_EXPECT(t, p[off + 123] == ((char)(off >> 28) | 1), "offset %#lx", off);
	(void)fd;
}

/* a process with a large, sparsely touched mapping exits promptly */
static int child_big(void *a)
{
	struct kt tt = { 0 };
	int fd = dev_attach(&tt);
	char *p = ps_mmap(NULL, 2 * GB, MAP_NORESERVE);
	unsigned long off;

	(void)a;
	if (p == MAP_FAILED)
		return 2;
	madvise(p, 2 * GB, MADV_NOHUGEPAGE);
	for (off = 0; off < 2 * GB; off += STRIDE)
		p[off] = 1;
	(void)fd;
	return 0;
}

static void t_teardown(struct kt *t)
{
	struct timespec a, b;
	int rc;

	clock_gettime(CLOCK_MONOTONIC, &a);
	rc = run_child(t, "2 GiB child", 120, child_big, NULL);
	clock_gettime(CLOCK_MONOTONIC, &b);
	KT_EXPECT(t, rc == 0, "child failed (code %d)", rc);
	kt_diag(t, "child with a 2 GiB peer-shared mapping ran and exited in %ld ms",
		(b.tv_sec - a.tv_sec) * 1000 + (b.tv_nsec - a.tv_nsec) / 1000000);
}

static const struct kt_case cases[] = {
	KT_CASE_T(t_map_1g_sparse_cpu, 120),
	KT_CASE_B(t_map_1g_sparse_device, 120, "gm_dev_fault"),
	KT_CASE_T(t_map_4g_noreserve, 120),
	KT_CASE_T(t_teardown, 180),
	{}
};

int main(void)
{
	return kt_main("large", cases, prereq_dev);
}
