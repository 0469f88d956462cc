/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Helpers shared by the ashmem tests.
 *
 * Each operation has a helper that must work (ashmem_assert_*) and, where
 * the ABI has an error path, one that must fail with the errno the ABI
 * gives (ashmem_fail_*). They take the harness's _metadata, so an ASSERT in
 * them ends the calling test, and they say which rule broke.
 *
 * Include after kselftest_harness.h. Sizes always come from the page size
 * the kernel reports, never from a constant: the same tests run on 4K and
 * 16K page kernels.
 */
#ifndef ASHMEM_UTIL_H
#define ASHMEM_UTIL_H

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../uapi/linux/ashmem.h"

#define ASHMEM_DEV		"/dev/ashmem"
#define ASHMEM_PROT_ALL		(PROT_READ | PROT_WRITE | PROT_EXEC)
/* The driver's debugfs files (README, "Diagnostics"), where debugfs is mounted. */
#define ASHMEM_DEBUGFS_DIR	"/sys/kernel/debug/ashmem"
#define ASHMEM_DEBUGFS_STATS	ASHMEM_DEBUGFS_DIR "/stats"

static inline size_t page_size(void)
{
	return (size_t)sysconf(_SC_PAGESIZE);
}

/*
 * How long each long-running reliability test (oracle, fuzz, fault) runs:
 * ASHMEM_RELIABILITY_SECONDS, or a few seconds so that make check stays
 * quick. make check-debug sets a minute.
 */
#define RELIABILITY_DEFAULT_SECONDS	3
#define RELIABILITY_MAX_SECONDS		3600
/* The harness's timeout for those tests: their run time plus slack. */
#define RELIABILITY_TIMEOUT		(RELIABILITY_MAX_SECONDS + 600)

static inline unsigned int reliability_seconds(void)
{
	const char *s = getenv("ASHMEM_RELIABILITY_SECONDS");
	long v = s ? strtol(s, NULL, 10) : 0;

	if (v <= 0)
		return RELIABILITY_DEFAULT_SECONDS;
	return v > RELIABILITY_MAX_SECONDS ? RELIABILITY_MAX_SECONDS : v;
}

/* CLOCK_MONOTONIC in seconds, for run-time bounds (never for verdicts). */
static inline double monotonic_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* ----------------------------------------------------- kernel addresses */

/* How long a run of hex digits at @s is (at most @max). */
static inline size_t hex_run(const char *s, size_t max)
{
	size_t n = 0;

	while (n < max && isxdigit((unsigned char)s[n]))
		n++;
	return n;
}

/*
 * The lowest kernel address of any 64-bit kernel we run on: x86_64 with
 * 5-level paging (LA57, which QEMU's TCG offers) puts the direct map at
 * 0xff11..., below the 4-level 0xffff8...; arm64 with 52-bit VAs starts at
 * 0xfff0.... Matching only "ffff" would miss every LA57 pointer.
 */
#define KERNEL_SPACE_START	0xff00000000000000ULL

/*
 * Where @text shows something shaped like a raw kernel pointer: 16 hex
 * digits starting with ff (%px, %lx), 0x and 12 or more hex digits, or a
 * decimal number in kernel space (%lu of a pointer). A hashed %p (32 bits,
 * printed as 00000000 and 8 hex digits) passes: it is what the kernel
 * offers instead of the address. NULL when there is none.
 */
static inline const char *kernel_address_in(const char *text)
{
	const char *s;
	unsigned long long v;

	for (s = text; *s; s++) {
		if (s > text && isalnum((unsigned char)s[-1]))
			continue;
		if (!strncasecmp(s, "ff", 2) && hex_run(s, 17) == 16)
			return s;
		if (!strncasecmp(s, "0x", 2) && hex_run(s + 2, 12) == 12)
			return s;
		if (isdigit((unsigned char)*s)) {
			errno = 0;
			v = strtoull(s, NULL, 10);
			if (!errno && v >= KERNEL_SPACE_START)
				return s;
		}
	}
	return NULL;
}

/*
 * The page size an Android app built for 4K-page devices computes in. On a
 * kernel with larger pages (arm64's 16K and 64K) a pin range aligned to it
 * but not to the page size must be refused. Only the tests of that use it:
 * every size comes from page_size().
 */
