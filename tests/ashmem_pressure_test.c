// SPDX-License-Identifier: GPL-2.0-only
/*
 * Memory pressure at the sizes users have: the shrinker must give back
 * unpinned ashmem before anything is OOM-killed, and no more of it than
 * reclaim needs.
 *
 * The guests have no swap, so neither shmem nor anonymous memory can be
 * reclaimed: when memory runs out, purging unpinned ashmem is the kernel's
 * only way out short of the OOM killer. Owners (forked processes) fill
 * regions with half of RAM and unpin all but a few pages of them; an
 * allocator (another process, one or two threads) then touches more memory
 * than is free. Nobody is shielded from the OOM killer: a purge that comes
 * too late gets one of them killed, and every round fails on any OOM report
 * in the kernel log.
 *
 * After the allocation, each owner counts its purged pages with mincore()
 * (with no swap, an unpinned page that is no longer resident was purged),
 * pins every unpinned range again and checks that PIN reports
 * ASHMEM_WAS_PURGED exactly for the ranges that lost a page, that purged
 * pages read as zeros and that every other page kept its data.
 *
 * ASHMEM_PRESSURE_ROUNDS (default 5, and 1 for the 32-bit build) sets how
 * many rounds each OOM test runs.
 */
#define _GNU_SOURCE
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <sys/socket.h>

#include "kselftest_harness.h"
#include "ashmem_util.h"
#include "ashmem_cgroup.h"

#define MIB		(1024 * 1024)
#define DEFAULT_ROUNDS	5
#define MAX_OWNERS	4
/* Unpinned ranges of the small-range layout, each followed by a pinned page. */
#define SMALL_RANGE	(256 * 1024)
/*
 * What purging may take beyond twice what reclaim needed: kswapd reclaims
 * up to the high watermark, and a purge rounds up to a piece of at most
 * 128 pages (2 MiB with 16K pages).
 */
#define SLACK		(8 * MIB)
/*
 * What purging may fall short of the need. On the host, reclaim frees
 * kernel caches (dentries, inodes) besides, and the per-CPU free lists
 * change between two readings of /proc/zoneinfo. In a cgroup only memcg's
 * per-CPU stock of charges (64 pages a CPU) blurs the count.
 */
#define SLACK_BELOW_HOST	(16 * MIB)
#define SLACK_BELOW_CGROUP	(2 * MIB)

/* The memory cgroup case: a container at its limit needs a little more. */
#define CG_LIMIT	(96 * MIB)
#define CG_REGION	(64 * MIB)
#define CG_ALLOC	(40 * MIB)

/*
 * Rounds of each OOM test: ASHMEM_PRESSURE_ROUNDS, else DEFAULT_ROUNDS;
 * the 32-bit build runs one by default, for a 32-bit process's view of the
 * same purges, which the 64-bit build's rounds already repeat.
 */
static unsigned int pressure_rounds(void)
{
	const char *s = getenv("ASHMEM_PRESSURE_ROUNDS");
	long def = sizeof(long) == 4 ? 1 : DEFAULT_ROUNDS;
	long n = s ? strtol(s, NULL, 10) : def;

	return n > 0 && n <= 100 ? n : def;
}

/* ============================================================ kernel log */

