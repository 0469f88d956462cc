// SPDX-License-Identifier: GPL-2.0-only
/*
 * What one tenant of a machine must not be able to do to another, or learn
 * about the kernel, through /dev/ashmem:
 *
 * - PURGE_ALL_CACHES discards every container's unpinned memory, so it
 *   needs CAP_SYS_ADMIN in the initial user namespace: root inside a user
 *   namespace of its own is refused, whether it opened the region before
 *   or after entering the namespace.
 * - fdinfo, GET_FILE_ID, the kernel log and the debugfs files never show a
 *   kernel address (a raw %px or %lx of a pointer; %p hashes, and is safe).
 * - A region whose prot mask lacks PROT_READ gives its contents to no read
 *   path of its fd, and to no new mapping, whoever narrowed the mask.
 *
 * Built twice, as the other tests: the -m32 build takes GET_FILE_ID's
 * compat encoding. Skips with a reason when not root or when the kernel
 * has no user namespaces.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <sched.h>
#include <sys/klog.h>
#include <sys/sendfile.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <linux/capability.h>

#include "kselftest_harness.h"
#include "ashmem_util.h"

#define REGION_PAGES	4
#define REGION_NAME	"isolation-test"

/* A child's exit status for "the kernel cannot make a user namespace". */
#define CHILD_NO_USERNS	4

/* ======================================================= user namespaces */

static bool write_proc_self(const char *file, const char *val)
{
	char path[64];
	ssize_t len = strlen(val);
	int fd, ok;

	snprintf(path, sizeof(path), "/proc/self/%s", file);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	ok = write(fd, val, len) == len;
	close(fd);
	return ok;
}

/*
 * Enter a new user namespace as its root: uid and gid 0 inside map to the
 * caller's ids outside, written from inside as an unprivileged container
 * runtime does. Returns 0, CHILD_NO_USERNS if the kernel has none to give,
 * or 1 after saying what broke.
 */
static int enter_userns_as_root(void)
{
	uid_t uid = geteuid();
	gid_t gid = getegid();
	char map[64];

	if (unshare(CLONE_NEWUSER)) {
		fprintf(stderr, "# child: unshare(CLONE_NEWUSER): %s\n",
			errname(errno));
		return CHILD_NO_USERNS;
	}
	snprintf(map, sizeof(map), "0 %u 1\n", (unsigned int)uid);
	CHILD_CHECK(write_proc_self("uid_map", map), "writing uid_map: %s",
		    errname(errno));
	CHILD_CHECK(write_proc_self("setgroups", "deny"),
		    "writing setgroups: %s", errname(errno));
	snprintf(map, sizeof(map), "0 %u 1\n", (unsigned int)gid);
	CHILD_CHECK(write_proc_self("gid_map", map), "writing gid_map: %s",
		    errname(errno));
	return 0;
}

/*
 * The test must not pass because the child lacked the capability anyway:
 * it must hold CAP_SYS_ADMIN in its namespace, and be able to use it
 * there (sethostname() in a UTS namespace it owns needs exactly that).
 */
static int check_ns_cap_sys_admin(void)
{
	struct __user_cap_header_struct hdr = {
		.version = _LINUX_CAPABILITY_VERSION_3,
	};
	struct __user_cap_data_struct data[2] = { 0 };

	CHILD_CHECK(geteuid() == 0, "the namespace's uid 0 is %u, not 0",
		    (unsigned int)geteuid());
	CHILD_CHECK(!syscall(SYS_capget, &hdr, data), "capget: %s",
		    errname(errno));
	CHILD_CHECK(data[0].effective & (1u << CAP_SYS_ADMIN),
		    "root of a new user namespace lacks CAP_SYS_ADMIN there");
	CHILD_CHECK(!unshare(CLONE_NEWUTS), "unshare(CLONE_NEWUTS) as ns root: %s",
		    errname(errno));
	CHILD_CHECK(!sethostname("ashmem-userns", 13),
		    "sethostname() as ns root: %s", errname(errno));
	return 0;
}