#define PAGE_4K			4096u

/* "EINVAL" rather than "Invalid argument": the ABI speaks in errno names. */
static inline const char *errname(int err)
{
	const char *name = strerrorname_np(err);

	return name ? name : "(no error)";
}

static inline const char *ashmem_cmd_name(unsigned long cmd)
{
	switch (cmd) {
	case ASHMEM_PIN:		return "ASHMEM_PIN";
	case ASHMEM_UNPIN:		return "ASHMEM_UNPIN";
	case ASHMEM_GET_PIN_STATUS:	return "ASHMEM_GET_PIN_STATUS";
	}
	return "ioctl";
}

/* An ioctl that must succeed; returns what it returned. */
static inline int ashmem_ioctl_ok(struct __test_metadata *_metadata, int fd,
				  unsigned long cmd, unsigned long arg,
				  const char *what)
{
	int ret = ioctl(fd, cmd, arg);
	int err = errno;

	ASSERT_LE(0, ret) {
		TH_LOG("%s must succeed, but failed with %s", what, errname(err));
	}
	return ret;
}

/* An ioctl that must fail with @expected. */
static inline void ashmem_ioctl_fails(struct __test_metadata *_metadata,
				      int fd, unsigned long cmd,
				      unsigned long arg, int expected,
				      const char *what)
{
	int ret, err;

	errno = 0;
	ret = ioctl(fd, cmd, arg);
	err = errno;
	ASSERT_EQ(-1, ret) {
		TH_LOG("%s must fail with %s, but returned %d",
		       what, errname(expected), ret);
	}
	ASSERT_EQ(expected, err) {
		TH_LOG("%s must fail with %s, but failed with %s",
		       what, errname(expected), errname(err));
	}
}

/* Every open of /dev/ashmem is a new region. */
static inline int ashmem_assert_open(struct __test_metadata *_metadata)
{
	int fd = open(ASHMEM_DEV, O_RDWR | O_CLOEXEC);
	int err = errno;

	ASSERT_LE(0, fd) {
		TH_LOG("open(%s) failed with %s: is ashmem_linux loaded?",
		       ASHMEM_DEV, errname(err));
	}
	return fd;
}

/* ------------------------------------------------------------------ name */

static inline void ashmem_assert_set_name(struct __test_metadata *_metadata,
					  int fd, const char *name)
{
	ashmem_ioctl_ok(_metadata, fd, ASHMEM_SET_NAME, (unsigned long)name,
			"ASHMEM_SET_NAME");
}

static inline void ashmem_fail_set_name(struct __test_metadata *_metadata,
					int fd, const void *arg, int err)
{
	char what[64];

	snprintf(what, sizeof(what), "ASHMEM_SET_NAME(%p)", arg);
	ashmem_ioctl_fails(_metadata, fd, ASHMEM_SET_NAME, (unsigned long)arg,
			   err, what);
}

/* GET_NAME must return @expected, NUL-terminated within ASHMEM_NAME_LEN. */
static inline void ashmem_assert_name(struct __test_metadata *_metadata,
				      int fd, const char *expected)
{
	char buf[ASHMEM_NAME_LEN];

	memset(buf, 'Z', sizeof(buf));
	ashmem_ioctl_ok(_metadata, fd, ASHMEM_GET_NAME, (unsigned long)buf,
			"ASHMEM_GET_NAME");
	ASSERT_NE(NULL, memchr(buf, '\0', sizeof(buf))) {
		TH_LOG("ASHMEM_GET_NAME must return a NUL-terminated name");
	}
	ASSERT_STREQ(expected, buf) {
		TH_LOG("ASHMEM_GET_NAME must return the region's name");
	}
}

static inline void ashmem_fail_get_name(struct __test_metadata *_metadata,
					int fd, void *arg, int err)
{
	char what[64];

	snprintf(what, sizeof(what), "ASHMEM_GET_NAME(%p)", arg);
	ashmem_ioctl_fails(_metadata, fd, ASHMEM_GET_NAME, (unsigned long)arg,
			   err, what);
}

/* ------------------------------------------------------------------ size */

