// SPDX-License-Identifier: GPL-2.0
/*
 * Kernel metadata of a big touched anonymous mapping (4 KiB pages; run.sh
 * sets THP never and the mapping is MADV_NOHUGEPAGE).
 *   meta anon   1 GiB MAP_PRIVATE|MAP_ANONYMOUS: held, then after munmap
 *   meta peer   BENCH_PEER_META_MB (default 1024) MiB MAP_PEER_SHARED in a
 *               child attached to the fake peer device: held; then the
 *               child exits (no munmap: it deadlocks on the RFC) and the
 *               parent measures what the exit did not give back
 * Every reading settles memory first (settle_memory(): write back, drop the
 * page cache and the dentry/inode caches, compact), then slab_settled() (sleep
 * for RCU-deferred frees, shrink every slab cache, read until two reads
 * agree): what the benchmarks before this one left behind (their tmpfs files'
 * dentries and inodes, half-empty slabs) is given back before the baseline,
 * so the figures do not depend on which benchmarks ran first.
 */
#include "bench.h"

struct snap {
	struct slabsnap slab;
	long sunreclaim, pagetables, vmpte;	/* kB */
};

static struct snap s0, s1, s2;

static void settle_memory(void)
{
	sync();
	write_file("/proc/sys/vm/drop_caches", "3");
	write_file("/proc/sys/vm/compact_memory", "1");
}

static void take(struct snap *s)
{
	settle_memory();
	if (slab_settled(&s->slab))
		bench_skip("/proc/slabinfo not readable (CONFIG_SLUB_DEBUG / permissions)");
	s->sunreclaim = meminfo_kb("SUnreclaim");
	s->pagetables = meminfo_kb("PageTables");
	s->vmpte = status_kb("VmPTE");
}

static const char *prefix;	/* metric prefix: meta_anon / peer_meta */
static const char *scen;	/* scenario prefix: anon_1g / peer_1g */

static void report_held(size_t len, const struct snap *a, const struct snap *b)
{
	char sc[96], name[128];
	long long slab;
	double pages = (double)(len / PS);

	snprintf(sc, sizeof(sc), "%s.held", scen);
	slab = slab_delta(sc, &a->slab, &b->slab);
#define M(q, unit, v) do { snprintf(name, sizeof(name), "%s.held.%s", prefix, q); \
		metric1(name, unit, "lower", v); } while (0)
	M("slab_bytes", "bytes", (double)slab);
	M("sunreclaim_kb", "kB", (double)(b->sunreclaim - a->sunreclaim));
	M("pagetables_kb", "kB", (double)(b->pagetables - a->pagetables));
	M("vmpte_kb", "kB", (double)(b->vmpte - a->vmpte));
	M("bytes_per_page", "bytes/page",
	  (double)(slab + (b->pagetables - a->pagetables) * 1024LL) / pages);
#undef M
}

static void report_after(const char *what, const struct snap *a, const struct snap *b)
{
	char sc[96], name[128];
	long long slab;

	snprintf(sc, sizeof(sc), "%s.%s", scen, what);
	slab = slab_delta(sc, &a->slab, &b->slab);
	snprintf(name, sizeof(name), "%s.%s.bytes", prefix, what);
	metric1(name, "bytes", "lower", (double)(slab + (b->pagetables - a->pagetables) * 1024LL));
	snprintf(name, sizeof(name), "%s.%s.sunreclaim_kb", prefix, what);
	metric1(name, "kB", "lower", (double)(b->sunreclaim - a->sunreclaim));
}

static void need_memory(size_t len)
{
	long avail = meminfo_kb("MemAvailable");

	if (avail >= 0 && (size_t)avail * 1024 < len + 256 * MB)
		bench_skip("MemAvailable %ld kB < %zu MiB needed", avail, len / MB + 256);
}

static int anon(void)
{
	size_t len = 1UL << 30;
	uint64_t t0 = now_ns();
	char *p;

	need_memory(len);
	/* warm up per-process and per-VMA caches */
	p = mmap(NULL, 16 * MB, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		bench_fail("mmap: %s", strerror(errno));
	madvise(p, 16 * MB, MADV_NOHUGEPAGE);
	touch_pages(p, 16 * MB);
	munmap(p, 16 * MB);

	take(&s0);
	p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		bench_fail("mmap 1 GiB: %s", strerror(errno));
	madvise(p, len, MADV_NOHUGEPAGE);
	touch_pages(p, len);
	take(&s1);
	report_held(len, &s0, &s1);
	if (munmap(p, len))
		bench_fail("munmap: %s", strerror(errno));
	take(&s2);
	report_after("after_munmap", &s0, &s2);
	printf("# meta_anon: %.1f s\n", (double)(now_ns() - t0) / 1e9);
	return 0;
}

/* ---- peer ---- */

static size_t peer_len;

static int peer_child(void *arg)
{
	char *p;
	int fd;

	(void)arg;
	take(&s0);	/* before attach: the gm_as and its context count as metadata */
	fd = peer_attach();
	if (fd < 0)
		return 1;
	p = map_fresh(peer_len, MAP_PEER_SHARED);
	if (!p) {
		printf("# fail-reason: mmap(MAP_PEER_SHARED, %zu) after attach: %s\n", peer_len, strerror(errno));
		return 1;
	}
	touch_pages(p, peer_len);
	take(&s1);
	report_held(peer_len, &s0, &s1);
	fflush(stdout);
	/*
	 * Exit holding only CPU pages (exit with device pages oopses, munmap
	 * deadlocks on the RFC); the fd's release DETACHes.
	 */
	return 0;
}

static int peer(void)
{
	struct snap before;
	char buf[32];
	int rc;

	peer_prereq();
	peer_len = (size_t)env_long("BENCH_PEER_META_MB", 1024, 1, 65536) * MB;
	if (peer_len == 1UL << 30)
		scen = "peer_1g";
	else {
		snprintf(buf, sizeof(buf), "peer_%zum", peer_len / MB);
		scen = buf;
	}
	need_memory(peer_len);
	take(&before);
	rc = run_child(peer_child, NULL, (int)env_long("BENCH_PEER_TIMEOUT", 30, 1, 3600));
	if (rc < 0)
		bench_fail("%s", child_why);
	if (rc)
		bench_fail("peer child exit code %d", rc);
	take(&s2);
	report_after("after_exit", &before, &s2);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 2 && !strcmp(argv[1], "anon")) {
		prefix = "meta_anon";
		scen = "anon_1g";
		return anon();
	}
	if (argc == 2 && !strcmp(argv[1], "peer")) {
		prefix = "peer_meta";
		return peer();
	}
	bench_fail("usage: meta anon|peer");
}
