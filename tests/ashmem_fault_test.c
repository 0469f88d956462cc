// SPDX-License-Identifier: GPL-2.0-only
/*
 * Fault injection: with the kernel's allocations (failslab,
 * fail_page_alloc) and user copies (fail_usercopy) failing under it, every
 * open, ioctl, mmap, read, lseek and close of a region either works or
 * fails cleanly (ENOMEM, or EFAULT where it copies user memory), the region
 * stays usable and closable, and kmemleak finds nothing leaked afterwards.
 *
 * Systematic phase: each operation runs from a fixed starting state with
 * its k-th fault point failed, for k = 1, 2, ... until the operation no
 * longer reaches a k-th point. /proc/thread-self/fail-nth addresses the
 * k-th point of this task exactly; the "interval" knob cannot, as its
 * counter is global and never reset.
 *
 * Random phase, for the rest of ASHMEM_RELIABILITY_SECONDS: random
 * operations on a few regions with make-it-fail set around each system
 * call, so faults land at random points, several per call.
 *
 * Faults are only ever enabled around the system call under test: a page
 * fault on mapped memory that fails an allocation is retried by the kernel
 * with a "VM_FAULT_OOM leaked" complaint, not reported to the caller. After
 * each call, with injection off, the region is compared with a model: its
 * name, size, prot mask, backing file, which pages are pinned, and the data
 * of pinned pages.
 *
 * Kernels without fault injection (Debian's) skip. Needs root and debugfs.
 */
#define _GNU_SOURCE
#include <sys/personality.h>

#include "kselftest_harness.h"
#include "ashmem_util.h"

/* The operations share one signature; not each uses every argument. */
#pragma GCC diagnostic ignored "-Wunused-parameter"

#define DEBUGFS			"/sys/kernel/debug"
#define KMEMLEAK		DEBUGFS "/kmemleak"

/* Pages of a region: enough to unpin, split and merge ranges in. */
#define REGION_PAGES		8
/* Regions the random phase works on at once. */
#define RANDOM_REGIONS		3
/* The random phase runs at least this many operations, however short. */
#define RANDOM_MIN_OPS		300
/* Operations between changes of the random phase's fault probability. */
#define RANDOM_BATCH		100
/* No operation reaches this many fault points: more means a loop. */
#define NTH_MAX			5000
/*
 * The times knob counts down each injected fault; start it high so it
 * never stops injection, and read the count of injected faults off it.
 */
#define TIMES_START		1000000000L
/* The largest page size a region is sized from (arm64's 64K). */
#define MAX_PAGE		65536

/* ============================================================ injector */

enum fault_kind { FAULT_SLAB, FAULT_PAGE, FAULT_USERCOPY, FAULT_KINDS };

static const char *const fault_dir[FAULT_KINDS] = {
	[FAULT_SLAB]		= DEBUGFS "/failslab",
	[FAULT_PAGE]		= DEBUGFS "/fail_page_alloc",
	[FAULT_USERCOPY]	= DEBUGFS "/fail_usercopy",
};

static const char *const fault_name[FAULT_KINDS] = {
	[FAULT_SLAB] = "slab", [FAULT_PAGE] = "page", [FAULT_USERCOPY] = "usercopy",
};

/* A debugfs knob the test changed, with the value to put back. */
struct knob {
	char path[128];
	char old[64];
};

#define MAX_KNOBS		32

struct injector {
	bool present[FAULT_KINDS];
	struct knob knobs[MAX_KNOBS];
	int nknobs;
	int make_it_fail;	/* /proc/thread-self/make-it-fail */
	int fail_nth;		/* /proc/thread-self/fail-nth */
	/* Faults that hit the test's own writes to those two files. */
	unsigned long housekeeping;
};

static bool write_text(const char *path, const char *val)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return false;
	n = write(fd, val, strlen(val));
	close(fd);
	return n == (ssize_t)strlen(val);
}

/* Set @dir/@name to @val, remembering the old value for knobs_restore(). */
static bool knob_set(struct injector *inj, const char *dir, const char *name,
		     const char *val)
{
	struct knob *k = &inj->knobs[inj->nknobs];

	if (inj->nknobs == MAX_KNOBS)
		return false;
	snprintf(k->path, sizeof(k->path), "%s/%s", dir, name);
	if (read_text_file(k->path, k->old, sizeof(k->old)) <= 0)
		return false;
	k->old[strcspn(k->old, "\n")] = '\0';
	if (!write_text(k->path, val))
		return false;
	inj->nknobs++;
	return true;
}

/* Put every knob back, last changed first. */
static void knobs_restore(struct injector *inj)
{
	while (inj->nknobs > 0) {
		struct knob *k = &inj->knobs[--inj->nknobs];

		if (!write_text(k->path, k->old))
			ksft_print_msg("could not restore %s to %s\n", k->path, k->old);
	}
}

/*
 * Aim one kind of fault at tasks with make-it-fail set, silently (a
 * verbose fault prints a stack dump the bench counts as a kernel bug), and
 * at every allocation: by default failslab and fail_page_alloc ignore the
 * sleeping GFP_KERNEL allocations the driver makes, fail_page_alloc also
 * highmem (shmem's pages) and order 0. Probability 0 until a phase sets it.
 */
static bool fault_configure(struct injector *inj, enum fault_kind kind)
{
	const char *dir = fault_dir[kind];
	char times[32];
	bool ok;

	snprintf(times, sizeof(times), "%ld", TIMES_START);
	ok = knob_set(inj, dir, "task-filter", "Y") &&
	     knob_set(inj, dir, "verbose", "0") &&
	     knob_set(inj, dir, "probability", "0") &&
	     knob_set(inj, dir, "interval", "1") &&
	     knob_set(inj, dir, "space", "0") &&
	     knob_set(inj, dir, "times", times);
	if (ok && kind == FAULT_SLAB)
		ok = knob_set(inj, dir, "ignore-gfp-wait", "N") &&
		     knob_set(inj, dir, "cache-filter", "N");
	if (ok && kind == FAULT_PAGE)
		ok = knob_set(inj, dir, "ignore-gfp-wait", "N") &&
		     knob_set(inj, dir, "ignore-gfp-highmem", "N") &&
		     knob_set(inj, dir, "min-order", "0");
	return ok;
}

