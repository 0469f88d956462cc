// SPDX-License-Identifier: GPL-2.0-only
/*
 * The driver's diagnostics: the region id in fdinfo, the debugfs counters
 * and per-region listing, and the ashmem: trace events.
 *
 * These are what a user reads when looking for where memory went, so each
 * test checks that a known change shows up in them with the right region
 * and numbers. Needs root, debugfs at /sys/kernel/debug and tracefs at
 * /sys/kernel/tracing (or under debugfs); skips with a reason otherwise.
 */
#define _GNU_SOURCE

#include <sched.h>

#include "kselftest_harness.h"
#include "ashmem_util.h"

#define STATS		ASHMEM_DEBUGFS_STATS
#define REGIONS		ASHMEM_DEBUGFS_DIR "/regions"

/* ------------------------------------------------------------- helpers */

/* The "ashmem_id:" of @fd from fdinfo, or -1. */
static long region_id(int fd)
{
	char path[64], val[32];

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	if (!proc_field(path, "ashmem_id", true, val, sizeof(val)))
		return -1;
	return strtol(val, NULL, 10);
}

/* A counter of the stats file, or -1. */
static long stat_value(const char *key)
{
	char buf[4096], *line;
	size_t klen = strlen(key);

	if (read_text_file(STATS, buf, sizeof(buf)) < 0)
		return -1;
	for (line = strtok(buf, "\n"); line; line = strtok(NULL, "\n"))
		if (!strncmp(line, key, klen) && line[klen] == ' ')
			return strtol(line + klen + 1, NULL, 10);
	return -1;
}

/*
 * The listing's line for region @id, copied to @out (without the newline);
 * false if there is none. The listing of many regions is large: read it
 * whole.
 */
static bool region_line(long id, char *out, size_t outlen)
{
	static char buf[1 << 20];
	char *line, prefix[32];
	int n = snprintf(prefix, sizeof(prefix), "%ld ", id);

	if (read_text_file(REGIONS, buf, sizeof(buf)) < 0)
		return false;
	for (line = strtok(buf, "\n"); line; line = strtok(NULL, "\n")) {
		if (!strncmp(line, prefix, n)) {
			snprintf(out, outlen, "%s", line);
			return true;
		}
	}
	return false;
}

/* ------------------------------------------------------------- fdinfo */

TEST(fdinfo_ids_are_unique_per_region)
{
	int a = ashmem_assert_open(_metadata);
	int b = ashmem_assert_open(_metadata);
	long ida = region_id(a), idb = region_id(b);

	ASSERT_LE(0, ida) TH_LOG("fdinfo of an ashmem fd has no ashmem_id line");
	ASSERT_LE(0, idb);
	ASSERT_NE(ida, idb) TH_LOG("two regions share id %ld", ida);
	close(a);
	close(b);
}

/*
 * An id names one region for the module's lifetime: tools that compare
 * listings or trace events by id must not take a new region for a closed
 * one. On one CPU the new region takes the closed one's registry slot, so
 * an id derived from the slot would come back here.
 */
TEST(fdinfo_id_is_not_reused_after_close)
{
	cpu_set_t one;
	long first, second;
	int fd;

	CPU_ZERO(&one);
	CPU_SET(sched_getcpu(), &one);
	ASSERT_EQ(0, sched_setaffinity(0, sizeof(one), &one));

	fd = ashmem_assert_open(_metadata);
	first = region_id(fd);
	close(fd);
	fd = ashmem_assert_open(_metadata);
	second = region_id(fd);
	close(fd);

	ASSERT_LE(0, first) TH_LOG("fdinfo of an ashmem fd has no ashmem_id line");
	ASSERT_NE(first, second) TH_LOG("a new region got the closed region's id %ld",
					first);
}

/* A duplicated fd is the same region, so it shows the same id. */
TEST(fdinfo_id_follows_the_region)
{
	int a = ashmem_assert_open(_metadata);
	int b = dup(a);

	ASSERT_LE(0, b);
	ASSERT_EQ(region_id(a), region_id(b));
	close(a);
	close(b);
}

/* ------------------------------------------------------------ debugfs */

FIXTURE(debugfs) {
	size_t page;
	int fd;
	long id;
};

