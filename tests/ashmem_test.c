// SPDX-License-Identifier: GPL-2.0-only
/*
 * The /dev/ashmem ABI as Android userspace uses it (libcutils, the NDK's
 * ASharedMemory, android.os.SharedMemory): one test per rule.
 *
 * Built twice: as a 64-bit program and with -m32 (ashmem_test_32), where
 * SET_SIZE, SET_PROT_MASK and GET_FILE_ID carry the 32-bit command numbers
 * the driver's compat_ioctl must translate.
 */
#define _GNU_SOURCE
#include <limits.h>
#include <sys/personality.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include "kselftest_harness.h"
#include "ashmem_util.h"

/* Pages in the regions most tests use. */
#define REGION_PAGES	4

#define TEST_NAME	"ashmem-test"

/* An address no process has mapped: a page that was just unmapped. */
static void *unmapped_address(void)
{
	size_t page = page_size();
	void *p = mmap(NULL, page, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS,
		       -1, 0);

	if (p == MAP_FAILED)
		return (void *)1;
	munmap(p, page);
	return p;
}

/* ============================================================ page size */

/*
 * Every test sizes its regions from the page size the kernel reports: say
 * which one this run has (4K, 16K or 64K on arm64), and that it is sane.
 */
TEST(page_size_is_a_power_of_two_from_4k)
{
	size_t page = page_size();

	ksft_print_msg("page size %zu bytes\n", page);
	ASSERT_EQ((size_t)getpagesize(), page) {
		TH_LOG("sysconf(_SC_PAGESIZE) and getpagesize() must agree");
	}
	ASSERT_LE((size_t)PAGE_4K, page);
	ASSERT_EQ(0, page & (page - 1)) {
		TH_LOG("a page size of %zu is not a power of two", page);
	}
}

/* ================================================================ device */

TEST(device_is_a_char_device_of_mode_0666)
{
	struct stat st;

	ASSERT_EQ(0, stat(ASHMEM_DEV, &st)) {
		TH_LOG("stat(%s) failed with %s: is ashmem_linux loaded?",
		       ASHMEM_DEV, errname(errno));
	}
	ASSERT_TRUE(S_ISCHR(st.st_mode)) {
		TH_LOG("%s must be a character device", ASHMEM_DEV);
	}
	ASSERT_EQ((mode_t)0666, st.st_mode & 07777) {
		TH_LOG("%s must be mode 0666: every app opens it", ASHMEM_DEV);
	}
}

TEST(each_open_is_a_new_region)
{
	size_t page = page_size();
	int a = ashmem_assert_open(_metadata);
	int b = ashmem_assert_open(_metadata);
	unsigned long id_a = 0, id_b = 0;

	ashmem_assert_set_name(_metadata, a, "region-a");
	ashmem_assert_set_size(_metadata, a, 2 * page);
	ashmem_assert_set_prot_mask(_metadata, a, PROT_READ | PROT_WRITE);

	/* Nothing set on a shows on b. */
	ashmem_assert_size(_metadata, b, 0);
	ashmem_assert_name(_metadata, b, ASHMEM_NAME_DEF);
	ashmem_assert_prot_mask(_metadata, b, ASHMEM_PROT_ALL);

	ashmem_assert_set_size(_metadata, b, page);
	ashmem_assert_mmap(_metadata, a, 2 * page, PROT_READ, MAP_SHARED, 0);
	ashmem_assert_mmap(_metadata, b, page, PROT_READ, MAP_SHARED, 0);
	ashmem_ioctl_ok(_metadata, a, ASHMEM_GET_FILE_ID, (unsigned long)&id_a,
			"ASHMEM_GET_FILE_ID");
	ashmem_ioctl_ok(_metadata, b, ASHMEM_GET_FILE_ID, (unsigned long)&id_b,
			"ASHMEM_GET_FILE_ID");
	ASSERT_NE(id_a, id_b) {
		TH_LOG("two opens must be backed by two different files");
	}
	close(a);
	close(b);
}

/*
 * libcutils accepts an fd as ashmem only if fstat() shows a character
 * device with /dev/ashmem's st_rdev: a region fd must stay the device file,
 * before and after its backing file exists.
 */
TEST(region_fd_is_the_device_for_fstat)
{
	size_t page = page_size();
	struct stat dev, st;
	int fd = ashmem_assert_open(_metadata);

	ASSERT_EQ(0, stat(ASHMEM_DEV, &dev));
	ASSERT_EQ(0, fstat(fd, &st));
	ASSERT_TRUE(S_ISCHR(st.st_mode)) {
		TH_LOG("fstat() of a region fd must show a character device");
	}
	ASSERT_EQ(dev.st_rdev, st.st_rdev) {
		TH_LOG("a region fd's st_rdev must be /dev/ashmem's");
	}

	ashmem_assert_set_size(_metadata, fd, page);
	ashmem_assert_mmap(_metadata, fd, page, PROT_READ, MAP_SHARED, 0);
	ASSERT_EQ(0, fstat(fd, &st));
	ASSERT_TRUE(S_ISCHR(st.st_mode)) {
		TH_LOG("after mmap() a region fd must still be the device");
	}
	ASSERT_EQ(dev.st_rdev, st.st_rdev) {
		TH_LOG("after mmap() a region fd's st_rdev must still be /dev/ashmem's");
	}
	close(fd);
}

/*
 * libcutils since Android 11 opens /dev/ashmem<boot_id>. Where a node of
 * that name exists it must be the same device, open to everyone.
 */
TEST(boot_id_node_is_the_same_device)
{
	char boot_id[64], path[128];
	struct stat dev, st;
	ssize_t len;

	len = read_text_file("/proc/sys/kernel/random/boot_id", boot_id,
			     sizeof(boot_id));
	if (len <= 0)
		SKIP(return, "no /proc/sys/kernel/random/boot_id");
	boot_id[strcspn(boot_id, "\n")] = '\0';
	snprintf(path, sizeof(path), "%s%s", ASHMEM_DEV, boot_id);
	if (stat(path, &st))
		SKIP(return, "no %s: the container setup creates it", path);

	ASSERT_EQ(0, stat(ASHMEM_DEV, &dev));
	ASSERT_TRUE(S_ISCHR(st.st_mode));
	ASSERT_EQ(dev.st_rdev, st.st_rdev) {
		TH_LOG("%s must be the same device as %s", path, ASHMEM_DEV);
	}
	ASSERT_EQ((mode_t)0666, st.st_mode & 07777) {
		TH_LOG("%s must be mode 0666", path);
	}
}

/* ============================================================= fixtures */

/* A region just opened: nothing set yet. */
FIXTURE(fresh_region) {
	int fd;
	size_t page;
};

FIXTURE_SETUP(fresh_region)
{
	self->page = page_size();
	self->fd = ashmem_assert_open(_metadata);
}

FIXTURE_TEARDOWN(fresh_region)
{
	close(self->fd);
}

/* A region named TEST_NAME of REGION_PAGES pages, not mapped yet. */
FIXTURE(sized_region) {
	int fd;
	size_t page;
	size_t size;
};

FIXTURE_SETUP(sized_region)
{
	self->page = page_size();
	self->size = REGION_PAGES * self->page;
	self->fd = ashmem_assert_create(_metadata, TEST_NAME, self->size);
}

FIXTURE_TEARDOWN(sized_region)
{
	close(self->fd);
}

/*
 * The same region mapped once, MAP_SHARED and read-write. No page of it has
 * been touched: each test writes what it needs.
 */
FIXTURE(mapped_region) {
	int fd;
	size_t page;
	size_t size;
	uint8_t *map;
};

FIXTURE_SETUP(mapped_region)
{
	self->page = page_size();
	self->size = REGION_PAGES * self->page;
	self->fd = ashmem_assert_create(_metadata, TEST_NAME, self->size);
	self->map = ashmem_assert_mmap(_metadata, self->fd, self->size,
				       PROT_READ | PROT_WRITE, MAP_SHARED, 0);
}

FIXTURE_TEARDOWN(mapped_region)
{
	munmap(self->map, self->size);
	close(self->fd);
}

/* ============================================================= defaults */

TEST_F(fresh_region, default_size_is_zero)
{
	ashmem_assert_size(_metadata, self->fd, 0);
}

TEST_F(fresh_region, default_prot_mask_is_read_write_exec)
{
	ashmem_assert_prot_mask(_metadata, self->fd, ASHMEM_PROT_ALL);
}

TEST_F(fresh_region, default_name_is_dev_ashmem)
{
	ashmem_assert_name(_metadata, self->fd, "dev/ashmem");
}

