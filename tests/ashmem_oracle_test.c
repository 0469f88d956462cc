// SPDX-License-Identifier: GPL-2.0-only
/*
 * A stress test with a data oracle: PROCS processes of THREADS threads each
 * share regions (inherited over fork, and passed with SCM_RIGHTS) for
 * reliability_seconds(), mapping and unmapping them, writing, unpinning and
 * pinning random ranges, purging and closing, and check at every step that
 * no data was lost:
 *
 * - a pinned page holds the last value written to it;
 * - an unpinned page holds its last value or zeros (a purge);
 * - a PIN that returns NOT_PURGED finds every page of its range intact; one
 *   that returns WAS_PURGED finds each page intact or zero, and at least
 *   one of the pages it pinned again zero.
 *
 * Ownership makes the oracle exact. Each region has WORKERS * OWN_PAGES
 * pages, and worker w (one thread) owns pages [w * OWN_PAGES, +OWN_PAGES):
 * it alone writes, pins and unpins them, so it knows what each must hold.
 * Workers' adjacent unpinned ranges merge in the driver and are split by
 * their PINs, which is the range tree's hard case. Each thread has its own
 * dup()ed fd and its own mapping of every region, so that its munmap() or
 * close() never pulls memory from under another thread.
 *
 * A worker only ever unpins pages that are all pinned. The driver marks a
 * new range purged when it absorbs an overlapping purged one (as Android
 * does), so unpinning again pages already unpinned could make a later PIN
 * say WAS_PURGED over pages that kept their data, of this worker or of a
 * neighbour whose range was absorbed. Without that, WAS_PURGED always
 * comes from a real purge, and a purged page reads zero until written.
 *
 * One test purges with PURGE_ALL_CACHES only; the other puts the workers in
 * a memory cgroup whose memory.high a hog process keeps crossing, so that
 * reclaim runs the driver's shrinker, and never calls PURGE_ALL_CACHES: its
 * purges all come from reclaim. memory.high throttles and reclaims but
 * never OOM-kills, and an OOM anywhere fails the run. A run that has seen
 * no purge by its deadline goes on until it does, for a bounded time, and
 * fails if none comes: it would have checked nothing.
 */
#define _GNU_SOURCE
#include <limits.h>
#include <pthread.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include "kselftest_harness.h"
#include "ashmem_util.h"
#include "ashmem_cgroup.h"

#define MIB		(1024 * 1024)

/*
 * One load of a word that a purge may zero while it is read (as in
 * tools/include/linux/compiler.h): the compiler must not load it twice.
 */
#define READ_ONCE(x)	(*(const volatile typeof(x) *)&(x))

/*
 * 3 processes x 2 threads: enough to share every region across processes
 * and threads, few enough that the debug kernel under TCG still does
 * thousands of steps a minute.
 */
#define PROCS		3
#define THREADS		2
#define WORKERS		(PROCS * THREADS)
#define OWN_PAGES	16
#define REGION_PAGES	(WORKERS * OWN_PAGES)
/* Shared regions: made before fork, then after it and sent over a socket. */
#define INHERITED	2
#define SENT		2
#define SLOTS		(INHERITED + SENT)

/*
 * The cgroup's memory.high, and the hog: it holds HOG_BASE and in rounds
 * touches up to HOG_TOP more, ending each round as soon as reclaim for
 * memory.high has run (memory.events "high" grew), so that the overage,
 * and the throttling it costs the workers, stays small, and a round is
 * short (touching a MiB costs some 20 ms under TCG).
 */
#define CG_HIGH		(32 * MIB)
#define HOG_BASE	(24 * MIB)
#define HOG_TOP		(32 * MIB)
/* After the first reclaim, a little more: a few more reclaim passes. */
#define HOG_EXTRA	MIB

/*
 * A run that has seen no PIN say WAS_PURGED by its deadline has checked no
 * purge: it goes on until one does, for up to this much longer. Reclaim
 * under a slow (debug, TCG) kernel may take that long to reach the driver.
 */
#define GRACE_SECONDS	120

/* A worker that has not ended this long after its last moment hangs. */
#define HANG_SECONDS	120

/* ============================================================== counters */

/* What one worker did; it alone writes its copy, the parent sums them. */
struct oracle_counts {
	unsigned long long ops;
	unsigned long long checks;
	unsigned long long pages_checked;
	unsigned long long pins_was_purged;
	unsigned long long purge_all_pages;
	unsigned long long violations;
	unsigned long long errors;
};

/* Shared (MAP_SHARED) between the test and its processes. */
struct oracle_shared {
	struct oracle_counts worker[WORKERS];
	unsigned long long hog_rounds;
	unsigned long long hog_high_events;
	struct cg_memory hog_saw;	/* the cgroup as the hog last saw reclaim */
};

/*
 * Totals over both tests, for the one figures line the last test prints:
 * the harness runs each test in its own child, so they meet only here.
 */
struct oracle_totals {
	struct oracle_counts sum;
	unsigned int seconds;
};

static struct oracle_totals *totals;