static inline void ashmem_assert_set_size(struct __test_metadata *_metadata,
					  int fd, size_t size)
{
	char what[64];

	snprintf(what, sizeof(what), "ASHMEM_SET_SIZE(%zu)", size);
	ashmem_ioctl_ok(_metadata, fd, ASHMEM_SET_SIZE, size, what);
}

static inline void ashmem_fail_set_size(struct __test_metadata *_metadata,
					int fd, size_t size, int err)
{
	char what[64];

	snprintf(what, sizeof(what), "ASHMEM_SET_SIZE(%zu)", size);
	ashmem_ioctl_fails(_metadata, fd, ASHMEM_SET_SIZE, size, err, what);
}

static inline void ashmem_assert_size(struct __test_metadata *_metadata,
				      int fd, size_t expected)
{
	int size = ashmem_ioctl_ok(_metadata, fd, ASHMEM_GET_SIZE, 0,
				   "ASHMEM_GET_SIZE");

	ASSERT_EQ(expected, (size_t)size) {
		TH_LOG("ASHMEM_GET_SIZE must return the size SET_SIZE set");
	}
}

/* ------------------------------------------------------------- prot mask */

static inline void ashmem_assert_set_prot_mask(struct __test_metadata *_metadata,
					       int fd, unsigned long prot)
{
	char what[64];

	snprintf(what, sizeof(what), "ASHMEM_SET_PROT_MASK(%#lx)", prot);
	ashmem_ioctl_ok(_metadata, fd, ASHMEM_SET_PROT_MASK, prot, what);
}

static inline void ashmem_fail_set_prot_mask(struct __test_metadata *_metadata,
					     int fd, unsigned long prot, int err)
{
	char what[64];

	snprintf(what, sizeof(what), "ASHMEM_SET_PROT_MASK(%#lx)", prot);
	ashmem_ioctl_fails(_metadata, fd, ASHMEM_SET_PROT_MASK, prot, err,
			   what);
}

static inline void ashmem_assert_prot_mask(struct __test_metadata *_metadata,
					   int fd, int expected)
{
	int prot = ashmem_ioctl_ok(_metadata, fd, ASHMEM_GET_PROT_MASK, 0,
				   "ASHMEM_GET_PROT_MASK");

	ASSERT_EQ(expected, prot) {
		TH_LOG("ASHMEM_GET_PROT_MASK returned %#x, expected %#x",
		       prot, expected);
	}
}

/* ------------------------------------------------------------------ mmap */

static inline void *ashmem_assert_mmap(struct __test_metadata *_metadata,
				       int fd, size_t len, int prot, int flags,
				       off_t offset)
{
	void *p = mmap(NULL, len, prot, flags, fd, offset);
	int err = errno;

	ASSERT_NE(MAP_FAILED, p) {
		TH_LOG("mmap(len %zu, prot %#x, flags %#x, offset %jd) must work, but failed with %s",
		       len, prot, flags, (intmax_t)offset, errname(err));
	}
	return p;
}

static inline void ashmem_fail_mmap(struct __test_metadata *_metadata,
				    int fd, size_t len, int prot, int flags,
				    off_t offset, int expected)
{
	void *p;
	int err;

	errno = 0;
	p = mmap(NULL, len, prot, flags, fd, offset);
	err = errno;
	if (p != MAP_FAILED)
		munmap(p, len);
	ASSERT_EQ(MAP_FAILED, p) {
		TH_LOG("mmap(len %zu, prot %#x, flags %#x, offset %jd) must fail with %s, but worked",
		       len, prot, flags, (intmax_t)offset, errname(expected));
	}
	ASSERT_EQ(expected, err) {
		TH_LOG("mmap(len %zu, prot %#x, flags %#x, offset %jd) must fail with %s, but failed with %s",
		       len, prot, flags, (intmax_t)offset, errname(expected),
		       errname(err));
	}
}

/* A new region named @name of @size bytes, not mapped yet. */
static inline int ashmem_assert_create(struct __test_metadata *_metadata,
				       const char *name, size_t size)
{
	int fd = ashmem_assert_open(_metadata);

	ashmem_assert_set_name(_metadata, fd, name);
	ashmem_assert_set_size(_metadata, fd, size);
	return fd;
}

