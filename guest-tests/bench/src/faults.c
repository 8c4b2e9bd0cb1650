// SPDX-License-Identifier: GPL-2.0
/*
 * will-it-scale page_fault1/2/3 and mmap1, one task.
 *   faults pf1 VARIANT   private anonymous: mmap, write 1 byte per 4 KiB page, munmap
 *   faults pf2 VARIANT   private file (COW) on a tmpfs file of the same size
 *   faults pf3 VARIANT   shared file on a tmpfs file of the same size
 *   faults mmap1 VARIANT mmap + munmap of anonymous memory, no faults
 * One repetition = one mmap..munmap cycle over BENCH_MB (pf*) or
 * BENCH_MMAP_OPS cycles (mmap1); timed from before mmap to after munmap.
 * tmpfs directory: $BENCH_TMPDIR (default /dev/shm).
 */
#include "bench.h"
#include <sys/vfs.h>

#ifndef TMPFS_MAGIC
#define TMPFS_MAGIC 0x01021994
#endif

static int tmpfs_file(size_t len)
{
	const char *dir = getenv("BENCH_TMPDIR");
	char path[512];
	struct statfs sf;
	int fd;

	if (!dir || !*dir)
		dir = "/dev/shm";
	if (statfs(dir, &sf))
		bench_fail("statfs %s: %s", dir, strerror(errno));
	if (sf.f_type != TMPFS_MAGIC)
		bench_fail("%s is not tmpfs (f_type %#lx)", dir, (unsigned long)sf.f_type);
	snprintf(path, sizeof(path), "%s/bench-pf.XXXXXX", dir);
	fd = mkstemp(path);
	if (fd < 0)
		bench_fail("mkstemp %s: %s", path, strerror(errno));
	unlink(path);
	if (ftruncate(fd, len))
		bench_fail("ftruncate %zu: %s", len, strerror(errno));
	return fd;
}

/* one page_fault{1,2,3} repetition: pages/s */
static double pf_rep(int kind, int fd, size_t len)
{
	uint64_t t0, t1;
	char *p;

	t0 = now_ns();
	if (kind == 1)
		p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	else
		p = mmap(NULL, len, PROT_READ | PROT_WRITE, kind == 2 ? MAP_PRIVATE : MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		bench_fail("mmap %zu: %s", len, strerror(errno));
	touch_pages(p, len);
	if (munmap(p, len))
		bench_fail("munmap: %s", strerror(errno));
	t1 = now_ns();
	return (double)(len / PS) * 1e9 / (double)(t1 - t0);
}

static double mmap1_rep(size_t len, long ops)
{
	uint64_t t0, t1;
	long i;

	t0 = now_ns();
	for (i = 0; i < ops; i++) {
		char *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

		if (p == MAP_FAILED)
			bench_fail("mmap %zu: %s", len, strerror(errno));
		if (munmap(p, len))
			bench_fail("munmap: %s", strerror(errno));
	}
	t1 = now_ns();
	return (double)(t1 - t0) / (double)ops;
}

int main(int argc, char **argv)
{
	int reps = bench_reps(), warm = bench_warmup(), kind, fd = -1, i;
	long ops = env_long("BENCH_MMAP_OPS", 1000, 1, 100000000);
	size_t len = bench_bytes();
	double v[MAXREPS];
	char name[128];

	if (argc != 3)
		bench_fail("usage: faults pf1|pf2|pf3|mmap1 VARIANT");
	if (!strcmp(argv[1], "pf1"))
		kind = 1;
	else if (!strcmp(argv[1], "pf2"))
		kind = 2;
	else if (!strcmp(argv[1], "pf3"))
		kind = 3;
	else if (!strcmp(argv[1], "mmap1"))
		kind = 0;
	else
		bench_fail("unknown benchmark %s", argv[1]);
	if (kind >= 2)
		fd = tmpfs_file(len);

	for (i = -warm; i < reps; i++) {
		double x = kind ? pf_rep(kind, fd, len) : mmap1_rep(len, ops);

		if (i >= 0)
			v[i] = x;
	}
	if (kind) {
		snprintf(name, sizeof(name), "%s.%s.pages_per_s", argv[1], argv[2]);
		metric(name, "pages/s", "higher", v, reps);
	} else {
		snprintf(name, sizeof(name), "%s.%s.ns_per_op", argv[1], argv[2]);
		metric(name, "ns/op", "lower", v, reps);
	}
	return 0;
}
