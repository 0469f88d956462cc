/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * ashmem_linux: every difference between the kernels we build for, in one
 * place. Each shim names the kernel that changed the interface; the driver
 * itself is written against the newest form.
 *
 * Every shim is a change made in a mainline release, so it is tested with
 * LINUX_VERSION_CODE against that release (x.y.0), never a sublevel. The
 * driver uses no interface that changed inside a stable series or without
 * a version to test: the mmap_prepare helpers that did
 * (compat_set_desc_from_vma(), and __compat_vma_mmap(), two functions under
 * one name in 6.19/7.0 and 7.1+) are not called; vfs_mmap() covers them.
 */
#ifndef _ASHMEM_COMPAT_H
#define _ASHMEM_COMPAT_H

#include <linux/fs.h>
#include <linux/list_lru.h>
#include <linux/mm.h>
#include <linux/shmem_fs.h>
#include <linux/shrinker.h>
#include <linux/sched.h>
#include <linux/slab.h>
#include <linux/swap.h>
#include <linux/version.h>

/*
 * 7.0 passes the backing file's flags to shmem_file_setup() as vma_flags_t
 * instead of unsigned long (Ubuntu's 7.0.0-NN kernels included: they
 * report 7.0.0 whatever stable base they carry). VM_NORESERVE: like memfd,
 * pages are accounted as they are allocated, not the whole size up front.
 */
static inline struct file *ashmem_shmem_file_setup(const char *name, loff_t size)
{
#if KERNEL_VERSION(7, 0, 0) <= LINUX_VERSION_CODE
	return shmem_file_setup(name, size, mk_vma_flags(VMA_NORESERVE_BIT));
#else
	return shmem_file_setup(name, size, VM_NORESERVE);
#endif
}

/*
 * Pages a shrinker frees outside the LRU count toward the reclaim that
 * called it only if it says so. 6.4 added mm_account_reclaimed_pages() for
 * that; before, the counter was reclaim_state->reclaimed_slab.
 */
static inline void ashmem_account_reclaimed_pages(unsigned long pages)
{
#if KERNEL_VERSION(6, 4, 0) <= LINUX_VERSION_CODE
	mm_account_reclaimed_pages(pages);
#else
	if (current->reclaim_state)
		current->reclaim_state->reclaimed_slab += pages;
#endif
}

/* 6.3 made vma->vm_flags read-only behind vm_flags_clear() and friends. */
static inline void ashmem_vm_flags_clear(struct vm_area_struct *vma,
					 unsigned long flags)
{
#if KERNEL_VERSION(6, 3, 0) <= LINUX_VERSION_CODE
	vm_flags_clear(vma, flags);
#else
	vma->vm_flags &= ~flags;
#endif
}

/*
 * 6.16 added f_op->mmap_prepare beside ->mmap; shmem has only
 * ->mmap_prepare from 6.19 on. The driver never runs either hook itself:
 * it maps through vfs_mmap(), a static inline on every kernel that calls
 * ->mmap, or on 6.19 and later compat_vma_mmap() for a file that has only
 * ->mmap_prepare. 6.17 renamed it from call_mmap(), which before 6.16 only
 * called ->mmap. ASHMEM_HAVE_MMAP_PREPARE says whether the hook exists, for
 * the copy of shmem's operations that refuses to map.
 */
#if KERNEL_VERSION(6, 16, 0) <= LINUX_VERSION_CODE
#define ASHMEM_HAVE_MMAP_PREPARE
#endif

static inline int ashmem_vfs_mmap(struct file *file, struct vm_area_struct *vma)
{
#if KERNEL_VERSION(6, 17, 0) <= LINUX_VERSION_CODE
	return vfs_mmap(file, vma);
#else
	return call_mmap(file, vma);
#endif
}

/*
 * 6.7 replaced register_shrinker() on a caller-owned struct with
 * shrinker_alloc()/shrinker_register()/shrinker_free(). Before 6.7 the
 * memcg shrinker id that a memcg-aware list_lru needs is assigned only by
 * register_shrinker(), which makes the shrinker live at once: there the
 * list_lru is set up after registration and the callbacks must tolerate
 * being called before ashmem_shrinker_start() returns.
 */
#if KERNEL_VERSION(6, 7, 0) <= LINUX_VERSION_CODE
static inline struct shrinker *ashmem_shrinker_alloc(unsigned int flags,
						     const char *name)
{
	return shrinker_alloc(flags, "%s", name);
}

static inline int ashmem_shrinker_start(struct shrinker *shrinker,
					struct list_lru *lru, const char *name)
{
	int err = list_lru_init_memcg(lru, shrinker);

	if (!err)
		shrinker_register(shrinker);
	return err;
}

static inline void ashmem_shrinker_free(struct shrinker *shrinker)
{
	shrinker_free(shrinker);
}
#else
static inline struct shrinker *ashmem_shrinker_alloc(unsigned int flags,
						     const char *name)
{
	struct shrinker *shrinker = kzalloc(sizeof(*shrinker), GFP_KERNEL);

	if (shrinker)
		shrinker->flags = flags;
	return shrinker;
}

static inline int ashmem_shrinker_start(struct shrinker *shrinker,
					struct list_lru *lru, const char *name)
{
	int err = register_shrinker(shrinker, "%s", name);

	if (err)
		return err;
	err = list_lru_init_memcg(lru, shrinker);
	if (err)
		unregister_shrinker(shrinker);
	return err;
}

/* unregister_shrinker() is a no-op for a shrinker that is not registered. */
static inline void ashmem_shrinker_free(struct shrinker *shrinker)
{
	unregister_shrinker(shrinker);
	kfree(shrinker);
}
#endif

/* 6.8 made list_lru_add()/_del() take nid and memcg; the _obj forms derive both. */
#if KERNEL_VERSION(6, 8, 0) <= LINUX_VERSION_CODE
#define ashmem_list_lru_add	list_lru_add_obj
#define ashmem_list_lru_del	list_lru_del_obj
#else
#define ashmem_list_lru_add	list_lru_add
#define ashmem_list_lru_del	list_lru_del
#endif

/*
 * 6.13 dropped the spinlock argument of list_lru walk callbacks (the lock
 * is now the list's own) and made the walk retake the lock itself after a
 * callback that returns LRU_RETRY or LRU_REMOVED_RETRY; before, the
 * callback retook it. ASHMEM_LRU_WALK_ARGS declares a callback's
 * parameters; inside it, ASHMEM_LRU_WALK_LOCK is the lock the walk holds,
 * and a callback that dropped it returns
 * ashmem_lru_walk_relock(ASHMEM_LRU_WALK_LOCK, LRU_RETRY or
 * LRU_REMOVED_RETRY).
 */
#if KERNEL_VERSION(6, 13, 0) <= LINUX_VERSION_CODE
#define ASHMEM_LRU_WALK_ARGS	struct list_head *item, struct list_lru_one *list, \
				void *cb_arg
#define ASHMEM_LRU_WALK_LOCK	(&list->lock)

static inline enum lru_status ashmem_lru_walk_relock(spinlock_t *lock,
						     enum lru_status status)
{
	return status;
}
#else
#define ASHMEM_LRU_WALK_ARGS	struct list_head *item, struct list_lru_one *list, \
				spinlock_t *lru_lock, void *cb_arg
#define ASHMEM_LRU_WALK_LOCK	(lru_lock)

static inline enum lru_status ashmem_lru_walk_relock(spinlock_t *lock,
						     enum lru_status status)
	__acquires(lock)
{
	spin_lock(lock);
	return status;
}
#endif

#endif /* _ASHMEM_COMPAT_H */
