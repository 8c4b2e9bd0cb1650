// SPDX-License-Identifier: GPL-2.0
/*
 * Peer-shared (GMEM MAP_PEER_SHARED) benchmarks, each in a forked child with
 * a timeout (BENCH_PEER_TIMEOUT, default 60 s), so a deadlock or an oops in
 * the RFC is a "not ok" with the reason, not a hung guest.
 *   peer pf1       page_fault1 without munmap (munmap in an attached process
 *                  deadlocks on the RFC): each repetition maps BENCH_MB at a
 *                  fresh address and writes one byte per 4 KiB page; timed
 *                  mmap + touch.  Measured for a plain anonymous mapping in
 *                  an unattached child (peer_pf1.anon_nomunmap) and for a
 *                  MAP_PEER_SHARED mapping in a child ATTACHed to the fake
 *                  peer device (peer_pf1.peer_nomunmap).
 *   peer devfault  per repetition: map BENCH_MB peer-shared, FAULT ioctl over
 *                  the whole range (gm_dev_fault() per page: the pages move
 *                  to device memory; peer_devfault.fault.pages_per_s).  No
 *                  TO_CPU: on the RFC it leaves every page on the device and
 *                  logs "host fault gm_mapping should not be NULL" once per
 *                  page, and that flood on an emulated serial console cost
 *                  minutes per boot while measuring nothing.
 */
#include "bench.h"

static int reps, warm;
static size_t len;
static double v[MAXREPS];

static int pf1_child(void *arg)
{
	int peer = arg != NULL, i, fd = -1;

	if (peer && (fd = peer_attach()) < 0)
		return 1;
	for (i = -warm; i < reps; i++) {
		uint64_t t0 = now_ns();
		char *p = map_fresh(len, peer ? MAP_PEER_SHARED : 0);

		if (!p) {
			printf("# fail-reason: mmap(%s, %zu): %s\n", peer ? "MAP_PEER_SHARED" : "anon",
			       len, strerror(errno));
			return 1;
		}
		touch_pages(p, len);
		if (i >= 0)
			v[i] = (double)(len / PS) * 1e9 / (double)(now_ns() - t0);
	}
	metric(peer ? "peer_pf1.peer_nomunmap.pages_per_s" : "peer_pf1.anon_nomunmap.pages_per_s",
	       "pages/s", "higher", v, reps);
	(void)fd;
	return 0;
}

static int devfault_child(void *arg)
{
	struct gmem_test_stats st;
	int fd, i;

	(void)arg;
	fd = peer_attach();
	if (fd < 0)
		return 1;
	for (i = -warm; i < reps; i++) {
		struct gmem_test_fault f = { .npages = len / PS };
		char *p = map_fresh(len, MAP_PEER_SHARED);
		uint64_t t0, t1;

		if (!p) {
			printf("# fail-reason: mmap(MAP_PEER_SHARED, %zu): %s\n", len, strerror(errno));
			return 1;
		}
		f.addr = (unsigned long)p;
		t0 = now_ns();
		if (ioctl(fd, GMEM_TEST_IOC_FAULT, &f) || f.nfailed) {
			printf("# fail-reason: FAULT ioctl: %s, %u of %zu pages failed (gm_ret %d)\n",
			       strerror(errno), f.nfailed, len / PS, f.gm_ret);
			return 1;	/* exits with device pages: may oops, nothing better to do */
		}
		t1 = now_ns();
		if (i >= 0)
			v[i] = (double)(len / PS) * 1e9 / (double)(t1 - t0);
	}
	metric("peer_devfault.fault.pages_per_s", "pages/s", "higher", v, reps);
	memset(&st, 0, sizeof(st));
	if (!ioctl(fd, GMEM_TEST_IOC_STATS, &st))
		printf("# peer_devfault: device pages still held %llu, peer_map %llu, peer_unmap %llu\n",
		       (unsigned long long)st.dev_pages, (unsigned long long)st.peer_map,
		       (unsigned long long)st.peer_unmap);
	return 0;
}

int main(int argc, char **argv)
{
	int timeout = (int)env_long("BENCH_PEER_TIMEOUT", 30, 1, 3600), rc;
	long avail;

	reps = bench_reps();
	warm = bench_warmup();
	len = bench_bytes();
	if (argc != 2 || (strcmp(argv[1], "pf1") && strcmp(argv[1], "devfault")))
		bench_fail("usage: peer pf1|devfault");
	peer_prereq();
	/* no munmap: every repetition's memory stays until the child exits */
	avail = meminfo_kb("MemAvailable");
	if (avail >= 0 && (size_t)avail * 1024 < len * (reps + warm) + 256 * MB)
		bench_skip("MemAvailable %ld kB < %zu MiB needed ((BENCH_REPS + BENCH_WARMUP) x BENCH_MB + 256)",
			   avail, len / MB * (reps + warm) + 256);
	if (!strcmp(argv[1], "pf1")) {
		rc = run_child(pf1_child, NULL, timeout);
		if (rc < 0)
			bench_fail("anonymous baseline: %s", child_why);
		if (rc)
			return 1;
		rc = run_child(pf1_child, (void *)1, timeout);
		if (rc < 0)
			bench_fail("peer-shared: %s", child_why);
		return rc ? 1 : 0;
	}
	rc = run_child(devfault_child, NULL, timeout);
	if (rc < 0)
		bench_fail("%s", child_why);
	return rc ? 1 : 0;
}
