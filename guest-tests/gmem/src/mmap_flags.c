// SPDX-License-Identifier: GPL-2.0
/* MAP_PEER_SHARED flag validation and combinations. */
#include "gmem_util.h"

/* No device attached: mmap(MAP_PEER_SHARED) must either fail cleanly or give
 * usable memory, and must not leave VMAs behind. */
static void t_no_device(struct kt *t)
{
	int before = count_maps(), i, nfail = 0, err = 0;
	char *p;

	for (i = 0; i < 200; i++) {
		p = ps_mmap(NULL, 64 * PS, 0);
		if (p == MAP_FAILED) {
			nfail++;
			err = errno;
			continue;
		}
		p[0] = 1;
		KT_EXPECT(t, vma_has_flag(0, p, "ps") != 1,
			  "unattached process got a peer-shared VMA (%p) although no device is attached", p);
		munmap(p, 64 * PS);
	}
	kt_diag(t, "unattached mmap(MAP_PEER_SHARED): %d/200 failed%s%s", nfail,
		nfail ? ", errno " : "", nfail ? strerror(err) : "");
	KT_EXPECT(t, nfail == 0 || nfail == 200, "inconsistent result: %d of 200 failed", nfail);
	KT_EXPECT(t, count_maps() == before,
		  "VMA count changed from %d to %d after 200 unattached MAP_PEER_SHARED mmaps",
		  before, count_maps());
	/* the address space must still be usable */
	p = mmap(NULL, 16 * PS, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	KT_ASSERT(t, p != MAP_FAILED, "plain mmap after failures: %s", strerror(errno));
	memset(p, 7, 16 * PS);
	KT_EXPECT(t, munmap(p, 16 * PS) == 0, "munmap: %s", strerror(errno));
}

static void t_attached_basic(struct kt *t)
{
	int fd = dev_attach(t);
	char *p = ps_mmap(NULL, 256 * PS, 0);	/* kernel-chosen address */
	int ps;

	KT_ASSERT(t, p != MAP_FAILED, "mmap(MAP_PRIVATE|MAP_ANONYMOUS|MAP_PEER_SHARED) after attach: %s",
		  strerror(errno));
	ps = vma_has_flag(0, p, "ps");
	KT_EXPECT(t, ps == 1, "smaps VmFlags of the new VMA lacks 'ps' (got %d)", ps);
	memset(p, 0x3c, 256 * PS);
	KT_EXPECT(t, p[256 * PS - 1] == 0x3c, "readback");
	(void)fd;
}

static void t_plain_not_ps(struct kt *t)
{
	int fd = dev_attach(t);
	char *p = mmap(NULL, 64 * PS, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	KT_ASSERT(t, p != MAP_FAILED, "mmap: %s", strerror(errno));
	p[0] = 1;
	KT_EXPECT(t, vma_has_flag(0, p, "ps") == 0, "plain anonymous VMA shows 'ps'");
	(void)fd;
}

/*
 * MAP_PEER_SHARED is 0x8000000 = bit 27, which lies inside the MAP_HUGE_SHIFT
 * (26) page-size field.  MAP_HUGE_1GB = 30 << 26 contains bit 27, so a
 * mapping that only asks for a 1 GiB hugetlb page size must not become
 * peer-shared.  (MAP_HUGE_* bits are ignored without MAP_HUGETLB.)
 */
static void t_huge_size_bits(struct kt *t)
{
	int fd = dev_attach(t);
	char *p = mmap(NULL, 64 * PS, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGE_1GB, -1, 0);
	int ps;

	KT_ASSERT(t, p != MAP_FAILED, "mmap(MAP_HUGE_1GB without MAP_HUGETLB): %s", strerror(errno));
	p[0] = 1;
	ps = vma_has_flag(0, p, "ps");
	KT_EXPECT(t, ps == 0,
		  "mmap flags %#x (MAP_HUGE_1GB, no MAP_PEER_SHARED) produced a 'ps' VMA: "
		  "MAP_PEER_SHARED (%#x) overlaps the MAP_HUGE_SHIFT size field",
		  MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGE_1GB, MAP_PEER_SHARED);
	(void)fd;
}

/* MAP_HUGETLB|MAP_PEER_SHARED: the kernel reads bit 27 as hugetlb size 2^2
 * bytes; it must fail cleanly (or work), not crash. */
static void t_hugetlb(struct kt *t)
{
	int fd = dev_attach(t);
	char *p = ps_mmap(NULL, HPS, MAP_HUGETLB);

	if (p == MAP_FAILED) {
		kt_diag(t, "MAP_HUGETLB|MAP_PEER_SHARED: %s", strerror(errno));
		KT_EXPECT(t, errno == EINVAL || errno == ENOMEM || errno == EOPNOTSUPP,
			  "unexpected errno %d", errno);
	} else {
		int ps = vma_has_flag(0, p, "ps");

		kt_diag(t, "MAP_HUGETLB|MAP_PEER_SHARED accepted, ps=%d", ps);
		/* hugetlb pages need a reserve; touching may SIGBUS legitimately */
	}
	/* MAP_HUGETLB|MAP_HUGE_2MB|MAP_PEER_SHARED: size field 21|2 = 23 (8 MiB) */
	p = ps_mmap(NULL, HPS, MAP_HUGETLB | MAP_HUGE_2MB);
	if (p == MAP_FAILED)
		kt_diag(t, "MAP_HUGETLB|MAP_HUGE_2MB|MAP_PEER_SHARED: %s (size field decodes to %d)",
			strerror(errno), ((MAP_HUGE_2MB | MAP_PEER_SHARED) >> MAP_HUGE_SHIFT) & 0x3f);
	else
		kt_diag(t, "MAP_HUGETLB|MAP_HUGE_2MB|MAP_PEER_SHARED accepted, ps=%d",
			vma_has_flag(0, p, "ps"));
	(void)fd;
}

/*
 * MAP_SHARED|MAP_PEER_SHARED (shmem): either rejected, or it must keep the
 * GMEM promise: data written by the CPU is what the device reads.
 */
static void t_shared_combo(struct kt *t)
{
	int fd = dev_attach(t);
	char *p = mmap(NULL, 16 * PS, PROT_READ | PROT_WRITE,
		       MAP_SHARED | MAP_ANONYMOUS | MAP_PEER_SHARED, -1, 0);
	char buf[PS];
	int r, ps;

	if (p == MAP_FAILED) {
		kt_diag(t, "MAP_SHARED|MAP_PEER_SHARED rejected: %s", strerror(errno));
		return;
	}
	ps = vma_has_flag(0, p, "ps");
	kt_diag(t, "MAP_SHARED|MAP_PEER_SHARED accepted, ps=%d", ps);
	fill(p, PS, 11);
	r = dev_read(fd, p, buf, PS);
	if (r) {
		kt_diag(t, "device read of the shmem page: %s", strerror(-r));
		return;
	}
	KT_EXPECT(t, check(buf, PS, 11) < 0,
		  "MAP_SHARED|MAP_PEER_SHARED accepted (ps=%d) but device read of CPU-written page "
		  "returned %#x at word %ld, expected %#x", ps,
		  ((uint32_t *)buf)[check(buf, PS, 11)], check(buf, PS, 11),
		  expect_word(11, check(buf, PS, 11)));
	/* MAP_SHARED_VALIDATE must reject an unknown flag or accept a known one */
	p = mmap(NULL, 16 * PS, PROT_READ | PROT_WRITE,
		 MAP_SHARED_VALIDATE | MAP_ANONYMOUS | MAP_PEER_SHARED, -1, 0);
	kt_diag(t, "MAP_SHARED_VALIDATE|MAP_PEER_SHARED: %s",
		p == MAP_FAILED ? strerror(errno) : "accepted");
}

static void t_fixed(struct kt *t)
{
	int fd = dev_attach(t);
	char *p = mmap(NULL, 32 * PS, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	char *q;

	KT_ASSERT(t, p != MAP_FAILED, "mmap: %s", strerror(errno));
	memset(p, 0x77, 32 * PS);
	q = ps_mmap(p + 8 * PS, 8 * PS, MAP_FIXED);
	KT_ASSERT(t, q == p + 8 * PS, "MAP_FIXED|MAP_PEER_SHARED over a plain mapping: %s",
		  q == MAP_FAILED ? strerror(errno) : "wrong address");
	KT_EXPECT(t, vma_has_flag(0, q, "ps") == 1, "MAP_FIXED peer-shared VMA lacks 'ps'");
	KT_EXPECT(t, vma_has_flag(0, p, "ps") == 0, "the untouched head VMA became 'ps'");
	KT_EXPECT(t, check_zero(q, 8 * PS) < 0, "new MAP_FIXED peer-shared range not zero-filled");
	KT_EXPECT(t, p[0] == 0x77 && p[31 * PS] == 0x77, "data around the MAP_FIXED range lost");
	q[0] = 1;
	KT_EXPECT(t, q[0] == 1, "write");
	/* MAP_FIXED_NOREPLACE over the existing mapping must fail with EEXIST */
	q = ps_mmap(p, 4 * PS, MAP_FIXED_NOREPLACE);
	KT_EXPECT(t, q == MAP_FAILED && errno == EEXIST,
		  "MAP_FIXED_NOREPLACE|MAP_PEER_SHARED over a mapping: %s",
		  q == MAP_FAILED ? strerror(errno) : "succeeded");
	/* misaligned MAP_FIXED */
	q = ps_mmap(p + 1, PS, MAP_FIXED);
	KT_EXPECT(t, q == MAP_FAILED && errno == EINVAL, "misaligned MAP_FIXED: %s",
		  q == MAP_FAILED ? strerror(errno) : "succeeded");
	(void)fd;
}

static void t_odd_lengths(struct kt *t)
{
	int fd = dev_attach(t);
	unsigned long s, e;
	char *p;

	p = ps_mmap(NULL, 0, 0);
	KT_EXPECT(t, p == MAP_FAILED && errno == EINVAL, "len 0: %s",
		  p == MAP_FAILED ? strerror(errno) : "succeeded");
	p = ps_mmap(NULL, PS + 1, 0);
	KT_ASSERT(t, p != MAP_FAILED, "len 4097: %s", strerror(errno));
	KT_ASSERT(t, vma_bounds(p, &s, &e) == 0, "no VMA for %p", p);
	KT_EXPECT(t, e - s == 2 * PS, "len 4097 gave a VMA of %lu bytes", e - s);
	p[2 * PS - 1] = 5;
	KT_EXPECT(t, p[2 * PS - 1] == 5 && p[0] == 0, "access to the rounded-up tail");
	p = ps_mmap(NULL, 1UL << 47, 0);
	KT_EXPECT(t, p == MAP_FAILED && errno == ENOMEM, "len 2^47: %s",
		  p == MAP_FAILED ? strerror(errno) : "succeeded");
	p = ps_mmap(NULL, (size_t)-PS, 0);
	KT_EXPECT(t, p == MAP_FAILED, "len -4096 succeeded");
	/* PROT_NONE then mprotect */
	p = mmap(NULL, 4 * PS, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_PEER_SHARED, -1, 0);
	KT_ASSERT(t, p != MAP_FAILED, "PROT_NONE peer-shared: %s", strerror(errno));
	KT_EXPECT(t, mprotect(p, 4 * PS, PROT_READ | PROT_WRITE) == 0, "mprotect: %s", strerror(errno));
	p[3 * PS] = 9;
	KT_EXPECT(t, p[3 * PS] == 9, "write after mprotect");
	(void)fd;
}

/*
 * RFC 5/6: when the device refuses the VA (peer_va_alloc_fixed() returns
 * GM_RET_NOMEM), mmap() retries another address.  The result must not
 * overlap the refused range, and no VMA may be left in the refused range.
 */
static void t_va_conflict_retry(struct kt *t)
{
	int fd = dev_attach(t);
	struct gmem_test_range deny;
	struct gmem_test_stats s0, s1;
	char *hint = (char *)0x500000000000UL, *p;
	int n;

	deny.addr = (unsigned long)hint;
	deny.len = 64 * PS;
	KT_ASSERT(t, ioctl(fd, GMEM_TEST_IOC_VA_DENY, &deny) == 0, "VA_DENY: %s", strerror(errno));
	s0 = dev_stats(fd);
	p = ps_mmap(hint, 16 * PS, 0);
	s1 = dev_stats(fd);
	kt_diag(t, "va_alloc calls %llu, denied %llu, result %p",
		(unsigned long long)(s1.va_alloc - s0.va_alloc),
		(unsigned long long)(s1.va_denied - s0.va_denied), (void *)p);
	KT_ASSERT(t, s1.va_alloc > s0.va_alloc, "peer_va_alloc_fixed() not called for a peer device");
	KT_ASSERT(t, p != MAP_FAILED, "mmap with a device-refused hint failed: %s (expected a retry elsewhere)",
		  strerror(errno));
	KT_EXPECT(t, !((unsigned long)p < deny.addr + deny.len && (unsigned long)p + 16 * PS > deny.addr),
		  "mmap returned %p inside the device-refused range [%#llx, %#llx)", (void *)p,
		  (unsigned long long)deny.addr, (unsigned long long)(deny.addr + deny.len));
	n = vmas_in_range(deny.addr, deny.addr + deny.len);
	KT_EXPECT(t, n == 0, "%d VMA(s) left in the refused range", n);
	KT_EXPECT(t, vma_has_flag(0, p, "ps") == 1, "retried VMA lacks 'ps'");
	p[0] = 1;
	/* MAP_FIXED into a refused range must fail, not move */
	hint = (char *)0x540000000000UL;
	deny.addr = (unsigned long)hint;
	deny.len = 4 * PS;
	KT_ASSERT(t, ioctl(fd, GMEM_TEST_IOC_VA_DENY, &deny) == 0, "VA_DENY: %s", strerror(errno));
	p = ps_mmap(hint, 4 * PS, MAP_FIXED);
	KT_EXPECT(t, p == MAP_FAILED, "MAP_FIXED at %p (refused by the device) returned %p: MAP_FIXED %s",
		  (void *)hint, (void *)p, p == hint ? "succeeded in the refused range" :
		  "was silently moved to another address");
	n = vmas_in_range(deny.addr, deny.addr + deny.len);
	KT_EXPECT(t, n == 0, "%d VMA(s) in the refused range after MAP_FIXED", n);
	deny.len = 0;
	ioctl(fd, GMEM_TEST_IOC_VA_DENY, &deny);
}

static const struct kt_case cases[] = {
	KT_CASE_B(t_no_device, 0, "mmap_region"),
	KT_CASE_B(t_attached_basic, 0, "do_mmap"),
	KT_CASE_B(t_plain_not_ps, 0, "do_mmap"),
	KT_CASE_B(t_huge_size_bits, 0, "do_mmap"),
	KT_CASE_B(t_hugetlb, 0, "do_mmap"),
	KT_CASE_B(t_shared_combo, 0, "do_mmap"),
	KT_CASE_B(t_fixed, 0, "mmap_region"),
	KT_CASE(t_odd_lengths),
	KT_CASE_B(t_va_conflict_retry, 0, "mmap_region"),
	{}
};

int main(void)
{
	return kt_main("mmap_flags", cases, prereq_dev);
}
