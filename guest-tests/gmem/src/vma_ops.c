// SPDX-License-Identifier: GPL-2.0
/* mprotect / mremap / madvise / munmap on peer-shared ranges. */
#include "gmem_util.h"
#include <setjmp.h>

static char buf[16 * 4096];
static sigjmp_buf jb;
static volatile int got_sig;

static void on_segv(int sig)
{
	got_sig = sig;
	siglongjmp(jb, 1);
}

/* 1 if writing *a faults */
static int write_faults(char *a)
{
	struct sigaction sa = { .sa_handler = on_segv }, old;
	int r;

	sigaction(SIGSEGV, &sa, &old);
	got_sig = 0;
	if (!sigsetjmp(jb, 1)) {
		*(volatile char *)a = 1;
		r = 0;
	} else {
		r = 1;
	}
	sigaction(SIGSEGV, &old, NULL);
	return r;
}

static void t_mprotect(struct kt *t)
{
	int fd = dev_attach(t);
	char *p = ps_map_or_die(t, 8 * PS, 0);

	fill(p, 8 * PS, 5);
	KT_ASSERT(t, mprotect(p, 8 * PS, PROT_READ) == 0, "mprotect RO: %s", strerror(errno));
	KT_EXPECT(t, check(p, 8 * PS, 5) < 0, "content changed by mprotect");
	KT_EXPECT(t, write_faults(p + PS), "write to a PROT_READ peer-shared page did not fault");
	KT_EXPECT(t, vma_has_flag(0, p, "ps") == 1, "'ps' lost by mprotect");
	KT_ASSERT(t, mprotect(p, 8 * PS, PROT_READ | PROT_WRITE) == 0, "mprotect RW: %s", strerror(errno));
	KT_EXPECT(t, !write_faults(p + PS), "write after mprotect RW faulted");
	/* read-only, never-touched page: read fault must give zeros */
	{
		char *q = ps_map_or_die(t, 4 * PS, 0);

		KT_ASSERT(t, mprotect(q, 4 * PS, PROT_READ) == 0, "mprotect: %s", strerror(errno));
		KT_EXPECT(t, check_zero(q, 4 * PS) < 0, "read fault on RO peer-shared page not zero");
	}
	(void)fd;
}

/* device page, then mprotect(PROT_READ): CPU read must still get the device data */
static void t_mprotect_dev_page(struct kt *t)
{
	int fd = dev_attach(t);
	char *p = ps_map_or_die(t, 8 * PS, 0);
	long b;
	int r;

	fill(buf, PS, 9);
	r = dev_write(fd, p + 3 * PS, buf, PS);
	KT_ASSERT(t, r == 0, "device write: %s", strerror(-r));
	KT_ASSERT(t, mprotect(p, 8 * PS, PROT_READ) == 0, "mprotect: %s", strerror(errno));
	b = check(p + 3 * PS, PS, 9);
	KT_EXPECT(t, b < 0, "CPU read (PROT_READ) of device-written page: word %ld is %#x, expected %#x",
		  b, ((uint32_t *)(p + 3 * PS))[b < 0 ? 0 : b], expect_word(9, b));
}

static void t_mremap_grow(struct kt *t)
{
	int fd = dev_attach(t);
	char *p = ps_map_or_die(t, 8 * PS, 0), *q;

	fill(p, 8 * PS, 21);
	q = mremap(p, 8 * PS, 64 * PS, MREMAP_MAYMOVE);
	KT_ASSERT(t, q != MAP_FAILED, "mremap grow: %s", strerror(errno));
	KT_EXPECT(t, check(q, 8 * PS, 21) < 0, "data lost by mremap");
	KT_EXPECT(t, vma_has_flag(0, q + 60 * PS, "ps") == 1, "grown part lacks 'ps'");
	KT_EXPECT(t, check_zero(q + 8 * PS, 56 * PS) < 0, "grown part not zero");
	fill(q + 40 * PS, PS, 22);
	KT_EXPECT(t, check(q + 40 * PS, PS, 22) < 0, "write in grown part");
	(void)fd;
}

