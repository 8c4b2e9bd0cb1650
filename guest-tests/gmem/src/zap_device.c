// SPDX-License-Identifier: GPL-2.0
/*
 * Device-resident pages under CPU-side zaps.  On the GMEM RFC these oops
 * inside unmap_gm_mappings_range() with the logical page table's xa_lock
 * held; the dying task then spins on that lock in exit_mmap() and wedges a
 * small guest (RCU stall).  Kept in a workload of their own, run last.
 */
#include "gmem_util.h"

static char buf[64 * 4096];

/* MADV_DONTNEED on a device-resident page: discarded everywhere */
static void t_madv_dontneed_dev(struct kt *t)
{
	int fd = dev_attach(t);
	char *p = ps_map_or_die(t, 16 * PS, 0);
	long b, n;
	int r;

	fill(buf, 2 * PS, 51);
	r = dev_write(fd, p + 2 * PS, buf, 2 * PS);
	KT_ASSERT(t, r == 0, "device write: %s", strerror(-r));
	KT_ASSERT(t, madvise(p, 16 * PS, MADV_DONTNEED) == 0, "madvise: %s", strerror(errno));
	b = check_zero(p + 2 * PS, 2 * PS);
	KT_EXPECT(t, b < 0, "device-written page not discarded by MADV_DONTNEED (qword %ld = %#llx)",
		  b, b < 0 ? 0ULL : (unsigned long long)((uint64_t *)(p + 2 * PS))[b]);
	n = dev_present(fd, p + 2 * PS, 2, NULL);
	r = dev_rw(fd, 0, p + 3 * PS, buf, PS, GMEM_TEST_RW_NOFAULT, NULL);
	KT_EXPECT(t, n == 0 || (r == 0 && check_zero(buf, PS) < 0),
		  "device still holds %ld stale page(s) after MADV_DONTNEED and the CPU took the page", n);
	diag_stats(t, fd);
}

/* random interleaving of CPU and device accesses against a shadow copy */
static void t_random_mix(struct kt *t)
{
	int fd = dev_attach(t);
	enum { N = 64 };
	char *p = ps_map_or_die(t, N * PS, 0);
	static unsigned shadow[N];
	unsigned seed = 12345, fails = 0;
	int i, r;

	for (i = 0; i < N; i++)
		shadow[i] = 0;	/* 0 = zero page */
	for (i = 0; i < 400 && fails < 5; i++) {
		int pg = (seed = seed * 1103515245 + 12345) >> 16 & (N - 1);
		int op = (seed >> 8) & 3;
		unsigned v = 1000 + i;
		char *a = p + pg * PS;
		long b;

		switch (op) {
		case 0:
			fill(a, PS, v);
			shadow[pg] = v;
			break;
		case 1:
			fill(buf, PS, v);
			r = dev_write(fd, a, buf, PS);
			if (r) {
				kt_fail(t, "op %d dev write page %d: %s", i, pg, strerror(-r));
				fails++;
			} else
				shadow[pg] = v;
			break;
		case 2:
			b = shadow[pg] ? check(a, PS, shadow[pg]) : check_zero(a, PS);
			if (b >= 0) {
				kt_fail(t, "op %d: CPU read of page %d wrong at word %ld (got %#x, expected %s %#x)",
					i, pg, b, ((uint32_t *)a)[b], shadow[pg] ? "pattern" : "zero",
					shadow[pg] ? expect_word(shadow[pg], b) : 0);
				fails++;
			}
			break;
		case 3:
			r = dev_read(fd, a, buf, PS);
			b = r ? -2 : shadow[pg] ? check(buf, PS, shadow[pg]) : check_zero(buf, PS);
			if (r || b >= 0) {
				kt_fail(t, "op %d: device read of page %d: %s word %ld (got %#x)", i, pg,
					r ? strerror(-r) : "mismatch", b, r ? 0 : ((uint32_t *)buf)[b]);
				fails++;
			}
			break;
		}
	}
	diag_stats(t, fd);
}

static const struct kt_case cases[] = {
	KT_CASE_B(t_madv_dontneed_dev, 0, "unmap_gm_mappings_range"),
	KT_CASE(t_random_mix),
	{}
};

int main(void)
{
	return kt_main("zap_device", cases, prereq_dev);
}