/* ================================================================= name */

TEST_F(fresh_region, set_name_then_get_name_returns_it)
{
	ashmem_assert_set_name(_metadata, self->fd, "my region");
	ashmem_assert_name(_metadata, self->fd, "my region");
	ashmem_assert_set_name(_metadata, self->fd, "renamed");
	ashmem_assert_name(_metadata, self->fd, "renamed");
}

TEST_F(fresh_region, set_name_truncates_to_255_bytes)
{
	char name[301], expected[ASHMEM_NAME_LEN];

	memset(name, 'n', 300);
	name[0] = 'A';
	name[254] = 'B';	/* the last byte kept */
	name[255] = 'C';	/* the first byte dropped */
	name[300] = '\0';
	memcpy(expected, name, ASHMEM_NAME_LEN - 1);
	expected[ASHMEM_NAME_LEN - 1] = '\0';

	ashmem_assert_set_name(_metadata, self->fd, name);
	ashmem_assert_name(_metadata, self->fd, expected);
}

TEST_F(fresh_region, set_name_from_bad_pointer_efault)
{
	ashmem_fail_set_name(_metadata, self->fd, (void *)1, EFAULT);
	ashmem_fail_set_name(_metadata, self->fd, unmapped_address(), EFAULT);
	ashmem_assert_name(_metadata, self->fd, ASHMEM_NAME_DEF);
}

