// SPDX-License-Identifier: GPL-2.0
/*
 * fork() of a process with an attached device and peer-shared memory.
 * Expected (MAP_PRIVATE semantics): the child sees a snapshot of the
 * parent's memory, including pages that live in device memory, and writes
 * on either side stay private.  The child is not attached to the device.
 */
#include "gmem_util.h"

static char buf[4 * 4096];

struct fork_arg {
	char *p;
	int fd;
};

/* child: pages the parent wrote on the CPU */
static int child_read_cpu(void *a)
{
	struct fork_arg *f = a;
	int i;

	for (i = 0; i < 4; i++)
		if (check(f->p + i * PS, PS, 10 + i) >= 0)
			return 10 + i;
	fill(f->p, PS, 99);	/* COW write */
	return check(f->p, PS, 99) < 0 ? 0 : 20;
}

static void t_child_sees_cpu_pages(struct kt *t)
{
	int fd = dev_attach(t);
	char *p = ps_map_or_die(t, 16 * PS, 0);
	struct fork_arg a = { p, fd };
	int i, rc;

	for (i = 0; i < 4; i++)
		fill(p + i * PS, PS, 10 + i);
	rc = run_child(t, "child", 20, child_read_cpu, &a);
	KT_EXPECT(t, rc == 0, "child: %s (code %d)",
		  rc >= 10 && rc < 20 ? "CPU-written page differs in the child" :
		  rc == 20 ? "COW write failed" : "abnormal exit", rc);
	KT_EXPECT(t, check(p, PS, 10) < 0, "child's COW write leaked into the parent");
}

static int child_touch_new(void *a)
{
	struct fork_arg *f = a;

	if (check_zero(f->p + 8 * PS, PS) >= 0)
		return 1;
	fill(f->p + 9 * PS, PS, 5);
	return check(f->p + 9 * PS, PS, 5) < 0 ? 0 : 2;
}

/* the child faults pages the parent never touched */
static void t_child_touches_new_pages(struct kt *t)
{
	int fd = dev_attach(t);
	char *p = ps_map_or_die(t, 16 * PS, 0);
	struct fork_arg a = { p, fd };
	int rc;

	p[0] = 1;
	rc = run_child(t, "child faulting an untouched peer-shared page", 20, child_touch_new, &a);
	KT_EXPECT(t, rc == 0, "child could not use an untouched inherited peer-shared page (code %d)", rc);
	KT_EXPECT(t, check_zero(p + 9 * PS, PS) < 0, "child's write visible in the parent");
}

static int child_read_dev(void *a)
{
	struct fork_arg *f = a;

	return check(f->p + 5 * PS, PS, 55) < 0 ? 0 : 1;
}

/* a page in device memory at fork time must be visible to the child */
static void t_child_sees_device_page(struct kt *t)
{
	int fd = dev_attach(t);
	char *p = ps_map_or_die(t, 16 * PS, 0);
	struct fork_arg a = { p, fd };
	int r, rc;

	fill(buf, PS, 55);
	r = dev_write(fd, p + 5 * PS, buf, PS);
	KT_ASSERT(t, r == 0, "device write: %s", strerror(-r));
	rc = run_child(t, "child reading a device-resident page", 20, child_read_dev, &a);
	KT_EXPECT(t, rc == 0, "child did not see the parent's device-resident data (code %d)", rc);
	/* the parent still sees it */
	KT_EXPECT(t, check(p + 5 * PS, PS, 55) < 0, "parent lost its device-written page after fork");
}

static int child_mmap_ps(void *a)
{
	char *q = ps_mmap(NULL, 4 * PS, 0);

	(void)a;
	if (q == MAP_FAILED)
		return 100 + (errno & 0x3f);
	q[0] = 1;
	return vma_has_flag(0, q, "ps") == 1 ? 1 : 2;
}

