/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Shared helpers of the bench suite: knobs, CLOCK_MONOTONIC timing, metric /
 * slab / info lines (format: ../README.md), /proc parsing, children with a
 * timeout, and GMEM peer-device detection.
 *
 * Exit codes of every benchmark program: 0 ok, 1 not ok (reason printed as
 * "# fail-reason: ..."), 4 skipped (reason printed as "# skip-reason: ...").
 */
#ifndef BENCH_H
#define BENCH_H

/* helpers a given program does not use are fine */
#pragma GCC diagnostic ignored "-Wunused-function"

#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "src/gmem_detect.h"

#define PS	4096UL
#define MB	(1UL << 20)
#define MAXREPS	100

#ifndef MAP_PEER_SHARED
#define MAP_PEER_SHARED	0x8000000	/* GMEM RFC 5/6, include/uapi/asm-generic/mman-common.h */
#endif
#ifndef MAP_FIXED_NOREPLACE
#define MAP_FIXED_NOREPLACE 0x100000
#endif

/* ---- knobs ----------------------------------------------------------------- */

static long env_long(const char *name, long def, long min, long max)
{
	const char *s = getenv(name);
	char *end;
	long v;

	if (!s || !*s)
		return def;
	v = strtol(s, &end, 10);
	if (*end || v < min || v > max) {
		printf("# %s=%s invalid (want %ld..%ld), using %ld\n", name, s, min, max, def);
		return def;
	}
	return v;
}

static int bench_reps(void)   { return (int)env_long("BENCH_REPS", 5, 1, MAXREPS); }
static int bench_warmup(void) { return (int)env_long("BENCH_WARMUP", 1, 0, 100); }
static size_t bench_bytes(void) { return (size_t)env_long("BENCH_MB", 128, 1, 65536) * MB; }

/* ---- results --------------------------------------------------------------- */

static void __attribute__((format(printf, 1, 2), noreturn)) bench_skip(const char *fmt, ...)
{
	va_list ap;

	printf("# skip-reason: ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
	exit(4);
}

static void __attribute__((format(printf, 1, 2), noreturn)) bench_fail(const char *fmt, ...)
{
	va_list ap;

	printf("# fail-reason: ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
	exit(1);
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

/* "# metric: NAME UNIT BETTER V1 ... Vk" */
static void metric(const char *name, const char *unit, const char *better,
		   const double *v, int k)
{
	int i;

	printf("# metric: %s %s %s", name, unit, better);
	for (i = 0; i < k; i++) {
		double x = v[i];

		double ax = x < 0 ? -x : x;
		int prec = 5;	/* about 6 significant digits, never an exponent */

		while (prec > 0 && ax >= 10.0) {
			ax /= 10.0;
			prec--;
		}
		while (prec < 12 && ax > 0 && ax < 1.0) {
			ax *= 10.0;
			prec++;
		}
		if (x == (double)(long long)x && x < 1e15 && x > -1e15)
			printf(" %lld", (long long)x);
		else
			printf(" %.*f", prec, x);
	}
	printf("\n");
	fflush(stdout);
}

static void metric1(const char *name, const char *unit, const char *better, double v)
{
	metric(name, unit, better, &v, 1);
}

/* ---- /proc ----------------------------------------------------------------- */

/* kB value of "Field:" in a /proc file like meminfo or status, -1 if missing */
#define meminfo_kb(field) proc_kb("/proc/meminfo", field)
#define status_kb(field)  proc_kb("/proc/self/status", field)

static void write_file(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY);

	if (fd < 0)
		return;
	if (write(fd, s, strlen(s)) < 0) {
		/* best effort */
	}
	close(fd);
}

/* ---- slab snapshots ---------------------------------------------------------- */

#define SLAB_MAX 1024
struct slabsnap {
	int n;
	char name[SLAB_MAX][128];
	long long bytes[SLAB_MAX];	/* num_objs * objsize */
	long long objs[SLAB_MAX];	/* num_objs */
	long long total;
};

/* 0 on success, -1 if /proc/slabinfo is unreadable */
static int slab_read(struct slabsnap *s)
{
	char line[512], name[128];
	long active, num, objsize;
	FILE *f = fopen("/proc/slabinfo", "r");

	s->n = 0;
	s->total = 0;
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%127s %ld %ld %ld", name, &active, &num, &objsize) != 4)
			continue;
		if (s->n >= SLAB_MAX)
			break;
		snprintf(s->name[s->n], sizeof(s->name[0]), "%s", name);
		s->bytes[s->n] = (long long)num * objsize;
		s->objs[s->n] = num;
		s->total += s->bytes[s->n];
		s->n++;
	}
	fclose(f);
	return s->n ? 0 : -1;
}

/* ask SLUB to give back empty slabs and per-cpu partial slabs of every cache */
static void slab_shrink_all(void)
{
	DIR *d = opendir("/sys/kernel/slab");
	struct dirent *e;
	char path[512];

	if (!d)
		return;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.' || e->d_name[0] == ':')
			continue;	/* ":..." are alias targets of merged caches */
		snprintf(path, sizeof(path), "/sys/kernel/slab/%s/shrink", e->d_name);
		write_file(path, "1");
	}
	closedir(d);
}

