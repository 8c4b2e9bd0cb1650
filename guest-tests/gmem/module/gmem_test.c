// SPDX-License-Identifier: GPL-2.0
/*
 * gmem_test: a fake GMEM peer device for testing the GMEM RFC
 * (gm_dev / gm_as / gm_mmu API), modelled on lib/test_hmm.c's dmirror.
 *
 * "Device memory" is ordinary kernel pages.  The device page table (pmap) of
 * an attached mm is an xarray from VA page index to the struct page holding
 * the device copy of that page.  The device base page size is PAGE_SIZE.
 *
 * Every gm_mmu callback checks its arguments and counts what it finds odd
 * (see struct gmem_test_stats); the tests read the counters.
 *
 * Two devices (GMT_NDEV): /dev/gmem_test and /dev/gmem_test1, each its own
 * gm_dev, gm_mmu, platform device and hNUMA node, so one mm can attach two
 * peers to its gm_as.  Every callback finds its pmap by (mm, device).
 *
 * ioctl ABI: ../gmem_test_uapi.h
 */
#define pr_fmt(fmt) "gmem_test: " fmt

#include <linux/module.h>
#include <linux/kernel.h>
#include <linux/miscdevice.h>
#include <linux/platform_device.h>
#include <linux/dma-mapping.h>
#include <linux/dma-direct.h>
#include <linux/fs.h>
#include <linux/mm.h>
#include <linux/sched/mm.h>
#include <linux/highmem.h>
#include <linux/slab.h>
#include <linux/xarray.h>
#include <linux/uaccess.h>
#include <linux/gmem.h>

#include "gmem_test_uapi.h"

/* fake device physical memory registered with gm_dev_register_physmem() */
#define GMT_PHYS_BASE	(1UL << 40)
#define GMT_PHYS_SIZE	(16UL << 20)
#define GMT_NDEV	2

/* exported by mm/gmem.c but not declared in gmem.h by the RFC */
void gm_dev_unregister_physmem(struct gm_dev *dev, unsigned int nid);

struct gmt_pmap {
	struct list_head link;		/* gmt_pmaps */
	struct mm_struct *mm;		/* not referenced; only a key */
	int dev;			/* index into gmt_gdevs: the other half of the key */
	spinlock_t lock;		/* protects pages, counters below */
	struct xarray pages;		/* VA >> PAGE_SHIFT -> struct page * */
	unsigned long deny_start, deny_end;
	struct gmem_test_stats st;	/* per-context part */
	bool orphan;			/* owner context gone */
};

struct gmt_file {
	struct mutex lock;
	int dev;			/* which device this fd opened */
	struct mm_struct *mm;		/* mmgrab()ed while attached */
	struct gm_as *as;		/* the gm_as we attached to */
	bool own_as;
	bool detached;
	struct gm_context *gctx;
	struct gmt_pmap *pmap;
};

static struct gm_dev *gmt_gdevs[GMT_NDEV];
static struct platform_device *gmt_pdevs[GMT_NDEV];
static int gmt_hnids[GMT_NDEV] = { -1, -1 };
static DEFINE_SPINLOCK(gmt_lock);	/* gmt_pmaps, global counters */
static LIST_HEAD(gmt_pmaps);
static atomic64_t gmt_dev_pages_total;
static atomic64_t gmt_contexts;
static atomic64_t gmt_cnt_pmap_create, gmt_cnt_pmap_destroy, gmt_unknown_mm;
/* gm_as created by us, keyed by mm, to detect an inherited (copied) gm_as */
struct gmt_as_rec {
	struct list_head link;
	struct mm_struct *mm;
	struct gm_as *as;
	int users;
};
static LIST_HEAD(gmt_as_recs);
static DEFINE_MUTEX(gmt_as_mutex);

static bool gmt_in_atomic(void)
{
#ifdef CONFIG_PREEMPT_COUNT
	return !preemptible();
#else
	return irqs_disabled();
#endif
}

static int gmt_dev_index(struct gm_dev *dev)
{
	int i;

	for (i = 0; i < GMT_NDEV; i++)
		if (gmt_gdevs[i] == dev)
			return i;
	return -1;
}