/*
 * The child is not attached to any device: mmap(MAP_PEER_SHARED) in it must
 * behave as in a never-attached process, and attaching the child must not
 * find the parent's gm_as.
 */
static void t_child_not_attached(struct kt *t)
{
	int base, rc, fd;
	struct fork_arg a = { 0 };

	base = run_child(t, "unattached process", 20, child_mmap_ps, &a);
	fd = dev_attach(t);
	rc = run_child(t, "child of an attached process", 20, child_mmap_ps, &a);
	kt_diag(t, "mmap(MAP_PEER_SHARED): never-attached process -> %d, child of attached -> %d "
		"(1: ps VMA, 2: plain VMA, 100+errno: failed)", base, rc);
	KT_EXPECT(t, rc == base, "child of an attached process behaves as attached "
		  "(it inherited the parent's mm->gm_as)");
	(void)fd;
}

static int child_attach(void *a)
{
	struct gmem_test_attach at = { .mode = GMEM_TEST_MODE_COHERENT_EXCL, .activate = 1 };
	int fd = dev_open();

	(void)a;
	if (fd < 0)
		return 2;
	if (ioctl(fd, GMEM_TEST_IOC_ATTACH, &at))
		return 3;
	return (at.out_flags & GMEM_TEST_ATTACH_F_INHERITED_AS) ? 1 : 0;
}

static void t_child_attach_own_as(struct kt *t)
{
	int fd = dev_attach(t), rc;
	struct gmem_test_stats s0 = dev_stats(fd), s1;

	ps_map_or_die(t, 4 * PS, 0)[0] = 1;
	rc = run_child(t, "child attaching itself", 20, child_attach, NULL);
	s1 = dev_stats(fd);
	KT_EXPECT(t, rc == 0, "%s (code %d)", rc == 1 ?
		  "at attach, the child's mm->gm_as already pointed to the parent's gm_as (copied by fork "
		  "without a reference)" : "child attach failed", rc);
	KT_EXPECT(t, s1.unknown_mm == s0.unknown_mm,
		  "%llu gm_mmu callbacks were made for an mm that never attached (the child)",
		  (unsigned long long)(s1.unknown_mm - s0.unknown_mm));
}

/* the fd inherited by the child must not give device access to the parent's mm */
static int child_use_fd(void *a)
{
	struct fork_arg *f = a;
	char b[64];

	return dev_read(f->fd, f->p, b, sizeof(b)) == -EPERM ? 0 : 1;
}

static void t_parent_ok_after_child_exit(struct kt *t)
{
	int fd = dev_attach(t);
	char *p = ps_map_or_die(t, 16 * PS, 0);
	struct fork_arg a = { p, fd };
	int i, r;

	fill(p, 4 * PS, 70);
	fill(buf, PS, 71);
	r = dev_write(fd, p + 4 * PS, buf, PS);
	KT_ASSERT(t, r == 0, "device write: %s", strerror(-r));
	for (i = 0; i < 5; i++)
		run_child(t, "child", 20, child_use_fd, &a);
	KT_EXPECT(t, check(p, 4 * PS, 70) < 0, "parent CPU pages corrupted after children exited");
	r = dev_read(fd, p + 4 * PS, buf, PS);
	KT_EXPECT(t, r == 0 && check(buf, PS, 71) < 0, "parent device page lost after children exited (r=%d)", r);
}

static const struct kt_case cases[] = {
	KT_CASE_B(t_child_sees_cpu_pages, 0, "dup_mm"),
	KT_CASE_B(t_child_touches_new_pages, 0, "dup_mm"),
	KT_CASE_B(t_child_sees_device_page, 0, "dup_mm"),
	KT_CASE_B(t_child_not_attached, 0, "dup_mm"),
	KT_CASE_B(t_child_attach_own_as, 0, "dup_mm"),
	KT_CASE_B(t_parent_ok_after_child_exit, 0, "exit_mmap"),
	{}
};

int main(void)
{
	return kt_main("fork", cases, prereq_dev);
}
