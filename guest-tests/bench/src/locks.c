// SPDX-License-Identifier: GPL-2.0
/*
 * Serialization: how much of each mm operation runs holding a lock that
 * every concurrent task doing the same operation must take too.  Needs a
 * kernel with CONFIG_LOCK_STAT and CONFIG_HIST_TRIGGERS (the lock:lock_acquired
 * trace event); skips otherwise.
 *
 *   locks SCENARIO...     SCENARIO: anon4k thp shmfile mmap fork peer vmobj_munmap
 *
 * Per scenario, two measurements:
 *  1. Which lock instances are shared, from data.  Two tasks (two threads of
 *     one process, then two processes), pinned to two CPUs, run the
 *     operation on disjoint memory while a hist trigger on lock:lock_acquired
 *     counts acquisitions per (lock instance, task).  An instance both tasks
 *     took is shared.  Per class name: f = acquisitions of shared instances /
 *     all acquisitions.  lock_acquired is the event of real locks (spinlocks,
 *     rwlocks, mutexes, rwsems); lockdep's annotations (fs_reclaim, RCU, wait
 *     type overrides) only have lock_acquire, so they never count as locks.
 *     Trylocks have no lock_acquired either: a lock only ever trylocked is not
 *     seen.  Memory is held until the table is read, so a freed instance
 *     cannot come back as the other task's.
 *  2. What the locks cost, per repetition: one task alone runs the operation
 *     with /proc/lock_stat reset right before; per class, the exclusive
 *     (write) hold time and acquisitions.  Read holds do not exclude other
 *     readers and are not counted.
 * Then per repetition: s = sum over classes of f x hold / window time, the
 * serial fraction of the operation (Amdahl); printed in percent.
 * lock_stat counts every task: a kworker or a daemon taking a class of the
 * window (lru_lock, any mm's mmap_lock) during it only adds hold time, never
 * removes any.  So the boot's figure is its cleanest window, the one with
 * the least s; every window's s is printed as info.
 *
 * Output (../README.md):
 *   # metric: lock.SCEN.MODE.serial_pct pp lower V
 *   # metric: lock.SCEN.MODE.shared_acq_per_op acq/op lower V
 *   # lock: SCEN.MODE CLASS ACQ_PER_OP SHARED_PCT HOLD_NS_PER_OP SERIAL_PCT
 *   # info: lock.SCEN.MODE.windows=S1 .. Sk
 * MODE is threads or procs.  Class names are lockdep's, without the "#N"
 * and "/N" suffixes (their numbering differs between kernels).
 * A "lock debugging disabled" header in /proc/lock_stat (lockdep turned
 * itself off) or a hist table that dropped entries makes the scenario fail:
 * its figures would be wrong, not small.
 *
 * Env: BENCH_REPS, BENCH_WARMUP, BENCH_LOCK_MB (16: memory per task),
 * BENCH_LOCK_MMAP_OPS (300), BENCH_LOCK_FORKS (20), BENCH_PEER_TIMEOUT.
 */
#include "bench.h"

#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <sys/mount.h>

#define TRACE "/sys/kernel/tracing"
#define TRIGGER TRACE "/events/lock/lock_acquired/trigger"
#define HIST TRACE "/events/lock/lock_acquired/hist"
#define NAMELEN 37	/* lock_stat prints at most 37 characters of a name */
#define CUT 33		/* and 33 when it adds a version and a subclass */
#define MAXCLASS 1024
#define MAXINST (1 << 16)
#define THP (2 * MB)
#define SMALL (64 * 1024)
#define TOP 8

enum scen { ANON4K, THPF, SHMFILE, MMAPOP, FORKOP, PEER, VMOBJ, NSCEN };
static const char *const scen_names[NSCEN] = {
	"anon4k", "thp", "shmfile", "mmap", "fork", "peer", "vmobj_munmap",
};

static int reps, warm, ncpu, timeout_s;
static size_t len;
static long mmap_ops, forks;
static int shm_fd = -1;