static struct gmt_pmap *gmt_pmap_find(struct mm_struct *mm, int dev)
{
	struct gmt_pmap *p, *found = NULL;

	spin_lock(&gmt_lock);
	list_for_each_entry(p, &gmt_pmaps, link) {
		if (p->mm == mm && p->dev == dev && !p->orphan) {
			found = p;
			break;
		}
	}
	spin_unlock(&gmt_lock);
	if (!found)
		atomic64_inc(&gmt_unknown_mm);
	return found;
}

static void gmt_note_common(struct gmt_pmap *p, unsigned long va)
{
	if (!PAGE_ALIGNED(va))
		p->st.unaligned_va++;
	if (gmt_in_atomic())
		p->st.atomic_calls++;
}

/*
 * Translate the dma_addr given by GMEM to the CPU page at offset off and
 * check that [dma_addr, dma_addr + size) stays inside the CPU folio.
 */
static struct page *gmt_dma_page(struct gmt_pmap *p, dma_addr_t dma,
				 unsigned long size, unsigned long off)
{
	phys_addr_t phys;
	struct page *page;
	struct folio *folio;

	if (dma == DMA_MAPPING_ERROR || dma == 0) {
		p->st.bad_dma++;
		return NULL;
	}
	phys = dma_to_phys(&gmt_pdevs[p->dev]->dev, dma);
	if (!pfn_valid(PHYS_PFN(phys))) {
		p->st.bad_dma++;
		return NULL;
	}
	page = pfn_to_page(PHYS_PFN(phys));
	folio = page_folio(page);
	if (off == 0) {
		unsigned long in_folio = (PHYS_PFN(phys) - folio_pfn(folio)) << PAGE_SHIFT;

		if (in_folio + size > folio_size(folio))
			p->st.copy_overrun++;
	}
	/* only go as far as the folio really extends */
	if (((PHYS_PFN(phys) - folio_pfn(folio)) << PAGE_SHIFT) + off >= folio_size(folio))
		return NULL;
	return nth_page(page, off >> PAGE_SHIFT);
}

/* --- gm_mmu callbacks --------------------------------------------------- */

static int gmt_peer_va_alloc_fixed(int dev, struct mm_struct *mm, unsigned long va,
				   unsigned long size, unsigned long prot)
{
	struct gmt_pmap *p = gmt_pmap_find(mm, dev);
	int ret = GM_RET_SUCCESS;

	if (!p)
		return GM_RET_SUCCESS;
	spin_lock(&p->lock);
	p->st.va_alloc++;
	gmt_note_common(p, va);
	if (p->deny_end > p->deny_start &&
	    va < p->deny_end && va + size > p->deny_start) {
		p->st.va_denied++;
		ret = GM_RET_NOMEM;
	}
	spin_unlock(&p->lock);
	return ret;
}

static int gmt_peer_va_free(int dev, struct mm_struct *mm, unsigned long va,
			    unsigned long size)
{
	struct gmt_pmap *p = gmt_pmap_find(mm, dev);

	if (p) {
		spin_lock(&p->lock);
		p->st.va_free++;
		spin_unlock(&p->lock);
	}
	return GM_RET_SUCCESS;
}

/*
 * Map one device base page at gmf->va (the device page size is PAGE_SIZE,
 * like the host's base page; gmf->size is recorded, see last_map_size).
 * If gmf->copy, the content comes from the CPU page at gmf->dma_addr.
 */