/* ------------------------------------------- pin, unpin, get pin status */

static inline int ashmem_pin_ioctl(int fd, unsigned long cmd,
				   uint32_t offset, uint32_t len)
{
	struct ashmem_pin pin = { .offset = offset, .len = len };

	return ioctl(fd, cmd, &pin);
}

/* @cmd on [@offset, +@len) must succeed and return @expected. */
static inline void ashmem_assert_pin_cmd(struct __test_metadata *_metadata,
					 int fd, unsigned long cmd,
					 uint32_t offset, uint32_t len,
					 int expected)
{
	int ret = ashmem_pin_ioctl(fd, cmd, offset, len);
	int err = errno;

	ASSERT_LE(0, ret) {
		TH_LOG("%s {offset %#x, len %#x} must work, but failed with %s",
		       ashmem_cmd_name(cmd), offset, len, errname(err));
	}
	ASSERT_EQ(expected, ret) {
		TH_LOG("%s {offset %#x, len %#x} returned %d, expected %d",
		       ashmem_cmd_name(cmd), offset, len, ret, expected);
	}
}

static inline void ashmem_fail_pin_cmd(struct __test_metadata *_metadata,
				       int fd, unsigned long cmd,
				       uint32_t offset, uint32_t len, int err)
{
	struct ashmem_pin pin = { .offset = offset, .len = len };
	char what[96];

	snprintf(what, sizeof(what), "%s {offset %#x, len %#x}",
		 ashmem_cmd_name(cmd), offset, len);
	ashmem_ioctl_fails(_metadata, fd, cmd, (unsigned long)&pin, err, what);
}

/* PIN must work and say whether the pages were purged while unpinned. */
static inline void ashmem_assert_pin(struct __test_metadata *_metadata, int fd,
				     uint32_t offset, uint32_t len,
				     int purged)
{
	ashmem_assert_pin_cmd(_metadata, fd, ASHMEM_PIN, offset, len, purged);
}

static inline void ashmem_fail_pin(struct __test_metadata *_metadata, int fd,
				   uint32_t offset, uint32_t len, int err)
{
	ashmem_fail_pin_cmd(_metadata, fd, ASHMEM_PIN, offset, len, err);
}

static inline void ashmem_assert_unpin(struct __test_metadata *_metadata,
				       int fd, uint32_t offset, uint32_t len)
{
	ashmem_assert_pin_cmd(_metadata, fd, ASHMEM_UNPIN, offset, len, 0);
}

static inline void ashmem_fail_unpin(struct __test_metadata *_metadata, int fd,
				     uint32_t offset, uint32_t len, int err)
{
	ashmem_fail_pin_cmd(_metadata, fd, ASHMEM_UNPIN, offset, len, err);
}

/* GET_PIN_STATUS must say IS_PINNED or IS_UNPINNED, as @expected says. */
static inline void ashmem_assert_pin_status(struct __test_metadata *_metadata,
					    int fd, uint32_t offset,
					    uint32_t len, int expected)
{
	ashmem_assert_pin_cmd(_metadata, fd, ASHMEM_GET_PIN_STATUS, offset, len,
			      expected);
}

static inline void ashmem_fail_pin_status(struct __test_metadata *_metadata,
					  int fd, uint32_t offset, uint32_t len,
					  int err)
{
	ashmem_fail_pin_cmd(_metadata, fd, ASHMEM_GET_PIN_STATUS, offset, len,
			    err);
}

/* ---------------------------------------------------------------- purge */

static inline long ashmem_assert_purge_all(struct __test_metadata *_metadata,
					   int fd)
{
	return ashmem_ioctl_ok(_metadata, fd, ASHMEM_PURGE_ALL_CACHES, 0,
			       "ASHMEM_PURGE_ALL_CACHES");
}

static inline void ashmem_fail_purge_all(struct __test_metadata *_metadata,
					 int fd, int err)
{
	ashmem_ioctl_fails(_metadata, fd, ASHMEM_PURGE_ALL_CACHES, 0, err,
			   "ASHMEM_PURGE_ALL_CACHES");
}

/* -------------------------------------------------------------- contents */

