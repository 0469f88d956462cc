// SPDX-License-Identifier: GPL-2.0-only
/*
 * ashmem_linux: the set of unpinned ranges of a region.
 *
 * A region's unpinned pages are kept as disjoint ranges in an rbtree sorted
 * by first page, so PIN, UNPIN and GET_PIN_STATUS cost O(log n) in the
 * number of ranges plus the ranges they touch. Everything here runs under
 * region->lock and never allocates. A range that is pinned again or merged
 * away is kept as the region's spare (region->spare), and the next UNPIN or
 * splitting PIN reuses it; only one that finds no spare, and no range it
 * absorbs, returns -EAGAIN, so that its caller allocates one with the lock
 * dropped (ashmem_range_give_spare()) and tries again.
 *
 * The common cycle pins and unpins the same pages again and again, so a PIN
 * that covers a whole range and makes it the spare leaves it where it is:
 * in the tree, parked, and on the LRU, with no pages. An UNPIN of exactly
 * those pages puts it back in use without touching the tree or a list lock
 * (ashmem_lru_add()); anything else that walks the tree first takes the
 * parked spare out of it (spare_unpark()). So the tree holds at most one
 * parked range, and only ever the region's spare.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/fs.h>
#include <linux/falloc.h>
#include <linux/minmax.h>
#include <linux/sched/mm.h>
#include <linux/slab.h>
#include <linux/wait_bit.h>

#include "ashmem.h"
#include "ashmem_trace.h"
#include "uapi/linux/ashmem.h"

static struct kmem_cache *ashmem_range_cachep;

/**
 * ashmem_range_alloc() - allocate a range for a later pin or unpin
 *
 * The range is charged to the caller's memory cgroup, and the LRU gets a
 * list for that cgroup if it has none yet, so the range can later sit on
 * the LRU of the cgroup that owns it.
 *
 * Return: the range, or NULL.
 */
struct ashmem_range *ashmem_range_alloc(void)
{
	struct ashmem_range *range;

	range = kmem_cache_alloc_lru(ashmem_range_cachep, ashmem_lru_list(),
				     GFP_KERNEL_ACCOUNT);
	if (range) {
		INIT_LIST_HEAD(&range->lru);	/* list_lru adds only empty items */
		RB_CLEAR_NODE(&range->node);	/* in no tree: see parked_spare() */
		range->on_lru = false;
		range->referenced = false;
	}
	return range;
}

void ashmem_range_free(struct ashmem_range *range)
{
	if (range)
		kmem_cache_free(ashmem_range_cachep, range);
}

static struct ashmem_range *range_of(struct rb_node *node)
{
	return node ? rb_entry(node, struct ashmem_range, node) : NULL;
}

/* The first range that ends at or after @page: the only candidate to hold it. */
static struct ashmem_range *range_first_from(struct ashmem_region *region,
					     pgoff_t page)
{
	struct rb_node *node = region->ranges.rb_node;
	struct ashmem_range *found = NULL;

	while (node) {
		struct ashmem_range *range = range_of(node);

		if (range->last >= page) {
			found = range;
			node = node->rb_left;
		} else {
			node = node->rb_right;
		}
	}
	return found;
}

static void range_insert(struct ashmem_region *region, struct ashmem_range *new)
{
	struct rb_node **link = &region->ranges.rb_node, *parent = NULL;

	while (*link) {
		parent = *link;
		if (new->start < range_of(parent)->start)
			link = &parent->rb_left;
		else
			link = &parent->rb_right;
	}
	rb_link_node(&new->node, parent, link);
	rb_insert_color(&new->node, &region->ranges);
}

/*
 * Add @range as unpinned pages [@start, @last], of which [@start, @unpurged)
 * were purged; it goes on the LRU if any of its pages were not.
 */
static void range_add(struct ashmem_region *region, struct ashmem_range *range,
		      pgoff_t start, pgoff_t last, pgoff_t unpurged)
{
	range->region = region;
	range->start = start;
	range->last = last;
	range->unpurged = unpurged;
	range_insert(region, range);
	if (ashmem_range_live(range))
		ashmem_lru_add(range);
	else
		ashmem_lru_unlink(range);
}

/* Free @range, which is in no tree and no spare. */
static void range_drop(struct ashmem_range *range)
{
	ashmem_lru_unlink(range);
	ashmem_range_free(range);
}

/* The region's spare if a PIN left it parked in the tree, else NULL. */
static struct ashmem_range *parked_spare(struct ashmem_region *region)
{
	struct ashmem_range *spare = region->spare;

