// SPDX-License-Identifier: GPL-2.0
/*
 * munmap() and exit() release everything: GMEM's logical-page-table objects
 * (gm_mapping / vm_object slab caches), CPU pages and device pages, and the
 * peer VA reserved through peer_va_alloc_fixed().
 */
#include "gmem_util.h"

#define ITER 16
#define NPG 1024	/* 4 MiB per iteration */

static long slab_total(void)
{
	long a = slab_objects("gm_mapping");

	return a;
}

/* munmap of CPU-faulted peer-shared ranges must free their gm_mappings */
static void t_munmap_no_slab_leak(struct kt *t)
{
	int fd = dev_attach(t), i, j;
	long before, after;
	char *p;

	/* warm up: vm_object creation, caches */
	p = ps_map_or_die(t, NPG * PS, 0);
	for (j = 0; j < NPG; j++)
		p[j * PS] = 1;
	KT_ASSERT(t, munmap(p, NPG * PS) == 0, "munmap: %s", strerror(errno));
	before = slab_total();
	if (before < 0)
		kt_skip(t, "no gm_mapping slab cache visible in /proc/slabinfo or /sys/kernel/slab");
	for (i = 0; i < ITER; i++) {
		p = ps_map_or_die(t, NPG * PS, 0);
		for (j = 0; j < NPG; j++)
			p[j * PS] = 1;
		KT_ASSERT(t, munmap(p, NPG * PS) == 0, "munmap: %s", strerror(errno));
	}
	after = slab_total();
	kt_diag(t, "gm_mapping objects %ld -> %ld after %d x mmap/touch %d pages/munmap",
		before, after, ITER, NPG);
	KT_EXPECT(t, after - before < NPG / 2, "%ld gm_mapping objects leaked (%d pages faulted in total)",
		  after - before, ITER * NPG);
	(void)fd;
}

static int child_fault_and_exit(void *a)
{
	struct kt tt = { 0 };
	int fd = dev_attach(&tt), j;
	char *p = ps_map_or_die(&tt, NPG * PS, 0);

	for (j = 0; j < NPG; j++)
		p[j * PS] = 1;
	(void)a;
	(void)fd;
	return 0;	/* exit without munmap */
}

static int child_dev_and_exit(void *a)
{
	struct kt tt = { 0 };
	int fd = dev_attach(&tt), r;
	char *p = ps_map_or_die(&tt, 64 * PS, 0);

	p[0] = 1;
	r = dev_fault(fd, p + 8 * PS, 16, NULL);
	*(volatile int *)a = 1;		/* reached the end */
	return r ? 1 : 0;	/* exit with 16 device pages, without munmap */
}

