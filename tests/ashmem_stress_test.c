// SPDX-License-Identifier: GPL-2.0-only
/*
 * ashmem under load: many regions in a row, and real memory pressure that
 * only the driver's shrinker can relieve.
 *
 * The guests have no swap, so shmem pages cannot be reclaimed: when memory
 * runs out, dropping unpinned ashmem is the kernel's only way out short of
 * the OOM killer. The pressure test must never reach the OOM killer on a
 * correct driver (the bench fails a run on any OOM report), so it stops as
 * soon as the purge shows.
 */
#define _GNU_SOURCE

#include "kselftest_harness.h"
#include "ashmem_util.h"

/* ========================================================= many regions */

#define REGIONS		10000
#define BATCH		500	/* open at once: below the default RLIMIT_NOFILE */

FIXTURE(region_batch) {
	int fd[BATCH];
	uint32_t *map[BATCH];
	size_t page;
};

FIXTURE_SETUP(region_batch)
{
	int i;

	self->page = page_size();
	for (i = 0; i < BATCH; i++) {
		self->fd[i] = -1;
		self->map[i] = MAP_FAILED;
	}
}

FIXTURE_TEARDOWN(region_batch)
{
	int i;

	for (i = 0; i < BATCH; i++) {
		if (self->map[i] != MAP_FAILED)
			munmap(self->map[i], self->page);
		if (self->fd[i] >= 0)
			close(self->fd[i]);
	}
}

/*
 * Batches of regions live at once, each holding its own number at both
 * ends of its page: a region sharing another's memory shows up as a wrong
 * number.
 */
TEST_F_TIMEOUT(region_batch, ten_thousand_regions_work, 600)
{
	size_t last = self->page / sizeof(uint32_t) - 1;
	uint32_t n;
	char name[32];
	int b, i;

	for (b = 0; b < REGIONS / BATCH; b++) {
		for (i = 0; i < BATCH; i++) {
			n = b * BATCH + i;
			snprintf(name, sizeof(name), "region-%u", n);
			self->fd[i] = ashmem_assert_create(_metadata, name,
							   self->page);
			self->map[i] = ashmem_assert_mmap(_metadata, self->fd[i],
							  self->page,
							  PROT_READ | PROT_WRITE,
							  MAP_SHARED, 0);
			self->map[i][0] = n;
			self->map[i][last] = ~n;
		}
		for (i = 0; i < BATCH; i++) {
			n = b * BATCH + i;
			ASSERT_EQ(n, self->map[i][0]) {
				TH_LOG("region %u holds another region's data", n);
			}
			ASSERT_EQ(~n, self->map[i][last]) {
				TH_LOG("region %u holds another region's data", n);
			}
			ASSERT_EQ(0, munmap(self->map[i], self->page));
			self->map[i] = MAP_FAILED;
			ASSERT_EQ(0, close(self->fd[i]));
			self->fd[i] = -1;
		}
	}
}

/* ====================================================== memory pressure */

#define PRESSURE_MIB	64
#define MIB		(1024 * 1024)
#define SPARED_PAGES	4

/*
 * A 64 MiB region, filled and fully unpinned, and a small pinned region
 * beside it that the shrinker must leave alone.
 */
FIXTURE(pressure) {
	size_t page;
	size_t size;
	int fd;
	uint8_t *map;
	int pinned_fd;
	uint8_t *pinned;
};

FIXTURE_SETUP(pressure)
{
	self->page = page_size();
	self->size = (size_t)PRESSURE_MIB * MIB / self->page * self->page;
	self->fd = ashmem_assert_create(_metadata, "pressure", self->size);
	self->map = ashmem_assert_mmap(_metadata, self->fd, self->size,
				       PROT_READ | PROT_WRITE, MAP_SHARED, 0);
	self->pinned_fd = ashmem_assert_create(_metadata, "pressure-pinned",
					       SPARED_PAGES * self->page);
	self->pinned = ashmem_assert_mmap(_metadata, self->pinned_fd,
					  SPARED_PAGES * self->page,
					  PROT_READ | PROT_WRITE, MAP_SHARED,
					  0);
}

FIXTURE_TEARDOWN(pressure)
{
	munmap(self->pinned, SPARED_PAGES * self->page);
	close(self->pinned_fd);
	munmap(self->map, self->size);
	close(self->fd);
}

