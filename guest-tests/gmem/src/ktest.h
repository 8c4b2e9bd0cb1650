/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Tiny kselftest-like KTAP helper.  Every subtest runs in a forked child so
 * that a kernel oops (child killed), a SIGBUS/SIGSEGV or a hang in the kernel
 * (D state) is reported as a failure of that subtest only.
 *
 *   static void t_foo(struct kt *t) { ... KT_EXPECT(t, cond, "fmt", ...); }
 *   static const struct kt_case cases[] = { KT_CASE(t_foo), {} };
 *   int main(void) { return kt_main("name", cases, prereq_fn); }
 *
 * Exit code: 0 all passed (or some skipped), 1 any failed, 4 all skipped.
 * A workload skipped as a whole prints "# skip-reason: ..." for run.sh.
 */
#ifndef KTEST_H
#define KTEST_H

#define _GNU_SOURCE
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
#include <sys/mman.h>
#include <sys/wait.h>

#define KT_PASS 0
#define KT_FAIL 1
#define KT_SKIP 2

struct kt {
	volatile int status;
	volatile int done;	/* test body finished (set before exit) */
	int msglen;
	char msg[8192];
};

typedef void (*kt_fn)(struct kt *t);
struct kt_case {
	const char *name;
	kt_fn fn;
	int timeout;	/* seconds, 0 = default */
	const char *blame;	/* the series' function whose promise the subtest checks */
};
#define KT_CASE(f) { #f + 2, f, 0, NULL }		/* strips the "t_" prefix */
#define KT_CASE_T(f, to) { #f + 2, f, to, NULL }
/* a failure prints "# name: blame: fn": the findings table (harness report) maps fn to
 * the patch and file that define it */
#define KT_CASE_B(f, to, fn) { #f + 2, f, to, fn }

static int kt_default_timeout = 20;	/* a hang is a hang; keeps a boot under its timeout */

static void kt_vdiag(struct kt *t, const char *fmt, va_list ap)
{
	int room = (int)sizeof(t->msg) - t->msglen - 2;
	int n;

	if (room <= 0)
		return;
	n = vsnprintf(t->msg + t->msglen, room, fmt, ap);
	if (n < 0)
		return;
	if (n >= room)
		n = room - 1;
	t->msglen += n;
	t->msg[t->msglen++] = '\n';
	t->msg[t->msglen] = 0;
}

static void __attribute__((format(printf, 2, 3))) kt_diag(struct kt *t, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	kt_vdiag(t, fmt, ap);
	va_end(ap);
}

/* record a failure; the subtest continues */
static void __attribute__((format(printf, 2, 3))) kt_fail(struct kt *t, const char *fmt, ...)
{
	va_list ap;

	t->status = KT_FAIL;
	va_start(ap, fmt);
	kt_vdiag(t, fmt, ap);
	va_end(ap);
}

/* skip the subtest (unless it already failed) and leave it */
static void __attribute__((format(printf, 2, 3), noreturn)) kt_skip(struct kt *t, const char *fmt, ...)
{
	va_list ap;

	if (t->status != KT_FAIL) {
		t->status = KT_SKIP;
		t->msglen = 0;
	}
	va_start(ap, fmt);
	kt_vdiag(t, fmt, ap);
	va_end(ap);
	t->done = 1;
	_exit(0);
}

/* leave the subtest now (after a failure that makes the rest meaningless) */
static void __attribute__((noreturn)) kt_done(struct kt *t)
{
	t->done = 1;
	_exit(t->status == KT_FAIL ? 3 : 0);
}

#define KT_EXPECT(t, cond, ...) do {					\
	if (!(cond)) {							\
		kt_fail(t, "%s:%d: expected %s", __FILE__, __LINE__, #cond);\
		kt_diag(t, __VA_ARGS__);				\
	}								\
} while (0)

