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
#include <sys/socket.h>
#include <sys/syscall.h>

#include "kselftest_harness.h"
#include "ashmem_util.h"

#define MODULE_NAME	"ashmem_linux"
#define MODULE_SYSFS	"/sys/module/" MODULE_NAME

#define KMEMLEAK	"/sys/kernel/debug/kmemleak"

/* Unload and load cycles of the lifecycle tests, and regions per cycle. */
#define CYCLES			100
#define REGIONS_PER_CYCLE	4
/* 100 cycles take about a second each on a debug kernel under TCG. */
#define CYCLES_TIMEOUT		600

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

/* ---------------------------------------------- a region in another process */

/*
 * The holder: receives a region, says so with one byte, and keeps it until
 * the socket has something more to say (or closes).
 */
static void region_holder(int sock)
{
	char c = 'R';
	int fd = recv_fd(sock);

	if (fd < 0 || write(sock, &c, 1) != 1)
		_exit(1);
	if (read(sock, &c, 1) < 0)
		_exit(1);
	close(fd);
	_exit(0);
}

/*
 * A region passed over SCM_RIGHTS to a process forked before it existed:
 * once the sender closes its own fd, only the other process keeps the
 * module in use, and unloading must still be refused.
 */
TEST_F(module, unload_refused_while_another_process_holds_a_passed_region)
{
	size_t page = page_size();
	int sv[2], fd, status;
	char c = 0;
	pid_t pid;

	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		close(sv[0]);
		region_holder(sv[1]);
	}
	close(sv[1]);
	fd = ashmem_assert_create(_metadata, "passed", page);
	munmap(ashmem_assert_mmap(_metadata, fd, page, PROT_READ | PROT_WRITE,
				  MAP_SHARED, 0), page);
	ASSERT_EQ(0, send_fd(sv[0], fd));
	close(fd);
	ASSERT_EQ(1, read(sv[0], &c, 1));
	ASSERT_EQ('R', c);

	assert_unload_refused(_metadata, "another process holds a passed region");

	close(sv[0]);
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	assert_unload(_metadata);
}

/* ------------------------------------------------------------ the cycles */

/*
 * One cycle's regions, each a different life: mapped, written and
 * unpinned; unpinned and purged; sized but never mapped; only opened.
 * Everything is closed and unmapped before it returns.
 */
static void regions_of_a_cycle(struct __test_metadata *_metadata,
			       unsigned int cycle)
{
	size_t page = page_size(), size = 4 * page;
	uint8_t *a, *b;
	int fa, fb, fc, fd;

	fa = ashmem_assert_create(_metadata, "cycle-unpinned", size);
	a = ashmem_assert_mmap(_metadata, fa, size, PROT_READ | PROT_WRITE,
			       MAP_SHARED, 0);
	fill_pattern(a, 0, size, cycle);
	ashmem_assert_unpin(_metadata, fa, page, 2 * page);

	fb = ashmem_assert_create(_metadata, "cycle-purged", size);
	b = ashmem_assert_mmap(_metadata, fb, size, PROT_READ | PROT_WRITE,
			       MAP_SHARED, 0);
	fill_pattern(b, 0, size, cycle + 1);
	ashmem_assert_unpin(_metadata, fb, 0, 0);
	ashmem_assert_purge_all(_metadata, fb);
	ashmem_assert_pin(_metadata, fb, 0, 0, ASHMEM_WAS_PURGED);
	ashmem_assert_unpin(_metadata, fb, 0, page);

	fc = ashmem_assert_create(_metadata, "cycle-never-mapped", size);
	fd = ashmem_assert_open(_metadata);

	assert_pattern(_metadata, a, 0, page, cycle,
		       "a pinned page must keep its data");
	munmap(a, size);
	munmap(b, size);
	close(fd);
	close(fc);
	close(fb);
	close(fa);
}

