// SPDX-License-Identifier: GPL-2.0-only
/*
 * ashmem_linux: the registry of open regions, the counters, and the debugfs
 * files that show both.
 *
 * /sys/kernel/debug/ashmem/stats    "key value" lines, the global counters
 * /sys/kernel/debug/ashmem/regions  one line per open region (root only)
 *
 * The registry is one xarray per CPU, each with its own lock: an open
 * enters its region in the xarray of the CPU it runs on, and opens and
 * releases on different CPUs share no lock and no cache line. The listing
 * walks the xarrays one after the other, in index order, without a lock
 * held across the walk (see "Locking" in ashmem.h).
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/cgroup.h>
#include <linux/debugfs.h>
#include <linux/fs.h>
#include <linux/math64.h>
#include <linux/percpu.h>
#include <linux/sched.h>
#include <linux/seq_file.h>
#include <linux/string.h>
#include <linux/xarray.h>

#include "ashmem.h"

struct ashmem_stats ashmem_stats;

/**
 * struct ashmem_registry - the regions opened on one CPU
 * @regions: open regions by slot; its lock protects @next_seq too
 * @next_seq: the number of the next region opened on the CPU, for its id
 *
 * A region takes the lowest free slot, as a file descriptor takes the
 * lowest free number, and its id from @next_seq, so that ids never come
 * back. Slots that went round with the ids instead had each open and
 * close of a lone region allocate and free an xarray node of its own,
 * which cost as much as the rest of the driver's work on the two paths.
 */
struct ashmem_registry {
	struct xarray regions;
	u64 next_seq;
};

static DEFINE_PER_CPU(struct ashmem_registry, ashmem_registries);
static struct dentry *ashmem_debugfs_dir;

static struct xarray *ashmem_registry_of(unsigned int cpu)
{
	return &per_cpu_ptr(&ashmem_registries, cpu)->regions;
}

/*
 * A region's id: its number among the regions opened on its CPU, and the
 * CPU. Never reused while the module is loaded; what fdinfo, the listing
 * and the trace events show.
 */
static u64 ashmem_id(unsigned int cpu, u64 seq)
{
	return seq * nr_cpu_ids + cpu;
}

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

void ashmem_registry_init(void)
{
	unsigned int cpu;

	for_each_possible_cpu(cpu)
		xa_init_flags(ashmem_registry_of(cpu), XA_FLAGS_ALLOC);
}

/**
 * ashmem_region_register() - give a new region its id and creator
 * @region: a region being opened, with its reference set
 *
 * The CPU is only where the region is filed: the task may move on at once.
 *
 * Return: 0, or -ENOMEM (-EBUSY with 2^32 regions open on one CPU).
 */
int ashmem_region_register(struct ashmem_region *region)
{
	unsigned int cpu = raw_smp_processor_id();
	struct ashmem_registry *reg = per_cpu_ptr(&ashmem_registries, cpu);
	int err;

	region->creator_pid = task_tgid_nr(current);
	region->creator_cgroup = ashmem_current_cgroup();
	get_task_comm(region->creator_comm, current);

	xa_lock(&reg->regions);
	err = __xa_alloc(&reg->regions, &region->slot, region, xa_limit_32b,
			 GFP_KERNEL_ACCOUNT);
	if (!err)
		region->id = ashmem_id(cpu, reg->next_seq++);
	xa_unlock(&reg->regions);
	return err;
}

/**
 * ashmem_registry_exit() - free what the registry still holds, at unload
 *
 * Every region is gone by then, but not every node of the xarrays: an
 * __xa_alloc() that fails for want of memory can leave behind empty
 * nodes it had already linked in, and only xa_destroy() frees those. Such
 * nodes keep xa_empty() false, so the check is for an entry, not a node.
 */
void ashmem_registry_exit(void)
{
	unsigned int cpu;

	for_each_possible_cpu(cpu) {
		struct xarray *xa = ashmem_registry_of(cpu);
		unsigned long index = 0;

		WARN_ON_ONCE(xa_find(xa, &index, ULONG_MAX, XA_PRESENT));
		xa_destroy(xa);
	}
}

/* Before the region's last reference goes: see ashmem_registry_get(). */
void ashmem_region_unregister(struct ashmem_region *region)
{
	u32 cpu;

	div_u64_rem(region->id, nr_cpu_ids, &cpu);
	xa_erase(ashmem_registry_of(cpu), region->slot);
}

/*
 * Listing positions: 0 is the header; position p > 0 stands for index
 * (p - 1) & U32_MAX in the registry of CPU (p - 1) >> 32.
 */
#define ASHMEM_POS_CPU_SHIFT	32

/*
 * The first region at position *@pos or after, with a reference held;
 * *@pos becomes its position. A region found under its registry's lock is
 * not yet unregistered, so its open file still holds a reference and
 * taking another is safe.
 */
static struct ashmem_region *ashmem_registry_get(loff_t *pos)
{
	u64 at = *pos - 1;
	unsigned int first = at >> ASHMEM_POS_CPU_SHIFT, cpu;
	struct ashmem_region *region;
	unsigned long index;

	for_each_possible_cpu(cpu) {
		struct xarray *xa = ashmem_registry_of(cpu);

		if (cpu < first)
			continue;
		index = cpu == first ? at & U32_MAX : 0;
		xa_lock(xa);
		region = xa_find(xa, &index, U32_MAX, XA_PRESENT);
		if (region)
			refcount_inc(&region->ref);
		xa_unlock(xa);
		if (region) {
			*pos = ((loff_t)cpu << ASHMEM_POS_CPU_SHIFT | index) + 1;
			return region;
		}
	}
	return NULL;
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

	spin_lock(&region->lock);
	ashmem_range_count(region, &unpinned, &purged);
	if (region->file)
		ino = file_inode(region->file)->i_ino;
	seq_printf(m, "%llu %lu %zu %lu %lu %lu %d ", region->id, ino,
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
	spin_unlock(&region->lock);
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
	unsigned int cpu;

	*regions = *mapped = *bytes = 0;
	for_each_possible_cpu(cpu) {
		struct xarray *xa = ashmem_registry_of(cpu);

		xa_lock(xa);
		xa_for_each(xa, index, region) {
			++*regions;
			/* Racy by design: see above. */
			*mapped += !!data_race(region->file);
			/* Racy by design: see above. */
			*bytes += data_race(region->size);
		}
		xa_unlock(xa);
	}
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