	return spare && !RB_EMPTY_NODE(&spare->node) ? spare : NULL;
}

static void range_erase(struct ashmem_region *region, struct ashmem_range *range)
{
	rb_erase(&range->node, &region->ranges);
	RB_CLEAR_NODE(&range->node);
}

/* Take a parked spare out of the tree, before a walk of it; it stays the spare. */
static void spare_unpark(struct ashmem_region *region)
{
	struct ashmem_range *spare = parked_spare(region);

	if (spare)
		range_erase(region, spare);
}

static struct ashmem_range *take_spare(struct ashmem_region *region)
{
	struct ashmem_range *range = region->spare;

	spare_unpark(region);
	region->spare = NULL;
	return range;
}

/**
 * ashmem_range_give_spare() - hand a freshly allocated range to a region
 * @region: the region, locked
 * @range: from ashmem_range_alloc()
 *
 * Return: NULL if the region kept @range as its spare, else @range, which
 * the caller frees once it dropped the lock.
 */
struct ashmem_range *ashmem_range_give_spare(struct ashmem_region *region,
					     struct ashmem_range *range)
{
	if (region->spare)
		return range;
	region->spare = range;
	return NULL;
}

/**
 * range_remove() - forget a range, whose pages are pinned again or merged
 * @region: the region, locked
 * @range: a range in its tree
 * @park: a PIN covers all of @range's pages: if it becomes the spare, it
 *	may stay in the tree, parked, for an UNPIN of the same pages
 *
 * The range becomes the region's spare, or is freed if there is one. A
 * spare that was on the LRU stays there, with no pages: the UNPIN that
 * reuses it needs no list lock, and the shrinker drops it from the list if
 * it comes to it first.
 */
static void range_remove(struct ashmem_region *region,
			 struct ashmem_range *range, bool park)
{
	ashmem_lru_shrink(ashmem_range_live(range));
	range->unpurged = range->last + 1;
	if (region->spare) {
		range_erase(region, range);
		range_drop(range);
		return;
	}
	if (!park)
		range_erase(region, range);
	region->spare = range;
}

/* An UNPIN of exactly the pages of the parked @spare: it holds them again. */
static void range_revive(struct ashmem_region *region, struct ashmem_range *spare)
{
	region->spare = NULL;
	spare->unpurged = spare->start;
	ashmem_lru_add(spare);
}

/*
 * Narrow @range to [@start, @last], pages it already covers, keeping its
 * place in the tree and, if it keeps unpurged pages, on the LRU.
 */
static void range_narrow(struct ashmem_range *range, pgoff_t start, pgoff_t last)
{
	pgoff_t live = ashmem_range_live(range);
	pgoff_t unpurged = clamp(range->unpurged, start, last + 1);

	ashmem_lru_shrink(live - (last + 1 - unpurged));
	if (unpurged > last)
		ashmem_lru_unlink(range);
	range->start = start;
	range->last = last;
	range->unpurged = unpurged;
}

/* Whether a PIN of [@start, @last] covers a purged page of @range. */
static bool range_purged_within(const struct ashmem_range *range, pgoff_t start,
				pgoff_t last)
{
	return range->start <= last && range->unpurged > max(start, range->start);
}

/**
 * ashmem_range_unpin() - mark pages [@start, @last] unpinned
 * @region: the region, locked
 * @start: first page
 * @last: last page
 *
 * The new range absorbs every range it overlaps, and is marked purged as a
 * whole if any of them had a purged page, as Android does. It also absorbs
 * an adjacent range when the purged pages of the two still form a prefix
 * of the whole (a purged range before, or an unpurged one after), which
 * keeps the tree small without ever reporting WAS_PURGED for pages that
 * were not. Pages already unpinned as a whole keep their range, and so
 * their place on the LRU. The new range reuses the region's spare or an
 * absorbed range, and one absorbed range becomes the next spare. The parked
 * spare of a PIN of exactly the same pages takes them back where it is,
 * merging with nothing: its neighbours are those it had before that PIN.
 *
 * Return: 0; -EAGAIN, with nothing changed, if the new range would absorb
 * none and the region has no spare.
 */
