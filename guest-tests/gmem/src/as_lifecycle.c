// SPDX-License-Identifier: GPL-2.0
/*
 * Peer address-space lifecycles (RFC 3/6 gm_as_create/gm_as_attach/
 * gm_as_destroy) across two devices and processes, repeated, in every order.
 * The cover letter: "Call gm_as_create() to create a new GMEM address space
 * ... Call gm_as_attach() to attach the device context to a gmem address
 * space"; 5/6: mmap(MAP_PEER_SHARED) gives "a coherent view of memory ...
 * between the CPU and all attached devices".
 *
 * ATTACH of /dev/gmem_test (device 0) or /dev/gmem_test1 (device 1) creates
 * the mm's gm_as on first use and attaches the device; DETACH drops the
 * device's use and gm_as_destroy()s the gm_as with the last one.  Every
 * subtest brings device pages back to the CPU before it exits (an exit with
 * device pages oopses on the RFC, see lifetime).
 */
#include "gmem_util.h"

static const char *const devs[2] = { GMEM_TEST_DEV, GMEM_TEST_DEV1 };
static char buf[PS];

/*
 * device `fd` writes seed into page p and reads it back; then the CPU touches
 * the page so that no device page is left at exit.  What the CPU reads is not
 * checked here (t_two_devices_share_page does): on the RFC every device-to-CPU
 * fault loses the data (gm_host_fault_locked() looks up the wrong address), and
 * this workload is about address-space lifecycles.
 */
static int roundtrip(struct kt *t, int fd, char *p, unsigned seed, const char *what)
{
	static char got[PS];
	int r;

	fill(buf, PS, seed);
	r = dev_write(fd, p, buf, PS);
	if (!r)
		r = dev_read(fd, p, got, PS);
	(void)*(volatile char *)p;
	if (r) {
		kt_fail(t, "%s: device access: %s", what, strerror(-r));
		return -1;
	}
	if (check(got, PS, seed) >= 0) {
		kt_fail(t, "%s: the device does not read back what it wrote", what);
		return -1;
	}
	return 0;
}

static void detach(struct kt *t, int fd)
{
	KT_ASSERT(t, ioctl(fd, GMEM_TEST_IOC_DETACH) == 0, "DETACH: %s", strerror(errno));
}

/* 40 x attach, use, detach, close on one device in one process */
static void t_attach_detach_loop(struct kt *t)
{
	struct gmem_test_stats s0, s1;
	int i, fd = dev_attach(t);

	s0 = s1 = dev_stats(fd);
	detach(t, fd);
	close(fd);
	for (i = 0; i < 40 && t->status != KT_FAIL; i++) {
		fd = dev_attach(t);
		roundtrip(t, fd, ps_map_or_die(t, 4 * PS, 0), 10 + i, "loop");
		detach(t, fd);
		s1 = dev_stats(fd);
		close(fd);
	}
	KT_ASSERT(t, t->status != KT_FAIL, "stopped at iteration %d", i);
	kt_diag(t, "40 attach/detach: pmap_create %llu, pmap_destroy %llu, contexts %llu",
		(unsigned long long)(s1.pmap_create - s0.pmap_create),
		(unsigned long long)(s1.pmap_destroy - s0.pmap_destroy),
		(unsigned long long)s1.contexts);
	KT_EXPECT(t, s1.pmap_destroy - s0.pmap_destroy == s1.pmap_create - s0.pmap_create,
		  "gm_as_destroy() freed %llu device contexts without pmap_destroy(): the device"
		  " never learns its page table is gone",
		  (unsigned long long)(s1.pmap_create - s0.pmap_create - s1.pmap_destroy + s0.pmap_destroy));
}

