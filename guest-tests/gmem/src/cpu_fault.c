// SPDX-License-Identifier: GPL-2.0
/* CPU page faults on peer-shared mappings (RFC 6/6 do_anonymous_page path). */
#include "gmem_util.h"
#include <sys/uio.h>

#define NP 64

static void t_write_read(struct kt *t)
{
	int fd = dev_attach(t);
	char *p = ps_map_or_die(t, NP * PS, 0);
	long bad;
	int i;

	for (i = 0; i < NP; i++)
		fill(p + i * PS, PS, 100 + i);
	for (i = 0; i < NP; i++) {
		bad = check(p + i * PS, PS, 100 + i);
		KT_EXPECT(t, bad < 0, "page %d word %ld: got %#x expected %#x", i, bad,
			  ((uint32_t *)(p + i * PS))[bad], expect_word(100 + i, bad));
	}
	(void)fd;
}

static void t_read_fault_zero(struct kt *t)
{
	int fd = dev_attach(t);
	char *p = ps_map_or_die(t, NP * PS, 0);
	volatile char c = 0;
	long bad;
	int i;

	for (i = 0; i < NP; i++)
		c += p[i * PS + 17];
	bad = check_zero(p, NP * PS);
	KT_EXPECT(t, bad < 0 && c == 0, "untouched peer-shared memory not zero at qword %ld", bad);
	/* writes after read faults */
	for (i = 0; i < NP; i++)
		p[i * PS] = i + 1;
	for (i = 0; i < NP; i++)
		KT_EXPECT(t, p[i * PS] == i + 1, "page %d: write after read fault lost", i);
	(void)fd;
}

static void t_rss_accounting(struct kt *t)
{
	int fd = dev_attach(t);
	char *p = ps_map_or_die(t, 4 * NP * PS, 0);
	long rss, anon;
	int i;

	for (i = 0; i < NP; i++)
		p[i * 4 * PS] = 1;
	rss = smaps_query(0, p, "Rss", NULL, 0);
	anon = smaps_query(0, p, "Anonymous", NULL, 0);
	kt_diag(t, "touched %d pages: Rss %ld kB Anonymous %ld kB", NP, rss, anon);
	KT_EXPECT(t, rss == NP * 4, "Rss %ld kB, expected %d kB", rss, NP * 4);
	KT_EXPECT(t, anon == NP * 4, "Anonymous %ld kB, expected %d kB", anon, NP * 4);
	(void)fd;
}

/* faults through GUP (device driver pinning / TO_CPU ioctl) and /proc/self/mem */
static void t_gup_fault(struct kt *t)
{
	int fd = dev_attach(t);
	char *p = ps_map_or_die(t, NP * PS, 0);
	char buf[PS];
	int mfd, r;

	r = dev_to_cpu(fd, p, 8 * PS);
	KT_EXPECT(t, r == 0, "GUP fault-in of untouched pages: %s", strerror(-r));
	KT_EXPECT(t, check_zero(p, 8 * PS) < 0, "GUP-faulted pages not zero");
	mfd = open("/proc/self/mem", O_RDWR);
	KT_ASSERT(t, mfd >= 0, "/proc/self/mem: %s", strerror(errno));
	fill(buf, PS, 7);
	r = pwrite(mfd, buf, PS, (off_t)(unsigned long)(p + 20 * PS));
	KT_EXPECT(t, r == PS, "pwrite /proc/self/mem into untouched page: %d %s", r, strerror(errno));
	KT_EXPECT(t, check(p + 20 * PS, PS, 7) < 0, "data written via /proc/self/mem not visible to the CPU");
	memset(buf, 0, PS);
	fill(p + 30 * PS, PS, 8);
	r = pread(mfd, buf, PS, (off_t)(unsigned long)(p + 30 * PS));
	KT_EXPECT(t, r == PS && check(buf, PS, 8) < 0, "pread /proc/self/mem mismatch");
	close(mfd);
	(void)fd;
}

/* a second mapping and munmap-free re-faulting; many small VMAs */
static void t_many_vmas(struct kt *t)
{
	int fd = dev_attach(t);
	char *v[64];
	int i;

	for (i = 0; i < 64; i++) {
		v[i] = ps_map_or_die(t, 3 * PS, 0);
		fill(v[i], 3 * PS, 300 + i);
	}
	for (i = 0; i < 64; i++)
		KT_EXPECT(t, check(v[i], 3 * PS, 300 + i) < 0, "VMA #%d content corrupted", i);
	(void)fd;
}

static const struct kt_case cases[] = {
	KT_CASE_B(t_write_read, 0, "do_anonymous_page"),
	KT_CASE_B(t_read_fault_zero, 0, "do_anonymous_page"),
	KT_CASE_B(t_rss_accounting, 0, "do_anonymous_page"),
	KT_CASE_B(t_gup_fault, 0, "do_anonymous_page"),
	KT_CASE_B(t_many_vmas, 0, "do_anonymous_page"),
	{}
};

int main(void)
{
	return kt_main("cpu_fault", cases, prereq_dev);
}