static int gmt_peer_map(struct gm_fault_t *gmf)
{
	struct gmt_pmap *p = gmt_pmap_find(gmf->mm, gmt_dev_index(gmf->dev));
	unsigned long va = gmf->va & PAGE_MASK;
	bool atomic = gmt_in_atomic();
	struct page *dpage, *old, *src = NULL;

	if (!p)
		return GM_RET_FAILURE_UNKNOWN;

	dpage = alloc_page((atomic ? GFP_ATOMIC : GFP_KERNEL) | __GFP_ZERO);
	if (!dpage)
		return GM_RET_NOMEM;

	spin_lock(&p->lock);
	p->st.peer_map++;
	p->st.last_map_va = gmf->va;
	p->st.last_map_size = gmf->size;
	gmt_note_common(p, gmf->va);
	if (gmf->copy) {
		p->st.peer_map_copy++;
		src = gmt_dma_page(p, gmf->dma_addr, gmf->size, 0);
	}
	spin_unlock(&p->lock);

	if (src)
		copy_highpage(dpage, src);

	spin_lock(&p->lock);
	old = xa_load(&p->pages, va >> PAGE_SHIFT);
	if (old) {
		/* already in device memory: refresh from the CPU copy if given */
		p->st.peer_map_remap++;
		if (src)
			copy_highpage(old, dpage);
		spin_unlock(&p->lock);
		__free_page(dpage);
		return GM_RET_SUCCESS;
	}
	if (xa_is_err(xa_store(&p->pages, va >> PAGE_SHIFT, dpage, GFP_ATOMIC))) {
		spin_unlock(&p->lock);
		__free_page(dpage);
		return GM_RET_NOMEM;
	}
	p->st.dev_pages++;
	atomic64_inc(&gmt_dev_pages_total);
	spin_unlock(&p->lock);
	return GM_RET_SUCCESS;
}

/*
 * Remove the device pages in [va, va + size).  If gmf->copy, first copy each
 * device page back to the CPU page(s) at gmf->dma_addr.
 */
static int gmt_peer_unmap(struct gm_fault_t *gmf)
{
	struct gmt_pmap *p = gmt_pmap_find(gmf->mm, gmt_dev_index(gmf->dev));
	unsigned long start = gmf->va & PAGE_MASK;
	unsigned long end = gmf->va + gmf->size;
	unsigned long va, found = 0;
	struct page *dpage, *dst;

	if (!p)
		return GM_RET_FAILURE_UNKNOWN;
	if (end <= start)
		end = start + PAGE_SIZE;

	spin_lock(&p->lock);
	p->st.peer_unmap++;
	p->st.last_unmap_va = gmf->va;
	p->st.last_unmap_size = gmf->size;
	gmt_note_common(p, gmf->va);
	if (gmf->copy)
		p->st.peer_unmap_copy++;
	if (gmf->copy)
		(void)gmt_dma_page(p, gmf->dma_addr, gmf->size, 0);
	for (va = start; va < end; va += PAGE_SIZE) {
		dpage = xa_erase(&p->pages, va >> PAGE_SHIFT);
		if (!dpage)
			continue;
		found++;
		p->st.dev_pages--;
		atomic64_dec(&gmt_dev_pages_total);
		if (gmf->copy) {
			dst = gmt_dma_page(p, gmf->dma_addr, PAGE_SIZE, va - start);
			if (dst)
				copy_highpage(dst, dpage);
		}
		__free_page(dpage);
	}
	if (!found)
		p->st.peer_unmap_miss++;
	spin_unlock(&p->lock);
	return GM_RET_SUCCESS;
}

static int gmt_pmap_create(struct gm_dev *dev, void **pmap)
{
	struct gmt_pmap *p = kzalloc(sizeof(*p), GFP_KERNEL);

	atomic64_inc(&gmt_cnt_pmap_create);
	if (!p)
		return GM_RET_NOMEM;
	spin_lock_init(&p->lock);
	xa_init(&p->pages);
	p->mm = current->mm;
	p->dev = gmt_dev_index(dev);
	*pmap = p;
	return GM_RET_SUCCESS;
}

static int gmt_pmap_destroy(void *pmap)
{
	/* our pmaps live until the fd is closed; only count the call */
	atomic64_inc(&gmt_cnt_pmap_destroy);
	return GM_RET_SUCCESS;
}

static int gmt_pmap_enter(void *pmap, unsigned long va, unsigned long size,
			  unsigned long pa, unsigned long prot)
{
	return GM_RET_SUCCESS;
}

static int gmt_pmap_release(void *pmap, unsigned long va, unsigned long size)
{
	return GM_RET_SUCCESS;
}

static int gmt_pmap_protect(void *pmap, unsigned long va, unsigned long size,
			    unsigned long new_prot)
{
	return GM_RET_SUCCESS;
}

