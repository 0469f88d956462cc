// SPDX-License-Identifier: GPL-2.0-only
/*
 * ashmem under load: many regions in a row. Memory pressure has a test of
 * its own, ashmem_pressure_test.
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

TEST_HARNESS_MAIN