/* ---- per-class tables ---------------------------------------------------------- */

struct cls {
	char name[NAMELEN + 1];
	double acq, hold_us;		/* window: exclusive acquisitions and hold time */
	double probe_all, probe_shared;	/* probe: exclusive acquisitions, of shared instances */
};

struct table {
	int n;
	struct cls c[MAXCLASS];
};

/* a lockdep name as a label: "#N" and "/N" dropped, cut to what lock_stat prints */
static void label(char *out, const char *name)
{
	size_t n;

	snprintf(out, NAMELEN + 1, "%s", name);
	n = strlen(out);
	while (n > 2 && (out[n - 2] == '#' || out[n - 2] == '/') &&
	       out[n - 1] >= '0' && out[n - 1] <= '9') {
		n -= 2;
		out[n] = 0;
	}
	out[CUT] = 0;
}

static struct cls *class_of(struct table *t, const char *name)
{
	char key[NAMELEN + 1];
	int i;

	label(key, name);
	for (i = 0; i < t->n; i++)
		if (!strcmp(t->c[i].name, key))
			return &t->c[i];
	if (t->n == MAXCLASS)
		return NULL;
	memset(&t->c[t->n], 0, sizeof(t->c[0]));
	snprintf(t->c[t->n].name, sizeof(t->c[0].name), "%s", key);
	return &t->c[t->n++];
}

/* ---- /proc/lock_stat ------------------------------------------------------------- */

static int lock_stat_reset(void)
{
	int fd = open("/proc/lock_stat", O_WRONLY);
	int ok = fd >= 0 && write(fd, "0", 1) == 1;

	if (fd >= 0)
		close(fd);
	return ok ? 0 : -1;
}

/*
 * Exclusive holds per class into t (acq, hold_us set, the rest kept): "-W" lines
 * and plain lines; "-R" lines are read holds.  Returns -1 with why set when
 * lockdep is off.
 */
static int lock_stat_read(struct table *t, char *why, size_t whylen)
{
	char line[1024];
	FILE *f = fopen("/proc/lock_stat", "r");
	int i;

	for (i = 0; i < t->n; i++)
		t->c[i].acq = t->c[i].hold_us = 0;
	if (!f) {
		snprintf(why, whylen, "/proc/lock_stat: %s", strerror(errno));
		return -1;
	}
	while (fgets(line, sizeof(line), f)) {
		char *colon = strstr(line, ":"), name[256];
		double v[12];
		size_t nl;
		struct cls *c;

		if (strstr(line, "lock debugging disabled")) {
			fclose(f);
			snprintf(why, whylen, "/proc/lock_stat: lock debugging disabled "
				 "(lockdep turned itself off): no lock figures");
			return -1;
		}
		if (!colon || sscanf(colon + 1, "%lf %lf %lf %lf %lf %lf %lf %lf %lf %lf %lf %lf",
				     &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7],
				     &v[8], &v[9], &v[10], &v[11]) != 12)
			continue;
		*colon = 0;
		nl = strspn(line, " ");
		snprintf(name, sizeof(name), "%s", line + nl);
		nl = strlen(name);
		if (nl > 2 && !strcmp(name + nl - 2, "-R"))
			continue;
		if (nl > 2 && !strcmp(name + nl - 2, "-W"))
			name[nl - 2] = 0;
		c = class_of(t, name);
		if (c) {
			c->acq += v[7];
			c->hold_us += v[10];
		}
	}
	fclose(f);
	return 0;
}

/* ---- the operations ----------------------------------------------------------------- */

struct task {
	enum scen sc;
	int cpu;
	int part;		/* which half of the shared file */
	char *mem;
	long ops;
};

static void pin(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	sched_setaffinity(0, sizeof(set), &set);
}

/* set up what the operation needs (not measured); 0 or -1 with a fail-reason printed */
static int op_setup(struct task *t)
{
	if (t->sc == VMOBJ) {	/* the process gets a vm_object: one peer-shared page */
		char *p = map_fresh(PS, MAP_PEER_SHARED);

		if (!p) {
			printf("# fail-reason: mmap(MAP_PEER_SHARED): %s\n", strerror(errno));
			return -1;
		}
		touch_pages(p, PS);
	}
	return 0;
}