static int write_oom_score_adj(const char *value)
{
	int fd = open("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC);
	ssize_t len = strlen(value), n;

	if (fd < 0)
		return -1;
	n = write(fd, value, len);
	close(fd);
	return n == len ? 0 : -1;
}

struct pressure_child {
	long shmem_before_kb;	/* Shmem: with the region filled */
	long drop_kb;		/* a drop of Shmem: this much shows the purge */
	long limit_kb;		/* MemTotal: allocate no more than that */
};

enum {
	PRESSURE_PURGED = 0,	/* Shmem dropped by drop_kb */
	PRESSURE_NOT_PURGED = 2,	/* allocated MemTotal, no drop */
	PRESSURE_NO_MEMORY = 3,	/* mmap() refused before either */
};

/*
 * Allocate and touch anonymous memory 1 MiB at a time until Shmem: shows
 * the unpinned region gone, or MemTotal has been allocated. First in line
 * for the OOM killer if it comes to that.
 */
static int pressure_child(void *arg)
{
	struct pressure_child *c = arg;
	long allocated_kb = 0, shmem_kb = c->shmem_before_kb;
	void *p;

	CHILD_CHECK(write_oom_score_adj("1000") == 0,
		    "cannot set oom_score_adj: %s", errname(errno));
	while (allocated_kb < c->limit_kb) {
		p = mmap(NULL, MIB, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (p == MAP_FAILED) {
			fprintf(stderr, "# child: mmap failed after %ld kB: %s\n",
				allocated_kb, errname(errno));
			return PRESSURE_NO_MEMORY;
		}
		memset(p, 0x5a, MIB);
		allocated_kb += MIB / 1024;

		shmem_kb = meminfo_kb("Shmem");
		CHILD_CHECK(shmem_kb >= 0, "no Shmem: in /proc/meminfo");
		if (c->shmem_before_kb - shmem_kb >= c->drop_kb) {
			fprintf(stderr, "# child: Shmem dropped by %ld kB after %ld kB allocated\n",
				c->shmem_before_kb - shmem_kb, allocated_kb);
			return PRESSURE_PURGED;
		}
	}
	fprintf(stderr, "# child: allocated %ld kB, Shmem still %ld kB (was %ld kB)\n",
		allocated_kb, shmem_kb, c->shmem_before_kb);
	return PRESSURE_NOT_PURGED;
}

/* Put memory pressure on in a child until @c's drop of Shmem: shows. */
static void assert_pressure_purges(struct __test_metadata *_metadata,
				   struct pressure_child *c)
{
	int status = run_in_child(pressure_child, c);

	ASSERT_NE(128 + SIGKILL, status) {
		TH_LOG("the allocating child was killed, likely by the OOM killer: the shrinker did not purge the unpinned pages in time");
	}
	ASSERT_NE(PRESSURE_NOT_PURGED, status) {
		TH_LOG("under memory pressure the shrinker must purge unpinned pages, but Shmem: did not drop");
	}
	ASSERT_EQ(PRESSURE_PURGED, status) {
		TH_LOG("the allocating child failed (status %d)", status);
	}
}

TEST_F_TIMEOUT(pressure, shrinker_purges_unpinned_region, 600)
{
	size_t spared = SPARED_PAGES * self->page;
	struct pressure_child c;

	if (write_oom_score_adj("-1000"))
		SKIP(return, "cannot shield the test from the OOM killer (oom_score_adj -1000 needs root)");

	fill_pattern(self->pinned, 0, spared, 31);
	memset(self->map, 0xa5, self->size);
	c.shmem_before_kb = meminfo_kb("Shmem");
	c.drop_kb = self->size / 1024 / 2;
	c.limit_kb = meminfo_kb("MemTotal");
	ASSERT_LT(0, c.shmem_before_kb);
	ASSERT_LT(0, c.limit_kb);
	ashmem_assert_unpin(_metadata, self->fd, 0, 0);

	assert_pressure_purges(_metadata, &c);

	ashmem_assert_pin(_metadata, self->fd, 0, 0, ASHMEM_WAS_PURGED);
	assert_zeros(_metadata, self->map, 0, self->size,
		     "a region purged by the shrinker must read as zeros");
	assert_pattern(_metadata, self->pinned, 0, spared, 31,
		       "the shrinker must not touch pinned pages");
	ashmem_assert_pin(_metadata, self->pinned_fd, 0, 0, ASHMEM_NOT_PURGED);
}

/*
 * Every other page unpinned: the shrinker must punch holes of one page at
 * page offsets, whatever the page size (a driver that mixed 4K units and
 * 16K pages would purge pinned bytes or leave unpinned ones). Each
 * unpinned page ends either purged, reading as zeros and pinning
 * WAS_PURGED, or untouched; every pinned page keeps its data.
 */
TEST_F_TIMEOUT(pressure, shrinker_purges_only_the_unpinned_pages, 600)
{
	size_t page = self->page, pages = self->size / page, i, purged = 0;
	struct pressure_child c;
	uint8_t *p;
	int ret;

	if (write_oom_score_adj("-1000"))
		SKIP(return, "cannot shield the test from the OOM killer (oom_score_adj -1000 needs root)");

	fill_pattern(self->map, 0, self->size, 32);
	c.shmem_before_kb = meminfo_kb("Shmem");
	/* Half the region is unpinned: half of that shows the purge. */
	c.drop_kb = self->size / 1024 / 4;
	c.limit_kb = meminfo_kb("MemTotal");
	ASSERT_LT(0, c.shmem_before_kb);
	ASSERT_LT(0, c.limit_kb);
	for (i = 0; i < pages; i += 2)
		ashmem_assert_unpin(_metadata, self->fd, i * page, page);

	assert_pressure_purges(_metadata, &c);

	for (i = 0; i < pages; i++) {
		p = self->map + i * page;
		if (i % 2) {
			assert_pattern(_metadata, p, i * page, page, 32,
				       "the shrinker must not touch a pinned page between unpinned ones");
			continue;
		}
		ret = ashmem_pin_ioctl(self->fd, ASHMEM_PIN, i * page, page);
		ASSERT_TRUE(ret == ASHMEM_WAS_PURGED || ret == ASHMEM_NOT_PURGED) {
			TH_LOG("ASHMEM_PIN of page %zu returned %d (%s)", i, ret,
			       errname(errno));
		}
		if (ret == ASHMEM_WAS_PURGED) {
			assert_zeros(_metadata, p, i * page, page,
				     "a page PIN reports purged must read as zeros");
			purged++;
		} else {
			assert_pattern(_metadata, p, i * page, page, 32,
				       "a page PIN reports not purged must keep its data");
		}
	}
	ksft_print_msg("%zu of %zu unpinned pages of %zu bytes purged\n",
		       purged, (pages + 1) / 2, page);
	ASSERT_LE((size_t)c.drop_kb * 1024 / page, purged) {
		TH_LOG("Shmem: dropped by %ld kB, yet PIN reports only %zu pages purged",
		       c.drop_kb, purged);
	}
}

TEST_HARNESS_MAIN
