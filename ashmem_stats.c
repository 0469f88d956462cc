// SPDX-License-Identifier: GPL-2.0-only
/*
 * ashmem_linux: the registry of open regions, the counters, and the debugfs
 * files that show both.
 *
 * /sys/kernel/debug/ashmem/stats    "key value" lines, the global counters
 * /sys/kernel/debug/ashmem/regions  one line per open region (root only)
 *
 * The registry is an xarray: it gives each region its id and lets the
 * listing walk the open regions in id order without a lock held across
 * the walk (see "Locking" in ashmem.h).
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/cgroup.h>
#include <linux/debugfs.h>
#include <linux/fs.h>
#include <linux/sched.h>
#include <linux/seq_file.h>
#include <linux/string.h>
#include <linux/xarray.h>

#include "ashmem.h"

struct ashmem_stats ashmem_stats;

static DEFINE_XARRAY_ALLOC(ashmem_registry);
static u32 ashmem_registry_next;
static struct dentry *ashmem_debugfs_dir;

/* Characters the listing escapes in names, so fields split on blanks. */
#define ASHMEM_ESCAPE	" \t\n\\"

static u64 ashmem_current_cgroup(void)
{
#ifdef CONFIG_CGROUPS
	u64 ino;

	rcu_read_lock();
	ino = cgroup_ino(task_dfl_cgroup(current));
	rcu_read_unlock();
	return ino;
#else
	return 0;
#endif
}

/**
 * ashmem_region_register() - give a new region its id and creator
 * @region: a region being opened, with its reference set
 *
 * Return: 0, or -ENOMEM.
 */
int ashmem_region_register(struct ashmem_region *region)
{
	int err;

	region->creator_pid = task_tgid_nr(current);
	region->creator_cgroup = ashmem_current_cgroup();
	get_task_comm(region->creator_comm, current);

	err = xa_alloc_cyclic(&ashmem_registry, &region->id, region,
			      xa_limit_32b, &ashmem_registry_next,
			      GFP_KERNEL_ACCOUNT);
	return err < 0 ? err : 0;
}

/**
 * ashmem_registry_exit() - free what the registry still holds, at unload
 *
 * Every region is gone by then, but not every node of the xarray: an
 * xa_alloc_cyclic() that fails for want of memory can leave behind empty
 * nodes it had already linked in, and only xa_destroy() frees those. Such
 * nodes keep xa_empty() false, so the check is for an entry, not a node.
 */
void ashmem_registry_exit(void)
{
	unsigned long index = 0;

	WARN_ON_ONCE(xa_find(&ashmem_registry, &index, ULONG_MAX, XA_PRESENT));
	xa_destroy(&ashmem_registry);
}

/* Before the region's last reference goes: see ashmem_registry_get(). */
void ashmem_region_unregister(struct ashmem_region *region)
{
	xa_erase(&ashmem_registry, region->id);
}

/*
 * The first region with an id of at least @pos - 1, with a reference held;
 * @pos becomes its id + 1 (position 0 is the header). A region found under
 * the registry's lock is not yet unregistered, so its open file still holds
 * a reference and taking another is safe.
 */
static struct ashmem_region *ashmem_registry_get(loff_t *pos)
{
	unsigned long index = *pos - 1;
	struct ashmem_region *region;

	if (index > U32_MAX)
		return NULL;
	xa_lock(&ashmem_registry);
	region = xa_find(&ashmem_registry, &index, U32_MAX, XA_PRESENT);
	if (region)
		refcount_inc(&region->ref);
	xa_unlock(&ashmem_registry);
	if (region)
		*pos = (loff_t)index + 1;
	return region;
}

static void *ashmem_regions_start(struct seq_file *m, loff_t *pos)
{
	return *pos ? ashmem_registry_get(pos) : SEQ_START_TOKEN;
}

static void *ashmem_regions_next(struct seq_file *m, void *v, loff_t *pos)
{
	if (v != SEQ_START_TOKEN)
		ashmem_region_put(v);
	++*pos;
	return ashmem_registry_get(pos);
}

