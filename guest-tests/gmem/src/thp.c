// SPDX-License-Identifier: GPL-2.0
/* 2 MiB alignment / THP-backed peer-shared mappings (RFC 6/6 huge_memory.c). */
#include "gmem_util.h"

#define NH 4

static const char *prereq_thp(void)
{
	const char *w = prereq_dev();
	static char why[128];
	char mode[128] = "";
	FILE *f;

	if (w)
		return w;
	f = fopen("/sys/kernel/mm/transparent_hugepage/enabled", "r");
	if (!f)
		return "no THP support (/sys/kernel/mm/transparent_hugepage/enabled missing)";
	if (!fgets(mode, sizeof(mode), f))
		mode[0] = 0;
	fclose(f);
	if (strstr(mode, "[never]")) {
		snprintf(why, sizeof(why), "THP disabled: %s", mode);
		return why;
	}
	return NULL;
}

static void t_thp_backed(struct kt *t)
{
	int fd = dev_attach(t);
	char *p = ps_map_aligned(t, NH * HPS, 0);
	long ahp, b;
	int i;

	madvise(p, NH * HPS, MADV_HUGEPAGE);
	for (i = 0; i < NH; i++)
		p[i * HPS] = 1;
	ahp = smaps_query(0, p, "AnonHugePages", NULL, 0);
	kt_diag(t, "AnonHugePages %ld kB after touching %d aligned 2 MiB extents", ahp, NH);
	KT_EXPECT(t, ahp == NH * 2048, "AnonHugePages %ld kB, expected %d kB", ahp, NH * 2048);
	for (i = 0; i < NH; i++) {
		p[i * HPS] = 0;
		b = check_zero(p + i * HPS, HPS);
		KT_EXPECT(t, b < 0, "huge page %d not zero-filled at offset %#lx", i, b * 8);
	}
	for (i = 0; i < NH; i++)
		fill(p + i * HPS, HPS, 40 + i);
	for (i = 0; i < NH; i++)
		KT_EXPECT(t, check(p + i * HPS, HPS, 40 + i) < 0, "huge page %d readback", i);
	(void)fd;
}

/* THP faults must not leak memory: children fault 4 x 2 MiB and exit */
static int child_thp(void *a)
{
	struct kt tt = { 0 };
	int fd = dev_attach(&tt);
	char *p = ps_map_aligned(&tt, NH * HPS, 0);
	int i;

	(void)a;
	madvise(p, NH * HPS, MADV_HUGEPAGE);
	for (i = 0; i < NH; i++)
		memset(p + i * HPS, i + 1, HPS);
	close(fd);
	return 0;
}

static void t_thp_no_leak(struct kt *t)
{
	long before, after, leak;
	int i, rc;

	drop_caches();
	before = meminfo("MemAvailable");
	for (i = 0; i < 12; i++) {
		rc = run_child(t, "THP child", 30, child_thp, NULL);
		if (rc)
			kt_fail(t, "child %d: code %d", i, rc);
		if (t->status == KT_FAIL)
			kt_done(t);
	}
	drop_caches();
	after = meminfo("MemAvailable");
	leak = before - after;
	kt_diag(t, "MemAvailable %ld -> %ld kB after 12 x %d THP faults (%ld kB difference)",
		before, after, NH, leak);
	KT_EXPECT(t, leak < 16 * 1024, "%ld kB lost after 12 children each faulting %d huge pages "
		  "(~%ld kB per huge page fault)", leak, NH, leak / (12 * NH));
}

/* device read of a CPU-written THP, at the head and at an inner page */
static void t_thp_dev_read(struct kt *t)
{
	int fd = dev_attach(t);
	char *p = ps_map_aligned(t, NH * HPS, 0);
	static char b[PS];
	long bad;
	int r;

	madvise(p, NH * HPS, MADV_HUGEPAGE);
	fill(p, 2 * HPS, 90);
	KT_EXPECT(t, smaps_query(0, p, "AnonHugePages", NULL, 0) >= 2048, "not THP-backed");
	r = dev_read(fd, p + HPS + 5 * PS, b, PS);
	KT_ASSERT(t, r == 0, "device read inside a huge page: %s", strerror(-r));
	{
		/* fill() seeded both huge pages as one buffer: this page starts at its word `off` */
		long off = (HPS + 5 * PS) / 4;

		bad = check_at(b, PS, 90, off);
		KT_EXPECT(t, bad < 0, "device read at huge page offset +%#lx: word %ld is %#x, expected %#x "
			  "(the CPU data of the THP)", 5 * PS, bad, ((uint32_t *)b)[bad < 0 ? 0 : bad],
			  expect_word(90, off + (bad < 0 ? 0 : bad)));
	}
	r = dev_read(fd, p, b, PS);
	KT_ASSERT(t, r == 0, "device read at huge page head: %s", strerror(-r));
	bad = check(b, PS, 90);
	KT_EXPECT(t, bad < 0, "device read at the huge page head: word %ld is %#x, expected %#x",
		  bad, ((uint32_t *)b)[bad < 0 ? 0 : bad], expect_word(90, bad));
	diag_stats(t, fd);
}

/* device writes into a huge page region, CPU reads */
static void t_thp_dev_write_cpu_read(struct kt *t)
{
	int fd = dev_attach(t);
	char *p = ps_map_aligned(t, NH * HPS, 0);
	static char b[PS];
	long bad;
	int r;

	madvise(p, NH * HPS, MADV_HUGEPAGE);
	fill(b, PS, 95);
	r = dev_write(fd, p + 2 * HPS, b, PS);
	KT_ASSERT(t, r == 0, "device write at 2 MiB-aligned untouched address: %s", strerror(-r));
	bad = check(p + 2 * HPS, PS, 95);
	KT_EXPECT(t, bad < 0, "CPU read after device write (huge page fault): word %ld is %#x, expected %#x",
		  bad, ((uint32_t *)(p + 2 * HPS))[bad < 0 ? 0 : bad], expect_word(95, bad));
	KT_EXPECT(t, check_zero(p + 2 * HPS + PS, HPS - PS) < 0, "rest of the huge page not zero");
	diag_stats(t, fd);
}

/* unaligned peer-shared mapping: partial extents fall back to 4 KiB pages */
static void t_unaligned_mapping(struct kt *t)
{
	int fd = dev_attach(t);
	char *base = ps_map_aligned(t, 8 * HPS, 0);
	char *p;

	p = ps_mmap(base + 9 * HPS + 3 * PS, 3 * HPS, MAP_FIXED_NOREPLACE);
	KT_ASSERT(t, p != MAP_FAILED, "unaligned mapping: %s", strerror(errno));
	madvise(p, 3 * HPS, MADV_HUGEPAGE);
	fill(p, 3 * HPS, 97);
	KT_EXPECT(t, check(p, 3 * HPS, 97) < 0, "readback of an unaligned 6 MiB peer-shared mapping");
	kt_diag(t, "AnonHugePages %ld kB", smaps_query(0, p, "AnonHugePages", NULL, 0));
	(void)fd;
}

static const struct kt_case cases[] = {
	KT_CASE_B(t_thp_backed, 0, "do_huge_pmd_anonymous_page"),
	KT_CASE(t_unaligned_mapping),
	KT_CASE_B(t_thp_dev_read, 0, "gm_dev_fault"),
	KT_CASE_B(t_thp_dev_write_cpu_read, 0, "gm_host_fault_locked"),
	KT_CASE_B(t_thp_no_leak, 240, "do_huge_pmd_anonymous_page"),
	{}
};

int main(void)
{
	return kt_main("thp", cases, prereq_thp);
}
