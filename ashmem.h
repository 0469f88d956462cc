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
#include <linux/percpu.h>
#include <linux/rbtree.h>
#include <linux/refcount.h>
#include <linux/sched.h>
#include <linux/spinlock.h>
#include <linux/types.h>

/* Prefix of the backing file's name, so /proc/PID/maps shows /dev/ashmem/<name>. */
#define ASHMEM_NAME_PREFIX	"dev/ashmem/"

/*
 * Locking
 *
 * region->lock (a spinlock) protects every field of its region below and
 * every range of that region: the tree, the spare, each range's bounds and
 * purged prefix, and whether the range sits on the LRU. Nothing sleeps
 * under it: nothing copies from or to user memory, and nothing allocates
 * (an ioctl that finds no spare range drops it to allocate one, and mmap()
 * creates the backing files with it dropped and maps them after dropping
 * it; @file and @vm_file are fixed once set).
 *
 * The LRU (ashmem_lru, a list_lru) has its own per-node, per-memcg spinlocks
 * inside list_lru. They nest inside region->lock: ranges are added to and
 * removed from the LRU with region->lock held.
 *
 * The shrinker walks the LRU under the list_lru lock and may only
 * spin_trylock() a region's lock from there. Under both locks it claims a
 * piece of the oldest range (ashmem_shrinker.c) and counts it in
 * region->purging; it drops both locks and punches the piece holding
 * neither, so several reclaimers can purge pieces of one region at once
 * and no lock is held across a punch. A range that keeps unpurged pages
 * stays on the LRU, in its place, while the piece is punched. A PIN that
 * finds purges in flight raises region->purge_waiters, which keeps new
 * claims off the region, and once it dropped region->lock waits for
 * region->purging to fall to zero; release, which leaves nothing on the
 * LRU to claim, waits the same way. So no hole lands in pages pinned
 * again, and the backing file outlives every punch. Punches run with
 * memalloc_nofs_save(), so reclaim entered inside one never punches again.
 *
 * The registry of open regions (an xarray per CPU, ashmem_stats.c) has a
 * spinlock per CPU. Open and release take one alone; the debugfs listing
 * takes a reference on a region under it and locks the region only after
 * dropping it.
 *
 * Order: mmap_lock -> region->lock -> list_lru lock
 *         list_lru lock -> region->lock (trylock)
 *         a punch (no lock held) -> backing inode's i_rwsem
 */

/**
 * struct ashmem_region - one open of /dev/ashmem
 * @lock: see "Locking" above
 * @file: the backing shmem file, with shmem's own operations: read, seek,
 *	punch and map the pages through it. Never handed to userspace. NULL
 *	until the first mmap(), then fixed until release
 * @vm_file: what mappings made under a prot mask that forbids something
 *	hold instead of @file: a second file of @file's inode, whose mmap
 *	refuses (see ashmem_backing_fops). NULL until the first such mmap(),
 *	then fixed until release
 * @name: "dev/ashmem/<name>" (kmalloc'd), or NULL for an unnamed region
 * @size: the size set by SET_SIZE, in bytes
 * @prot_mask: PROT_* bits mmap() may ask for; bits can only be removed
 * @ranges: the unpinned ranges, keyed by first page, never overlapping
 * @spare: a range not in use, kept for the next UNPIN or splitting PIN so
 *	that a pin/unpin cycle allocates nothing; or NULL. A PIN may leave it
 *	parked in @ranges, where it was (see ashmem_range.c)
 * @ref: one for the open file, one for each purge in progress and each
 *	reader of the debugfs listing; the memory is freed when it drops to zero
 * @id: names the region in fdinfo, the listing and trace events; fixed
 * @slot: the region's index in its CPU's registry of open regions
 *	(ashmem_stats.c); fixed
 * @purges: how many times pages of the region were purged (a purge takes
 *	at most ASHMEM_PURGE_PIECE pages of one range)
 * @purging: purges in flight, from their claim under @lock until their hole
 *	is punched; see "Locking" above
 * @purge_waiters: PINs waiting for @purging to reach zero; while there are
 *	any, no purge claims pages of the region
 * @creator_pid: thread group of the opener, in the initial pid namespace;
 *	fixed
 * @creator_cgroup: inode of the opener's cgroup v2 directory, or 0; fixed
 * @creator_comm: the opener's command name; fixed
 */
struct ashmem_region {
	/*
	 * What the ioctls read and write comes first: 48 bytes on 64-bit
	 * without lock debugging (which makes spinlock_t much larger).
	 * The other 72 keep the heads of two regions that are neighbours in
	 * their slab more than a cache line apart, so two CPUs pinning and
	 * unpinning two regions share no cache line through them.
	 */
	spinlock_t lock;		/* see "Locking" above */
	atomic_t purging;		/* see "Locking" above */
	struct file *file;
	size_t size;
	struct rb_root ranges;
	struct ashmem_range *spare;
	unsigned int prot_mask;
	unsigned int purge_waiters;

	refcount_t ref;
	pid_t creator_pid;
	struct file *vm_file;
	char *name;
	u64 id;
	unsigned long purges;
	u64 creator_cgroup;
	u32 slot;
	char creator_comm[TASK_COMM_LEN];
};

