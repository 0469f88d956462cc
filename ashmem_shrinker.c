// SPDX-License-Identifier: GPL-2.0-only
/*
 * ashmem_linux: the LRU of unpinned pages and the shrinker that purges it.
 *
 * Ranges with unpinned, unpurged pages sit on a list_lru, oldest first,
 * one list per NUMA node and memory cgroup: a cgroup that reaches its limit
 * purges its own unpinned ashmem first. The shrinker claims a piece of the
 * oldest range under the list's lock and the region's, drops both, and
 * punches the hole (see "Locking" in ashmem.h); it purges no more than
 * reclaim asked for, and stops once nobody is short of memory
 * (ashmem_reclaim_has_enough()).
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/list_lru.h>
#include <linux/math.h>
#include <linux/memcontrol.h>
#include <linux/minmax.h>
#include <linux/mmzone.h>
#include <linux/percpu.h>
#include <linux/shrinker.h>
#include <linux/sizes.h>

#include "ashmem.h"
#include "ashmem_compat.h"

static struct list_lru ashmem_lru;
static struct shrinker *ashmem_shrinker;

/* See ashmem.h; summed by ashmem_lru_pages(). */
DEFINE_PER_CPU(long, ashmem_lru_nr_pages);

/* Set once ashmem_lru exists; the shrinker can run earlier before 6.7. */
static bool ashmem_lru_ready;

struct list_lru *ashmem_lru_list(void)
{
	return &ashmem_lru;
}

/* For ashmem_lru_add(): @range is on no list; its region is locked. */
void ashmem_lru_link(struct ashmem_range *range)
{
	ashmem_list_lru_add(&ashmem_lru, &range->lru);
	range->on_lru = true;
}

/* @range has just left the list; its region is locked. */
static void ashmem_range_off_lru(struct ashmem_range *range)
{
	range->on_lru = false;
	range->referenced = false;
}

/* Take @range off the list, if it is there; its region is locked. */
void ashmem_lru_unlink(struct ashmem_range *range)
{
	if (!range->on_lru)
		return;
	ashmem_list_lru_del(&ashmem_lru, &range->lru);
	ashmem_range_off_lru(range);
}

/*
 * Return: the pages on the LRU. Adds racing with the sum may or may not be
 * in it, and a range that moved between CPUs' deltas meanwhile can make it
 * briefly negative: it reads as 0 then.
 */
unsigned long ashmem_lru_pages(void)
{
	long pages = 0;
	int cpu;

	for_each_possible_cpu(cpu)
		pages += per_cpu(ashmem_lru_nr_pages, cpu);
	return max(pages, 0L);
}

/*
 * The most pages one purge punches at once: a hole of 2 MiB takes well
 * under a millisecond, which bounds how long a PIN of that region waits
 * behind a purge. The shrinker's own pieces are smaller still: reclaim asks
 * for SHRINK_BATCH (128) pages a call.
 */
#define ASHMEM_PURGE_PIECE	((unsigned long)SZ_2M >> PAGE_SHIFT)

/**
 * struct ashmem_purge_ctl - one walk of the LRU
 * @budget: pages the walk should purge; it stops taking pieces after that
 * @asked: pages reclaim asked for; past them, a walk for a short node
 *	(@nid >= 0) takes a piece only while the node is still short
 * @nid: the node whose high watermark bounds the walk, or -1
 * @freed: unpinned pages purged so far, the shrinker's unit
 * @resident: of those, the pages that were in memory and so were freed
 * @shrinker: the walk is the shrinker's, not ASHMEM_PURGE_ALL_CACHES
 */
struct ashmem_purge_ctl {
	unsigned long budget;
	unsigned long asked;
	int nid;
	unsigned long freed;
	unsigned long resident;
	bool shrinker;
};

static unsigned long ashmem_node_deficit(int nid);