/* the measured operations; returns how many were done, -1 with a fail-reason printed */
static long op_run(struct task *t)
{
	long i;
	char *p;

	switch (t->sc) {
	case ANON4K:
	case PEER:
		t->mem = map_fresh(len, t->sc == PEER ? MAP_PEER_SHARED : 0);
		if (!t->mem)
			break;
		touch_pages(t->mem, len);
		return (long)(len / PS);
	case THPF:
		t->mem = map_fresh(len, 0);
		if (!t->mem)
			break;
		madvise(t->mem, len, MADV_HUGEPAGE);
		for (i = 0; i < (long)(len / THP); i++)
			((volatile char *)t->mem)[i * THP] = 1;
		return (long)(len / THP);
	case SHMFILE:
		t->mem = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, shm_fd,
			      (off_t)(t->part * len));
		if (t->mem == MAP_FAILED) {
			t->mem = NULL;
			break;
		}
		touch_pages(t->mem, len);
		return (long)(len / PS);
	case MMAPOP:
	case VMOBJ:
		for (i = 0; i < mmap_ops; i++) {
			p = mmap(NULL, SMALL, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
			if (p == MAP_FAILED)
				goto fail;
			p[0] = 1;
			munmap(p, SMALL);
		}
		return mmap_ops;
	case FORKOP:
		for (i = 0; i < forks; i++) {
			pid_t pid = fork();

			if (pid < 0)
				goto fail;
			if (!pid)
				_exit(0);
			waitpid(pid, NULL, 0);
		}
		return forks;
	case NSCEN:
		break;
	}
fail:
	printf("# fail-reason: %s: %s\n", scen_names[t->sc], strerror(errno));
	return -1;
}

/* memory a task held; never for peer-shared memory (munmap there deadlocks on the RFC) */
static void op_teardown(struct task *t)
{
	if (t->mem && t->sc != PEER)
		munmap(t->mem, len);
	t->mem = NULL;
}

/* ---- 1: which instances both tasks take ---------------------------------------------- */

static int ctl[2], go[2], done[2], rel[2];

static void say(int fd, long v)
{
	if (write(fd, &v, sizeof(v)) != sizeof(v))
		_exit(1);
}

static long hear(int fd)
{
	long v = -1;

	if (read(fd, &v, sizeof(v)) != sizeof(v))
		return -1;
	return v;
}

/* hear(), or -2 after timeout_s */
static long hear_within(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	if (poll(&p, 1, timeout_s * 1000) != 1)
		return -2;
	return hear(fd);
}

/* an empty file of two halves, one per task (tmpfs: faults allocate) */
static void shm_fresh(void)
{
	if (shm_fd >= 0 && (ftruncate(shm_fd, 0) || ftruncate(shm_fd, (off_t)(2 * len))))
		bench_fail("truncating the shared file: %s", strerror(errno));
}

/* a task of the probe: its tid, then wait, operate, report, wait */
static void *probe_task(void *arg)
{
	struct task *t = arg;
	long ops;

	pin(t->cpu);
	say(ctl[1], (long)syscall(SYS_gettid));
	if (hear(go[0]) < 0)
		return NULL;
	ops = op_run(t);
	say(done[1], ops);
	hear(rel[0]);
	op_teardown(t);
	return NULL;
}

static int probe_proc(void *arg)
{
	struct task *t = arg;

	if (t->sc == PEER || t->sc == VMOBJ) {
		if (peer_attach() < 0 || op_setup(t))
			return 1;
	}
	probe_task(t);
	return 0;
}

/* two threads of one process */
static int probe_threads(void *arg)
{
	struct task *t = arg;
	pthread_t th[2];
	int i;

	if ((t[0].sc == PEER || t[0].sc == VMOBJ) && (peer_attach() < 0 || op_setup(&t[0])))
		return 1;
	for (i = 0; i < 2; i++)
		if (pthread_create(&th[i], NULL, probe_task, &t[i]))
			return 1;
	for (i = 0; i < 2; i++)
		pthread_join(th[i], NULL);
	return 0;
}

