// SPDX-License-Identifier: GPL-2.0
/*
 * The mmap retry path of RFC 5/6 ("resolve VMA conflicts for attached peer
 * devices"): "the mmap() syscall must return virtual addresses that are
 * guaranteed to be valid across all attached peer devices ... if a candidate
 * VMA is detected to be conflicting, it will be temporarily blacklisted.  The
 * mmap_region() function will retry other VMA candidates for a predefined
 * number of iterations" (GMEM_MMAP_RETRY_TIMES, 10).
 *
 * Each subtest fills (part of) a peer device's VA window with VA_DENY so that
 * peer_va_alloc_fixed() refuses the candidates mmap() picks, and checks where
 * mmap() lands.  No munmap() while attached (it deadlocks on the RFC, see
 * lifetime): the first candidate is found by a probe mmap/munmap before the
 * device is attached; the next mmap(NULL) of the same length gets it again.
 */
#include "gmem_util.h"

#define L (64 * PS)
#define RETRIES 10	/* GMEM_MMAP_RETRY_TIMES, RFC 3/6 include/linux/gmem.h */

/* the address the next mmap(NULL, len) will pick (probed before any attach) */
static unsigned long next_candidate(struct kt *t, size_t len)
{
	void *q = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	KT_ASSERT(t, q != MAP_FAILED, "probe mmap: %s", strerror(errno));
	KT_ASSERT(t, munmap(q, len) == 0, "probe munmap: %s", strerror(errno));
	return (unsigned long)q;
}

static void deny(struct kt *t, int fd, unsigned long start, unsigned long len)
{
	struct gmem_test_range r = { .addr = start, .len = len };

	KT_ASSERT(t, ioctl(fd, GMEM_TEST_IOC_VA_DENY, &r) == 0, "VA_DENY: %s", strerror(errno));
}

static int overlaps(void *p, size_t len, unsigned long start, unsigned long end)
{
	return (unsigned long)p < end && (unsigned long)p + len > start;
}

static void diag_retry(struct kt *t, const char *dev, struct gmem_test_stats *a,
		       struct gmem_test_stats *b)
{
	kt_diag(t, "%s: peer_va_alloc_fixed %llu calls (%llu refused), peer_va_free %llu", dev,
		(unsigned long long)(b->va_alloc - a->va_alloc),
		(unsigned long long)(b->va_denied - a->va_denied),
		(unsigned long long)(b->va_free - a->va_free));
}

/* the first candidate is refused: mmap(NULL) must pick another address */
static void t_first_candidate_refused(struct kt *t)
{
	unsigned long a = next_candidate(t, L);
	int fd = dev_attach(t);
	struct gmem_test_stats s0, s1;
	char *p;

	deny(t, fd, a, L);
	s0 = dev_stats(fd);
	p = ps_mmap(NULL, L, 0);
	s1 = dev_stats(fd);
	diag_retry(t, "device 0", &s0, &s1);
	kt_diag(t, "first candidate %#lx (refused), mmap returned %p", a, (void *)p);
	KT_ASSERT(t, s1.va_denied > s0.va_denied, "the device was never asked about %#lx", a);
	KT_ASSERT(t, p != MAP_FAILED, "mmap(NULL) failed (%s) although only one %lu KiB candidate"
		  " was refused: the retry picked the refused address again (%llu calls, all refused)",
		  strerror(errno), L / 1024, (unsigned long long)(s1.va_denied - s0.va_denied));
	KT_EXPECT(t, !overlaps(p, L, a, a + L), "mmap returned %p in the refused range", (void *)p);
	KT_EXPECT(t, vma_has_flag(0, p, "ps") == 1, "retried VMA lacks 'ps'");
	p[0] = 1;
}

/* five consecutive candidates refused (fewer than RETRIES): mmap must get past them */
static void t_window_of_five_refused(struct kt *t)
{
	unsigned long a = next_candidate(t, L);
	unsigned long lo = a - 4 * L, hi = a + L;
	int fd = dev_attach(t);
	struct gmem_test_stats s0, s1;
	char *p;

	deny(t, fd, lo, hi - lo);
	s0 = dev_stats(fd);
	p = ps_mmap(NULL, L, 0);
	s1 = dev_stats(fd);
	diag_retry(t, "device 0", &s0, &s1);
	kt_diag(t, "refused window [%#lx, %#lx), mmap returned %p", lo, hi, (void *)p);
	KT_ASSERT(t, p != MAP_FAILED, "mmap(NULL) failed (%s) with 5 refused candidates and %d"
		  " retries allowed", strerror(errno), RETRIES);
	KT_EXPECT(t, !overlaps(p, L, lo, hi), "mmap returned %p in the refused window", (void *)p);
	p[0] = 1;
}