/* /dev/kmsg, positioned after the last record written so far; -1 if not. */
static int kmsg_open_at_end(void)
{
	int fd = open("/dev/kmsg", O_RDONLY | O_NONBLOCK | O_CLOEXEC);

	if (fd >= 0 && lseek(fd, 0, SEEK_END) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static bool oom_report(const char *line)
{
	return strcasestr(line, "out of memory") || strstr(line, "oom-kill");
}

/*
 * The kernel log records written since @fd was opened that report the OOM
 * killer; the first is copied to @first.
 */
static unsigned int kmsg_oom_reports(int fd, char *first, size_t len)
{
	char rec[2048];
	unsigned int n = 0;
	ssize_t got;

	first[0] = '\0';
	for (;;) {
		got = read(fd, rec, sizeof(rec) - 1);
		if (got < 0 && errno == EPIPE)	/* overwritten: read on */
			continue;
		if (got <= 0)
			break;
		rec[got] = '\0';
		if (!oom_report(rec))
			continue;
		if (!n++)
			snprintf(first, len, "%.*s", (int)len - 1, rec);
	}
	return n;
}

/* =============================================================== owners */

enum layout {
	ONE_RANGE,	/* everything but the last page, in one UNPIN */
	SMALL_RANGES,	/* SMALL_RANGE bytes, a pinned page, and so on */
};

/* What an owner found after the pressure; failed is 0 when all held. */
struct owner_report {
	uint64_t unpinned_pages;
	uint64_t purged_pages;
	uint32_t ranges;
	uint32_t was_purged;	/* ranges whose PIN said ASHMEM_WAS_PURGED */
	int32_t failed;
	char why[200];
};

struct owner {
	pid_t pid;
	int sock;
};

struct owner_args {
	size_t size;
	enum layout layout;
	const char *cgroup;	/* join this memory cgroup first, or NULL */
	int sock;
};

/* A nonzero word that names page @i, at both ends of it. */
static uint64_t page_mark(size_t i)
{
	return ((uint64_t)i << 8) | 0x5a;
}

static void mark_page(uint8_t *p, size_t page, size_t i)
{
	uint64_t mark = page_mark(i);

	memset(p, 0xa5, page);
	memcpy(p, &mark, sizeof(mark));
	memcpy(p + page - sizeof(mark), &mark, sizeof(mark));
}

/* 1 if page @i holds its marks, 0 if it reads zero there, -1 otherwise. */
static int page_state(const uint8_t *p, size_t page, size_t i)
{
	uint64_t head, tail, mark = page_mark(i);

	memcpy(&head, p, sizeof(head));
	memcpy(&tail, p + page - sizeof(tail), sizeof(tail));
	if (head == mark && tail == mark && p[page / 2] == 0xa5)
		return 1;
	if (!head && !tail && !p[page / 2])
		return 0;
	return -1;
}

/* The unpinned range that starts at @*off, and where the next one starts. */
static bool next_range(const struct owner_args *a, size_t page, size_t *off,
		       size_t *len)
{
	size_t step = a->layout == ONE_RANGE ? a->size : SMALL_RANGE;

	if (*off + step > a->size - page)
		step = a->size - page - *off;
	if (!step || *off >= a->size - page)
		return false;
	*len = step;
	return true;
}

#define OWNER_FAIL(r, fmt, ...) do {					\
	snprintf((r)->why, sizeof((r)->why), fmt, ##__VA_ARGS__);	\
	(r)->failed = 1;						\
	return;								\
} while (0)

/*
 * After the pressure: what PIN says of each range, which pages are gone,
 * and whether every page holds its data or, if purged, zeros. The ranges
 * are pinned first, so that a purge still running cannot take pages
 * between the count and the checks.
 */
static void owner_check(const struct owner_args *a, int fd, uint8_t *map,
			struct owner_report *r)
{
	size_t page = page_size(), pages = a->size / page, off, len, i, n;
	unsigned char *vec = malloc(pages);
	int *pin = calloc(pages, sizeof(*pin));
	int state;

	if (!vec || !pin)
		OWNER_FAIL(r, "out of memory for the check");
	for (off = 0, n = 0; next_range(a, page, &off, &len); off += len + page, n++) {
		pin[n] = ashmem_pin_ioctl(fd, ASHMEM_PIN, off, len);
		if (pin[n] != ASHMEM_NOT_PURGED && pin[n] != ASHMEM_WAS_PURGED)
			OWNER_FAIL(r, "PIN of [%zu, +%zu) failed: %s", off, len,
				   errname(errno));
	}
	if (mincore(map, a->size, vec))
		OWNER_FAIL(r, "mincore: %s", errname(errno));

	for (off = 0, n = 0; next_range(a, page, &off, &len); off += len + page, n++) {
		size_t first = off / page, count = len / page, gone = 0;

		for (i = first; i < first + count; i++)
			gone += !(vec[i] & 1);
		r->ranges++;
		r->unpinned_pages += count;
		r->purged_pages += gone;
		r->was_purged += pin[n] == ASHMEM_WAS_PURGED;
		if ((pin[n] == ASHMEM_WAS_PURGED) != (gone > 0))
			OWNER_FAIL(r, "PIN of a range with %zu of %zu pages purged returned %s",
				   gone, count, pin[n] == ASHMEM_WAS_PURGED ?
				   "WAS_PURGED" : "NOT_PURGED");
	}
	for (i = 0; i < pages; i++) {
		state = page_state(map + i * page, page, i);
		if (state < 0)
			OWNER_FAIL(r, "page %zu holds neither its data nor zeros", i);
		if (!state && (vec[i] & 1))
			OWNER_FAIL(r, "page %zu reads zeros but was never purged", i);
		if (state && !(vec[i] & 1))
			OWNER_FAIL(r, "page %zu was purged but kept its data", i);
	}
	free(pin);
	free(vec);
}

/*
 * An owner: make the region, fill it, unpin it, say so, wait for the word
 * to check it, report.
 */
static int owner_main(void *arg)
{
	const struct owner_args *a = arg;
	struct owner_report r = { 0 };
	size_t page = page_size(), off = 0, len, i;
	uint8_t *map;
	char go;
	int fd;

	if (a->cgroup)
		CHILD_CHECK(!cg_enter(a->cgroup), "cannot join %s", a->cgroup);
	fd = open(ASHMEM_DEV, O_RDWR);
	CHILD_CHECK(fd >= 0, "open %s: %s", ASHMEM_DEV, errname(errno));
	CHILD_CHECK(!ioctl(fd, ASHMEM_SET_SIZE, a->size), "SET_SIZE: %s",
		    errname(errno));
	map = mmap(NULL, a->size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	CHILD_CHECK(map != MAP_FAILED, "mmap of %zu bytes: %s", a->size,
		    errname(errno));
	for (i = 0; i < a->size / page; i++)
		mark_page(map + i * page, page, i);
	for (; next_range(a, page, &off, &len); off += len + page)
		CHILD_CHECK(ashmem_pin_ioctl(fd, ASHMEM_UNPIN, off, len) == 0,
			    "UNPIN: %s", errname(errno));

	CHILD_CHECK(write(a->sock, "r", 1) == 1, "cannot report ready");
	CHILD_CHECK(read(a->sock, &go, 1) == 1, "no word to check");
	owner_check(a, fd, map, &r);
	CHILD_CHECK(write(a->sock, &r, sizeof(r)) == sizeof(r),
		    "cannot send the report");
	return 0;
}

/* Start an owner of a @size-byte region; it reports on owner->sock. */
static int owner_start(struct owner *o, struct owner_args *a)
{
	int sv[2];

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv))
		return -1;
	fflush(stdout);
	fflush(stderr);
	o->pid = fork();
	if (o->pid < 0) {
		close(sv[0]);
		close(sv[1]);
		return -1;
	}
	if (o->pid == 0) {
		close(sv[0]);
		a->sock = sv[1];
		_exit(owner_main(a));
	}
	close(sv[1]);
	o->sock = sv[0];
	return 0;
}

/* Wait for the owner's byte that says its region is unpinned. */
static bool owner_ready(struct owner *o)
{
	char c;

	return read(o->sock, &c, 1) == 1;
}

/* Ask for the owner's report; false if it died (and why, in @r->why). */
static bool owner_report(struct owner *o, struct owner_report *r)
{
	if (send(o->sock, "g", 1, MSG_NOSIGNAL) != 1 ||
	    read(o->sock, r, sizeof(*r)) != (ssize_t)sizeof(*r)) {
		snprintf(r->why, sizeof(r->why), "the owner (pid %d) died",
			 (int)o->pid);
		return false;
	}
	return true;
}

/* Collect the owner; its exit status, or 128 + the signal that killed it. */
static int owner_reap(struct owner *o)
{
	int status = -1;

	if (o->pid <= 0)
		return 0;
	close(o->sock);
	if (waitpid(o->pid, &status, 0) != o->pid)
		status = -1;
	o->pid = 0;
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return WEXITSTATUS(status);
}

/*
 * The sum over the zones of /proc/zoneinfo of one per-zone figure: @key
 * "high " for the high watermarks, "count: " for the pages on the per-CPU
 * free lists (one line a CPU and zone). In bytes; -1 if there is none.
 */
static long long zoneinfo_sum(const char *key)
{
	static char buf[65536];
	size_t klen = strlen(key);
	long long pages = 0;
	bool found = false;
	char *line, *save;

	if (read_text_file("/proc/zoneinfo", buf, sizeof(buf)) < 0)
		return -1;
	for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		line += strspn(line, " ");
		if (strncmp(line, key, klen))
			continue;
		pages += strtoll(line + klen, NULL, 10);
		found = true;
	}
	return found ? pages * (long long)page_size() : -1;
}