#define KT_ASSERT(t, cond, ...) do {					\
	if (!(cond)) {							\
		kt_fail(t, "%s:%d: expected %s", __FILE__, __LINE__, #cond);\
		kt_diag(t, __VA_ARGS__);				\
		kt_done(t);						\
	}								\
} while (0)

static void kt_sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

/* append /proc/PID/stack (and state) of a wedged process to the diagnostics */
static void kt_diag_proc(struct kt *t, pid_t pid)
{
	char path[64], line[256];
	FILE *f;
	int n = 0;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	f = fopen(path, "r");
	if (f) {
		if (fgets(line, sizeof(line), f)) {
			char *p = strrchr(line, ')');

			if (p && p[1])
				kt_diag(t, "process %d state %c", pid, p[2]);
		}
		fclose(f);
	}
	snprintf(path, sizeof(path), "/proc/%d/task", pid);
	/* main thread stack is enough for our purposes */
	snprintf(path, sizeof(path), "/proc/%d/stack", pid);
	f = fopen(path, "r");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f) && n++ < 12) {
		line[strcspn(line, "\n")] = 0;
		kt_diag(t, "  stack: %s", line);
	}
	fclose(f);
}

static int kt_stuck_exits;

/* PF_EXITING set in /proc/PID/stat flags (field 9) and not a zombie */
static int kt_proc_exiting(pid_t pid)
{
	char path[64], line[1024], state = 0;
	unsigned long flags = 0;
	FILE *f;
	char *p;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	f = fopen(path, "r");
	if (!f)
		return 0;
	if (!fgets(line, sizeof(line), f))
		line[0] = 0;
	fclose(f);
	p = strrchr(line, ')');
	if (!p || sscanf(p + 2, "%c %*d %*d %*d %*d %*d %lu", &state, &flags) != 2)
		return 0;
	return (flags & 0x4) && state != 'Z' && state != 'X';
}

/* kernel log lines logged since kt_kmsg_open() that look like trouble */
static int kt_kmsg_open(void)
{
	int fd = open("/dev/kmsg", O_RDONLY | O_NONBLOCK | O_CLOEXEC);

	if (fd >= 0)
		lseek(fd, 0, SEEK_END);
	return fd;
}

static void kt_kmsg_collect(struct kt *t, int fd)
{
	static const char *const keys[] = {
		"BUG", "WARNING", "Oops", "RIP:", "gmem", "general protection", "list_",
		"refcount", "Bad page", "underflow", "hung", "lockup", "Recursive", "kernel NULL",
		"sleeping function", "scheduling while atomic", NULL,
	};
	char rec[2048];
	int n = 0, shown = 0;
	ssize_t r;

	if (fd < 0)
		return;
	while ((r = read(fd, rec, sizeof(rec) - 1)) > 0 || (r < 0 && errno == EPIPE)) {
		char *msg, *nl;
		int i;

		if (r < 0)
			continue;
		rec[r] = 0;
		msg = strchr(rec, ';');
		if (!msg)
			continue;
		msg++;
		if ((nl = strchr(msg, '\n')))
			*nl = 0;
		if (!strncmp(msg, "# harness", 9) || !strncmp(msg, "# gmem:", 7))
			continue;
		for (i = 0; keys[i]; i++)
			if (strstr(msg, keys[i]))
				break;
		if (!keys[i])
			continue;
		n++;
		if (shown < 6) {
			kt_diag(t, "kernel: %s", msg);
			shown++;
		}
	}
	if (n > shown)
		kt_diag(t, "kernel: ... %d more matching kernel log lines", n - shown);
	close(fd);
}

/*
 * Wait for a child with a timeout.  Returns the wait status, or -1 on
 * timeout (then the child is SIGKILLed and its stack appended to t).
 * If *done becomes set (the body finished) the child gets only 5 s more to
 * exit; a child stuck in exit is reported as a diagnostic (-3), not a failure.
 */