/* every address refused: ENOMEM after 1 + RETRIES attempts, no VMA left behind */
static void t_window_full_enomem(struct kt *t)
{
	int fd = dev_attach(t);
	struct gmem_test_stats s0, s1;
	int maps0, maps1;
	char *p;

	deny(t, fd, PS, (1UL << 47) - PS);
	maps0 = count_maps();
	s0 = dev_stats(fd);
	p = ps_mmap(NULL, L, 0);
	s1 = dev_stats(fd);
	maps1 = count_maps();
	diag_retry(t, "device 0", &s0, &s1);
	KT_EXPECT(t, p == MAP_FAILED && errno == ENOMEM, "mmap with the whole VA window refused: %s",
		  p == MAP_FAILED ? strerror(errno) : "succeeded");
	KT_EXPECT(t, s1.va_alloc - s0.va_alloc == RETRIES + 1,
		  "%llu peer_va_alloc_fixed calls, expected 1 + GMEM_MMAP_RETRY_TIMES = %d",
		  (unsigned long long)(s1.va_alloc - s0.va_alloc), RETRIES + 1);
	KT_EXPECT(t, maps1 == maps0, "%d VMAs before, %d after the failed mmap", maps0, maps1);
}

/* MAP_FIXED_NOREPLACE into a refused range must fail, not move */
static void t_noreplace_refused(struct kt *t)
{
	int fd = dev_attach(t);
	char *hint = (char *)0x520000000000UL, *p;

	deny(t, fd, (unsigned long)hint, 4 * PS);
	p = ps_mmap(hint, 4 * PS, MAP_FIXED_NOREPLACE);
	KT_EXPECT(t, p == MAP_FAILED, "MAP_FIXED_NOREPLACE at %p (refused) returned %p (%s)",
		  (void *)hint, (void *)p, p == hint ? "in the refused range" : "moved elsewhere");
	KT_EXPECT(t, vmas_in_range((unsigned long)hint, (unsigned long)hint + 4 * PS) == 0,
		  "a VMA is left in the refused range");
}

/*
 * Two peers: device 1 refuses the candidate, device 0 accepts everything.  The
 * candidates device 0 reserved and mmap() then abandoned must be released
 * again (peer_va_free) or device 0's VA space fills with ranges nobody maps.
 */
static void t_second_device_refuses(struct kt *t)
{
	unsigned long a = next_candidate(t, L);
	int fd0 = dev_attach(t), fd1 = dev_attach_path(t, GMEM_TEST_DEV1);
	struct gmem_test_stats a0, a1, b0, b1;
	unsigned long held;
	char *p;

	deny(t, fd1, a, L);
	a0 = dev_stats(fd0);
	a1 = dev_stats(fd1);
	p = ps_mmap(NULL, L, 0);
	b0 = dev_stats(fd0);
	b1 = dev_stats(fd1);
	diag_retry(t, "device 0", &a0, &b0);
	diag_retry(t, "device 1", &a1, &b1);
	kt_diag(t, "candidate %#lx refused by device 1 only; mmap returned %p", a, (void *)p);
	KT_ASSERT(t, b1.va_denied > a1.va_denied, "device 1 was never asked");
	KT_EXPECT(t, p == MAP_FAILED || !overlaps(p, L, a, a + L),
		  "mmap returned %p although device 1 refused it", (void *)p);
	held = (b0.va_alloc - a0.va_alloc) - (b0.va_free - a0.va_free);
	KT_EXPECT(t, held == (p == MAP_FAILED ? 0 : 1),
		  "device 0 still holds %lu VA reservations for %d mapping(s): the candidates device 1"
		  " refused were never released in device 0", held, p == MAP_FAILED ? 0 : 1);
}

/* each device refuses a different range: the retried address must suit both */
static void t_both_devices_asked_again(struct kt *t)
{
	int fd0 = dev_attach(t), fd1 = dev_attach_path(t, GMEM_TEST_DEV1);
	unsigned long h = 0x560000000000UL;
	char *p;

	deny(t, fd0, h, L);
	deny(t, fd1, h + L, L);
	p = ps_mmap((void *)h, L, 0);
	kt_diag(t, "hint %#lx: device 0 refuses [h, h+L), device 1 [h+L, h+2L); mmap returned %p",
		h, (void *)p);
	KT_ASSERT(t, p != MAP_FAILED, "mmap failed: %s", strerror(errno));
	KT_EXPECT(t, !overlaps(p, L, h, h + 2 * L), "mmap returned %p, refused by a device",
		  (void *)p);
	p[0] = 1;
}

static const struct kt_case cases[] = {
	KT_CASE_B(t_first_candidate_refused, 0, "mmap_region"),
	KT_CASE_B(t_window_of_five_refused, 0, "mmap_region"),
	KT_CASE_B(t_window_full_enomem, 0, "mmap_region"),
	KT_CASE_B(t_noreplace_refused, 0, "mmap_region"),
	KT_CASE_B(t_second_device_refuses, 0, "gm_alloc_va_in_peer_devices"),
	KT_CASE_B(t_both_devices_asked_again, 0, "gm_alloc_va_in_peer_devices"),
	{}
};

int main(void)
{
	return kt_main("mmap_retry", cases, prereq_dev);
}