TEST_F(fresh_region, get_name_to_bad_pointer_efault)
{
	char *ro = mmap(NULL, self->page, PROT_READ,
			MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	ASSERT_NE(MAP_FAILED, ro);
	ashmem_assert_set_name(_metadata, self->fd, "unwritable");
	ashmem_fail_get_name(_metadata, self->fd, (void *)1, EFAULT);
	ashmem_fail_get_name(_metadata, self->fd, unmapped_address(), EFAULT);
	ashmem_fail_get_name(_metadata, self->fd, ro, EFAULT);
	munmap(ro, self->page);
}

TEST_F(mapped_region, set_name_after_mmap_einval)
{
	ashmem_fail_set_name(_metadata, self->fd, "too late", EINVAL);
	ashmem_assert_name(_metadata, self->fd, TEST_NAME);
}

TEST_F(mapped_region, get_name_works_after_mmap)
{
	ashmem_assert_name(_metadata, self->fd, TEST_NAME);
}

/* ================================================================= size */

TEST_F(fresh_region, set_size_then_get_size_returns_it)
{
	ashmem_assert_set_size(_metadata, self->fd, 3 * self->page);
	ashmem_assert_size(_metadata, self->fd, 3 * self->page);
	ashmem_assert_set_size(_metadata, self->fd, self->page);
	ashmem_assert_size(_metadata, self->fd, self->page);
}

/* libcutils passes the size its caller asked for, page-aligned or not. */
TEST_F(fresh_region, set_size_accepts_unaligned_size)
{
	ashmem_assert_set_size(_metadata, self->fd, 2 * self->page + 1);
	ashmem_assert_size(_metadata, self->fd, 2 * self->page + 1);
	ashmem_assert_set_size(_metadata, self->fd, 100);
	ashmem_assert_size(_metadata, self->fd, 100);
}

TEST_F(mapped_region, set_size_after_mmap_einval)
{
	ashmem_fail_set_size(_metadata, self->fd, 2 * self->size, EINVAL);
	ashmem_assert_size(_metadata, self->fd, self->size);
}

TEST_F(fresh_region, set_size_beyond_max_file_size_einval)
{
	if (sizeof(size_t) < 8)
		SKIP(return, "a 32-bit size_t cannot exceed a 64-bit kernel's maximum file size");
	ashmem_fail_set_size(_metadata, self->fd, (size_t)-1, EINVAL);
	ashmem_assert_size(_metadata, self->fd, 0);
}

/* ============================================================ prot mask */

TEST_F(fresh_region, set_prot_mask_removes_bits)
{
	ashmem_assert_set_prot_mask(_metadata, self->fd, PROT_READ | PROT_WRITE);
	ashmem_assert_prot_mask(_metadata, self->fd, PROT_READ | PROT_WRITE);
	ashmem_assert_set_prot_mask(_metadata, self->fd, PROT_READ);
	ashmem_assert_prot_mask(_metadata, self->fd, PROT_READ);
	ashmem_assert_set_prot_mask(_metadata, self->fd, PROT_NONE);
	ashmem_assert_prot_mask(_metadata, self->fd, PROT_NONE);
}

/* Android narrows a region to read-only after filling it. */
TEST_F(mapped_region, set_prot_mask_removes_bits_after_mmap)
{
	ashmem_assert_set_prot_mask(_metadata, self->fd, PROT_READ);
	ashmem_assert_prot_mask(_metadata, self->fd, PROT_READ);
	ashmem_fail_mmap(_metadata, self->fd, self->size,
			 PROT_READ | PROT_WRITE, MAP_SHARED, 0, EPERM);
	ashmem_assert_mmap(_metadata, self->fd, self->size, PROT_READ,
			   MAP_SHARED, 0);
}

TEST_F(fresh_region, set_prot_mask_cannot_add_bits_back)
{
	ashmem_assert_set_prot_mask(_metadata, self->fd, PROT_READ);
	ashmem_fail_set_prot_mask(_metadata, self->fd, PROT_READ | PROT_WRITE,
				  EINVAL);
	ashmem_fail_set_prot_mask(_metadata, self->fd, PROT_EXEC, EINVAL);
	ashmem_assert_prot_mask(_metadata, self->fd, PROT_READ);
}

TEST_F(fresh_region, set_prot_mask_unknown_bit_einval)
{
	ashmem_fail_set_prot_mask(_metadata, self->fd, 0x8, EINVAL);
	ashmem_fail_set_prot_mask(_metadata, self->fd, PROT_READ | 0x8, EINVAL);
	ashmem_assert_prot_mask(_metadata, self->fd, ASHMEM_PROT_ALL);
}

static int read_implies_exec_child(void *arg)
{
	int fd = *(int *)arg, prot;

	CHILD_CHECK(personality(PER_LINUX | READ_IMPLIES_EXEC) != -1,
		    "personality(READ_IMPLIES_EXEC): %s", errname(errno));
	CHILD_CHECK(ioctl(fd, ASHMEM_SET_PROT_MASK, PROT_READ) == 0,
		    "ASHMEM_SET_PROT_MASK(PROT_READ) failed with %s",
		    errname(errno));
	prot = ioctl(fd, ASHMEM_GET_PROT_MASK, 0);
	CHILD_CHECK(prot == (PROT_READ | PROT_EXEC),
		    "with READ_IMPLIES_EXEC, PROT_READ must imply PROT_EXEC: GET_PROT_MASK returned %#x",
		    prot);
	return 0;
}

TEST_F(fresh_region, read_implies_exec_personality_adds_prot_exec)
{
	ASSERT_EQ(0, run_in_child(read_implies_exec_child, &self->fd)) {
		TH_LOG("a READ_IMPLIES_EXEC process setting PROT_READ must get PROT_READ|PROT_EXEC");
	}
}

/* ================================================================= mmap */

TEST_F(fresh_region, mmap_of_size_zero_region_einval)
{
	ashmem_fail_mmap(_metadata, self->fd, self->page, PROT_READ,
			 MAP_SHARED, 0, EINVAL);
}

TEST_F(sized_region, mmap_longer_than_region_einval)
{
	ashmem_fail_mmap(_metadata, self->fd, self->size + self->page,
			 PROT_READ, MAP_SHARED, 0, EINVAL);
	ashmem_fail_mmap(_metadata, self->fd, self->size + self->page,
			 PROT_READ, MAP_PRIVATE, 0, EINVAL);
}

TEST_F(sized_region, mmap_past_end_at_offset_einval)
{
	uint8_t *p;

	ashmem_fail_mmap(_metadata, self->fd, 2 * self->page, PROT_READ,
			 MAP_SHARED, self->size - self->page, EINVAL);
	p = ashmem_assert_mmap(_metadata, self->fd, self->page,
			       PROT_READ | PROT_WRITE, MAP_SHARED,
			       self->size - self->page);
	p[0] = 1;
}

/* The last, partial page of an unaligned size is part of the region. */
TEST_F(fresh_region, mmap_of_unaligned_size_takes_whole_pages)
{
	size_t size = 2 * self->page + 1, len = 3 * self->page;
	uint8_t *p;

	ashmem_assert_set_size(_metadata, self->fd, size);
	ashmem_fail_mmap(_metadata, self->fd, len + self->page, PROT_READ,
			 MAP_SHARED, 0, EINVAL);
	p = ashmem_assert_mmap(_metadata, self->fd, len,
			       PROT_READ | PROT_WRITE, MAP_SHARED, 0);
	fill_pattern(p, 0, len, 1);
	assert_pattern(_metadata, p, 0, len, 1,
		       "every page of PAGE_ALIGN(size) must be usable");
	munmap(p, len);
}

/*
 * mmap() lengths round up to whole pages. A 4K region (what an app assuming
 * 4K pages asks for) is one whole page on a 16K kernel: a 4K or a 1-byte
 * mapping maps all of it, shared; one byte past the page is a second page,
 * past the region.
 */
TEST_F(fresh_region, mmap_length_rounds_up_to_the_page_size)
{
	size_t page = self->page;
	uint8_t *p, *q;

	ashmem_assert_set_size(_metadata, self->fd, PAGE_4K);
	ashmem_fail_mmap(_metadata, self->fd, page + 1, PROT_READ, MAP_SHARED,
			 0, EINVAL);
	p = ashmem_assert_mmap(_metadata, self->fd, PAGE_4K,
			       PROT_READ | PROT_WRITE, MAP_SHARED, 0);
	q = ashmem_assert_mmap(_metadata, self->fd, 1, PROT_READ | PROT_WRITE,
			       MAP_SHARED, 0);
	/* Faults, and so fails the test, if p maps less than a page. */
	fill_pattern(p, 0, page, 24);
	assert_pattern(_metadata, q, 0, page, 24,
		       "a 1-byte mapping must map the region's whole first page");
	munmap(q, 1);
	munmap(p, PAGE_4K);
}

TEST_F(sized_region, mmap_prot_outside_mask_eperm)
{
	ashmem_assert_set_prot_mask(_metadata, self->fd, PROT_READ);
	ashmem_fail_mmap(_metadata, self->fd, self->size, PROT_WRITE,
			 MAP_SHARED, 0, EPERM);
	ashmem_fail_mmap(_metadata, self->fd, self->size,
			 PROT_READ | PROT_EXEC, MAP_SHARED, 0, EPERM);
	ashmem_assert_mmap(_metadata, self->fd, self->size, PROT_READ,
			   MAP_SHARED, 0);
}

/* CVE-2020-0009: mprotect() must not add what the mask took away. */
TEST_F(sized_region, mprotect_cannot_add_prot_the_mask_removed)
{
	void *p;

	ashmem_assert_set_prot_mask(_metadata, self->fd, PROT_READ);
	p = ashmem_assert_mmap(_metadata, self->fd, self->size, PROT_READ,
			       MAP_SHARED, 0);
	ASSERT_EQ(-1, mprotect(p, self->size, PROT_READ | PROT_WRITE)) {
		TH_LOG("mprotect(PROT_WRITE) must fail when the mask lacks PROT_WRITE");
	}
	ASSERT_EQ(EACCES, errno);
	ASSERT_EQ(-1, mprotect(p, self->size, PROT_READ | PROT_EXEC)) {
		TH_LOG("mprotect(PROT_EXEC) must fail when the mask lacks PROT_EXEC");
	}
	ASSERT_EQ(EACCES, errno);
	ASSERT_EQ(0, mprotect(p, self->size, PROT_NONE));
	ASSERT_EQ(0, mprotect(p, self->size, PROT_READ)) {
		TH_LOG("mprotect() back to a prot the mask allows must work");
	}
}

/*
 * remap_file_pages() re-creates a mapping through the backing file's own
 * mmap(), which would bring back the VM_MAY* bits mmap() cleared. Page 0 is
 * remapped; the other pages keep the original mapping.
 */
TEST_F(sized_region, remap_file_pages_cannot_escape_prot_mask)
{
	uint8_t *p;
	int ret;

	ashmem_assert_set_prot_mask(_metadata, self->fd, PROT_READ);
	p = ashmem_assert_mmap(_metadata, self->fd, self->size, PROT_READ,
			       MAP_SHARED, 0);
	ret = remap_file_pages(p, self->page, 0, 1, 0);
	ASSERT_EQ(-1, ret) {
		TH_LOG("remap_file_pages() must not remap a region's backing file");
	}
	ASSERT_EQ(EPERM, errno);
	/*
	 * Before 6.12 a failed MAP_FIXED mmap() leaves its range unmapped
	 * (ENOMEM); later kernels restore the old mapping (EACCES). Neither
	 * may become writable.
	 */
	ASSERT_EQ(-1, mprotect(p, self->page, PROT_READ | PROT_WRITE)) {
		TH_LOG("after remap_file_pages() page 0 must still refuse PROT_WRITE");
	}
	ASSERT_TRUE(errno == EACCES || errno == ENOMEM) {
		TH_LOG("mprotect() of page 0 failed with %s", errname(errno));
	}
	ASSERT_EQ(-1, mprotect(p + self->page, self->size - self->page,
			       PROT_READ | PROT_WRITE)) {
		TH_LOG("after remap_file_pages() the mapping must still refuse PROT_WRITE");
	}
	ASSERT_EQ(EACCES, errno);
}

/*
 * The file of the @size-byte mapping at @p, opened read-write through
 * /proc/self/map_files/, or -1.
 */
static int map_files_open(void *p, size_t size)
{
	char path[128];

	snprintf(path, sizeof(path), "/proc/self/map_files/%lx-%lx",
		 (unsigned long)p, (unsigned long)p + size);
	return open(path, O_RDWR | O_CLOEXEC);
}

/* /proc/PID/map_files/ opens the backing file itself (root only). */
TEST_F(sized_region, map_files_cannot_escape_prot_mask)
{
	void *p, *q;
	int bfd;

	if (geteuid())
		SKIP(return, "opening /proc/self/map_files/ needs CAP_SYS_ADMIN");
	ashmem_assert_set_prot_mask(_metadata, self->fd, PROT_READ);
	p = ashmem_assert_mmap(_metadata, self->fd, self->size, PROT_READ,
			       MAP_SHARED, 0);
	bfd = map_files_open(p, self->size);
	if (bfd < 0)
		return;	/* the backing file cannot be reached at all: fine */
	q = mmap(NULL, self->size, PROT_READ | PROT_WRITE, MAP_SHARED, bfd, 0);
	ASSERT_EQ(MAP_FAILED, q) {
		TH_LOG("the backing file must refuse mmap(), or it escapes the prot mask");
	}
	ASSERT_EQ(EPERM, errno);
	close(bfd);
}

/*
 * A mapping made while the mask forbids nothing holds the backing file
 * itself. Reopened through /proc/PID/map_files/, it still cannot be mapped
 * around the mask narrowed since (root only).
 */
TEST_F(sized_region, map_files_of_an_unrestricted_mapping_refuses_mmap)
{
	void *p, *q;
	int bfd;

	if (geteuid())
		SKIP(return, "opening /proc/self/map_files/ needs CAP_SYS_ADMIN");
	p = ashmem_assert_mmap(_metadata, self->fd, self->size,
			       PROT_READ | PROT_WRITE, MAP_SHARED, 0);
	ashmem_assert_set_prot_mask(_metadata, self->fd, PROT_READ);
	bfd = map_files_open(p, self->size);
	if (bfd < 0)
		return;	/* the backing file cannot be reached at all: fine */
	q = mmap(NULL, self->size, PROT_READ | PROT_WRITE, MAP_SHARED, bfd, 0);
	ASSERT_EQ(MAP_FAILED, q) {
		TH_LOG("a reopened backing file must refuse mmap(), or it escapes the prot mask");
	}
	ASSERT_EQ(EPERM, errno);
	q = mmap(NULL, self->size, PROT_READ, MAP_SHARED, bfd, 0);
	ASSERT_EQ(MAP_FAILED, q) {
		TH_LOG("a reopened backing file must refuse even a mapping the mask allows");
	}
	ASSERT_EQ(EPERM, errno);
	close(bfd);
}

TEST_F(mapped_region, shared_mappings_see_each_others_writes)
{
	uint8_t *second = ashmem_assert_mmap(_metadata, self->fd, self->size,
					     PROT_READ | PROT_WRITE,
					     MAP_SHARED, 0);

	fill_pattern(self->map, 0, self->size, 3);
	assert_pattern(_metadata, second, 0, self->size, 3,
		       "a write through one MAP_SHARED mapping must show in another");
	fill_pattern(second + self->page, self->page, self->page, 4);
	assert_pattern(_metadata, self->map + self->page, self->page,
		       self->page, 4,
		       "a write through the second mapping must show in the first");
	munmap(second, self->size);
}

struct fork_share {
	int fd;
	size_t size;
	size_t page;
};

/* Map the inherited fd anew, check the parent's data, write page 1. */
static int fork_share_child(void *arg)
{
	struct fork_share *s = arg;
	uint8_t *p = mmap(NULL, s->size, PROT_READ | PROT_WRITE, MAP_SHARED,
			  s->fd, 0);

	CHILD_CHECK(p != MAP_FAILED, "mmap of the inherited fd failed with %s",
		    errname(errno));
	CHILD_CHECK(pattern_mismatch(p, 0, s->page, 5) == -1,
		    "the child must see what the parent wrote");
	fill_pattern(p + s->page, s->page, s->page, 6);
	return 0;
}

TEST_F(mapped_region, forked_child_maps_the_same_memory)
{
	struct fork_share s = { self->fd, self->size, self->page };

	fill_pattern(self->map, 0, self->page, 5);
	ASSERT_EQ(0, run_in_child(fork_share_child, &s));
	assert_pattern(_metadata, self->map + self->page, self->page,
		       self->page, 6,
		       "the parent must see what the child wrote");
}

/*
 * Android's driver makes a MAP_PRIVATE mapping private anonymous memory:
 * it starts zeroed whatever the shared pages hold, and its writes stay in
 * it.
 */
TEST_F(mapped_region, private_mapping_is_private_anonymous_memory)
{
	uint8_t *priv, buf[64];

	fill_pattern(self->map, 0, self->size, 7);
	priv = ashmem_assert_mmap(_metadata, self->fd, self->size,
				  PROT_READ | PROT_WRITE, MAP_PRIVATE, 0);
	assert_zeros(_metadata, priv, 0, self->size,
		     "a MAP_PRIVATE mapping must read zeros, not the shared pages");

	fill_pattern(priv, 0, self->size, 8);
	assert_pattern(_metadata, self->map, 0, self->size, 7,
		       "writes to a MAP_PRIVATE mapping must not reach the shared pages");
	ASSERT_EQ((ssize_t)sizeof(buf), pread(self->fd, buf, sizeof(buf), 0));
	assert_pattern(_metadata, buf, 0, sizeof(buf), 7,
		       "writes to a MAP_PRIVATE mapping must not reach the backing file");

	fill_pattern(self->map, 0, self->page, 9);
	assert_pattern(_metadata, priv, 0, self->page, 8,
		       "shared writes must not show in a MAP_PRIVATE mapping");
	munmap(priv, self->size);
}

TEST_F(mapped_region, proc_maps_shows_the_region_name)
{
	char maps[65536], want[128], *line, *end;
	unsigned long start, stop;
	int path_at;

	snprintf(want, sizeof(want), "/dev/ashmem/%s (deleted)", TEST_NAME);
	ASSERT_LT(0, read_text_file("/proc/self/maps", maps, sizeof(maps)));
	for (line = maps; *line; line = end + 1) {
		end = strchr(line, '\n');
		if (!end)
			break;
		*end = '\0';
		path_at = 0;
		if (sscanf(line, "%lx-%lx %*s %*s %*s %*s %n", &start, &stop,
			   &path_at) < 2 || start != (unsigned long)self->map)
			continue;
		ASSERT_NE(0, path_at);
		ASSERT_STREQ(want, line + path_at) {
			TH_LOG("/proc/self/maps must name the mapping %s", want);
		}
		return;
	}
	ASSERT_TRUE(false) {
		TH_LOG("the mapping at %p is missing from /proc/self/maps",
		       self->map);
	}
}

/*
 * The receiving side: the region was created after the fork, so the only
 * way this process has it is the fd that came over the socket.
 */
static int scm_receiver(int sock)
{
	size_t page = page_size();
	struct stat dev, st;
	uint8_t *p;
	int fd, size;

	fd = recv_fd(sock);
	CHILD_CHECK(fd >= 0, "no fd came over the socket");
	CHILD_CHECK(fstat(fd, &st) == 0 && stat(ASHMEM_DEV, &dev) == 0 &&
		    st.st_rdev == dev.st_rdev,
		    "a received region fd must still be /dev/ashmem");
	size = ioctl(fd, ASHMEM_GET_SIZE, 0);
	CHILD_CHECK(size == (int)(2 * page),
		    "the received region's size is %d, expected %zu", size,
		    2 * page);
	p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	CHILD_CHECK(p != MAP_FAILED, "mmap of the received fd failed with %s",
		    errname(errno));
	CHILD_CHECK(pattern_mismatch(p, 0, page, 10) == -1,
		    "the receiver must see the sender's data");
	fill_pattern(p + page, page, page, 11);
	return 0;
}

TEST(region_passed_over_scm_rights_maps_the_same_memory)
{
	size_t page = page_size();
	int sv[2], fd, status;
	uint8_t *p;
	pid_t pid;

	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv));
	fflush(NULL);
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		close(sv[0]);
		_exit(scm_receiver(sv[1]));
	}
	close(sv[1]);

	fd = ashmem_assert_create(_metadata, "scm-rights", 2 * page);
	p = ashmem_assert_mmap(_metadata, fd, 2 * page, PROT_READ | PROT_WRITE,
			       MAP_SHARED, 0);
	fill_pattern(p, 0, page, 10);
	ASSERT_EQ(0, send_fd(sv[0], fd));
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) {
		TH_LOG("the receiver of the fd failed (status %#x)", status);
	}
	assert_pattern(_metadata, p + page, page, page, 11,
		       "the sender must see what the receiver wrote");
	close(sv[0]);
	close(fd);
}