static int gmt_tlb_invl(void *pmap, unsigned long va, unsigned long size)
{
	return GM_RET_SUCCESS;
}

static int gmt_tlb_invl_coalesced(void *pmap, struct list_head *mappings)
{
	return GM_RET_SUCCESS;
}

/* peer_va_alloc_fixed/peer_va_free get no gm_dev: one wrapper per device */
static int gmt_va_alloc0(struct mm_struct *mm, unsigned long va, unsigned long size,
			 unsigned long prot)
{
	return gmt_peer_va_alloc_fixed(0, mm, va, size, prot);
}

static int gmt_va_alloc1(struct mm_struct *mm, unsigned long va, unsigned long size,
			 unsigned long prot)
{
	return gmt_peer_va_alloc_fixed(1, mm, va, size, prot);
}

static int gmt_va_free0(struct mm_struct *mm, unsigned long va, unsigned long size)
{
	return gmt_peer_va_free(0, mm, va, size);
}

static int gmt_va_free1(struct mm_struct *mm, unsigned long va, unsigned long size)
{
	return gmt_peer_va_free(1, mm, va, size);
}

#define GMT_MMU_COMMON						\
	.peer_map		= gmt_peer_map,			\
	.peer_unmap		= gmt_peer_unmap,		\
	.pmap_create		= gmt_pmap_create,		\
	.pmap_destroy		= gmt_pmap_destroy,		\
	.pmap_enter		= gmt_pmap_enter,		\
	.pmap_release		= gmt_pmap_release,		\
	.pmap_protect		= gmt_pmap_protect,		\
	.tlb_invl		= gmt_tlb_invl,			\
	.tlb_invl_coalesced	= gmt_tlb_invl_coalesced

static struct gm_mmu gmt_mmus[GMT_NDEV] = {
	{ .peer_va_alloc_fixed = gmt_va_alloc0, .peer_va_free = gmt_va_free0, GMT_MMU_COMMON },
	{ .peer_va_alloc_fixed = gmt_va_alloc1, .peer_va_free = gmt_va_free1, GMT_MMU_COMMON },
};


/* --- file operations ---------------------------------------------------- */

static struct miscdevice gmt_miscs[GMT_NDEV];

static int gmt_open(struct inode *inode, struct file *filp)
{
	struct gmt_file *f = kzalloc(sizeof(*f), GFP_KERNEL);

	if (!f)
		return -ENOMEM;
	mutex_init(&f->lock);
	/* misc_open() left our miscdevice in private_data */
	f->dev = filp->private_data == &gmt_miscs[1] ? 1 : 0;
	filp->private_data = f;
	return 0;
}

static void gmt_pmap_free_pages(struct gmt_pmap *p)
{
	struct page *page;
	unsigned long idx;

	spin_lock(&p->lock);
	xa_for_each(&p->pages, idx, page) {
		xa_erase(&p->pages, idx);
		__free_page(page);
		atomic64_dec(&gmt_dev_pages_total);
	}
	p->st.dev_pages = 0;
	spin_unlock(&p->lock);
	xa_destroy(&p->pages);
}

/* mm->gm_as handling; called with mmap_write_lock(mm) held */
static void gmt_as_put_locked(struct mm_struct *mm, struct gm_as *as)
{
	struct gmt_as_rec *r;

	mutex_lock(&gmt_as_mutex);
	list_for_each_entry(r, &gmt_as_recs, link) {
		if (r->mm == mm && r->as == as) {
			if (--r->users == 0) {
				if (mm->gm_as == as)
					mm->gm_as = NULL;
				gm_as_destroy(as);
				list_del(&r->link);
				kfree(r);
			}
			break;
		}
	}
	mutex_unlock(&gmt_as_mutex);
}

static void gmt_detach(struct gmt_file *f)
{
	struct mm_struct *mm = f->mm;

	if (!mm || f->detached)
		return;
	f->detached = true;
	if (mmget_not_zero(mm)) {
		mmap_write_lock(mm);
		gmt_as_put_locked(mm, f->as);
		mmap_write_unlock(mm);
		mmput(mm);
	} else {
		/* mm already torn down: nobody can use the gm_as any more */
		gmt_as_put_locked(mm, f->as);
	}
}