static bool fault_set_probability(struct injector *inj, unsigned int percent)
{
	char path[128], val[16];
	int kind;

	snprintf(val, sizeof(val), "%u", percent);
	for (kind = 0; kind < FAULT_KINDS; kind++) {
		if (!inj->present[kind])
			continue;
		snprintf(path, sizeof(path), "%s/probability", fault_dir[kind]);
		if (!write_text(path, val))
			return false;
	}
	return true;
}

/* Faults of @kind injected since fault_configure(), from the times knob. */
static long faults_of_kind(const struct injector *inj, enum fault_kind kind)
{
	char path[128], val[32];

	if (!inj->present[kind])
		return 0;
	snprintf(path, sizeof(path), "%s/times", fault_dir[kind]);
	if (read_text_file(path, val, sizeof(val)) <= 0)
		return -1;
	return TIMES_START - strtol(val, NULL, 10);
}

static long faults_total(const struct injector *inj)
{
	long sum = 0;
	int kind;

	for (kind = 0; kind < FAULT_KINDS; kind++)
		sum += faults_of_kind(inj, kind);
	return sum;
}

static int task_ctl_read(int fd)
{
	char buf[32];
	ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);

	if (n <= 0)
		return -1;
	buf[n] = '\0';
	return atoi(buf);
}

/*
 * Write @val to make-it-fail or fail-nth. The buffer is copied from user
 * memory, and that copy, or the read back, can take an injected fault
 * itself while faults are on: retry until the value reads back.
 */
static bool task_ctl_set(struct injector *inj, int fd, int val)
{
	char buf[16];
	int i;

	snprintf(buf, sizeof(buf), "%d", val);
	for (i = 0; i < 1000; i++) {
		int got;

		if (pwrite(fd, buf, strlen(buf), 0) < 0 && errno == EFAULT)
			inj->housekeeping++;
		errno = 0;
		got = task_ctl_read(fd);
		if (got == val)
			return true;
		if (got < 0 && errno == EFAULT)
			inj->housekeeping++;
	}
	return false;
}

/* Faults are off while this write runs: no need to read it back. */
static bool inject_on(struct injector *inj)
{
	return pwrite(inj->make_it_fail, "1", 1, 0) == 1;
}

static bool inject_off(struct injector *inj)
{
	return task_ctl_set(inj, inj->make_it_fail, 0);
}

/* Fail the @k-th fault point this task reaches from now on. */
static bool nth_arm(struct injector *inj, unsigned int k)
{
	char buf[16];

	snprintf(buf, sizeof(buf), "%u", k);
	return pwrite(inj->fail_nth, buf, strlen(buf), 0) == (ssize_t)strlen(buf);
}

/*
 * Whether the fault nth_arm() armed was injected: 1, 0, or -1 if fail-nth
 * cannot be read; leaves fail-nth disarmed. fail-nth reads 0 once its
 * fault was injected. The read is a user copy that counts as a point
 * itself: if it fails with EFAULT, the armed fault was that copy, one past
 * the operation's last point.
 */
static int nth_fired(struct injector *inj)
{
	char buf[32];
	ssize_t n = pread(inj->fail_nth, buf, sizeof(buf) - 1, 0);

	if (n < 0) {
		if (errno != EFAULT)
			return -1;
		inj->housekeeping++;
		return 0;
	}
	buf[n] = '\0';
	if (atoi(buf) == 0)
		return 1;
	return task_ctl_set(inj, inj->fail_nth, 0) ? 0 : -1;
}

static void injector_close(struct injector *inj)
{
	if (inj->make_it_fail >= 0) {
		inject_off(inj);
		close(inj->make_it_fail);
	}
	if (inj->fail_nth >= 0) {
		task_ctl_set(inj, inj->fail_nth, 0);
		close(inj->fail_nth);
	}
	inj->make_it_fail = -1;
	inj->fail_nth = -1;
	knobs_restore(inj);
}

/* ================================================================ model */

/*
 * A region and what it must look like. Pages are tagged with a pattern
 * while pinned; a tagged page keeps its tag through an unpin only if the
 * PIN that ends it says NOT_PURGED. @purged marks pages a purge certainly
 * hit: a PIN over one of them must say WAS_PURGED.
 */
struct region {
	int fd;
	size_t size;
	char name[ASHMEM_NAME_LEN];
	int prot;
	bool backed;
	uint8_t *map;		/* shared, whole region, from the first mmap */
	unsigned long file_id;
	bool unpinned[REGION_PAGES];
	bool purged[REGION_PAGES];
	bool tagged[REGION_PAGES];
	uint8_t seed;
	const char *last_op;
};

static void region_reset(struct region *r)
{
	memset(r, 0, sizeof(*r));
	r->fd = -1;
	r->last_op = "nothing";
}

static size_t region_pages(const struct region *r)
{
	return (r->size + page_size() - 1) / page_size();
}

static size_t region_len(const struct region *r)
{
	return region_pages(r) * page_size();
}

/* The new region open() gives. */
static void region_opened(struct region *r, int fd)
{
	region_reset(r);
	r->fd = fd;
	r->prot = ASHMEM_PROT_ALL;
	strcpy(r->name, ASHMEM_NAME_DEF);
	r->seed = (uint8_t)fd * 37;
}

static void region_unmap(struct region *r)
{
	if (r->map)
		munmap(r->map, region_len(r));
	r->map = NULL;
}

/* The file of a region can always be closed, and close() says so. */
static void region_close(struct __test_metadata *_metadata, struct region *r)
{
	int fd = r->fd;

	region_unmap(r);
	region_reset(r);
	if (fd < 0)
		return;
	ASSERT_EQ(0, close(fd)) {
		TH_LOG("close() of a region must work, but failed with %s",
		       errname(errno));
	}
}

/* Tag pinned pages whose contents are unknown, so later checks cover them. */
static void region_tag(struct region *r)
{
	size_t page = page_size(), i;

	for (i = 0; i < region_pages(r); i++) {
		if (r->unpinned[i] || r->tagged[i])
			continue;
		fill_pattern(r->map + i * page, i * page, page, r->seed);
		r->tagged[i] = true;
	}
}