struct inst {
	unsigned long addr;
	int pid;
	double hits;
	char name[NAMELEN + 1];
};

static struct inst inst[MAXINST];

static int by_addr(const void *a, const void *b)
{
	const struct inst *x = a, *y = b;

	return x->addr < y->addr ? -1 : x->addr > y->addr;
}

/* the hist table into inst[]; returns the count, -1 with why set */
static int hist_read(char *why, size_t whylen)
{
	char line[1024];
	FILE *f = fopen(HIST, "r");
	int n = 0;
	long dropped = 0;

	if (!f) {
		snprintf(why, whylen, "%s: %s", HIST, strerror(errno));
		return -1;
	}
	while (fgets(line, sizeof(line), f)) {
		char *a = strstr(line, "lockdep_addr: "), *p = strstr(line, "common_pid: ");
		char *nm = strstr(line, "name: "), *h = strstr(line, "hitcount: "), *end;

		sscanf(line, " Dropped: %ld", &dropped);
		if (line[0] != '{' || !a || !p || !nm || !h || n == MAXINST)
			continue;
		inst[n].addr = strtoul(a + 14, NULL, 16);
		inst[n].pid = atoi(p + 12);
		inst[n].hits = atof(h + 10);
		nm += 6;
		end = strstr(nm, "}");
		if (end)
			*end = 0;
		nm[strcspn(nm, " ")] = 0;	/* lock names hold no spaces; the padding goes */
		label(inst[n].name, nm);
		n++;
	}
	fclose(f);
	if (dropped) {
		snprintf(why, whylen, "the hist table dropped %ld acquisitions (full)", dropped);
		return -1;
	}
	return n;
}

/*
 * Which share of each class's exclusive acquisitions hit an instance both tasks
 * took, into t->probe_*; the operations per task into *ops.  0, or -1 with why set.
 */