FIXTURE_SETUP(debugfs)
{
	self->fd = -1;
	self->page = page_size();
	if (access(STATS, R_OK) || access(REGIONS, R_OK))
		SKIP(return, "no %s (debugfs not mounted, or not root)", ASHMEM_DEBUGFS_DIR);
	self->fd = ashmem_assert_open(_metadata);
	self->id = region_id(self->fd);
	ASSERT_LE(0, self->id);
}

FIXTURE_TEARDOWN(debugfs)
{
	if (self->fd >= 0)
		close(self->fd);
}

TEST_F(debugfs, stats_count_open_and_sized_regions)
{
	long regions = stat_value("regions");
	long sized = stat_value("sized_bytes");
	int fd;

	ASSERT_LE(1, regions) TH_LOG("an open region is not counted");
	ASSERT_LE(0, sized);
	fd = ashmem_assert_open(_metadata);
	ashmem_assert_set_size(_metadata, fd, 5 * self->page);
	EXPECT_EQ(regions + 1, stat_value("regions"));
	EXPECT_EQ(sized + (long)(5 * self->page), stat_value("sized_bytes"));
	close(fd);
	EXPECT_EQ(regions, stat_value("regions"));
	EXPECT_EQ(sized, stat_value("sized_bytes"));
}

TEST_F(debugfs, stats_count_mapped_regions_and_lru_pages)
{
	long mapped = stat_value("mapped_regions");
	long lru = stat_value("lru_pages");
	void *p;

	ashmem_assert_set_size(_metadata, self->fd, 8 * self->page);
	p = ashmem_assert_mmap(_metadata, self->fd, 8 * self->page,
			       PROT_READ | PROT_WRITE, MAP_SHARED, 0);
	EXPECT_EQ(mapped + 1, stat_value("mapped_regions"));
	ashmem_assert_unpin(_metadata, self->fd, 0, 3 * self->page);
	EXPECT_EQ(lru + 3, stat_value("lru_pages"));
	ashmem_assert_pin(_metadata, self->fd, 0, 3 * self->page, ASHMEM_NOT_PURGED);
	EXPECT_EQ(lru, stat_value("lru_pages"));
	munmap(p, 8 * self->page);
}

TEST_F(debugfs, stats_count_purged_pages)
{
	long purged = stat_value("purged_pages");

	ashmem_assert_set_size(_metadata, self->fd, 4 * self->page);
	munmap(ashmem_assert_mmap(_metadata, self->fd, 4 * self->page,
				  PROT_READ, MAP_SHARED, 0), 4 * self->page);
	ashmem_assert_unpin(_metadata, self->fd, 0, 4 * self->page);
	ashmem_assert_purge_all(_metadata, self->fd);
	EXPECT_LE(purged + 4, stat_value("purged_pages"));
}

/* The listing names the region, its creator, size and unpinned pages. */
TEST_F(debugfs, regions_lists_a_region)
{
	char line[1024], comm[64], name[512];
	unsigned long id, ino, unpinned, purged, purges;
	unsigned long long cgroup;
	struct stat st;
	size_t size;
	int pid;
	void *p;

	ashmem_assert_set_name(_metadata, self->fd, "debug test region");
	ashmem_assert_set_size(_metadata, self->fd, 6 * self->page);
	p = ashmem_assert_mmap(_metadata, self->fd, 6 * self->page,
			       PROT_READ | PROT_WRITE, MAP_SHARED, 0);
	ashmem_assert_unpin(_metadata, self->fd, self->page, 2 * self->page);

	ASSERT_TRUE(region_line(self->id, line, sizeof(line)))
		TH_LOG("region %ld is not in %s", self->id, REGIONS);
	ASSERT_EQ(10, sscanf(line, "%lu %lu %zu %lu %lu %lu %d %63s %llu %511s",
			     &id, &ino, &size, &unpinned, &purged, &purges,
			     &pid, comm, &cgroup, name)) TH_LOG("line: %s", line);
	ASSERT_EQ(0, fstat(self->fd, &st));
	EXPECT_EQ(6 * self->page, size);
	EXPECT_EQ(2, unpinned);
	EXPECT_EQ(0, purged);
	EXPECT_EQ(getpid(), pid);
	EXPECT_NE(0, ino);
	/* Blanks in the name are escaped, so the line splits on blanks. */
	EXPECT_STREQ("debug\\040test\\040region", name);
	munmap(p, 6 * self->page);
}