static int narrow_to_read_child(void *arg)
{
	int fd = *(int *)arg;

	CHILD_CHECK(ioctl(fd, ASHMEM_SET_PROT_MASK, PROT_READ) == 0,
		    "ASHMEM_SET_PROT_MASK(PROT_READ) in the child failed with %s",
		    errname(errno));
	return 0;
}

/* The mask belongs to the region, not to the process that set it. */
TEST_F(sized_region, mask_narrowed_by_child_refuses_parent_mmap)
{
	ASSERT_EQ(0, run_in_child(narrow_to_read_child, &self->fd));
	ashmem_assert_prot_mask(_metadata, self->fd, PROT_READ);
	ashmem_fail_mmap(_metadata, self->fd, self->size,
			 PROT_READ | PROT_WRITE, MAP_SHARED, 0, EPERM);
	ashmem_assert_mmap(_metadata, self->fd, self->size, PROT_READ,
			   MAP_SHARED, 0);
}

/* ==================================== PIN, UNPIN, GET_PIN_STATUS errors */

/*
 * The three commands share their argument checks. The region's size is
 * unaligned: PAGE_ALIGN(size) is REGION_PAGES pages.
 */
FIXTURE(pin_cmd) {
	int fd;
	size_t page;
	size_t end;	/* PAGE_ALIGN(size) */
	void *map;
};

FIXTURE_VARIANT(pin_cmd) {
	unsigned long cmd;
};

FIXTURE_VARIANT_ADD(pin_cmd, pin) { .cmd = ASHMEM_PIN };
FIXTURE_VARIANT_ADD(pin_cmd, unpin) { .cmd = ASHMEM_UNPIN };
FIXTURE_VARIANT_ADD(pin_cmd, get_pin_status) { .cmd = ASHMEM_GET_PIN_STATUS };

FIXTURE_SETUP(pin_cmd)
{
	self->page = page_size();
	self->end = REGION_PAGES * self->page;
	self->fd = ashmem_assert_create(_metadata, TEST_NAME,
					self->end - self->page + 1);
	self->map = ashmem_assert_mmap(_metadata, self->fd, self->end,
				       PROT_READ | PROT_WRITE, MAP_SHARED, 0);
}

FIXTURE_TEARDOWN(pin_cmd)
{
	munmap(self->map, self->end);
	close(self->fd);
}

TEST_F(pin_cmd, einval_before_first_mmap)
{
	int fd = ashmem_assert_create(_metadata, "unmapped", self->end);

	ashmem_fail_pin_cmd(_metadata, fd, variant->cmd, 0, self->page, EINVAL);
	ashmem_fail_pin_cmd(_metadata, fd, variant->cmd, 0, 0, EINVAL);
	close(fd);
}

TEST_F(pin_cmd, einval_for_unaligned_offset)
{
	ashmem_fail_pin_cmd(_metadata, self->fd, variant->cmd, self->page / 2,
			    self->page, EINVAL);
	ashmem_fail_pin_cmd(_metadata, self->fd, variant->cmd, 1, 0, EINVAL);
}