static int probe(enum scen sc, int threads, struct table *t, long *ops, char *why, size_t whylen)
{
	struct task task[2] = { { .sc = sc, .cpu = 0, .part = 0 }, { .sc = sc, .cpu = 1, .part = 1 } };
	char trig[512];
	long tid[2];
	pid_t kid[2] = { 0, 0 };
	int i, j, n, rc = -1;

	if (pipe(ctl) || pipe(go) || pipe(done) || pipe(rel)) {
		snprintf(why, whylen, "pipe: %s", strerror(errno));
		return -1;
	}
	fflush(NULL);
	for (i = 0; i < (threads ? 1 : 2); i++) {
		kid[i] = fork();
		if (kid[i] == 0)
			_exit(threads ? probe_threads(task) : probe_proc(&task[i]));
	}
	for (i = 0; i < 2; i++)
		tid[i] = hear_within(ctl[0]);
	if (tid[0] <= 0 || tid[1] <= 0) {
		snprintf(why, whylen, "a probe task did not start (see the lines above)");
		goto out;
	}
	snprintf(trig, sizeof(trig),
		 "!hist:keys=lockdep_addr.hex,common_pid,name:vals=hitcount:size=65536 "
		 "if common_pid == %ld || common_pid == %ld", tid[0], tid[1]);
	{
		int fd = open(TRIGGER, O_WRONLY);
		int ok = fd >= 0 && write(fd, trig + 1, strlen(trig + 1)) == (ssize_t)strlen(trig + 1);

		if (fd >= 0)
			close(fd);
		if (!ok) {
			snprintf(why, whylen, "hist trigger on lock:lock_acquired: %s "
				 "(kernel without CONFIG_HIST_TRIGGERS?)", strerror(errno));
			goto out;
		}
	}
	say(go[1], 1);
	say(go[1], 1);
	*ops = 0;
	for (i = 0; i < 2; i++) {
		long d = hear_within(done[0]);

		if (d == -2) {
			char stuck[2][400] = { "", "" };

			for (j = 0; j < 2; j++)
				if (kid[j] > 0)
					stuck_thread(kid[j], stuck[j], sizeof(stuck[j]));
			snprintf(why, whylen, "a task still runs after %d s (%s%s%s): a deadlock?",
				 timeout_s, stuck[0], stuck[1][0] ? "; " : "", stuck[1]);
			goto untrigger;
		}
		if (d < 0) {
			snprintf(why, whylen, "a probe task failed (see the lines above)");
			goto untrigger;
		}
		*ops += d;
	}
	n = hist_read(why, whylen);
	if (n < 0)
		goto untrigger;
	qsort(inst, (size_t)n, sizeof(inst[0]), by_addr);
	for (i = 0; i < t->n; i++)
		t->c[i].probe_all = t->c[i].probe_shared = 0;
	for (i = 0; i < n; i = j) {
		int shared = 0;

		for (j = i; j < n && inst[j].addr == inst[i].addr; j++)
			shared |= inst[j].pid != inst[i].pid;
		for (int k = i; k < j; k++) {
			struct cls *c = class_of(t, inst[k].name);

			if (!c)
				continue;
			c->probe_all += inst[k].hits;
			if (shared)
				c->probe_shared += inst[k].hits;
		}
	}
	rc = 0;
untrigger:
	write_file(TRIGGER, trig);
out:
	for (i = 0; i < 2; i++)
		say(rel[1], 1);
	/*
	 * A task stuck in the kernel stays, and so does its process: with one thread in D,
	 * the killed leader is a zombie no waitpid() returns for.  Bounded, so one stuck
	 * scenario ends as its own failure and the boot goes on.
	 */
	for (i = 0; i < 2; i++) {
		char stuck[400];

		if (kid[i] <= 0)
			continue;
		if (rc)
			kill(kid[i], SIGKILL);
		if (!reap_within(kid[i], NULL, rc ? 2000 : timeout_s * 1000) || rc)
			continue;
		stuck_thread(kid[i], stuck, sizeof(stuck));
		kill(kid[i], SIGKILL);
		snprintf(why, whylen, "a task did not exit within %d s of its release (%s)",
			 timeout_s, stuck);
		rc = -1;
	}
	close(ctl[0]), close(ctl[1]), close(go[0]), close(go[1]);
	close(done[0]), close(done[1]), close(rel[0]), close(rel[1]);
	return rc;
}

/* ---- 2: what the locks cost one task ----------------------------------------------------- */

struct window {
	double seconds;
	long ops;
	char why[256];
	struct table t;
};

static struct window *win;	/* shared with the child that measures */
static struct window cleanest[2];	/* per mode, the window with the least s */

static int window_child(void *arg)
{
	struct task t = { .sc = *(enum scen *)arg, .cpu = 0, .part = 0 };
	uint64_t t0;

	pin(0);
	if ((t.sc == PEER || t.sc == VMOBJ) && (peer_attach() < 0 || op_setup(&t)))
		return 1;
	shm_fresh();
	if (lock_stat_reset()) {
		snprintf(win->why, sizeof(win->why), "cannot reset /proc/lock_stat: %s", strerror(errno));
		return 1;
	}
	t0 = now_ns();
	win->ops = op_run(&t);
	win->seconds = (double)(now_ns() - t0) / 1e9;
	if (win->ops < 0)
		return 1;
	if (lock_stat_read(&win->t, win->why, sizeof(win->why)))
		return 1;
	op_teardown(&t);
	return 0;
}

/* ---- per scenario --------------------------------------------------------------------- */

static double serial[2][MAXREPS], acqop[2][MAXREPS];
static struct table probes[2];	/* per mode: the probe's shares */

