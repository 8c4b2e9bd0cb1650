// SPDX-License-Identifier: GPL-2.0
/* /proc/PID/smaps shows the 'ps' VmFlags mnemonic for peer-shared VMAs only. */
#include "gmem_util.h"
#include <linux/userfaultfd.h>

static void t_ps_present(struct kt *t)
{
	int fd = dev_attach(t);
	char *p = ps_map_or_die(t, 64 * PS, 0);
	char flags[512];

	p[0] = 1;
	KT_ASSERT(t, smaps_query(0, p, NULL, flags, sizeof(flags)) == 0, "VMA %p not in smaps", p);
	kt_diag(t, "VmFlags:%s", flags);
	KT_EXPECT(t, vma_has_flag(0, p, "ps") == 1, "'ps' missing from VmFlags:%s", flags);
	(void)fd;
}

/* no other VMA of the process (stack, heap, text, vdso, plain anon) shows 'ps' */
static void t_ps_only_on_peer_shared(struct kt *t)
{
	int fd = dev_attach(t);
	char *p = ps_map_or_die(t, 16 * PS, 0);
	char *q = mmap(NULL, 16 * PS, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	char line[512];
	unsigned long s, e, cur = 0;
	int nps = 0, bad = 0;
	FILE *f;

	p[0] = 1;
	q[0] = 1;
	f = fopen("/proc/self/smaps", "r");
	KT_ASSERT(t, f, "smaps: %s", strerror(errno));
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%lx-%lx ", &s, &e) == 2 && strchr(line, '-') < strchr(line, ' ')) {
			cur = s;
			continue;
		}
		if (!strncmp(line, "VmFlags:", 8) && strstr(line, " ps")) {
			nps++;
			if (cur != (unsigned long)p) {
				bad++;
				line[strcspn(line, "\n")] = 0;
				kt_diag(t, "unexpected 'ps' on VMA %#lx:%s", cur, line + 8);
			}
		}
	}
	fclose(f);
	KT_EXPECT(t, nps == 1 && bad == 0, "%d VMAs show 'ps' (%d unexpected), expected exactly 1", nps, bad);
	(void)fd;
}

/* 'ps' survives a VMA split and is visible from another process */
static void t_ps_remote(struct kt *t)
{
	int pfd[2], rfd[2], fd, st;
	pid_t me = getpid(), pid;
	char *p;
	char res = 0;

	/* the reader is forked before the attach, so it is a plain process */
	KT_ASSERT(t, pipe(pfd) == 0 && pipe(rfd) == 0, "pipe");
	fflush(NULL);
	pid = fork();
	if (pid == 0) {
		void *addr;

		if (read(pfd[0], &addr, sizeof(addr)) != sizeof(addr))
			_exit(2);
		res = vma_has_flag(me, addr, "ps") == 1 ? 'y' : 'n';
		if (write(rfd[1], &res, 1) != 1)
			_exit(2);
		_exit(0);
	}
	fd = dev_attach(t);
	p = ps_map_or_die(t, 8 * PS, 0);
	memset(p, 1, 8 * PS);
	/* (VMA splits: vma_ops/split_flags; adjacent peer-shared VMAs corrupt memory at exit) */
	if (write(pfd[1], &p, sizeof(p)) != sizeof(p) || read(rfd[0], &res, 1) != 1)
		res = '?';
	waitpid(pid, &st, 0);
	KT_EXPECT(t, res == 'y', "/proc/%d/smaps read by another process: 'ps' %s", me,
		  res == 'n' ? "missing" : "not determined");
	(void)fd;
}

/*
 * VM_PEER_SHARED must have a VMA flag bit of its own.  On 6.12 bit 38 is
 * VM_UFFD_MINOR (x86_64 with CONFIG_USERFAULTFD): a userfaultfd minor-mode
 * registered shmem VMA must show 'ui' and not 'ps'.
 */
static void t_flag_bit_unique(struct kt *t)
{
	int fd = dev_attach(t);
	struct uffdio_api api = { .api = UFFD_API, .features = UFFD_FEATURE_MINOR_SHMEM };
	struct uffdio_register reg;
	int ufd = syscall(__NR_userfaultfd, O_CLOEXEC | O_NONBLOCK);
	char *p;
	int ps, ui;

	if (ufd < 0)
		kt_skip(t, "userfaultfd: %s", strerror(errno));
	if (ioctl(ufd, UFFDIO_API, &api))
		kt_skip(t, "UFFDIO_API(MINOR_SHMEM): %s", strerror(errno));
	p = mmap(NULL, 16 * PS, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	KT_ASSERT(t, p != MAP_FAILED, "mmap shmem: %s", strerror(errno));
	reg.range.start = (unsigned long)p;
	reg.range.len = 16 * PS;
	reg.mode = UFFDIO_REGISTER_MODE_MINOR;
	if (ioctl(ufd, UFFDIO_REGISTER, &reg))
		kt_skip(t, "UFFDIO_REGISTER minor: %s", strerror(errno));
	ps = vma_has_flag(0, p, "ps");
	ui = vma_has_flag(0, p, "ui");
	KT_EXPECT(t, ps == 0 && ui == 1,
		  "uffd-minor registered shmem VMA (not peer-shared): ps=%d ui=%d, expected ps=0 ui=1 "
		  "(VM_PEER_SHARED shares a bit with VM_UFFD_MINOR?)", ps, ui);
	(void)fd;
}

static const struct kt_case cases[] = {
	KT_CASE_B(t_ps_present, 0, "show_smap_vma_flags"),
	KT_CASE_B(t_ps_only_on_peer_shared, 0, "show_smap_vma_flags"),
	KT_CASE_B(t_ps_remote, 0, "show_smap_vma_flags"),
	KT_CASE_B(t_flag_bit_unique, 0, "show_smap_vma_flags"),
	{}
};

int main(void)
{
	return kt_main("smaps", cases, prereq_dev);
}
