/* SPDX-License-Identifier: GPL-2.0 */
/* GMEM test helpers: feature detection, fake device ioctls, /proc parsing. */
#ifndef GMEM_UTIL_H
#define GMEM_UTIL_H

#include "ktest.h"
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include "gmem_test_uapi.h"

#ifndef MAP_PEER_SHARED
#define MAP_PEER_SHARED	0x8000000	/* RFC 5/6, include/uapi/asm-generic/mman-common.h */
#endif
#ifndef MADV_PREFETCH
#define MADV_PREFETCH	26		/* RFC 4/6 */
#endif
#ifndef __NR_hmadvise
#define __NR_hmadvise	463		/* x86_64 number of the 6.12 port */
#endif
#ifndef MAP_HUGE_SHIFT
#define MAP_HUGE_SHIFT	26
#endif
#ifndef MAP_HUGE_2MB
#define MAP_HUGE_2MB	(21 << MAP_HUGE_SHIFT)
#endif
#ifndef MAP_HUGE_1GB
#define MAP_HUGE_1GB	(30 << MAP_HUGE_SHIFT)
#endif
#ifndef MAP_FIXED_NOREPLACE
#define MAP_FIXED_NOREPLACE 0x100000
#endif

#define PS	4096UL
#define HPS	(2UL << 20)

static long hmadvise(int hnid, unsigned long start, size_t len, int behavior)
{
	return syscall(__NR_hmadvise, hnid, start, len, behavior);
}

/* ---- feature detection (used to SKIP on unpatched kernels) ------------- */

#include "gmem_detect.h"

/* NULL if the kernel has GMEM and it is enabled, else the reason */
static const char *gmem_kernel_reason(void)
{
	static char why[256];
	int ks = file_contains("/proc/kallsyms", " gm_dev_create");
	long r;

	if (ks == 0) {
		snprintf(why, sizeof(why), "kernel has no GMEM (no gm_dev_create in /proc/kallsyms)");
		return why;
	}
	if (ks < 0) {
		/* no kallsyms: probe hmadvise(-1, 0, 0, MADV_DONTNEED), a no-op on GMEM */
		errno = 0;
		r = hmadvise(-1, 0, 0, MADV_DONTNEED);
		if (r < 0 && errno == ENOSYS) {
			snprintf(why, sizeof(why), "kernel has no GMEM (hmadvise syscall %d: ENOSYS)",
				 __NR_hmadvise);
			return why;
		}
	}
	if (!cmdline_gmem_on())
		return "GMEM kernel not booted with gmem=on";
	return NULL;
}

static const char *gmem_module_reason(void)
{
	static char why[512];
	const char *e = getenv("GMEM_MODULE_ERR");

	if (e && *e) {
		snprintf(why, sizeof(why), "%s", e);
		return why;
	}
	if (access(GMEM_TEST_DEV, R_OK | W_OK)) {
		snprintf(why, sizeof(why), "%s: %s (fake device module not loaded)",
			 GMEM_TEST_DEV, strerror(errno));
		return why;
	}
	return NULL;
}

/* prereq for workloads that need the fake device */
static const char *prereq_dev(void)
{
	const char *w = gmem_kernel_reason();

	return w ? w : gmem_module_reason();
}

static const char *prereq_kernel(void)
{
	return gmem_kernel_reason();
}

/* ---- fake device --------------------------------------------------------- */

static int g_hnid = -1;

static int dev_open(void)
{
	return open(GMEM_TEST_DEV, O_RDWR | O_CLOEXEC);
}

/* open `path` (one of the fake peer devices) + ATTACH the current mm;
 * on failure fail the subtest and exit it */
static int dev_attach_path(struct kt *t, const char *path)
{
	struct gmem_test_attach a = { .mode = GMEM_TEST_MODE_COHERENT_EXCL, .activate = 1 };
	int fd = open(path, O_RDWR | O_CLOEXEC);

	if (fd < 0) {
		kt_fail(t, "open %s: %s", path, strerror(errno));
		kt_done(t);
	}
	if (ioctl(fd, GMEM_TEST_IOC_ATTACH, &a)) {
		kt_fail(t, "ATTACH: %s (gm_as_attach ret %d)", strerror(errno), a.gm_ret);
		kt_done(t);
	}
	g_hnid = a.hnid;
	return fd;
}