/* both devices on one gm_as, attached and detached in all four orders, 5 rounds */
static void t_two_devices_every_order(struct kt *t)
{
	int round, order, fd[2], first, last, r;
	struct gmem_test_attach a = { .mode = GMEM_TEST_MODE_COHERENT_EXCL, .activate = 1 };

	for (round = 0; round < 5; round++) {
		for (order = 0; order < 4 && t->status != KT_FAIL; order++) {
			char *p;

			first = order & 1;		/* attach first */
			last = (order >> 1) & 1;	/* detach first */
			fd[first] = dev_attach_path(t, devs[first]);
			fd[!first] = open(devs[!first], O_RDWR | O_CLOEXEC);
			KT_ASSERT(t, fd[!first] >= 0, "open %s: %s", devs[!first], strerror(errno));
			r = ioctl(fd[!first], GMEM_TEST_IOC_ATTACH, &a);
			KT_ASSERT(t, r == 0, "second ATTACH: %s", strerror(errno));
			KT_EXPECT(t, a.out_flags & GMEM_TEST_ATTACH_F_REUSED_AS,
				  "the second device did not join the mm's gm_as (flags %#x)", a.out_flags);
			p = ps_map_or_die(t, 4 * PS, 0);	/* mmap(PEER_SHARED) needs a gm_as */
			roundtrip(t, fd[0], p, 20 + order, "device 0 with both attached");
			roundtrip(t, fd[1], p + PS, 30 + order, "device 1 with both attached");
			detach(t, fd[last]);
			roundtrip(t, fd[!last], p + 2 * PS, 40 + order, "the device left attached");
			detach(t, fd[!last]);
			close(fd[0]);
			close(fd[1]);
		}
	}
	kt_diag(t, "stopped in round %d, order %d", round, order);
}

/*
 * 5/6's promise is one coherent view for the CPU and *all* attached devices:
 * what device 0 wrote, device 1 must read.
 */
static void t_two_devices_share_page(struct kt *t)
{
	int fd0 = dev_attach(t), fd1 = dev_attach_path(t, GMEM_TEST_DEV1), r;
	char *p = ps_map_or_die(t, 4 * PS, 0);
	static char got[PS];
	long bad;

	fill(buf, PS, 51);
	r = dev_write(fd0, p, buf, PS);
	KT_ASSERT(t, r == 0, "device 0 write: %s", strerror(-r));
	r = dev_read(fd1, p, got, PS);
	KT_ASSERT(t, r == 0, "device 1 read: %s", strerror(-r));
	bad = check(got, PS, 51);
	KT_EXPECT(t, bad < 0, "device 1 reads word %ld as %#x, device 0 wrote %#x: the page was"
		  " mapped into device 1 without copying it from device 0", bad,
		  ((uint32_t *)got)[bad < 0 ? 0 : bad], expect_word(51, bad));
	bad = check(p, PS, 51);
	KT_EXPECT(t, bad < 0, "the CPU reads word %ld as %#x after both devices touched the page,"
		  " expected device 0's %#x", bad, ((uint32_t *)p)[bad < 0 ? 0 : bad],
		  expect_word(51, bad));
	diag_stats(t, fd0);
	diag_stats(t, fd1);
}

struct forked {
	int go[2];	/* parent -> child: the parent has detached */
};

/* child: mmap(MAP_PEER_SHARED) after the parent destroyed the gm_as fork copied */
static int child_after_parent_destroyed(void *arg)
{
	struct forked *f = arg;
	char c, *p;

	if (read(f->go[0], &c, 1) != 1)
		return 90;
	p = ps_mmap(NULL, 16 * PS, 0);
	if (p == MAP_FAILED)
		return 100 + errno;
	memset(p, 7, 16 * PS);
	return vma_has_flag(0, p, "ps") == 1 ? 1 : 2;
}

static void t_fork_then_parent_destroys(struct kt *t)
{
	struct forked f;
	struct gmem_test_stats s0, s1;
	int fd = dev_attach(t), rc, st;
	pid_t pid;

	ps_map_or_die(t, 4 * PS, 0)[0] = 1;
	KT_ASSERT(t, pipe(f.go) == 0, "pipe");
	fflush(NULL);
	pid = fork();
	KT_ASSERT(t, pid >= 0, "fork: %s", strerror(errno));
	if (pid == 0)
		_exit(child_after_parent_destroyed(&f));
	detach(t, fd);		/* last use: gm_as_destroy() */
	s0 = dev_stats(fd);
	KT_ASSERT(t, write(f.go[1], "g", 1) == 1, "pipe write");
	st = kt_wait_timeout(t, pid, 20, "child");
	KT_ASSERT(t, st >= 0 && !kt_check_child(t, st, "child"), "child died or hung");
	rc = WEXITSTATUS(st);
	s1 = dev_stats(fd);
	kt_diag(t, "child mmap(MAP_PEER_SHARED) after the parent's gm_as_destroy(): %d"
		" (1: ps VMA, 2: plain VMA, 100+errno: failed)", rc);
	KT_EXPECT(t, s1.unknown_mm == s0.unknown_mm,
		  "%llu gm_mmu callbacks for the child, which never attached: its mm->gm_as (copied"
		  " by fork) still points to the parent's destroyed gm_as",
		  (unsigned long long)(s1.unknown_mm - s0.unknown_mm));
	KT_EXPECT(t, rc == 1 || rc == 2 || rc == 100 + ENODEV, "child: code %d", rc);
}