/* From the walk: take @range off the list it is on; its region is locked. */
static void ashmem_lru_isolate_range(struct list_lru_one *list,
				     struct ashmem_range *range)
{
	list_lru_isolate(list, &range->lru);
	ashmem_range_off_lru(range);
}

/*
 * Called by list_lru with the list's lock held, oldest range first. If the
 * range's region can be locked without waiting, claims a piece of the
 * range's first unpurged pages, no larger than what the walk still needs;
 * only a range that gives up its last unpurged pages leaves the LRU, the
 * rest stays where it is for the next reclaimer. A range unpinned again
 * since it came here goes to the tail instead, once, and a spare parked
 * here leaves the list. For a piece, drops both locks to punch it,
 * counted in the region's purges in flight (see "Locking" in ashmem.h), as
 * LRU_RETRY and LRU_REMOVED_RETRY allow: the walk starts over, at the same
 * range if it has pages left.
 */
static enum lru_status ashmem_lru_isolate(ASHMEM_LRU_WALK_ARGS)
{
	struct ashmem_range *range = container_of(item, struct ashmem_range, lru);
	struct ashmem_region *region = range->region;
	struct ashmem_purge_ctl *ctl = cb_arg;
	pgoff_t live, pages, first;
	struct file *backing;

	if (ctl->freed >= ctl->budget)
		return LRU_SKIP;
	if (ctl->freed >= ctl->asked && ctl->nid >= 0 &&
	    !ashmem_node_deficit(ctl->nid))
		return LRU_SKIP;
	if (!spin_trylock(&region->lock))
		return LRU_SKIP;
	/* A PIN waits for the purges in flight: start no other. */
	if (region->purge_waiters) {
		spin_unlock(&region->lock);
		return LRU_SKIP;
	}

	live = ashmem_range_live(range);
	if (!live) {
		/* The region's spare, parked here: nothing to purge. */
		ashmem_lru_isolate_range(list, range);
		spin_unlock(&region->lock);
		return LRU_REMOVED;
	}
	if (range->referenced && ctl->shrinker) {
		/* Unpinned again since it came here: a second chance. */
		range->referenced = false;
		spin_unlock(&region->lock);
		return LRU_ROTATE;
	}
	pages = min3(live, ctl->budget - ctl->freed, ASHMEM_PURGE_PIECE);
	if (pages == live)
		ashmem_lru_isolate_range(list, range);
	ashmem_lru_shrink(pages);
	first = ashmem_range_claim(range, pages, ctl->shrinker);
	/* Release waits for the purges in flight before it puts the file. */
	backing = region->file;
	/* On the LRU means not yet released: the region holds a reference. */
	refcount_inc(&region->ref);
	spin_unlock(&region->lock);
	spin_unlock(ASHMEM_LRU_WALK_LOCK);

	ctl->freed += pages;
	ctl->resident += ashmem_region_punch(backing, first, pages);
	ashmem_region_purged(region);
	ashmem_region_put(region);

	return ashmem_lru_walk_relock(ASHMEM_LRU_WALK_LOCK,
				      pages == live ? LRU_REMOVED_RETRY : LRU_RETRY);
}

#ifdef CONFIG_MEMCG
/*
 * Room a memory cgroup needs below its limits before its reclaim is done.
 * A charge that can end in an OOM kill asks for at most
 * 1 << PAGE_ALLOC_COSTLY_ORDER pages (mem_cgroup_oom() lets larger charges
 * fail instead), and memcg charges a CPU's stock MEMCG_CHARGE_BATCH pages
 * at a time: with that much room, the charge that entered reclaim goes
 * through and the next ones need no reclaim at all.
 */
#define ASHMEM_MEMCG_ROOM	max_t(unsigned long, MEMCG_CHARGE_BATCH, \
				      1UL << PAGE_ALLOC_COSTLY_ORDER)

