/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * ashmem_linux: Android's anonymous shared memory on stock Linux kernels.
 *
 * Internal interfaces between the device (ashmem.c), the set of unpinned
 * ranges of a region (ashmem_range.c) and the LRU with its shrinker
 * (ashmem_shrinker.c).
 */
#ifndef _ASHMEM_H
#define _ASHMEM_H

#include <linux/list.h>
#include <linux/mutex.h>
#include <linux/rbtree.h>
#include <linux/refcount.h>
#include <linux/types.h>

/* Prefix of the backing file's name, so /proc/PID/maps shows /dev/ashmem/<name>. */
#define ASHMEM_NAME_PREFIX	"dev/ashmem/"

/*
 * Locking
 *
 * region->lock (mutex) protects every field of its region below and every
 * range of that region: the tree, each range's bounds and purged flag, and
 * whether the range sits on the LRU. Nothing copies from or to user memory
 * and nothing allocates under it: the ioctls allocate before they take it,
 * and mmap() creates the backing file with it dropped and maps the file
 * after dropping it (@file is fixed once set).
 *
 * The LRU (ashmem_lru, a list_lru) has its own per-node, per-memcg spinlocks
 * inside list_lru. They nest inside region->lock: ranges are added to and
 * removed from the LRU with region->lock held.
 *
 * The shrinker walks the LRU under the list_lru lock and may only
 * mutex_trylock() a region's lock from there, never wait for it: reclaim
 * can be entered by a task that holds that lock. It drops the list_lru lock
 * before it purges, so it punches holes holding only the victim's region
 * lock, and nothing any other region needs.
 *
 * Order: mmap_lock -> region->lock -> list_lru lock
 *                     region->lock -> backing inode's i_rwsem (hole punch)
 */

/**
 * struct ashmem_region - one open of /dev/ashmem
 * @lock: see "Locking" above
 * @file: the backing shmem file; NULL until the first mmap(), then fixed
 *	until release
 * @name: "dev/ashmem/<name>" (kmalloc'd), or NULL for an unnamed region
 * @size: the size set by SET_SIZE, in bytes
 * @prot_mask: PROT_* bits mmap() may ask for; bits can only be removed
 * @ranges: the unpinned ranges, keyed by first page, never overlapping
 * @ref: one for the open file, one for each purge in progress; the memory
 *	is freed when it drops to zero
 */
struct ashmem_region {
	struct mutex lock;		/* see "Locking" above */
	struct file *file;
	char *name;
	size_t size;
	unsigned long prot_mask;
	struct rb_root ranges;
	refcount_t ref;
};

/**
 * struct ashmem_range - unpinned pages [@start, @last] of a region
 * @node: in @region->ranges
 * @lru: on the LRU while the range is unpinned and not purged
 * @region: the region the pages belong to
 * @start: first page
 * @last: last page (inclusive)
 * @purged: the pages were discarded since they were unpinned
 *
 * Allocated from a memcg-accounted cache through the LRU, so each range
 * lands on its memory cgroup's list and that cgroup's reclaim purges it.
 */
struct ashmem_range {
	struct rb_node node;
	struct list_head lru;
	struct ashmem_region *region;
	pgoff_t start;
	pgoff_t last;
	bool purged;
};

static inline pgoff_t ashmem_range_pages(const struct ashmem_range *range)
{
	return range->last - range->start + 1;
}

void ashmem_region_put(struct ashmem_region *region);

/* ashmem_range.c: the unpinned ranges of a region, under region->lock */
struct ashmem_range *ashmem_range_alloc(void);
void ashmem_range_free(struct ashmem_range *range);
int ashmem_range_pin(struct ashmem_region *region, pgoff_t start, pgoff_t last,
		     struct ashmem_range **spare);
void ashmem_range_unpin(struct ashmem_region *region, pgoff_t start,
			pgoff_t last, struct ashmem_range **spare);
bool ashmem_range_any_unpinned(struct ashmem_region *region, pgoff_t start,
			       pgoff_t last);
void ashmem_range_release_all(struct ashmem_region *region);
unsigned long ashmem_range_purge(struct ashmem_range *range);
int ashmem_range_cache_init(void);
void ashmem_range_cache_exit(void);

/* ashmem_shrinker.c: the LRU of unpinned, unpurged ranges */
void ashmem_lru_add(struct ashmem_range *range);
void ashmem_lru_del(struct ashmem_range *range);
void ashmem_lru_resize(struct ashmem_range *range, pgoff_t start, pgoff_t last);
unsigned long ashmem_purge_all(void);
struct list_lru *ashmem_lru_list(void);
int ashmem_shrinker_init(void);
void ashmem_shrinker_exit(void);

#endif /* _ASHMEM_H */
