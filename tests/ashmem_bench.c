// SPDX-License-Identifier: GPL-2.0-only
/*
 * ashmem_bench: what /dev/ashmem costs on the kernel it runs on.
 *
 * Nine figures, each measured by one function below:
 *
 *  1. lifecycle: open /dev/ashmem, SET_NAME, SET_SIZE (64 KiB), mmap,
 *     write one page, munmap, close; against memfd_create, ftruncate, mmap,
 *     write, munmap, close. Blocks of both alternate (ABBA) within each
 *     repetition, so drift cancels out of the ratio. As a control, the
 *     memfd cycle plus an open() and close() of /dev/null: what opening
 *     any device node adds, which the ashmem ABI requires and memfd skips.
 *     Then a block of ashmem and of control cycles per repetition with each
 *     syscall step timed on its own (less the timer's cost): which step
 *     costs more than its memfd counterpart.
 *  2. ASHMEM_GET_SIZE: the floor of any ioctl of the driver.
 *  3. UNPIN+PIN of one page against 1..10000 other unpinned ranges in the
 *     same region (every other page, so they cannot merge); interleaved
 *     with figure 2 in each repetition, so the ratios compare like with
 *     like.
 *  4. the same pair on one thread, then on two threads on two CPUs, each
 *     with a region of its own: aggregate pairs per second. Two controls
 *     that share nothing (GET_SIZE, a userspace loop) show whether the
 *     machine ran two CPUs at once at all.
 *  5. the latency of single pairs, idle and while a thread on the other CPU
 *     writes a 64 MiB region, unpins it and calls ASHMEM_PURGE_ALL_CACHES,
 *     again and again; as a control, while it writes and punches a memfd.
 *  6. slab bytes per region, read from a child memory cgroup's memory.stat
 *     around opening 10000 regions (and 10000 named, sized ones); opening
 *     /dev/null as often is the baseline of what any open file costs.
 *  7. ASHMEM_PURGE_ALL_CACHES of 128 MiB unpinned in 2048 ranges, against
 *     punching the same 2048 holes in a memfd with fallocate(); as a
 *     control, the same ranges purged one PURGE_ALL_CACHES call at a time.
 *  8. the shrinker: a child in a cgroup with memory.max holds unpinned
 *     ashmem, then allocates anonymous memory that only purging can make
 *     room for; pages purged, pages purged per second of allocation, and
 *     pages purged per page the cgroup needed.
 *  9. the host short of memory: half of RAM unpinned in one range, then a
 *     child touches what is available plus a quarter of that range: the
 *     time from the child's start to the first purged page, pages purged
 *     per page needed, and the child's worst stall between two 64 KiB
 *     steps while the range is purged.
 *
 * Times are medians over the repetitions (-r); each ratio is the median of
 * ratios taken within one repetition. In the test guests everything runs
 * under QEMU TCG, 10 to 30 times slower than native, so absolute figures
 * only compare within one run: ratios are what compare across kernels.
 * The program measures and reports targets; it never fails on a timing.
 * It exits non-zero, saying why on stderr, when a figure cannot be
 * measured (an ioctl fails, a purge leaves pages behind, ...).
 *
 * Needs root (PURGE_ALL_CACHES, cgroups, RLIMIT_NOFILE), two CPUs, the
 * module loaded, and cgroup2 at /sys/fs/cgroup.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../uapi/linux/ashmem.h"

#define ASHMEM_DEV		"/dev/ashmem"
#define CGROUP_ROOT		"/sys/fs/cgroup"
#define BENCH_NAME		"ashmem-bench"
#define KIB			1024UL
#define MIB			(1024UL * 1024UL)
#define NSEC_PER_SEC		1000000000ULL
#define NSEC_PER_MSEC		1000000ULL

/* Figure 1: the size of the region created and destroyed. */
#define LIFECYCLE_SIZE		(64 * KIB)
/* Figure 1: blocks per side and repetition, in ABBA order. */
#define LIFECYCLE_BLOCKS	16
/* Figure 1: each side's cycles timed step by step per repetition, in blocks. */
#define LIFECYCLE_STEP_BLOCKS	8
/* Figure 4: slices of 1 and of 2 threads per repetition, in ABBA order. */
#define SCALING_SLICES		4
/* Figures 2 and 3: chunks per repetition, in alternating order. */
#define IOCTL_CHUNKS		4
/* Figure 7: the unpinned chunks and the gaps between them. */
#define PURGE_CHUNK		(64 * KIB)
/*
 * Figure 6: memcg statistics are flushed every 2 s and the vmstat
 * counters every second; waiting longer than both makes each reading
 * exact to a page or so per CPU.
 */
#define SLAB_SETTLE_MS		2500
/* Figure 5: cap on the latency samples kept (4 bytes each). */
#define LAT_MAX_SAMPLES		(8UL * 1000 * 1000)
/* Figure 5: the longest the measurement under purging may run. */
#define LAT_PURGE_MAX_MS	40000

static const unsigned int pair_ranges[] = { 1, 10, 100, 1000, 10000 };
#define NR_PAIR_RANGES		(sizeof(pair_ranges) / sizeof(pair_ranges[0]))

static struct {
	int reps;
	bool quick;
	unsigned int budget_ms;		/* time of one timed measurement */
	unsigned int idle_ms;		/* figure 5, idle part */
	unsigned int min_purges;	/* figure 5 */
	unsigned int lat_mb;		/* figure 5: the purging thread's region */
	unsigned long slab_regions;	/* figure 6 */
	unsigned int purge_mb;		/* figure 7: unpinned (region is twice) */
	unsigned int shrink_mb;		/* figure 8: unpinned ashmem, and anon */
	unsigned int figures;		/* bit n: run figure n */
} opt = {
	.reps = 5,
	.budget_ms = 400,
	.idle_ms = 2000,
	.min_purges = 5,
	.lat_mb = 64,
	.slab_regions = 10000,
	.purge_mb = 128,
	.shrink_mb = 128,
	.figures = 0x3fe,
};

static size_t page_sz;
static int cpu_a = -1, cpu_b = -1;
static pid_t bench_pid;

/* ------------------------------------------------------------ failing */