/*
 * Settle, then snapshot: wait for RCU-deferred frees (sleep), shrink every
 * cache, read; repeat until the slab total is unchanged between two
 * consecutive reads (at most 6 rounds).
 */
static int slab_settled(struct slabsnap *s)
{
	long long prev = -1;
	int i;

	for (i = 0; i < 6; i++) {
		sleep_ms(i ? 200 : 100);
		slab_shrink_all();
		if (slab_read(s))
			return -1;
		if (s->total == prev)
			break;
		prev = s->total;
	}
	return 0;
}

/* print "# slab: SCENARIO CACHE BYTES OBJS" for caches whose size changed; returns sum of BYTES */
static long long slab_delta(const char *scenario, const struct slabsnap *a,
			    const struct slabsnap *b)
{
	long long sum = 0;
	int i, j;

	for (i = 0; i < b->n; i++) {
		long long before = 0, bobjs = 0, d;

		for (j = 0; j < a->n; j++)
			if (!strcmp(a->name[j], b->name[i])) {
				before = a->bytes[j];
				bobjs = a->objs[j];
				break;
			}
		d = b->bytes[i] - before;
		if (d)
			printf("# slab: %s %s %lld %lld\n", scenario, b->name[i], d, b->objs[i] - bobjs);
		sum += d;
	}
	for (j = 0; j < a->n; j++) {	/* caches that disappeared */
		for (i = 0; i < b->n; i++)
			if (!strcmp(a->name[j], b->name[i]))
				break;
		if (i == b->n && a->bytes[j]) {
			printf("# slab: %s %s %lld %lld\n", scenario, a->name[j], -a->bytes[j], -a->objs[j]);
			sum -= a->bytes[j];
		}
	}
	fflush(stdout);
	return sum;
}

/* ---- children with a timeout ------------------------------------------------- */

static char child_why[512];

static char proc_state(pid_t pid)
{
	char path[64], buf[512], *p;
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	f = fopen(path, "r");
	if (!f)
		return '?';
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = 0;
	p = strrchr(buf, ')');
	return p && p[1] == ' ' ? p[2] : '?';
}

/* first line of /proc/PID/stack containing a symbol other than the generic ones */
static void proc_stack_top(pid_t pid, char *out, size_t len)
{
	char path[64], line[256];
	FILE *f;

	out[0] = 0;
	snprintf(path, sizeof(path), "/proc/%d/stack", pid);
	f = fopen(path, "r");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		char *s = strchr(line, ']');

		line[strcspn(line, "\n")] = 0;
		s = s ? s + 2 : line;
		if (strstr(s, "schedule") || strstr(s, "rwsem_down") || strstr(s, "__mutex_lock"))
			continue;
		snprintf(out + strlen(out), len - strlen(out), "%s%s", out[0] ? " < " : "", s);
		if (strlen(out) > len / 2)
			break;
	}
	fclose(f);
}

/*
 * The first of pid's threads in the kernel for good (state D), or else pid itself:
 * "thread T in state D, in <its stack>" into out.  A process whose thread is stuck in
 * D shows the leader as Z once killed, and no waitpid() ever returns for it.
 */
static void stuck_thread(pid_t pid, char *out, size_t len)
{
	char path[64], stack[300];
	pid_t who = pid;
	char state = proc_state(pid);
	struct dirent *e;
	DIR *d;

	snprintf(path, sizeof(path), "/proc/%d/task", pid);
	d = opendir(path);
	while (d && (e = readdir(d))) {
		pid_t tid = (pid_t)atoi(e->d_name);

		if (tid > 0 && proc_state(tid) == 'D') {
			who = tid;
			state = 'D';
			break;
		}
	}
	if (d)
		closedir(d);
	proc_stack_top(who, stack, sizeof(stack));
	snprintf(out, len, "%s %d in state %c%s%s", who == pid ? "process" : "thread", who,
		 state, stack[0] ? ", in " : "", stack);
}

/* waitpid() for at most ms: 0 when reaped (its status in *st, if st), -1 when it stays */
static int reap_within(pid_t pid, int *st, int ms)
{
	int i;

	for (i = 0; i <= ms / 20; i++) {
		if (waitpid(pid, st, WNOHANG) == pid)
			return 0;
		sleep_ms(20);
	}
	return -1;
}