/* a process holding device pages must be able to exit, and the device memory is released */
static void t_exit_with_device_pages(struct kt *t)
{
	volatile int *reached = mmap(NULL, PS, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	struct gmem_test_stats st;
	int fd = dev_open(), rc;
	unsigned long long before;

	KT_ASSERT(t, fd >= 0, "open: %s", strerror(errno));
	before = dev_stats(fd).dev_pages_total;
	rc = run_child(t, "child exiting with 16 device pages", 30, child_dev_and_exit, (void *)reached);
	if (rc < 0)
		kt_diag(t, "the child %s its work before getting stuck", *reached ? "had finished" : "had not finished");
	KT_EXPECT(t, rc == 0, "child with device-resident pages did not exit normally (code %d)", rc);
	st = dev_stats(fd);
	KT_EXPECT(t, st.dev_pages_total == before, "device pages held: %llu before, %llu after the child exited",
		  before, (unsigned long long)st.dev_pages_total);
}

static void t_exit_no_leak(struct kt *t)
{
	long s0, s1, v0, v1, m0, m1;
	int i, rc, fd;
	struct gmem_test_stats st;

	run_child(t, "warm-up child", 30, child_fault_and_exit, NULL);
	drop_caches();
	s0 = slab_objects("gm_mapping");
	v0 = slab_objects("vm_object");
	m0 = meminfo("MemAvailable");
	for (i = 0; i < ITER; i++) {
		rc = run_child(t, "child", 30, child_fault_and_exit, NULL);
		if (rc) {
			kt_fail(t, "child %d failed (code %d)", i, rc);
			kt_done(t);
		}
	}
	drop_caches();
	s1 = slab_objects("gm_mapping");
	v1 = slab_objects("vm_object");
	m1 = meminfo("MemAvailable");
	kt_diag(t, "after %d exiting children (each %d CPU pages): gm_mapping %ld -> %ld, "
		"vm_object %ld -> %ld, MemAvailable %ld -> %ld kB", ITER, NPG, s0, s1, v0, v1, m0, m1);
	if (s0 >= 0)
		KT_EXPECT(t, s1 - s0 < NPG / 2, "%ld gm_mapping objects leaked by %d exited processes",
			  s1 - s0, ITER);
	if (v0 >= 0)
		KT_EXPECT(t, v1 - v0 < ITER / 2, "%ld vm_object objects leaked", v1 - v0);
	KT_EXPECT(t, m0 - m1 < 8 * 1024, "MemAvailable dropped by %ld kB (%d x %d KiB touched)",
		  m0 - m1, ITER, NPG * 4);
	(void)fd;
	(void)st;
}

/* peer_va_alloc_fixed() at mmap must be balanced by peer_va_free() at munmap */
static void t_peer_va_balanced(struct kt *t)
{
	int fd = dev_attach(t), i;
	struct gmem_test_stats s0 = dev_stats(fd), s1;
	char *p;

	for (i = 0; i < 8; i++) {
		p = ps_map_or_die(t, 16 * PS, 0);
		p[0] = 1;
		KT_ASSERT(t, munmap(p, 16 * PS) == 0, "munmap: %s", strerror(errno));
	}
	s1 = dev_stats(fd);
	kt_diag(t, "8 x mmap/munmap: peer_va_alloc_fixed %llu, peer_va_free %llu",
		(unsigned long long)(s1.va_alloc - s0.va_alloc),
		(unsigned long long)(s1.va_free - s0.va_free));
	KT_EXPECT(t, s1.va_alloc - s0.va_alloc == 8, "peer_va_alloc_fixed called %llu times for 8 mmaps",
		  (unsigned long long)(s1.va_alloc - s0.va_alloc));
	KT_EXPECT(t, s1.va_free - s0.va_free == s1.va_alloc - s0.va_alloc,
		  "peer VA never released: %llu peer_va_free for %llu peer_va_alloc_fixed",
		  (unsigned long long)(s1.va_free - s0.va_free),
		  (unsigned long long)(s1.va_alloc - s0.va_alloc));
}

/* munmap of a range without peer-shared VMAs in an attached process */
static void t_munmap_plain_when_attached(struct kt *t)
{
	int fd = dev_attach(t);
	char *q = mmap(NULL, 16 * PS, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	ps_map_or_die(t, 4 * PS, 0)[0] = 1;	/* mm->vm_obj exists now */
	KT_ASSERT(t, q != MAP_FAILED, "mmap");
	q[0] = 1;
	KT_EXPECT(t, munmap(q, 16 * PS) == 0, "munmap of a plain VMA: %s", strerror(errno));
	(void)fd;
}

/* DETACH then use the memory on the CPU */
static void t_detach_then_cpu(struct kt *t)
{
	int fd = dev_attach(t);
	char *p = ps_map_or_die(t, 8 * PS, 0);
	static char b[PS];
	int r;

	fill(p, PS, 1);
	fill(b, PS, 2);
	r = dev_write(fd, p + PS, b, PS);
	KT_ASSERT(t, r == 0, "device write: %s", strerror(-r));
	KT_ASSERT(t, ioctl(fd, GMEM_TEST_IOC_DETACH) == 0, "DETACH: %s", strerror(errno));
	KT_EXPECT(t, check(p, PS, 1) < 0, "CPU page after detach");
	KT_EXPECT(t, check(p + PS, PS, 2) < 0, "device-written page after detach");
	fill(p + 2 * PS, PS, 3);
	KT_EXPECT(t, check(p + 2 * PS, PS, 3) < 0, "new CPU page after detach");
}

static const struct kt_case cases[] = {
	KT_CASE_B(t_munmap_plain_when_attached, 20, "munmap_in_peer_devices"),
	KT_CASE_B(t_peer_va_balanced, 20, "munmap_in_peer_devices"),
	KT_CASE_B(t_munmap_no_slab_leak, 60, "free_gm_mappings"),
	KT_CASE_B(t_exit_no_leak, 300, "vm_object_drop_locked"),
	KT_CASE_B(t_exit_with_device_pages, 60, "unmap_gm_mappings_range"),
	KT_CASE_T(t_detach_then_cpu, 30),
	{}
};

int main(void)
{
	return kt_main("lifetime", cases, prereq_dev);
}