static int kt_wait_timeout_done(struct kt *t, pid_t pid, int timeout_s, const char *what,
				volatile int *done)
{
	int st, waited = 0, grace = -1, exiting_s = 0;

	for (;;) {
		pid_t r = waitpid(pid, &st, WNOHANG);

		if (r == pid)
			return st;
		if (r < 0) {
			/*
			 * ECHILD although the child was never reaped: it died in
			 * the kernel during exit ("Fixing recursive fault") and
			 * will never become a zombie.
			 */
			if (t && done && *done) {
				kt_stuck_exits++;
				kt_diag(t, "%s finished its checks but then vanished during exit without "
					"becoming reapable (kernel fault in the exit path, see "
					"lifetime/exit_with_device_pages)", what);
				return -3;
			}
			if (t)
				kt_fail(t, "%s: vanished without an exit status (waitpid: %s) - killed by a "
					"kernel fault during exit?", what, strerror(errno));
			return -1;
		}
		if (done && *done && grace < 0)
			grace = waited + 100;
		if (done && !*done && waited % 20 == 0 && kt_proc_exiting(pid)) {
			if (++exiting_s >= 3) {
				if (t) {
					kt_fail(t, "%s is exiting although the test body did not finish "
						"(fatal signal or kernel oops) and does not complete its exit:", what);
					kt_diag_proc(t, pid);
				}
				kill(pid, SIGKILL);
				return -1;
			}
		}
		if (grace >= 0 && waited >= grace) {
			kt_stuck_exits++;
			if (t) {
				kt_diag(t, "%s finished its checks but did not exit within 5 s "
					"(stuck in the exit path, see lifetime/exit_with_device_pages):", what);
				kt_diag_proc(t, pid);
			}
			kill(pid, SIGKILL);
			return -3;
		}
		if (waited >= timeout_s * 20)
			break;
		kt_sleep_ms(50);
		waited++;
	}
	if (t) {
		kt_fail(t, "%s: no progress after %d s (hung in the kernel?)", what, timeout_s);
		kt_diag_proc(t, pid);
	}
	kill(pid, SIGKILL);
	for (waited = 0; waited < 40; waited++) {
		if (waitpid(pid, &st, WNOHANG) == pid) {
			if (t)
				kt_diag(t, "%s: exited after SIGKILL", what);
			return -1;
		}
		kt_sleep_ms(50);
	}
	if (t)
		kt_diag(t, "%s: still not dead 2 s after SIGKILL (unkillable, left behind)", what);
	return -1;
}

static int kt_wait_timeout(struct kt *t, pid_t pid, int timeout_s, const char *what)
{
	return kt_wait_timeout_done(t, pid, timeout_s, what, NULL);
}

/* describe an abnormal child status into t as a failure; returns 1 if abnormal */
static int kt_check_child(struct kt *t, int st, const char *what)
{
	if (st == -1)
		return 1;	/* already reported */
	if (WIFSIGNALED(st)) {
		kt_fail(t, "%s: killed by signal %d (%s)%s", what, WTERMSIG(st),
			strsignal(WTERMSIG(st)),
			WTERMSIG(st) == SIGKILL ?
			" - check the kernel log for an oops" : "");
		return 1;
	}
	return 0;
}

static struct kt *kt_shared;

static const char *(*kt_prereq_fn)(void);

