// SPDX-License-Identifier: GPL-2.0-only
/*
 * ashmem_linux: the LRU of unpinned pages and the shrinker that purges it.
 *
 * Unpinned, unpurged ranges sit on a list_lru, oldest first, one list per
 * NUMA node and memory cgroup: a cgroup that reaches its limit purges its
 * own unpinned ashmem first. The shrinker takes a victim off the list under
 * the list's lock, drops that lock, and punches the hole holding only the
 * victim's region lock (see "Locking" in ashmem.h).
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/list_lru.h>
#include <linux/math.h>
#include <linux/percpu_counter.h>
#include <linux/shrinker.h>

#include "ashmem.h"
#include "ashmem_compat.h"

static struct list_lru ashmem_lru;
static struct shrinker *ashmem_shrinker;

/*
 * Pages in the ranges on ashmem_lru; list_lru itself counts only ranges.
 * Per CPU, so that pin and unpin on different CPUs share no cache line;
 * the shrinker only needs an estimate.
 */
static struct percpu_counter ashmem_lru_nr_pages;

/* Set once ashmem_lru exists; the shrinker can run earlier before 6.7. */
static bool ashmem_lru_ready;

struct list_lru *ashmem_lru_list(void)
{
	return &ashmem_lru;
}

void ashmem_lru_add(struct ashmem_range *range)
{
	percpu_counter_add(&ashmem_lru_nr_pages, ashmem_range_pages(range));
	ashmem_list_lru_add(&ashmem_lru, &range->lru);
}

void ashmem_lru_del(struct ashmem_range *range)
{
	ashmem_list_lru_del(&ashmem_lru, &range->lru);
	percpu_counter_sub(&ashmem_lru_nr_pages, ashmem_range_pages(range));
}

/* Move the bounds of @range, keeping its place on the LRU if it has one. */
void ashmem_lru_resize(struct ashmem_range *range, pgoff_t start, pgoff_t last)
{
	long delta = (long)(last - start) - (long)(range->last - range->start);

	range->start = start;
	range->last = last;
	if (!range->purged)
		percpu_counter_add(&ashmem_lru_nr_pages, delta);
}

/* Return: the pages on the LRU, summed over the CPUs. */
unsigned long ashmem_lru_pages(void)
{
	return percpu_counter_sum_positive(&ashmem_lru_nr_pages);
}

/**
 * struct ashmem_purge_ctl - one walk of the LRU
 * @budget: pages the walk should free; it stops taking victims after that
 * @freed: unpinned pages purged so far, the shrinker's unit
 * @resident: of those, the pages that were in memory and so were freed
 * @shrinker: the walk is the shrinker's, not ASHMEM_PURGE_ALL_CACHES
 */
struct ashmem_purge_ctl {
	unsigned long budget;
	unsigned long freed;
	unsigned long resident;
	bool shrinker;
};

/*
 * Called by list_lru with the list's lock held. Takes the range off the
 * LRU only if its region can be locked without waiting, then drops the
 * list's lock to purge, as LRU_REMOVED_RETRY allows: the walk starts over.
 */
static enum lru_status ashmem_lru_isolate(ASHMEM_LRU_WALK_ARGS)
{
	struct ashmem_range *range = container_of(item, struct ashmem_range, lru);
	struct ashmem_region *region = range->region;
	struct ashmem_purge_ctl *ctl = cb_arg;

	if (ctl->freed >= ctl->budget)
		return LRU_SKIP;
	if (!mutex_trylock(&region->lock))
		return LRU_SKIP;

	/* On the LRU means not yet released: the region holds a reference. */
	list_lru_isolate(list, item);
	percpu_counter_sub(&ashmem_lru_nr_pages, ashmem_range_pages(range));
	refcount_inc(&region->ref);
	spin_unlock(ASHMEM_LRU_WALK_LOCK);

	ctl->freed += ashmem_range_pages(range);
	ctl->resident += ashmem_range_purge(range, ctl->shrinker);
	mutex_unlock(&region->lock);
	ashmem_region_put(region);

	return ashmem_lru_removed_unlocked(ASHMEM_LRU_WALK_LOCK);
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

	pages = percpu_counter_read_positive(&ashmem_lru_nr_pages);
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
		.shrinker = true,
	};

	/* Punching a hole is filesystem work. */
	if (!(sc->gfp_mask & __GFP_FS))
		return SHRINK_STOP;
	/* Pairs with the release in ashmem_shrinker_init(). */
	if (!smp_load_acquire(&ashmem_lru_ready))
		return SHRINK_STOP;

	list_lru_shrink_walk(&ashmem_lru, sc, ashmem_lru_isolate, &ctl);
	/*
	 * Reclaim counts only the pages it freed itself; without this credit
	 * it would go on to lower priorities and purge the whole list.
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
	struct ashmem_purge_ctl ctl = { .budget = ULONG_MAX };
	unsigned long pages = ashmem_lru_pages();

	list_lru_walk(&ashmem_lru, ashmem_lru_isolate, &ctl, ULONG_MAX);
	return pages;
}

int ashmem_shrinker_init(void)
{
	int err;

	err = percpu_counter_init(&ashmem_lru_nr_pages, 0, GFP_KERNEL);
	if (err)
		return err;

	ashmem_shrinker = ashmem_shrinker_alloc(SHRINKER_NUMA_AWARE |
						SHRINKER_MEMCG_AWARE, "ashmem");
	if (!ashmem_shrinker) {
		err = -ENOMEM;
		goto err_counter;
	}
	ashmem_shrinker->count_objects = ashmem_shrink_count;
	ashmem_shrinker->scan_objects = ashmem_shrink_scan;
	ashmem_shrinker->seeks = DEFAULT_SEEKS;

	err = ashmem_shrinker_start(ashmem_shrinker, &ashmem_lru, "ashmem");
	if (err)
		goto err_shrinker;
	/* Publish ashmem_lru to the callbacks, which may already run. */
	smp_store_release(&ashmem_lru_ready, true);
	return 0;

err_shrinker:
	ashmem_shrinker_free(ashmem_shrinker);
err_counter:
	percpu_counter_destroy(&ashmem_lru_nr_pages);
	return err;
}

void ashmem_shrinker_exit(void)
{
	ashmem_shrinker_free(ashmem_shrinker);
	list_lru_destroy(&ashmem_lru);
	percpu_counter_destroy(&ashmem_lru_nr_pages);
}