static void __attribute__((noreturn, format(printf, 1, 2)))
die(const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	fputs("ashmem_bench: error: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

#define die_errno(fmt, ...) \
	die(fmt ": %s", ##__VA_ARGS__, strerror(errno))

static void __attribute__((format(printf, 1, 2)))
progress(const char *fmt, ...)
{
	va_list ap;

	fputs("ashmem_bench: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* ------------------------------------------------------------ results */

static const char *const figure_title[] = {
	[1] = "region lifecycle: open+SET_NAME+SET_SIZE(64 KiB)+mmap+write a page+munmap+close",
	[2] = "the cheapest ioctl",
	[3] = "UNPIN+PIN of one page against other unpinned ranges in the region",
	[4] = "UNPIN+PIN pairs on 1 and 2 threads (a region and a CPU each)",
	[5] = "latency of one UNPIN+PIN pair, idle and while the other CPU purges",
	[6] = "slab memory per open region (10000 regions, child memory cgroup)",
	[7] = "PURGE_ALL_CACHES of unpinned memory in 2048 ranges vs. punching a memfd",
	[8] = "shrinker under a cgroup's memory.max",
	[9] = "shrinker under global memory pressure (half of RAM unpinned)",
};
#define NR_FIGURES		9

struct metric {
	int fig;
	const char *name;
	const char *desc;
	const char *unit;
	int decimals;
	double value;
	char target;		/* 0: none, '<': at most limit, '>': at least */
	double limit;
};

/* All nine figures emit 57; metric() refuses one more than this holds. */
static struct metric metrics[96];
static int nr_metrics;
static char notes[NR_FIGURES + 1][4096];

#define NO_TARGET	0, 0.0

static void metric(int fig, const char *name, const char *desc,
		   const char *unit, int decimals, double value,
		   char target, double limit)
{
	if (nr_metrics == (int)(sizeof(metrics) / sizeof(metrics[0])))
		die("too many metrics");
	metrics[nr_metrics++] = (struct metric) {
		.fig = fig, .name = name, .desc = desc, .unit = unit,
		.decimals = decimals, .value = value,
		.target = target, .limit = limit,
	};
}

/* A line printed under a figure's table: context for its figures. */
static void __attribute__((format(printf, 2, 3)))
note(int fig, const char *fmt, ...)
{
	char *buf = notes[fig];
	size_t len = strlen(buf);
	va_list ap;

	if (len + 8 >= sizeof(notes[fig]))
		return;
	len += snprintf(buf + len, sizeof(notes[fig]) - len, "     note: ");
	va_start(ap, fmt);
	vsnprintf(buf + len, sizeof(notes[fig]) - len, fmt, ap);
	va_end(ap);
	len = strlen(buf);
	if (len + 1 < sizeof(notes[fig]))
		strcat(buf, "\n");
}

static bool metric_met(const struct metric *m)
{
	if (m->target == '<')
		return m->value <= m->limit;
	return m->value >= m->limit;
}

static void print_results(void)
{
	const char *fmt = "   %-52s %14s %-8s %-9s %s\n";
	int fig, i;

	for (fig = 1; fig <= NR_FIGURES; fig++) {
		bool any = false;

		for (i = 0; i < nr_metrics; i++)
			any |= metrics[i].fig == fig;
		if (!any)
			continue;
		printf("\n%d. %s\n", fig, figure_title[fig]);
		printf(fmt, "", "value", "unit", "target", "");
		for (i = 0; i < nr_metrics; i++) {
			const struct metric *m = &metrics[i];
			char val[32], tgt[24] = "";

			if (m->fig != fig)
				continue;
			snprintf(val, sizeof(val), "%.*f", m->decimals, m->value);
			if (m->target)
				snprintf(tgt, sizeof(tgt), "%s %g",
					 m->target == '<' ? "<=" : ">=", m->limit);
			printf(fmt, m->desc, val, m->unit, tgt,
			       !m->target ? "" : metric_met(m) ? "met" : "MISSED");
		}
		fputs(notes[fig], stdout);
	}

	printf("\n# ashmem-bench: metrics begin\n");
	for (i = 0; i < nr_metrics; i++)
		printf("%s %.*f %s\n", metrics[i].name, metrics[i].decimals,
		       metrics[i].value, metrics[i].unit);
	printf("# ashmem-bench: metrics end\n");
	fflush(stdout);
}

/* ------------------------------------------------------------ helpers */

static uint64_t now_ns(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_MONOTONIC, &ts))
		die_errno("clock_gettime");
	return (uint64_t)ts.tv_sec * NSEC_PER_SEC + (uint64_t)ts.tv_nsec;
}

static void sleep_ms(unsigned int ms)
{
	struct timespec ts = {
		.tv_sec = ms / 1000,
		.tv_nsec = (long)(ms % 1000) * 1000000L,
	};

	while (nanosleep(&ts, &ts))
		if (errno != EINTR)
			die_errno("nanosleep");
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return (x > y) - (x < y);
}

/* The median of @n values; sorts them. */
static double median(double *v, int n)
{
	qsort(v, n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* How many operations of @ns_each fit in @ms, within [lo, hi]. */
static unsigned long iters_for(double ns_each, double ms, unsigned long lo,
			       unsigned long hi)
{
	double n = ms * NSEC_PER_MSEC / (ns_each > 1 ? ns_each : 1);

	if (n < lo)
		return lo;
	if (n > hi)
		return hi;
	return (unsigned long)n;
}

static void pin_cpu(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	if (sched_setaffinity(0, sizeof(set), &set))
		die_errno("sched_setaffinity(CPU %d)", cpu);
}

static void *xcalloc(size_t n, size_t size)
{
	void *p = calloc(n, size);

	if (!p)
		die("out of memory for %zu x %zu bytes", n, size);
	return p;
}

static void *xmmap(size_t len, int prot, int flags, int fd, const char *what)
{
	void *p = mmap(NULL, len, prot, flags, fd, 0);

	if (p == MAP_FAILED)
		die_errno("mmap of %s (%zu bytes)", what, len);
	return p;
}

static void xmunmap(void *p, size_t len)
{
	if (munmap(p, len))
		die_errno("munmap");
}

static void xclose(int fd)
{
	if (close(fd))
		die_errno("close(%d)", fd);
}

/* Write one byte in each page of [@p, @p + @len). */
static void touch_pages(void *p, size_t len)
{
	volatile char *c = p;
	size_t off;

	for (off = 0; off < len; off += page_sz)
		c[off] = 1;
}

/* ------------------------------------------------------------ ashmem */

static int ashmem_open(void)
{
	int fd = open(ASHMEM_DEV, O_RDWR);

	if (fd < 0)
		die_errno("open " ASHMEM_DEV);
	return fd;
}

static void ashmem_set_name(int fd, const char *name)
{
	char buf[ASHMEM_NAME_LEN] = "";

	strncpy(buf, name, sizeof(buf) - 1);
	if (ioctl(fd, ASHMEM_SET_NAME, buf) < 0)
		die_errno("ASHMEM_SET_NAME");
}

static void ashmem_set_size(int fd, size_t size)
{
	if (ioctl(fd, ASHMEM_SET_SIZE, size) < 0)
		die_errno("ASHMEM_SET_SIZE(%zu)", size);
}

/* A named region of @size bytes, not mapped. */
static int region_create(const char *name, size_t size)
{
	int fd = ashmem_open();

	ashmem_set_name(fd, name);
	ashmem_set_size(fd, size);
	return fd;
}

/* A region that has been mapped once, as PIN and UNPIN require. */
static int region_create_backed(const char *name, size_t size)
{
	int fd = region_create(name, size);

	xmunmap(xmmap(size, PROT_READ, MAP_SHARED, fd, name), size);
	return fd;
}

/* PIN, UNPIN or GET_PIN_STATUS of [@off, @off + @len); returns the result. */
static int pin_op(int fd, unsigned long cmd, size_t off, size_t len)
{
	struct ashmem_pin pin = { .offset = (__u32)off, .len = (__u32)len };
	int ret = ioctl(fd, cmd, &pin);

	if (ret < 0)
		die_errno("%s of [%zu, +%zu)", cmd == ASHMEM_PIN ? "ASHMEM_PIN" :
			  cmd == ASHMEM_UNPIN ? "ASHMEM_UNPIN" :
			  "ASHMEM_GET_PIN_STATUS", off, len);
	return ret;
}

/* @n UNPIN+PIN pairs of @pin; returns how many PINs reported WAS_PURGED. */
static unsigned long do_pairs(int fd, const struct ashmem_pin *pin,
			      unsigned long n)
{
	unsigned long i, purged = 0;
	int ret;

	for (i = 0; i < n; i++) {
		if (ioctl(fd, ASHMEM_UNPIN, pin) < 0)
			die_errno("ASHMEM_UNPIN");
		ret = ioctl(fd, ASHMEM_PIN, pin);
		if (ret < 0)
			die_errno("ASHMEM_PIN");
		purged += ret == ASHMEM_WAS_PURGED;
	}
	return purged;
}

/*
 * struct pair_region - a region whose page @pin is unpinned and pinned again
 * while @ranges other single pages stay unpinned: pages 0, 2, 4, ... 2 *
 * @ranges, all but the middle one, which is @pin. The odd pages between
 * stay pinned, so no two unpinned pages are adjacent and nothing merges.
 */
struct pair_region {
	int fd;
	size_t size;
	unsigned int ranges;
	struct ashmem_pin pin;
};

static void pair_region_create(struct pair_region *pr, unsigned int ranges)
{
	unsigned int k, mid = ranges / 2;
	size_t off;

	pr->ranges = ranges;
	pr->size = (2 * (size_t)ranges + 2) * page_sz;
	if (pr->size > UINT32_MAX)
		die("a region for %u ranges needs offsets past 32 bits", ranges);
	pr->fd = region_create_backed(BENCH_NAME "-pair", pr->size);
	for (k = 0; k <= ranges; k++)
		if (k != mid)
			pin_op(pr->fd, ASHMEM_UNPIN, 2 * k * page_sz, page_sz);

	off = 2 * mid * page_sz;
	pr->pin = (struct ashmem_pin) { .offset = (__u32)off, .len = (__u32)page_sz };
	/* The pair's page and its neighbours are pinned, the others are not. */
	if (pin_op(pr->fd, ASHMEM_GET_PIN_STATUS, off, page_sz) != ASHMEM_IS_PINNED ||
	    pin_op(pr->fd, ASHMEM_GET_PIN_STATUS, off + page_sz, page_sz) != ASHMEM_IS_PINNED ||
	    pin_op(pr->fd, ASHMEM_GET_PIN_STATUS, 2 * (mid ? 0 : 1) * page_sz,
		   page_sz) != ASHMEM_IS_UNPINNED)
		die("GET_PIN_STATUS disagrees with the %u unpinned pages just set up",
		    ranges);
}

static void pair_region_destroy(struct pair_region *pr)
{
	xclose(pr->fd);
	pr->fd = -1;
}

static uint64_t time_pairs(const struct pair_region *pr, unsigned long n)
{
	uint64_t t0 = now_ns();

	do_pairs(pr->fd, &pr->pin, n);
	return now_ns() - t0;
}

static uint64_t time_get_size(int fd, unsigned long n)
{
	uint64_t t0 = now_ns();
	unsigned long i;

	for (i = 0; i < n; i++)
		if (ioctl(fd, ASHMEM_GET_SIZE) < 0)
			die_errno("ASHMEM_GET_SIZE");
	return now_ns() - t0;
}

/* ------------------------------------------------------------ cgroups */

/* The cgroups this process made, removed at exit; the child running in one. */
static char cg_made[4][PATH_MAX];
static pid_t child_pid;

static void cleanup(void)
{
	unsigned int i;

	if (getpid() != bench_pid)
		return;
	if (child_pid > 0) {
		kill(child_pid, SIGKILL);
		waitpid(child_pid, NULL, 0);
	}
	for (i = 0; i < sizeof(cg_made) / sizeof(cg_made[0]); i++)
		if (cg_made[i][0])
			rmdir(cg_made[i]);
}

/* Read @path into @buf, NUL-terminated; returns the length. */
static size_t read_text(const char *path, char *buf, size_t size)
{
	size_t len = 0;
	ssize_t n;
	int fd = open(path, O_RDONLY);

	if (fd < 0)
		die_errno("open %s", path);
	while (len + 1 < size) {
		n = read(fd, buf + len, size - 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			die_errno("read %s", path);
		if (!n)
			break;
		len += n;
	}
	buf[len] = '\0';
	xclose(fd);
	return len;
}

static void write_text(const char *path, const char *text)
{
	size_t len = strlen(text);
	int fd = open(path, O_WRONLY);

	if (fd < 0)
		die_errno("open %s", path);
	if (write(fd, text, len) != (ssize_t)len)
		die_errno("write '%s' to %s", text, path);
	xclose(fd);
}

static void cg_write(const char *cg, const char *file, const char *text)
{
	char path[PATH_MAX + 64];

	snprintf(path, sizeof(path), "%s/%s", cg, file);
	write_text(path, text);
}

/* The value of "@key <value>" in a flat-keyed file, or -1 if absent. */
static long long keyed_value(const char *text, const char *key)
{
	size_t klen = strlen(key);
	const char *line;

	for (line = text; line && *line; line = strchr(line, '\n'), line = line ? line + 1 : NULL)
		if (!strncmp(line, key, klen) && (line[klen] == ' ' || line[klen] == '\t'))
			return strtoll(line + klen + 1, NULL, 10);
	return -1;
}

static long long cg_value(const char *cg, const char *file, const char *key)
{
	static char buf[16384];
	char path[PATH_MAX + 64];

	snprintf(path, sizeof(path), "%s/%s", cg, file);
	read_text(path, buf, sizeof(buf));
	return keyed_value(buf, key);
}

static void cg_enable_memory(void)
{
	char buf[512];

	read_text(CGROUP_ROOT "/cgroup.controllers", buf, sizeof(buf));
	if (!strstr(buf, "memory"))
		die(CGROUP_ROOT " offers no memory controller (controllers: %s)", buf);
	write_text(CGROUP_ROOT "/cgroup.subtree_control", "+memory");
}

static const char *cg_create(const char *what)
{
	unsigned int i;

	for (i = 0; i < sizeof(cg_made) / sizeof(cg_made[0]); i++) {
		if (cg_made[i][0])
			continue;
		snprintf(cg_made[i], sizeof(cg_made[i]), CGROUP_ROOT "/" BENCH_NAME "-%d-%s",
			 (int)getpid(), what);
		if (mkdir(cg_made[i], 0755))
			die_errno("mkdir %s", cg_made[i]);
		return cg_made[i];
	}
	die("too many cgroups");
}

/* rmdir a cgroup whose processes have exited; it may take a moment to empty. */
static void cg_remove(const char *cg)
{
	unsigned int i, tries;

	for (tries = 0; rmdir(cg); tries++) {
		if (errno != EBUSY || tries == 200)
			die_errno("rmdir %s", cg);
		sleep_ms(10);
	}
	for (i = 0; i < sizeof(cg_made) / sizeof(cg_made[0]); i++)
		if (cg_made[i] == cg)
			cg_made[i][0] = '\0';
}

/* fork(), flushing stdio first; the parent notes the child for cleanup(). */
static pid_t fork_child(void)
{
	pid_t pid;

	fflush(NULL);
	pid = fork();
	if (pid < 0)
		die_errno("fork");
	if (pid)
		child_pid = pid;
	return pid;
}

/* Wait for the child @pid, @who in messages; fail unless it exited with 0. */
static void reap_child(pid_t pid, const char *what, const char *who)
{
	int status;

	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			die_errno("waitpid");
	child_pid = 0;
	if (WIFSIGNALED(status))
		die("%s: %s was killed by signal %d%s", what, who, WTERMSIG(status),
		    WTERMSIG(status) == SIGKILL ? " (the OOM killer?)" : "");
	if (!WIFEXITED(status) || WEXITSTATUS(status))
		die("%s: %s failed", what, who);
}

/*
 * Run @fn in a child process that first moves itself into @cg; @fn fills
 * @res (@size bytes), which comes back through a pipe. The child's own
 * failures end it with a message on stderr; this then fails too.
 */
static void run_in_cgroup(const char *cg, void (*fn)(void *res), void *res,
			  size_t size, const char *what)
{
	char who[PATH_MAX + 32];
	size_t got = 0;
	ssize_t n;
	int pfd[2];
	pid_t pid;

	if (pipe(pfd))
		die_errno("pipe");
	pid = fork_child();
	if (!pid) {
		close(pfd[0]);
		cg_write(cg, "cgroup.procs", "0");
		fn(res);
		if (write(pfd[1], res, size) != (ssize_t)size)
			die_errno("%s: write the result", what);
		_exit(0);
	}
	xclose(pfd[1]);
	while (got < size) {
		n = read(pfd[0], (char *)res + got, size - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += n;
	}
	xclose(pfd[0]);
	snprintf(who, sizeof(who), "the child in %s", cg);
	reap_child(pid, what, who);
	if (got != size)
		die("%s: the child sent %zu of %zu bytes", what, got, size);
}

/* ------------------------------------------------------------ 1. lifecycle */

static const char lifecycle_name[ASHMEM_NAME_LEN] = BENCH_NAME "-lifecycle";

/* Figure 1's cycles: ashmem, memfd, and memfd after opening /dev/null. */
enum lc_kind { LC_ASHMEM, LC_MEMFD, LC_CONTROL };

/* The most steps a cycle is split into (the control's). */
#define LC_MAX_STEPS		8

/*
 * struct laps - a cycle timed step by step: each lap() adds the time since
 * the one before (or since laps_start()) to the next step's @ns.
 */
struct laps {
	uint64_t t;
	unsigned int step;
	uint64_t ns[LC_MAX_STEPS];
};

static inline void laps_start(struct laps *l)
{
	if (!l)
		return;
	l->step = 0;
	l->t = now_ns();
}

/* The end of one step; nothing when the cycle is timed only as a whole. */
static inline void lap(struct laps *l)
{
	uint64_t t;

	if (!l)
		return;
	if (l->step == LC_MAX_STEPS)
		die("figure 1: a cycle of more than %d steps", LC_MAX_STEPS);
	t = now_ns();
	l->ns[l->step++] += t - l->t;
	l->t = t;
}

/* The part both APIs share: mmap, write one page, munmap, close. */
static void lifecycle_use(int fd, struct laps *l)
{
	char *p = xmmap(LIFECYCLE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd,
			"a lifecycle region");

	lap(l);
	*(volatile char *)p = 1;
	lap(l);
	xmunmap(p, LIFECYCLE_SIZE);
	lap(l);
	xclose(fd);
	lap(l);
}

/* open /dev/ashmem, SET_NAME, SET_SIZE: an ashmem region ready to map. */
static int lifecycle_ashmem_open(struct laps *l)
{
	int fd = ashmem_open();

	lap(l);
	if (ioctl(fd, ASHMEM_SET_NAME, lifecycle_name) < 0)
		die_errno("ASHMEM_SET_NAME");
	lap(l);
	ashmem_set_size(fd, LIFECYCLE_SIZE);
	lap(l);
	return fd;
}

/*
 * memfd_create and ftruncate; with @open_node, first an open() and close()
 * of /dev/null: the floor of any API that starts by opening a device node,
 * as Android's ashmem does and memfd does not.
 */
static int lifecycle_memfd_open(bool open_node, struct laps *l)
{
	int fd;

	if (open_node) {
		fd = open("/dev/null", O_RDWR);
		if (fd < 0)
			die_errno("open /dev/null");
		lap(l);
		xclose(fd);
		lap(l);
	}
	fd = memfd_create(lifecycle_name, 0);
	if (fd < 0)
		die_errno("memfd_create");
	lap(l);
	if (ftruncate(fd, LIFECYCLE_SIZE))
		die_errno("ftruncate of a memfd");
	lap(l);
	return fd;
}

/* One cycle of @kind; with @l, each step timed on its own. */
static void lifecycle_cycle(enum lc_kind kind, struct laps *l)
{
	int fd;

	laps_start(l);
	if (kind == LC_ASHMEM)
		fd = lifecycle_ashmem_open(l);
	else
		fd = lifecycle_memfd_open(kind == LC_CONTROL, l);
	lifecycle_use(fd, l);
}

/* @n cycles of @kind, timed as a whole. */
static uint64_t lifecycle_time(enum lc_kind kind, unsigned long n)
{
	uint64_t t0 = now_ns();
	unsigned long i;

	for (i = 0; i < n; i++)
		lifecycle_cycle(kind, NULL);
	return now_ns() - t0;
}

/* A step of figure 1's breakdown: the metric of its mean per cycle. */
struct lc_step {
	const char *name;
	const char *desc;
};

/* In the order lifecycle_cycle() takes them. */
static const struct lc_step lc_ashmem_steps[] = {
	{ "lifecycle_step_ashmem_open_ns", "ashmem step: open(/dev/ashmem)" },
	{ "lifecycle_step_ashmem_set_name_ns", "ashmem step: ASHMEM_SET_NAME" },
	{ "lifecycle_step_ashmem_set_size_ns", "ashmem step: ASHMEM_SET_SIZE" },
	{ "lifecycle_step_ashmem_mmap_ns", "ashmem step: mmap" },
	{ "lifecycle_step_ashmem_touch_ns", "ashmem step: write a page" },
	{ "lifecycle_step_ashmem_munmap_ns", "ashmem step: munmap" },
	{ "lifecycle_step_ashmem_close_ns", "ashmem step: close" },
};

static const struct lc_step lc_control_steps[] = {
	{ "lifecycle_step_null_open_ns", "control step: open(/dev/null)" },
	{ "lifecycle_step_null_close_ns", "control step: close(/dev/null)" },
	{ "lifecycle_step_memfd_create_ns", "control step: memfd_create" },
	{ "lifecycle_step_memfd_ftruncate_ns", "control step: ftruncate" },
	{ "lifecycle_step_memfd_mmap_ns", "control step: mmap" },
	{ "lifecycle_step_memfd_touch_ns", "control step: write a page" },
	{ "lifecycle_step_memfd_munmap_ns", "control step: munmap" },
	{ "lifecycle_step_memfd_close_ns", "control step: close" },
};

#define NR_LC_ASHMEM_STEPS	(sizeof(lc_ashmem_steps) / sizeof(lc_ashmem_steps[0]))
#define NR_LC_CONTROL_STEPS	(sizeof(lc_control_steps) / sizeof(lc_control_steps[0]))

/* The timer's own cost in each step: a lap with nothing in it, in ns. */
static double lap_overhead_ns(unsigned long n)
{
	struct laps l = { 0 };
	unsigned long i;

	for (i = 0; i < n; i++) {
		laps_start(&l);
		lap(&l);
	}
	return (double)l.ns[0] / n;
}

/*
 * @n cycles of @kind, each step timed on its own; into @mean, each of the
 * @nr steps' time per cycle less @overhead, the timer's (at least 0).
 */
static void lifecycle_steps(enum lc_kind kind, unsigned long n, double overhead,
			    unsigned int nr, double mean[LC_MAX_STEPS])
{
	struct laps l = { 0 };
	unsigned long i;
	unsigned int s;
	double ns;

	for (i = 0; i < n; i++)
		lifecycle_cycle(kind, &l);
	if (l.step != nr)
		die("figure 1: a cycle took %u steps, the table names %u", l.step, nr);
	for (s = 0; s < nr; s++) {
		ns = (double)l.ns[s] / n - overhead;
		mean[s] = ns > 0 ? ns : 0;
	}
}

/* Each step's median over the repetitions of @mean; returns their sum. */
static double lifecycle_step_metrics(const struct lc_step *steps, unsigned int nr,
				     double mean[][LC_MAX_STEPS])
{
	double v[opt.reps], sum = 0, med;
	unsigned int s;
	int rep;

	for (s = 0; s < nr; s++) {
		for (rep = 0; rep < opt.reps; rep++)
			v[rep] = mean[rep][s];
		med = median(v, opt.reps);
		metric(1, steps[s].name, steps[s].desc, "ns", 1, med, NO_TARGET);
		sum += med;
	}
	return sum;
}

/*
 * Which step costs what: per repetition, @n ashmem cycles and @n control
 * cycles with every step timed on its own, the two in alternating order.
 */
static void bench_lifecycle_steps(unsigned long n)
{
	double ash[opt.reps][LC_MAX_STEPS], ctl[opt.reps][LC_MAX_STEPS];
	double overhead[opt.reps], sum_ash, sum_ctl;
	int rep;

	for (rep = 0; rep < opt.reps; rep++) {
		overhead[rep] = lap_overhead_ns(n);
		if (rep % 2 == 0)
			lifecycle_steps(LC_ASHMEM, n, overhead[rep],
					NR_LC_ASHMEM_STEPS, ash[rep]);
		lifecycle_steps(LC_CONTROL, n, overhead[rep],
				NR_LC_CONTROL_STEPS, ctl[rep]);
		if (rep % 2)
			lifecycle_steps(LC_ASHMEM, n, overhead[rep],
					NR_LC_ASHMEM_STEPS, ash[rep]);
	}

	sum_ash = lifecycle_step_metrics(lc_ashmem_steps, NR_LC_ASHMEM_STEPS, ash);
	sum_ctl = lifecycle_step_metrics(lc_control_steps, NR_LC_CONTROL_STEPS, ctl);
	note(1, "steps: %lu cycles of ashmem and of the control per repetition, each "
	     "step timed on its own; a timer pair's own cost, %.1f ns (median), is "
	     "subtracted from each step (at least 0); the steps add up to %.1f ns "
	     "(ashmem) and %.1f ns (control)", n, median(overhead, opt.reps),
	     sum_ash, sum_ctl);
}

static void bench_lifecycle(void)
{
	double ash[opt.reps], mem[opt.reps], ratio[opt.reps], floor[opt.reps];
	double vs_open[opt.reps], est;
	unsigned long block, cycles;
	uint64_t ta, tm, to;
	int rep, b;

	/* Warm up both paths, and size the blocks from what they cost. */
	est = (lifecycle_time(LC_ASHMEM, 20) + lifecycle_time(LC_MEMFD, 20)) / 40.0;
	block = iters_for(est, 2.0 * opt.budget_ms / LIFECYCLE_BLOCKS, 5, 100000);
	cycles = block * LIFECYCLE_BLOCKS;

	for (rep = 0; rep < opt.reps; rep++) {
		ta = tm = to = 0;
		/* A B B A A B B A: drift within the repetition cancels. */
		for (b = 0; b < LIFECYCLE_BLOCKS; b++) {
			if (b % 2 == 0) {
				ta += lifecycle_time(LC_ASHMEM, block);
				tm += lifecycle_time(LC_MEMFD, block);
				to += lifecycle_time(LC_CONTROL, block);
			} else {
				to += lifecycle_time(LC_CONTROL, block);
				tm += lifecycle_time(LC_MEMFD, block);
				ta += lifecycle_time(LC_ASHMEM, block);
			}
		}
		ash[rep] = (double)ta / cycles;
		mem[rep] = (double)tm / cycles;
		ratio[rep] = (double)ta / tm;
		floor[rep] = (double)to / tm;
		vs_open[rep] = (double)ta / to;
	}

	metric(1, "lifecycle_ashmem_ns", "ashmem: one cycle", "ns", 1,
	       median(ash, opt.reps), NO_TARGET);
	metric(1, "lifecycle_memfd_ns", "memfd: one cycle", "ns", 1,
	       median(mem, opt.reps), NO_TARGET);
	/* The old staging-era module measured 1.095x in issue 16's run. */
	metric(1, "lifecycle_ratio", "ashmem / memfd (median of per-rep ratios)", "x", 3,
	       median(ratio, opt.reps), '<', 1.095);
	metric(1, "lifecycle_open_floor_ratio",
	       "control: memfd + open/close /dev/null / memfd (same rep)", "x", 3,
	       median(floor, opt.reps), NO_TARGET);
	metric(1, "lifecycle_vs_open_control",
	       "ashmem / (memfd + open/close /dev/null) (same rep)", "x", 3,
	       median(vs_open, opt.reps), '<', 1.05);
	note(1, "%lu cycles of each per repetition, in blocks of %lu, ABBA order",
	     cycles, block);

	bench_lifecycle_steps(block * LIFECYCLE_STEP_BLOCKS);
}

/* ------------------------------------------------------------ 2, 3. ioctls */

static const char *const pair_metric_name[NR_PAIR_RANGES] = {
	"pair_ranges_1_ns", "pair_ranges_10_ns", "pair_ranges_100_ns",
	"pair_ranges_1000_ns", "pair_ranges_10000_ns",
};

static const char *const pair_metric_desc[NR_PAIR_RANGES] = {
	"UNPIN+PIN, 1 other unpinned range",
	"UNPIN+PIN, 10 other unpinned ranges",
	"UNPIN+PIN, 100 other unpinned ranges",
	"UNPIN+PIN, 1000 other unpinned ranges",
	"UNPIN+PIN, 10000 other unpinned ranges",
};

static void bench_ioctls(void)
{
	double gs[opt.reps], pair[NR_PAIR_RANGES][opt.reps];
	double big[opt.reps], vs_gs[opt.reps];
	struct pair_region pr[NR_PAIR_RANGES];
	unsigned long n_gs, n_pair[NR_PAIR_RANGES];
	uint64_t t_gs, t_pair[NR_PAIR_RANGES];
	unsigned int i, j, c;
	double chunk_ms = (double)opt.budget_ms / IOCTL_CHUNKS;
	int rep, gfd;

	gfd = region_create(BENCH_NAME "-get-size", LIFECYCLE_SIZE);
	for (i = 0; i < NR_PAIR_RANGES; i++)
		pair_region_create(&pr[i], pair_ranges[i]);

	/* Warm up, and size each measurement to the time budget. */
	n_gs = iters_for(time_get_size(gfd, 2000) / 2000.0, chunk_ms, 100, 50000000);
	for (i = 0; i < NR_PAIR_RANGES; i++)
		n_pair[i] = iters_for(time_pairs(&pr[i], 200) / 200.0, chunk_ms,
				      50, 20000000);

	for (rep = 0; rep < opt.reps; rep++) {
		t_gs = 0;
		memset(t_pair, 0, sizeof(t_pair));
		/* Chunks alternate: get_size, 1 .. 10000; then 10000 .. 1, get_size. */
		for (c = 0; c < IOCTL_CHUNKS; c++) {
			if (c % 2 == 0)
				t_gs += time_get_size(gfd, n_gs);
			for (j = 0; j < NR_PAIR_RANGES; j++) {
				i = c % 2 ? NR_PAIR_RANGES - 1 - j : j;
				t_pair[i] += time_pairs(&pr[i], n_pair[i]);
			}
			if (c % 2)
				t_gs += time_get_size(gfd, n_gs);
		}
		gs[rep] = (double)t_gs / (n_gs * IOCTL_CHUNKS);
		for (i = 0; i < NR_PAIR_RANGES; i++)
			pair[i][rep] = (double)t_pair[i] / (n_pair[i] * IOCTL_CHUNKS);
		big[rep] = pair[NR_PAIR_RANGES - 1][rep] / pair[0][rep];
		vs_gs[rep] = pair[0][rep] / (2 * gs[rep]);
	}

	metric(2, "get_size_ns", "ASHMEM_GET_SIZE", "ns", 1, median(gs, opt.reps),
	       NO_TARGET);
	note(2, "%lu calls per repetition", n_gs * IOCTL_CHUNKS);
	for (i = 0; i < NR_PAIR_RANGES; i++)
		metric(3, pair_metric_name[i], pair_metric_desc[i], "ns", 1,
		       median(pair[i], opt.reps), NO_TARGET);
	metric(3, "pair_ratio_10000_vs_1", "10000 ranges / 1 range (same rep)", "x", 3,
	       median(big, opt.reps), '<', 2);
	metric(3, "pair_vs_two_get_size", "pair (1 range) / 2 x GET_SIZE (same rep)", "x", 3,
	       median(vs_gs, opt.reps), '<', 1.3);
	note(3, "pairs per repetition: %lu with 1 range .. %lu with 10000, in %d chunks "
	     "interleaved with GET_SIZE", n_pair[0] * IOCTL_CHUNKS,
	     n_pair[NR_PAIR_RANGES - 1] * IOCTL_CHUNKS, IOCTL_CHUNKS);

	for (i = 0; i < NR_PAIR_RANGES; i++)
		pair_region_destroy(&pr[i]);
	xclose(gfd);
}

/* ------------------------------------------------------------ 4. threads */

/*
 * What a worker repeats: the pair, and two controls that tell whether the
 * machine runs two CPUs at once at all: GET_SIZE, an ioctl that allocates
 * nothing and shares nothing, and a loop that never enters the kernel.
 */
enum worker_op { OP_PAIR, OP_GET_SIZE, OP_USER };

struct worker {
	pthread_t thread;
	int cpu;
	enum worker_op op;
	struct pair_region pr;
	uint64_t duration;
	pthread_barrier_t *start;
	unsigned long ops;
	uint64_t elapsed;
	int ran_on;
};

static void worker_ops(struct worker *w, unsigned int n)
{
	volatile unsigned long spin = 0;
	unsigned int i;

	switch (w->op) {
	case OP_PAIR:
		do_pairs(w->pr.fd, &w->pr.pin, n);
		break;
	case OP_GET_SIZE:
		for (i = 0; i < n; i++)
			if (ioctl(w->pr.fd, ASHMEM_GET_SIZE) < 0)
				die_errno("ASHMEM_GET_SIZE");
		break;
	case OP_USER:
		for (i = 0; i < n * 1000; i++)
			spin++;
		break;
	}
}

static void *worker_run(void *arg)
{
	struct worker *w = arg;
	uint64_t t0, t;

	pin_cpu(w->cpu);
	pthread_barrier_wait(w->start);
	w->ops = 0;
	t0 = now_ns();
	do {
		worker_ops(w, 16);
		w->ops += 16;
		t = now_ns();
	} while (t - t0 < w->duration);
	w->elapsed = t - t0;
	w->ran_on = sched_getcpu();
	return NULL;
}

/* Operations per second of @n workers started together, summed. */
static double run_workers(struct worker *w, int n, enum worker_op op,
			  uint64_t duration)
{
	pthread_barrier_t start;
	double rate = 0;
	int i, err;

	err = pthread_barrier_init(&start, NULL, n);
	if (err)
		die("pthread_barrier_init: %s", strerror(err));
	for (i = 0; i < n; i++) {
		w[i].start = &start;
		w[i].duration = duration;
		w[i].op = op;
		err = pthread_create(&w[i].thread, NULL, worker_run, &w[i]);
		if (err)
			die("pthread_create: %s", strerror(err));
	}
	for (i = 0; i < n; i++) {
		err = pthread_join(w[i].thread, NULL);
		if (err)
			die("pthread_join: %s", strerror(err));
		if (w[i].ran_on != w[i].cpu)
			die("a thread bound to CPU %d ran on CPU %d", w[i].cpu, w[i].ran_on);
		rate += w[i].ops * (double)NSEC_PER_SEC / w[i].elapsed;
	}
	pthread_barrier_destroy(&start);
	return rate;
}

/*
 * 1 and 2 workers doing @op, in SCALING_SLICES slices of each per
 * repetition, in ABBA order so that a change in the host's load cancels
 * out; the median rates and scaling.
 */
static void scaling(struct worker *w, enum worker_op op, double *one_med,
		    double *two_med, double *scale_med)
{
	double one[opt.reps], two[opt.reps], scale[opt.reps];
	uint64_t slice = (uint64_t)opt.budget_ms * NSEC_PER_MSEC / SCALING_SLICES;
	int rep, k;

	run_workers(w, 2, op, slice);	/* warm up */
	for (rep = 0; rep < opt.reps; rep++) {
		one[rep] = two[rep] = 0;
		for (k = 0; k < SCALING_SLICES; k++) {
			if (k % 2 == 0) {
				one[rep] += run_workers(w, 1, op, slice);
				two[rep] += run_workers(w, 2, op, slice);
			} else {
				two[rep] += run_workers(w, 2, op, slice);
				one[rep] += run_workers(w, 1, op, slice);
			}
		}
		one[rep] /= SCALING_SLICES;
		two[rep] /= SCALING_SLICES;
		scale[rep] = two[rep] / one[rep];
	}
	*one_med = median(one, opt.reps);
	*two_med = median(two, opt.reps);
	*scale_med = median(scale, opt.reps);
}

static void bench_threads(void)
{
	struct worker w[2] = { { .cpu = cpu_a }, { .cpu = cpu_b } };
	double one, two, scale, c_one, c_two, c_gs, c_user;

	if (cpu_b < 0)
		die("figure 4 needs two CPUs");
	pair_region_create(&w[0].pr, 1);
	pair_region_create(&w[1].pr, 1);

	scaling(w, OP_PAIR, &one, &two, &scale);
	metric(4, "pair_threads_1_ops_per_s", "1 thread", "pairs/s", 0, one, NO_TARGET);
	metric(4, "pair_threads_2_ops_per_s", "2 threads, together", "pairs/s", 0, two,
	       NO_TARGET);
	metric(4, "pair_threads_scaling", "2 threads / 1 thread (same rep; ideal 2)", "x", 3,
	       scale, NO_TARGET);

	scaling(w, OP_GET_SIZE, &c_one, &c_two, &c_gs);
	metric(4, "threads_get_size_scaling", "control: GET_SIZE, 2 threads / 1 thread", "x",
	       3, c_gs, NO_TARGET);
	metric(4, "pair_scaling_vs_get_size", "pair scaling / GET_SIZE scaling", "x", 3,
	       scale / c_gs, '>', 1);
	scaling(w, OP_USER, &c_one, &c_two, &c_user);
	metric(4, "threads_user_scaling", "control: userspace loop, 2 threads / 1", "x", 3,
	       c_user, NO_TARGET);
	note(4, "CPUs %d and %d, %u ms of each per repetition in %d slices (ABBA), each "
	     "region with 1 other unpinned range", cpu_a, cpu_b, opt.budget_ms,
	     SCALING_SLICES);
	note(4, "the controls share nothing: near 2 they show two CPUs really ran at once");
	/* Two CPUs that share nothing scale by 2; anything else is the host. */
	if (c_user < 1.8 || c_user > 2.2)
		note(4, "the userspace control scaled by %.2f, not 2: the two CPUs did not "
		     "run steadily at once (a busy host?), so figures 4 and 5 of this run "
		     "are not valid", c_user);

	pair_region_destroy(&w[0].pr);
	pair_region_destroy(&w[1].pr);
}

/* ------------------------------------------------------------ 5. latency */

/*
 * struct purger - the load on the other CPU in figure 5. Until @stop it
 * pins its region, writes every page, unpins it all and calls
 * ASHMEM_PURGE_ALL_CACHES; or, with @memfd (the control), writes every page
 * of a memfd of the same size and punches one hole over all of it. @span
 * holds when each purge (or punch) began and ended.
 */
struct purger {
	pthread_t thread;
	int cpu;
	bool memfd;
	size_t size;
	atomic_bool stop;
	atomic_ulong done;
	uint64_t span[4096][2];
	unsigned int nspans;
};

/* One purge (or punch) of the region @fd; returns when it began. */
static uint64_t purger_cycle(const struct purger *pg, int fd, char *p)
{
	uint64_t t0;

	if (pg->memfd) {
		touch_pages(p, pg->size);
		t0 = now_ns();
		if (fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, pg->size))
			die_errno("fallocate(PUNCH_HOLE) of a memfd");
		return t0;
	}
	pin_op(fd, ASHMEM_PIN, 0, 0);
	touch_pages(p, pg->size);
	pin_op(fd, ASHMEM_UNPIN, 0, 0);
	t0 = now_ns();
	if (ioctl(fd, ASHMEM_PURGE_ALL_CACHES) < 0)
		die_errno("ASHMEM_PURGE_ALL_CACHES");
	return t0;
}

static void *purger_run(void *arg)
{
	struct purger *pg = arg;
	uint64_t t0, t1;
	char *p;
	int fd;

	pin_cpu(pg->cpu);
	if (pg->memfd) {
		fd = memfd_create(BENCH_NAME "-punch", 0);
		if (fd < 0)
			die_errno("memfd_create");
		if (ftruncate(fd, pg->size))
			die_errno("ftruncate of a memfd");
	} else {
		fd = region_create(BENCH_NAME "-purger", pg->size);
	}
	p = xmmap(pg->size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, "the purger's region");
	while (!atomic_load(&pg->stop)) {
		t0 = purger_cycle(pg, fd, p);
		t1 = now_ns();
		if (pg->nspans < sizeof(pg->span) / sizeof(pg->span[0])) {
			pg->span[pg->nspans][0] = t0;
			pg->span[pg->nspans][1] = t1;
			pg->nspans++;
		}
		atomic_fetch_add(&pg->done, 1);
	}
	xmunmap(p, pg->size);
	xclose(fd);
	return NULL;
}

/*
 * struct lat_run - single pairs timed back to back on @cpu, for at least
 * @min_ns and, with a purger, until @min_purges purges ended; never longer
 * than @max_ns or @cap samples.
 */
struct lat_run {
	int cpu;
	const struct pair_region *pr;
	struct purger *pg;
	uint64_t min_ns, max_ns;
	unsigned int min_purges;
	uint32_t *lat;
	size_t n, cap;
	unsigned long purged;
	uint64_t t_start, t_end;
};

static void *lat_run(void *arg)
{
	struct lat_run *l = arg;
	unsigned long base = l->pg ? atomic_load(&l->pg->done) : 0;
	uint64_t t, prev, d;
	int fd = l->pr->fd, ret;

	pin_cpu(l->cpu);
	do_pairs(fd, &l->pr->pin, 1000);	/* warm up */
	l->n = 0;
	l->purged = 0;
	prev = l->t_start = now_ns();
	while (l->n < l->cap) {
		if (ioctl(fd, ASHMEM_UNPIN, &l->pr->pin) < 0)
			die_errno("ASHMEM_UNPIN");
		ret = ioctl(fd, ASHMEM_PIN, &l->pr->pin);
		if (ret < 0)
			die_errno("ASHMEM_PIN");
		l->purged += ret == ASHMEM_WAS_PURGED;
		t = now_ns();
		d = t - prev;
		l->lat[l->n++] = d > UINT32_MAX ? UINT32_MAX : (uint32_t)d;
		prev = t;
		if (l->n % 64)
			continue;
		if (t - l->t_start >= l->max_ns)
			break;
		if (t - l->t_start < l->min_ns)
			continue;
		if (!l->pg || atomic_load(&l->pg->done) - base >= l->min_purges)
			break;
	}
	l->t_end = prev;
	return NULL;
}

static void lat_measure(struct lat_run *l)
{
	pthread_t th;
	int err;

	err = pthread_create(&th, NULL, lat_run, l);
	if (err)
		die("pthread_create: %s", strerror(err));
	err = pthread_join(th, NULL);
	if (err)
		die("pthread_join: %s", strerror(err));
	if (l->n < 100)
		die("only %zu latency samples", l->n);
}

/*
 * The pairs that took longer than @limit_ns, how many of them overlapped a
 * purge of @pg (the pairs ran back to back from t_start, so each one's
 * interval is known), and when the slowest began; then sorts the samples
 * for lat_us().
 */
struct lat_outliers {
	unsigned long over;
	unsigned long over_in_purge;
	double max_at_s;
	bool max_in_purge;
};

static bool in_purge(const struct purger *pg, uint64_t start, uint64_t end)
{
	unsigned int i;

	for (i = 0; pg && i < pg->nspans; i++)
		if (pg->span[i][0] < end && pg->span[i][1] > start)
			return true;
	return false;
}

static void lat_outliers(const struct lat_run *l, const struct purger *pg,
			 uint64_t limit_ns, struct lat_outliers *o)
{
	uint64_t start = l->t_start, end;
	uint32_t max = 0;
	size_t i;

	memset(o, 0, sizeof(*o));
	for (i = 0; i < l->n; i++, start = end) {
		end = start + l->lat[i];
		if (l->lat[i] > max) {
			max = l->lat[i];
			o->max_at_s = (start - l->t_start) / 1e9;
			o->max_in_purge = in_purge(pg, start, end);
		}
		if (l->lat[i] <= limit_ns)
			continue;
		o->over++;
		o->over_in_purge += in_purge(pg, start, end);
	}
	qsort(l->lat, l->n, sizeof(l->lat[0]), cmp_u32);
}

static double lat_us(const struct lat_run *l, double quantile)
{
	size_t i = (size_t)ceil(quantile * l->n);

	return l->lat[i ? i - 1 : 0] / 1000.0;
}

/* Pair latency while a purger (@memfd: its control) loads the other CPU. */
static struct purger *lat_under_load(struct lat_run *l, bool memfd)
{
	struct purger *pg = xcalloc(1, sizeof(*pg));
	unsigned int i;
	int err;

	pg->cpu = cpu_b;
	pg->memfd = memfd;
	pg->size = (size_t)opt.lat_mb * MIB;
	err = pthread_create(&pg->thread, NULL, purger_run, pg);
	if (err)
		die("pthread_create: %s", strerror(err));
	for (i = 0; !atomic_load(&pg->done); i++) {
		if (i == 6000)
			die("the purging thread did not finish one cycle in 60 s");
		sleep_ms(10);
	}
	l->pg = pg;
	l->min_purges = opt.min_purges;
	l->min_ns = NSEC_PER_SEC;
	l->max_ns = LAT_PURGE_MAX_MS * NSEC_PER_MSEC;
	lat_measure(l);
	atomic_store(&pg->stop, true);
	err = pthread_join(pg->thread, NULL);
	if (err)
		die("pthread_join: %s", strerror(err));
	return pg;
}

/* Purges (or punches) of @pg that overlapped the measurement @l. */
static unsigned int lat_overlaps(const struct lat_run *l, const struct purger *pg)
{
	unsigned int i, n = 0;

	for (i = 0; i < pg->nspans; i++)
		n += pg->span[i][0] < l->t_end && pg->span[i][1] > l->t_start;
	return n;
}

static double purger_median_ms(const struct purger *pg)
{
	double ms[sizeof(pg->span) / sizeof(pg->span[0])];
	unsigned int i;

	for (i = 0; i < pg->nspans; i++)
		ms[i] = (pg->span[i][1] - pg->span[i][0]) / 1e6;
	return pg->nspans ? median(ms, pg->nspans) : 0;
}

static void bench_latency(void)
{
	struct pair_region pr;
	struct lat_outliers o;
	struct purger *pg;
	struct lat_run l;
	unsigned int overlap;
	double est;

	if (cpu_b < 0)
		die("figure 5 needs two CPUs");
	pair_region_create(&pr, 1);
	est = time_pairs(&pr, 500) / 500.0;

	l = (struct lat_run) { .cpu = cpu_a, .pr = &pr };
	l.cap = iters_for(est, LAT_PURGE_MAX_MS * 1.2, 100000, LAT_MAX_SAMPLES);
	l.lat = xcalloc(l.cap, sizeof(l.lat[0]));
	memset(l.lat, 0xff, l.cap * sizeof(l.lat[0]));	/* fault it in now */

	/* Idle. */
	l.min_ns = l.max_ns = (uint64_t)opt.idle_ms * NSEC_PER_MSEC;
	lat_measure(&l);
	lat_outliers(&l, NULL, NSEC_PER_MSEC, &o);
	metric(5, "pair_idle_median_us", "idle: median", "us", 2, lat_us(&l, 0.5), NO_TARGET);
	metric(5, "pair_idle_p99_us", "idle: 99th percentile", "us", 2, lat_us(&l, 0.99),
	       NO_TARGET);
	metric(5, "pair_idle_max_us", "idle: maximum", "us", 2, lat_us(&l, 1), NO_TARGET);
	note(5, "idle: %zu pairs in %.2f s on CPU %d; 99.9th percentile %.2f us; "
	     "%lu pairs over 1 ms; the slowest began at %.2f s", l.n,
	     (l.t_end - l.t_start) / 1e9, cpu_a, lat_us(&l, 0.999), o.over, o.max_at_s);

	/* While the other CPU writes, unpins and purges its region. */
	pg = lat_under_load(&l, false);
	overlap = lat_overlaps(&l, pg);
	lat_outliers(&l, pg, NSEC_PER_MSEC, &o);
	metric(5, "pair_purge_median_us", "purging: median", "us", 2, lat_us(&l, 0.5),
	       NO_TARGET);
	metric(5, "pair_purge_p99_us", "purging: 99th percentile", "us", 2,
	       lat_us(&l, 0.99), NO_TARGET);
	metric(5, "pair_purge_max_us", "purging: maximum", "us", 2, lat_us(&l, 1),
	       '<', 1000);
	metric(5, "purge_cycles", "purges overlapping the measurement", "count", 0,
	       overlap, NO_TARGET);
	note(5, "purging: %zu pairs in %.2f s on CPU %d (%lu found purged); CPU %d wrote, "
	     "unpinned and purged %u MiB per cycle, %.0f ms per purge (median)",
	     l.n, (l.t_end - l.t_start) / 1e9, cpu_a, l.purged, cpu_b, opt.lat_mb,
	     purger_median_ms(pg));
	note(5, "purging: 99.9th percentile %.2f us; %lu pairs over 1 ms, %lu of them "
	     "during a PURGE_ALL_CACHES call; the slowest began at %.2f s, %s one",
	     lat_us(&l, 0.999), o.over, o.over_in_purge, o.max_at_s,
	     o.max_in_purge ? "during" : "outside");
	if (overlap < opt.min_purges)
		note(5, "only %u purges overlapped the measurement (wanted %u): "
		     "it hit its time or sample cap", overlap, opt.min_purges);
	free(pg);

	/* Control: the same load on a memfd, punched instead of purged. */
	pg = lat_under_load(&l, true);
	overlap = lat_overlaps(&l, pg);
	lat_outliers(&l, pg, NSEC_PER_MSEC, &o);
	metric(5, "pair_punch_p99_us", "control, memfd punching: 99th percentile", "us", 2,
	       lat_us(&l, 0.99), NO_TARGET);
	metric(5, "pair_punch_max_us", "control, memfd punching: maximum", "us", 2,
	       lat_us(&l, 1), NO_TARGET);
	note(5, "control: CPU %d wrote %u MiB of a memfd and punched it whole per cycle, "
	     "%.0f ms per punch (median), %u punches; %zu pairs, median %.2f us, 99.9th "
	     "percentile %.2f us, %lu over 1 ms, %lu of them during a punch",
	     cpu_b, opt.lat_mb, purger_median_ms(pg), overlap, l.n, lat_us(&l, 0.5),
	     lat_us(&l, 0.999), o.over, o.over_in_purge);
	free(pg);

	free(l.lat);
	pair_region_destroy(&pr);
}

/* ------------------------------------------------------------ 6. slab */

/* /proc/slabinfo: active objects and object size of each cache. */
struct slabinfo {
	unsigned int n;
	struct {
		char name[64];
		long long active;
		long long size;
	} c[1024];
};

static char slab_text[256 * 1024];

static void slabinfo_read(struct slabinfo *si)
{
	char *line, *save = NULL;

	si->n = 0;
	read_text("/proc/slabinfo", slab_text, sizeof(slab_text));
	for (line = strtok_r(slab_text, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		if (line[0] == '#' || !strncmp(line, "slabinfo", 8))
			continue;
		if (si->n == sizeof(si->c) / sizeof(si->c[0]))
			break;
		if (sscanf(line, "%63s %lld %*d %lld", si->c[si->n].name,
			   &si->c[si->n].active, &si->c[si->n].size) == 3)
			si->n++;
	}
}

/* The caches that grew by at least @n / 2 objects, as text. */
static void slabinfo_grown(const struct slabinfo *a, const struct slabinfo *b,
			   unsigned long n, char *buf, size_t size)
{
	unsigned int i, j;
	size_t len = 0;

	buf[0] = '\0';
	for (j = 0; j < b->n; j++) {
		for (i = 0; i < a->n; i++)
			if (!strcmp(a->c[i].name, b->c[j].name))
				break;
		if (i == a->n)
			continue;
		if (b->c[j].active - a->c[i].active < (long long)n / 2)
			continue;
		len += snprintf(buf + len, size > len ? size - len : 0, "%s%s %+.2f x %lld B",
				len ? ", " : "", b->c[j].name,
				(double)(b->c[j].active - a->c[i].active) / n, b->c[j].size);
	}
}

static long long meminfo_slab(void)
{
	char buf[8192];
	long long kb;

	read_text("/proc/meminfo", buf, sizeof(buf));
	kb = keyed_value(buf, "Slab:");
	if (kb < 0)
		die("/proc/meminfo has no Slab line");
	return kb * 1024;
}

static long long memcg_slab(const char *cg)
{
	long long s = cg_value(cg, "memory.stat", "slab"), r, u;

	if (s >= 0)
		return s;
	r = cg_value(cg, "memory.stat", "slab_reclaimable");
	u = cg_value(cg, "memory.stat", "slab_unreclaimable");
	if (r < 0 || u < 0)
		die("%s/memory.stat has no slab figures", cg);
	return r + u;
}

struct slab_delta {
	double memcg;		/* bytes per open file */
	double global;
	char grown[600];
};

/*
 * What each open in figure 6 is: a region as Android's ashmem_create_region()
 * has it before SET_SIZE; one named and sized; and /dev/null, the baseline
 * of what any open file costs (struct file, LSM blobs), so that the
 * difference is what the driver itself allocates.
 */
enum slab_kind { SLAB_NULL, SLAB_PLAIN, SLAB_NAMED, NR_SLAB_KINDS };

struct slab_result {
	char cg[PATH_MAX];
	unsigned long n;
	struct slab_delta d[NR_SLAB_KINDS];
};

static struct slabinfo slab_before, slab_after;

static int slab_open(enum slab_kind kind)
{
	int fd;

	if (kind == SLAB_NULL) {
		fd = open("/dev/null", O_RDWR);
		if (fd < 0)
			die_errno("open /dev/null");
		return fd;
	}
	fd = ashmem_open();
	if (kind == SLAB_NAMED) {
		ashmem_set_name(fd, BENCH_NAME "-slab");
		ashmem_set_size(fd, LIFECYCLE_SIZE);
	}
	return fd;
}

/* Open res->n files of @kind; the slab they take, per file. */
static void slab_measure(struct slab_result *res, int *fds, enum slab_kind kind)
{
	struct slab_delta *d = &res->d[kind];
	long long m0, g0, m1, g1;
	unsigned long i;

	sleep_ms(SLAB_SETTLE_MS);
	m0 = memcg_slab(res->cg);
	g0 = meminfo_slab();
	slabinfo_read(&slab_before);

	for (i = 0; i < res->n; i++)
		fds[i] = slab_open(kind);

	sleep_ms(SLAB_SETTLE_MS);
	m1 = memcg_slab(res->cg);
	g1 = meminfo_slab();
	slabinfo_read(&slab_after);

	for (i = 0; i < res->n; i++)
		xclose(fds[i]);
	d->memcg = (double)(m1 - m0) / res->n;
	d->global = (double)(g1 - g0) / res->n;
	slabinfo_grown(&slab_before, &slab_after, res->n, d->grown, sizeof(d->grown));
}

/* In the child, inside the cgroup. */
static void slab_child(void *arg)
{
	struct slab_result *res = arg;
	rlim_t want = res->n + 256;
	struct rlimit rl;
	int *fds, fd, kind;

	if (getrlimit(RLIMIT_NOFILE, &rl))
		die_errno("getrlimit");
	if (rl.rlim_cur < want) {
		rl.rlim_cur = want;
		if (rl.rlim_max < want)
			rl.rlim_max = want;
		if (setrlimit(RLIMIT_NOFILE, &rl))
			die_errno("setrlimit(RLIMIT_NOFILE, %llu)", (unsigned long long)want);
	}
	/* Grow the fd table now, so that the measurement holds the files only. */
	fd = dup2(STDERR_FILENO, (int)want - 1);
	if (fd < 0)
		die_errno("dup2 to fd %d", (int)want - 1);
	xclose(fd);
	fds = xcalloc(res->n, sizeof(*fds));
	memset(fds, 0xff, res->n * sizeof(*fds));
	/* And let stdio set up its buffers. */
	memcg_slab(res->cg);
	meminfo_slab();
	slabinfo_read(&slab_before);

	for (kind = 0; kind < NR_SLAB_KINDS; kind++)
		slab_measure(res, fds, kind);
	free(fds);
}

static void bench_slab(void)
{
	struct slab_result *res = xcalloc(1, sizeof(*res));
	const struct slab_delta *null, *plain, *named;
	double own_memcg, own_global;
	const char *cg;

	cg_enable_memory();
	cg = cg_create("slab");
	snprintf(res->cg, sizeof(res->cg), "%s", cg);
	res->n = opt.slab_regions;
	run_in_cgroup(cg, slab_child, res, sizeof(*res), "figure 6");
	cg_remove(cg);
	null = &res->d[SLAB_NULL];
	plain = &res->d[SLAB_PLAIN];
	named = &res->d[SLAB_NAMED];
	own_memcg = plain->memcg - null->memcg;
	own_global = plain->global - null->global;

	metric(6, "slab_bytes_per_region", "open(/dev/ashmem): memcg slab per region",
	       "B", 1, plain->memcg, '<', 400);
	metric(6, "slab_bytes_per_named_region", "open+SET_NAME+SET_SIZE: memcg slab per region",
	       "B", 1, named->memcg, NO_TARGET);
	metric(6, "slab_driver_bytes_per_region", "open(/dev/ashmem) minus open(/dev/null), memcg",
	       "B", 1, own_memcg, NO_TARGET);
	metric(6, "slab_charged_to_memcg", "driver's own slab charged to the memcg (1 = yes)",
	       "bool", 0, own_memcg > 0 && own_memcg >= 0.9 * own_global, '>', 1);
	note(6, "%lu files of each kind; memcg slab from memory.stat, global from /proc/meminfo"
	     " Slab, each read %u ms after the last change", res->n, SLAB_SETTLE_MS);
	note(6, "slab_charged_to_memcg is 1 when the driver's part (ashmem minus /dev/null) of"
	     " the cgroup's delta is >= 90%% of its part of the global delta");
	note(6, "per file, memcg / global: /dev/null %.1f / %.1f B, ashmem %.1f / %.1f B, "
	     "named ashmem %.1f / %.1f B; driver's part %.1f / %.1f B", null->memcg,
	     null->global, plain->memcg, plain->global, named->memcg, named->global,
	     own_memcg, own_global);
	note(6, "caches grown, objects per file: /dev/null: %s",
	     null->grown[0] ? null->grown : "(none listed)");
	note(6, "ashmem: %s", plain->grown[0] ? plain->grown : "(none listed)");
	note(6, "named ashmem: %s", named->grown[0] ? named->grown : "(none listed)");
	free(res);
}

/* ------------------------------------------------------------ 7. purge */

/*
 * struct purge_region - a region of twice @unpinned bytes whose even 64 KiB
 * chunks are written (and unpinned), the odd ones never touched: the
 * unpinned ranges cannot merge.
 */
struct purge_region {
	int fd;
	char *p;
	size_t size;
	size_t nchunks;
};

static void purge_region_create(struct purge_region *r, size_t unpinned)
{
	size_t i;

	r->nchunks = unpinned / PURGE_CHUNK;
	r->size = 2 * unpinned;
	r->fd = region_create(BENCH_NAME "-purge", r->size);
	r->p = xmmap(r->size, PROT_READ | PROT_WRITE, MAP_SHARED, r->fd, "the purge region");
	for (i = 0; i < r->nchunks; i++)
		touch_pages(r->p + 2 * i * PURGE_CHUNK, PURGE_CHUNK);
}

static long purge_all(int fd, size_t min_pages)
{
	long ret = ioctl(fd, ASHMEM_PURGE_ALL_CACHES);

	if (ret < 0)
		die_errno("ASHMEM_PURGE_ALL_CACHES");
	if ((size_t)ret < min_pages)
		die("PURGE_ALL_CACHES found %ld unpinned pages, %zu expected", ret, min_pages);
	return ret;
}

/*
 * After the purge: every chunk must PIN as WAS_PURGED, the backing file
 * must hold no page (SEEK_DATA), and the mapping must read zeros, not a
 * page left mapped. Then the region goes.
 */
static void purge_region_check_destroy(struct purge_region *r)
{
	unsigned long purged = 0;
	off_t data;
	size_t i;

	for (i = 0; i < r->nchunks; i++)
		purged += pin_op(r->fd, ASHMEM_PIN, 2 * i * PURGE_CHUNK, PURGE_CHUNK) ==
			  ASHMEM_WAS_PURGED;
	if (purged != r->nchunks)
		die("PURGE_ALL_CACHES purged %lu of %zu unpinned ranges", purged, r->nchunks);
	data = lseek(r->fd, 0, SEEK_DATA);
	if (data >= 0)
		die("a page at offset %lld is still there after PURGE_ALL_CACHES",
		    (long long)data);
	if (errno != ENXIO)
		die_errno("lseek(SEEK_DATA) on the purged region");
	for (i = 0; i < r->nchunks; i++)
		if (((volatile char *)r->p)[2 * i * PURGE_CHUNK])
			die("chunk %zu still reads its old data after PURGE_ALL_CACHES", i);
	xmunmap(r->p, r->size);
	xclose(r->fd);
}

/* Unpin all chunks, then one timed PURGE_ALL_CACHES; its ns. */
static uint64_t purge_ashmem_once(size_t unpinned)
{
	struct purge_region r;
	uint64_t t0, t;
	size_t i;

	purge_region_create(&r, unpinned);
	for (i = 0; i < r.nchunks; i++)
		pin_op(r.fd, ASHMEM_UNPIN, 2 * i * PURGE_CHUNK, PURGE_CHUNK);
	t0 = now_ns();
	purge_all(r.fd, unpinned / page_sz);
	t = now_ns() - t0;
	purge_region_check_destroy(&r);
	return t;
}

/*
 * Control: unpin one chunk, purge it, and so on; the ns of the 2048
 * PURGE_ALL_CACHES calls, summed. Like the memfd side, one system call
 * per range.
 */
static uint64_t purge_ashmem_per_range(size_t unpinned)
{
	struct purge_region r;
	uint64_t t0, t = 0;
	size_t i;

	purge_region_create(&r, unpinned);
	for (i = 0; i < r.nchunks; i++) {
		pin_op(r.fd, ASHMEM_UNPIN, 2 * i * PURGE_CHUNK, PURGE_CHUNK);
		t0 = now_ns();
		purge_all(r.fd, PURGE_CHUNK / page_sz);
		t += now_ns() - t0;
	}
	purge_region_check_destroy(&r);
	return t;
}

/* fallocate(PUNCH_HOLE) of the same chunks of a memfd, one call each; its ns. */
static uint64_t purge_memfd_once(size_t unpinned)
{
	size_t nchunks = unpinned / PURGE_CHUNK, size = 2 * unpinned, i;
	uint64_t t0, t;
	struct stat st;
	char *p;
	int fd;

	fd = memfd_create(BENCH_NAME "-purge", 0);
	if (fd < 0)
		die_errno("memfd_create");
	if (ftruncate(fd, size))
		die_errno("ftruncate of a memfd to %zu", size);
	p = xmmap(size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, "the purge memfd");
	for (i = 0; i < nchunks; i++)
		touch_pages(p + 2 * i * PURGE_CHUNK, PURGE_CHUNK);

	t0 = now_ns();
	for (i = 0; i < nchunks; i++)
		if (fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
			      2 * i * PURGE_CHUNK, PURGE_CHUNK))
			die_errno("fallocate(PUNCH_HOLE) of a memfd");
	t = now_ns() - t0;

	if (fstat(fd, &st))
		die_errno("fstat of a memfd");
	if (st.st_blocks)
		die("the memfd still holds %lld blocks after punching",
		    (long long)st.st_blocks);
	xmunmap(p, size);
	xclose(fd);
	return t;
}

static void bench_purge(void)
{
	double ash[opt.reps], mem[opt.reps], per[opt.reps], ratio[opt.reps];
	size_t unpinned = (size_t)opt.purge_mb * MIB;
	uint64_t ta, tm, tp;
	int rep;

	if (unpinned < PURGE_CHUNK || PURGE_CHUNK % page_sz)
		die("figure 7 needs 64 KiB chunks of whole pages");
	for (rep = 0; rep < opt.reps; rep++) {
		if (rep % 2 == 0) {
			ta = purge_ashmem_once(unpinned);
			tm = purge_memfd_once(unpinned);
			tp = purge_ashmem_per_range(unpinned);
		} else {
			tp = purge_ashmem_per_range(unpinned);
			tm = purge_memfd_once(unpinned);
			ta = purge_ashmem_once(unpinned);
		}
		ash[rep] = ta / 1e6;
		mem[rep] = tm / 1e6;
		per[rep] = tp / 1e6;
		ratio[rep] = (double)ta / tm;
	}
	metric(7, "purge_ashmem_ms", "ashmem: one PURGE_ALL_CACHES", "ms", 2,
	       median(ash, opt.reps), NO_TARGET);
	metric(7, "purge_memfd_ms", "memfd: fallocate(PUNCH_HOLE) per range", "ms", 2,
	       median(mem, opt.reps), NO_TARGET);
	metric(7, "purge_ratio", "ashmem / memfd (same rep)", "x", 3,
	       median(ratio, opt.reps), '<', 1.10);
	metric(7, "purge_ashmem_per_range_ms", "control: ashmem, a PURGE_ALL_CACHES per range",
	       "ms", 2, median(per, opt.reps), NO_TARGET);
	note(7, "%u MiB written and unpinned in %zu ranges of 64 KiB, every other 64 KiB "
	     "of a %u MiB region, mapped; after each purge every range must PIN as purged, "
	     "SEEK_DATA find nothing and the mapping read zeros", opt.purge_mb,
	     unpinned / PURGE_CHUNK, 2 * opt.purge_mb);
	note(7, "the control times %zu purges of one range each (unpinned just before, "
	     "untimed): one system call per range, as on the memfd side",
	     unpinned / PURGE_CHUNK);
}

/* ------------------------------------------------------------ 8. shrinker */

struct shrink_result {
	unsigned long unpinned;		/* pages */
	unsigned long purged;		/* pages */
	uint64_t alloc_ns;
};

/* In the child, inside the cgroup. */
static void shrink_child(void *arg)
{
	struct shrink_result *res = arg;
	size_t nreg = opt.shrink_mb, anon_len = (size_t)opt.shrink_mb * MIB, i;
	int *fds = xcalloc(nreg, sizeof(*fds));
	char **maps = xcalloc(nreg, sizeof(*maps));
	uint64_t t0;
	char *anon;

	/* Unpinned ashmem: 1 MiB regions, each written and then unpinned whole. */
	for (i = 0; i < nreg; i++) {
		fds[i] = region_create(BENCH_NAME "-shrink", MIB);
		maps[i] = xmmap(MIB, PROT_READ | PROT_WRITE, MAP_SHARED, fds[i],
				"a shrinker region");
		touch_pages(maps[i], MIB);
		pin_op(fds[i], ASHMEM_UNPIN, 0, 0);
	}
	res->unpinned = nreg * (MIB / page_sz);

	/* Anonymous memory the cgroup only has room for if ashmem goes. */
	t0 = now_ns();
	anon = xmmap(anon_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1,
		     "anonymous memory");
	touch_pages(anon, anon_len);
	res->alloc_ns = now_ns() - t0;

	res->purged = 0;
	for (i = 0; i < nreg; i++)
		if (pin_op(fds[i], ASHMEM_PIN, 0, 0) == ASHMEM_WAS_PURGED)
			res->purged += MIB / page_sz;

	xmunmap(anon, anon_len);
	for (i = 0; i < nreg; i++) {
		xmunmap(maps[i], MIB);
		xclose(fds[i]);
	}
	free(maps);
	free(fds);
}

static void bench_shrinker(void)
{
	double freed[opt.reps], rate[opt.reps], alloc_ms[opt.reps];
	size_t max = (size_t)opt.shrink_mb * MIB * 5 / 4;
	struct shrink_result res;
	long long ooms, max_events;
	char text[32];
	const char *cg;
	int rep;

	cg_enable_memory();
	cg = cg_create("shrink");
	snprintf(text, sizeof(text), "%zu", max);
	cg_write(cg, "memory.max", text);

	for (rep = 0; rep < opt.reps; rep++) {
		memset(&res, 0, sizeof(res));
		run_in_cgroup(cg, shrink_child, &res, sizeof(res), "figure 8");
		ooms = cg_value(cg, "memory.events", "oom");
		if (ooms > 0)
			die("figure 8: the cgroup ran out of memory (memory.events: oom %lld): "
			    "the shrinker did not purge unpinned ashmem in time", ooms);
		freed[rep] = res.purged;
		rate[rep] = res.purged * (double)NSEC_PER_SEC / res.alloc_ns;
		alloc_ms[rep] = res.alloc_ns / 1e6;
	}
	max_events = cg_value(cg, "memory.events", "max");
	cg_remove(cg);

	metric(8, "shrinker_pages_freed", "pages purged by the shrinker", "pages", 0,
	       median(freed, opt.reps), NO_TARGET);
	metric(8, "shrinker_pages_per_s", "pages purged per second of allocation", "pages/s", 0,
	       median(rate, opt.reps), NO_TARGET);
	metric(8, "shrinker_purged_per_needed", "pages purged per page the cgroup needed", "x", 2,
	       median(freed, opt.reps) * page_sz / (2 * (size_t)opt.shrink_mb * MIB - max),
	       '<', 2.0);
	note(8, "memory.max %zu MiB; %lu pages (%u MiB) unpinned in 1 MiB regions, then "
	     "%u MiB of anonymous memory written in %.0f ms (median)", max / MIB,
	     res.unpinned, opt.shrink_mb, opt.shrink_mb, median(alloc_ms, opt.reps));
	note(8, "at least %zu pages (%.0f%% of the unpinned) had to be purged, %.0f%% were; "
	     "memory.events: max %lld, oom 0", (2 * (size_t)opt.shrink_mb * MIB - max) / page_sz,
	     100.0 * (2 * (size_t)opt.shrink_mb * MIB - max) / page_sz / res.unpinned,
	     100.0 * median(freed, opt.reps) / res.unpinned, max_events);
}

/* ------------------------------------------------------------ 9. global pressure */

/* Step of the allocating child of figure 9; its gaps are the stalls. */
#define PRESSURE_STEP		(64 * KIB)
/* How often figure 9 looks at the driver's purge counter. */
#define PRESSURE_POLL_US	500
#define ASHMEM_STATS		"/sys/kernel/debug/ashmem/stats"

static long long meminfo_kib(const char *key)
{
	static char buf[8192];

	read_text("/proc/meminfo", buf, sizeof(buf));
	return keyed_value(buf, key);
}

static long long purged_pages_now(void)
{
	static char buf[4096];

	read_text(ASHMEM_STATS, buf, sizeof(buf));
	return keyed_value(buf, "purged_pages");
}

/* What the allocating child measured, in memory it shares with the bench. */
struct pressure_alloc {
	uint64_t start_ns;
	uint64_t worst_gap_ns;
	size_t bytes;
};

/* In the child: touch @a->bytes, PRESSURE_STEP at a time, timing each step. */
static void pressure_alloc_child(struct pressure_alloc *a)
{
	char *p = xmmap(a->bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1,
			"figure 9's allocation");
	uint64_t t, last;
	size_t off;

	a->start_ns = last = now_ns();
	for (off = 0; off < a->bytes; off += PRESSURE_STEP) {
		touch_pages(p + off, PRESSURE_STEP < a->bytes - off ? PRESSURE_STEP :
			    a->bytes - off);
		t = now_ns();
		if (t - last > a->worst_gap_ns)
			a->worst_gap_ns = t - last;
		last = t;
	}
}

struct purge_watch {
	long long base;
	atomic_bool stop;
	uint64_t first_ns;	/* 0 until the counter moved */
};

static void *purge_watch_run(void *arg)
{
	struct purge_watch *w = arg;
	struct timespec ts = { .tv_nsec = PRESSURE_POLL_US * 1000 };

	while (!atomic_load(&w->stop)) {
		if (purged_pages_now() != w->base) {
			w->first_ns = now_ns();
			break;
		}
		nanosleep(&ts, NULL);
	}
	return NULL;
}

/* The pages of [@p, @p + @len) that are not resident: with no swap, purged. */
static size_t pages_gone(void *p, size_t len)
{
	size_t n = len / page_sz, i, gone = 0;
	unsigned char *vec = xcalloc(n, 1);

	if (mincore(p, len, vec))
		die_errno("figure 9: mincore");
	for (i = 0; i < n; i++)
		gone += !(vec[i] & 1);
	free(vec);
	return gone;
}

struct pressure_rep {
	double first_ms;
	double purged_per_needed;
	double worst_stall_ms;
	size_t purged, needed;		/* pages */
};

/*
 * One repetition: the bench writes and unpins a region of half of RAM but
 * its last page, then a child allocates; a thread watches for the first
 * purge meanwhile.
 */
static void pressure_once(size_t region, struct pressure_rep *r)
{
	struct pressure_alloc *a = xmmap(page_sz, PROT_READ | PROT_WRITE,
					 MAP_SHARED | MAP_ANONYMOUS, -1, "shared result");
	struct purge_watch w = { 0 };
	long long avail;
	pthread_t th;
	char *map;
	pid_t pid;
	int fd;

	fd = region_create(BENCH_NAME "-pressure", region);
	map = xmmap(region, PROT_READ | PROT_WRITE, MAP_SHARED, fd, "figure 9's region");
	memset(map, 0x5a, region);
	pin_op(fd, ASHMEM_UNPIN, 0, region - page_sz);

	avail = meminfo_kib("MemAvailable:") * (long long)KIB;
	a->bytes = (avail + region / 4) / page_sz * page_sz;
	w.base = purged_pages_now();
	if (pthread_create(&th, NULL, purge_watch_run, &w))
		die("figure 9: pthread_create failed");
	pid = fork_child();
	if (!pid) {
		pressure_alloc_child(a);
		_exit(0);
	}
	reap_child(pid, "figure 9", "the allocating child");
	atomic_store(&w.stop, true);
	pthread_join(th, NULL);

	r->needed = (a->bytes - avail) / page_sz;
	r->purged = pages_gone(map, region - page_sz);
	if (!w.first_ns || !r->purged)
		die("figure 9: %zu MiB more than was available was allocated, yet nothing "
		    "was purged", r->needed * page_sz / MIB);
	r->first_ms = (w.first_ns - a->start_ns) / 1e6;
	r->purged_per_needed = (double)r->purged / r->needed;
	r->worst_stall_ms = a->worst_gap_ns / 1e6;

	xmunmap(map, region);
	xclose(fd);
	xmunmap(a, page_sz);
}

static void bench_pressure(void)
{
	double first[opt.reps], ratio[opt.reps], stall[opt.reps];
	size_t region = (size_t)meminfo_kib("MemTotal:") * KIB / 2 / page_sz * page_sz;
	struct pressure_rep r;
	int rep;

	if (meminfo_kib("SwapTotal:") != 0)
		die("figure 9 needs a machine without swap: it counts purged pages as the "
		    "ones no longer resident");
	for (rep = 0; rep < opt.reps; rep++) {
		memset(&r, 0, sizeof(r));
		pressure_once(region, &r);
		first[rep] = r.first_ms;
		ratio[rep] = r.purged_per_needed;
		stall[rep] = r.worst_stall_ms;
	}
	metric(9, "pressure_first_purge_ms", "from the allocation's start to the first purge",
	       "ms", 1, median(first, opt.reps), NO_TARGET);
	metric(9, "pressure_purged_per_needed", "pages purged per page needed beyond MemAvailable",
	       "x", 2, median(ratio, opt.reps), '<', 2.0);
	metric(9, "pressure_worst_stall_ms", "the allocation's longest 64 KiB step",
	       "ms", 1, median(stall, opt.reps), NO_TARGET);
	note(9, "%zu MiB written and unpinned in one range (all but its last page); the "
	     "child touched MemAvailable plus a quarter of that, 64 KiB a step; last "
	     "repetition: %zu pages needed, %zu purged (mincore)", region / MIB, r.needed,
	     r.purged);
}

/* ------------------------------------------------------------ main */

static void pick_cpus(void)
{
	cpu_set_t set;
	int cpu;

	if (sched_getaffinity(0, sizeof(set), &set))
		die_errno("sched_getaffinity");
	for (cpu = 0; cpu < CPU_SETSIZE; cpu++) {
		if (!CPU_ISSET(cpu, &set))
			continue;
		if (cpu_a < 0)
			cpu_a = cpu;
		else if (cpu_b < 0)
			cpu_b = cpu;
	}
}

static void print_header(void)
{
	char clocksource[64] = "?";
	struct utsname u;
	int fd;
	ssize_t n;

	if (uname(&u))
		die_errno("uname");
	fd = open("/sys/devices/system/clocksource/clocksource0/current_clocksource", O_RDONLY);
	if (fd >= 0) {
		n = read(fd, clocksource, sizeof(clocksource) - 1);
		clocksource[n > 0 ? n : 0] = '\0';
		clocksource[strcspn(clocksource, "\n")] = '\0';
		close(fd);
	}
	printf("ashmem-bench: kernel %s %s, page size %zu B, %ld CPUs online "
	       "(measuring on CPU %d and %d), clocksource %s\n", u.release, u.machine,
	       page_sz, sysconf(_SC_NPROCESSORS_ONLN), cpu_a, cpu_b, clocksource);
	printf("ashmem-bench: %d repetitions%s; times are medians of them, ratios medians "
	       "of per-repetition ratios; compare figures within this run\n",
	       opt.reps, opt.quick ? " (quick mode)" : "");
	fflush(stdout);
}

static void usage(const char *prog, int status)
{
	fprintf(status ? stderr : stdout,
		"usage: %s [options]\n"
		"  -r REPS     repetitions of each figure (default 5; quick: 2)\n"
		"  -q          quick mode: fewer repetitions, shorter measurements\n"
		"  -t MS       time of one timed measurement (default 400; quick: 100)\n"
		"  -i MS       idle latency measurement, figure 5 (default 2000; quick: 500)\n"
		"  -p N        purges the latency under purging must span (default 5; quick: 2)\n"
		"  -l MB       the purging thread's region, figure 5 (default 64)\n"
		"  -n N        regions opened for figure 6 (default 10000; quick: 2000)\n"
		"  -P MB       unpinned memory purged in figure 7 (default 128)\n"
		"  -s MB       unpinned ashmem and anon memory of figure 8 (default 128;\n"
		"              memory.max is 1.25 times that)\n"
		"  -f LIST     only these figures, e.g. 1,3,5 (default: all, 1-9)\n",
		prog);
	exit(status);
}

static unsigned long parse_num(const char *s, unsigned long lo, unsigned long hi,
			       char optc)
{
	unsigned long v;
	char *end;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || end == s || *end || v < lo || v > hi)
		die("-%c wants a number from %lu to %lu, not '%s'", optc, lo, hi, s);
	return v;
}

static unsigned int parse_figures(const char *s)
{
	unsigned int mask = 0;
	char *end;
	long f;

	while (*s) {
		f = strtol(s, &end, 10);
		if (end == s || f < 1 || f > NR_FIGURES)
			die("-f wants figure numbers 1 to %d, not '%s'", NR_FIGURES, s);
		mask |= 1U << f;
		s = *end == ',' ? end + 1 : end;
		if (*end && *end != ',')
			die("-f wants a comma-separated list, not '%s'", s);
	}
	return mask;
}

static void parse_args(int argc, char **argv)
{
	bool set_r = false, set_t = false, set_i = false, set_p = false, set_n = false;
	int c;

	while ((c = getopt(argc, argv, "r:qt:i:p:l:n:P:s:f:h")) != -1) {
		switch (c) {
		case 'r':
			opt.reps = parse_num(optarg, 1, 1000, c);
			set_r = true;
			break;
		case 'q':
			opt.quick = true;
			break;
		case 't':
			opt.budget_ms = parse_num(optarg, 1, 600000, c);
			set_t = true;
			break;
		case 'i':
			opt.idle_ms = parse_num(optarg, 1, 600000, c);
			set_i = true;
			break;
		case 'p':
			opt.min_purges = parse_num(optarg, 1, 1000, c);
			set_p = true;
			break;
		case 'l':
			opt.lat_mb = parse_num(optarg, 1, 4096, c);
			break;
		case 'n':
			opt.slab_regions = parse_num(optarg, 1, 1000000, c);
			set_n = true;
			break;
		case 'P':
			opt.purge_mb = parse_num(optarg, 1, 1024, c);
			break;
		case 's':
			opt.shrink_mb = parse_num(optarg, 4, 4096, c);
			break;
		case 'f':
			opt.figures = parse_figures(optarg);
			break;
		case 'h':
			usage(argv[0], 0);
			break;
		default:
			usage(argv[0], 2);
		}
	}
	if (optind != argc)
		usage(argv[0], 2);
	if (opt.quick) {
		if (!set_r)
			opt.reps = 2;
		if (!set_t)
			opt.budget_ms = 100;
		if (!set_i)
			opt.idle_ms = 500;
		if (!set_p)
			opt.min_purges = 2;
		if (!set_n)
			opt.slab_regions = 2000;
	}
}

static const struct {
	unsigned int figures;
	const char *what;
	void (*run)(void);
} benches[] = {
	{ 1U << 1, "1 region lifecycle", bench_lifecycle },
	{ 1U << 2 | 1U << 3, "2-3 GET_SIZE and UNPIN+PIN against ranges", bench_ioctls },
	{ 1U << 4, "4 UNPIN+PIN on 1 and 2 threads", bench_threads },
	{ 1U << 5, "5 pair latency, idle and while purging", bench_latency },
	{ 1U << 6, "6 slab per region", bench_slab },
	{ 1U << 7, "7 PURGE_ALL_CACHES vs memfd hole punching", bench_purge },
	{ 1U << 8, "8 shrinker under memory.max", bench_shrinker },
	{ 1U << 9, "9 shrinker under global pressure", bench_pressure },
};

int main(int argc, char **argv)
{
	uint64_t t0, t;
	unsigned int i;

	parse_args(argc, argv);
	bench_pid = getpid();
	if (atexit(cleanup))
		die("atexit failed");
	page_sz = (size_t)sysconf(_SC_PAGESIZE);
	if (geteuid())
		die("run as root: PURGE_ALL_CACHES, cgroups and RLIMIT_NOFILE need it");
	if (access(ASHMEM_DEV, R_OK | W_OK))
		die_errno(ASHMEM_DEV);
	pick_cpus();
	print_header();

	t0 = now_ns();
	for (i = 0; i < sizeof(benches) / sizeof(benches[0]); i++) {
		if (!(benches[i].figures & opt.figures))
			continue;
		t = now_ns();
		progress("figure %s ...", benches[i].what);
		benches[i].run();
		progress("figure %s: %.1f s", benches[i].what, (now_ns() - t) / 1e9);
	}
	progress("all figures in %.1f s", (now_ns() - t0) / 1e9);

	print_results();
	return 0;
}