int ashmem_range_unpin(struct ashmem_region *region, pgoff_t start,
		       pgoff_t last)
{
	struct ashmem_range *parked = parked_spare(region);
	struct ashmem_range *first, *prev, *after, *range, *next, *new;
	bool purged = false, merge_prev, merge_next;
	pgoff_t unpurged;

	if (parked && parked->start == start && parked->last == last) {
		range_revive(region, parked);
		return 0;
	}
	spare_unpark(region);

	first = range_first_from(region, start);
	if (first && first->start <= start && first->last >= last)
		return 0;

	/* What the new range covers: every range it overlaps... */
	for (after = first; after && after->start <= last;
	     after = range_of(rb_next(&after->node))) {
		start = min(start, after->start);
		last = max(last, after->last);
		purged |= ashmem_range_any_purged(after);
	}
	unpurged = purged ? last + 1 : start;

	/* ...a purged prefix followed by the new pages... */
	prev = first ? range_of(rb_prev(&first->node)) :
		       range_of(rb_last(&region->ranges));
	merge_prev = prev && prev->last + 1 == start &&
		     (!ashmem_range_live(prev) || unpurged == start);
	if (merge_prev) {
		if (ashmem_range_live(prev))
			unpurged = prev->unpurged;
		start = prev->start;
	}
	/* ...and a range after them whose purged pages lead it. */
	merge_next = after && after->start == last + 1 &&
		     (unpurged == last + 1 || !ashmem_range_any_purged(after));
	if (merge_next) {
		if (unpurged == last + 1)
			unpurged = after->unpurged;
		last = after->last;
	}

	new = take_spare(region);
	if (!new && first == after && !merge_prev && !merge_next)
		return -EAGAIN;
	for (range = first; range != after; range = next) {
		next = range_of(rb_next(&range->node));
		range_remove(region, range, false);
	}
	if (merge_prev)
		range_remove(region, prev, false);
	if (merge_next)
		range_remove(region, after, false);
	range_add(region, new ?: take_spare(region), start, last, unpurged);
	return 0;
}

/**
 * ashmem_range_pin() - mark pages [@start, @last] pinned
 * @region: the region, locked
 * @start: first page
 * @last: last page
 *
 * A range the pages split in two keeps its head, and the region's spare
 * becomes its tail. A range they cover as a whole becomes the spare, parked
 * in the tree, if the region has none.
 *
 * Return: ASHMEM_WAS_PURGED if any of the pages was purged while unpinned,
 * else ASHMEM_NOT_PURGED; -EAGAIN, with nothing changed, if a range has to
 * be split and the region has no spare.
 */
int ashmem_range_pin(struct ashmem_region *region, pgoff_t start, pgoff_t last)
{
	struct ashmem_range *range, *next;
	int ret = ASHMEM_NOT_PURGED;

	spare_unpark(region);
	range = range_first_from(region, start);
	/* Ranges are disjoint: only the first can hold the pages inside it. */
	if (range && range->start < start && range->last > last && !region->spare)
		return -EAGAIN;

	for (; range && range->start <= last; range = next) {
		/* ...and none after one that reaches @last holds any of them. */
		next = range->last < last ? range_of(rb_next(&range->node)) : NULL;
		if (range_purged_within(range, start, last))
			ret = ASHMEM_WAS_PURGED;

		if (range->start >= start && range->last <= last) {
			range_remove(region, range, true);
		} else if (range->start < start && range->last > last) {
			pgoff_t tail_last = range->last;
			pgoff_t tail_unpurged = max(range->unpurged, last + 1);

			range_narrow(range, range->start, start - 1);
			range_add(region, take_spare(region), last + 1,
				  tail_last, tail_unpurged);
		} else if (range->start < start) {
			range_narrow(range, range->start, start - 1);
		} else {
			range_narrow(range, last + 1, range->last);
		}
	}
	return ret;
}

/* Return: whether any page of [@start, @last] is unpinned. */
bool ashmem_range_any_unpinned(struct ashmem_region *region, pgoff_t start,
			       pgoff_t last)
{
	struct ashmem_range *range;

	spare_unpark(region);
	range = range_first_from(region, start);
	return range && range->start <= last;
}

/* Drop every range of a region that is going away. */
void ashmem_range_release_all(struct ashmem_region *region)
{
	struct ashmem_range *range, *next;

	spare_unpark(region);
	rbtree_postorder_for_each_entry_safe(range, next, &region->ranges, node) {
		ashmem_lru_shrink(ashmem_range_live(range));
		range_drop(range);
	}
	region->ranges = RB_ROOT;
	range = take_spare(region);
	if (range)
		range_drop(range);
}

