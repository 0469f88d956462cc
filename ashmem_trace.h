/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * ashmem_linux: trace events (tracefs events/ashmem/). Regions are named by
 * their registry id, which fdinfo ("ashmem_id:") and the debugfs listing
 * show too; pages are in PAGE_SIZE units. No kernel address is recorded.
 */
#undef TRACE_SYSTEM
#define TRACE_SYSTEM ashmem

#if !defined(_ASHMEM_TRACE_H) || defined(TRACE_HEADER_MULTI_READ)
#define _ASHMEM_TRACE_H

#include <linux/tracepoint.h>

#include "ashmem.h"

TRACE_EVENT(ashmem_create,
	TP_PROTO(const struct ashmem_region *region),
	TP_ARGS(region),
	TP_STRUCT__entry(
		__field(u64, id)
		__field(pid_t, pid)
	),
	TP_fast_assign(
		__entry->id = region->id;
		__entry->pid = region->creator_pid;
	),
	TP_printk("id=%llu pid=%d", __entry->id, __entry->pid)
);

TRACE_EVENT(ashmem_mmap,
	TP_PROTO(const struct ashmem_region *region, unsigned long ino,
		 unsigned long pgoff, unsigned long pages, bool shared),
	TP_ARGS(region, ino, pgoff, pages, shared),
	TP_STRUCT__entry(
		__field(u64, id)
		__field(unsigned long, ino)
		__field(size_t, size)
		__field(unsigned long, pgoff)
		__field(unsigned long, pages)
		__field(bool, shared)
	),
	TP_fast_assign(
		__entry->id = region->id;
		__entry->ino = ino;
		__entry->size = region->size;
		__entry->pgoff = pgoff;
		__entry->pages = pages;
		__entry->shared = shared;
	),
	TP_printk("id=%llu ino=%lu size=%zu pgoff=%lu pages=%lu %s",
		  __entry->id, __entry->ino, __entry->size, __entry->pgoff,
		  __entry->pages, __entry->shared ? "shared" : "private")
);

DECLARE_EVENT_CLASS(ashmem_pages,
	TP_PROTO(const struct ashmem_region *region, pgoff_t start,
		 pgoff_t last, int ret),
	TP_ARGS(region, start, last, ret),
	TP_STRUCT__entry(
		__field(u64, id)
		__field(unsigned long, start)
		__field(unsigned long, pages)
		__field(int, ret)
	),
	TP_fast_assign(
		__entry->id = region->id;
		__entry->start = start;
		__entry->pages = last - start + 1;
		__entry->ret = ret;
	),
	TP_printk("id=%llu start=%lu pages=%lu ret=%d", __entry->id,
		  __entry->start, __entry->pages, __entry->ret)
);

DEFINE_EVENT(ashmem_pages, ashmem_pin,
	TP_PROTO(const struct ashmem_region *region, pgoff_t start,
		 pgoff_t last, int ret),
	TP_ARGS(region, start, last, ret)
);

DEFINE_EVENT(ashmem_pages, ashmem_unpin,
	TP_PROTO(const struct ashmem_region *region, pgoff_t start,
		 pgoff_t last, int ret),
	TP_ARGS(region, start, last, ret)
);

TRACE_EVENT(ashmem_purge,
	TP_PROTO(const struct ashmem_region *region, pgoff_t start,
		 pgoff_t pages, bool shrinker),
	TP_ARGS(region, start, pages, shrinker),
	TP_STRUCT__entry(
		__field(u64, id)
		__field(unsigned long, start)
		__field(unsigned long, pages)
		__field(bool, shrinker)
	),
	TP_fast_assign(
		__entry->id = region->id;
		__entry->start = start;
		__entry->pages = pages;
		__entry->shrinker = shrinker;
	),
	TP_printk("id=%llu start=%lu pages=%lu by=%s", __entry->id,
		  __entry->start, __entry->pages,
		  __entry->shrinker ? "shrinker" : "purge_all")
);

TRACE_EVENT(ashmem_release,
	TP_PROTO(const struct ashmem_region *region),
	TP_ARGS(region),
	TP_STRUCT__entry(
		__field(u64, id)
		__field(size_t, size)
	),
	TP_fast_assign(
		__entry->id = region->id;
		__entry->size = region->size;
	),
	TP_printk("id=%llu size=%zu", __entry->id, __entry->size)
);

#endif /* _ASHMEM_TRACE_H */

/* This part must be outside the include guard. */
#undef TRACE_INCLUDE_PATH
#define TRACE_INCLUDE_PATH .
#undef TRACE_INCLUDE_FILE
#define TRACE_INCLUDE_FILE ashmem_trace
#include <trace/define_trace.h>