TEST_F(pin_cmd, einval_for_unaligned_len)
{
	ashmem_fail_pin_cmd(_metadata, self->fd, variant->cmd, 0,
			    self->page / 2, EINVAL);
	ashmem_fail_pin_cmd(_metadata, self->fd, variant->cmd, self->page,
			    self->page + 1, EINVAL);
}

/* What @cmd returns when it works on a pinned range. */
static int pin_cmd_ok(unsigned long cmd)
{
	return cmd == ASHMEM_GET_PIN_STATUS ? ASHMEM_IS_PINNED : 0;
}

/*
 * Android computes pin ranges in getpagesize() units; an app that assumed
 * 4K pages passes, on a 16K or 64K kernel, offsets and lengths aligned to
 * 4K but not to the page. Those must be refused, not rounded: nothing gets
 * unpinned by them. There are none on a 4K kernel.
 */
TEST_F(pin_cmd, einval_for_4k_aligned_offset_on_larger_pages)
{
	uint32_t page = self->page;

	if (page <= PAGE_4K)
		SKIP(return, "the page size is %u: every 4K-aligned offset is page-aligned",
		     page);
	ashmem_fail_pin_cmd(_metadata, self->fd, variant->cmd, PAGE_4K, page,
			    EINVAL);
	ashmem_fail_pin_cmd(_metadata, self->fd, variant->cmd, page - PAGE_4K,
			    page, EINVAL);
	ashmem_fail_pin_cmd(_metadata, self->fd, variant->cmd, page + PAGE_4K,
			    0, EINVAL);
	ashmem_assert_pin_status(_metadata, self->fd, 0, 0, ASHMEM_IS_PINNED);
	ashmem_assert_pin_cmd(_metadata, self->fd, variant->cmd, page, page,
			      pin_cmd_ok(variant->cmd));
}

TEST_F(pin_cmd, einval_for_4k_aligned_len_on_larger_pages)
{
	uint32_t page = self->page;

	if (page <= PAGE_4K)
		SKIP(return, "the page size is %u: every 4K-aligned length is page-aligned",
		     page);
	ashmem_fail_pin_cmd(_metadata, self->fd, variant->cmd, 0, PAGE_4K,
			    EINVAL);
	ashmem_fail_pin_cmd(_metadata, self->fd, variant->cmd, 0,
			    page - PAGE_4K, EINVAL);
	ashmem_fail_pin_cmd(_metadata, self->fd, variant->cmd, page,
			    page + PAGE_4K, EINVAL);
	ashmem_assert_pin_status(_metadata, self->fd, 0, 0, ASHMEM_IS_PINNED);
	ashmem_assert_pin_cmd(_metadata, self->fd, variant->cmd, 0, page,
			      pin_cmd_ok(variant->cmd));
}

/* 2^32 - page + 2 pages wraps to one page: inside the region, if wrapped. */
TEST_F(pin_cmd, einval_when_offset_plus_len_overflows_32_bits)
{
	uint32_t offset = (uint32_t)(0 - (uint32_t)self->page);

	ashmem_fail_pin_cmd(_metadata, self->fd, variant->cmd, offset,
			    2 * self->page, EINVAL);
	ashmem_fail_pin_cmd(_metadata, self->fd, variant->cmd, self->page,
			    offset, EINVAL);
}

TEST_F(pin_cmd, einval_past_page_aligned_size)
{
	uint32_t end = self->end, page = self->page;
	int ok = pin_cmd_ok(variant->cmd);

	ashmem_fail_pin_cmd(_metadata, self->fd, variant->cmd, end, page,
			    EINVAL);
	ashmem_fail_pin_cmd(_metadata, self->fd, variant->cmd, end - page,
			    2 * page, EINVAL);
	ashmem_fail_pin_cmd(_metadata, self->fd, variant->cmd, 0, end + page,
			    EINVAL);
	ashmem_fail_pin_cmd(_metadata, self->fd, variant->cmd, end + page, 0,
			    EINVAL);
	/* The last, partial page of the size is inside. */
	ashmem_assert_pin_cmd(_metadata, self->fd, variant->cmd, end - page,
			      page, ok);
}

TEST_F(pin_cmd, efault_for_bad_pointer)
{
	ashmem_ioctl_fails(_metadata, self->fd, variant->cmd, 1, EFAULT,
			   ashmem_cmd_name(variant->cmd));
	ashmem_ioctl_fails(_metadata, self->fd, variant->cmd,
			   (unsigned long)unmapped_address(), EFAULT,
			   ashmem_cmd_name(variant->cmd));
}

/* ================================================= pinning and unpinning */

TEST_F(mapped_region, pin_status_is_pinned_by_default)
{
	size_t i;

	ashmem_assert_pin_status(_metadata, self->fd, 0, 0, ASHMEM_IS_PINNED);
	for (i = 0; i < REGION_PAGES; i++)
		ashmem_assert_pin_status(_metadata, self->fd, i * self->page,
					 self->page, ASHMEM_IS_PINNED);
}

TEST_F(mapped_region, pin_status_is_unpinned_if_any_page_is)
{
	uint32_t page = self->page;

	ashmem_assert_unpin(_metadata, self->fd, 2 * page, page);
	ashmem_assert_pin_status(_metadata, self->fd, 0, 0, ASHMEM_IS_UNPINNED);
	ashmem_assert_pin_status(_metadata, self->fd, page, 2 * page,
				 ASHMEM_IS_UNPINNED);
	ashmem_assert_pin_status(_metadata, self->fd, 2 * page, page,
				 ASHMEM_IS_UNPINNED);
	ashmem_assert_pin_status(_metadata, self->fd, 0, 2 * page,
				 ASHMEM_IS_PINNED);
	ashmem_assert_pin_status(_metadata, self->fd, 3 * page, page,
				 ASHMEM_IS_PINNED);
}

TEST_F(mapped_region, pin_of_pinned_range_returns_not_purged)
{
	ashmem_assert_pin(_metadata, self->fd, 0, 0, ASHMEM_NOT_PURGED);
	ashmem_assert_pin(_metadata, self->fd, self->page, self->page,
			  ASHMEM_NOT_PURGED);
	ashmem_assert_pin_status(_metadata, self->fd, 0, 0, ASHMEM_IS_PINNED);
}

TEST_F(mapped_region, unpin_then_pin_keeps_the_data)
{
	fill_pattern(self->map, 0, self->size, 12);
	ashmem_assert_unpin(_metadata, self->fd, 0, 0);
	ashmem_assert_pin_status(_metadata, self->fd, 0, 0, ASHMEM_IS_UNPINNED);
	ashmem_assert_pin(_metadata, self->fd, 0, 0, ASHMEM_NOT_PURGED);
	ashmem_assert_pin_status(_metadata, self->fd, 0, 0, ASHMEM_IS_PINNED);
	assert_pattern(_metadata, self->map, 0, self->size, 12,
		       "pages not purged while unpinned must keep their data");
}

TEST_F(mapped_region, len_zero_means_up_to_the_end)
{
	uint32_t page = self->page;

	ashmem_assert_unpin(_metadata, self->fd, 2 * page, 0);
	ashmem_assert_pin_status(_metadata, self->fd, 3 * page, page,
				 ASHMEM_IS_UNPINNED);
	ashmem_assert_pin_status(_metadata, self->fd, 2 * page, page,
				 ASHMEM_IS_UNPINNED);
	ashmem_assert_pin_status(_metadata, self->fd, 0, 2 * page,
				 ASHMEM_IS_PINNED);
	ashmem_assert_pin_status(_metadata, self->fd, page, 0,
				 ASHMEM_IS_UNPINNED);
	ashmem_assert_pin(_metadata, self->fd, page, 0, ASHMEM_NOT_PURGED);
	ashmem_assert_pin_status(_metadata, self->fd, 0, 0, ASHMEM_IS_PINNED);
}

TEST_F(mapped_region, unpin_of_unpinned_range_succeeds)
{
	uint32_t page = self->page;

	ashmem_assert_unpin(_metadata, self->fd, page, 2 * page);
	ashmem_assert_unpin(_metadata, self->fd, page, 2 * page);
	ashmem_assert_unpin(_metadata, self->fd, 2 * page, page);
	ashmem_assert_pin_status(_metadata, self->fd, page, 2 * page,
				 ASHMEM_IS_UNPINNED);
	ashmem_assert_pin(_metadata, self->fd, page, 2 * page,
			  ASHMEM_NOT_PURGED);
	ashmem_assert_pin_status(_metadata, self->fd, 0, 0, ASHMEM_IS_PINNED);
}