static void region_check_pages(struct __test_metadata *_metadata,
			       struct region *r)
{
	size_t page = page_size(), i;

	for (i = 0; i < region_pages(r); i++) {
		int want = r->unpinned[i] ? ASHMEM_IS_UNPINNED : ASHMEM_IS_PINNED;
		int got = ashmem_pin_ioctl(r->fd, ASHMEM_GET_PIN_STATUS,
					   i * page, page);

		ASSERT_EQ(want, got) {
			TH_LOG("after %s, page %zu must be %s (GET_PIN_STATUS: %d, %s)",
			       r->last_op, i, want ? "pinned" : "unpinned", got,
			       errname(errno));
			TH_LOG("a failed PIN leaves pages unpinned, a failed UNPIN pinned");
		}
		if (r->unpinned[i] || !r->tagged[i])
			continue;
		assert_pattern(_metadata, r->map + i * page, i * page, page,
			       r->seed, "pinned pages keep their data through failed calls");
	}
}

/* With injection off: the region is what the model says it is. */
static void region_check(struct __test_metadata *_metadata, struct region *r)
{
	unsigned long id = 0;
	char name[ASHMEM_NAME_LEN];
	int ret;

	if (r->fd < 0)
		return;
	ashmem_assert_size(_metadata, r->fd, r->size);
	memset(name, 0, sizeof(name));
	ashmem_ioctl_ok(_metadata, r->fd, ASHMEM_GET_NAME, (unsigned long)name,
			"ASHMEM_GET_NAME");
	ASSERT_STREQ(r->name, name) {
		TH_LOG("after %s the name must be the last set: a failed SET_NAME keeps it",
		       r->last_op);
	}
	ashmem_assert_prot_mask(_metadata, r->fd, r->prot);
	ret = ioctl(r->fd, ASHMEM_GET_FILE_ID, &id);
	ASSERT_EQ(r->backed ? 0 : -1, ret) {
		TH_LOG("after %s GET_FILE_ID gave %d (%s): the region must%s have a backing file",
		       r->last_op, ret, errname(errno), r->backed ? "" : " not");
	}
	if (!r->backed)
		return;
	ASSERT_EQ(r->file_id, id) {
		TH_LOG("after %s the backing file changed", r->last_op);
	}
	region_check_pages(_metadata, r);
	region_tag(r);
}

/* ======================================================== the operations */

/* One system call under test: its arguments and what it returned. */
struct call {
	uint32_t first;		/* pin range: first page */
	uint32_t pages;		/* and page count, 0 for "to the end" */
	size_t size;
	char name[64];
	int prot;
	int whence;
	int flags;		/* of a second mmap: MAP_SHARED or MAP_PRIVATE */
	off_t off;
	void *addr;
	long ret;
	int err;
};

#define MAY_ENOMEM		(1u << 0)
#define MAY_EFAULT		(1u << 1)

/**
 * struct op - an operation the test injects faults into
 * @name: for the log
 * @may: the errnos a failed allocation (ENOMEM) or user copy (EFAULT) in
 *	it may return; any other failure breaks a rule
 * @prepare: systematic phase: build the starting state and the arguments
 * @pick: random phase: arguments for @r, or false if @r's state does not
 *	suit the operation
 * @call: the system call alone, with faults on; fills ret and err
 * @settle: with faults off: check the result, update the model
 */
struct op {
	const char *name;
	unsigned int may;
	void (*prepare)(struct __test_metadata *_metadata, struct region *r,
			struct call *c);
	bool (*pick)(const struct region *r, struct call *c);
	void (*call)(struct region *r, struct call *c);
	void (*settle)(struct __test_metadata *_metadata, struct region *r,
		       struct call *c);
};

static uint64_t rng_state;

static uint32_t rnd(uint32_t n)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return n ? (uint32_t)(rng_state % n) : 0;
}

static void call_result(struct call *c, long ret)
{
	c->ret = ret;
	c->err = ret < 0 ? errno : 0;
}

/* ---------------------------------------------- states to start from */

static void start_open(struct __test_metadata *_metadata, struct region *r)
{
	region_opened(r, ashmem_assert_open(_metadata));
	ashmem_assert_set_name(_metadata, r->fd, "fault-before");
	strcpy(r->name, "fault-before");
	ashmem_assert_set_size(_metadata, r->fd, REGION_PAGES * page_size());
	r->size = REGION_PAGES * page_size();
}

static void start_mapped(struct __test_metadata *_metadata, struct region *r)
{
	start_open(_metadata, r);
	r->map = ashmem_assert_mmap(_metadata, r->fd, region_len(r),
				    PROT_READ | PROT_WRITE, MAP_SHARED, 0);
	r->backed = true;
	ashmem_ioctl_ok(_metadata, r->fd, ASHMEM_GET_FILE_ID,
			(unsigned long)&r->file_id, "ASHMEM_GET_FILE_ID");
	region_tag(r);
}

static void model_unpin(struct region *r, uint32_t first, uint32_t pages)
{
	uint32_t i;

	for (i = first; i < first + pages; i++)
		r->unpinned[i] = true;
}

static void start_unpinned(struct __test_metadata *_metadata, struct region *r,
			   uint32_t first, uint32_t pages)
{
	ashmem_assert_unpin(_metadata, r->fd, first * page_size(),
			    pages * page_size());
	model_unpin(r, first, pages);
}

/* A random page range of @r, sometimes "to the end" (len 0). */
static bool pick_range(const struct region *r, struct call *c)
{
	uint32_t pages = region_pages(r);

	if (!r->backed || !pages)
		return false;
	c->first = rnd(pages);
	c->pages = rnd(4) ? 1 + rnd(pages - c->first) : 0;
	return true;
}

static void range_bounds(const struct region *r, const struct call *c,
			 uint32_t *lo, uint32_t *end)
{
	*lo = c->first;
	*end = c->pages ? c->first + c->pages : region_pages(r);
}

/* --------------------------------------------------------------- open */

static void open_prepare(struct __test_metadata *_metadata, struct region *r,
			 struct call *c)
{
}

static bool open_pick(const struct region *r, struct call *c)
{
	return r->fd < 0;
}

static void open_call(struct region *r, struct call *c)
{
	call_result(c, open(ASHMEM_DEV, O_RDWR | O_CLOEXEC));
}