static int dev_attach(struct kt *t)
{
	return dev_attach_path(t, GMEM_TEST_DEV);
}

static int dev_fault(int fd, void *addr, unsigned long npages, int *gm_ret)
{
	struct gmem_test_fault f = { .addr = (unsigned long)addr, .npages = npages };
	int r = ioctl(fd, GMEM_TEST_IOC_FAULT, &f);

	if (gm_ret)
		*gm_ret = f.gm_ret;
	if (r)
		return -errno;
	return f.gm_ret ? 1 : 0;
}

static int dev_rw(int fd, int write, void *addr, void *buf, size_t len, unsigned flags,
		  struct gmem_test_rw *out)
{
	struct gmem_test_rw a = {
		.addr = (unsigned long)addr, .uptr = (unsigned long)buf,
		.len = len, .flags = flags,
	};
	int r = ioctl(fd, write ? GMEM_TEST_IOC_WRITE : GMEM_TEST_IOC_READ, &a);

	if (out)
		*out = a;
	return r ? -errno : 0;
}
#define dev_read(fd, addr, buf, len)  dev_rw(fd, 0, addr, buf, len, 0, NULL)
#define dev_write(fd, addr, buf, len) dev_rw(fd, 1, addr, buf, len, 0, NULL)

static int dev_to_cpu(int fd, void *addr, size_t len)
{
	struct gmem_test_range r = { (unsigned long)addr, len };

	return ioctl(fd, GMEM_TEST_IOC_TO_CPU, &r) ? -errno : 0;
}

static struct gmem_test_stats dev_stats(int fd)
{
	struct gmem_test_stats s;

	memset(&s, 0, sizeof(s));
	if (ioctl(fd, GMEM_TEST_IOC_STATS, &s))
		memset(&s, 0xff, sizeof(s));
	return s;
}

/* number of pages of [addr, +npages) in device memory, -errno on error */
static long dev_present(int fd, void *addr, unsigned long npages, uint64_t *bm)
{
	struct gmem_test_present p = {
		.addr = (unsigned long)addr, .npages = npages,
		.bitmap_uptr = (unsigned long)bm,
	};

	if (ioctl(fd, GMEM_TEST_IOC_PRESENT, &p))
		return -errno;
	return p.count;
}

static void diag_stats(struct kt *t, int fd)
{
	struct gmem_test_stats s = dev_stats(fd);

	kt_diag(t, "dev stats: peer_map %llu (copy %llu, remap %llu) peer_unmap %llu (copy %llu, miss %llu) "
		"dev_pages %llu va_alloc %llu va_free %llu last_map va %#llx size %#llx "
		"bad_dma %llu copy_overrun %llu atomic %lld",
		(unsigned long long)s.peer_map, (unsigned long long)s.peer_map_copy,
		(unsigned long long)s.peer_map_remap, (unsigned long long)s.peer_unmap,
		(unsigned long long)s.peer_unmap_copy, (unsigned long long)s.peer_unmap_miss,
		(unsigned long long)s.dev_pages, (unsigned long long)s.va_alloc,
		(unsigned long long)s.va_free, (unsigned long long)s.last_map_va,
		(unsigned long long)s.last_map_size, (unsigned long long)s.bad_dma,
		(unsigned long long)s.copy_overrun, (long long)s.atomic_calls);
}

/* ---- mappings -------------------------------------------------------------- */

static void *ps_mmap(void *addr, size_t len, int extra)
{
	return mmap(addr, len, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS | MAP_PEER_SHARED | extra, -1, 0);
}

/*
 * Peer-shared mapping that must succeed; 4 KiB pages unless thp.  Each one
 * is placed at its own address with a >= 2 MiB hole around it, so peer-shared
 * VMAs are never adjacent by accident (adjacent peer-shared VMAs are tested
 * on purpose in vma_ops).  MAP_FIXED_NOREPLACE: no munmap is involved.
 */