/*
 * A 4K region is one whole page whatever the page size: it unpins and pins
 * as [0, page), and nothing lies beyond.
 */
TEST_F(fresh_region, region_of_4k_pins_as_one_whole_page)
{
	uint32_t page = self->page;
	void *p;

	ashmem_assert_set_size(_metadata, self->fd, PAGE_4K);
	p = ashmem_assert_mmap(_metadata, self->fd, PAGE_4K,
			       PROT_READ | PROT_WRITE, MAP_SHARED, 0);
	ashmem_assert_unpin(_metadata, self->fd, 0, page);
	ashmem_assert_pin_status(_metadata, self->fd, 0, 0, ASHMEM_IS_UNPINNED);
	ashmem_fail_unpin(_metadata, self->fd, page, page, EINVAL);
	ashmem_fail_pin(_metadata, self->fd, 0, 2 * page, EINVAL);
	ashmem_assert_pin(_metadata, self->fd, 0, page, ASHMEM_NOT_PURGED);
	ashmem_assert_pin_status(_metadata, self->fd, 0, page,
				 ASHMEM_IS_PINNED);
	munmap(p, PAGE_4K);
}

/* Page by page, which pages GET_PIN_STATUS reports unpinned: a bitmask. */
static unsigned int unpinned_pages(struct __test_metadata *_metadata,
				   int fd, size_t page, size_t pages)
{
	unsigned int mask = 0;
	size_t i;
	int ret;

	for (i = 0; i < pages; i++) {
		ret = ashmem_pin_ioctl(fd, ASHMEM_GET_PIN_STATUS, i * page,
				       page);
		ASSERT_LE(0, ret) {
			TH_LOG("ASHMEM_GET_PIN_STATUS of page %zu failed with %s",
			       i, errname(errno));
		}
		if (ret == ASHMEM_IS_UNPINNED)
			mask |= 1u << i;
	}
	return mask;
}

TEST_F(mapped_region, overlapping_unpinned_ranges_merge)
{
	uint32_t page = self->page;

	ashmem_assert_unpin(_metadata, self->fd, 0, 2 * page);
	ashmem_assert_unpin(_metadata, self->fd, page, 2 * page);
	ASSERT_EQ(0x7u, unpinned_pages(_metadata, self->fd, page, REGION_PAGES));
	/* Pinning the middle of the merged range splits it. */
	ashmem_assert_pin(_metadata, self->fd, page, page, ASHMEM_NOT_PURGED);
	ASSERT_EQ(0x5u, unpinned_pages(_metadata, self->fd, page,
				       REGION_PAGES)) {
		TH_LOG("pinning page 1 of unpinned pages 0-2 must leave pages 0 and 2 unpinned");
	}
}

TEST_F(mapped_region, adjacent_unpinned_ranges_merge)
{
	uint32_t page = self->page;

	ashmem_assert_unpin(_metadata, self->fd, 0, 2 * page);
	ashmem_assert_unpin(_metadata, self->fd, 2 * page, 2 * page);
	ASSERT_EQ(0xfu, unpinned_pages(_metadata, self->fd, page, REGION_PAGES));
	ashmem_assert_pin(_metadata, self->fd, page, 2 * page,
			  ASHMEM_NOT_PURGED);
	ASSERT_EQ(0x9u, unpinned_pages(_metadata, self->fd, page,
				       REGION_PAGES)) {
		TH_LOG("pinning pages 1-2 across the seam of two adjacent unpinned ranges must leave pages 0 and 3 unpinned");
	}
}

TEST_F(mapped_region, pin_in_the_middle_splits_an_unpinned_range)
{
	uint32_t page = self->page;

	ashmem_assert_unpin(_metadata, self->fd, 0, 0);
	ashmem_assert_pin(_metadata, self->fd, page, 2 * page,
			  ASHMEM_NOT_PURGED);
	ASSERT_EQ(0x9u, unpinned_pages(_metadata, self->fd, page,
				       REGION_PAGES)) {
		TH_LOG("pinning pages 1-2 of an unpinned region must leave pages 0 and 3 unpinned");
	}
	ashmem_assert_pin(_metadata, self->fd, 0, page, ASHMEM_NOT_PURGED);
	ASSERT_EQ(0x8u, unpinned_pages(_metadata, self->fd, page,
				       REGION_PAGES));
}

/* ============================================================== purging */

static bool can_purge(void)
{
	return geteuid() == 0;
}

TEST_F(mapped_region, purge_all_caches_counts_unpinned_pages)
{
	long ret;

	if (!can_purge())
		SKIP(return, "ASHMEM_PURGE_ALL_CACHES needs CAP_SYS_ADMIN");
	ashmem_assert_purge_all(_metadata, self->fd);	/* empty the LRU */
	fill_pattern(self->map, 0, self->size, 13);
	ashmem_assert_unpin(_metadata, self->fd, 0, 0);
	ret = ashmem_assert_purge_all(_metadata, self->fd);
	/* Exactly: in pages of the kernel's size, not 4K units or bytes. */
	ASSERT_EQ(REGION_PAGES, ret) {
		TH_LOG("ASHMEM_PURGE_ALL_CACHES must count the %d pages of %zu bytes this test unpinned",
		       REGION_PAGES, self->page);
	}
}

TEST_F(mapped_region, purge_discards_unpinned_pages)
{
	if (!can_purge())
		SKIP(return, "ASHMEM_PURGE_ALL_CACHES needs CAP_SYS_ADMIN");
	fill_pattern(self->map, 0, self->size, 14);
	ashmem_assert_unpin(_metadata, self->fd, 0, 0);
	ashmem_assert_purge_all(_metadata, self->fd);
	ashmem_assert_pin(_metadata, self->fd, 0, 0, ASHMEM_WAS_PURGED);
	assert_zeros(_metadata, self->map, 0, self->size,
		     "purged pages must read back as zeros");
}

TEST_F(mapped_region, pin_reports_a_purge_only_once)
{
	if (!can_purge())
		SKIP(return, "ASHMEM_PURGE_ALL_CACHES needs CAP_SYS_ADMIN");
	fill_pattern(self->map, 0, self->size, 15);
	ashmem_assert_unpin(_metadata, self->fd, 0, 0);
	ashmem_assert_purge_all(_metadata, self->fd);
	ashmem_assert_pin(_metadata, self->fd, 0, 0, ASHMEM_WAS_PURGED);
	ashmem_assert_unpin(_metadata, self->fd, 0, 0);
	ashmem_assert_pin(_metadata, self->fd, 0, 0, ASHMEM_NOT_PURGED);
}

TEST_F(mapped_region, purge_keeps_pinned_pages)
{
	uint32_t page = self->page;

	if (!can_purge())
		SKIP(return, "ASHMEM_PURGE_ALL_CACHES needs CAP_SYS_ADMIN");
	fill_pattern(self->map, 0, self->size, 16);
	ashmem_assert_unpin(_metadata, self->fd, page, page);
	ashmem_assert_purge_all(_metadata, self->fd);
	assert_pattern(_metadata, self->map, 0, page, 16,
		       "a purge must not touch pinned pages");
	assert_pattern(_metadata, self->map + 2 * page, 2 * page, 2 * page, 16,
		       "a purge must not touch pinned pages");
	ashmem_assert_pin(_metadata, self->fd, 0, page, ASHMEM_NOT_PURGED);
	ashmem_assert_pin(_metadata, self->fd, page, page, ASHMEM_WAS_PURGED);
	assert_zeros(_metadata, self->map + page, page, page,
		     "the unpinned page must have been purged");
}

TEST_F(mapped_region, purge_after_split_discards_only_the_unpinned_ends)
{
	uint32_t page = self->page;

	if (!can_purge())
		SKIP(return, "ASHMEM_PURGE_ALL_CACHES needs CAP_SYS_ADMIN");
	fill_pattern(self->map, 0, self->size, 17);
	ashmem_assert_unpin(_metadata, self->fd, 0, 0);
	ashmem_assert_pin(_metadata, self->fd, page, 2 * page,
			  ASHMEM_NOT_PURGED);
	ashmem_assert_purge_all(_metadata, self->fd);
	assert_pattern(_metadata, self->map + page, page, 2 * page, 17,
		       "the pinned middle of a split range must survive a purge");
	ashmem_assert_pin(_metadata, self->fd, 0, page, ASHMEM_WAS_PURGED);
	ashmem_assert_pin(_metadata, self->fd, 3 * page, page,
			  ASHMEM_WAS_PURGED);
	assert_zeros(_metadata, self->map, 0, page,
		     "the unpinned head of a split range must be purged");
	assert_zeros(_metadata, self->map + 3 * page, 3 * page, page,
		     "the unpinned tail of a split range must be purged");
}