static void open_settle(struct __test_metadata *_metadata, struct region *r,
			struct call *c)
{
	if (c->ret >= 0)
		region_opened(r, c->ret);
}

/* -------------------------------------------------------------- close */

static void close_prepare(struct __test_metadata *_metadata, struct region *r,
			  struct call *c)
{
	start_mapped(_metadata, r);
	start_unpinned(_metadata, r, 1, 3);
}

static bool close_pick(const struct region *r, struct call *c)
{
	return r->fd >= 0 && !rnd(4);
}

static void close_call(struct region *r, struct call *c)
{
	call_result(c, close(r->fd));
}

/* close() never fails (op.may is 0); the region is gone either way. */
static void close_settle(struct __test_metadata *_metadata, struct region *r,
			 struct call *c)
{
	region_unmap(r);
	region_reset(r);
}

/* ----------------------------------------------------------- SET_NAME */

static void set_name_prepare(struct __test_metadata *_metadata,
			     struct region *r, struct call *c)
{
	start_open(_metadata, r);
	strcpy(c->name, "fault-after");
}

static bool set_name_pick(const struct region *r, struct call *c)
{
	if (r->fd < 0 || r->backed)
		return false;
	snprintf(c->name, sizeof(c->name), "fault-%u", rnd(1000000));
	return true;
}

static void set_name_call(struct region *r, struct call *c)
{
	call_result(c, ioctl(r->fd, ASHMEM_SET_NAME, c->name));
}

static void set_name_settle(struct __test_metadata *_metadata,
			    struct region *r, struct call *c)
{
	if (c->ret >= 0)
		strcpy(r->name, c->name);
}

/* ----------------------------------------------------------- SET_SIZE */

static void set_size_prepare(struct __test_metadata *_metadata,
			     struct region *r, struct call *c)
{
	start_open(_metadata, r);
	c->size = 3 * page_size();
}

/* Sometimes not page-aligned, as libcutils asks. */
static bool set_size_pick(const struct region *r, struct call *c)
{
	if (r->fd < 0 || r->backed)
		return false;
	c->size = (1 + rnd(REGION_PAGES)) * page_size() - rnd(2) * rnd(page_size());
	return true;
}

static void set_size_call(struct region *r, struct call *c)
{
	call_result(c, ioctl(r->fd, ASHMEM_SET_SIZE, c->size));
}

static void set_size_settle(struct __test_metadata *_metadata,
			    struct region *r, struct call *c)
{
	if (c->ret >= 0)
		r->size = c->size;
}

/* ------------------------------------------------------ SET_PROT_MASK */

static void set_prot_prepare(struct __test_metadata *_metadata,
			     struct region *r, struct call *c)
{
	start_open(_metadata, r);
	c->prot = PROT_READ | PROT_WRITE;
}

/* Read and write stay: the test maps every region shared and writable. */
static bool set_prot_pick(const struct region *r, struct call *c)
{
	if (r->fd < 0)
		return false;
	c->prot = rnd(2) ? r->prot : (r->prot & ~PROT_EXEC);
	return true;
}

static void set_prot_call(struct region *r, struct call *c)
{
	call_result(c, ioctl(r->fd, ASHMEM_SET_PROT_MASK, (unsigned long)c->prot));
}

/* READ_IMPLIES_EXEC keeps PROT_EXEC with PROT_READ while the mask has it. */
static void set_prot_settle(struct __test_metadata *_metadata,
			    struct region *r, struct call *c)
{
	if (c->ret < 0)
		return;
	if ((personality(0xffffffff) & READ_IMPLIES_EXEC) && (c->prot & PROT_READ))
		c->prot |= r->prot & PROT_EXEC;
	r->prot = c->prot;
}

/* ---------------------------------------------------------- first mmap */

static void map_first_prepare(struct __test_metadata *_metadata,
			      struct region *r, struct call *c)
{
	start_open(_metadata, r);
}

static bool map_first_pick(const struct region *r, struct call *c)
{
	return r->fd >= 0 && !r->backed && r->size;
}

static void map_call(struct region *r, struct call *c)
{
	c->addr = mmap(NULL, region_len(r), PROT_READ | PROT_WRITE,
		       c->flags ?: MAP_SHARED, r->fd, 0);
	call_result(c, c->addr == MAP_FAILED ? -1 : 0);
}

/*
 * A failed first mmap() may or may not have left a backing file behind;
 * either way a retry must work, and the new backing file reads as zeros.
 */
static void map_first_settle(struct __test_metadata *_metadata,
			     struct region *r, struct call *c)
{
	if (c->ret < 0)
		c->addr = ashmem_assert_mmap(_metadata, r->fd, region_len(r),
					     PROT_READ | PROT_WRITE, MAP_SHARED, 0);
	r->map = c->addr;
	r->backed = true;
	assert_zeros(_metadata, r->map, 0, region_len(r),
		     "a region's first mapping reads as zeros");
	ashmem_ioctl_ok(_metadata, r->fd, ASHMEM_GET_FILE_ID,
			(unsigned long)&r->file_id, "ASHMEM_GET_FILE_ID");
}

/* --------------------------------------------------------- second mmap */

static void map_again_prepare(struct __test_metadata *_metadata,
			      struct region *r, struct call *c)
{
	start_mapped(_metadata, r);
}

/* Sometimes private: the driver's other path, which maps no shmem pages. */
static bool map_again_pick(const struct region *r, struct call *c)
{
	c->flags = rnd(4) ? MAP_SHARED : MAP_PRIVATE;
	return r->backed;
}

/* Another shared view of the region, after a retry if need be, shows its data. */
static void map_again_settle(struct __test_metadata *_metadata,
			     struct region *r, struct call *c)
{
	size_t page = page_size(), i;

	if (c->ret < 0)
		c->addr = ashmem_assert_mmap(_metadata, r->fd, region_len(r),
					     PROT_READ | PROT_WRITE,
					     c->flags ?: MAP_SHARED, 0);
	for (i = 0; i < region_pages(r) && c->flags != MAP_PRIVATE; i++) {
		if (r->unpinned[i] || !r->tagged[i])
			continue;
		assert_pattern(_metadata, (uint8_t *)c->addr + i * page, i * page,
			       page, r->seed, "a second mapping shows the region's data");
	}
	munmap(c->addr, region_len(r));
}