/* The first six numbers of region @id's line (id to purges), in @f. */
static bool region_fields(long id, char *line, size_t len, unsigned long f[6])
{
	*line = '\0';
	return region_line(id, line, len) &&
	       sscanf(line, "%lu %lu %lu %lu %lu %lu",
		      &f[0], &f[1], &f[2], &f[3], &f[4], &f[5]) == 6;
}

TEST_F(debugfs, regions_counts_purged_pages)
{
	unsigned long f[6];
	char line[1024];
	void *p;

	ashmem_assert_set_size(_metadata, self->fd, 4 * self->page);
	p = ashmem_assert_mmap(_metadata, self->fd, 4 * self->page,
			       PROT_READ | PROT_WRITE, MAP_SHARED, 0);
	ashmem_assert_unpin(_metadata, self->fd, 0, 4 * self->page);
	ashmem_assert_purge_all(_metadata, self->fd);
	ASSERT_TRUE(region_fields(self->id, line, sizeof(line), f))
		TH_LOG("region %ld: no six numbers in \"%s\"", self->id, line);
	EXPECT_EQ(0, f[3]) TH_LOG("unpinned pages after a purge: %s", line);
	EXPECT_EQ(4, f[4]) TH_LOG("purged pages: %s", line);
	EXPECT_EQ(1, f[5]) TH_LOG("purges: %s", line);
	munmap(p, 4 * self->page);
}

/* Pages unpinned and pinned again are neither unpinned nor purged. */
TEST_F(debugfs, regions_counts_nothing_for_pages_pinned_again)
{
	unsigned long f[6];
	char line[1024];
	void *p;

	ashmem_assert_set_size(_metadata, self->fd, 4 * self->page);
	p = ashmem_assert_mmap(_metadata, self->fd, 4 * self->page,
			       PROT_READ | PROT_WRITE, MAP_SHARED, 0);
	ashmem_assert_unpin(_metadata, self->fd, self->page, 2 * self->page);
	ashmem_assert_pin(_metadata, self->fd, self->page, 2 * self->page,
			  ASHMEM_NOT_PURGED);
	ASSERT_TRUE(region_fields(self->id, line, sizeof(line), f))
		TH_LOG("region %ld: no six numbers in \"%s\"", self->id, line);
	EXPECT_EQ(0, f[3]) TH_LOG("unpinned pages: %s", line);
	EXPECT_EQ(0, f[4]) TH_LOG("purged pages: %s", line);
	munmap(p, 4 * self->page);
}

TEST_F(debugfs, regions_forgets_a_closed_region)
{
	char line[1024];

	close(self->fd);
	self->fd = -1;
	EXPECT_FALSE(region_line(self->id, line, sizeof(line)))
		TH_LOG("closed region still listed: %s", line);
}

/* The listing is for root: it names processes of every container. */
TEST_F(debugfs, regions_is_root_only)
{
	struct stat st;

	ASSERT_EQ(0, stat(REGIONS, &st));
	EXPECT_EQ(0, st.st_mode & 0077) TH_LOG("mode %o", st.st_mode & 0777);
}

/* ------------------------------------------------------------ tracing */

FIXTURE(trace) {
	char dir[64];
	size_t page;
	int fd;
	long id;
};

static int write_file(const char *dir, const char *file, const char *val)
{
	char path[256];
	int fd, ret;

	snprintf(path, sizeof(path), "%s/%s", dir, file);
	fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ret = write(fd, val, strlen(val)) == (ssize_t)strlen(val) ? 0 : -1;
	close(fd);
	return ret;
}

FIXTURE_SETUP(trace)
{
	static const char *const dirs[] = {
		"/sys/kernel/tracing", "/sys/kernel/debug/tracing",
	};
	char path[128];
	unsigned int i;

	self->fd = -1;
	self->page = page_size();
	self->dir[0] = '\0';
	for (i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		snprintf(path, sizeof(path), "%s/events/ashmem/enable", dirs[i]);
		if (!access(path, W_OK)) {
			snprintf(self->dir, sizeof(self->dir), "%s", dirs[i]);
			break;
		}
	}
	if (!self->dir[0])
		SKIP(return, "no events/ashmem in tracefs (not mounted, or not root)");
	ASSERT_EQ(0, write_file(self->dir, "tracing_on", "0"));
	ASSERT_EQ(0, write_file(self->dir, "trace", ""));
	ASSERT_EQ(0, write_file(self->dir, "events/ashmem/enable", "1"));
	ASSERT_EQ(0, write_file(self->dir, "tracing_on", "1"));
	self->fd = ashmem_assert_open(_metadata);
	self->id = region_id(self->fd);
	ASSERT_LE(0, self->id);
}

