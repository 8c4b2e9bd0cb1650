// SPDX-License-Identifier: GPL-2.0
/*
 * CPU <-> device coherence: "any data written by the CPU or any attached
 * accelerator can be seen by the next memory load instruction issued by any
 * attached accelerator or the CPU" (RFC cover letter).  4 KiB pages.
 */
#include "gmem_util.h"

static char buf[64 * 4096];

#define EXPECT_PATTERN(t, mem, len, seed, what) do {				\
	long _b = check(mem, len, seed);					\
	KT_EXPECT(t, _b < 0, "%s: word %ld is %#x, expected %#x", what, _b,	\
		  ((uint32_t *)(mem))[_b < 0 ? 0 : _b], expect_word(seed, _b));	\
} while (0)

/* CPU writes, device reads (migration CPU -> device with copy) */
static void t_cpu_to_dev(struct kt *t)
{
	int fd = dev_attach(t);
	char *p = ps_map_or_die(t, 16 * PS, 0);
	struct gmem_test_stats s;
	int r;

	fill(p + 5 * PS, PS, 501);
	r = dev_read(fd, p + 5 * PS, buf, PS);
	KT_ASSERT(t, r == 0, "device read: %s", strerror(-r));
	EXPECT_PATTERN(t, buf, PS, 501, "device read of a CPU-written page");
	s = dev_stats(fd);
	KT_EXPECT(t, s.peer_map_copy >= 1, "peer_map was never asked to copy the CPU data");
	KT_EXPECT(t, s.copy_overrun == 0 && s.bad_dma == 0,
		  "peer_map copy of a 4 KiB CPU page asked for size %#llx (%llu overruns of the CPU "
		  "folio, %llu bad dma addresses)", (unsigned long long)s.last_map_size,
		  (unsigned long long)s.copy_overrun, (unsigned long long)s.bad_dma);
	diag_stats(t, fd);
}

/* device writes, CPU reads (migration device -> CPU on CPU fault) */
static void t_dev_to_cpu(struct kt *t)
{
	int fd = dev_attach(t);
	char *p = ps_map_or_die(t, 16 * PS, 0);
	struct gmem_test_stats s;
	int r;

	fill(buf, PS, 502);
	r = dev_write(fd, p + 6 * PS, buf, PS);
	KT_ASSERT(t, r == 0, "device write: %s", strerror(-r));
	EXPECT_PATTERN(t, p + 6 * PS, PS, 502, "CPU read of a device-written page");
	s = dev_stats(fd);
	KT_EXPECT(t, s.peer_unmap_copy >= 1, "CPU fault never asked the device to copy back (peer_unmap copy=%llu)",
		  (unsigned long long)s.peer_unmap_copy);
	KT_EXPECT(t, s.atomic_calls == 0 || s.atomic_calls == (uint64_t)-1,
		  "%llu gm_mmu callbacks ran in atomic context (device drivers may sleep)",
		  (unsigned long long)s.atomic_calls);
	diag_stats(t, fd);
}

/* a page touched by the CPU first, then written by the device, then read by the CPU */
static void t_roundtrip(struct kt *t)
{
	int fd = dev_attach(t);
	char *p = ps_map_or_die(t, 16 * PS, 0);
	int r;

	fill(p, PS, 1);
	r = dev_read(fd, p, buf, PS);
	KT_ASSERT(t, r == 0, "device read: %s", strerror(-r));
	EXPECT_PATTERN(t, buf, PS, 1, "step 1 device read");
	fill(buf, PS, 2);
	r = dev_write(fd, p, buf, PS);
	KT_ASSERT(t, r == 0, "device write: %s", strerror(-r));
	EXPECT_PATTERN(t, p, PS, 2, "step 2 CPU read after device write");
	fill(p, PS, 3);
	r = dev_read(fd, p, buf, PS);
	KT_ASSERT(t, r == 0, "device read: %s", strerror(-r));
	EXPECT_PATTERN(t, buf, PS, 3, "step 3 device read after CPU write");
	diag_stats(t, fd);
}

/* a device fault on one page must not disturb the CPU's neighbouring pages */
static void t_neighbours_intact(struct kt *t)
{
	int fd = dev_attach(t);
	char *p = ps_map_or_die(t, 16 * PS, 0);
	char name[64];
	int i, r;

	for (i = 0; i < 16; i++)
		fill(p + i * PS, PS, 600 + i);
	r = dev_read(fd, p, buf, PS);
	KT_ASSERT(t, r == 0, "device read: %s", strerror(-r));
	for (i = 1; i < 16; i++) {
		snprintf(name, sizeof(name), "CPU page %d after device fault on page 0", i);
		EXPECT_PATTERN(t, p + i * PS, PS, 600 + i, name);
	}
	diag_stats(t, fd);
}

/* GUP (TO_CPU ioctl) migrates a device page back */
static void t_migrate_gup(struct kt *t)
{
	int fd = dev_attach(t);
	char *p = ps_map_or_die(t, 16 * PS, 0);
	int r;

	fill(buf, 4 * PS, 700);
	r = dev_write(fd, p + 8 * PS, buf, 4 * PS);
	KT_ASSERT(t, r == 0, "device write: %s", strerror(-r));
	r = dev_to_cpu(fd, p + 8 * PS, 4 * PS);
	KT_EXPECT(t, r == 0, "GUP fault-in: %s", strerror(-r));
	KT_EXPECT(t, dev_present(fd, p + 8 * PS, 4, NULL) == 0,
		  "%ld pages still in device memory after migration to the CPU",
		  dev_present(fd, p + 8 * PS, 4, NULL));
	EXPECT_PATTERN(t, p + 8 * PS, 4 * PS, 700, "CPU read after GUP migration");
}

/* after the CPU takes a page back, the device must not keep a stale copy */
static void t_no_stale_device_copy(struct kt *t)
{
	int fd = dev_attach(t);
	char *p = ps_map_or_die(t, 16 * PS, 0);
	int r;

	fill(buf, PS, 801);
	r = dev_write(fd, p + 2 * PS, buf, PS);
	KT_ASSERT(t, r == 0, "device write: %s", strerror(-r));
	fill(p + 2 * PS, PS, 802);	/* CPU fault: migrate back, then overwrite */
	memset(buf, 0, PS);
	r = dev_read(fd, p + 2 * PS, buf, PS);
	KT_ASSERT(t, r == 0, "device read: %s", strerror(-r));
	EXPECT_PATTERN(t, buf, PS, 802, "device read after the CPU overwrote a migrated-back page");
}


static const struct kt_case cases[] = {
	KT_CASE_B(t_cpu_to_dev, 0, "gm_dev_fault"),
	KT_CASE_B(t_dev_to_cpu, 0, "gm_host_fault_locked"),
	KT_CASE_B(t_migrate_gup, 0, "gm_host_fault_locked"),
	KT_CASE_B(t_no_stale_device_copy, 0, "gm_host_fault_locked"),
	KT_CASE(t_roundtrip),
	KT_CASE_B(t_neighbours_intact, 0, "gm_dev_fault"),
	{}
};

int main(void)
{
	return kt_main("coherence", cases, prereq_dev);
}