/*
 * Pinning and unpinning the same pages again and again is what Android does
 * most. In between, they are pinned for every purpose; unpinned again, they
 * are as purgeable as the first time.
 */
TEST_F(mapped_region, pages_pinned_again_survive_a_purge)
{
	long ret;

	if (!can_purge())
		SKIP(return, "ASHMEM_PURGE_ALL_CACHES needs CAP_SYS_ADMIN");
	ashmem_assert_purge_all(_metadata, self->fd);	/* empty the LRU */
	fill_pattern(self->map, 0, self->size, 18);
	ashmem_assert_unpin(_metadata, self->fd, 0, 0);
	ashmem_assert_pin(_metadata, self->fd, 0, 0, ASHMEM_NOT_PURGED);
	ashmem_assert_pin_status(_metadata, self->fd, 0, 0, ASHMEM_IS_PINNED);
	ret = ashmem_assert_purge_all(_metadata, self->fd);
	EXPECT_EQ(0, ret) TH_LOG("a purge found %ld unpinned pages", ret);
	assert_pattern(_metadata, self->map, 0, self->size, 18,
		       "pages pinned again must survive a purge");
}

TEST_F(mapped_region, pages_unpinned_again_are_purged)
{
	long ret;

	if (!can_purge())
		SKIP(return, "ASHMEM_PURGE_ALL_CACHES needs CAP_SYS_ADMIN");
	ashmem_assert_purge_all(_metadata, self->fd);	/* empty the LRU */
	fill_pattern(self->map, 0, self->size, 19);
	ashmem_assert_unpin(_metadata, self->fd, 0, 0);
	ashmem_assert_pin(_metadata, self->fd, 0, 0, ASHMEM_NOT_PURGED);
	ashmem_assert_unpin(_metadata, self->fd, 0, 0);
	ashmem_assert_pin_status(_metadata, self->fd, 0, 0, ASHMEM_IS_UNPINNED);
	ret = ashmem_assert_purge_all(_metadata, self->fd);
	EXPECT_EQ(REGION_PAGES, ret)
		TH_LOG("a purge must find the %d pages unpinned again", REGION_PAGES);
	ashmem_assert_pin(_metadata, self->fd, 0, 0, ASHMEM_WAS_PURGED);
	assert_zeros(_metadata, self->map, 0, self->size,
		     "pages unpinned again must be purged");
}

/* An UNPIN around pages pinned again takes them in, with their neighbours. */
TEST_F(mapped_region, unpin_around_pages_pinned_again_covers_them)
{
	uint32_t page = self->page;
	long ret;

	if (!can_purge())
		SKIP(return, "ASHMEM_PURGE_ALL_CACHES needs CAP_SYS_ADMIN");
	ashmem_assert_purge_all(_metadata, self->fd);	/* empty the LRU */
	fill_pattern(self->map, 0, self->size, 20);
	ashmem_assert_unpin(_metadata, self->fd, page, page);
	ashmem_assert_pin(_metadata, self->fd, page, page, ASHMEM_NOT_PURGED);
	ashmem_assert_unpin(_metadata, self->fd, 0, 3 * page);
	ashmem_assert_pin_status(_metadata, self->fd, page, page,
				 ASHMEM_IS_UNPINNED);
	ashmem_assert_pin_status(_metadata, self->fd, 3 * page, page,
				 ASHMEM_IS_PINNED);
	ret = ashmem_assert_purge_all(_metadata, self->fd);
	EXPECT_EQ(3, ret) TH_LOG("a purge must find the 3 pages unpinned");
	ashmem_assert_pin(_metadata, self->fd, 0, 3 * page, ASHMEM_WAS_PURGED);
	assert_zeros(_metadata, self->map, 0, 3 * page,
		     "the unpinned pages must be purged");
	assert_pattern(_metadata, self->map + 3 * page, 3 * page, page, 20,
		       "a purge must not touch pinned pages");
}

struct unprivileged_purge {
	int fd;
};

static int unprivileged_purge_child(void *arg)
{
	struct unprivileged_purge *u = arg;
	int ret;

	CHILD_CHECK(setresgid(65534, 65534, 65534) == 0 &&
		    setresuid(65534, 65534, 65534) == 0,
		    "cannot drop privileges: %s", errname(errno));
	errno = 0;
	ret = ioctl(u->fd, ASHMEM_PURGE_ALL_CACHES, 0);
	CHILD_CHECK(ret == -1 && errno == EPERM,
		    "ASHMEM_PURGE_ALL_CACHES without CAP_SYS_ADMIN must fail with EPERM: returned %d, %s",
		    ret, errname(errno));
	return 0;
}

TEST_F(mapped_region, purge_without_cap_sys_admin_eperm)
{
	struct unprivileged_purge u = { self->fd };

	fill_pattern(self->map, 0, self->size, 18);
	ashmem_assert_unpin(_metadata, self->fd, 0, 0);
	if (geteuid() == 0) {
		ASSERT_EQ(0, run_in_child(unprivileged_purge_child, &u));
	} else {
		ashmem_fail_purge_all(_metadata, self->fd, EPERM);
	}
	ashmem_assert_pin(_metadata, self->fd, 0, 0, ASHMEM_NOT_PURGED);
	assert_pattern(_metadata, self->map, 0, self->size, 18,
		       "a refused purge must not discard anything");
}

/* ================================================================ read() */

TEST_F(fresh_region, read_of_size_zero_region_returns_0)
{
	char buf[16];

	ASSERT_EQ(0, read(self->fd, buf, sizeof(buf))) {
		TH_LOG("read() of a region of size 0 must return 0");
	}
}

TEST_F(sized_region, read_before_mmap_ebadf)
{
	char buf[16];

	ASSERT_EQ(-1, read(self->fd, buf, sizeof(buf))) {
		TH_LOG("read() before the first mmap() must fail");
	}
	ASSERT_EQ(EBADF, errno);
}

TEST_F(mapped_region, read_returns_mapped_data_and_advances)
{
	size_t half = self->page / 2;
	uint8_t *buf = malloc(self->page);

	ASSERT_NE(NULL, buf);
	fill_pattern(self->map, 0, self->page, 19);
	ASSERT_EQ((ssize_t)half, read(self->fd, buf, half));
	assert_pattern(_metadata, buf, 0, half, 19,
		       "read() must return what was written through the mapping");
	ASSERT_EQ((off_t)half, lseek(self->fd, 0, SEEK_CUR)) {
		TH_LOG("read() must advance the file position");
	}
	ASSERT_EQ((ssize_t)half, read(self->fd, buf, half));
	assert_pattern(_metadata, buf, half, half, 19,
		       "the second read() must continue where the first stopped");
	free(buf);
}

TEST_F(mapped_region, read_of_a_hole_returns_zeros)
{
	uint8_t *buf = malloc(self->page);

	ASSERT_NE(NULL, buf);
	memset(buf, 0xff, self->page);
	fill_pattern(self->map, 0, self->page, 20);
	ASSERT_EQ((ssize_t)self->page,
		  pread(self->fd, buf, self->page, 2 * self->page)) {
		TH_LOG("read() of a never-written page must return the whole page");
	}
	assert_zeros(_metadata, buf, 2 * self->page, self->page,
		     "a never-written page must read as zeros");
	free(buf);
}

static void read_must_fault(struct __test_metadata *_metadata, int fd,
			    void *buf, size_t len, off_t pos, const char *what)
{
	ssize_t ret;

	errno = 0;
	ret = pread(fd, buf, len, pos);
	ASSERT_EQ(-1, ret) {
		TH_LOG("read() into %s at region offset %jd must fail with EFAULT, returned %zd",
		       what, (intmax_t)pos, ret);
	}
	ASSERT_EQ(EFAULT, errno) {
		TH_LOG("read() into %s must fail with EFAULT, failed with %s",
		       what, errname(errno));
	}
}

/*
 * Older drivers passed the user buffer to kernel_read(): a read of a hole
 * oopsed under SMAP. Pages 0 (data) and 2 (a hole) both go to bad buffers.
 */