/**
 * ashmem_memcg_short() - whether a cgroup that @memcg's pages count
 *	against needs memory
 * @memcg: the cgroup whose list the shrinker is asked to scan
 *
 * Reclaim for a memory cgroup (a charge at memory.max, memory.high) walks
 * the lists of the cgroup over its limit and of its descendants: the
 * cgroup it reclaims for is @memcg or one of its ancestors. It stops when
 * it has reclaimed what it asked for, but from 6.4 on it no longer counts
 * what shrinkers free (flush_reclaim_state() credits global reclaim only),
 * so it would go on down to priority 0 and purge the whole list. Instead of
 * that credit the shrinker asks the cgroups themselves.
 *
 * Return: true if a cgroup from @memcg up to the root (not included) has
 * less than ASHMEM_MEMCG_ROOM pages of room below its memory.max or its
 * memory.high.
 */
static bool ashmem_memcg_short(struct mem_cgroup *memcg)
{
	for (; memcg && parent_mem_cgroup(memcg); memcg = parent_mem_cgroup(memcg)) {
		unsigned long usage = page_counter_read(&memcg->memory);
		unsigned long limit = min(READ_ONCE(memcg->memory.max),
					  READ_ONCE(memcg->memory.high));

		if (usage + ASHMEM_MEMCG_ROOM > limit)
			return true;
	}
	return false;
}
#else
static bool ashmem_memcg_short(struct mem_cgroup *memcg)
{
	return false;
}
#endif

/*
 * How many pages the zones of node @nid lack below their high watermarks,
 * the level kswapd reclaims up to: global reclaim runs on the node only
 * when some do. Free CMA pages and the high-order atomic reserve do not
 * count, as the page allocator's own watermark test leaves them out for
 * ordinary allocations (an arm64 guest met the OOM killer while free CMA
 * pages kept the zone above its high watermark).
 */
static unsigned long ashmem_node_deficit(int nid)
{
	pg_data_t *pgdat = NODE_DATA(nid);
	unsigned long deficit = 0;
	int i;

	for (i = 0; i < MAX_NR_ZONES; i++) {
		struct zone *zone = &pgdat->node_zones[i];
		long free;

		if (!managed_zone(zone))
			continue;
		free = zone_page_state(zone, NR_FREE_PAGES) -
		       zone_page_state(zone, NR_FREE_CMA_PAGES) -
		       READ_ONCE(zone->nr_reserved_highatomic);
		if (free < (long)high_wmark_pages(zone))
			deficit += high_wmark_pages(zone) - free;
	}
	return deficit;
}

/**
 * ashmem_reclaim_has_enough() - whether the reclaim that called needs no
 *	more purging
 * @sc: the shrinker's control
 * @deficit: ashmem_node_deficit() of @sc->nid, which the caller needs too
 *
 * Reclaim asks for work in batches it computes up front: at a low priority
 * one call of do_shrink_slab() asks for twice the whole list, whatever has
 * been freed meanwhile. So before each piece the shrinker looks at what
 * reclaim is for. Global reclaim (kswapd, or an allocation the node could
 * not serve) is for a zone below its high watermark; reclaim for a memory
 * cgroup is for a cgroup on the way from @sc->memcg to the root without
 * room below its limits (see ashmem_memcg_short()). When neither holds,
 * nobody needs the pages. (A request through memory.reclaim or drop_caches
 * then purges nothing either: PURGE_ALL_CACHES is the way to empty it.)
 *
 * Return: true if the shrinker should stop for @sc.
 */
static bool ashmem_reclaim_has_enough(struct shrink_control *sc,
				      unsigned long deficit)
{
	return !deficit && !ashmem_memcg_short(sc->memcg);
}

/*
 * list_lru counts ranges per node and cgroup, and only the total number of
 * pages is known. Scale by the average range size: exact when all ranges
 * are alike, and it never reports an empty list as freeable.
 */
static unsigned long ashmem_shrink_count(struct shrinker *shrinker,
					 struct shrink_control *sc)
{
	unsigned long ranges, all_ranges, pages;

