// SPDX-License-Identifier: GPL-2.0-only
/*
 * The shrinker and memory cgroups: a cgroup at its memory.max loses its own
 * unpinned ashmem instead of being OOM-killed, never another cgroup's, and
 * the driver's kernel memory is charged to the cgroup that caused it.
 *
 * Unpinned ranges are allocated from a SLAB_ACCOUNT cache through the
 * list_lru, so each range sits on the list of the memory cgroup of the task
 * that unpinned it, and the shrinker is SHRINKER_MEMCG_AWARE: reclaim for a
 * cgroup at its limit walks that cgroup's list only. The shmem pages are
 * charged to the cgroup of the task that first wrote them.
 *
 * The guests have no swap: under memory.max neither shmem nor anonymous
 * memory can be reclaimed, and these tests charge no page cache to their
 * cgroups, so the driver's shrinker is the only thing that can give memory
 * back. A driver that does not do so gets the worker killed by the memcg
 * OOM killer; a correct one must never get there (the bench fails a run on
 * any "out of memory" line in the kernel log).
 *
 * Every cgroup is a fresh child of the root, created by the test and removed
 * by the fixture's teardown, even when the test fails. The work charged to
 * a cgroup runs in a forked worker that joins it; the test process itself
 * stays in the root cgroup and checks the results once the worker is gone.
 */
#define _GNU_SOURCE
#include <limits.h>
#include <sys/resource.h>

#include "kselftest_harness.h"
#include "ashmem_util.h"
#include "ashmem_cgroup.h"

#define MIB		(1024 * 1024)

/*
 * The case: a container limited to 96 MiB holds a 64 MiB region,
 * unpins it, then needs 64 MiB of anonymous memory. 64 + 64 - 96 = 32 MiB
 * must come back, and with no swap and no page cache in the cgroup only
 * purged ashmem can supply it.
 */
#define LIMIT		(96 * MIB)
#define REGION		(64 * MIB)
#define ANON		(64 * MIB)
#define MUST_PURGE	(REGION + ANON - LIMIT)
/* The sibling's unpinned region, which the limited cgroup must not touch. */
#define SIBLING_REGION	(32 * MIB)
/*
 * Regions are unpinned in ranges of CHUNK bytes, each ending one page short
 * of the next so that ranges never merge: the PIN of each says whether any
 * of its pages was purged, and the pinned page between two ranges must
 * survive every purge.
 */
#define CHUNK		MIB

/*
 * Accounting: regions opened and ranges unpinned by one process. memcg
 * charges an object's slab size plus a pointer: 80 bytes per range and 80
 * to 88 per region on the Debian 6.1, 6.12 and 7.2 kernels. 64 bytes per
 * object leaves at least 48 KB of margin for 3000 regions (240,000 bytes
 * or more expected, 192,000 required) and 128 KiB for 8192 ranges (640 KiB
 * expected, 512 KiB required), against at most 16 KiB of bookkeeping
 * noise: memcg's per-CPU stock holds back up to a page of slab statistics
 * per CPU and counter. A driver that charges nothing shows about zero.
 */
#define REGIONS		3000
#define RANGES		8192
#define MIN_OBJ_BYTES	64

/* Anonymous memory touched and freed to make memcg flush its stats. */
#define STAT_CHURN	(4 * MIB)

/* ============================================================== cgroups */

/*
 * The slab memory charged to @dir, in bytes, as memory.stat reports it
 * once flushed. Call from a task inside @dir.
 *
 * memcg keeps its statistics per CPU and folds them in only when enough
 * updates have piled up (a periodic flush runs every two seconds): a
 * reading can miss hundreds of kilobytes of recent slab allocations.
 * Faulting in and freeing a few megabytes of anonymous memory in the cgroup
 * makes well over the updates that reading memory.stat needs to flush
 * first (6.1 and later), and changes no slab counter.
 */