static unsigned long ps_cursor = 0x300000000000UL;

static char *ps_map_or_die(struct kt *t, size_t len, int thp)
{
	char *p = MAP_FAILED;
	int i;

	for (i = 0; i < 64 && p == MAP_FAILED; i++) {
		p = ps_mmap((void *)ps_cursor, len, MAP_FIXED_NOREPLACE);
		if (p == MAP_FAILED && errno != EEXIST)
			break;
		ps_cursor += ((len + HPS - 1) & ~(HPS - 1)) + HPS;
	}
	if (p == MAP_FAILED) {
		kt_fail(t, "mmap(MAP_PRIVATE|MAP_ANONYMOUS|MAP_PEER_SHARED, %zu) after attach: %s",
			len, strerror(errno));
		kt_done(t);
	}
	madvise(p, len, thp ? MADV_HUGEPAGE : MADV_NOHUGEPAGE);
	return p;
}

/* 2 MiB aligned peer-shared mapping at a fixed free address (no munmap needed) */
static char *ps_map_aligned(struct kt *t, size_t len, int extra)
{
	unsigned long base = 0x600000000000UL;
	int i;

	for (i = 0; i < 64; i++) {
		char *p = ps_mmap((void *)(base + i * (1UL << 32)), len,
				  MAP_FIXED_NOREPLACE | extra);

		if (p != MAP_FAILED)
			return p;
		if (errno != EEXIST) {
			kt_fail(t, "mmap(PEER_SHARED|FIXED_NOREPLACE, %zu): %s", len, strerror(errno));
			kt_done(t);
		}
	}
	kt_fail(t, "no free aligned address");
	kt_done(t);
}

/* the pattern fill() writes: word i of a buffer seeded with `seed` */
static uint32_t expect_word(unsigned seed, long i)
{
	return seed * 2654435761u + (uint32_t)i;
}

static void fill(void *p, size_t len, unsigned seed)
{
	uint32_t *w = p;
	size_t i;

	for (i = 0; i < len / 4; i++)
		w[i] = expect_word(seed, i);
}

/* index of first mismatching u32 of a buffer that starts at word `first` of the
 * filled one (a page inside a larger fill), or -1 */
static long check_at(const void *p, size_t len, unsigned seed, long first)
{
	const uint32_t *w = p;
	size_t i;

	for (i = 0; i < len / 4; i++)
		if (w[i] != expect_word(seed, first + i))
			return i;
	return -1;
}

static long check(const void *p, size_t len, unsigned seed)
{
	return check_at(p, len, seed, 0);
}

static long check_zero(const void *p, size_t len)
{
	const uint64_t *w = p;
	size_t i;

	for (i = 0; i < len / 8; i++)
		if (w[i])
			return i;
	return -1;
}

/* ---- /proc parsing --------------------------------------------------------- */

/*
 * Find the smaps entry of the VMA containing addr in /proc/<pid>/smaps
 * (pid 0 = self).  Copies the VmFlags value into flags, and returns the value
 * of `field` (kB) or -1 if the VMA was not found.
 */
static long smaps_query(pid_t pid, void *addr, const char *field, char *flags, size_t flen)
{
	char path[64], line[512];
	unsigned long a = (unsigned long)addr, s, e;
	FILE *f;
	int in = 0;
	long val = -1, found = -1;

	if (pid)
		snprintf(path, sizeof(path), "/proc/%d/smaps", pid);
	else
		snprintf(path, sizeof(path), "/proc/self/smaps");
	f = fopen(path, "r");
	if (!f)
		return -1;
	if (flags && flen)
		flags[0] = 0;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%lx-%lx ", &s, &e) == 2 && strchr(line, '-') < strchr(line, ' ')) {
			if (in)
				break;
			in = a >= s && a < e;
			if (in)
				found = 0;
			continue;
		}
		if (!in)
			continue;
		if (field) {
			size_t fl = strlen(field);

			if (!strncmp(line, field, fl) && line[fl] == ':')
				val = strtol(line + fl + 1, NULL, 10);
		}
		if (flags && !strncmp(line, "VmFlags:", 8)) {
			line[strcspn(line, "\n")] = 0;
			snprintf(flags, flen, "%s", line + 8);
		}
	}
	fclose(f);
	if (found < 0)
		return -1;
	return field ? (val < 0 ? 0 : val) : 0;
}