	/* Pairs with the release in ashmem_shrinker_init(). */
	if (!smp_load_acquire(&ashmem_lru_ready))
		return 0;
	ranges = list_lru_shrink_count(&ashmem_lru, sc);
	if (!ranges)
		return SHRINK_EMPTY;

	pages = ashmem_lru_pages();
	all_ranges = list_lru_count(&ashmem_lru);
	if (ranges >= all_ranges)
		return max(pages, ranges);
	return max(mult_frac(pages, ranges, all_ranges), 1UL);
}

static unsigned long ashmem_shrink_scan(struct shrinker *shrinker,
					struct shrink_control *sc)
{
	struct ashmem_purge_ctl ctl = {
		.budget = sc->nr_to_scan,
		.asked = sc->nr_to_scan,
		.nid = -1,
		.shrinker = true,
	};
	unsigned long deficit;

	/* Punching a hole is filesystem work. */
	if (!(sc->gfp_mask & __GFP_FS))
		return SHRINK_STOP;
	/* Pairs with the release in ashmem_shrinker_init(). */
	if (!smp_load_acquire(&ashmem_lru_ready))
		return SHRINK_STOP;
	deficit = ashmem_node_deficit(sc->nid);
	if (ashmem_reclaim_has_enough(sc, deficit))
		return SHRINK_STOP;
	/*
	 * A node short of memory gets back up to its high watermarks, as
	 * kswapd would bring it, checked again before each piece past what
	 * reclaim asked for. A few pages per call are not enough: the page
	 * allocator decides on OOM from free and LRU pages alone, and another
	 * task allocating at the same time takes what a small purge freed.
	 */
	if (deficit > ctl.budget) {
		ctl.budget = deficit;
		ctl.nid = sc->nid;
	}

	list_lru_shrink_walk(&ashmem_lru, sc, ashmem_lru_isolate, &ctl);
	/*
	 * Global reclaim counts only the pages it freed itself; without this
	 * credit it would go on to lower priorities and purge the whole list.
	 */
	ashmem_account_reclaimed_pages(ctl.resident);
	atomic_long_inc(&ashmem_stats.shrinker_scans);
	atomic_long_add(ctl.freed, &ashmem_stats.shrinker_freed);
	return ctl.freed;
}

/**
 * ashmem_purge_all() - purge every unpinned range (ASHMEM_PURGE_ALL_CACHES)
 *
 * Ranges whose region is busy at that instant are skipped, as a shrinker
 * would skip them.
 *
 * Return: the number of unpinned pages on the LRU before the purge.
 */
unsigned long ashmem_purge_all(void)
{
	struct ashmem_purge_ctl ctl = { .budget = ULONG_MAX, .asked = ULONG_MAX,
					.nid = -1 };
	unsigned long pages = ashmem_lru_pages();

	list_lru_walk(&ashmem_lru, ashmem_lru_isolate, &ctl, ULONG_MAX);
	return pages;
}

int ashmem_shrinker_init(void)
{
	int err;

	ashmem_shrinker = ashmem_shrinker_alloc(SHRINKER_NUMA_AWARE |
						SHRINKER_MEMCG_AWARE, "ashmem");
	if (!ashmem_shrinker)
		return -ENOMEM;
	ashmem_shrinker->count_objects = ashmem_shrink_count;
	ashmem_shrinker->scan_objects = ashmem_shrink_scan;
	ashmem_shrinker->seeks = DEFAULT_SEEKS;

	err = ashmem_shrinker_start(ashmem_shrinker, &ashmem_lru, "ashmem");
	if (err) {
		ashmem_shrinker_free(ashmem_shrinker);
		return err;
	}
	/* Publish ashmem_lru to the callbacks, which may already run. */
	smp_store_release(&ashmem_lru_ready, true);
	return 0;
}

void ashmem_shrinker_exit(void)
{
	ashmem_shrinker_free(ashmem_shrinker);
	list_lru_destroy(&ashmem_lru);
}