/**
 * struct ashmem_range - unpinned pages [@start, @last] of a region
 * @node: in @region->ranges; cleared (RB_EMPTY_NODE()) while in no tree
 * @lru: on the LRU while some of its pages are not purged, and as the
 *	region's spare until the shrinker or a merge takes it off
 * @region: the region the pages belong to
 * @start: first page
 * @last: last page (inclusive)
 * @unpurged: first page not purged since the range was unpinned: pages
 *	[@start, @unpurged) were purged, [@unpurged, @last] still hold their
 *	data. @unpurged == @last + 1 once every page was purged, and in the
 *	region's spare.
 * @on_lru: whether @lru is on the LRU
 * @referenced: unpinned again while parked on the LRU as the spare: the
 *	shrinker moves it to the tail instead of purging it, once
 *
 * The shrinker purges a range from its first unpurged page on, a piece at a
 * time, so the purged pages of a range are always a prefix of it; a PIN
 * reports ASHMEM_WAS_PURGED exactly when it covers one of them.
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
	pgoff_t unpurged;
	bool on_lru;
	bool referenced;
};

/* Pages of @range that still hold data: what it has on the LRU. */
static inline pgoff_t ashmem_range_live(const struct ashmem_range *range)
{
	return range->last + 1 - range->unpurged;
}

/* Whether any page of @range was purged. */
static inline bool ashmem_range_any_purged(const struct ashmem_range *range)
{
	return range->unpurged != range->start;
}

void ashmem_region_put(struct ashmem_region *region);

/* ashmem_range.c: the unpinned ranges of a region, under region->lock */
struct ashmem_range *ashmem_range_alloc(void);
void ashmem_range_free(struct ashmem_range *range);
struct ashmem_range *ashmem_range_give_spare(struct ashmem_region *region,
					     struct ashmem_range *range);
int ashmem_range_pin(struct ashmem_region *region, pgoff_t start, pgoff_t last);
int ashmem_range_unpin(struct ashmem_region *region, pgoff_t start,
		       pgoff_t last);
bool ashmem_range_any_unpinned(struct ashmem_region *region, pgoff_t start,
			       pgoff_t last);
void ashmem_range_release_all(struct ashmem_region *region);
pgoff_t ashmem_range_claim(struct ashmem_range *range, pgoff_t pages,
			   bool shrinker);
void ashmem_region_purged(struct ashmem_region *region);
unsigned long ashmem_region_punch(struct file *backing, pgoff_t first,
				  pgoff_t pages);
void ashmem_range_count(struct ashmem_region *region, unsigned long *unpinned,
			unsigned long *purged);
int ashmem_range_cache_init(void);
void ashmem_range_cache_exit(void);

/**
 * struct ashmem_stats - counters of purging for debugfs, kept where they
 *	change (what debugfs says about open regions, it counts when read)
 * @purged_pages: pages purged since the module loaded, by any path
 * @shrinker_scans: calls of the shrinker's scan callback
 * @shrinker_freed: pages the shrinker purged
 */
struct ashmem_stats {
	atomic_long_t purged_pages;
	atomic_long_t shrinker_scans;
	atomic_long_t shrinker_freed;
};

extern struct ashmem_stats ashmem_stats;

/* ashmem_stats.c: the registry of open regions, counters and debugfs */
void ashmem_registry_init(void);
int ashmem_region_register(struct ashmem_region *region);
void ashmem_registry_exit(void);
void ashmem_region_unregister(struct ashmem_region *region);
void ashmem_debugfs_init(void);
void ashmem_debugfs_exit(void);

/* ashmem_shrinker.c: the LRU of unpinned, unpurged ranges */
void ashmem_lru_link(struct ashmem_range *range);
void ashmem_lru_unlink(struct ashmem_range *range);
unsigned long ashmem_purge_all(void);
unsigned long ashmem_lru_pages(void);
struct list_lru *ashmem_lru_list(void);
int ashmem_shrinker_init(void);
void ashmem_shrinker_exit(void);

/*
 * Pages in the ranges on the LRU, as a sum of per-CPU deltas (one CPU's
 * share can be negative); list_lru itself counts only ranges. A pin or
 * unpin adds to its own CPU's delta with one this_cpu operation, sharing no
 * cache line and taking no lock; readers sum the possible CPUs
 * (ashmem_lru_pages()), as the dentry and inode counts are read
 * (get_nr_dentry()). The helpers below are inline: they are on the path of
 * every PIN and UNPIN.
 */
DECLARE_PER_CPU(long, ashmem_lru_nr_pages);

/**
 * ashmem_lru_add() - put the pages of a range just unpinned on the LRU
 * @range: a range with unpurged pages; its region is locked
 *
 * A range still on the list, the region's spare parked there by a PIN
 * (see ashmem_range.c), is not moved to the tail: it is marked referenced
 * and the shrinker rotates it when it comes to it, as the dentry and inode
 * LRUs do. So a pin/unpin cycle takes no list lock that other CPUs share.
 */
static inline void ashmem_lru_add(struct ashmem_range *range)
{
	this_cpu_add(ashmem_lru_nr_pages, ashmem_range_live(range));
	if (range->on_lru)
		range->referenced = true;
	else
		ashmem_lru_link(range);
}

/* @pages of a range that stays on the LRU were pinned again or purged. */
static inline void ashmem_lru_shrink(pgoff_t pages)
{
	this_cpu_sub(ashmem_lru_nr_pages, pages);
}

#endif /* _ASHMEM_H */