__attribute__((constructor)) static void totals_init(void)
{
	void *p = mmap(NULL, sizeof(*totals), PROT_READ | PROT_WRITE,
		       MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	totals = p == MAP_FAILED ? NULL : p;
}

static void counts_add(struct oracle_counts *to, const struct oracle_counts *c)
{
	to->ops += c->ops;
	to->checks += c->checks;
	to->pages_checked += c->pages_checked;
	to->pins_was_purged += c->pins_was_purged;
	to->purge_all_pages += c->purge_all_pages;
	to->violations += c->violations;
	to->errors += c->errors;
}

/* ================================================================ PRNG */

/* splitmix64: one 64-bit state per thread, so a seed replays its choices. */
static uint64_t rng_next(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static unsigned int rng_below(uint64_t *state, unsigned int n)
{
	return (unsigned int)(rng_next(state) % n);
}

static uint64_t oracle_seed(void)
{
	const char *s = getenv("ASHMEM_ORACLE_SEED");

	if (s && *s)
		return strtoull(s, NULL, 0);
	return (uint64_t)time(NULL) * 2654435761u ^ (uint64_t)getpid();
}

/* ============================================================== cgroups */

/*
 * A fresh child of the root with the memory controller and memory.high at
 * CG_HIGH, in @dir; NULL and the reason in @why when there can be none.
 */
static bool cg_create_high(char *dir, size_t size, const char **why)
{
	char controllers[512], value[32];

	*why = NULL;
	if (geteuid())
		*why = "creating cgroups needs root";
	else if (read_text_file(CG_ROOT "/cgroup.controllers", controllers,
				sizeof(controllers)) < 0)
		*why = "cgroup2 is not mounted at " CG_ROOT;
	else if (!has_word(controllers, "memory"))
		*why = "the memory controller is not available";
	else if (cg_write(CG_ROOT, "cgroup.subtree_control", "+memory"))
		*why = "cannot enable the memory controller for child cgroups";
	if (*why)
		return false;

	snprintf(dir, size, "%s/ashmem-oracle-%d", CG_ROOT, (int)getpid());
	if (mkdir(dir, 0755)) {
		*why = "cannot create the cgroup";
		return false;
	}
	snprintf(value, sizeof(value), "%d", CG_HIGH);
	if (cg_write(dir, "memory.high", value)) {
		cg_destroy(dir);
		*why = "cannot set memory.high";
		return false;
	}
	/* Should the guest have swap, purging must stay the only way out. */
	cg_write(dir, "memory.swap.max", "0");
	return true;
}

/* ================================================================ the run */

/* What every process of one run knows; set before the first fork. */
struct oracle_run {
	struct oracle_shared *sh;
	const char *cg;		/* the cgroup to join, or NULL */
	bool purge_all;		/* may workers call PURGE_ALL_CACHES? */
	double deadline;	/* monotonic_seconds() to stop at */
	double grace_end;	/* the latest, if no purge was seen by then */
	uint64_t seed;
	size_t page;
	int inherited[INHERITED];
};

/* One region as one worker sees it. */
struct slot {
	int fd;			/* this thread's own fd */
	unsigned int id;	/* for messages: < SLOTS shared, else private */
	uint8_t *map;		/* this thread's mapping, or NULL */
	unsigned int map_first;	/* first region page mapped */
	unsigned int map_pages;
	uint64_t tag[OWN_PAGES];	/* what each own page holds; 0: zeros */
	bool pinned[OWN_PAGES];
};

struct worker {
	const struct oracle_run *run;
	struct oracle_counts *cnt;
	unsigned int id;
	unsigned int own;	/* first page owned in every region */
	unsigned int next_private;
	uint64_t rng;
	uint64_t seq;
	uint64_t *buf;		/* a page, for pread() */
	struct slot slot[SLOTS];
	bool stop;
};

/*
 * A value never written before, never zero, naming the worker and the page
 * so that a page seen at the wrong place shows whose it was.
 */
static uint64_t next_tag(struct worker *w, unsigned int i)
{
	return (uint64_t)(w->id + 1) << 56 | (uint64_t)i << 40 |
	       (++w->seq & 0xffffffffffull);
}

static size_t words_per_page(const struct worker *w)
{
	return w->run->page / sizeof(uint64_t);
}

/* A broken rule: count it, and end this worker (its model is no more). */
static void violated(struct worker *w)
{
	w->cnt->violations++;
	w->stop = true;
}

/* Lost data: which word of which page, what it should hold and holds. */
static void lost(struct worker *w, struct slot *s, unsigned int i,
		 const char *rule, uint64_t expected, uint64_t found,
		 size_t word)
{
	fprintf(stderr,
		"# oracle: VIOLATION worker %u region %u page %u word %zu: %s: expected %#llx, found %#llx\n",
		w->id, s->id, w->own + i, word, rule,
		(unsigned long long)expected, (unsigned long long)found);
	violated(w);
}

/* An ioctl's answer contradicts the model for own pages [@i, +@count). */
static void wrong(struct worker *w, struct slot *s, unsigned int i,
		  unsigned int count, const char *rule)
{
	fprintf(stderr, "# oracle: VIOLATION worker %u region %u pages %u-%u: %s\n",
		w->id, s->id, w->own + i, w->own + i + count - 1, rule);
	violated(w);
}

/* A call that had to work did not: not lost data, but a failure too. */
static void fail_call(struct worker *w, struct slot *s, const char *what, int ret)
{
	fprintf(stderr, "# oracle: worker %u region %u: %s returned %d (%s)\n",
		w->id, s->id, what, ret, errname(errno));
	w->cnt->errors++;
	w->stop = true;
}

/* ================================================== reading and writing */

static bool page_mapped(const struct slot *s, unsigned int page)
{
	return s->map && page >= s->map_first &&
	       page < s->map_first + s->map_pages;
}

static void slot_unmap(struct worker *w, struct slot *s)
{
	if (s->map)
		munmap(s->map, (size_t)s->map_pages * w->run->page);
	s->map = NULL;
}

/* Map region pages [@first, +@pages) of @s for this thread alone. */
static bool slot_map(struct worker *w, struct slot *s, unsigned int first,
		     unsigned int pages)
{
	size_t page = w->run->page;
	void *p;

	slot_unmap(w, s);
	p = mmap(NULL, (size_t)pages * page, PROT_READ | PROT_WRITE,
		 MAP_SHARED, s->fd, (off_t)first * page);
	if (p == MAP_FAILED) {
		fail_call(w, s, "mmap", -1);
		return false;
	}
	s->map = p;
	s->map_first = first;
	s->map_pages = pages;
	return true;
}

/*
 * The words of own page @i: in the mapping when it covers the page (read
 * in place, so a purge racing the check is seen as it happens), else read
 * with pread(), which goes through the backing file's read_iter.
 */
static const uint64_t *page_words(struct worker *w, struct slot *s,
					   unsigned int i)
{
	unsigned int page = w->own + i;
	size_t size = w->run->page;
	ssize_t n;

	if (page_mapped(s, page))
		return (const uint64_t *)(s->map + (size_t)(page - s->map_first) * size);
	n = pread(s->fd, w->buf, size, (off_t)page * size);
	if (n != (ssize_t)size) {
		fail_call(w, s, "pread", (int)n);
		return NULL;
	}
	return w->buf;
}

/*
 * Index of the first word that is neither @a nor @b, or -1; the word in
 * @found (read once: an unpinned page can change under the reader).
 */
static ssize_t word_not(const uint64_t *p, size_t n, uint64_t a,
			uint64_t b, uint64_t *found)
{
	size_t k;

	for (k = 0; k < n; k++) {
		*found = READ_ONCE(p[k]);
		if (*found != a && *found != b)
			return k;
	}
	return -1;
}

/*
 * Check own page @i against the model. Pinned: every word is its tag.
 * Unpinned: every word is its tag or zero; a purge punching the page while
 * it is read in place shows as tag words, then zero words.
 */
static void check_page(struct worker *w, struct slot *s, unsigned int i)
{
	const uint64_t *p = page_words(w, s, i);
	uint64_t tag = s->tag[i], found;
	ssize_t bad;

	if (!p)
		return;
	w->cnt->pages_checked++;
	if (s->pinned[i]) {
		bad = word_not(p, words_per_page(w), tag, tag, &found);
		if (bad >= 0)
			lost(w, s, i, "a pinned page lost its data", tag,
			     found, bad);
	} else {
		bad = word_not(p, words_per_page(w), tag, 0, &found);
		if (bad >= 0)
			lost(w, s, i, "an unpinned page holds neither its data nor zeros",
			     tag, found, bad);
	}
}

static void op_check(struct worker *w, struct slot *s)
{
	check_page(w, s, rng_below(&w->rng, OWN_PAGES));
	w->cnt->checks++;
}

static void op_check_all(struct worker *w, struct slot *s)
{
	unsigned int i;

	for (i = 0; i < OWN_PAGES && !w->stop; i++)
		check_page(w, s, i);
	w->cnt->checks++;
}

/* Write a new tag over a pinned page; an unpinned page is only checked. */
static void op_write(struct worker *w, struct slot *s)
{
	unsigned int i = rng_below(&w->rng, OWN_PAGES), page = w->own + i;
	size_t k, n = words_per_page(w);
	uint64_t tag, *p;

	if (!s->pinned[i]) {
		op_check(w, s);
		return;
	}
	if (!page_mapped(s, page) && !slot_map(w, s, w->own, OWN_PAGES))
		return;
	p = (uint64_t *)(s->map + (size_t)(page - s->map_first) * w->run->page);
	tag = next_tag(w, i);
	for (k = 0; k < n; k++)
		p[k] = tag;
	s->tag[i] = tag;
}

/* ===================================================== pin and unpin */

/* A random run [*first, +*count) of own pages. */
static void random_run(struct worker *w, unsigned int *first,
		       unsigned int *count)
{
	*first = rng_below(&w->rng, OWN_PAGES);
	*count = 1 + rng_below(&w->rng, OWN_PAGES - *first);
}

/* Unpin a random run of own pages, cut short at the first unpinned one. */
static void op_unpin(struct worker *w, struct slot *s)
{
	size_t page = w->run->page;
	unsigned int first, count, i;
	int ret;

	random_run(w, &first, &count);
	for (i = 0; i < count; i++)
		if (!s->pinned[first + i])
			break;
	if (!i)
		return;
	count = i;
	ret = ashmem_pin_ioctl(s->fd, ASHMEM_UNPIN, (w->own + first) * page,
			       count * page);
	if (ret) {
		fail_call(w, s, "ASHMEM_UNPIN", ret);
		return;
	}
	for (i = first; i < first + count; i++)
		s->pinned[i] = false;
}

/*
 * After PIN: own page @i, unpinned until now, must be whole, and intact
 * unless the PIN said WAS_PURGED. Returns whether it reads zero.
 */
static bool check_repinned(struct worker *w, struct slot *s, unsigned int i,
			   int ret)
{
	const uint64_t *p = page_words(w, s, i);
	uint64_t tag = s->tag[i], first, found;
	ssize_t bad;

	if (!p)
		return false;
	w->cnt->pages_checked++;
	first = p[0];
	if (ret == ASHMEM_NOT_PURGED && first != tag) {
		lost(w, s, i, "PIN returned NOT_PURGED but the page lost its data",
		     tag, first, 0);
		return false;
	}
	if (first != tag && first != 0) {
		lost(w, s, i, "PIN returned WAS_PURGED and the page holds neither its data nor zeros",
		     tag, first, 0);
		return false;
	}
	bad = word_not(p, words_per_page(w), first, first, &found);
	if (bad >= 0) {
		lost(w, s, i, "a page pinned again is partly purged", first,
		     found, bad);
		return false;
	}
	/* From now on the page holds what was read: its data or zeros. */
	s->tag[i] = first;
	return first == 0;
}

/*
 * WAS_PURGED means a purge punched a range overlapping the pages: since no
 * unpinned page is ever written, at least one of those it pinned again
 * must still read zero.
 */
static void pin_verdict(struct worker *w, struct slot *s, unsigned int first,
			unsigned int count, bool was_unpinned,
			unsigned int zeros)
{
	w->cnt->pins_was_purged++;
	if (!was_unpinned)
		wrong(w, s, first, count, "PIN returned WAS_PURGED over pages that were all pinned");
	else if (!zeros)
		wrong(w, s, first, count, "PIN returned WAS_PURGED but every page it pinned again kept its data");
}

/* Pin a random run of own pages, whatever their state, and check them. */
static void op_pin(struct worker *w, struct slot *s)
{
	size_t page = w->run->page;
	unsigned int first, count, i, zeros = 0;
	bool was_unpinned = false;
	int ret;

	random_run(w, &first, &count);
	ret = ashmem_pin_ioctl(s->fd, ASHMEM_PIN, (w->own + first) * page,
			       count * page);
	if (ret != ASHMEM_NOT_PURGED && ret != ASHMEM_WAS_PURGED) {
		fail_call(w, s, "ASHMEM_PIN", ret);
		return;
	}
	for (i = first; i < first + count && !w->stop; i++) {
		if (s->pinned[i]) {
			check_page(w, s, i);
			continue;
		}
		was_unpinned = true;
		zeros += check_repinned(w, s, i, ret);
		s->pinned[i] = true;
	}
	w->cnt->checks++;
	if (ret == ASHMEM_WAS_PURGED && !w->stop)
		pin_verdict(w, s, first, count, was_unpinned, zeros);
}

/* GET_PIN_STATUS of own pages: IS_UNPINNED iff any of them is unpinned. */
static void op_status(struct worker *w, struct slot *s)
{
	size_t page = w->run->page;
	unsigned int first, count, i;
	int ret, expected = ASHMEM_IS_PINNED;

	random_run(w, &first, &count);
	for (i = first; i < first + count; i++)
		if (!s->pinned[i])
			expected = ASHMEM_IS_UNPINNED;
	ret = ashmem_pin_ioctl(s->fd, ASHMEM_GET_PIN_STATUS,
			       (w->own + first) * page, count * page);
	w->cnt->checks++;
	if (ret < 0)
		fail_call(w, s, "ASHMEM_GET_PIN_STATUS", ret);
	else if (ret != expected)
		wrong(w, s, first, count, expected == ASHMEM_IS_PINNED ?
		      "GET_PIN_STATUS said IS_UNPINNED, but every page is pinned" :
		      "GET_PIN_STATUS said IS_PINNED, but a page is unpinned");
}

/* ========================================= mappings, purges, regions */

/* A window at a random page offset, over anyone's pages (only read). */
static void op_remap(struct worker *w, struct slot *s)
{
	unsigned int first = rng_below(&w->rng, REGION_PAGES);

	slot_map(w, s, first, 1 + rng_below(&w->rng, REGION_PAGES - first));
}

static void op_purge_all(struct worker *w, struct slot *s)
{
	int ret = ioctl(s->fd, ASHMEM_PURGE_ALL_CACHES, 0);

	if (ret < 0)
		fail_call(w, s, "ASHMEM_PURGE_ALL_CACHES", ret);
	else
		w->cnt->purge_all_pages += ret;
}

/* Every own page pinned and never written, as a new region has it. */
static void slot_reset_model(struct slot *s)
{
	unsigned int i;

	for (i = 0; i < OWN_PAGES; i++) {
		s->tag[i] = 0;
		s->pinned[i] = true;
	}
}

/*
 * Close this thread's fd of @s (for a shared region, its own unpinned
 * pages stay unpinned in there, which nobody will pin again) and put a new
 * private region in its place: the last close of a region with ranges on
 * the LRU, racing the others' purges.
 */
static void op_replace(struct worker *w, struct slot *s)
{
	size_t size = (size_t)REGION_PAGES * w->run->page;
	char name[64];
	int fd;

	slot_unmap(w, s);
	close(s->fd);
	s->id = SLOTS + (w->id + 1) * 100000 + w->next_private++;
	slot_reset_model(s);
	fd = open(ASHMEM_DEV, O_RDWR | O_CLOEXEC);
	s->fd = fd;
	if (fd < 0) {
		fail_call(w, s, "open", fd);
		return;
	}
	snprintf(name, sizeof(name), "oracle-private-%u", s->id);
	if (ioctl(fd, ASHMEM_SET_NAME, name) || ioctl(fd, ASHMEM_SET_SIZE, size)) {
		fail_call(w, s, "ASHMEM_SET_NAME/SET_SIZE", -1);
		return;
	}
	/* The first mmap creates the backing file PIN and UNPIN need. */
	slot_map(w, s, w->own, OWN_PAGES);
}

/* ============================================================ workers */

enum op {
	OP_WRITE, OP_CHECK, OP_CHECK_ALL, OP_UNPIN, OP_PIN, OP_STATUS,
	OP_REMAP, OP_UNMAP, OP_REPLACE, OP_PURGE_ALL, NR_OPS
};

/* Relative frequencies: mostly data and pins, now and then the rest. */
static const unsigned int op_weight[NR_OPS] = {
	[OP_WRITE] = 24, [OP_CHECK] = 20, [OP_CHECK_ALL] = 3,
	[OP_UNPIN] = 18, [OP_PIN] = 16, [OP_STATUS] = 6,
	[OP_REMAP] = 5, [OP_UNMAP] = 2, [OP_REPLACE] = 1, [OP_PURGE_ALL] = 2,
};

static enum op pick_op(struct worker *w)
{
	unsigned int total = 0, r, op;

	for (op = 0; op < NR_OPS; op++)
		if (op != OP_PURGE_ALL || w->run->purge_all)
			total += op_weight[op];
	r = rng_below(&w->rng, total);
	for (op = 0; op < NR_OPS; op++) {
		if (op == OP_PURGE_ALL && !w->run->purge_all)
			continue;
		if (r < op_weight[op])
			break;
		r -= op_weight[op];
	}
	return op;
}

static void (*const op_fn[NR_OPS])(struct worker *w, struct slot *s) = {
	[OP_WRITE] = op_write, [OP_CHECK] = op_check,
	[OP_CHECK_ALL] = op_check_all, [OP_UNPIN] = op_unpin,
	[OP_PIN] = op_pin, [OP_STATUS] = op_status, [OP_REMAP] = op_remap,
	[OP_UNMAP] = slot_unmap, [OP_REPLACE] = op_replace,
	[OP_PURGE_ALL] = op_purge_all,
};

/* PINs that said WAS_PURGED so far, over every worker of the run. */
static unsigned long long purges_seen(const struct oracle_run *run)
{
	unsigned long long sum = 0;
	unsigned int i;

	for (i = 0; i < WORKERS; i++)
		sum += READ_ONCE(run->sh->worker[i].pins_was_purged);
	return sum;
}

/* Until the deadline, and past it, to grace_end, while no purge was seen. */
static bool run_goes_on(const struct oracle_run *run)
{
	double now = monotonic_seconds();

	return now < run->deadline ||
	       (now < run->grace_end && !purges_seen(run));
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	unsigned int i;

	while (!w->stop && run_goes_on(w->run)) {
		op_fn[pick_op(w)](w, &w->slot[rng_below(&w->rng, SLOTS)]);
		w->cnt->ops++;
	}
	/* A last look at every page: nothing may have been lost meanwhile. */
	for (i = 0; i < SLOTS && !w->stop; i++)
		op_check_all(w, &w->slot[i]);
	for (i = 0; i < SLOTS; i++) {
		slot_unmap(w, &w->slot[i]);
		if (w->slot[i].fd >= 0)
			close(w->slot[i].fd);
	}
	free(w->buf);
	return NULL;
}

/* Worker @id's view of the process's region fds @fds, with its own dups. */
static bool worker_init(struct worker *w, const struct oracle_run *run,
			unsigned int id, const int *fds)
{
	unsigned int i;

	memset(w, 0, sizeof(*w));
	w->run = run;
	w->id = id;
	w->own = id * OWN_PAGES;
	w->cnt = &run->sh->worker[id];
	w->rng = run->seed ^ (uint64_t)(id + 1) * 0x9e3779b97f4a7c15ull;
	w->buf = malloc(run->page);
	for (i = 0; i < SLOTS; i++) {
		w->slot[i].id = i;
		w->slot[i].fd = fcntl(fds[i], F_DUPFD_CLOEXEC, 0);
		slot_reset_model(&w->slot[i]);
		if (w->slot[i].fd < 0)
			return false;
	}
	return w->buf != NULL;
}

/*
 * One process of workers: joins the cgroup, receives the regions made
 * after fork, and runs THREADS workers until the deadline. Exit status 0
 * when none saw lost data or an error.
 */
static int proc_main(const struct oracle_run *run, unsigned int proc, int sock)
{
	struct worker w[THREADS];
	pthread_t th[THREADS];
	int fds[SLOTS], err, i, bad = 0;

	if (run->cg) {
		err = cg_enter(run->cg);
		CHILD_CHECK(!err, "cannot join %s: %s", run->cg, errname(err));
	}
	memcpy(fds, run->inherited, sizeof(run->inherited));
	CHILD_CHECK(!recv_fds(sock, fds + INHERITED, SENT),
		    "no regions received over the socket: %s", errname(errno));
	close(sock);
	for (i = 0; i < THREADS; i++) {
		CHILD_CHECK(worker_init(&w[i], run, proc * THREADS + i, fds),
			    "worker set-up failed: %s", errname(errno));
		err = pthread_create(&th[i], NULL, worker_main, &w[i]);
		CHILD_CHECK(!err, "pthread_create: %s", errname(err));
	}
	/* From here on each region lives on through the threads' fds only. */
	for (i = 0; i < SLOTS; i++)
		close(fds[i]);
	for (i = 0; i < THREADS; i++) {
		pthread_join(th[i], NULL);
		bad |= w[i].cnt->violations || w[i].cnt->errors;
	}
	return bad;
}

/* ================================================================ hog */

/* Fault in every page of [@p, +@len): each is charged to the cgroup. */
static void touch(uint8_t *p, size_t len, size_t page)
{
	size_t off;

	for (off = 0; off < len; off += page)
		p[off] = 1;
}

/*
 * One round: touch anonymous memory a MiB at a time until reclaim for
 * memory.high has run, then HOG_EXTRA more, and free it all. Returns how
 * many times reclaim for memory.high ran meanwhile.
 */
static long long hog_round(const struct oracle_run *run)
{
	long long high0 = cg_read_key(run->cg, "memory.events", "high");
	size_t len = HOG_TOP, done;
	uint8_t *p;

	p = mmap(NULL, HOG_TOP, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return -1;
	for (done = 0; done < len; done += MIB) {
		touch(p + done, MIB, run->page);
		if (len == HOG_TOP &&
		    cg_read_key(run->cg, "memory.events", "high") > high0) {
			cg_memory_read(run->cg, &run->sh->hog_saw);
			len = done + MIB + HOG_EXTRA < HOG_TOP ?
			      done + MIB + HOG_EXTRA : HOG_TOP;
		}
	}
	munmap(p, HOG_TOP);
	return cg_read_key(run->cg, "memory.events", "high") - high0;
}

/*
 * Keep the cgroup crossing memory.high: hold HOG_BASE, then in rounds grow
 * past memory.high and shrink back. There is no swap, so reclaim can give
 * back only purged ashmem (and page cache): it calls the driver's shrinker
 * every round.
 */
static int hog_main(const struct oracle_run *run)
{
	long long events;
	uint8_t *base;
	int err;

	err = cg_enter(run->cg);
	CHILD_CHECK(!err, "hog cannot join %s: %s", run->cg, errname(err));
	base = mmap(NULL, HOG_BASE, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHILD_CHECK(base != MAP_FAILED, "hog mmap: %s", errname(errno));
	touch(base, HOG_BASE, run->page);
	while (run_goes_on(run)) {
		events = hog_round(run);
		CHILD_CHECK(events >= 0, "hog mmap: %s", errname(errno));
		run->sh->hog_rounds++;
		run->sh->hog_high_events += events;
	}
	munmap(base, HOG_BASE);
	return 0;
}

/* ============================================================ fixture */

FIXTURE(oracle) {
	char cg[PATH_MAX];
	bool have_cg;
	int sock[PROCS][2];
	pid_t pid[PROCS + 1];	/* the processes, then the hog */
	int status[PROCS + 1];	/* how each ended */
	int npid;
	struct oracle_run run;
};

FIXTURE_SETUP(oracle)
{
	int i;

	self->have_cg = false;
	self->npid = 0;
	for (i = 0; i < PROCS; i++)
		self->sock[i][0] = self->sock[i][1] = -1;
	memset(&self->run, 0, sizeof(self->run));
	for (i = 0; i < INHERITED; i++)
		self->run.inherited[i] = -1;
	self->run.page = page_size();
	self->run.sh = mmap(NULL, sizeof(*self->run.sh), PROT_READ | PROT_WRITE,
			    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, self->run.sh);
	ASSERT_NE(NULL, totals);
}

FIXTURE_TEARDOWN(oracle)
{
	int i;

	/* Only after a failed ASSERT are any of these still alive. */
	for (i = 0; i < self->npid; i++)
		if (self->pid[i] > 0 && !kill(self->pid[i], SIGKILL))
			waitpid(self->pid[i], NULL, 0);
	for (i = 0; i < PROCS; i++) {
		if (self->sock[i][0] >= 0)
			close(self->sock[i][0]);
		if (self->sock[i][1] >= 0)
			close(self->sock[i][1]);
	}
	for (i = 0; i < INHERITED; i++)
		if (self->run.inherited[i] >= 0)
			close(self->run.inherited[i]);
	if (self->have_cg)
		cg_destroy(self->cg);
	if (self->run.sh != MAP_FAILED)
		munmap(self->run.sh, sizeof(*self->run.sh));
}

/* A shared region with its backing file, so PIN and UNPIN work at once. */
static int shared_region(struct __test_metadata *_metadata, unsigned int id)
{
	size_t size = (size_t)REGION_PAGES * page_size();
	char name[32];
	int fd;

	snprintf(name, sizeof(name), "oracle-shared-%u", id);
	fd = ashmem_assert_create(_metadata, name, size);
	munmap(ashmem_assert_mmap(_metadata, fd, size, PROT_READ | PROT_WRITE,
				  MAP_SHARED, 0), size);
	return fd;
}

static pid_t spawn(struct __test_metadata *_metadata,
		   FIXTURE_DATA(oracle) *self, int proc)
{
	pid_t pid;

	fflush(stdout);
	fflush(stderr);
	pid = fork();
	ASSERT_LE(0, pid) {
		TH_LOG("fork failed: %s", errname(errno));
	}
	if (!pid) {
		if (proc < 0)
			_exit(hog_main(&self->run));
		close(self->sock[proc][0]);
		_exit(proc_main(&self->run, proc, self->sock[proc][1]));
	}
	self->pid[self->npid++] = pid;
	return pid;
}

/* Fork the workers, then make the SENT regions and send them over. */
static void start_workers(struct __test_metadata *_metadata,
			  FIXTURE_DATA(oracle) *self)
{
	int sent[SENT], p, i;

	for (i = 0; i < INHERITED; i++)
		self->run.inherited[i] = shared_region(_metadata, i);
	for (p = 0; p < PROCS; p++) {
		ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0,
					self->sock[p]));
		spawn(_metadata, self, p);
		close(self->sock[p][1]);
		self->sock[p][1] = -1;
	}
	for (i = 0; i < SENT; i++)
		sent[i] = shared_region(_metadata, INHERITED + i);
	for (p = 0; p < PROCS; p++)
		ASSERT_EQ(0, send_fds(self->sock[p][0], sent, SENT)) {
			TH_LOG("sending the regions to process %d failed: %s",
			       p, errname(errno));
		}
	/* The test keeps no region: each lives as long as its workers. */
	for (i = 0; i < SENT; i++)
		close(sent[i]);
	for (i = 0; i < INHERITED; i++) {
		close(self->run.inherited[i]);
		self->run.inherited[i] = -1;
	}
}

/* Wait for @pid until @limit: whether it ended, and how in @status. */
static bool wait_until(pid_t pid, int *status, double limit)
{
	pid_t ret;

	while (!(ret = waitpid(pid, status, WNOHANG)) &&
	       monotonic_seconds() < limit)
		usleep(20000);
	return ret == pid;
}

/*
 * Wait for every process, for up to HANG_SECONDS past the run's grace, and
 * keep how each ended (-1: it hung). A hung one is killed, but not waited
 * for long: a task stuck in the driver may never die.
 */
static void wait_all(FIXTURE_DATA(oracle) *self)
{
	double limit = self->run.grace_end + HANG_SECONDS;
	int i;

	for (i = 0; i < self->npid; i++) {
		if (!wait_until(self->pid[i], &self->status[i], limit)) {
			self->status[i] = -1;
			kill(self->pid[i], SIGKILL);
			wait_until(self->pid[i], NULL, monotonic_seconds() + 5);
		}
		self->pid[i] = 0;
	}
}

/* Each process must have ended on its own, with exit status 0. */
static void assert_exits(struct __test_metadata *_metadata,
			 FIXTURE_DATA(oracle) *self)
{
	int i, status;

	for (i = 0; i < self->npid; i++) {
		const char *who = i < PROCS ? "worker process" : "hog";

		status = self->status[i];
		ASSERT_NE(-1, status) {
			TH_LOG("%s %d did not end %d s after its grace: a hang in the driver?",
			       who, i, HANG_SECONDS);
		}
		ASSERT_FALSE(WIFSIGNALED(status)) {
			TH_LOG("%s %d was killed by signal %d (%s)", who, i,
			       WTERMSIG(status), strsignal(WTERMSIG(status)));
		}
		ASSERT_EQ(0, WEXITSTATUS(status)) {
			TH_LOG("%s %d failed (exit %d): see its messages above",
			       who, i, WEXITSTATUS(status));
		}
	}
}

/* The driver's counters in debugfs; -1 each without debugfs. */
struct shrinker_stats {
	long long scans;
	long long freed;
};

static struct shrinker_stats shrinker_stats(void)
{
	return (struct shrinker_stats){
		.scans = flat_key(ASHMEM_DEBUGFS_STATS, "shrinker_scans"),
		.freed = flat_key(ASHMEM_DEBUGFS_STATS, "shrinker_freed"),
	};
}

/*
 * What reclaim had to work with, should a run see no purge: the driver's
 * shrinker calls, and the cgroup's memory as the hog last saw reclaim run.
 */
static void print_reclaim_state(const struct oracle_run *run,
				const struct shrinker_stats *before)
{
	const struct cg_memory *m = &run->sh->hog_saw;
	struct shrinker_stats after = shrinker_stats();

	if (before->scans >= 0 && after.scans >= 0)
		ksft_print_msg("oracle memcg: shrinker scans %lld, pages purged by it %lld\n",
			       after.scans - before->scans,
			       after.freed - before->freed);
	ksft_print_msg("oracle memcg: at reclaim the cgroup held %lld KiB (memory.high %d): anon %lld, shmem %lld, file %lld, kernel %lld KiB; memory.peak %lld KiB\n",
		       m->current / 1024, CG_HIGH / 1024, m->anon / 1024,
		       m->shmem / 1024, m->file / 1024, m->kernel / 1024,
		       cg_read_ll(run->cg, "memory.peak") / 1024);
}

static void print_figures(const struct oracle_counts *c, unsigned int seconds)
{
	ksft_print_msg("ashmem-figures: oracle bits=%zu seconds=%u ops=%llu checks=%llu pages_checked=%llu pins_was_purged=%llu purge_all_pages=%llu violations=%llu\n",
		       sizeof(long) * 8, seconds, c->ops, c->checks,
		       c->pages_checked, c->pins_was_purged,
		       c->purge_all_pages, c->violations);
}

/*
 * Run the workers (and the hog, with a cgroup) for reliability_seconds(),
 * then add up what they did. With @last, print the figures line for both
 * tests.
 */
static void run_oracle(struct __test_metadata *_metadata,
		       FIXTURE_DATA(oracle) *self, const char *what, bool last)
{
	unsigned int seconds = reliability_seconds(), i;
	struct oracle_counts sum = { 0 };
	struct shrinker_stats before;
	double start;

	self->run.seed = oracle_seed();
	ksft_print_msg("oracle %s: %u s, %d processes x %d threads, seed %llu (ASHMEM_ORACLE_SEED replays the choices; timing differs)\n",
		       what, seconds, PROCS, THREADS,
		       (unsigned long long)self->run.seed);
	before = shrinker_stats();
	start = monotonic_seconds();
	self->run.deadline = start + seconds;
	self->run.grace_end = self->run.deadline + GRACE_SECONDS;
	start_workers(_metadata, self);
	if (self->run.cg)
		spawn(_metadata, self, -1);
	wait_all(self);

	for (i = 0; i < WORKERS; i++)
		counts_add(&sum, &self->run.sh->worker[i]);
	counts_add(&totals->sum, &sum);
	totals->seconds += seconds;
	ksft_print_msg("oracle %s: ran %.0f s, ops %llu checks %llu pages checked %llu PIN WAS_PURGED %llu PURGE_ALL pages %llu hog rounds %llu memory.high reclaims %llu violations %llu errors %llu\n",
		       what, monotonic_seconds() - start, sum.ops, sum.checks, sum.pages_checked,
		       sum.pins_was_purged, sum.purge_all_pages,
		       self->run.sh->hog_rounds, self->run.sh->hog_high_events,
		       sum.violations, sum.errors);
	if (self->run.cg)
		print_reclaim_state(&self->run, &before);
	if (last)
		print_figures(&totals->sum, totals->seconds);

	assert_exits(_metadata, self);
	ASSERT_EQ(0, sum.violations) {
		TH_LOG("data was lost: see the VIOLATION lines above");
	}
	ASSERT_EQ(0, sum.errors);
	if (self->run.cg)
		ASSERT_LT(0, self->run.sh->hog_high_events) {
			TH_LOG("the hog never pushed %s over memory.high: no reclaim, nothing tested",
			       self->run.cg);
		}
	ASSERT_LT(0, sum.pins_was_purged) {
		TH_LOG("no PIN ever returned WAS_PURGED: nothing was purged while unpinned, so the oracle checked no purge");
	}
}

/* Purges come from PURGE_ALL_CACHES only: no memory pressure. */
TEST_F_TIMEOUT(oracle, purge_all_caches_loses_no_data, RELIABILITY_TIMEOUT)
{
	self->run.purge_all = true;
	run_oracle(_metadata, self, "purge_all", false);
}

/*
 * Purges come from reclaim only: the workers and a hog share a cgroup the
 * hog keeps pushing over memory.high. Without a memory cgroup, say so and
 * purge with PURGE_ALL_CACHES instead.
 */
TEST_F_TIMEOUT(oracle, memcg_reclaim_loses_no_data, RELIABILITY_TIMEOUT)
{
	const char *why;

	self->have_cg = cg_create_high(self->cg, sizeof(self->cg), &why);
	if (self->have_cg) {
		self->run.cg = self->cg;
	} else {
		ksft_print_msg("no memory cgroup (%s): running without the hog, purging with PURGE_ALL_CACHES\n",
			       why);
		self->run.purge_all = true;
	}
	run_oracle(_metadata, self, "memcg", true);
}

TEST_HARNESS_MAIN