/* 1 if the VMA containing addr has mnemonic mn in VmFlags, 0 if not, -1 no VMA */
static int vma_has_flag(pid_t pid, void *addr, const char *mn)
{
	char flags[512], tok[8];
	char *p;

	if (smaps_query(pid, addr, NULL, flags, sizeof(flags)) < 0)
		return -1;
	for (p = flags; *p; ) {
		int n = 0;

		while (*p == ' ')
			p++;
		while (*p && *p != ' ' && n < 7)
			tok[n++] = *p++;
		tok[n] = 0;
		while (*p && *p != ' ')
			p++;
		if (n && !strcmp(tok, mn))
			return 1;
	}
	return 0;
}

/* VMA [start, end) containing addr from /proc/self/maps; 0 if found */
static int vma_bounds(void *addr, unsigned long *start, unsigned long *end)
{
	char line[512];
	unsigned long a = (unsigned long)addr, s, e;
	FILE *f = fopen("/proc/self/maps", "r");
	int ret = -1;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%lx-%lx", &s, &e) == 2 && a >= s && a < e) {
			*start = s;
			*end = e;
			ret = 0;
			break;
		}
	}
	fclose(f);
	return ret;
}

/* number of VMAs intersecting [a, b) */
static int vmas_in_range(unsigned long a, unsigned long b)
{
	char line[512];
	unsigned long s, e;
	FILE *f = fopen("/proc/self/maps", "r");
	int n = 0;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "%lx-%lx", &s, &e) == 2 && s < b && e > a)
			n++;
	fclose(f);
	return n;
}

static int count_maps(void)
{
	return vmas_in_range(0, ~0UL);
}

/* value of a /proc/meminfo field in kB, -1 if missing */
static long meminfo(const char *field)
{
	return proc_kb("/proc/meminfo", field);
}

/* active objects of a slab cache (from /proc/slabinfo or /sys/kernel/slab), -1 if absent */
static long slab_objects(const char *cache)
{
	char line[512], name[128], path[256];
	long active, total;
	FILE *f = fopen("/proc/slabinfo", "r");

	if (f) {
		while (fgets(line, sizeof(line), f)) {
			if (sscanf(line, "%127s %ld %ld", name, &active, &total) == 3 &&
			    !strcmp(name, cache)) {
				fclose(f);
				return active;
			}
		}
		fclose(f);
	}
	snprintf(path, sizeof(path), "/sys/kernel/slab/%s/objects", cache);
	f = fopen(path, "r");
	if (f) {
		if (fscanf(f, "%ld", &active) != 1)
			active = -1;
		fclose(f);
		return active;
	}
	return -1;
}

static void drop_caches(void)
{
	int fd = open("/proc/sys/vm/drop_caches", O_WRONLY);

	sync();
	if (fd >= 0) {
		if (write(fd, "3", 1) < 0)
			;
		close(fd);
	}
	fd = open("/proc/sys/vm/compact_memory", O_WRONLY);
	if (fd >= 0) {
		if (write(fd, "1", 1) < 0)
			;
		close(fd);
	}
}

/*
 * Run fn(arg) in a child with a timeout; returns the child's exit code
 * (>= 0), or -1 when it died abnormally / hung (reported into t).
 */
static int run_child(struct kt *t, const char *what, int timeout_s,
		     int (*fn)(void *arg), void *arg)
{
	pid_t pid;
	int st;

	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		kt_fail(t, "%s: fork: %s", what, strerror(errno));
		return -1;
	}
	if (pid == 0)
		_exit(fn(arg));
	st = kt_wait_timeout(t, pid, timeout_s, what);
	if (st < 0 || kt_check_child(t, st, what))
		return -1;
	return WEXITSTATUS(st);
}

#endif /* GMEM_UTIL_H */