static void ashmem_regions_stop(struct seq_file *m, void *v)
{
	if (v && v != SEQ_START_TOKEN)
		ashmem_region_put(v);
}

static void ashmem_region_show(struct seq_file *m, struct ashmem_region *region)
{
	unsigned long unpinned, purged, ino = 0;

	mutex_lock(&region->lock);
	ashmem_range_count(region, &unpinned, &purged);
	if (region->file)
		ino = file_inode(region->file)->i_ino;
	seq_printf(m, "%u %lu %zu %lu %lu %lu %d ", region->id, ino,
		   region->size, unpinned, purged, region->purges,
		   region->creator_pid);
	seq_escape(m, region->creator_comm, ASHMEM_ESCAPE);
	seq_printf(m, " %llu ", region->creator_cgroup);
	if (region->name)
		seq_escape(m, region->name + strlen(ASHMEM_NAME_PREFIX),
			   ASHMEM_ESCAPE);
	else
		seq_putc(m, '-');
	seq_putc(m, '\n');
	mutex_unlock(&region->lock);
}

static int ashmem_regions_show(struct seq_file *m, void *v)
{
	if (v == SEQ_START_TOKEN)
		seq_puts(m, "# id ino size unpinned_pages purged_pages purges pid comm cgroup name\n");
	else
		ashmem_region_show(m, v);
	return 0;
}

static const struct seq_operations ashmem_regions_sops = {
	.start = ashmem_regions_start,
	.next = ashmem_regions_next,
	.stop = ashmem_regions_stop,
	.show = ashmem_regions_show,
};
DEFINE_SEQ_ATTRIBUTE(ashmem_regions);

/*
 * The open regions, those mapped, and their sizes, counted when read
 * rather than kept in counters every open, SET_SIZE, mmap() and release
 * would write. A region in the registry is not yet released; its size and
 * file change under its own lock, and a count that races with them is as
 * good as one taken a moment earlier or later.
 */
static void ashmem_registry_count(unsigned long *regions,
				  unsigned long *mapped, unsigned long *bytes)
{
	struct ashmem_region *region;
	unsigned long index;

	*regions = *mapped = *bytes = 0;
	xa_lock(&ashmem_registry);
	xa_for_each(&ashmem_registry, index, region) {
		++*regions;
		*mapped += !!data_race(region->file);
		*bytes += data_race(region->size);
	}
	xa_unlock(&ashmem_registry);
}

static int ashmem_stats_show(struct seq_file *m, void *v)
{
	unsigned long regions, mapped, bytes;

	ashmem_registry_count(&regions, &mapped, &bytes);
	seq_printf(m, "regions %lu\n", regions);
	seq_printf(m, "mapped_regions %lu\n", mapped);
	seq_printf(m, "sized_bytes %lu\n", bytes);
	seq_printf(m, "lru_pages %lu\n", ashmem_lru_pages());
	seq_printf(m, "purged_pages %ld\n",
		   atomic_long_read(&ashmem_stats.purged_pages));
	seq_printf(m, "shrinker_scans %ld\n",
		   atomic_long_read(&ashmem_stats.shrinker_scans));
	seq_printf(m, "shrinker_freed %ld\n",
		   atomic_long_read(&ashmem_stats.shrinker_freed));
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(ashmem_stats);

/* debugfs is for diagnostics: the module works the same without it. */
void ashmem_debugfs_init(void)
{
	ashmem_debugfs_dir = debugfs_create_dir("ashmem", NULL);
	debugfs_create_file("stats", 0444, ashmem_debugfs_dir, NULL,
			    &ashmem_stats_fops);
	debugfs_create_file("regions", 0400, ashmem_debugfs_dir, NULL,
			    &ashmem_regions_fops);
}

void ashmem_debugfs_exit(void)
{
	debugfs_remove(ashmem_debugfs_dir);
}