static long long cg_slab_bytes(const char *dir)
{
	long long recl, unrecl;
	size_t off, page = page_size();
	uint8_t *p;

	p = mmap(NULL, STAT_CHURN, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p != MAP_FAILED) {
		for (off = 0; off < STAT_CHURN; off += page)
			p[off] = 1;
		munmap(p, STAT_CHURN);
	}
	recl = cg_read_key(dir, "memory.stat", "slab_reclaimable");
	unrecl = cg_read_key(dir, "memory.stat", "slab_unreclaimable");
	if (recl < 0 || unrecl < 0)
		return cg_read_key(dir, "memory.stat", "slab");
	return recl + unrecl;
}

/* ======================================================= region contents */

/*
 * Contents written to a region, a 64-bit word at a time (a byte pattern
 * costs seconds per region under TCG): the word at region offset @off is
 * @seed in the top byte and @off below, never zero. A purged page (zeros)
 * or a page at the wrong place never matches.
 */
static inline uint64_t tag_word(size_t off, uint8_t seed)
{
	return (uint64_t)seed << 56 | off;
}

static void fill_tags(void *p, size_t off, size_t len, uint8_t seed)
{
	uint64_t *w = p;
	size_t i;

	for (i = 0; i < len / sizeof(*w); i++)
		w[i] = tag_word(off + i * sizeof(*w), seed);
}

/* Byte index of the first word at @p that is not its tag, or -1. */
static ssize_t tags_mismatch(const void *p, size_t off, size_t len,
			     uint8_t seed)
{
	const uint64_t *w = p;
	size_t i;

	for (i = 0; i < len / sizeof(*w); i++)
		if (w[i] != tag_word(off + i * sizeof(*w), seed))
			return i * sizeof(*w);
	return -1;
}

/* Byte index of the first non-zero word at @p, or -1. */
static ssize_t zeros_mismatch(const void *p, size_t len)
{
	const uint64_t *w = p;
	size_t i;

	for (i = 0; i < len / sizeof(*w); i++)
		if (w[i])
			return i * sizeof(*w);
	return -1;
}

/* ============================================================== workers */

/*
 * A worker fills a region in its cgroup and unpins it range by range; with
 * @anon it then faults in that much anonymous memory, as the process in a
 * container that needs memory back. It reports through the shared page
 * the test allocated, and only by exit status and stderr otherwise: an
 * ASSERT would jump into the test's copy of the harness.
 */
struct fill_worker {
	const char *cg;
	int fd;
	size_t size;
	size_t anon;
	uint8_t seed;
	bool again;		/* pin each range and unpin it once more */
	/* results */
	long long charged;	/* memory.current with the region filled */
	long long peak;		/* memory.current with the anonymous memory */
};