TEST_F(mapped_region, read_into_bad_pointer_efault)
{
	size_t page = self->page;
	void *none = mmap(NULL, page, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS,
			  -1, 0);
	off_t pos[] = { 0, 2 * page };
	size_t i;

	ASSERT_NE(MAP_FAILED, none);
	fill_pattern(self->map, 0, page, 21);
	for (i = 0; i < sizeof(pos) / sizeof(pos[0]); i++) {
		read_must_fault(_metadata, self->fd, (void *)1, page, pos[i],
				"(void *)1");
		read_must_fault(_metadata, self->fd, none, page, pos[i],
				"a PROT_NONE page");
		if (sizeof(long) == 8)	/* no user address: a kernel one */
			read_must_fault(_metadata, self->fd,
					(void *)(uintptr_t)(1ULL << 63), page,
					pos[i], "a non-user address");
	}
	munmap(none, page);
	/* The kernel survived, and the region still reads fine. */
	assert_pattern(_metadata, self->map, 0, page, 21,
		       "a failed read() must not disturb the region");
}

TEST_F(mapped_region, read_without_prot_read_eperm)
{
	char buf[16];

	fill_pattern(self->map, 0, self->page, 22);
	ashmem_assert_set_prot_mask(_metadata, self->fd, PROT_WRITE);
	ASSERT_EQ(-1, read(self->fd, buf, sizeof(buf))) {
		TH_LOG("read() must be refused when the prot mask lacks PROT_READ");
	}
	ASSERT_EQ(EPERM, errno);
}

/* =============================================================== lseek() */

TEST_F(fresh_region, lseek_of_size_zero_region_einval)
{
	ASSERT_EQ(-1, lseek(self->fd, 0, SEEK_SET)) {
		TH_LOG("lseek() on a region of size 0 must fail");
	}
	ASSERT_EQ(EINVAL, errno);
}

TEST_F(sized_region, lseek_before_mmap_ebadf)
{
	ASSERT_EQ(-1, lseek(self->fd, 0, SEEK_SET)) {
		TH_LOG("lseek() before the first mmap() must fail");
	}
	ASSERT_EQ(EBADF, errno);
}

TEST_F(fresh_region, lseek_set_cur_end)
{
	size_t size = 3 * self->page + 123;

	ashmem_assert_set_size(_metadata, self->fd, size);
	ashmem_assert_mmap(_metadata, self->fd, 4 * self->page, PROT_READ,
			   MAP_SHARED, 0);
	ASSERT_EQ((off_t)self->page, lseek(self->fd, self->page, SEEK_SET));
	ASSERT_EQ((off_t)self->page + 10, lseek(self->fd, 10, SEEK_CUR));
	ASSERT_EQ((off_t)self->page + 10, lseek(self->fd, 0, SEEK_CUR));
	ASSERT_EQ((off_t)size, lseek(self->fd, 0, SEEK_END)) {
		TH_LOG("SEEK_END must land at the region's size");
	}
	ASSERT_EQ((off_t)size - 3, lseek(self->fd, -3, SEEK_END));
}

/* Pages 0 and 2 written, 1 and 3 holes: shmem reports them so. */
TEST_F(mapped_region, lseek_data_and_hole_follow_shmem)
{
	off_t page = self->page;

	fill_pattern(self->map, 0, page, 23);
	fill_pattern(self->map + 2 * page, 2 * page, page, 23);
	ASSERT_EQ(2 * page, lseek(self->fd, page, SEEK_DATA)) {
		TH_LOG("SEEK_DATA from the hole at page 1 must find page 2");
	}
	ASSERT_EQ(page, lseek(self->fd, 0, SEEK_HOLE)) {
		TH_LOG("SEEK_HOLE from page 0 must find the hole at page 1");
	}
	ASSERT_EQ(0, lseek(self->fd, 0, SEEK_DATA));
	ASSERT_EQ(3 * page, lseek(self->fd, 2 * page, SEEK_HOLE));
	ASSERT_EQ(-1, lseek(self->fd, 3 * page, SEEK_DATA)) {
		TH_LOG("SEEK_DATA past the last data must fail with ENXIO");
	}
	ASSERT_EQ(ENXIO, errno);
}

/* ========================================================= GET_FILE_ID */

/* GET_FILE_ID writes an unsigned long: the word after it must stay. */
struct file_id_out {
	unsigned long id;
	unsigned long guard;
};

#define FILE_ID_GUARD	((unsigned long)0x5a5a5a5a5a5a5a5aULL)

TEST_F(sized_region, get_file_id_before_mmap_einval)
{
	struct file_id_out out = { 0, FILE_ID_GUARD };

	ashmem_ioctl_fails(_metadata, self->fd, ASHMEM_GET_FILE_ID,
			   (unsigned long)&out, EINVAL, "ASHMEM_GET_FILE_ID");
}

TEST_F(mapped_region, get_file_id_is_the_fdinfo_inode)
{
	struct file_id_out out = { 0, FILE_ID_GUARD };
	char path[64], inode[64];

	ASSERT_EQ(0, ashmem_ioctl_ok(_metadata, self->fd, ASHMEM_GET_FILE_ID,
				     (unsigned long)&out,
				     "ASHMEM_GET_FILE_ID"));
	ASSERT_NE(0UL, out.id) {
		TH_LOG("ASHMEM_GET_FILE_ID must write the backing inode number");
	}
	ASSERT_EQ(FILE_ID_GUARD, out.guard) {
		TH_LOG("ASHMEM_GET_FILE_ID must write one unsigned long, no more");
	}
	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", self->fd);
	ASSERT_TRUE(proc_field(path, "inode", true, inode, sizeof(inode))) {
		TH_LOG("%s must have an \"inode:\\t\" line once mapped", path);
	}
	ASSERT_EQ(out.id, strtoul(inode, NULL, 10)) {
		TH_LOG("ASHMEM_GET_FILE_ID must match fdinfo's inode: line");
	}
}

TEST_F(mapped_region, get_file_id_to_bad_pointer_efault)
{
	ashmem_ioctl_fails(_metadata, self->fd, ASHMEM_GET_FILE_ID, 1, EFAULT,
			   "ASHMEM_GET_FILE_ID((void *)1)");
	ashmem_ioctl_fails(_metadata, self->fd, ASHMEM_GET_FILE_ID,
			   (unsigned long)unmapped_address(), EFAULT,
			   "ASHMEM_GET_FILE_ID(unmapped)");
}

TEST_F(fresh_region, fdinfo_shows_name_and_size)
{
	size_t size = 3 * self->page + 5;
	char path[64], val[ASHMEM_NAME_LEN + 16], want[32];

	ashmem_assert_set_name(_metadata, self->fd, "fdinfo name");
	ashmem_assert_set_size(_metadata, self->fd, size);
	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", self->fd);
	snprintf(want, sizeof(want), "%zu", size);

	ASSERT_TRUE(proc_field(path, "name", true, val, sizeof(val))) {
		TH_LOG("%s must have a \"name:\\t\" line", path);
	}
	ASSERT_STREQ("fdinfo name", val);
	ASSERT_TRUE(proc_field(path, "size", true, val, sizeof(val))) {
		TH_LOG("%s must have a \"size:\\t\" line", path);
	}
	ASSERT_STREQ(want, val);

	ashmem_assert_mmap(_metadata, self->fd, 4 * self->page, PROT_READ,
			   MAP_SHARED, 0);
	ASSERT_TRUE(proc_field(path, "name", true, val, sizeof(val)));
	ASSERT_STREQ("fdinfo name", val) {
		TH_LOG("fdinfo's name must stay after mmap()");
	}
	ASSERT_TRUE(proc_field(path, "size", true, val, sizeof(val)));
	ASSERT_STREQ(want, val);
}

/* ====================================================== unknown ioctls */

TEST_F(fresh_region, unknown_ashmem_ioctl_enotty)
{
	ashmem_ioctl_fails(_metadata, self->fd, _IO(__ASHMEMIOC, 12), 0,
			   ENOTTY, "_IO(0x77, 12)");
	ashmem_ioctl_fails(_metadata, self->fd, _IO(__ASHMEMIOC, 0), 0,
			   ENOTTY, "_IO(0x77, 0)");
	ashmem_ioctl_fails(_metadata, self->fd, _IOW(__ASHMEMIOC, 200, int), 0,
			   ENOTTY, "_IOW(0x77, 200, int)");
}

TEST_F(fresh_region, foreign_ioctl_enotty)
{
	char termios[64];

	ashmem_ioctl_fails(_metadata, self->fd, _IO(0x78, 1), 0, ENOTTY,
			   "_IO(0x78, 1)");
	ashmem_ioctl_fails(_metadata, self->fd, 0x5401 /* TCGETS */,
			   (unsigned long)termios, ENOTTY, "TCGETS");
}

TEST_HARNESS_MAIN