/*
 * The byte a test writes at region offset @off: depends on the offset, so
 * a page that shows up at the wrong place or a stale page is caught, and a
 * purged (zero) page never matches a whole page of it.
 */
static inline uint8_t pattern_byte(size_t off, uint8_t seed)
{
	return (uint8_t)(seed + off % 251 + 1);
}

/* Fill @len bytes at @p, which maps region offset @off. */
static inline void fill_pattern(void *p, size_t off, size_t len, uint8_t seed)
{
	uint8_t *b = p;
	size_t i;

	for (i = 0; i < len; i++)
		b[i] = pattern_byte(off + i, seed);
}

/* Offset of the first byte at @p that differs from the pattern, or -1. */
static inline ssize_t pattern_mismatch(const void *p, size_t off, size_t len,
				       uint8_t seed)
{
	const uint8_t *b = p;
	size_t i;

	for (i = 0; i < len; i++)
		if (b[i] != pattern_byte(off + i, seed))
			return i;
	return -1;
}

static inline ssize_t nonzero_byte(const void *p, size_t len)
{
	const uint8_t *b = p;
	size_t i;

	for (i = 0; i < len; i++)
		if (b[i])
			return i;
	return -1;
}

/* @len bytes at @p (region offset @off) must hold the pattern. */
static inline void assert_pattern(struct __test_metadata *_metadata,
				  const void *p, size_t off, size_t len,
				  uint8_t seed, const char *rule)
{
	ssize_t bad = pattern_mismatch(p, off, len, seed);

	ASSERT_EQ(-1, bad) {
		TH_LOG("%s: region byte %zu is %#x, expected %#x", rule,
		       off + bad, ((const uint8_t *)p)[bad],
		       pattern_byte(off + bad, seed));
	}
}

/* @len bytes at @p (region offset @off) must read as zeros. */
static inline void assert_zeros(struct __test_metadata *_metadata,
				const void *p, size_t off, size_t len,
				const char *rule)
{
	ssize_t bad = nonzero_byte(p, len);

	ASSERT_EQ(-1, bad) {
		TH_LOG("%s: region byte %zu is %#x, expected 0", rule,
		       off + bad, ((const uint8_t *)p)[bad]);
	}
}

/* ------------------------------------------------------ child processes */

/*
 * Run @fn(@arg) in a forked child. Returns its exit status, 128 + the
 * signal that killed it, or -1 if it could not be run. A child reports what
 * broke on stderr (CHILD_CHECK) rather than with ASSERT_*, whose jump
 * would land in the parent's copy of the harness.
 */
static inline int run_in_child(int (*fn)(void *), void *arg)
{
	int status;
	pid_t pid;

	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0)
		_exit(fn(arg));
	if (waitpid(pid, &status, 0) != pid)
		return -1;
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return WEXITSTATUS(status);
}

#define CHILD_CHECK(cond, fmt, ...) do {				\
	if (!(cond)) {							\
		fprintf(stderr, "# child %d: " fmt "\n", (int)getpid(),	\
			##__VA_ARGS__);					\
		return 1;						\
	}								\
} while (0)

/* --------------------------------------------------------- proc helpers */

/* Read a whole small file into @buf (NUL-terminated); length or -1. */
static inline ssize_t read_text_file(const char *path, char *buf, size_t size)
{
	ssize_t len = 0, n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -1;
	while ((size_t)len < size - 1) {
		n = read(fd, buf + len, size - 1 - len);
		if (n < 0) {
			close(fd);
			return -1;
		}
		if (n == 0)
			break;
		len += n;
	}
	buf[len] = '\0';
	close(fd);
	return len;
}

/* The "@key value" line of a flat keyed file (memory.stat, /proc/vmstat), or -1. */
static inline long long flat_key(const char *path, const char *key)
{
	static char buf[32768];
	size_t klen = strlen(key);
	char *line = buf;

	if (read_text_file(path, buf, sizeof(buf)) < 0)
		return -1;
	while (line) {
		if (!strncmp(line, key, klen) && line[klen] == ' ')
			return strtoll(line + klen + 1, NULL, 10);
		line = strchr(line, '\n');
		if (line)
			line++;
	}
	return -1;
}