/* PURGE_ALL_CACHES on @fd must fail with EPERM. */
static int check_purge_refused(int fd)
{
	long ret;

	errno = 0;
	ret = ioctl(fd, ASHMEM_PURGE_ALL_CACHES, 0);
	CHILD_CHECK(ret == -1 && errno == EPERM,
		    "ASHMEM_PURGE_ALL_CACHES by root of a user namespace must fail with EPERM (capable() in the initial namespace): returned %ld, %s",
		    ret, errname(errno));
	return 0;
}

/* The same region as the parent's, opened before entering the namespace. */
static int purge_in_userns_child(void *arg)
{
	int ret = enter_userns_as_root();

	if (ret)
		return ret;
	ret = check_ns_cap_sys_admin();
	return ret ? ret : check_purge_refused(*(int *)arg);
}

/*
 * A region of its own, opened as namespace root: unpinned pages must
 * survive its refused purge.
 */
static int purge_own_region_in_userns_child(void *arg)
{
	size_t page = page_size(), size = REGION_PAGES * page;
	uint8_t seed = *(uint8_t *)arg;
	int ret = enter_userns_as_root(), fd;
	uint8_t *p;

	if (ret)
		return ret;
	ret = check_ns_cap_sys_admin();
	if (ret)
		return ret;
	fd = open(ASHMEM_DEV, O_RDWR | O_CLOEXEC);
	CHILD_CHECK(fd >= 0, "open(%s) as ns root: %s", ASHMEM_DEV,
		    errname(errno));
	CHILD_CHECK(!ioctl(fd, ASHMEM_SET_SIZE, size), "SET_SIZE: %s",
		    errname(errno));
	p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	CHILD_CHECK(p != MAP_FAILED, "mmap as ns root: %s", errname(errno));
	fill_pattern(p, 0, size, seed);
	CHILD_CHECK(!ashmem_pin_ioctl(fd, ASHMEM_UNPIN, 0, 0), "UNPIN: %s",
		    errname(errno));
	ret = check_purge_refused(fd);
	if (ret)
		return ret;
	ret = ashmem_pin_ioctl(fd, ASHMEM_PIN, 0, 0);
	CHILD_CHECK(ret == ASHMEM_NOT_PURGED,
		    "PIN after a refused purge must return NOT_PURGED, returned %d (%s)",
		    ret, errname(errno));
	CHILD_CHECK(pattern_mismatch(p, 0, size, seed) == -1,
		    "a refused purge must not discard the region's data");
	return 0;
}

FIXTURE(unpinned_region) {
	size_t size;
	uint8_t *map;
	int fd;
};

/* A mapped region full of a pattern, all of it unpinned. */
FIXTURE_SETUP(unpinned_region)
{
	self->fd = -1;
	self->map = MAP_FAILED;
	if (geteuid())
		SKIP(return, "needs root, so that only the namespace takes CAP_SYS_ADMIN away");
	self->size = REGION_PAGES * page_size();
	self->fd = ashmem_assert_create(_metadata, REGION_NAME, self->size);
	self->map = ashmem_assert_mmap(_metadata, self->fd, self->size,
				       PROT_READ | PROT_WRITE, MAP_SHARED, 0);
	fill_pattern(self->map, 0, self->size, 60);
	ashmem_assert_unpin(_metadata, self->fd, 0, 0);
}

FIXTURE_TEARDOWN(unpinned_region)
{
	if (self->map != MAP_FAILED)
		munmap(self->map, self->size);
	if (self->fd >= 0)
		close(self->fd);
}