static int kt_main(const char *name, const struct kt_case *cases,
		   const char *(*prereq)(void))
{
	int n = 0, i, npass = 0, nfail = 0, nskip = 0;
	const char *why;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (getenv("GMEM_SUBTEST_TIMEOUT"))
		kt_default_timeout = atoi(getenv("GMEM_SUBTEST_TIMEOUT"));
	kt_prereq_fn = prereq;
	if (prereq && !getenv("GMEM_FORCE") && (why = prereq())) {
		printf("# skip-reason: %s\n", why);
		return 4;
	}
	kt_shared = mmap(NULL, sizeof(struct kt), PROT_READ | PROT_WRITE,
			 MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (kt_shared == MAP_FAILED) {
		printf("# %s: mmap: %s\n", name, strerror(errno));
		return 1;
	}
	for (n = 0; cases[n].name; n++)
		;
	printf("KTAP version 1\n1..%d\n", n);
	fflush(stdout);
	for (i = 0; i < n; i++) {
		struct kt *t = kt_shared;
		const char *only = getenv("GMEM_ONLY");	/* comma-separated subtest names */

		if (only && *only) {
			char pat[128];

			snprintf(pat, sizeof(pat), ",%s,", cases[i].name);
			{
				char all[1024];

				snprintf(all, sizeof(all), ",%s,", only);
				if (!strstr(all, pat)) {
					printf("ok %d %s # SKIP not selected (GMEM_ONLY)\n", i + 1, cases[i].name);
					nskip++;
					continue;
				}
			}
		}
		int to = cases[i].timeout ? cases[i].timeout : kt_default_timeout;
		pid_t pid;
		int st, kfd;

		memset(t, 0, sizeof(*t));
		fflush(stdout);
		kfd = kt_kmsg_open();
		{
			int k = open("/dev/kmsg", O_WRONLY | O_CLOEXEC);

			if (k >= 0) {
				char b[256];
				int l = snprintf(b, sizeof(b), "# gmem: subtest %s/%s\n", name, cases[i].name);

				if (write(k, b, l) < 0)
					;
				close(k);
			}
		}
		pid = fork();
		if (pid == 0) {
			cases[i].fn(t);
			t->done = 1;
			_exit(0);
		}
		if (pid < 0) {
			kt_fail(t, "fork: %s", strerror(errno));
		} else {
			st = kt_wait_timeout_done(t, pid, to, "subtest process", &t->done);
			if (st >= 0 && !kt_check_child(t, st, "subtest") &&
			    WIFEXITED(st) && WEXITSTATUS(st) != 0 && t->status != KT_FAIL)
				kt_fail(t, "subtest exited with status %d", WEXITSTATUS(st));
		}
		kt_sleep_ms(100);
		kt_kmsg_collect(t, kfd);
		/* print diagnostics */
		{
			char *p = t->msg, *nl;

			while (*p && (nl = strchr(p, '\n'))) {
				*nl = 0;
				if (t->status != KT_SKIP)
					printf("# %s: %s\n", cases[i].name, p);
				p = nl + 1;
			}
		}
		if (t->status == KT_SKIP) {
			char *r = t->msg;

			r[strcspn(r, "\n")] = 0;
			printf("ok %d %s # SKIP %s\n", i + 1, cases[i].name, r);
			nskip++;
		} else if (t->status == KT_FAIL) {
			if (cases[i].blame)
				printf("# %s: blame: %s\n", cases[i].name, cases[i].blame);
			printf("not ok %d %s\n", i + 1, cases[i].name);
			nfail++;
		} else {
			printf("ok %d %s\n", i + 1, cases[i].name);
			npass++;
		}
		fflush(stdout);
		{
			/* progress in the kernel log, in case a later subtest wedges the guest */
			int k = open("/dev/kmsg", O_WRONLY | O_CLOEXEC);

			if (k >= 0) {
				char b[256];
				int l = snprintf(b, sizeof(b), "# gmem: %s/%s: %s\n", name, cases[i].name,
						 t->status == KT_FAIL ? "not ok" :
						 t->status == KT_SKIP ? "skip" : "ok");

				if (write(k, b, l) < 0)
					;
				close(k);
			}
		}
	}
	if (kt_stuck_exits)
		printf("# %s: %d subtest process(es) did not exit after finishing\n", name, kt_stuck_exits);
	printf("# %s: %d passed, %d failed, %d skipped\n", name, npass, nfail, nskip);
	if (nfail)
		return 1;
	if (!npass && nskip) {
		printf("# skip-reason: all %d subtests skipped\n", nskip);
		return 4;
	}
	return 0;
}

#endif /* KTEST_H */