/* -------------------------------------------------------------- UNPIN */

static void unpin_prepare(struct __test_metadata *_metadata, struct region *r,
			  struct call *c)
{
	start_mapped(_metadata, r);
	c->first = 2;
	c->pages = 4;
}

static void pin_cmd_call(struct region *r, struct call *c, unsigned long cmd)
{
	call_result(c, ashmem_pin_ioctl(r->fd, cmd, c->first * page_size(),
					c->pages * page_size()));
}

static void unpin_call(struct region *r, struct call *c)
{
	pin_cmd_call(r, c, ASHMEM_UNPIN);
}

static void unpin_settle(struct __test_metadata *_metadata, struct region *r,
			 struct call *c)
{
	uint32_t lo, end;

	if (c->ret < 0)
		return;
	ASSERT_EQ(0, c->ret) {
		TH_LOG("UNPIN must return 0, returned %ld", c->ret);
	}
	range_bounds(r, c, &lo, &end);
	model_unpin(r, lo, end - lo);
}

/* ---------------------------------------------------------------- PIN */

/* The driver must split the range: the spare is allocated on a retry. */
/*
 * An UNPIN that extends an unpinned range, and one on a region that pinned
 * a range again before, reuse a range the region already has: they must
 * not fail for want of memory (see the "UNPIN (...)" entries of ops[]).
 */
static void unpin_merging_prepare(struct __test_metadata *_metadata,
				  struct region *r, struct call *c)
{
	start_mapped(_metadata, r);
	start_unpinned(_metadata, r, 1, 2);
	c->first = 3;
	c->pages = 2;
}

static void unpin_after_pin_prepare(struct __test_metadata *_metadata,
				    struct region *r, struct call *c)
{
	start_mapped(_metadata, r);
	start_unpinned(_metadata, r, 1, 1);
	ASSERT_EQ(ASHMEM_NOT_PURGED,
		  ashmem_pin_ioctl(r->fd, ASHMEM_PIN, page_size(), page_size()));
	r->unpinned[1] = false;
	c->first = 5;
	c->pages = 1;
}

static void pin_split_prepare(struct __test_metadata *_metadata,
			      struct region *r, struct call *c)
{
	start_mapped(_metadata, r);
	start_unpinned(_metadata, r, 0, REGION_PAGES);
	c->first = 3;
	c->pages = 2;
}

static void pin_whole_prepare(struct __test_metadata *_metadata,
			      struct region *r, struct call *c)
{
	start_mapped(_metadata, r);
	start_unpinned(_metadata, r, 1, 2);
	start_unpinned(_metadata, r, 5, 2);
	c->first = 0;
	c->pages = 0;
}

static void pin_call(struct region *r, struct call *c)
{
	pin_cmd_call(r, c, ASHMEM_PIN);
}

/*
 * A PIN over a page a purge hit must say WAS_PURGED; after NOT_PURGED the
 * pages kept their data, after WAS_PURGED it is undefined.
 */
static void pin_settle(struct __test_metadata *_metadata, struct region *r,
		       struct call *c)
{
	bool purged = false;
	uint32_t lo, end, i;

	if (c->ret < 0)
		return;
	range_bounds(r, c, &lo, &end);
	for (i = lo; i < end; i++)
		purged |= r->purged[i];
	ASSERT_TRUE(c->ret == ASHMEM_NOT_PURGED || c->ret == ASHMEM_WAS_PURGED) {
		TH_LOG("PIN must return NOT_PURGED or WAS_PURGED, returned %ld", c->ret);
	}
	ASSERT_TRUE(!purged || c->ret == ASHMEM_WAS_PURGED) {
		TH_LOG("PIN over purged pages must return WAS_PURGED");
	}
	for (i = lo; i < end; i++) {
		if (r->unpinned[i] && c->ret == ASHMEM_WAS_PURGED)
			r->tagged[i] = false;
		r->unpinned[i] = false;
		r->purged[i] = false;
	}
}

/* ----------------------------------------------------- GET_PIN_STATUS */

static void status_prepare(struct __test_metadata *_metadata, struct region *r,
			   struct call *c)
{
	start_mapped(_metadata, r);
	start_unpinned(_metadata, r, 2, 1);
	c->first = 0;
	c->pages = 0;
}

static void status_call(struct region *r, struct call *c)
{
	pin_cmd_call(r, c, ASHMEM_GET_PIN_STATUS);
}

static void status_settle(struct __test_metadata *_metadata, struct region *r,
			  struct call *c)
{
	bool unpinned = false;
	uint32_t lo, end, i;

	if (c->ret < 0)
		return;
	range_bounds(r, c, &lo, &end);
	for (i = lo; i < end; i++)
		unpinned |= r->unpinned[i];
	ASSERT_EQ(unpinned ? ASHMEM_IS_UNPINNED : ASHMEM_IS_PINNED, c->ret) {
		TH_LOG("GET_PIN_STATUS {page %u, %u pages} must say %s",
		       c->first, c->pages, unpinned ? "IS_UNPINNED" : "IS_PINNED");
	}
}

/* --------------------------------------------------- PURGE_ALL_CACHES */

static void purge_prepare(struct __test_metadata *_metadata, struct region *r,
			  struct call *c)
{
	start_mapped(_metadata, r);
	start_unpinned(_metadata, r, 2, 4);
}

/* Rarely: it purges every region on the system. */
static bool purge_pick(const struct region *r, struct call *c)
{
	return r->backed && !rnd(8);
}

static void purge_call(struct region *r, struct call *c)
{
	call_result(c, ioctl(r->fd, ASHMEM_PURGE_ALL_CACHES, 0));
}

/* Every unpinned range of @r is purged, even if punching its hole failed. */
static void purge_settle(struct __test_metadata *_metadata, struct region *r,
			 struct call *c)
{
	size_t i;

	if (c->ret < 0)
		return;
	for (i = 0; i < region_pages(r); i++)
		r->purged[i] |= r->unpinned[i];
}

/* ----------------------------------------------------------- GET_NAME */