static int fill_worker(void *arg)
{
	struct fill_worker *w = arg;
	size_t page = page_size(), off;
	uint8_t *region, *anon;
	int err, ret;

	err = cg_enter(w->cg);
	CHILD_CHECK(!err, "cannot join %s: %s", w->cg, errname(err));
	region = mmap(NULL, w->size, PROT_READ | PROT_WRITE, MAP_SHARED,
		      w->fd, 0);
	CHILD_CHECK(region != MAP_FAILED, "mmap of the region failed: %s",
		    errname(errno));
	fill_tags(region, 0, w->size, w->seed);
	w->charged = cg_read_ll(w->cg, "memory.current");

	for (off = 0; off < w->size; off += CHUNK) {
		ret = ashmem_pin_ioctl(w->fd, ASHMEM_UNPIN, off, CHUNK - page);
		CHILD_CHECK(ret == 0, "ASHMEM_UNPIN {%#zx, %#zx} returned %d (%s)",
			    off, CHUNK - page, ret, errname(errno));
		if (!w->again)
			continue;
		ret = ashmem_pin_ioctl(w->fd, ASHMEM_PIN, off, CHUNK - page);
		CHILD_CHECK(ret == ASHMEM_NOT_PURGED,
			    "ASHMEM_PIN {%#zx, %#zx} returned %d (%s)",
			    off, CHUNK - page, ret, errname(errno));
		ret = ashmem_pin_ioctl(w->fd, ASHMEM_UNPIN, off, CHUNK - page);
		CHILD_CHECK(ret == 0, "second ASHMEM_UNPIN {%#zx, %#zx} returned %d (%s)",
			    off, CHUNK - page, ret, errname(errno));
	}
	if (!w->anon)
		return 0;

	anon = mmap(NULL, w->anon, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHILD_CHECK(anon != MAP_FAILED, "mmap of %zu bytes failed: %s",
		    w->anon, errname(errno));
	/* A store per page: each one is a page the cgroup must find room for. */
	for (off = 0; off < w->anon; off += page)
		anon[off] = 0x5a;
	w->peak = cg_read_ll(w->cg, "memory.current");
	munmap(anon, w->anon);
	munmap(region, w->size);
	return 0;
}

/*
 * Slab charged to a cgroup before and after a worker's work: @before, then
 * @mid after a first step where there is one, and @after.
 */
struct slab_worker {
	const char *cg;
	long long min_growth;	/* retry reading @after until it shows this */
	/* results */
	long long before;
	long long mid;
	long long after;
};

/*
 * Read @after until the growth the caller computes from it reaches
 * @min_growth, for up to three seconds: the stats are flushed on read, but
 * a CPU's last few kilobytes may still be in flight.
 */
static void slab_settle(struct slab_worker *w,
			long long (*growth)(const struct slab_worker *))
{
	int i;

	for (i = 0; i < 30; i++) {
		w->after = cg_slab_bytes(w->cg);
		if (w->after < 0 || growth(w) >= w->min_growth)
			return;
		usleep(100000);
	}
}

/* What the regions add beyond what as many opens of /dev/null add. */
static long long region_growth(const struct slab_worker *w)
{
	return (w->after - w->mid) - (w->mid - w->before);
}

static long long range_growth(const struct slab_worker *w)
{
	return w->after - w->before;
}

/*
 * Open REGIONS times /dev/null, then REGIONS regions. Every open costs a
 * struct file, which is charged to the cgroup whatever the driver does;
 * the regions must cost their struct ashmem_region on top of that.
 */
static int open_regions_worker(void *arg)
{
	struct slab_worker *w = arg;
	rlim_t nofile = 2 * REGIONS + 256;
	struct rlimit rl = { .rlim_cur = nofile, .rlim_max = nofile };
	int i, fd, err;

	err = cg_enter(w->cg);
	CHILD_CHECK(!err, "cannot join %s: %s", w->cg, errname(err));
	CHILD_CHECK(!setrlimit(RLIMIT_NOFILE, &rl),
		    "cannot raise RLIMIT_NOFILE to %ju: %s", (uintmax_t)nofile,
		    errname(errno));
	/* Grow the fd table now, so no open below reallocates it. */
	fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	CHILD_CHECK(fd >= 0, "cannot open /dev/null: %s", errname(errno));
	CHILD_CHECK(dup2(fd, nofile - 1) >= 0, "dup2 to fd %ju failed: %s",
		    (uintmax_t)(nofile - 1), errname(errno));
	close(nofile - 1);
	close(fd);

	w->before = cg_slab_bytes(w->cg);
	for (i = 0; i < REGIONS; i++)
		CHILD_CHECK(open("/dev/null", O_RDONLY | O_CLOEXEC) >= 0,
			    "open /dev/null #%d failed: %s", i, errname(errno));
	w->mid = cg_slab_bytes(w->cg);
	for (i = 0; i < REGIONS; i++)
		CHILD_CHECK(open(ASHMEM_DEV, O_RDWR | O_CLOEXEC) >= 0,
			    "open %s #%d failed: %s", ASHMEM_DEV, i,
			    errname(errno));
	slab_settle(w, region_growth);
	return 0;
}

/*
 * Unpin RANGES separate pages of one region (every other page, so no two
 * ranges merge). The region and its backing file exist before the first
 * reading: between the two readings the only allocations are the ranges.
 */
static int unpin_ranges_worker(void *arg)
{
	struct slab_worker *w = arg;
	size_t page = page_size(), size = 2 * RANGES * page;
	int i, fd, err, ret;
	void *p;

	err = cg_enter(w->cg);
	CHILD_CHECK(!err, "cannot join %s: %s", w->cg, errname(err));
	fd = open(ASHMEM_DEV, O_RDWR | O_CLOEXEC);
	CHILD_CHECK(fd >= 0, "open %s failed: %s", ASHMEM_DEV, errname(errno));
	CHILD_CHECK(!ioctl(fd, ASHMEM_SET_SIZE, size),
		    "ASHMEM_SET_SIZE(%zu) failed: %s", size, errname(errno));
	/* The first mmap creates the backing file; no page is ever touched. */
	p = mmap(NULL, page, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	CHILD_CHECK(p != MAP_FAILED, "mmap failed: %s", errname(errno));
	munmap(p, page);

	w->before = cg_slab_bytes(w->cg);
	for (i = 0; i < RANGES; i++) {
		ret = ashmem_pin_ioctl(fd, ASHMEM_UNPIN, 2 * i * page, page);
		CHILD_CHECK(ret == 0, "ASHMEM_UNPIN of page %d returned %d (%s)",
			    2 * i, ret, errname(errno));
	}
	slab_settle(w, range_growth);
	close(fd);
	return 0;
}

/* ============================================================== fixture */

#define MAX_CGROUPS	2

struct memcg_results {
	struct fill_worker limited;
	struct fill_worker sibling;
	struct slab_worker slab;
};

FIXTURE(memcg) {
	char cg[MAX_CGROUPS][PATH_MAX];
	int ncg;
	int fd[MAX_CGROUPS];
	struct memcg_results *res;	/* shared with the workers */
	uint8_t *buf;			/* CHUNK bytes to read a range into */
};

FIXTURE_SETUP(memcg)
{
	char controllers[512];
	int err, i;

	self->ncg = 0;
	for (i = 0; i < MAX_CGROUPS; i++)
		self->fd[i] = -1;
	self->res = MAP_FAILED;
	self->buf = NULL;

	if (geteuid())
		SKIP(return, "creating cgroups needs root");
	if (read_text_file(CG_ROOT "/cgroup.controllers", controllers,
			   sizeof(controllers)) < 0)
		SKIP(return, "cgroup2 is not mounted at " CG_ROOT);
	if (!has_word(controllers, "memory"))
		SKIP(return, "the memory controller is not available (no CONFIG_MEMCG, cgroup_disable=memory, or it is bound to cgroup v1)");
	err = cg_write(CG_ROOT, "cgroup.subtree_control", "+memory");
	if (err)
		SKIP(return, "cannot enable the memory controller for child cgroups: %s",
		     errname(err));

	self->res = mmap(NULL, sizeof(*self->res), PROT_READ | PROT_WRITE,
			 MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, self->res);
	self->buf = malloc(CHUNK);
	ASSERT_NE(NULL, self->buf);
}

FIXTURE_TEARDOWN(memcg)
{
	int i;

	for (i = 0; i < MAX_CGROUPS; i++)
		if (self->fd[i] >= 0)
			close(self->fd[i]);
	for (i = self->ncg - 1; i >= 0; i--)
		cg_destroy(self->cg[i]);
	if (self->res != MAP_FAILED)
		munmap(self->res, sizeof(*self->res));
	free(self->buf);
}

/*
 * A fresh child of the root cgroup with the memory controller, limited to
 * @max bytes (0: no limit), recorded for the teardown. Returns its path.
 */
static const char *cg_create(struct __test_metadata *_metadata,
			     FIXTURE_DATA(memcg) *self, const char *name,
			     long long max)
{
	char *dir, value[32];
	int err;

	ASSERT_GT(MAX_CGROUPS, self->ncg);
	dir = self->cg[self->ncg];
	snprintf(dir, PATH_MAX, "%s/ashmem-memcg-%d-%s", CG_ROOT,
		 (int)getpid(), name);
	ASSERT_EQ(0, mkdir(dir, 0755)) {
		TH_LOG("mkdir %s failed: %s", dir, errname(errno));
	}
	self->ncg++;
	ASSERT_LE(0, cg_read_ll(dir, "memory.current")) {
		TH_LOG("%s has no memory.current: the memory controller is not enabled in it",
		       dir);
	}
	if (max) {
		snprintf(value, sizeof(value), "%lld", max);
		err = cg_write(dir, "memory.max", value);
		ASSERT_EQ(0, err) {
			TH_LOG("cannot set %s/memory.max: %s", dir, errname(err));
		}
	}
	/*
	 * The guests have no swap; should one appear, keep this cgroup from
	 * using it, so that purging stays its only way to give memory back.
	 * (No memory.swap.max without swap accounting: nothing to do then.)
	 */
	cg_write(dir, "memory.swap.max", "0");
	return dir;
}

/* ======================================================= limit and purge */

/*
 * Pin each range a fill_worker unpinned and check what it holds. The
 * shrinker purges no more of a range than reclaim needs, so a range can be
 * partly purged: after WAS_PURGED each page reads zeros or its data, and at
 * least one reads zeros; after NOT_PURGED every page keeps its data, and
 * so does the pinned page after each range. Reads go through read() on the
 * region: a hole read that way costs no memory, where faulting it in
 * through a shared mapping would allocate a page for it. Returns how many
 * pages were purged.
 */
static size_t pin_and_check_ranges(struct __test_metadata *_metadata,
				   FIXTURE_DATA(memcg) *self, int fd,
				   size_t size, uint8_t seed)
{
	size_t page = page_size(), len = CHUNK - page, purged = 0, off, p, zero;
	ssize_t bad, n;
	int ret;

	for (off = 0; off < size; off += CHUNK) {
		ret = ashmem_pin_ioctl(fd, ASHMEM_PIN, off, len);
		ASSERT_TRUE(ret == ASHMEM_WAS_PURGED || ret == ASHMEM_NOT_PURGED) {
			TH_LOG("ASHMEM_PIN {%#zx, %#zx} returned %d (%s)",
			       off, len, ret, errname(errno));
		}
		n = pread(fd, self->buf, CHUNK, off);
		ASSERT_EQ((ssize_t)CHUNK, n) {
			TH_LOG("read of the region at %#zx returned %zd (%s)",
			       off, n, errname(errno));
		}
		for (p = 0, zero = 0; p < len; p += page) {
			if (ret == ASHMEM_WAS_PURGED &&
			    zeros_mismatch(self->buf + p, page) < 0) {
				zero++;
				continue;
			}
			bad = tags_mismatch(self->buf + p, off + p, page, seed);
			ASSERT_EQ(-1, bad) {
				TH_LOG("PIN said the range at %#zx was %s, but region byte %#zx holds neither its data nor zeros",
				       off, ret == ASHMEM_WAS_PURGED ? "purged" :
				       "not purged", off + p + bad);
			}
		}
		ASSERT_TRUE(ret == ASHMEM_NOT_PURGED || zero > 0) {
			TH_LOG("PIN said the range at %#zx was purged, but every page kept its data",
			       off);
		}
		purged += zero;
		bad = tags_mismatch(self->buf + len, off + len, page, seed);
		ASSERT_EQ(-1, bad) {
			TH_LOG("the pinned page at %#zx lost its data: the shrinker must never purge pinned pages",
			       off + len);
		}
	}
	return purged;
}

/*
 * The worker must have come through the pressure alive, and the cgroup
 * must really have been pushed to its limit with the region charged to it:
 * otherwise nothing was tested.
 */
static void assert_limit_survived(struct __test_metadata *_metadata,
				  const char *cg, const struct fill_worker *w,
				  int status)
{
	long long oom = cg_read_key(cg, "memory.events", "oom");
	long long oom_kill = cg_read_key(cg, "memory.events", "oom_kill");
	long long max = cg_read_key(cg, "memory.events", "max");

	ASSERT_NE(128 + SIGKILL, status) {
		TH_LOG("the worker in %s was killed (memory.events oom %lld, oom_kill %lld): at memory.max the shrinker must purge the cgroup's unpinned ashmem before the OOM killer runs",
		       cg, oom, oom_kill);
	}
	ASSERT_EQ(0, status) {
		TH_LOG("the worker in %s failed (status %d)", cg, status);
	}
	ASSERT_EQ(0, oom_kill) {
		TH_LOG("%s saw %lld OOM kills", cg, oom_kill);
	}
	ASSERT_EQ(0, oom) {
		TH_LOG("%s went out of memory %lld times: its unpinned ashmem should have been purged first",
		       cg, oom);
	}
	ASSERT_LE((long long)w->size, w->charged) {
		TH_LOG("memory.current of %s was %lld with the %zu-byte region written: its pages must be charged to the cgroup that wrote them, or the limit tests nothing",
		       cg, w->charged, w->size);
	}
	ASSERT_LT(0, max) {
		TH_LOG("%s never reached memory.max (peak memory.current %lld): no pressure, nothing tested",
		       cg, w->peak);
	}
}

/*
 * The cgroup must get through on its own unpinned ashmem: no OOM kill, and
 * at least MUST_PURGE bytes purged. (That it purges not much more is
 * ashmem_pressure_test's memcg case.)
 */
static void limit_purges_own(struct __test_metadata *_metadata,
			     FIXTURE_DATA(memcg) *self, bool again)
{
	struct fill_worker *w = &self->res->limited;
	const char *cg = cg_create(_metadata, self, "limited", LIMIT);
	size_t purged;
	int status;

	self->fd[0] = ashmem_assert_create(_metadata, "memcg-limited", REGION);
	*w = (struct fill_worker){ .cg = cg, .fd = self->fd[0],
				   .size = REGION, .anon = ANON, .seed = 0xa1,
				   .again = again };
	status = run_in_child(fill_worker, w);
	assert_limit_survived(_metadata, cg, w, status);

	purged = pin_and_check_ranges(_metadata, self, self->fd[0], REGION,
				      w->seed) * page_size();
	TH_LOG("%zu of %d unpinned KiB purged, peak memory.current %lld",
	       purged / 1024, REGION / CHUNK * (CHUNK - (int)page_size()) / 1024,
	       w->peak);
	ASSERT_LE((size_t)MUST_PURGE, purged) {
		TH_LOG("only %zu bytes were purged, but the cgroup had to give back %d bytes",
		       purged, MUST_PURGE);
	}
}

TEST_F_TIMEOUT(memcg, limit_purges_own_unpinned_ashmem_not_oom_kill, 120)
{
	limit_purges_own(_metadata, self, false);
}

/*
 * A range pinned and unpinned again comes back as the region's spare: it
 * must land on the cgroup's LRU again, and be purged as any other.
 */
TEST_F_TIMEOUT(memcg, limit_purges_ranges_unpinned_again, 120)
{
	limit_purges_own(_metadata, self, true);
}

/*
 * A sibling cgroup's unpinned ashmem is none of the limited cgroup's
 * business: purging it frees no memory charged there. The sibling unpins
 * first, so on a single global LRU (oldest first) its ranges would be the
 * first to go. The guest has plenty of free memory, so no global reclaim
 * (which may purge anyone's ranges) runs meanwhile.
 */
TEST_F_TIMEOUT(memcg, limit_never_purges_sibling_cgroups_ashmem, 120)
{
	struct fill_worker *a = &self->res->limited, *b = &self->res->sibling;
	long avail_kb = meminfo_kb("MemAvailable");
	long long kswapd_before, kswapd;
	size_t purged_a, purged_b;
	const char *cg_a, *cg_b;
	int status;

	if (avail_kb >= 0 && avail_kb < 2 * (LIMIT + SIBLING_REGION) / 1024)
		SKIP(return, "only %ld kB available: global reclaim could purge any cgroup's ashmem",
		     avail_kb);
	cg_b = cg_create(_metadata, self, "sibling", 0);
	cg_a = cg_create(_metadata, self, "limited", LIMIT);
	self->fd[0] = ashmem_assert_create(_metadata, "memcg-sibling",
					   SIBLING_REGION);
	self->fd[1] = ashmem_assert_create(_metadata, "memcg-limited", REGION);

	*b = (struct fill_worker){ .cg = cg_b, .fd = self->fd[0],
				   .size = SIBLING_REGION, .seed = 0xb2 };
	status = run_in_child(fill_worker, b);
	ASSERT_EQ(0, status) {
		TH_LOG("the worker in %s failed (status %d)", cg_b, status);
	}
	ASSERT_LE((long long)SIBLING_REGION, b->charged) {
		TH_LOG("memory.current of %s was %lld with its region written",
		       cg_b, b->charged);
	}

	kswapd_before = flat_key("/proc/vmstat", "pgscan_kswapd");
	*a = (struct fill_worker){ .cg = cg_a, .fd = self->fd[1],
				   .size = REGION, .anon = ANON, .seed = 0xa1 };
	status = run_in_child(fill_worker, a);
	kswapd = flat_key("/proc/vmstat", "pgscan_kswapd") - kswapd_before;
	assert_limit_survived(_metadata, cg_a, a, status);

	purged_b = pin_and_check_ranges(_metadata, self, self->fd[0],
					SIBLING_REGION, b->seed);
	ASSERT_EQ(0, purged_b) {
		TH_LOG("%zu pages of %s were purged when %s reached its limit (kswapd scanned %lld pages meanwhile)",
		       purged_b, cg_b, cg_a, kswapd);
	}
	/* The limited cgroup got its memory back from its own ranges. */
	purged_a = pin_and_check_ranges(_metadata, self, self->fd[1], REGION,
					a->seed);
	ASSERT_LE((size_t)MUST_PURGE, purged_a * page_size()) {
		TH_LOG("only %zu pages of the limited cgroup's ranges were purged",
		       purged_a);
	}
}

/* ============================================================ accounting */

TEST_F_TIMEOUT(memcg, region_memory_is_charged_to_the_opener, 120)
{
	struct slab_worker *w = &self->res->slab;
	const char *cg = cg_create(_metadata, self, "opener", 0);
	long long min = (long long)REGIONS * MIN_OBJ_BYTES;
	int status;

	*w = (struct slab_worker){ .cg = cg, .min_growth = min };
	status = run_in_child(open_regions_worker, w);
	ASSERT_EQ(0, status) {
		TH_LOG("the worker in %s failed (status %d)", cg, status);
	}
	ASSERT_LE(0, w->before) {
		TH_LOG("no slab counters in %s/memory.stat", cg);
	}
	TH_LOG("slab of %s: %lld, %lld after %d opens of /dev/null, %lld after %d of %s",
	       cg, w->before, w->mid, REGIONS, w->after, REGIONS, ASHMEM_DEV);
	ASSERT_LE(min, region_growth(w)) {
		TH_LOG("%d regions added %lld bytes of slab to their opener's cgroup beyond what as many files cost; at least %lld expected",
		       REGIONS, region_growth(w), min);
	}
}

TEST_F_TIMEOUT(memcg, range_memory_is_charged_to_the_unpinner, 120)
{
	struct slab_worker *w = &self->res->slab;
	const char *cg = cg_create(_metadata, self, "unpinner", 0);
	long long min = (long long)RANGES * MIN_OBJ_BYTES;
	int status;

	*w = (struct slab_worker){ .cg = cg, .min_growth = min };
	status = run_in_child(unpin_ranges_worker, w);
	ASSERT_EQ(0, status) {
		TH_LOG("the worker in %s failed (status %d)", cg, status);
	}
	ASSERT_LE(0, w->before) {
		TH_LOG("no slab counters in %s/memory.stat", cg);
	}
	TH_LOG("slab of %s: %lld, %lld after %d unpins", cg, w->before,
	       w->after, RANGES);
	ASSERT_LE(min, range_growth(w)) {
		TH_LOG("%d unpinned ranges added %lld bytes of slab to the cgroup that unpinned them; at least %lld expected",
		       RANGES, range_growth(w), min);
	}
}

TEST_HARNESS_MAIN