static int gmt_release(struct inode *inode, struct file *filp)
{
	struct gmt_file *f = filp->private_data;

	mutex_lock(&f->lock);
	if (f->mm) {
		gmt_detach(f);
		if (f->pmap) {
			spin_lock(&gmt_lock);
			list_del(&f->pmap->link);
			spin_unlock(&gmt_lock);
			gmt_pmap_free_pages(f->pmap);
			kfree(f->pmap);
			atomic64_dec(&gmt_contexts);
		}
		mmdrop(f->mm);
	}
	mutex_unlock(&f->lock);
	kfree(f);
	return 0;
}

static long gmt_attach(struct gmt_file *f, struct gmem_test_attach __user *uarg)
{
	struct mm_struct *mm = current->mm;
	struct gmem_test_attach a;
	struct gmt_as_rec *r, *rec = NULL;
	struct gm_context *gctx = NULL;
	struct gm_as *as;
	int ret;

	if (copy_from_user(&a, uarg, sizeof(a)))
		return -EFAULT;
	if (a.mode > GMEM_TEST_MODE_REPLICATE)
		return -EINVAL;
	if (f->mm)
		return -EBUSY;
	a.out_flags = 0;

	mmap_write_lock(mm);
	mutex_lock(&gmt_as_mutex);
	list_for_each_entry(r, &gmt_as_recs, link)
		if (r->mm == mm)
			rec = r;
	if (mm->gm_as && (!rec || rec->as != mm->gm_as)) {
		/* a gm_as that no attach of this mm created: copied by fork */
		a.out_flags |= GMEM_TEST_ATTACH_F_INHERITED_AS;
		pr_warn("pid %d: mm->gm_as %p was not created for this mm (inherited?)\n",
			current->pid, mm->gm_as);
		rec = NULL;
	}
	if (rec) {
		a.out_flags |= GMEM_TEST_ATTACH_F_REUSED_AS;
		as = rec->as;
	} else {
		rec = kzalloc(sizeof(*rec), GFP_KERNEL);
		if (!rec) {
			ret = -ENOMEM;
			goto out_unlock;
		}
		ret = gm_as_create(0, TASK_SIZE, &as);
		if (ret != GM_RET_SUCCESS) {
			kfree(rec);
			ret = -ENOMEM;
			goto out_unlock;
		}
		rec->mm = mm;
		rec->as = as;
		list_add(&rec->link, &gmt_as_recs);
		mm->gm_as = as;
	}
	ret = gm_as_attach(as, gmt_gdevs[f->dev], a.mode, !!a.activate, &gctx);
	a.gm_ret = ret;
	if (ret != GM_RET_SUCCESS || !gctx || !gctx->pmap) {
		if (rec->users == 0) {
			if (mm->gm_as == as)
				mm->gm_as = NULL;
			gm_as_destroy(as);
			list_del(&rec->link);
			kfree(rec);
		}
		ret = -EIO;
		goto out_unlock;
	}
	rec->users++;
	f->pmap = gctx->pmap;
	f->pmap->mm = mm;
	f->gctx = gctx;
	f->as = as;
	f->own_as = true;
	mmgrab(mm);
	smp_wmb();
	WRITE_ONCE(f->mm, mm);
	spin_lock(&gmt_lock);
	list_add(&f->pmap->link, &gmt_pmaps);
	spin_unlock(&gmt_lock);
	atomic64_inc(&gmt_contexts);
	ret = 0;
out_unlock:
	mutex_unlock(&gmt_as_mutex);
	mmap_write_unlock(mm);
	a.hnid = gmt_hnids[f->dev];
	if (copy_to_user(uarg, &a, sizeof(a)))
		return -EFAULT;
	return ret;
}

static int gmt_fault_one(struct gmt_file *f, unsigned long addr)
{
	return gm_dev_fault(f->mm, addr, gmt_gdevs[f->dev], GM_FAULT_HINT_MARK_HOT);
}