static void get_name_prepare(struct __test_metadata *_metadata,
			     struct region *r, struct call *c)
{
	start_open(_metadata, r);
}

static bool get_name_pick(const struct region *r, struct call *c)
{
	return r->fd >= 0;
}

static void get_name_call(struct region *r, struct call *c)
{
	call_result(c, ioctl(r->fd, ASHMEM_GET_NAME, c->addr));
}

static char name_buf[ASHMEM_NAME_LEN];

static void get_name_prepare_buf(struct __test_metadata *_metadata,
				 struct region *r, struct call *c)
{
	get_name_prepare(_metadata, r, c);
	memset(name_buf, 0, sizeof(name_buf));
	c->addr = name_buf;
}

static bool get_name_pick_buf(const struct region *r, struct call *c)
{
	memset(name_buf, 0, sizeof(name_buf));
	c->addr = name_buf;
	return get_name_pick(r, c);
}

static void get_name_settle(struct __test_metadata *_metadata,
			    struct region *r, struct call *c)
{
	if (c->ret < 0)
		return;
	ASSERT_STREQ(r->name, name_buf) {
		TH_LOG("GET_NAME must return the region's name");
	}
}

/* -------------------------------------------------------- GET_FILE_ID */

static unsigned long file_id_buf;

static void file_id_prepare(struct __test_metadata *_metadata,
			    struct region *r, struct call *c)
{
	start_mapped(_metadata, r);
	file_id_buf = 0;
}

static bool file_id_pick(const struct region *r, struct call *c)
{
	file_id_buf = 0;
	return r->backed;
}

static void file_id_call(struct region *r, struct call *c)
{
	call_result(c, ioctl(r->fd, ASHMEM_GET_FILE_ID, &file_id_buf));
}

static void file_id_settle(struct __test_metadata *_metadata,
			   struct region *r, struct call *c)
{
	if (c->ret < 0)
		return;
	ASSERT_EQ(r->file_id, file_id_buf) {
		TH_LOG("GET_FILE_ID must give the backing file's inode");
	}
}

/* --------------------------------------------------------------- read */

/* Touched before each read: a fault on it would fail inside the copy. */
static uint8_t read_buf[REGION_PAGES * MAX_PAGE];

static void read_prepare(struct __test_metadata *_metadata, struct region *r,
			 struct call *c)
{
	start_mapped(_metadata, r);
	c->off = 0;
	c->size = region_len(r);
	memset(read_buf, 0, sizeof(read_buf));
}

static bool read_pick(const struct region *r, struct call *c)
{
	if (!r->backed || !(r->prot & PROT_READ))
		return false;
	c->off = rnd(region_pages(r)) * page_size();
	c->size = 1 + rnd(region_len(r) - c->off);
	memset(read_buf, 0, c->size);
	return true;
}

static void read_call(struct region *r, struct call *c)
{
	call_result(c, pread(r->fd, read_buf, c->size, c->off));
}

/* A read cut short by a failed copy still returned the region's bytes. */
static void read_settle(struct __test_metadata *_metadata, struct region *r,
			struct call *c)
{
	size_t page = page_size(), done, n;

	if (c->ret < 0)
		return;
	ASSERT_GE((long)c->size, c->ret);
	for (done = 0; done < (size_t)c->ret; done += n) {
		size_t off = c->off + done, i = off / page;

		n = page - off % page;
		if (n > c->ret - done)
			n = c->ret - done;
		if (r->unpinned[i] || !r->tagged[i])
			continue;
		assert_pattern(_metadata, read_buf + done, off, n, r->seed,
			       "read() returns the region's data");
	}
}

/* -------------------------------------------------------------- lseek */

static void lseek_prepare(struct __test_metadata *_metadata, struct region *r,
			  struct call *c)
{
	start_mapped(_metadata, r);
	c->whence = SEEK_END;
	c->off = 0;
}

static bool lseek_pick(const struct region *r, struct call *c)
{
	if (!r->backed)
		return false;
	c->whence = rnd(2) ? SEEK_SET : SEEK_END;
	c->off = c->whence == SEEK_SET ? (off_t)rnd(r->size) : 0;
	return true;
}

static void lseek_call(struct region *r, struct call *c)
{
	call_result(c, lseek(r->fd, c->off, c->whence));
}

static void lseek_settle(struct __test_metadata *_metadata, struct region *r,
			 struct call *c)
{
	long want = c->whence == SEEK_SET ? (long)c->off : (long)r->size;

	if (c->ret < 0)
		return;
	ASSERT_EQ(want, c->ret) {
		TH_LOG("lseek(%ld, %s) must seek within the region's size",
		       (long)c->off, c->whence == SEEK_SET ? "SEEK_SET" : "SEEK_END");
	}
}

/* ----------------------------------------------------------- the table */

static const struct op fault_ops[] = {
	{ "open", MAY_ENOMEM | MAY_EFAULT, open_prepare, open_pick,
	  open_call, open_settle },
	{ "SET_NAME", MAY_ENOMEM | MAY_EFAULT, set_name_prepare, set_name_pick,
	  set_name_call, set_name_settle },
	{ "SET_SIZE", MAY_ENOMEM, set_size_prepare, set_size_pick,
	  set_size_call, set_size_settle },
	{ "SET_PROT_MASK", MAY_ENOMEM, set_prot_prepare, set_prot_pick,
	  set_prot_call, set_prot_settle },
	{ "first mmap", MAY_ENOMEM, map_first_prepare, map_first_pick,
	  map_call, map_first_settle },
	{ "second mmap", MAY_ENOMEM, map_again_prepare, map_again_pick,
	  map_call, map_again_settle },
	{ "UNPIN", MAY_ENOMEM | MAY_EFAULT, unpin_prepare, pick_range,
	  unpin_call, unpin_settle },
	{ "UNPIN (merging)", MAY_EFAULT, unpin_merging_prepare, NULL,
	  unpin_call, unpin_settle },
	{ "UNPIN (after a pin)", MAY_EFAULT, unpin_after_pin_prepare, NULL,
	  unpin_call, unpin_settle },
	{ "PIN (split)", MAY_ENOMEM | MAY_EFAULT, pin_split_prepare, pick_range,
	  pin_call, pin_settle },
	{ "PIN (whole)", MAY_ENOMEM | MAY_EFAULT, pin_whole_prepare, NULL,
	  pin_call, pin_settle },
	{ "GET_PIN_STATUS", MAY_ENOMEM | MAY_EFAULT, status_prepare, pick_range,
	  status_call, status_settle },
	{ "PURGE_ALL_CACHES", MAY_ENOMEM, purge_prepare, purge_pick,
	  purge_call, purge_settle },
	{ "GET_NAME", MAY_ENOMEM | MAY_EFAULT, get_name_prepare_buf,
	  get_name_pick_buf, get_name_call, get_name_settle },
	{ "GET_FILE_ID", MAY_ENOMEM | MAY_EFAULT, file_id_prepare, file_id_pick,
	  file_id_call, file_id_settle },
	{ "read", MAY_ENOMEM | MAY_EFAULT, read_prepare, read_pick,
	  read_call, read_settle },
	/* A 32-bit lseek() is _llseek, which copies the new offset out. */
	{ "lseek", MAY_ENOMEM | MAY_EFAULT, lseek_prepare, lseek_pick,
	  lseek_call, lseek_settle },
	{ "close", 0, close_prepare, close_pick, close_call, close_settle },
};