static long long high_watermarks(void)
{
	return zoneinfo_sum("high ");
}

/*
 * Free memory, in bytes: below @cgroup's memory.max; or on the host,
 * MemFree and the pages on the per-CPU free lists, which MemFree leaves
 * out (tens of MiB on a 1 GiB 7.3 guest).
 */
static long long free_bytes(const char *cgroup)
{
	if (cgroup)
		return cg_read_ll(cgroup, "memory.max") -
		       cg_read_ll(cgroup, "memory.current");
	return (long long)meminfo_kb("MemFree") * 1024 + zoneinfo_sum("count: ");
}

/* ============================================================ allocator */

struct alloc_args {
	size_t bytes;
	unsigned int threads;
	const char *cgroup;
	uint8_t *map;
	long long *free_after;	/* shared: free_bytes() with all touched */
};

struct alloc_part {
	uint8_t *p;
	size_t len;
};

static void *alloc_touch(void *arg)
{
	struct alloc_part *part = arg;
	size_t off;

	for (off = 0; off < part->len; off += MIB)
		memset(part->p + off, 0x3c, MIB < part->len - off ? MIB : part->len - off);
	return NULL;
}

/*
 * Touch @bytes of anonymous memory, split between @threads threads that
 * fault at once, so that several tasks enter direct reclaim together.
 */