/*
 * The value of the "@key:" line of a /proc file such as /proc/meminfo or
 * /proc/self/fdinfo/N, copied to @out without the separator after the
 * colon and without the newline. Returns false when the line is missing.
 * With @tab the separator must be exactly one tab, as fdinfo has it.
 */
static inline bool proc_field(const char *path, const char *key, bool tab,
			      char *out, size_t outlen)
{
	char buf[8192], *line, *end;
	size_t klen = strlen(key);

	if (read_text_file(path, buf, sizeof(buf)) < 0)
		return false;
	for (line = buf; line && *line; line = end ? end + 1 : NULL) {
		end = strchr(line, '\n');
		if (end)
			*end = '\0';
		if (strncmp(line, key, klen) || line[klen] != ':')
			continue;
		line += klen + 1;
		if (tab) {
			if (*line != '\t')
				return false;
			line++;
		} else {
			line += strspn(line, " \t");
		}
		snprintf(out, outlen, "%s", line);
		return true;
	}
	return false;
}

/* A /proc/meminfo value in kB, or -1. */
static inline long meminfo_kb(const char *key)
{
	char val[64];

	if (!proc_field("/proc/meminfo", key, false, val, sizeof(val)))
		return -1;
	return strtol(val, NULL, 10);
}

/* ------------------------------------------------------------ SCM_RIGHTS */

/* Most fds one send_fds() carries. */
#define SCM_MAX_FDS		4

/* Room for a control message of SCM_MAX_FDS fds, aligned as a cmsghdr. */
union scm_fds_buf {
	struct cmsghdr hdr;
	char buf[CMSG_SPACE(SCM_MAX_FDS * sizeof(int))];
};

/* Send the @n fds of @fds over the unix socket @sock, with one byte of data: 0 or -1. */
static inline int send_fds(int sock, const int *fds, unsigned int n)
{
	char data = 'F';
	struct iovec iov = { .iov_base = &data, .iov_len = 1 };
	union scm_fds_buf ctl;
	struct msghdr msg = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = ctl.buf, .msg_controllen = CMSG_SPACE(n * sizeof(int)),
	};
	struct cmsghdr *cmsg = CMSG_FIRSTHDR(&msg);

	if (!n || n > SCM_MAX_FDS) {
		errno = EINVAL;
		return -1;
	}
	memset(&ctl, 0, sizeof(ctl));
	cmsg->cmsg_level = SOL_SOCKET;
	cmsg->cmsg_type = SCM_RIGHTS;
	cmsg->cmsg_len = CMSG_LEN(n * sizeof(int));
	memcpy(CMSG_DATA(cmsg), fds, n * sizeof(int));
	return sendmsg(sock, &msg, 0) == 1 ? 0 : -1;
}

/* Receive exactly @n fds sent by send_fds() (close-on-exec) into @fds: 0 or -1. */
static inline int recv_fds(int sock, int *fds, unsigned int n)
{
	char data;
	struct iovec iov = { .iov_base = &data, .iov_len = 1 };
	union scm_fds_buf ctl;
	struct msghdr msg = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = ctl.buf, .msg_controllen = CMSG_SPACE(n * sizeof(int)),
	};
	struct cmsghdr *cmsg;

	if (!n || n > SCM_MAX_FDS) {
		errno = EINVAL;
		return -1;
	}
	if (recvmsg(sock, &msg, MSG_CMSG_CLOEXEC) != 1)
		return -1;
	cmsg = CMSG_FIRSTHDR(&msg);
	if (!cmsg || cmsg->cmsg_level != SOL_SOCKET ||
	    cmsg->cmsg_type != SCM_RIGHTS ||
	    cmsg->cmsg_len != CMSG_LEN(n * sizeof(int)))
		return -1;
	memcpy(fds, CMSG_DATA(cmsg), n * sizeof(int));
	return 0;
}

/* Send @fd over the unix socket @sock: 0 or -1. */
static inline int send_fd(int sock, int fd)
{
	return send_fds(sock, &fd, 1);
}

/* Receive an fd sent by send_fd() (close-on-exec): the fd or -1. */
static inline int recv_fd(int sock)
{
	int fd;

	return recv_fds(sock, &fd, 1) ? -1 : fd;
}

#endif /* ASHMEM_UTIL_H */
