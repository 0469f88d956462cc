// SPDX-License-Identifier: GPL-2.0-only
/*
 * Unloading and reloading ashmem_linux.
 *
 * The module must stay while anything uses it, go cleanly when nothing
 * does, and come back: /dev/ashmem disappears with it and devtmpfs creates
 * it again on load. ASHMEM_MODULE names the .ko to load again.
 *
 * run_guest.sh runs this binary last, so a failure here cannot disturb the
 * other tests; every test leaves the module loaded.
 */
#define _GNU_SOURCE
#include <sys/syscall.h>

#include "kselftest_harness.h"
#include "ashmem_util.h"

#define MODULE_NAME	"ashmem_linux"
#define MODULE_SYSFS	"/sys/module/" MODULE_NAME

static bool module_loaded(void)
{
	return access(MODULE_SYSFS, F_OK) == 0;
}

static int delete_module(const char *name, int flags)
{
	return syscall(SYS_delete_module, name, flags);
}

/* Load the module from @path; 0 or an errno. */
static int load_module(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC), err = 0;

	if (fd < 0)
		return errno;
	if (syscall(SYS_finit_module, fd, "", 0))
		err = errno;
	close(fd);
	return err;
}

FIXTURE(module) {
	const char *path;
};

FIXTURE_SETUP(module)
{
	int err;

	self->path = getenv("ASHMEM_MODULE");
	if (!self->path || !*self->path)
		SKIP(return, "ASHMEM_MODULE (the path of ashmem_linux.ko) is not set");
	if (geteuid())
		SKIP(return, "loading and unloading modules needs root");
	if (!module_loaded()) {
		err = load_module(self->path);
		ASSERT_EQ(0, err) {
			TH_LOG("cannot load %s: %s", self->path, errname(err));
		}
	}
}

/* Whatever happened, leave the module loaded for whatever runs next. */
FIXTURE_TEARDOWN(module)
{
	int err;

	if (!module_loaded()) {
		err = load_module(self->path);
		EXPECT_EQ(0, err) {
			TH_LOG("cannot load %s again: %s", self->path,
			       errname(err));
		}
	}
}

/* delete_module() must refuse: the kernel says EWOULDBLOCK for "in use". */
static void assert_unload_refused(struct __test_metadata *_metadata,
				  const char *why)
{
	int ret, err;

	errno = 0;
	ret = delete_module(MODULE_NAME, O_NONBLOCK);
	err = errno;
	ASSERT_EQ(-1, ret) {
		TH_LOG("%s unloaded while %s", MODULE_NAME, why);
	}
	ASSERT_EQ(EWOULDBLOCK, err) {
		TH_LOG("unloading %s while %s must fail with EWOULDBLOCK, failed with %s",
		       MODULE_NAME, why, errname(err));
	}
	ASSERT_TRUE(module_loaded());
}

static void assert_unload(struct __test_metadata *_metadata)
{
	ASSERT_EQ(0, delete_module(MODULE_NAME, O_NONBLOCK)) {
		TH_LOG("%s must unload when no region is left: %s",
		       MODULE_NAME, errname(errno));
	}
	ASSERT_FALSE(module_loaded());
}

static void assert_region_works(struct __test_metadata *_metadata)
{
	size_t page = page_size();
	int fd = ashmem_assert_create(_metadata, "after-reload", 2 * page);
	uint8_t *p = ashmem_assert_mmap(_metadata, fd, 2 * page,
					PROT_READ | PROT_WRITE, MAP_SHARED, 0);

	fill_pattern(p, 0, 2 * page, 41);
	assert_pattern(_metadata, p, 0, 2 * page, 41,
		       "a region must work after the module is loaded again");
	ashmem_assert_unpin(_metadata, fd, 0, 0);
	ashmem_assert_pin(_metadata, fd, 0, 0, ASHMEM_NOT_PURGED);
	munmap(p, 2 * page);
	close(fd);
}

TEST_F(module, unload_refused_while_a_region_is_open)
{
	int fd = ashmem_assert_open(_metadata);

	assert_unload_refused(_metadata, "a region is open");
	close(fd);
}

TEST_F(module, unload_refused_while_a_region_is_mapped)
{
	size_t page = page_size();
	int fd = ashmem_assert_create(_metadata, "mapped", page);
	uint8_t *p = ashmem_assert_mmap(_metadata, fd, page,
					PROT_READ | PROT_WRITE, MAP_SHARED, 0);

	p[0] = 1;
	assert_unload_refused(_metadata, "a region is open and mapped");
	munmap(p, page);
	close(fd);
}

/*
 * A mapping outlives the region's fd; it holds the backing file, whose
 * operations live in the module. The module must either refuse to go, or
 * go in a way the mapping survives: touching it and unmapping it after the
 * unload must not reach freed module code.
 */
TEST_F(module, mapping_left_after_close_keeps_the_kernel_safe)
{
	size_t page = page_size();
	int fd = ashmem_assert_create(_metadata, "outliving", page);
	uint8_t *p = ashmem_assert_mmap(_metadata, fd, page,
					PROT_READ | PROT_WRITE, MAP_SHARED, 0);
	int ret, err;

	fill_pattern(p, 0, page, 42);
	close(fd);

	errno = 0;
	ret = delete_module(MODULE_NAME, O_NONBLOCK);
	err = errno;
	if (ret) {
		ASSERT_EQ(EWOULDBLOCK, err) {
			TH_LOG("unloading with a mapping left must fail with EWOULDBLOCK if it fails, failed with %s",
			       errname(err));
		}
	} else {
		ksft_print_msg("%s unloaded with a mapping left\n", MODULE_NAME);
	}
	assert_pattern(_metadata, p, 0, page, 42,
		       "a mapping must keep its data whether or not the module stays");
	ASSERT_EQ(0, munmap(p, page));
	if (module_loaded())
		assert_unload(_metadata);
}

TEST_F(module, unload_removes_the_device_and_load_brings_it_back)
{
	struct stat st;
	int err;

	assert_unload(_metadata);
	ASSERT_EQ(-1, stat(ASHMEM_DEV, &st)) {
		TH_LOG("%s must go away with the module", ASHMEM_DEV);
	}
	ASSERT_EQ(ENOENT, errno);

	err = load_module(self->path);
	ASSERT_EQ(0, err) {
		TH_LOG("finit_module(%s) failed with %s", self->path,
		       errname(err));
	}
	ASSERT_TRUE(module_loaded());
	ASSERT_EQ(0, stat(ASHMEM_DEV, &st)) {
		TH_LOG("devtmpfs must create %s again on load", ASHMEM_DEV);
	}
	ASSERT_TRUE(S_ISCHR(st.st_mode));
	ASSERT_EQ((mode_t)0666, st.st_mode & 07777);
	assert_region_works(_metadata);
}

TEST_HARNESS_MAIN