/*
 * fork, run fn(arg) in the child (its return value is the exit code), wait
 * at most timeout_s.  Returns the exit code, or -1 with child_why set (killed
 * by a signal, vanished during exit, or hung: then SIGKILL and, if it stays
 * in the kernel, it is left behind and described).
 */
static int run_child(int (*fn)(void *), void *arg, int timeout_s)
{
	uint64_t deadline;
	pid_t pid;
	int st;

	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		snprintf(child_why, sizeof(child_why), "fork: %s", strerror(errno));
		return -1;
	}
	if (pid == 0) {
		int rc = fn(arg);

		fflush(NULL);
		_exit(rc);
	}
	deadline = now_ns() + (uint64_t)timeout_s * 1000000000ULL;
	for (;;) {
		pid_t r = waitpid(pid, &st, WNOHANG);

		if (r == pid)
			break;
		if (r < 0) {
			snprintf(child_why, sizeof(child_why),
				 "child %d vanished without an exit status (kernel fault during exit?)", pid);
			return -1;
		}
		if (now_ns() > deadline) {
			char stuck[400];

			stuck_thread(pid, stuck, sizeof(stuck));
			kill(pid, SIGKILL);
			snprintf(child_why, sizeof(child_why), "child %d still running after %d s (%s)%s",
				 pid, timeout_s, stuck,
				 reap_within(pid, &st, 2000) ? "; unkillable, left behind" : "; killed");
			return -1;
		}
		sleep_ms(20);
	}
	if (WIFSIGNALED(st)) {
		snprintf(child_why, sizeof(child_why), "child killed by signal %d (%s)%s",
			 WTERMSIG(st), strsignal(WTERMSIG(st)),
			 WTERMSIG(st) == SIGKILL || WTERMSIG(st) == SIGSEGV ?
			 " - check the kernel log for an oops" : "");
		return -1;
	}
	return WEXITSTATUS(st);
}

/* ---- GMEM peer device ---------------------------------------------------------- */

#include "gmem_test_uapi.h"


/* skip (exit 4) unless this kernel has GMEM, gmem=on, and /dev/gmem_test works */
static void peer_prereq(void)
{
	const char *e = getenv("BENCH_GMEM_MODULE_ERR");
	int ks = file_contains("/proc/kallsyms", " gm_dev_create");

	if (ks == 0)
		bench_skip("kernel has no MAP_PEER_SHARED (no GMEM: gm_dev_create not in /proc/kallsyms)");
	if (!cmdline_gmem_on())
		bench_skip("GMEM kernel not booted with gmem=on");
	if (e && *e)
		bench_skip("%s", e);
	if (access(GMEM_TEST_DEV, R_OK | W_OK))
		bench_skip("%s: %s (gmem_test.ko not loaded)", GMEM_TEST_DEV, strerror(errno));
	/* MAP_PEER_SHARED itself is only usable after ATTACH (ENOMEM before) */
}

/* open /dev/gmem_test and ATTACH the current mm; -1 with child_why set */
static int peer_attach(void)
{
	struct gmem_test_attach a = { .mode = GMEM_TEST_MODE_COHERENT_EXCL, .activate = 1 };
	int fd = open(GMEM_TEST_DEV, O_RDWR | O_CLOEXEC);

	if (fd < 0) {
		printf("# fail-reason: open %s: %s\n", GMEM_TEST_DEV, strerror(errno));
		return -1;
	}
	if (ioctl(fd, GMEM_TEST_IOC_ATTACH, &a)) {
		printf("# fail-reason: ATTACH: %s (gm_as_attach ret %d)\n", strerror(errno), a.gm_ret);
		close(fd);
		return -1;
	}
	return fd;
}

/*
 * Fresh, never-used address for a peer-shared (or plain) mapping, so no
 * munmap is ever needed (munmap in an attached process deadlocks on the RFC).
 */
static unsigned long va_cursor = 0x300000000000UL;

static char *map_fresh(size_t len, int extra)
{
	char *p = MAP_FAILED;
	int i;

	for (i = 0; i < 64 && p == MAP_FAILED; i++) {
		p = mmap((void *)va_cursor, len, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE | extra, -1, 0);
		va_cursor += ((len + (2 * MB) - 1) & ~(2 * MB - 1)) + (1UL << 30);
		if (p == MAP_FAILED && errno != EEXIST)
			break;
	}
	if (p != MAP_FAILED)
		madvise(p, len, MADV_NOHUGEPAGE);
	return p == MAP_FAILED ? NULL : p;
}

static void touch_pages(char *p, size_t len)
{
	size_t i;

	for (i = 0; i < len; i += PS)
		((volatile char *)p)[i] = 0;
}

#endif /* BENCH_H */
