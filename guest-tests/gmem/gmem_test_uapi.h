/* SPDX-License-Identifier: GPL-2.0 */
/*
 * gmem_test: ioctl ABI of the fake GMEM peer device (/dev/gmem_test).
 * Shared by module/gmem_test.c and the user-space workloads.
 *
 * One open file = one device context.  ATTACH binds the caller's mm to the
 * device (gm_as_create() if the mm has no gm_as yet, then gm_as_attach());
 * the fd keeps the device pages of that mm until it is closed.
 * "Device memory" is ordinary kernel pages kept in a per-mm xarray (the
 * device page table, one 4 KiB device page per VA page).
 */
#ifndef GMEM_TEST_UAPI_H
#define GMEM_TEST_UAPI_H

#include <linux/types.h>
#include <linux/ioctl.h>

#define GMEM_TEST_DEV		"/dev/gmem_test"
#define GMEM_TEST_DEV1		"/dev/gmem_test1"	/* a second, independent peer device */
#define GMEM_TEST_IOC_MAGIC	'G'

/* values of gmem_test_attach.mode (enum gm_mmu_mode) */
#define GMEM_TEST_MODE_SHARE		0
#define GMEM_TEST_MODE_COHERENT_EXCL	1
#define GMEM_TEST_MODE_REPLICATE	2

/* bits of gmem_test_attach.out_flags */
#define GMEM_TEST_ATTACH_F_INHERITED_AS	0x1	/* mm->gm_as was already set, but not by an
						   attach of this mm (e.g. copied by fork) */
#define GMEM_TEST_ATTACH_F_REUSED_AS	0x2	/* mm->gm_as set by an earlier attach of this mm */

struct gmem_test_attach {
	__u32 mode;		/* in: enum gm_mmu_mode */
	__u32 activate;		/* in: gm_as_attach(activate) */
	__s32 hnid;		/* out: hNUMA node of the device memory, -1 if none */
	__u32 out_flags;	/* out: GMEM_TEST_ATTACH_F_* */
	__s32 gm_ret;		/* out: return of gm_as_attach() */
	__u32 pad;
};

/* gm_dev_fault() for each 4 KiB page of [addr, addr + npages * 4096) */
struct gmem_test_fault {
	__u64 addr;		/* in */
	__u64 npages;		/* in */
	__s32 gm_ret;		/* out: first non-zero gm_dev_fault() return, else 0 */
	__u32 nfailed;		/* out: number of pages whose gm_dev_fault() failed */
};

/* device-side access of [addr, addr + len) */
#define GMEM_TEST_RW_NOFAULT	0x1	/* do not call gm_dev_fault(); fail with
					   ENOENT if a page is not in device memory */
struct gmem_test_rw {
	__u64 addr;		/* in: VA in the attached mm */
	__u64 uptr;		/* in: user buffer */
	__u64 len;		/* in */
	__u32 flags;		/* in: GMEM_TEST_RW_* */
	__u32 faults;		/* out: gm_dev_fault() calls made */
	__s32 gm_ret;		/* out: gm_dev_fault() return that caused a failure */
	__u32 pad;
};

/* CPU-side fault-in through get_user_pages() (migrates device pages back) */
struct gmem_test_range {
	__u64 addr;
	__u64 len;
};

/* peer_va_alloc_fixed() returns GM_RET_NOMEM for ranges overlapping this one
 * (len == 0 clears it) */

/* presence query: bit i of bitmap set if page i of [addr, +npages) is in
 * this mm's device page table */
struct gmem_test_present {
	__u64 addr;
	__u64 npages;		/* <= 4096 */
	__u64 bitmap_uptr;	/* user buffer of (npages + 63) / 64 __u64 */
	__u64 count;		/* out: number of present pages */
};

struct gmem_test_stats {
	/* this context (mm) */
	__u64 peer_map;		/* peer_map() calls */
	__u64 peer_map_copy;	/* ... with copy == true */
	__u64 peer_map_remap;	/* ... for a VA already in device memory */
	__u64 peer_unmap;	/* peer_unmap() calls */
	__u64 peer_unmap_copy;	/* ... with copy == true */
	__u64 peer_unmap_miss;	/* ... covering no device page at all */
	__u64 va_alloc;		/* peer_va_alloc_fixed() calls */
	__u64 va_free;		/* peer_va_free() calls */
	__u64 va_denied;	/* peer_va_alloc_fixed() refused (VA_DENY) */
	__u64 dev_pages;	/* device pages currently held for this mm */
	__u64 last_map_va, last_map_size;
	__u64 last_unmap_va, last_unmap_size;
	__u64 bad_dma;		/* copy requested with an unusable dma_addr */
	__u64 copy_overrun;	/* copy size larger than the CPU folio behind dma_addr */
	__u64 atomic_calls;	/* callbacks entered in atomic context (-1: unknown) */
	__u64 unaligned_va;	/* callbacks with a VA not page aligned */
	/* global */
	__u64 dev_pages_total;	/* device pages held for all contexts */
	__u64 contexts;		/* live contexts */
	__s64 hnid;		/* device hNUMA node, -1 if none */
	__u64 pmap_create;	/* global pmap_create() calls */
	__u64 pmap_destroy;	/* global pmap_destroy() calls */
	__u64 unknown_mm;	/* callbacks for an mm with no pmap */
};

#define GMEM_TEST_IOC_ATTACH	_IOWR(GMEM_TEST_IOC_MAGIC, 1, struct gmem_test_attach)
#define GMEM_TEST_IOC_DETACH	_IO(GMEM_TEST_IOC_MAGIC, 2)
#define GMEM_TEST_IOC_FAULT	_IOWR(GMEM_TEST_IOC_MAGIC, 3, struct gmem_test_fault)
#define GMEM_TEST_IOC_READ	_IOWR(GMEM_TEST_IOC_MAGIC, 4, struct gmem_test_rw)
#define GMEM_TEST_IOC_WRITE	_IOWR(GMEM_TEST_IOC_MAGIC, 5, struct gmem_test_rw)
#define GMEM_TEST_IOC_TO_CPU	_IOW(GMEM_TEST_IOC_MAGIC, 6, struct gmem_test_range)
#define GMEM_TEST_IOC_STATS	_IOR(GMEM_TEST_IOC_MAGIC, 7, struct gmem_test_stats)
#define GMEM_TEST_IOC_VA_DENY	_IOW(GMEM_TEST_IOC_MAGIC, 8, struct gmem_test_range)
#define GMEM_TEST_IOC_PRESENT	_IOWR(GMEM_TEST_IOC_MAGIC, 9, struct gmem_test_present)

#endif /* GMEM_TEST_UAPI_H */