static long gmt_fault(struct gmt_file *f, struct gmem_test_fault __user *uarg)
{
	struct gmem_test_fault a;
	unsigned long i;
	int r;

	if (copy_from_user(&a, uarg, sizeof(a)))
		return -EFAULT;
	if (a.npages > (1UL << 20))
		return -EINVAL;
	a.gm_ret = 0;
	a.nfailed = 0;
	for (i = 0; i < a.npages; i++) {
		r = gmt_fault_one(f, a.addr + i * PAGE_SIZE);
		if (r) {
			if (!a.gm_ret)
				a.gm_ret = r;
			a.nfailed++;
		}
		if (fatal_signal_pending(current))
			return -EINTR;
		cond_resched();
	}
	if (copy_to_user(uarg, &a, sizeof(a)))
		return -EFAULT;
	return 0;
}

/* device-side read or write through the device page table */
static long gmt_rw(struct gmt_file *f, struct gmem_test_rw __user *uarg, bool write)
{
	struct gmt_pmap *p = f->pmap;
	struct gmem_test_rw a;
	unsigned long addr, done = 0;
	void *bounce;
	long ret = 0;

	if (copy_from_user(&a, uarg, sizeof(a)))
		return -EFAULT;
	if (a.len > (64UL << 20) || a.addr + a.len < a.addr)
		return -EINVAL;
	bounce = kmalloc(PAGE_SIZE, GFP_KERNEL);
	if (!bounce)
		return -ENOMEM;
	a.faults = 0;
	a.gm_ret = 0;

	while (done < a.len) {
		unsigned long off, chunk;
		struct page *dpage;
		int tries = 0;
		void *d;

		addr = a.addr + done;
		off = offset_in_page(addr);
		chunk = min_t(unsigned long, PAGE_SIZE - off, a.len - done);
		if (write && copy_from_user(bounce, u64_to_user_ptr(a.uptr + done), chunk)) {
			ret = -EFAULT;
			break;
		}
again:
		spin_lock(&p->lock);
		dpage = xa_load(&p->pages, addr >> PAGE_SHIFT);
		if (dpage)
			get_page(dpage);
		spin_unlock(&p->lock);
		if (!dpage) {
			int r;

			if ((a.flags & GMEM_TEST_RW_NOFAULT) || tries++) {
				ret = (a.flags & GMEM_TEST_RW_NOFAULT) ? -ENOENT : -ENXIO;
				break;
			}
			a.faults++;
			r = gmt_fault_one(f, addr & PAGE_MASK);
			if (r) {
				a.gm_ret = r;
				ret = -EFAULT;
				break;
			}
			goto again;
		}
		d = kmap_local_page(dpage);
		if (write)
			memcpy(d + off, bounce, chunk);
		else
			memcpy(bounce, d + off, chunk);
		kunmap_local(d);
		put_page(dpage);
		if (!write && copy_to_user(u64_to_user_ptr(a.uptr + done), bounce, chunk)) {
			ret = -EFAULT;
			break;
		}
		done += chunk;
		if (fatal_signal_pending(current)) {
			ret = -EINTR;
			break;
		}
	}
	kfree(bounce);
	if (copy_to_user(uarg, &a, sizeof(a)))
		return -EFAULT;
	return ret;
}

static long gmt_to_cpu(struct gmt_file *f, struct gmem_test_range __user *uarg)
{
	struct gmem_test_range a;
	unsigned long addr;
	struct page *page;
	long n;

	if (copy_from_user(&a, uarg, sizeof(a)))
		return -EFAULT;
	for (addr = a.addr & PAGE_MASK; addr < a.addr + a.len; addr += PAGE_SIZE) {
		n = get_user_pages_unlocked(addr, 1, &page, FOLL_WRITE);
		if (n != 1)
			return n < 0 ? n : -EFAULT;
		put_page(page);
	}
	return 0;
}

