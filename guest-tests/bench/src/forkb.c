// SPDX-License-Identifier: GPL-2.0
/*
 * fork: a process holding BENCH_FORK_MB (default 256) MiB of touched private
 * anonymous memory does fork + child _exit(0) + waitpid, BENCH_FORK_OPS
 * (default 4) times per repetition; us/op.  The child does nothing, so the
 * cost is copy_page_range() (page tables, rmap, refcounts) in the parent and
 * the zap of the copy in the exiting child.
 */
#include "bench.h"

int main(void)
{
	int reps = bench_reps(), warm = bench_warmup(), i;
	long ops = env_long("BENCH_FORK_OPS", 4, 1, 100000), j;
	size_t len = (size_t)env_long("BENCH_FORK_MB", 256, 1, 65536) * MB;
	double v[MAXREPS];
	char *p, name[64];

	p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		bench_fail("mmap %zu: %s", len, strerror(errno));
	touch_pages(p, len);
	fflush(stdout);
	for (i = -warm; i < reps; i++) {
		uint64_t t0 = now_ns();

		for (j = 0; j < ops; j++) {
			pid_t pid = fork();
			int st;

			if (pid < 0)
				bench_fail("fork: %s", strerror(errno));
			if (pid == 0)
				_exit(0);
			if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st))
				bench_fail("child %d: status %#x", pid, st);
		}
		if (i >= 0)
			v[i] = (double)(now_ns() - t0) / 1e3 / (double)ops;
	}
	snprintf(name, sizeof(name), "fork.anon_%zum.us_per_op", len / MB);
	metric(name, "us/op", "lower", v, reps);
	return 0;
}