TEST_F(unpinned_region, purge_by_userns_root_on_inherited_fd_eperm)
{
	int ret = run_in_child(purge_in_userns_child, &self->fd);

	if (ret == CHILD_NO_USERNS)
		SKIP(return, "the kernel gives no new user namespace");
	ASSERT_EQ(0, ret) {
		TH_LOG("purge by ns root, region opened before unshare: see the child");
	}
	ashmem_assert_pin(_metadata, self->fd, 0, 0, ASHMEM_NOT_PURGED);
	assert_pattern(_metadata, self->map, 0, self->size, 60,
		       "a purge refused to a namespace's root must not discard anything");
}

TEST(purge_by_userns_root_on_its_own_region_eperm)
{
	uint8_t seed = 61;
	int ret;

	if (geteuid())
		SKIP(return, "needs root, so that only the namespace takes CAP_SYS_ADMIN away");
	ret = run_in_child(purge_own_region_in_userns_child, &seed);
	if (ret == CHILD_NO_USERNS)
		SKIP(return, "the kernel gives no new user namespace");
	ASSERT_EQ(0, ret) {
		TH_LOG("purge by ns root, region opened inside the ns: see the child");
	}
}

/* ===================================================== kernel addresses */

/* Each line of @text containing @only (or every line) must be clean. */
static void assert_no_kernel_address(struct __test_metadata *_metadata,
				     char *text, const char *only,
				     const char *where)
{
	const char *addr;
	char *line, *save;

	for (line = strtok_r(text, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		if (only && !strcasestr(line, only))
			continue;
		addr = kernel_address_in(line);
		EXPECT_EQ(NULL, addr) {
			TH_LOG("%s must not show a kernel address: \"%s\"",
			       where, line);
		}
	}
}

/*
 * A named region, mapped, written, partly unpinned and purged, so that
 * every line the driver prints about a region has something to say.
 */
FIXTURE(busy_region) {
	size_t size;
	uint8_t *map;
	int fd;
};

FIXTURE_SETUP(busy_region)
{
	size_t page = page_size();

	self->size = REGION_PAGES * page;
	self->fd = ashmem_assert_create(_metadata, REGION_NAME, self->size);
	self->map = ashmem_assert_mmap(_metadata, self->fd, self->size,
				       PROT_READ | PROT_WRITE, MAP_SHARED, 0);
	fill_pattern(self->map, 0, self->size, 62);
	ashmem_assert_unpin(_metadata, self->fd, page, 2 * page);
	if (!geteuid())
		ashmem_assert_purge_all(_metadata, self->fd);
}

FIXTURE_TEARDOWN(busy_region)
{
	munmap(self->map, self->size);
	close(self->fd);
}

TEST_F(busy_region, fdinfo_shows_no_kernel_address)
{
	char path[64], buf[4096];

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", self->fd);
	ASSERT_LT(0, read_text_file(path, buf, sizeof(buf)));
	ASSERT_NE(NULL, strstr(buf, "inode:")) {
		TH_LOG("fdinfo of a mapped region must have its inode line: %s",
		       buf);
	}
	assert_no_kernel_address(_metadata, buf, NULL, path);
}

/* The inode column of /proc/self/maps for the mapping at @addr, or 0. */
static unsigned long long maps_inode(const void *addr)
{
	char buf[1 << 16], *line, *save;
	unsigned long long start, ino;

	if (read_text_file("/proc/self/maps", buf, sizeof(buf)) < 0)
		return 0;
	for (line = strtok_r(buf, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		if (sscanf(line, "%llx-%*x %*s %*x %*s %llu", &start, &ino) == 2 &&
		    start == (uintptr_t)addr)
			return ino;
	}
	return 0;
}

/*
 * GET_FILE_ID is the backing inode's number, as the kernel itself shows it
 * for the mapping in /proc/self/maps: not an address. A 32-bit caller gets
 * the same number through the compat encoding, not a truncated pointer.
 */
TEST_F(busy_region, get_file_id_is_the_inode_not_an_address)
{
	unsigned long id = 0;
	unsigned long long ino = maps_inode(self->map);

	ashmem_ioctl_ok(_metadata, self->fd, ASHMEM_GET_FILE_ID,
			(unsigned long)&id, "ASHMEM_GET_FILE_ID");
	ASSERT_NE(0ULL, ino) {
		TH_LOG("/proc/self/maps has no inode for the region's mapping");
	}
	ASSERT_GT(KERNEL_SPACE_START, (unsigned long long)id) {
		TH_LOG("ASHMEM_GET_FILE_ID returned %#lx: a kernel address", id);
	}
	ASSERT_EQ(ino, (unsigned long long)id) {
		TH_LOG("ASHMEM_GET_FILE_ID (%lu, %zu-bit) must be the maps inode (%llu)",
		       id, 8 * sizeof(long), ino);
	}
}

/* The whole kernel log, NUL-terminated, in a malloc()ed buffer, or NULL. */
static char *read_kernel_log(int *err)
{
	int size = klogctl(10 /* SYSLOG_ACTION_SIZE_BUFFER */, NULL, 0);
	char *buf;
	int len;

	*err = errno;
	if (size <= 0)
		return NULL;
	buf = malloc(size + 1);
	if (!buf)
		return NULL;
	len = klogctl(3 /* SYSLOG_ACTION_READ_ALL */, buf, size);
	*err = errno;
	if (len < 0) {
		free(buf);
		return NULL;
	}
	buf[len] = '\0';
	return buf;
}

/*
 * Everything the driver logs about itself (its load message, and whatever
 * create, mmap, pin, unpin, purge and close made it say) is free of kernel
 * addresses.
 */
TEST_F(busy_region, kernel_log_shows_no_kernel_address)
{
	size_t page = page_size();
	char *log;
	int err;

	ashmem_assert_pin(_metadata, self->fd, page, 2 * page,
			  geteuid() ? ASHMEM_NOT_PURGED : ASHMEM_WAS_PURGED);
	close(ashmem_assert_open(_metadata));
	log = read_kernel_log(&err);
	if (!log && (err == EPERM || err == EACCES))
		SKIP(return, "reading the kernel log needs CAP_SYSLOG");
	ASSERT_NE(NULL, log) TH_LOG("klogctl: %s", errname(err));
	if (!strcasestr(log, "ashmem")) {
		free(log);
		SKIP(return, "the kernel log no longer holds ashmem_linux's load message");
	}
	assert_no_kernel_address(_metadata, log, "ashmem", "the kernel log");
	free(log);
}

/* The debugfs files name regions by id and inode, never by address. */
TEST_F(busy_region, debugfs_shows_no_kernel_address)
{
	static const char *const files[] = { "regions", "stats" };
	char path[128];
	static char buf[1 << 20];
	unsigned int i;

	if (access(ASHMEM_DEBUGFS_DIR "/regions", R_OK))
		SKIP(return, "no readable %s (debugfs not mounted, or not root)",
		     ASHMEM_DEBUGFS_DIR);
	for (i = 0; i < ARRAY_SIZE(files); i++) {
		snprintf(path, sizeof(path), "%s/%s", ASHMEM_DEBUGFS_DIR, files[i]);
		ASSERT_LE(0, read_text_file(path, buf, sizeof(buf))) {
			TH_LOG("cannot read %s: %s", path, errname(errno));
		}
		assert_no_kernel_address(_metadata, buf, NULL, path);
	}
}

/* ========================================== prot mask without PROT_READ */

/* Every way to read @fd's contents must be refused with EPERM. */
static void assert_reads_refused(struct __test_metadata *_metadata, int fd,
				 const char *why)
{
	char buf[64];
	struct iovec iov = { .iov_base = buf, .iov_len = sizeof(buf) };
	int pipefd[2];
	ssize_t n;

	errno = 0;
	n = read(fd, buf, sizeof(buf));
	ASSERT_EQ(-1, n) TH_LOG("read() %s returned %zd", why, n);
	ASSERT_EQ(EPERM, errno) TH_LOG("read() %s: %s", why, errname(errno));
	errno = 0;
	n = readv(fd, &iov, 1);
	ASSERT_EQ(-1, n) TH_LOG("readv() %s returned %zd", why, n);
	ASSERT_EQ(EPERM, errno) TH_LOG("readv() %s: %s", why, errname(errno));
	errno = 0;
	n = pread(fd, buf, sizeof(buf), 0);
	ASSERT_EQ(-1, n) TH_LOG("pread() %s returned %zd", why, n);
	ASSERT_EQ(EPERM, errno) TH_LOG("pread() %s: %s", why, errname(errno));

	/* Splicing must not be a way around read_iter's check either. */
	ASSERT_EQ(0, pipe2(pipefd, O_CLOEXEC | O_NONBLOCK));
	n = sendfile(pipefd[1], fd, NULL, sizeof(buf));
	close(pipefd[0]);
	close(pipefd[1]);
	ASSERT_GE(0, n) TH_LOG("sendfile() %s moved %zd bytes", why, n);
}

static void assert_read_maps_refused(struct __test_metadata *_metadata,
				     int fd, size_t size)
{
	ashmem_fail_mmap(_metadata, fd, size, PROT_READ, MAP_SHARED, 0, EPERM);
	ashmem_fail_mmap(_metadata, fd, size, PROT_READ, MAP_PRIVATE, 0, EPERM);
	ashmem_fail_mmap(_metadata, fd, size, PROT_READ | PROT_WRITE,
			 MAP_SHARED, 0, EPERM);
}

/*
 * The mask lacks PROT_READ from before the first mmap: the region gets a
 * backing file and data through a write-only mapping, and then neither a
 * read path of the fd nor a readable mapping may hand the data out.
 */
TEST(mask_without_read_refuses_read_and_mmap)
{
	size_t size = REGION_PAGES * page_size();
	int fd = ashmem_assert_create(_metadata, REGION_NAME, size);
	uint8_t *p;

	ashmem_assert_set_prot_mask(_metadata, fd, PROT_WRITE);
	p = ashmem_assert_mmap(_metadata, fd, size, PROT_WRITE, MAP_SHARED, 0);
	fill_pattern(p, 0, size, 63);
	assert_reads_refused(_metadata, fd, "of a region masked to PROT_WRITE");
	assert_read_maps_refused(_metadata, fd, size);
	munmap(p, size);
	close(fd);
}

static int narrow_to_write_child(void *arg)
{
	int fd = *(int *)arg;

	CHILD_CHECK(ioctl(fd, ASHMEM_SET_PROT_MASK, PROT_WRITE) == 0,
		    "ASHMEM_SET_PROT_MASK(PROT_WRITE) in the child failed with %s",
		    errname(errno));
	return 0;
}

/*
 * The mask belongs to the region: a child that narrows it on the fd it
 * inherited stops the parent's read() as well as its next mmap(), though
 * the parent mapped and read the region before.
 */
TEST(mask_narrowed_by_child_refuses_parent_read)
{
	size_t size = REGION_PAGES * page_size();
	int fd = ashmem_assert_create(_metadata, REGION_NAME, size);
	uint8_t *p = ashmem_assert_mmap(_metadata, fd, size,
					PROT_READ | PROT_WRITE, MAP_SHARED, 0);
	char buf[16];

	fill_pattern(p, 0, size, 64);
	ASSERT_EQ((ssize_t)sizeof(buf), read(fd, buf, sizeof(buf))) {
		TH_LOG("read() must work while the mask has PROT_READ: %s",
		       errname(errno));
	}
	ASSERT_EQ(0, run_in_child(narrow_to_write_child, &fd));
	ashmem_assert_prot_mask(_metadata, fd, PROT_WRITE);
	assert_reads_refused(_metadata, fd, "after a child masked PROT_READ off");
	assert_read_maps_refused(_metadata, fd, size);
	munmap(p, size);
	close(fd);
}

TEST_HARNESS_MAIN
