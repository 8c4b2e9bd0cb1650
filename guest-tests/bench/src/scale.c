// SPDX-License-Identifier: GPL-2.0
/*
 * scale threads|procs: page_fault1 with 1..N concurrent tasks, N = online
 * CPUs (at least 2).  threads: N threads of one process (one mm: mmap_lock,
 * page-table locks and per-mm structures are shared); procs: N processes
 * (separate mms).  Per repetition each of the c tasks does one
 * mmap/write-each-4KiB-page/munmap cycle of BENCH_MB/c MiB (the total work
 * per repetition is constant), all released together by a barrier; elapsed =
 * last task's end - first task's start.
 *   scale_X.tC.pages_per_s_per_task = total pages / elapsed / c
 *   scale_X.tC.scaling = that / the t1 value of the same repetition index
 */
#include "bench.h"
#include <pthread.h>

struct shared {
	pthread_barrier_t bar;
	size_t len;
	int fail;
	uint64_t start[256], end[256];
};

static struct shared *sh;

static void task(int id)
{
	char *p;

	pthread_barrier_wait(&sh->bar);
	sh->start[id] = now_ns();
	p = mmap(NULL, sh->len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED) {
		sh->fail = errno;
		return;
	}
	touch_pages(p, sh->len);
	if (munmap(p, sh->len))
		sh->fail = errno;
	sh->end[id] = now_ns();
}

static void *thread_fn(void *arg)
{
	task((int)(long)arg);
	return NULL;
}

/* one repetition with c tasks; returns elapsed ns */
static uint64_t rep(int procs, int c)
{
	pthread_barrierattr_t ba;
	pthread_t th[256];
	pid_t pid[256];
	uint64_t s = UINT64_MAX, e = 0;
	int i, st;

	pthread_barrierattr_init(&ba);
	pthread_barrierattr_setpshared(&ba, PTHREAD_PROCESS_SHARED);
	pthread_barrier_init(&sh->bar, &ba, c);
	for (i = 0; i < c; i++) {
		if (procs) {
			fflush(stdout);
			pid[i] = fork();
			if (pid[i] < 0)
				bench_fail("fork: %s", strerror(errno));
			if (pid[i] == 0) {
				task(i);
				_exit(0);
			}
		} else if (pthread_create(&th[i], NULL, thread_fn, (void *)(long)i)) {
			bench_fail("pthread_create failed");
		}
	}
	for (i = 0; i < c; i++) {
		if (procs) {
			if (waitpid(pid[i], &st, 0) != pid[i] || !WIFEXITED(st) || WEXITSTATUS(st))
				bench_fail("task %d: status %#x", i, st);
		} else {
			pthread_join(th[i], NULL);
		}
	}
	pthread_barrier_destroy(&sh->bar);
	if (sh->fail)
		bench_fail("mmap/munmap in a task: %s", strerror(sh->fail));
	for (i = 0; i < c; i++) {
		if (sh->start[i] < s)
			s = sh->start[i];
		if (sh->end[i] > e)
			e = sh->end[i];
	}
	return e - s;
}

int main(int argc, char **argv)
{
	int reps = bench_reps(), warm = bench_warmup(), procs, c, i;
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	int n = ncpu < 2 ? 2 : ncpu > 256 ? 256 : (int)ncpu;
	size_t total = bench_bytes();
	double t1[MAXREPS], v[MAXREPS], r[MAXREPS];
	char name[128];

	if (argc != 2 || (strcmp(argv[1], "threads") && strcmp(argv[1], "procs")))
		bench_fail("usage: scale threads|procs");
	procs = !strcmp(argv[1], "procs");
	sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sh == MAP_FAILED)
		bench_fail("mmap: %s", strerror(errno));
	printf("# scale_%s: tasks 1..%d (online CPUs %ld), %zu KiB per task per repetition at t1\n",
	       argv[1], n, ncpu, total / 1024);
	for (c = 1; c <= n; c++) {
		sh->len = (total / c + PS - 1) & ~(PS - 1);
		for (i = -warm; i < reps; i++) {
			uint64_t ns = rep(procs, c);

			if (i >= 0)
				v[i] = (double)(sh->len / PS) * c * 1e9 / (double)ns / c;
		}
		snprintf(name, sizeof(name), "scale_%s.t%d.pages_per_s_per_task", argv[1], c);
		metric(name, "pages/s", "higher", v, reps);
		if (c == 1) {
			memcpy(t1, v, sizeof(double) * reps);
			continue;
		}
		for (i = 0; i < reps; i++)
			r[i] = v[i] / t1[i];
		snprintf(name, sizeof(name), "scale_%s.t%d.scaling", argv[1], c);
		metric(name, "ratio", "higher", r, reps);
	}
	return 0;
}