static int by_serial(const void *a, const void *b)
{
	const struct cls *x = a, *y = b;
	double sx = x->probe_all ? x->hold_us * x->probe_shared / x->probe_all : 0;
	double sy = y->probe_all ? y->hold_us * y->probe_shared / y->probe_all : 0;

	if (sx != sy)
		return sx < sy ? 1 : -1;
	return x->acq < y->acq ? 1 : x->acq > y->acq ? -1 : 0;
}

static double share(const struct table *probe, const char *name)
{
	int i;

	for (i = 0; i < probe->n; i++)
		if (!strcmp(probe->c[i].name, name))
			return probe->c[i].probe_all ? probe->c[i].probe_shared / probe->c[i].probe_all : 0;
	return 0;
}

/* a scenario that cannot give figures: say why, and go on with the next one */
static int __attribute__((format(printf, 2, 3))) failed(enum scen sc, const char *fmt, ...)
{
	va_list ap;

	printf("# fail-reason: %s: ", scen_names[sc]);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
	if (shm_fd >= 0)
		close(shm_fd);
	shm_fd = -1;
	return 1;
}

/* returns the exit code: 0 ok, 1 failed (a fail-reason printed), 4 skipped */
static int scenario(enum scen sc)
{
	static const char *const modes[2] = { "threads", "procs" };
	char why[1024] = "", name[128];
	long probe_ops[2];
	int m, i, k, rc, best[2] = { 0, 0 };

	if (sc == SHMFILE) {
		char path[256];

		snprintf(path, sizeof(path), "%s/locks-shm.%d",
			 getenv("BENCH_TMPDIR") ? getenv("BENCH_TMPDIR") : "/tmp", getpid());
		shm_fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
		if (shm_fd < 0)
			return failed(sc, "%s: %s", path, strerror(errno));
		unlink(path);
	}
	for (m = 0; m < 2; m++) {
		probes[m].n = 0;
		shm_fresh();
		if (probe(sc, m == 0, &probes[m], &probe_ops[m], why, sizeof(why)))
			return failed(sc, "%s: sharing probe: %s", modes[m], why);
	}
	for (i = -warm, k = 0; i < reps; i++) {
		memset(win, 0, sizeof(*win));
		rc = run_child(window_child, &sc, timeout_s);
		if (rc < 0)
			return failed(sc, "%s", child_why);
		if (rc)
			return failed(sc, "%s", win->why[0] ? win->why : "see the lines above");
		if (i < 0)
			continue;
		for (m = 0; m < 2; m++) {
			double held = 0, acq = 0;

			for (int c = 0; c < win->t.n; c++) {
				double f = share(&probes[m], win->t.c[c].name);

				held += f * win->t.c[c].hold_us;
				acq += f * win->t.c[c].acq;
			}
			serial[m][k] = 100.0 * held / 1e6 / win->seconds;
			acqop[m][k] = acq / (double)win->ops;
			if (!k || serial[m][k] < serial[m][best[m]]) {
				best[m] = k;
				cleanest[m] = *win;
			}
		}
		k++;
	}
	for (m = 0; m < 2; m++) {
		struct table *t = &probes[m];
		struct window *w0 = &cleanest[m];

		snprintf(name, sizeof(name), "lock.%s.%s.serial_pct", scen_names[sc], modes[m]);
		metric1(name, "pp", "lower", serial[m][best[m]]);
		snprintf(name, sizeof(name), "lock.%s.%s.shared_acq_per_op", scen_names[sc], modes[m]);
		metric1(name, "acq/op", "lower", acqop[m][best[m]]);
		printf("# info: lock.%s.%s.windows=", scen_names[sc], modes[m]);
		for (i = 0; i < reps; i++)
			printf("%s%.2f", i ? " " : "", serial[m][i]);
		printf("\n");
		/* the cleanest window's classes, with this mode's shares, the heaviest first */
		for (i = 0; i < t->n; i++) {
			struct cls *w = class_of(&w0->t, t->c[i].name);

			t->c[i].acq = w ? w->acq : 0;
			t->c[i].hold_us = w ? w->hold_us : 0;
		}
		for (i = 0; i < w0->t.n; i++) {
			struct cls *c = class_of(t, w0->t.c[i].name);

			if (c && !c->acq && !c->hold_us) {
				c->acq = w0->t.c[i].acq;
				c->hold_us = w0->t.c[i].hold_us;
			}
		}
		qsort(t->c, (size_t)t->n, sizeof(t->c[0]), by_serial);
		for (i = 0; i < t->n && i < TOP; i++) {
			struct cls *c = &t->c[i];
			double f = c->probe_all ? c->probe_shared / c->probe_all : 0;

			if (!c->acq)
				continue;
			printf("# lock: %s.%s %s %.4f %.1f %.1f %.4f\n", scen_names[sc], modes[m], c->name,
			       c->acq / (double)w0->ops, 100.0 * f, c->hold_us * 1000.0 / (double)w0->ops,
			       100.0 * f * c->hold_us / 1e6 / w0->seconds);
		}
		printf("# info: lock.%s.%s.ops=%ld per window, %ld per probe (two tasks)\n",
		       scen_names[sc], modes[m], w0->ops, probe_ops[m]);
	}
	if (shm_fd >= 0)
		close(shm_fd);
	shm_fd = -1;
	fflush(stdout);
	return 0;
}