#define NR_OPS		(sizeof(fault_ops) / sizeof(fault_ops[0]))

/* ============================================================= kmemleak */

static bool kmemleak_cmd(const char *cmd)
{
	return write_text(KMEMLEAK, cmd);
}

#define LEAK_HEAD		"unreferenced object "

static char leak_report[65536];

/* The next report block at or after @p, or NULL. */
static char *leak_next(char *p)
{
	return strstr(p, LEAK_HEAD);
}

/* The task that allocated the object of report block @p, or -1. */
static int leak_pid(const char *p)
{
	const char *pid = strstr(p, ", pid ");

	return pid ? atoi(pid + strlen(", pid ")) : -1;
}

/* One report block, [@p, @end), a "# " line for each of its lines. */
static void leak_print(const char *p, const char *end)
{
	const char *eol;

	for (; p < end; p = eol + 1) {
		eol = memchr(p, '\n', end - p);
		if (!eol)
			eol = end;
		ksft_print_msg("kmemleak: %.*s\n", (int)(eol - p), p);
	}
}

/*
 * kmemleak reports an object unreferenced and unchanged through two scans
 * and older than 5 s: scan, wait, scan, so the last calls' leaks show.
 * Only objects this process allocated count: an earlier test's last leaks
 * may only show now, and the run's own kmemleak check reports those. The
 * report is read, never cleared, so that check still sees everything.
 */
static void kmemleak_check(struct __test_metadata *_metadata)
{
	int leaks = 0, others = 0;
	char *p, *next;

	ASSERT_TRUE(kmemleak_cmd("scan"));
	sleep(6);
	ASSERT_TRUE(kmemleak_cmd("scan"));
	ASSERT_LE(0, read_text_file(KMEMLEAK, leak_report, sizeof(leak_report)));
	for (p = leak_next(leak_report); p; p = next) {
		next = leak_next(p + 1);
		if (leak_pid(p) != getpid()) {
			others++;
			continue;
		}
		leaks++;
		leak_print(p, next ? next : p + strlen(p));
	}
	if (others)
		ksft_print_msg("kmemleak: %d leak(s) of other tasks, left to the run's check\n",
			       others);
	ASSERT_EQ(0, leaks) {
		TH_LOG("kmemleak must find no leak after the fault paths (%d found)",
		       leaks);
	}
}

/* ============================================================== the test */

struct figures {
	unsigned long ops;
	unsigned long enomem;
	unsigned long efault;
	unsigned long sites;
	unsigned long site_kind[FAULT_KINDS];
};

FIXTURE(fault) {
	struct injector inj;
	struct figures fig;
	double start;
	bool kmemleak;
};

static void fault_setup_fail(struct __test_metadata *_metadata,
			     struct injector *inj, const char *what)
{
	int err = errno;

	injector_close(inj);
	ASSERT_TRUE(false) {
		TH_LOG("cannot set up fault injection: %s (%s)", what, errname(err));
	}
}

FIXTURE_SETUP(fault)
{
	struct injector *inj = &self->inj;
	int kind;

	memset(self, 0, sizeof(*self));
	inj->make_it_fail = -1;
	inj->fail_nth = -1;
	if (access(fault_dir[FAULT_SLAB], F_OK) || access(fault_dir[FAULT_PAGE], F_OK))
		SKIP(return, "kernel without fault injection: no %s or %s",
		     fault_dir[FAULT_SLAB], fault_dir[FAULT_PAGE]);
	if (geteuid())
		SKIP(return, "fault injection is set up through debugfs: needs root");
	if (access(ASHMEM_DEV, R_OK | W_OK))
		SKIP(return, "no %s: is ashmem_linux loaded?", ASHMEM_DEV);

	inj->make_it_fail = open("/proc/thread-self/make-it-fail", O_RDWR | O_CLOEXEC);
	inj->fail_nth = open("/proc/thread-self/fail-nth", O_RDWR | O_CLOEXEC);
	if (inj->make_it_fail < 0 || inj->fail_nth < 0) {
		fault_setup_fail(_metadata, inj,
				 "/proc/thread-self/{make-it-fail,fail-nth}");
		return;
	}
	for (kind = 0; kind < FAULT_KINDS; kind++) {
		inj->present[kind] = !access(fault_dir[kind], F_OK);
		if (inj->present[kind] && !fault_configure(inj, kind)) {
			fault_setup_fail(_metadata, inj, fault_dir[kind]);
			return;
		}
	}
	if (!inj->present[FAULT_USERCOPY])
		ksft_print_msg("no %s: user copies will not fail\n",
			       fault_dir[FAULT_USERCOPY]);
	self->kmemleak = !access(KMEMLEAK, W_OK);
	if (!self->kmemleak)
		ksft_print_msg("no kmemleak: leaks on the fault paths go unchecked\n");
	rng_state = (uint64_t)time(NULL) * 2654435761u + getpid();
	ksft_print_msg("random seed %llu\n", (unsigned long long)rng_state);
	self->start = monotonic_seconds();
}

FIXTURE_TEARDOWN(fault)
{
	injector_close(&self->inj);
}