/* mremap move of a range holding a device page: the CPU must still see its data */
static void t_mremap_move_dev_page(struct kt *t)
{
	int fd = dev_attach(t);
	char *p = ps_map_or_die(t, 8 * PS, 0), *q, *dst;
	long b;
	int r;

	fill(p, 8 * PS, 31);
	fill(buf, PS, 32);
	r = dev_write(fd, p + 4 * PS, buf, PS);
	KT_ASSERT(t, r == 0, "device write: %s", strerror(-r));
	dst = (char *)0x680000000000UL;	/* free: no munmap of the target needed */
	KT_ASSERT(t, vmas_in_range((unsigned long)dst, (unsigned long)dst + 8 * PS) == 0, "target not free");
	q = mremap(p, 8 * PS, 8 * PS, MREMAP_MAYMOVE | MREMAP_FIXED, dst);
	KT_ASSERT(t, q == dst, "mremap move: %s", strerror(errno));
	KT_EXPECT(t, check(q, 4 * PS, 31) < 0, "CPU pages lost by mremap move");
	b = check(q + 4 * PS, PS, 32);
	KT_EXPECT(t, b < 0, "device-resident page after mremap move: word %ld is %#x, expected %#x",
		  b, ((uint32_t *)(q + 4 * PS))[b < 0 ? 0 : b], expect_word(32, b));
	r = dev_read(fd, q + 5 * PS, buf, PS);
	KT_EXPECT(t, r == 0 && check(buf, PS, 31) < 0, "device read at the new address: r=%d", r);
	diag_stats(t, fd);
}

/* MADV_DONTNEED on CPU-resident pages: zero on next touch */
static void t_madv_dontneed(struct kt *t)
{
	int fd = dev_attach(t);
	char *p = ps_map_or_die(t, 16 * PS, 0);
	long b;

	fill(p, 16 * PS, 41);
	KT_ASSERT(t, madvise(p + 4 * PS, 4 * PS, MADV_DONTNEED) == 0, "madvise: %s", strerror(errno));
	b = check_zero(p + 4 * PS, 4 * PS);
	KT_EXPECT(t, b < 0, "page content survived MADV_DONTNEED (qword %ld nonzero)", b);
	KT_EXPECT(t, check(p, 4 * PS, 41) < 0 && check(p + 8 * PS, 8 * PS, 41) < 0,
		  "pages outside the MADV_DONTNEED range changed");
	fill(p + 4 * PS, 4 * PS, 42);
	KT_EXPECT(t, check(p + 4 * PS, 4 * PS, 42) < 0, "rewrite after MADV_DONTNEED");
	/* a second round on the same pages */
	KT_ASSERT(t, madvise(p + 4 * PS, 4 * PS, MADV_DONTNEED) == 0, "madvise: %s", strerror(errno));
	KT_EXPECT(t, check_zero(p + 4 * PS, 4 * PS) < 0, "second MADV_DONTNEED not zero");
	(void)fd;
}


/* munmap of part of a peer-shared VMA; the rest keeps its data */
static void t_munmap_partial(struct kt *t)
{
	int fd = dev_attach(t);
	char *p = ps_map_or_die(t, 16 * PS, 0);

	fill(p, 16 * PS, 61);
	KT_ASSERT(t, munmap(p + 4 * PS, 4 * PS) == 0, "munmap: %s", strerror(errno));
	KT_EXPECT(t, check(p, 4 * PS, 61) < 0, "head lost data");
	KT_EXPECT(t, check(p + 8 * PS, 8 * PS, 61) < 0, "tail lost data");
	KT_EXPECT(t, vmas_in_range((unsigned long)p + 4 * PS, (unsigned long)p + 8 * PS) == 0,
		  "hole still mapped");
	/* remap the hole as peer-shared: must be zero, not the old data */
	KT_ASSERT(t, ps_mmap(p + 4 * PS, 4 * PS, MAP_FIXED) == p + 4 * PS, "remap hole: %s", strerror(errno));
	KT_EXPECT(t, check_zero(p + 4 * PS, 4 * PS) < 0, "remapped hole shows old data");
	(void)fd;
}

/* munmap of a VMA with device pages: device memory released (peer_unmap) */
static void t_munmap_dev_pages(struct kt *t)
{
	int fd = dev_attach(t);
	char *p = ps_map_or_die(t, 64 * PS, 0);
	struct gmem_test_stats s;
	int r;

	r = dev_fault(fd, p, 64, NULL);
	KT_ASSERT(t, r == 0, "device fault: %d", r);
	s = dev_stats(fd);
	KT_ASSERT(t, s.dev_pages == 64, "device holds %llu pages", (unsigned long long)s.dev_pages);
	KT_ASSERT(t, munmap(p, 64 * PS) == 0, "munmap: %s", strerror(errno));
	s = dev_stats(fd);
	KT_EXPECT(t, s.dev_pages == 0, "device still holds %llu of 64 pages after munmap "
		  "(peer_unmap calls %llu)", (unsigned long long)s.dev_pages,
		  (unsigned long long)s.peer_unmap);
	diag_stats(t, fd);
}