/* 8 children each attach device 1 themselves, use it and exit; the parent stays attached */
static int child_attach_use_exit(void *arg)
{
	struct kt tt = { 0 };
	int fd = dev_attach_path(&tt, GMEM_TEST_DEV1);
	char *p = ps_map_or_die(&tt, 4 * PS, 0);

	(void)arg;
	if (roundtrip(&tt, fd, p, 61, "child") || tt.status == KT_FAIL)
		return 1;
	detach(&tt, fd);
	return tt.status == KT_FAIL ? 2 : 0;
}

static void t_children_attach_while_parent_attached(struct kt *t)
{
	int fd = dev_attach(t), i, rc;
	char *p = ps_map_or_die(t, 4 * PS, 0);
	struct gmem_test_stats s0 = dev_stats(fd), s1;
	long bad;

	fill(buf, PS, 62);
	KT_ASSERT(t, dev_write(fd, p, buf, PS) == 0, "parent device write");
	for (i = 0; i < 8; i++) {
		rc = run_child(t, "child", 20, child_attach_use_exit, NULL);
		KT_EXPECT(t, rc == 0, "child %d: code %d", i, rc);
	}
	s1 = dev_stats(fd);
	KT_EXPECT(t, dev_read(fd, p, buf, PS) == 0, "parent device read");
	bad = check(buf, PS, 62);
	KT_EXPECT(t, bad < 0, "parent's device page lost after 8 children attached and exited");
	(void)*(volatile char *)p;
	KT_EXPECT(t, s1.unknown_mm == s0.unknown_mm, "%llu callbacks for an mm with no pmap",
		  (unsigned long long)(s1.unknown_mm - s0.unknown_mm));
}

/* a child attaches both devices and exits without DETACH (its fds close at exit) */
static int child_exit_attached(void *arg)
{
	struct kt tt = { 0 };
	int fd0 = dev_attach(&tt), fd1 = dev_attach_path(&tt, GMEM_TEST_DEV1);
	char *p = ps_map_or_die(&tt, 8 * PS, 0);

	(void)arg;
	(void)fd0;
	(void)fd1;
	memset(p, 3, 8 * PS);	/* CPU pages only: no device pages at exit */
	return tt.status == KT_FAIL ? 1 : 0;
}

static void t_exit_attached_to_two(struct kt *t)
{
	int fd = dev_open(), i, rc;
	struct gmem_test_stats s0, s1;

	KT_ASSERT(t, fd >= 0, "open: %s", strerror(errno));
	s0 = dev_stats(fd);
	for (i = 0; i < 10; i++) {
		rc = run_child(t, "child", 20, child_exit_attached, NULL);
		KT_EXPECT(t, rc == 0, "child %d: code %d", i, rc);
	}
	s1 = dev_stats(fd);
	KT_EXPECT(t, s1.contexts == s0.contexts, "%llu device contexts left after the children exited",
		  (unsigned long long)(s1.contexts - s0.contexts));
}

static const struct kt_case cases[] = {
	KT_CASE_B(t_attach_detach_loop, 60, "gm_as_destroy"),
	KT_CASE_B(t_two_devices_every_order, 60, "gm_as_attach"),
	KT_CASE_B(t_two_devices_share_page, 0, "gm_dev_fault"),
	KT_CASE_B(t_fork_then_parent_destroys, 0, "dup_mm"),
	KT_CASE_B(t_children_attach_while_parent_attached, 60, "gm_as_attach"),
	KT_CASE_B(t_exit_attached_to_two, 60, "gm_as_destroy"),
	{}
};

int main(void)
{
	return kt_main("as_lifecycle", cases, prereq_dev);
}