static int allocator_main(void *arg)
{
	struct alloc_args *a = arg;
	struct alloc_part part[2];
	pthread_t th[2];
	unsigned int i, n = a->threads;
	size_t share;

	if (a->cgroup)
		CHILD_CHECK(!cg_enter(a->cgroup), "cannot join %s", a->cgroup);
	a->map = mmap(NULL, a->bytes, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHILD_CHECK(a->map != MAP_FAILED, "mmap of %zu bytes: %s", a->bytes,
		    errname(errno));
	share = a->bytes / n / MIB * MIB;
	for (i = 0; i < n; i++) {
		part[i].p = a->map + i * share;
		part[i].len = i == n - 1 ? a->bytes - i * share : share;
		CHILD_CHECK(!pthread_create(&th[i], NULL, alloc_touch, &part[i]),
			    "pthread_create failed");
	}
	for (i = 0; i < n; i++)
		pthread_join(th[i], NULL);
	*a->free_after = free_bytes(a->cgroup);
	return 0;
}

/* ================================================================ rounds */

struct round {
	unsigned int owners;
	unsigned int threads;
	enum layout layout;
	const char *cgroup;
	size_t region;		/* bytes per owner */
	size_t alloc;		/* 0: what is available plus a quarter of the unpinned;
				 * set to what was allocated */
	/* results */
	long long available;	/* bytes an allocation got before reclaim */
	long long needed;	/* bytes reclaim had to find for it */
	uint64_t unpinned;	/* bytes unpinned, all owners */
	uint64_t purged;	/* bytes purged, all owners */
	uint64_t was_purged;	/* ranges whose PIN said WAS_PURGED */
	double seconds;		/* the allocation */
};

static size_t page_round(size_t bytes)
{
	return bytes / page_size() * page_size();
}

/*
 * One round: owners fill and unpin, the allocator allocates, the owners
 * check. Fails on an OOM report, a process that did not finish, and any
 * owner's finding.
 */
static void pressure_round(struct __test_metadata *_metadata, struct round *r)
{
	struct owner o[MAX_OWNERS] = { 0 };
	struct owner_args oa[MAX_OWNERS];
	struct owner_report rep;
	struct alloc_args aa = { .threads = r->threads, .cgroup = r->cgroup };
	char oom[512];
	long long free_before;
	unsigned int i, ooms;
	int kmsg, status;
	double t0;

	kmsg = kmsg_open_at_end();
	ASSERT_LE(0, kmsg) {
		TH_LOG("cannot read the kernel log (/dev/kmsg): %s", errname(errno));
	}
	for (i = 0; i < r->owners; i++) {
		oa[i] = (struct owner_args){ .size = r->region, .layout = r->layout,
					     .cgroup = r->cgroup };
		ASSERT_EQ(0, owner_start(&o[i], &oa[i]));
		ASSERT_TRUE(owner_ready(&o[i])) {
			TH_LOG("owner %u could not fill and unpin %zu MiB (exit %d)",
			       i, r->region / MIB, owner_reap(&o[i]));
		}
	}

	/* Free above the zones' high watermarks, the level kswapd keeps. */
	free_before = free_bytes(r->cgroup);
	r->available = free_before - (r->cgroup ? 0 : high_watermarks());
	aa.bytes = r->alloc ? r->alloc :
		   page_round(r->available + (size_t)r->owners * r->region / 4);
	r->alloc = aa.bytes;
	aa.free_after = mmap(NULL, sizeof(*aa.free_after), PROT_READ | PROT_WRITE,
			     MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, aa.free_after);
	*aa.free_after = free_before;
	t0 = monotonic_seconds();
	status = run_in_child(allocator_main, &aa);
	r->seconds = monotonic_seconds() - t0;
	/* What the allocation did not take from free memory, reclaim found. */
	r->needed = r->alloc - (free_before - *aa.free_after);
	munmap(aa.free_after, sizeof(*aa.free_after));

	r->unpinned = r->purged = r->was_purged = 0;
	for (i = 0; i < r->owners; i++) {
		memset(&rep, 0, sizeof(rep));
		if (owner_report(&o[i], &rep)) {
			r->unpinned += rep.unpinned_pages * page_size();
			r->purged += rep.purged_pages * page_size();
			r->was_purged += rep.was_purged;
		} else {
			rep.failed = 1;
		}
		EXPECT_EQ(0, rep.failed) {
			TH_LOG("owner %u: %s", i, rep.why);
		}
		EXPECT_EQ(0, owner_reap(&o[i]));
	}
	ooms = kmsg_oom_reports(kmsg, oom, sizeof(oom));
	close(kmsg);

	ksft_print_msg("%u owner(s), %" PRIu64 " MiB unpinned, %lld MiB available, %zu MiB allocated by %u thread(s) in %.1f s: %" PRIu64 " MiB purged, %" PRIu64 " ranges pinned WAS_PURGED\n",
		       r->owners, r->unpinned / MIB, r->available / MIB,
		       aa.bytes / MIB, r->threads, r->seconds, r->purged / MIB,
		       r->was_purged);
	ASSERT_EQ(0, ooms) {
		TH_LOG("the OOM killer fired while unpinned ashmem was left: %s", oom);
	}
	ASSERT_EQ(0, status) {
		TH_LOG("the allocating process %s", status == 128 + SIGKILL ?
		       "was killed, likely by the OOM killer" : "failed");
	}
}

/* ======================================================== global memory */

FIXTURE(global) {
	size_t mem_total;
};

/*
 * owners: processes with a region each; threads: of the allocator;
 * layout: how each region is unpinned.
 */
FIXTURE_VARIANT(global) {
	unsigned int owners;
	unsigned int threads;
	enum layout layout;
};

FIXTURE_VARIANT_ADD(global, one_range) {
	.owners = 1, .threads = 1, .layout = ONE_RANGE,
};

FIXTURE_VARIANT_ADD(global, small_ranges) {
	.owners = 1, .threads = 1, .layout = SMALL_RANGES,
};

FIXTURE_VARIANT_ADD(global, four_owners) {
	.owners = 4, .threads = 1, .layout = ONE_RANGE,
};

FIXTURE_VARIANT_ADD(global, two_allocating_threads) {
	.owners = 1, .threads = 2, .layout = ONE_RANGE,
};

FIXTURE_SETUP(global)
{
	long swap_kb = meminfo_kb("SwapTotal");

	if (swap_kb != 0)
		SKIP(return, "the machine has swap (%ld kB): pages could be swapped out, not purged",
		     swap_kb);
	self->mem_total = (size_t)meminfo_kb("MemTotal") * 1024;
	ASSERT_LT(0, (long)(self->mem_total / MIB));
	ASSERT_LT(0, high_watermarks()) {
		TH_LOG("no zone's high watermark in /proc/zoneinfo: cannot tell what is free");
	}
}

FIXTURE_TEARDOWN(global)
{
}

/*
 * Half of RAM unpinned (but for a page between ranges and at the end),
 * then an allocation of what is free above the zones' high watermarks
 * plus a quarter of that: the
 * shrinker must purge in time, round after round, whoever holds the
 * regions and however many tasks reclaim at once.
 */
TEST_F_TIMEOUT(global, oom_killer_never_fires, 1800)
{
	unsigned int i, rounds = pressure_rounds();
	struct round r;

	for (i = 0; i < rounds; i++) {
		r = (struct round){
			.owners = variant->owners,
			.threads = variant->threads,
			.layout = variant->layout,
			.region = page_round(self->mem_total / 2 / variant->owners),
		};
		ksft_print_msg("round %u of %u\n", i + 1, rounds);
		pressure_round(_metadata, &r);
		if (_metadata->exit_code)
			return;
		ASSERT_LT(0, r.purged) {
			TH_LOG("the allocation needed more than was free, yet nothing was purged");
		}
	}
}

/*
 * One round of the one-range case, measured: the shrinker purges about
 * what reclaim had to find (the allocation less what it took from free
 * memory), in pieces, not the whole range.
 */
TEST_F_TIMEOUT(global, purges_about_what_reclaim_needs, 600)
{
	struct round r = {
		.owners = variant->owners,
		.threads = variant->threads,
		.layout = variant->layout,
		.region = page_round(self->mem_total / 2 / variant->owners),
	};
	long long needed;

	if (variant->layout != ONE_RANGE || variant->owners != 1 ||
	    variant->threads != 1)
		SKIP(return, "measured on the one-range case only");

	pressure_round(_metadata, &r);
	needed = r.needed;
	ksft_print_msg("reclaim had to find %lld MiB, purged %" PRIu64 " MiB\n",
		       needed / MIB, r.purged / MIB);
	ASSERT_LE(needed - SLACK_BELOW_HOST, (long long)r.purged) {
		TH_LOG("purged less than the allocation needed");
	}
	ASSERT_GE(2 * needed + SLACK, (long long)r.purged) {
		TH_LOG("purged more than twice what the allocation needed");
	}
}

/* ======================================================= memory cgroups */

FIXTURE(memcg) {
	char dir[PATH_MAX];
};

FIXTURE_SETUP(memcg)
{
	char controllers[256];
	int err;

	self->dir[0] = '\0';
	if (meminfo_kb("SwapTotal") != 0)
		SKIP(return, "the machine has swap: pages could be swapped out, not purged");
	if (read_text_file(CG_ROOT "/cgroup.controllers", controllers,
			   sizeof(controllers)) < 0 ||
	    !has_word(controllers, "memory"))
		SKIP(return, "no cgroup v2 memory controller at %s", CG_ROOT);
	err = cg_write(CG_ROOT, "cgroup.subtree_control", "+memory");
	ASSERT_EQ(0, err) {
		TH_LOG("cannot enable the memory controller: %s", errname(err));
	}
	snprintf(self->dir, sizeof(self->dir), CG_ROOT "/ashmem-pressure-%d",
		 (int)getpid());
	ASSERT_EQ(0, mkdir(self->dir, 0755)) {
		TH_LOG("mkdir %s: %s", self->dir, errname(errno));
	}
	ASSERT_EQ(0, cg_write(self->dir, "memory.max", "100663296"));
	cg_write(self->dir, "memory.swap.max", "0");
}

FIXTURE_TEARDOWN(memcg)
{
	if (self->dir[0])
		cg_destroy(self->dir);
}

/*
 * A container at its limit that needs a little more loses about that much
 * of its unpinned ashmem, not all of it: memcg reclaim does not count what
 * a shrinker frees, so the driver has to stop by itself.
 */
TEST_F_TIMEOUT(memcg, purges_about_what_the_cgroup_needs, 600)
{
	struct round r = {
		.owners = 1,
		.threads = 1,
		.layout = ONE_RANGE,
		.cgroup = self->dir,
		.region = CG_REGION,
		.alloc = CG_ALLOC,
	};
	long long needed;

	_Static_assert(CG_LIMIT == 100663296, "memory.max above is CG_LIMIT");
	pressure_round(_metadata, &r);
	needed = r.needed;
	ksft_print_msg("the cgroup needed %lld KiB beyond its limit, purged %" PRIu64 " KiB\n",
		       needed / 1024, r.purged / 1024);
	ASSERT_LT(0, needed) {
		TH_LOG("the allocation fit under memory.max: nothing was tested");
	}
	ASSERT_LE(needed - SLACK_BELOW_CGROUP, (long long)r.purged) {
		TH_LOG("purged less than the cgroup needed");
	}
	ASSERT_GE(2 * needed + SLACK, (long long)r.purged) {
		TH_LOG("purged more than twice what the cgroup needed");
	}
}

TEST_HARNESS_MAIN