FIXTURE_TEARDOWN(trace)
{
	if (self->fd >= 0)
		close(self->fd);
	if (self->dir[0]) {
		write_file(self->dir, "events/ashmem/enable", "0");
		write_file(self->dir, "trace", "");
	}
}

/*
 * Whether the trace buffer holds an "@event: id=<id> ...@detail..." line.
 * Also fails the test on anything that looks like a kernel address.
 */
static bool traced(struct __test_metadata *_metadata, const char *dir,
		   const char *event, long id, const char *detail)
{
	static char buf[1 << 20];
	char path[128], want[96], *line;
	bool found = false;

	snprintf(path, sizeof(path), "%s/trace", dir);
	if (read_text_file(path, buf, sizeof(buf)) < 0)
		return false;
	snprintf(want, sizeof(want), "%s: id=%ld ", event, id);
	for (line = strtok(buf, "\n"); line; line = strtok(NULL, "\n")) {
		if (!strstr(line, "ashmem_"))
			continue;
		EXPECT_EQ(NULL, kernel_address_in(line)) {
			TH_LOG("a trace event must not show a kernel address: %s", line);
		}
		if (strstr(line, want) && (!detail || strstr(line, detail)))
			found = true;
	}
	return found;
}

TEST_F(trace, create_and_release_fire)
{
	long id = self->id;

	close(self->fd);
	self->fd = -1;
	EXPECT_TRUE(traced(_metadata, self->dir, "ashmem_create", id, NULL));
	EXPECT_TRUE(traced(_metadata, self->dir, "ashmem_release", id, NULL));
}

TEST_F(trace, mmap_fires)
{
	char detail[64];

	ashmem_assert_set_size(_metadata, self->fd, 3 * self->page);
	munmap(ashmem_assert_mmap(_metadata, self->fd, 3 * self->page,
				  PROT_READ, MAP_SHARED, 0), 3 * self->page);
	snprintf(detail, sizeof(detail), "size=%zu pgoff=0 pages=3 shared",
		 3 * self->page);
	EXPECT_TRUE(traced(_metadata, self->dir, "ashmem_mmap", self->id, detail));
}

TEST_F(trace, unpin_pin_and_purge_fire)
{
	ashmem_assert_set_size(_metadata, self->fd, 4 * self->page);
	munmap(ashmem_assert_mmap(_metadata, self->fd, 4 * self->page,
				  PROT_READ, MAP_SHARED, 0), 4 * self->page);
	ashmem_assert_unpin(_metadata, self->fd, self->page, 2 * self->page);
	ashmem_assert_purge_all(_metadata, self->fd);
	ashmem_assert_pin(_metadata, self->fd, self->page, 2 * self->page,
			  ASHMEM_WAS_PURGED);
	EXPECT_TRUE(traced(_metadata, self->dir, "ashmem_unpin", self->id,
			   "start=1 pages=2"));
	EXPECT_TRUE(traced(_metadata, self->dir, "ashmem_purge", self->id,
			   "start=1 pages=2 by=purge_all"));
	EXPECT_TRUE(traced(_metadata, self->dir, "ashmem_pin", self->id,
			   "start=1 pages=2 ret=1"));
}

/* Disabled events record nothing. */
TEST_F(trace, disabled_events_stay_quiet)
{
	ASSERT_EQ(0, write_file(self->dir, "events/ashmem/enable", "0"));
	ASSERT_EQ(0, write_file(self->dir, "trace", ""));
	ashmem_assert_set_size(_metadata, self->fd, self->page);
	munmap(ashmem_assert_mmap(_metadata, self->fd, self->page, PROT_READ,
				  MAP_SHARED, 0), self->page);
	EXPECT_FALSE(traced(_metadata, self->dir, "ashmem_mmap", self->id, NULL));
}

TEST_HARNESS_MAIN