/* plain madvise(): MADV_PREFETCH (26) is an hmadvise-only hint; others behave as usual */
static void t_madvise_misc(struct kt *t)
{
	int fd = dev_attach(t);
	char *p = ps_map_or_die(t, 32 * PS, 0);
	int r;

	r = madvise(p, 32 * PS, MADV_PREFETCH);
	KT_EXPECT(t, r == -1 && errno == EINVAL, "madvise(MADV_PREFETCH=%d) on a peer-shared range: %d %s",
		  MADV_PREFETCH, r, r ? strerror(errno) : "accepted");
	r = madvise(p, 32 * PS, MADV_WILLNEED);	/* EBADF for anon memory without CONFIG_SWAP */
	KT_EXPECT(t, r == 0 || errno == EBADF, "MADV_WILLNEED: %s", strerror(errno));
	KT_EXPECT(t, mlock(p, 16 * PS) == 0, "mlock (populates via GUP): %s", strerror(errno));
	KT_EXPECT(t, check_zero(p, 16 * PS) < 0, "mlocked pages not zero");
	fill(p, 16 * PS, 71);
	KT_EXPECT(t, munlock(p, 16 * PS) == 0, "munlock: %s", strerror(errno));
	KT_EXPECT(t, check(p, 16 * PS, 71) < 0, "data after munlock");
	KT_EXPECT(t, vma_has_flag(0, p, "ps") == 1, "'ps' lost after mlock/munlock");
	(void)fd;
}

/*
 * Zapping one VMA must not touch the pages of the next one.  Split a
 * peer-shared range with mprotect, MADV_DONTNEED the first part, churn
 * memory in another process, and check the second part kept its data.
 */
static int churn(void *a)
{
	size_t len = 96UL << 20;
	char *q = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	(void)a;
	if (q == MAP_FAILED)
		return 1;
	madvise(q, len, MADV_NOHUGEPAGE);
	memset(q, 0xee, len);
	return 0;
}

static void t_dontneed_neighbour_vma(struct kt *t)
{
	int fd = dev_attach(t), i;
	char *p = ps_map_or_die(t, 8 * PS, 0);
	char name[80];

	for (i = 0; i < 8; i++)
		fill(p + i * PS, PS, 80 + i);
	KT_ASSERT(t, mprotect(p + 2 * PS, 6 * PS, PROT_READ) == 0, "mprotect: %s", strerror(errno));
	KT_ASSERT(t, madvise(p, 2 * PS, MADV_DONTNEED) == 0, "madvise: %s", strerror(errno));
	for (i = 0; i < 2; i++)
		run_child(t, "memory churn", 60, churn, NULL);
	for (i = 2; i < 8; i++) {
		long b = check(p + i * PS, PS, 80 + i);

		snprintf(name, sizeof(name), "page %d (next VMA) after MADV_DONTNEED of pages 0-1", i);
		KT_EXPECT(t, b < 0, "%s: word %ld is %#x, expected %#x (page freed while still mapped?)",
			  name, b, ((uint32_t *)(p + i * PS))[b < 0 ? 0 : b], expect_word(80 + i, b));
	}
	(void)fd;
}

/* mprotect split: every piece keeps 'ps' and its data (the process then exits with
 * three adjacent peer-shared VMAs) */
static void t_split_flags(struct kt *t)
{
	int fd = dev_attach(t);
	char *p = ps_map_or_die(t, 8 * PS, 0);

	fill(p, 8 * PS, 33);
	KT_ASSERT(t, mprotect(p + 2 * PS, 2 * PS, PROT_READ) == 0, "mprotect: %s", strerror(errno));
	KT_EXPECT(t, vma_has_flag(0, p, "ps") == 1, "head VMA lost 'ps' after split");
	KT_EXPECT(t, vma_has_flag(0, p + 2 * PS, "ps") == 1, "middle VMA lost 'ps' after split");
	KT_EXPECT(t, vma_has_flag(0, p + 6 * PS, "ps") == 1, "tail VMA lost 'ps' after split");
	KT_EXPECT(t, check(p, 8 * PS, 33) < 0, "data changed by the split");
	(void)fd;
}

static const struct kt_case cases[] = {
	KT_CASE(t_madvise_misc),
	KT_CASE(t_mprotect),
	KT_CASE_B(t_mprotect_dev_page, 0, "gm_host_fault_locked"),
	KT_CASE(t_mremap_grow),
	KT_CASE_T(t_mremap_move_dev_page, 30),
	KT_CASE_T(t_munmap_partial, 30),
	KT_CASE_B(t_munmap_dev_pages, 30, "munmap_in_peer_devices"),
	/* last: these free pages that are still mapped (memory corruption) */
	KT_CASE_B(t_madv_dontneed, 0, "unmap_gm_mappings_range"),
	KT_CASE(t_split_flags),
	KT_CASE_T(t_dontneed_neighbour_vma, 120),
	{}
};

int main(void)
{
	return kt_main("vma_ops", cases, prereq_dev);
}