static long gmt_present(struct gmt_file *f, struct gmem_test_present __user *uarg)
{
	struct gmem_test_present a;
	unsigned long i, nwords;
	u64 *bm;
	long ret = 0;

	if (copy_from_user(&a, uarg, sizeof(a)))
		return -EFAULT;
	if (a.npages > 4096)
		return -EINVAL;
	nwords = (a.npages + 63) / 64;
	bm = kcalloc(nwords ? nwords : 1, sizeof(u64), GFP_KERNEL);
	if (!bm)
		return -ENOMEM;
	a.count = 0;
	spin_lock(&f->pmap->lock);
	for (i = 0; i < a.npages; i++) {
		if (xa_load(&f->pmap->pages, (a.addr >> PAGE_SHIFT) + i)) {
			bm[i / 64] |= 1ULL << (i % 64);
			a.count++;
		}
	}
	spin_unlock(&f->pmap->lock);
	if (a.bitmap_uptr && copy_to_user(u64_to_user_ptr(a.bitmap_uptr), bm, nwords * 8))
		ret = -EFAULT;
	kfree(bm);
	if (!ret && copy_to_user(uarg, &a, sizeof(a)))
		ret = -EFAULT;
	return ret;
}

static long gmt_stats(struct gmt_file *f, struct gmem_test_stats __user *uarg)
{
	struct gmem_test_stats s;

	memset(&s, 0, sizeof(s));
	if (f->pmap) {
		spin_lock(&f->pmap->lock);
		s = f->pmap->st;
		spin_unlock(&f->pmap->lock);
	}
#ifndef CONFIG_PREEMPT_COUNT
	s.atomic_calls = (u64)-1;
#endif
	s.dev_pages_total = atomic64_read(&gmt_dev_pages_total);
	s.contexts = atomic64_read(&gmt_contexts);
	s.hnid = gmt_hnids[f->dev];
	s.pmap_create = atomic64_read(&gmt_cnt_pmap_create);
	s.pmap_destroy = atomic64_read(&gmt_cnt_pmap_destroy);
	s.unknown_mm = atomic64_read(&gmt_unknown_mm);
	return copy_to_user(uarg, &s, sizeof(s)) ? -EFAULT : 0;
}

static long gmt_ioctl(struct file *filp, unsigned int cmd, unsigned long arg)
{
	struct gmt_file *f = filp->private_data;
	void __user *uarg = (void __user *)arg;
	long ret;

	switch (cmd) {
	case GMEM_TEST_IOC_ATTACH:
		mutex_lock(&f->lock);
		ret = gmt_attach(f, uarg);
		mutex_unlock(&f->lock);
		return ret;
	case GMEM_TEST_IOC_STATS:
		return gmt_stats(f, uarg);
	}
	/* f->mm and f->pmap do not change between ATTACH and release */
	if (!READ_ONCE(f->mm))
		return -ENOTCONN;
	if (f->mm != current->mm)
		return -EPERM;	/* fd used from another process (e.g. after fork) */
	switch (cmd) {
	case GMEM_TEST_IOC_DETACH:
		mutex_lock(&f->lock);
		gmt_detach(f);
		mutex_unlock(&f->lock);
		ret = 0;
		break;
	case GMEM_TEST_IOC_FAULT:
		ret = gmt_fault(f, uarg);
		break;
	case GMEM_TEST_IOC_READ:
		ret = gmt_rw(f, uarg, false);
		break;
	case GMEM_TEST_IOC_WRITE:
		ret = gmt_rw(f, uarg, true);
		break;
	case GMEM_TEST_IOC_TO_CPU:
		ret = gmt_to_cpu(f, uarg);
		break;
	case GMEM_TEST_IOC_VA_DENY: {
		struct gmem_test_range r;

		if (copy_from_user(&r, uarg, sizeof(r)))
			return -EFAULT;
		spin_lock(&f->pmap->lock);
		f->pmap->deny_start = r.addr;
		f->pmap->deny_end = r.addr + r.len;
		spin_unlock(&f->pmap->lock);
		ret = 0;
		break;
	}
	case GMEM_TEST_IOC_PRESENT:
		ret = gmt_present(f, uarg);
		break;
	default:
		ret = -ENOTTY;
	}
	return ret;
}

static const struct file_operations gmt_fops = {
	.owner		= THIS_MODULE,
	.open		= gmt_open,
	.release	= gmt_release,
	.unlocked_ioctl	= gmt_ioctl,
	.compat_ioctl	= compat_ptr_ioctl,
	.llseek		= noop_llseek,
};