/* The result of a call with faults in it: success, or a clean failure. */
static void judge(struct __test_metadata *_metadata, FIXTURE_DATA(fault) *self,
		  const struct op *op, struct region *r, struct call *c)
{
	self->fig.ops++;
	if (c->ret < 0) {
		bool clean = (c->err == ENOMEM && (op->may & MAY_ENOMEM)) ||
			     (c->err == EFAULT && (op->may & MAY_EFAULT));

		ASSERT_TRUE(clean) {
			TH_LOG("%s must work%s under faults, but failed with %s",
			       op->name, op->may & MAY_EFAULT ? " or fail with ENOMEM or EFAULT" :
			       op->may ? " or fail with ENOMEM" : "", errname(c->err));
		}
		if (c->err == ENOMEM)
			self->fig.enomem++;
		else
			self->fig.efault++;
	}
	op->settle(_metadata, r, c);
	r->last_op = op->name;
	region_check(_metadata, r);
}

/* Which kind of fault fired between two snapshots of the times knobs. */
static void count_site(FIXTURE_DATA(fault) *self, const long *before)
{
	int kind;

	self->fig.sites++;
	for (kind = 0; kind < FAULT_KINDS; kind++)
		if (faults_of_kind(&self->inj, kind) > before[kind])
			self->fig.site_kind[kind]++;
}

/* @op with its @k-th fault point failed; whether there was a k-th point. */
static bool systematic_step(struct __test_metadata *_metadata,
			    FIXTURE_DATA(fault) *self, const struct op *op,
			    unsigned int k)
{
	long before[FAULT_KINDS];
	struct region r;
	struct call c;
	int fired, kind;

	region_reset(&r);
	memset(&c, 0, sizeof(c));
	op->prepare(_metadata, &r, &c);
	for (kind = 0; kind < FAULT_KINDS; kind++)
		before[kind] = faults_of_kind(&self->inj, kind);

	ASSERT_TRUE(nth_arm(&self->inj, k));
	op->call(&r, &c);
	fired = nth_fired(&self->inj);
	ASSERT_LE(0, fired) {
		TH_LOG("cannot read back or disarm /proc/thread-self/fail-nth");
	}
	if (fired)
		count_site(self, before);
	judge(_metadata, self, op, &r, &c);
	region_close(_metadata, &r);
	return fired;
}

static void systematic_phase(struct __test_metadata *_metadata,
			     FIXTURE_DATA(fault) *self)
{
	unsigned long sites;
	unsigned int k;
	size_t i;

	for (i = 0; i < NR_OPS; i++) {
		sites = self->fig.sites;
		for (k = 1; systematic_step(_metadata, self, &fault_ops[i], k); k++) {
			ASSERT_LT(k, NTH_MAX) {
				TH_LOG("%s reaches more than %d fault points", fault_ops[i].name,
				       NTH_MAX);
			}
		}
		ksft_print_msg("systematic: %s: %lu fault points\n", fault_ops[i].name,
			       self->fig.sites - sites);
	}
}

/* A random operation that suits @r's state; open or GET_NAME always do. */
static const struct op *random_op(const struct region *r, struct call *c)
{
	for (;;) {
		const struct op *op = &fault_ops[rnd(NR_OPS)];

		memset(c, 0, sizeof(*c));
		if (op->pick && op->pick(r, c))
			return op;
	}
}

/* Faults with @percent probability in each system call of the phase. */
static void random_probability(struct __test_metadata *_metadata,
			       FIXTURE_DATA(fault) *self, unsigned long n)
{
	static const unsigned int percent[] = { 2, 10, 30 };

	ASSERT_TRUE(fault_set_probability(&self->inj, percent[(n / RANDOM_BATCH) % 3]));
}

static void random_phase(struct __test_metadata *_metadata,
			 FIXTURE_DATA(fault) *self, double until)
{
	struct region regions[RANDOM_REGIONS];
	unsigned long n;
	int i;

	for (i = 0; i < RANDOM_REGIONS; i++)
		region_reset(&regions[i]);
	for (n = 0; n < RANDOM_MIN_OPS || monotonic_seconds() < until; n++) {
		struct region *r = &regions[rnd(RANDOM_REGIONS)];
		const struct op *op;
		struct call c;

		if (n % RANDOM_BATCH == 0)
			random_probability(_metadata, self, n);
		op = random_op(r, &c);
		ASSERT_TRUE(inject_on(&self->inj));
		op->call(r, &c);
		ASSERT_TRUE(inject_off(&self->inj)) {
			TH_LOG("cannot clear /proc/thread-self/make-it-fail");
		}
		judge(_metadata, self, op, r, &c);
	}
	ASSERT_TRUE(fault_set_probability(&self->inj, 0));
	for (i = 0; i < RANDOM_REGIONS; i++)
		region_close(_metadata, &regions[i]);
}

TEST_F_TIMEOUT(fault, calls_fail_cleanly_and_leak_nothing, RELIABILITY_TIMEOUT)
{
	double until = self->start + reliability_seconds();
	long injected;
	int kind;

	systematic_phase(_metadata, self);
	for (kind = 0; kind < FAULT_KINDS; kind++)
		ksft_print_msg("systematic: %lu %s fault sites\n",
			       self->fig.site_kind[kind], fault_name[kind]);
	random_phase(_metadata, self, until);

	injected = faults_total(&self->inj) - (long)self->inj.housekeeping;
	ksft_print_msg("faults: slab %ld, page %ld, usercopy %ld; %lu hit the test's own writes\n",
		       faults_of_kind(&self->inj, FAULT_SLAB),
		       faults_of_kind(&self->inj, FAULT_PAGE),
		       faults_of_kind(&self->inj, FAULT_USERCOPY), self->inj.housekeeping);
	ksft_print_msg("ashmem-figures: fault bits=%zu seconds=%.0f ops=%lu faults_injected=%ld enomem=%lu efault=%lu sites=%lu\n",
		       sizeof(long) * 8, monotonic_seconds() - self->start,
		       self->fig.ops, injected, self->fig.enomem, self->fig.efault,
		       self->fig.sites);
	if (self->kmemleak)
		kmemleak_check(_metadata);
}

TEST_HARNESS_MAIN