/* Unload, check the device is gone, load again, check it is back. */
static void unload_and_load(struct __test_metadata *_metadata,
			    const char *path, unsigned int cycle)
{
	struct stat st;
	int err;

	ASSERT_EQ(0, delete_module(MODULE_NAME, O_NONBLOCK)) {
		TH_LOG("cycle %u: %s must unload once its regions are closed: %s",
		       cycle, MODULE_NAME, errname(errno));
	}
	ASSERT_NE(0, stat(ASHMEM_DEV, &st)) {
		TH_LOG("cycle %u: %s must go away with the module", cycle,
		       ASHMEM_DEV);
	}
	err = load_module(path);
	ASSERT_EQ(0, err) {
		TH_LOG("cycle %u: finit_module(%s) failed with %s", cycle, path,
		       errname(err));
	}
	ASSERT_EQ(0, stat(ASHMEM_DEV, &st)) {
		TH_LOG("cycle %u: devtmpfs must create %s again on load", cycle,
		       ASHMEM_DEV);
	}
}

/* CYCLES of regions then unload and load; returns the regions made. */
static unsigned int run_cycles(struct __test_metadata *_metadata,
			       const char *path)
{
	unsigned int cycle;

	for (cycle = 0; cycle < CYCLES; cycle++) {
		regions_of_a_cycle(_metadata, cycle);
		unload_and_load(_metadata, path, cycle);
	}
	return CYCLES * REGIONS_PER_CYCLE;
}

/*
 * No region, whatever its life, may leave a reference behind: the module
 * unloads after each cycle of them, and comes back working.
 */
TEST_F_TIMEOUT(module, unload_and_load_cycles_with_regions, CYCLES_TIMEOUT)
{
	unsigned int regions = run_cycles(_metadata, self->path);

	assert_region_works(_metadata);
	ksft_print_msg("ashmem-figures: lifecycle bits=%zu cycles=%u regions=%u\n",
		       8 * sizeof(long), CYCLES, regions);
}

/* ----------------------------------------------------------------- kmemleak */

static int kmemleak_command(const char *cmd)
{
	int fd = open(KMEMLEAK, O_WRONLY | O_CLOEXEC), ret = 0;

	if (fd < 0)
		return errno;
	if (write(fd, cmd, strlen(cmd)) != (ssize_t)strlen(cmd))
		ret = errno;
	close(fd);
	return ret;
}

/*
 * kmemleak reports an object only once it is older than its minimum age
 * (5 s) and unreferenced in a scan after one that saw the same contents.
 */
#define KMEMLEAK_MIN_AGE	6

static void kmemleak_scan_twice(struct __test_metadata *_metadata)
{
	sleep(KMEMLEAK_MIN_AGE);
	ASSERT_EQ(0, kmemleak_command("scan"));
	sleep(1);
	ASSERT_EQ(0, kmemleak_command("scan"));
}

/*
 * The cycles leak nothing: with kmemleak's earlier reports cleared, the
 * two scans after them find no unreferenced object. A leak of the module's
 * may show its backtrace as bare addresses: the module has gone since.
 */
TEST_F_TIMEOUT(module, kmemleak_clean_after_unload_and_load_cycles,
	       CYCLES_TIMEOUT)
{
	static char report[1 << 16];
	ssize_t len;

	if (access(KMEMLEAK, W_OK))
		SKIP(return, "no %s (a kernel without CONFIG_DEBUG_KMEMLEAK)",
		     KMEMLEAK);
	ASSERT_EQ(0, kmemleak_command("scan"));
	ASSERT_EQ(0, kmemleak_command("clear"));
	run_cycles(_metadata, self->path);
	kmemleak_scan_twice(_metadata);
	len = read_text_file(KMEMLEAK, report, sizeof(report));
	ASSERT_LE(0, len);
	EXPECT_EQ(0, len) {
		TH_LOG("kmemleak after %u unload and load cycles:\n%s", CYCLES,
		       report);
	}
}

TEST_HARNESS_MAIN