static struct miscdevice gmt_miscs[GMT_NDEV] = {
	{ .minor = MISC_DYNAMIC_MINOR, .name = "gmem_test", .fops = &gmt_fops, .mode = 0666 },
	{ .minor = MISC_DYNAMIC_MINOR, .name = "gmem_test1", .fops = &gmt_fops, .mode = 0666 },
};

static void gmt_dev_teardown(int i)
{
	if (gmt_hnids[i] >= 0)
		gm_dev_unregister_physmem(gmt_gdevs[i], gmt_hnids[i]);
	if (gmt_gdevs[i])
		gm_dev_destroy(gmt_gdevs[i]);	/* RFC: only releases the id */
	if (!IS_ERR_OR_NULL(gmt_pdevs[i]))
		platform_device_unregister(gmt_pdevs[i]);
	gmt_gdevs[i] = NULL;
	gmt_pdevs[i] = NULL;
	gmt_hnids[i] = -1;
}

/* device i: its platform device (dma_dev), gm_dev and fake physical memory */
static int gmt_dev_setup(int i)
{
	unsigned long base = GMT_PHYS_BASE + i * GMT_PHYS_SIZE;
	int ret;

	gmt_pdevs[i] = platform_device_register_simple("gmem_test", i, NULL, 0);
	if (IS_ERR(gmt_pdevs[i]))
		return PTR_ERR(gmt_pdevs[i]);
	ret = dma_coerce_mask_and_coherent(&gmt_pdevs[i]->dev, DMA_BIT_MASK(64));
	if (ret)
		return ret;
	ret = gm_dev_create(&gmt_mmus[i], NULL, GM_DEV_CAP_REPLAYABLE | GM_DEV_CAP_PEER,
			    &gmt_gdevs[i]);
	if (ret != GM_RET_SUCCESS || !gmt_gdevs[i]) {
		pr_err("gm_dev_create failed: %d\n", ret);
		gmt_gdevs[i] = NULL;
		return -ENODEV;
	}
	/* gm_dev_create() leaves dma_dev uninitialised; gm_dev_fault() uses it */
	gmt_gdevs[i]->dma_dev = &gmt_pdevs[i]->dev;

	ret = gm_dev_register_physmem(gmt_gdevs[i], base, base + GMT_PHYS_SIZE);
	if (ret == GM_RET_SUCCESS && !nodes_empty(gmt_gdevs[i]->registered_hnodes)) {
		gmt_hnids[i] = first_node(gmt_gdevs[i]->registered_hnodes);
	} else {
		pr_warn("gm_dev_register_physmem failed (%d): no hNUMA node (MAX_NUMNODES=%d)\n",
			ret, MAX_NUMNODES);
		gmt_hnids[i] = -1;
	}
	return 0;
}

static int __init gmt_init(void)
{
	int i, ret = 0, registered = 0;

	if (!gmem_is_enabled()) {
		pr_err("GMEM is not enabled (boot with gmem=on)\n");
		return -ENODEV;
	}
	for (i = 0; i < GMT_NDEV && !ret; i++)
		ret = gmt_dev_setup(i);
	for (i = 0; i < GMT_NDEV && !ret; i++, registered++)
		ret = misc_register(&gmt_miscs[i]);
	if (ret) {
		while (registered--)
			misc_deregister(&gmt_miscs[registered]);
		for (i = GMT_NDEV - 1; i >= 0; i--)
			gmt_dev_teardown(i);
		return ret;
	}
	for (i = 0; i < GMT_NDEV; i++)
		pr_info("fake peer device %s: id %d, hnid %d\n", gmt_miscs[i].name,
			gmt_gdevs[i]->id, gmt_hnids[i]);
	return 0;
}

static void __exit gmt_exit(void)
{
	int i;

	for (i = GMT_NDEV - 1; i >= 0; i--) {
		misc_deregister(&gmt_miscs[i]);
		gmt_dev_teardown(i);
	}
}

module_init(gmt_init);
module_exit(gmt_exit);
MODULE_DESCRIPTION("fake GMEM peer device for testing");
MODULE_LICENSE("GPL");
