// SPDX-License-Identifier: GPL-2.0
/* Device faults through gm_dev_fault() via the fake peer device. */
#include "gmem_util.h"

static void t_fault_nomap(struct kt *t)
{
	int fd = dev_attach(t);
	char *p = ps_map_or_die(t, 16 * PS, 0);
	struct gmem_test_stats s0 = dev_stats(fd), s1;
	char buf[PS];
	int r, gr;

	r = dev_fault(fd, p + 3 * PS, 1, &gr);
	KT_ASSERT(t, r == 0, "gm_dev_fault on an untouched peer-shared page: ioctl %d gm_ret %d", r, gr);
	s1 = dev_stats(fd);
	KT_EXPECT(t, s1.peer_map == s0.peer_map + 1, "peer_map calls %llu, expected 1",
		  (unsigned long long)(s1.peer_map - s0.peer_map));
	KT_EXPECT(t, s1.peer_map_copy == s0.peer_map_copy, "peer_map asked to copy for a never-touched page");
	KT_EXPECT(t, dev_present(fd, p + 3 * PS, 1, NULL) == 1, "page not in device memory after fault");
	r = dev_rw(fd, 0, p + 3 * PS, buf, PS, GMEM_TEST_RW_NOFAULT, NULL);
	KT_EXPECT(t, r == 0 && check_zero(buf, PS) < 0, "device copy of a new page not zero (r=%d)", r);
	kt_diag(t, "peer_map va %#llx size %#llx (device page size %#lx)",
		(unsigned long long)s1.last_map_va, (unsigned long long)s1.last_map_size, PS);
}

static void t_fault_twice(struct kt *t)
{
	int fd = dev_attach(t);
	char *p = ps_map_or_die(t, 16 * PS, 0);
	struct gmem_test_stats s;
	int r1, r2;

	r1 = dev_fault(fd, p, 4, NULL);
	r2 = dev_fault(fd, p, 4, NULL);
	KT_EXPECT(t, r1 == 0 && r2 == 0, "faults: %d %d", r1, r2);
	s = dev_stats(fd);
	KT_EXPECT(t, s.dev_pages == 4, "device holds %llu pages after faulting 4 pages twice",
		  (unsigned long long)s.dev_pages);
	KT_EXPECT(t, dev_present(fd, p, 16, NULL) == 4, "present pages %ld, expected 4",
		  dev_present(fd, p, 16, NULL));
}

/* gm_dev_fault() on an address with no VMA must fail */
static void t_fault_unmapped_gap(struct kt *t)
{
	int fd = dev_attach(t);
	char *p = ps_map_aligned(t, 8 * PS, 0);
	char *hole = p + 8 * PS, *q;
	int r, gr = 0;

	/* a second VMA above a hole, without munmap */
	q = ps_mmap(p + 16 * PS, 8 * PS, MAP_FIXED_NOREPLACE);
	KT_ASSERT(t, q == p + 16 * PS, "second mapping: %s", strerror(errno));
	KT_ASSERT(t, vmas_in_range((unsigned long)hole, (unsigned long)hole + 8 * PS) == 0, "hole not free");
	r = dev_fault(fd, hole, 1, &gr);
	KT_EXPECT(t, r != 0, "gm_dev_fault at %p (no VMA there, next VMA above) succeeded; "
		  "device now maps a VA the process never mapped", hole);
	kt_diag(t, "fault in the gap: ioctl %d gm_ret %d, device pages present %ld", r, gr,
		dev_present(fd, hole, 1, NULL));
}

/* above every VMA (find_vma() == NULL) */
static void t_fault_beyond_top(struct kt *t)
{
	int fd = dev_attach(t);
	int r, gr = 0;

	ps_map_or_die(t, 4 * PS, 0);
	r = dev_fault(fd, (void *)0x7ffffffff000UL, 1, &gr);
	KT_EXPECT(t, r != 0, "gm_dev_fault above the highest VMA succeeded");
}

/*
 * Device fault on a plain (not peer-shared) anonymous VMA: GMEM only tracks
 * peer-shared VMAs, so it must refuse, or at least give the device the
 * CPU's data.
 */
static void t_fault_non_peer_shared(struct kt *t)
{
	int fd = dev_attach(t);
	char *p = mmap(NULL, 4 * PS, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	char buf[PS];
	int r;
	long bad;

	ps_map_or_die(t, 4 * PS, 0);	/* creates mm->vm_obj */
	KT_ASSERT(t, p != MAP_FAILED, "mmap");
	fill(p, PS, 42);
	r = dev_read(fd, p, buf, PS);
	if (r) {
		kt_diag(t, "device access to a non-peer-shared VMA refused: %s", strerror(-r));
		return;
	}
	bad = check(buf, PS, 42);
	KT_EXPECT(t, bad < 0, "device fault on a non-peer-shared VMA was accepted and the device read "
		  "%#x at word %ld where the CPU wrote %#x", ((uint32_t *)buf)[bad < 0 ? 0 : bad], bad,
		  expect_word(42, bad < 0 ? 0 : bad));
	/* and the CPU copy must still be intact */
	KT_EXPECT(t, check(p, PS, 42) < 0, "CPU copy of the non-peer-shared page changed");
}

/* device write to never-touched pages then device read back */
static void t_dev_write_read(struct kt *t)
{
	int fd = dev_attach(t);
	char *p = ps_map_or_die(t, 32 * PS, 0);
	static char in[8 * PS], out[8 * PS];
	int r;

	fill(in, sizeof(in), 77);
	r = dev_write(fd, p + PS + 100, in, sizeof(in) - 200);
	KT_ASSERT(t, r == 0, "device write: %s", strerror(-r));
	r = dev_read(fd, p + PS + 100, out, sizeof(in) - 200);
	KT_ASSERT(t, r == 0, "device read: %s", strerror(-r));
	KT_EXPECT(t, !memcmp(in, out, sizeof(in) - 200), "device read-back differs");
	diag_stats(t, fd);
}

/* range fault over a whole VMA, then each page is in device memory */
static void t_fault_range(struct kt *t)
{
	int fd = dev_attach(t);
	char *p = ps_map_or_die(t, 128 * PS, 0);
	int r, gr = 0;
	long n;

	r = dev_fault(fd, p, 128, &gr);
	KT_EXPECT(t, r == 0, "range fault: %d gm_ret %d", r, gr);
	n = dev_present(fd, p, 128, NULL);
	KT_EXPECT(t, n == 128, "%ld of 128 pages in device memory", n);
	n = dev_present(fd, p + 128 * PS, 512, NULL);
	KT_EXPECT(t, n == 0, "%ld device pages beyond the end of the VMA", n);
}

static const struct kt_case cases[] = {
	KT_CASE_B(t_fault_nomap, 0, "gm_dev_fault"),
	KT_CASE_B(t_fault_twice, 0, "gm_dev_fault"),
	KT_CASE_B(t_fault_range, 0, "gm_dev_fault"),
	KT_CASE_B(t_dev_write_read, 0, "gm_dev_fault"),
	KT_CASE_B(t_fault_unmapped_gap, 0, "gm_dev_fault"),
	KT_CASE_B(t_fault_beyond_top, 0, "gm_dev_fault"),
	KT_CASE_B(t_fault_non_peer_shared, 0, "gm_dev_fault"),
	{}
};

int main(void)
{
	return kt_main("dev_fault", cases, prereq_dev);
}