/**
 * ashmem_range_claim() - take the first unpurged pages of a range for a purge
 * @range: the range; its region is locked
 * @pages: how many, at most ashmem_range_live(@range); the caller took them
 *	off the LRU's count, and the range itself off the LRU if that is all
 * @shrinker: whether the shrinker purges them (for the trace event)
 *
 * Moves the range's purged prefix past the pages, so the next PIN over any
 * of them reports ASHMEM_WAS_PURGED, and counts the purge in flight. The
 * caller punches them with ashmem_region_punch() once it has dropped the
 * region's lock, then calls ashmem_region_purged().
 *
 * Return: the first page of the piece.
 */
pgoff_t ashmem_range_claim(struct ashmem_range *range, pgoff_t pages,
			   bool shrinker)
{
	struct ashmem_region *region = range->region;
	pgoff_t first = range->unpurged;

	atomic_inc(&region->purging);
	range->unpurged = first + pages;
	region->purges++;
	atomic_long_add(pages, &ashmem_stats.purged_pages);
	trace_ashmem_purge(region, first, pages, shrinker);
	return first;
}

/*
 * A purge claimed by ashmem_range_claim() has punched its hole: wake the
 * PIN or release that waits for the last one. The caller still holds its
 * reference on the region.
 */
void ashmem_region_purged(struct ashmem_region *region)
{
	if (atomic_dec_and_test(&region->purging))
		wake_up_var(&region->purging);
}

/**
 * ashmem_region_punch() - discard pages claimed by ashmem_range_claim()
 * @backing: the region's backing file, as read under its lock at the claim:
 *	release clears region->file before it waits for the purges in flight,
 *	and puts the file only after
 * @first: first page
 * @pages: how many
 *
 * Punches a hole in the backing file, so the pages read back as zeros. The
 * purge is counted in the region's @purging. No allocation in the
 * punch may recurse into filesystem reclaim: the shrinker could punch the
 * same inode again there, and wait for its lock.
 *
 * shmem's ->fallocate is called directly, not through vfs_fallocate(): that
 * would take the internal mount's sb_writers, which tmpfs writers (a mkdir
 * on any tmpfs) hold while they allocate, so reclaim would wait on it
 * (lockdep: sb_writers -> fs_reclaim -> sb_writers). The backing file is
 * never frozen, never seen by userspace and watched by nobody, which is
 * all vfs_fallocate() adds.
 *
 * Return: how many pages of the file were resident and so were freed.
 */
unsigned long ashmem_region_punch(struct file *backing, pgoff_t first,
				  pgoff_t pages)
{
	struct address_space *mapping = backing->f_mapping;
	unsigned long resident = READ_ONCE(mapping->nrpages);
	unsigned int nofs = memalloc_nofs_save();
	int err;

	err = backing->f_op->fallocate(backing, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
				       (loff_t)first << PAGE_SHIFT,
				       (loff_t)pages << PAGE_SHIFT);
	memalloc_nofs_restore(nofs);
	/*
	 * shmem refuses a punch only on a sealed file, which ours cannot be.
	 * Should it fail anyway, the pages still count as purged: after
	 * WAS_PURGED the caller treats the contents as undefined.
	 */
	if (err)
		pr_warn_ratelimited("purging %lu pages failed: %d\n",
				    (unsigned long)pages, err);

	/* Faults and other purges of the file may race: only an estimate. */
	return resident - min(resident, READ_ONCE(mapping->nrpages));
}

/**
 * ashmem_range_count() - unpinned pages of a region, for the listing
 * @region: the region, locked
 * @unpinned: set to the unpinned pages not yet purged
 * @purged: set to the unpinned pages already purged
 */
void ashmem_range_count(struct ashmem_region *region, unsigned long *unpinned,
			unsigned long *purged)
{
	struct rb_node *node;

	*unpinned = 0;
	*purged = 0;
	for (node = rb_first(&region->ranges); node; node = rb_next(node)) {
		struct ashmem_range *range = range_of(node);

		if (range == parked_spare(region))
			continue;

		*unpinned += ashmem_range_live(range);
		*purged += range->unpurged - range->start;
	}
}

int ashmem_range_cache_init(void)
{
	ashmem_range_cachep = KMEM_CACHE(ashmem_range, SLAB_ACCOUNT);
	return ashmem_range_cachep ? 0 : -ENOMEM;
}

void ashmem_range_cache_exit(void)
{
	kmem_cache_destroy(ashmem_range_cachep);
}