int main(int argc, char **argv)
{
	int i, sc, bad = 0;

	reps = bench_reps();
	warm = bench_warmup();
	len = (size_t)env_long("BENCH_LOCK_MB", 16, 2, 4096) * MB;
	mmap_ops = env_long("BENCH_LOCK_MMAP_OPS", 300, 1, 1000000);
	forks = env_long("BENCH_LOCK_FORKS", 20, 1, 100000);
	timeout_s = (int)env_long("BENCH_PEER_TIMEOUT", 30, 1, 3600);
	ncpu = (int)sysconf(_SC_NPROCESSORS_ONLN);
	if (ncpu < 2)	/* both tasks on one CPU would share every per-CPU lock instance */
		bench_fail("%d online CPU: the sharing probe needs two (a kernel without ACPI "
			   "boots one CPU under SeaBIOS)", ncpu);
	if (argc < 2)
		bench_fail("usage: locks SCENARIO... (anon4k thp shmfile mmap fork peer vmobj_munmap)");
	if (access("/proc/lock_stat", R_OK))
		bench_skip("kernel without CONFIG_LOCK_STAT (no /proc/lock_stat)");
	if (access(TRIGGER, W_OK)) {
		mkdir(TRACE, 0755);
		if (mount("nodev", TRACE, "tracefs", 0, NULL) && errno != EBUSY)
			bench_skip("tracefs: %s", strerror(errno));
	}
	if (access(TRIGGER, W_OK))
		bench_skip("no lock:lock_acquired trace event (kernel without CONFIG_LOCK_STAT tracing)");
	write_file("/proc/sys/kernel/lock_stat", "1");
	win = mmap(NULL, sizeof(*win), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (win == MAP_FAILED)
		bench_fail("mmap: %s", strerror(errno));
	for (i = 1; i < argc; i++) {
		for (sc = 0; sc < NSCEN && strcmp(argv[i], scen_names[sc]); sc++)
			;
		if (sc == NSCEN)
			bench_fail("unknown scenario %s", argv[i]);
		if (sc == PEER || sc == VMOBJ) {
			const char *e = getenv("BENCH_GMEM_MODULE_ERR");

			if (file_contains("/proc/kallsyms", " gm_dev_create") == 0 ||
			    !cmdline_gmem_on()) {
				printf("# %s: skipped, no GMEM on this kernel\n", argv[i]);
				continue;
			}
			if (e && *e) {
				printf("# fail-reason: %s: %s\n", argv[i], e);
				bad = 1;
				continue;
			}
			if (access(GMEM_TEST_DEV, R_OK | W_OK)) {
				printf("# fail-reason: %s: %s: %s\n", argv[i], GMEM_TEST_DEV,
				       strerror(errno));
				bad = 1;
				continue;
			}
		}
		bad |= scenario((enum scen)sc);
	}
	return bad;
}
