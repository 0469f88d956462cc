// SPDX-License-Identifier: GPL-2.0-only
/*
 * Android in a container, as each recipe of README.md ("In a container")
 * builds it, and as Android 16's libcutils sees it.
 *
 * Since Android 16, libcutils opens only /dev/ashmem<boot_id> (<boot_id>:
 * the trimmed content of /proc/sys/kernel/random/boot_id), O_RDWR |
 * O_CLOEXEC, with no fallback to /dev/ashmem (Android 11 to 15 fall back).
 * It then accepts an fd as ashmem only if fstat() shows a character device
 * whose st_rdev is the one it learnt when it opened the device.
 *
 * Each test builds a container the way Docker's --device or an LXC
 * lxc.mount.entry (or ashmem-boot-id-node as an LXC hook) does: new mount
 * and pid namespaces, and a user namespace for unprivileged containers,
 * with a /dev that is a fresh tmpfs holding only what the recipe puts
 * there: nodes made with mknod and the host device's major:minor, or bind
 * mounts of the host's node. Inside, the client below does what libcutils
 * does: opens the boot-id name only, checks S_ISCHR and st_rdev, SET_NAME,
 * SET_SIZE, SET_PROT_MASK, mmap, and passes the fd over SCM_RIGHTS to a
 * second process, which checks S_ISCHR and st_rdev again, against the
 * device it opens itself, and sees the same data. Recipes that lack the
 * boot-id name or point it at the wrong minor must make it fail, with the
 * errno Android would see.
 *
 * The host side, on a machine without udev: the guest's /init ran
 * ashmem-boot-id-node (host/, installed as the modprobe.d install line
 * runs it) at boot, and the script is tested on a /dev of its own.
 *
 * "ashmem_container_test client" runs the client alone, where it is run:
 * in a container, it says whether Android 16 can use ashmem there.
 *
 * Needs root (it builds the containers); skips the containers on kernels
 * without pid namespaces, and the unprivileged ones when the kernel gives
 * no user namespace. Built twice, as the other tests.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <grp.h>
#include <limits.h>
#include <sched.h>
#include <stdarg.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/sysmacros.h>

#include "kselftest_harness.h"
#include "ashmem_util.h"

#define BOOT_ID_FILE		"/proc/sys/kernel/random/boot_id"
/* Where make install-host and the package put it, and the guest's /init. */
#define BOOT_ID_HELPER		"/usr/lib/ashmem-linux/ashmem-boot-id-node"
/* The unprivileged container's root is this uid and gid outside. */
#define NOBODY			65534

#define CLIENT_PAGES		2
#define CLIENT_REGION_NAME	"ashmem-client"
#define CLIENT_PROT		(PROT_READ | PROT_WRITE)
#define SEED_CREATOR		0x31
#define SEED_RECEIVER		0x73

/*
 * Exit codes of a container besides the client's (0, or the errno of the
 * step that failed): setting the container up failed, or the kernel gives
 * no user namespace. Above any errno.
 */
#define CONTAINER_SETUP_FAILED	200
#define CONTAINER_NO_USERNS	201
#define CONTAINER_NO_PIDNS	202

/* ========================================== the client: libcutils' way */

enum android_release {
	ANDROID_16,		/* the boot-id name only */
	ANDROID_11_TO_15,	/* the boot-id name, then /dev/ashmem */
};

/* What libcutils keeps per process. */
struct client {
	enum android_release release;
	char path[128];		/* /dev/ashmem<boot_id> */
	dev_t rdev;		/* __ashmem_rdev: learnt at an open */
};

static const char *client_prefix = "# ashmem-client: ";

static void client_say(const char *fmt, ...)
{
	va_list ap;

	fputs(client_prefix, stdout);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
}

/* Say which step failed with @err; returns @err, the client's exit code. */
static int client_fail(const char *step, int err)
{
	client_say("FAIL: %s: %s (%s)", step, errname(err), strerror(err));
	return err;
}

/*
 * The boot id as libcutils reads it: the file's content, trimmed. 0 or the
 * errno of the read (ENODATA for an empty file).
 */
static int read_boot_id(char *buf, size_t len)
{
	size_t start, end;

	if (read_text_file(BOOT_ID_FILE, buf, len) < 0)
		return errno;
	start = strspn(buf, " \t\n");
	end = start + strcspn(buf + start, " \t\n");
	memmove(buf, buf + start, end - start);
	buf[end - start] = '\0';
	return buf[0] ? 0 : ENODATA;
}

/* libcutils' device name: "/dev/ashmem" and the boot id. */
static int client_init(struct client *c, enum android_release release)
{
	char boot_id[64];
	int ret;

	memset(c, 0, sizeof(*c));
	c->release = release;
	ret = read_boot_id(boot_id, sizeof(boot_id));
	if (ret)
		return ret;
	snprintf(c->path, sizeof(c->path), "%s%s", ASHMEM_DEV, boot_id);
	return 0;
}

/*
 * Open the device as libcutils does: a new region's fd, or -errno. It
 * must be a character device with a device number, which becomes the one
 * every later fd is compared with.
 */
static int client_open(struct client *c)
{
	struct stat st;
	int fd, err;

	fd = open(c->path, O_RDWR | O_CLOEXEC);
	if (fd < 0 && c->release == ANDROID_11_TO_15)
		fd = open(ASHMEM_DEV, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st)) {
		err = errno;
		close(fd);
		return -err;
	}
	if (!S_ISCHR(st.st_mode) || !st.st_rdev) {
		close(fd);
		return -ENOTTY;
	}
	c->rdev = st.st_rdev;
	return fd;
}

/*
 * libcutils' check that @fd is ashmem: a character device with the
 * st_rdev of the device this process opens (it opens it once to learn
 * it). 0 or -errno (ENOTTY for a foreign fd).
 */
static int client_is_ashmem(struct client *c, int fd)
{
	struct stat st;
	int dev;

	if (!c->rdev) {
		dev = client_open(c);
		if (dev < 0)
			return dev;
		close(dev);
	}
	if (fstat(fd, &st))
		return -errno;
	if (!S_ISCHR(st.st_mode) || st.st_rdev != c->rdev)
		return -ENOTTY;
	return 0;
}

struct receiver {
	int sock;
	enum android_release release;
};

/*
 * The second process, of the same Android release: what it received must
 * be the device, with the data.
 */
static int client_receiver(void *arg)
{
	const struct receiver *r = arg;
	size_t page = page_size(), size = CLIENT_PAGES * page;
	struct client c;
	int fd, ret;
	uint8_t *p;

	ret = client_init(&c, r->release);
	if (ret)
		return client_fail("second process: reading the boot id", ret);
	fd = recv_fd(r->sock);
	if (fd < 0)
		return client_fail("second process: receiving the fd", errno);
	ret = client_is_ashmem(&c, fd);
	if (ret)
		return client_fail("second process: is the received fd ashmem (S_ISCHR, st_rdev)",
				   -ret);
	ret = ioctl(fd, ASHMEM_GET_SIZE, 0);
	if (ret < 0)
		return client_fail("second process: ASHMEM_GET_SIZE", errno);
	if ((size_t)ret != size) {
		client_say("FAIL: second process: ASHMEM_GET_SIZE says %d, the creator set %zu",
			   ret, size);
		return EBADMSG;
	}
	ret = ioctl(fd, ASHMEM_GET_PROT_MASK, 0);
	if (ret != CLIENT_PROT) {
		client_say("FAIL: second process: ASHMEM_GET_PROT_MASK says %d, the creator set %d",
			   ret, CLIENT_PROT);
		return ret < 0 ? errno : EBADMSG;
	}
	p = mmap(NULL, size, CLIENT_PROT, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		return client_fail("second process: mmap", errno);
	if (pattern_mismatch(p, 0, page, SEED_CREATOR) >= 0) {
		client_say("FAIL: second process: the first page is not what the creator wrote");
		return EBADMSG;
	}
	fill_pattern(p + page, page, page, SEED_RECEIVER);
	client_say("second process: fd %d is the same device (%u:%u), %zu bytes, saw the creator's data",
		   fd, major(c.rdev), minor(c.rdev), size);
	munmap(p, size);
	close(fd);
	return 0;
}

/*
 * What an Android process does with ashmem, start to end: 0 when all of it
 * worked, else the errno of the step that failed (the exit code of
 * "ashmem_container_test client").
 */
static int client_run(enum android_release release)
{
	size_t page = page_size(), size = CLIENT_PAGES * page;
	struct receiver r = { .release = release };
	int fd, ret, sv[2];
	struct client c;
	uint8_t *p;

	ret = client_init(&c, release);
	if (ret)
		return client_fail("reading " BOOT_ID_FILE, ret);
	client_say("%s opens %s%s", release == ANDROID_16 ? "Android 16" : "Android 11 to 15",
		   c.path, release == ANDROID_16 ? " only" : ", then " ASHMEM_DEV);
	fd = client_open(&c);
	if (fd < 0)
		return client_fail(c.path, -fd);
	client_say("opened: character device %u:%u", major(c.rdev), minor(c.rdev));
	if (ioctl(fd, ASHMEM_SET_NAME, CLIENT_REGION_NAME))
		return client_fail("ASHMEM_SET_NAME", errno);
	if (ioctl(fd, ASHMEM_SET_SIZE, size))
		return client_fail("ASHMEM_SET_SIZE", errno);
	ret = client_is_ashmem(&c, fd);
	if (ret)
		return client_fail("is the region's fd ashmem (S_ISCHR, st_rdev)", -ret);
	if (ioctl(fd, ASHMEM_SET_PROT_MASK, CLIENT_PROT))
		return client_fail("ASHMEM_SET_PROT_MASK", errno);
	p = mmap(NULL, size, CLIENT_PROT, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		return client_fail("mmap", errno);
	fill_pattern(p, 0, page, SEED_CREATOR);
	client_say("region \"%s\", %zu bytes, prot mask %#x, mapped and written",
		   CLIENT_REGION_NAME, size, CLIENT_PROT);

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv))
		return client_fail("socketpair", errno);
	/* Queued before the receiver runs: it finds the fd waiting. */
	if (send_fd(sv[0], fd))
		return client_fail("sending the fd (SCM_RIGHTS)", errno);
	r.sock = sv[1];
	ret = run_in_child(client_receiver, &r);
	close(sv[0]);
	close(sv[1]);
	if (ret) {
		client_say("FAIL: the second process exited with %d", ret);
		return ret < 0 ? ECHILD : ret;
	}
	if (pattern_mismatch(p + page, page, page, SEED_RECEIVER) >= 0) {
		client_say("FAIL: the second page is not what the second process wrote");
		return EBADMSG;
	}
	munmap(p, size);
	close(fd);
	client_say("OK: %s can use ashmem here",
		   release == ANDROID_16 ? "Android 16" : "Android 11 to 15");
	return 0;
}

/* "ashmem_container_test client [--android-11-to-15]" */
static int client_main(int argc, char **argv)
{
	enum android_release release = ANDROID_16;

	if (argc > 1 && !strcmp(argv[1], "--android-11-to-15")) {
		release = ANDROID_11_TO_15;
	} else if (argc > 1) {
		fprintf(stderr, "usage: %s client [--android-11-to-15]\n",
			program_invocation_short_name);
		return 2;
	}
	client_prefix = "ashmem-client: ";
	return client_run(release);
}

/* ===================================================== the containers */

/* How a recipe puts a name into the container's /dev. */
enum entry_kind {
	ENTRY_MKNOD,	/* docker --device: a node with the host's major:minor */
	ENTRY_BIND,	/* lxc.mount.entry: the host's node, bind-mounted */
	ENTRY_HOOK,	/* lxc.hook.mount: ashmem-boot-id-node makes it */
};

struct dev_entry {
	bool boot_id_name;	/* ashmem<boot_id>, else ashmem */
	enum entry_kind kind;
	dev_t rdev;		/* for ENTRY_MKNOD; 0: the host's */
};

#define MAX_ENTRIES	2

struct container {
	bool userns;		/* unprivileged: root inside is nobody outside */
	enum android_release release;
	unsigned int n_entries;
	struct dev_entry entries[MAX_ENTRIES];
};

FIXTURE(container) {
	dev_t rdev;		/* the host's /dev/ashmem */
	char boot_id[64];
	char root[64];		/* the container's rootfs: root/dev is its /dev */
	char dev[80];
};

FIXTURE_SETUP(container)
{
	struct stat st;

	if (geteuid())
		SKIP(return, "building the containers needs root");
	ASSERT_EQ(0, stat(ASHMEM_DEV, &st)) {
		TH_LOG("stat(%s): %s: is ashmem_linux loaded?", ASHMEM_DEV, errname(errno));
	}
	ASSERT_TRUE(S_ISCHR(st.st_mode));
	self->rdev = st.st_rdev;
	ASSERT_EQ(0, read_boot_id(self->boot_id, sizeof(self->boot_id))) {
		TH_LOG("no boot id in %s", BOOT_ID_FILE);
	}
	snprintf(self->root, sizeof(self->root), "/tmp/ashmem-container-XXXXXX");
	ASSERT_NE(NULL, mkdtemp(self->root));
	snprintf(self->dev, sizeof(self->dev), "%s/dev", self->root);
	ASSERT_EQ(0, mkdir(self->dev, 0755));
	/* The unprivileged container's root (nobody) must reach its /dev. */
	ASSERT_EQ(0, chmod(self->root, 0755));
}

FIXTURE_TEARDOWN(container)
{
	if (!self->root[0])
		return;
	rmdir(self->dev);
	rmdir(self->root);
}

#define SETUP_CHECK(cond, fmt, ...) do {				\
	if (!(cond)) {							\
		fprintf(stderr, "# container setup: " fmt "\n",		\
			##__VA_ARGS__);					\
		return CONTAINER_SETUP_FAILED;				\
	}								\
} while (0)

static bool write_file(const char *path, const char *val)
{
	ssize_t len = strlen(val);
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	bool ok;

	if (fd < 0)
		return false;
	ok = write(fd, val, len) == len;
	close(fd);
	return ok;
}

/*
 * Become root of a new user namespace whose root is nobody outside, in a
 * new mount namespace it owns: an unprivileged container's view.
 */
static int enter_unprivileged(void)
{
	char map[32];

	SETUP_CHECK(!setgroups(0, NULL), "setgroups: %s", errname(errno));
	SETUP_CHECK(!setresgid(NOBODY, NOBODY, NOBODY), "setresgid: %s", errname(errno));
	SETUP_CHECK(!setresuid(NOBODY, NOBODY, NOBODY), "setresuid: %s", errname(errno));
	/* A changed uid makes the process undumpable, its uid_map root's. */
	SETUP_CHECK(!prctl(PR_SET_DUMPABLE, 1), "PR_SET_DUMPABLE: %s", errname(errno));
	if (unshare(CLONE_NEWUSER | CLONE_NEWNS)) {
		fprintf(stderr, "# container setup: unshare(CLONE_NEWUSER): %s\n", errname(errno));
		return CONTAINER_NO_USERNS;
	}
	snprintf(map, sizeof(map), "0 %d 1\n", NOBODY);
	SETUP_CHECK(write_file("/proc/self/uid_map", map), "uid_map: %s", errname(errno));
	SETUP_CHECK(write_file("/proc/self/setgroups", "deny"), "setgroups: %s", errname(errno));
	SETUP_CHECK(write_file("/proc/self/gid_map", map), "gid_map: %s", errname(errno));
	return 0;
}

/*
 * Run ashmem-boot-id-node with @args (NULL-terminated), with
 * LXC_ROOTFS_MOUNT=@lxc_rootfs when that is not NULL: its exit status, or
 * -1. bash where there is one; the guests have only busybox sh.
 */
static int run_helper(const char *lxc_rootfs, const char *const *args)
{
	const char *shell = access("/bin/bash", X_OK) ? "/bin/sh" : "/bin/bash";
	const char *argv[8] = { shell, BOOT_ID_HELPER };
	int status, i;
	pid_t pid;

	for (i = 0; args[i] && i + 3 < (int)ARRAY_SIZE(argv); i++)
		argv[i + 2] = args[i];
	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		/* Its output is the test's, as diagnostics. */
		dup2(STDERR_FILENO, STDOUT_FILENO);
		if (lxc_rootfs)
			setenv("LXC_ROOTFS_MOUNT", lxc_rootfs, 1);
		else
			unsetenv("LXC_ROOTFS_MOUNT");
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	if (waitpid(pid, &status, 0) != pid)
		return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* Put one entry into the container's /dev at @dev (its rootfs: @root). */
static int add_entry(FIXTURE_DATA(container) *self, const struct dev_entry *e)
{
	char path[PATH_MAX];
	dev_t rdev = e->rdev ? e->rdev : self->rdev;
	const char *hook_args[] = { "ashmem-test", "lxc", "mount", NULL };
	int fd, rc;

	snprintf(path, sizeof(path), "%s/ashmem%s", self->dev,
		 e->boot_id_name ? self->boot_id : "");
	switch (e->kind) {
	case ENTRY_MKNOD:
		/* Docker gives the node the host node's mode, 0666. */
		SETUP_CHECK(!mknod(path, S_IFCHR | 0666, rdev), "mknod %s: %s", path,
			    errname(errno));
		SETUP_CHECK(!chmod(path, 0666), "chmod %s: %s", path, errname(errno));
		break;
	case ENTRY_BIND:
		/* create=file, then the bind mount. */
		fd = open(path, O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
		SETUP_CHECK(fd >= 0, "creating %s: %s", path, errname(errno));
		close(fd);
		SETUP_CHECK(!mount(ASHMEM_DEV, path, NULL, MS_BIND, NULL), "bind %s: %s", path,
			    errname(errno));
		break;
	case ENTRY_HOOK:
		/* As LXC runs a mount hook: its arguments, LXC_ROOTFS_MOUNT. */
		SETUP_CHECK(e->boot_id_name, "the hook makes the boot-id name only");
		rc = run_helper(self->root, hook_args);
		SETUP_CHECK(rc == 0, "%s as an LXC hook exited %d", BOOT_ID_HELPER, rc);
		break;
	}
	return 0;
}

/* Show the container's /dev in the log, as ls -l /dev/ashmem* would. */
static void show_dev(const char *dev)
{
	char path[PATH_MAX], line[512] = "";
	struct dirent *d;
	struct stat st;
	DIR *dir = opendir(dev);

	if (!dir)
		return;
	while ((d = readdir(dir))) {
		if (d->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dev, d->d_name);
		if (lstat(path, &st))
			continue;
		snprintf(line + strlen(line), sizeof(line) - strlen(line), " %s(%s %u:%u %04o)",
			 d->d_name, S_ISCHR(st.st_mode) ? "c" : "?", major(st.st_rdev),
			 minor(st.st_rdev), st.st_mode & 07777);
	}
	closedir(dir);
	printf("# container /dev:%s\n", line);
	fflush(stdout);
}

/* pid 1 of the container: its own /proc, then the client. */
static int container_init(void *arg)
{
	const struct container *c = arg;

	if (getpid() != 1) {
		fprintf(stderr, "# container setup: the client is pid %d, not 1\n", (int)getpid());
		return CONTAINER_SETUP_FAILED;
	}
	if (mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL)) {
		fprintf(stderr, "# container setup: mounting /proc: %s\n", errname(errno));
		return CONTAINER_SETUP_FAILED;
	}
	return client_run(c->release);
}

/*
 * In a child: new namespaces, the recipe's /dev on a fresh tmpfs over
 * /dev, and the client as pid 1 of a new pid namespace. Its exit code.
 */
static int container_main(FIXTURE_DATA(container) *self, const struct container *c)
{
	unsigned int i;
	int ret;

	if (c->userns) {
		ret = enter_unprivileged();
		if (ret)
			return ret;
	} else {
		SETUP_CHECK(!unshare(CLONE_NEWNS), "unshare(CLONE_NEWNS): %s", errname(errno));
	}
	SETUP_CHECK(!mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL), "making / private: %s",
		    errname(errno));
	/* Docker's and Waydroid's /dev: a tmpfs, nosuid, mode 0755. */
	SETUP_CHECK(!mount("tmpfs", self->dev, "tmpfs", MS_NOSUID, "mode=0755,size=64k"),
		    "tmpfs on %s: %s", self->dev, errname(errno));
	for (i = 0; i < c->n_entries; i++) {
		ret = add_entry(self, &c->entries[i]);
		if (ret)
			return ret;
	}
	show_dev(self->dev);
	SETUP_CHECK(!mount(self->dev, "/dev", NULL, MS_BIND | MS_REC, NULL), "%s over /dev: %s",
		    self->dev, errname(errno));
	if (unshare(CLONE_NEWPID)) {
		ret = errno;
		fprintf(stderr, "# container setup: unshare(CLONE_NEWPID): %s\n", errname(ret));
		return ret == EINVAL ? CONTAINER_NO_PIDNS : CONTAINER_SETUP_FAILED;
	}
	return run_in_child(container_init, (void *)c);
}

/* Build @c, run the client in it: its exit code (0 or an errno). */
static int run_container(struct __test_metadata *_metadata, FIXTURE_DATA(container) *self,
			 const struct container *c)
{
	int status, rc;
	pid_t pid;

	fflush(stdout);
	fflush(stderr);
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0)
		_exit(container_main(self, c));
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status)) {
		TH_LOG("the container died of signal %d", WTERMSIG(status));
	}
	rc = WEXITSTATUS(status);
	if (rc == CONTAINER_NO_USERNS)
		SKIP(return -1, "the kernel gives no user namespace: no unprivileged container");
	if (rc == CONTAINER_NO_PIDNS)
		SKIP(return -1, "the kernel has no pid namespaces (CONFIG_PID_NS): no container");
	ASSERT_NE(CONTAINER_SETUP_FAILED, rc) {
		TH_LOG("building the container failed (see above)");
	}
	return rc;
}

/* The client must work in @c. */
static void assert_android_works(struct __test_metadata *_metadata,
				 FIXTURE_DATA(container) *self, const struct container *c,
				 const char *recipe)
{
	int rc = run_container(_metadata, self, c);

	if (rc < 0)
		return;
	ASSERT_EQ(0, rc) {
		TH_LOG("%s: the libcutils client failed with %s", recipe, errname(rc));
	}
}

/* The client must fail in @c, with @err. */
static void assert_android_fails(struct __test_metadata *_metadata,
				 FIXTURE_DATA(container) *self, const struct container *c,
				 int err, const char *recipe)
{
	int rc = run_container(_metadata, self, c);

	if (rc < 0)
		return;
	ASSERT_EQ(err, rc) {
		TH_LOG("%s: the libcutils client must fail with %s, but %s", recipe, errname(err),
		       rc ? errname(rc) : "it worked");
	}
}

/* ================================================ recipes that work */

/*
 * redroid with Docker:
 *   --device /dev/ashmem --device /dev/ashmem:/dev/ashmem$(cat boot_id)
 * Docker makes each node with mknod, the host device's major:minor.
 */
TEST_F(container, docker_device_lines_serve_android16)
{
	const struct container c = {
		.release = ANDROID_16,
		.n_entries = 2,
		.entries = {
			{ .kind = ENTRY_MKNOD },
			{ .boot_id_name = true, .kind = ENTRY_MKNOD },
		},
	};

	assert_android_works(_metadata, self, &c, "docker --device, both names");
}

/*
 * Waydroid or LXC with two lxc.mount.entry lines binding the host's
 * /dev/ashmem to dev/ashmem and to dev/ashmem<boot_id>.
 */
TEST_F(container, lxc_mount_entries_serve_android16)
{
	const struct container c = {
		.release = ANDROID_16,
		.n_entries = 2,
		.entries = { { .kind = ENTRY_BIND }, { .boot_id_name = true, .kind = ENTRY_BIND } },
	};

	assert_android_works(_metadata, self, &c, "lxc.mount.entry, both names");
}

/* The same in an unprivileged container (a user namespace). */
TEST_F(container, unprivileged_lxc_mount_entries_serve_android16)
{
	const struct container c = {
		.userns = true,
		.release = ANDROID_16,
		.n_entries = 2,
		.entries = { { .kind = ENTRY_BIND }, { .boot_id_name = true, .kind = ENTRY_BIND } },
	};

	assert_android_works(_metadata, self, &c, "unprivileged lxc.mount.entry, both names");
}

/*
 * LXC with lxc.hook.mount = ashmem-boot-id-node, which makes the boot-id
 * name at each start (a privileged container: with mknod).
 */
TEST_F(container, lxc_mount_hook_serves_android16)
{
	const struct container c = {
		.release = ANDROID_16,
		.n_entries = 2,
		.entries = { { .kind = ENTRY_BIND }, { .boot_id_name = true, .kind = ENTRY_HOOK } },
	};

	if (access(BOOT_ID_HELPER, R_OK))
		SKIP(return, "no %s here", BOOT_ID_HELPER);
	assert_android_works(_metadata, self, &c, "lxc.mount.entry and the mount hook");
}

/* The hook in an unprivileged container: mknod is refused, it binds. */
TEST_F(container, unprivileged_lxc_mount_hook_serves_android16)
{
	const struct container c = {
		.userns = true,
		.release = ANDROID_16,
		.n_entries = 2,
		.entries = { { .kind = ENTRY_BIND }, { .boot_id_name = true, .kind = ENTRY_HOOK } },
	};

	if (access(BOOT_ID_HELPER, R_OK))
		SKIP(return, "no %s here", BOOT_ID_HELPER);
	assert_android_works(_metadata, self, &c,
			     "unprivileged lxc.mount.entry and the mount hook");
}

/* =========================================== recipes that must fail */

/*
 * Only /dev/ashmem, as Waydroid's own configuration and a single
 * --device /dev/ashmem give: Android 16 finds nothing to open.
 */
TEST_F(container, android16_fails_with_enoent_without_boot_id_node)
{
	const struct container c = {
		.release = ANDROID_16,
		.n_entries = 1,
		.entries = { { .kind = ENTRY_MKNOD } },
	};

	assert_android_fails(_metadata, self, &c, ENOENT, "docker --device /dev/ashmem alone");
}

TEST_F(container, android16_fails_with_enoent_with_lxc_entry_for_ashmem_alone)
{
	const struct container c = {
		.release = ANDROID_16,
		.n_entries = 1,
		.entries = { { .kind = ENTRY_BIND } },
	};

	assert_android_fails(_metadata, self, &c, ENOENT, "lxc.mount.entry for /dev/ashmem alone");
}

/* Android 11 to 15 fall back to /dev/ashmem: why it worked until 16. */
TEST_F(container, android15_falls_back_without_boot_id_node)
{
	const struct container c = {
		.release = ANDROID_11_TO_15,
		.n_entries = 1,
		.entries = { { .kind = ENTRY_MKNOD } },
	};

	assert_android_works(_metadata, self, &c, "docker --device /dev/ashmem alone, Android 15");
}

/*
 * A misc minor no driver registered (per /proc/misc). Below 255: 6.1's
 * misc char region ends there (a minor past it is ENXIO, no device
 * region), while 6.12's reaches further for dynamic minors.
 */
static unsigned int unused_misc_minor(void)
{
	char buf[8192], *line;
	unsigned int m, used;
	bool taken;

	if (read_text_file("/proc/misc", buf, sizeof(buf)) < 0)
		return 0;
	for (m = 254; m > 0; m--) {
		taken = false;
		for (line = buf; line; line = strchr(line, '\n')) {
			line += *line == '\n';
			if (sscanf(line, "%u", &used) == 1 && used == m)
				taken = true;
		}
		if (!taken)
			return m;
	}
	return 0;
}

/*
 * A boot-id node with a wrong minor (a node made by hand from a stale
 * number, after the module was reloaded): no device answers it.
 */
TEST_F(container, android16_fails_with_enodev_when_boot_id_node_has_wrong_minor)
{
	unsigned int wrong = unused_misc_minor();
	struct container c = {
		.release = ANDROID_16,
		.n_entries = 2,
		.entries = {
			{ .kind = ENTRY_MKNOD },
			{ .boot_id_name = true, .kind = ENTRY_MKNOD },
		},
	};

	ASSERT_NE(0, wrong);
	c.entries[1].rdev = makedev(major(self->rdev), wrong);
	assert_android_fails(_metadata, self, &c, ENODEV, "boot-id node with a wrong minor");
}

/* ==================================== the host without udev: the helper */

/*
 * The guest boots without udev, as some hosts do; its /init ran
 * ashmem-boot-id-node after loading the module, as the modprobe.d install
 * line does. The name must be there, the device itself, mode 0666.
 */
TEST_F(container, boot_made_the_boot_id_node)
{
	char path[128];
	struct stat st;

	snprintf(path, sizeof(path), "%s%s", ASHMEM_DEV, self->boot_id);
	ASSERT_EQ(0, lstat(path, &st)) {
		TH_LOG("lstat(%s): %s: nothing made the boot-id node at boot", path,
		       errname(errno));
	}
	ASSERT_TRUE(S_ISCHR(st.st_mode)) {
		TH_LOG("%s must be a character device", path);
	}
	ASSERT_EQ(self->rdev, st.st_rdev) {
		TH_LOG("%s is %u:%u, /dev/ashmem is %u:%u", path, major(st.st_rdev),
		       minor(st.st_rdev), major(self->rdev), minor(self->rdev));
	}
	ASSERT_EQ((mode_t)0666, st.st_mode & 07777);
}

struct helper_case {
	FIXTURE_DATA(container) *self;
	dev_t stale;		/* a node of this number is there first; 0: none */
	bool then_remove;	/* and --remove must delete it again */
};

/* In a mount namespace of its own, ashmem-boot-id-node on an empty /dev. */
static int helper_child(void *arg)
{
	const struct helper_case *h = arg;
	const char *make[] = { h->self->dev, NULL };
	const char *remove[] = { "--remove", h->self->dev, NULL };
	char path[PATH_MAX];
	struct stat st;
	int rc;

	CHILD_CHECK(!unshare(CLONE_NEWNS), "unshare(CLONE_NEWNS): %s", errname(errno));
	CHILD_CHECK(!mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL), "private /: %s",
		    errname(errno));
	CHILD_CHECK(!mount("tmpfs", h->self->dev, "tmpfs", MS_NOSUID, "mode=0755,size=64k"),
		    "tmpfs: %s", errname(errno));
	snprintf(path, sizeof(path), "%s/ashmem%s", h->self->dev, h->self->boot_id);
	if (h->stale)
		CHILD_CHECK(!mknod(path, S_IFCHR | 0600, h->stale), "mknod: %s", errname(errno));
	rc = run_helper(NULL, make);
	CHILD_CHECK(rc == 0, "%s %s exited %d", BOOT_ID_HELPER, h->self->dev, rc);
	CHILD_CHECK(!lstat(path, &st), "after %s, lstat(%s): %s", BOOT_ID_HELPER, path,
		    errname(errno));
	CHILD_CHECK(S_ISCHR(st.st_mode), "%s must be a character device, mode is %o", path,
		    st.st_mode);
	CHILD_CHECK(st.st_rdev == h->self->rdev, "%s is %u:%u, /dev/ashmem is %u:%u", path,
		    major(st.st_rdev), minor(st.st_rdev), major(h->self->rdev),
		    minor(h->self->rdev));
	CHILD_CHECK((st.st_mode & 07777) == 0666, "%s has mode %04o, must be 0666", path,
		    st.st_mode & 07777);
	if (!h->then_remove)
		return 0;
	rc = run_helper(NULL, remove);
	CHILD_CHECK(rc == 0, "%s --remove exited %d", BOOT_ID_HELPER, rc);
	CHILD_CHECK(lstat(path, &st) && errno == ENOENT, "%s --remove left %s (%s)",
		    BOOT_ID_HELPER, path, errname(errno));
	return 0;
}

static void assert_helper(struct __test_metadata *_metadata, struct helper_case *h)
{
	if (access(BOOT_ID_HELPER, R_OK))
		SKIP(return, "no %s here", BOOT_ID_HELPER);
	ASSERT_EQ(0, run_in_child(helper_child, h)) {
		TH_LOG("ashmem-boot-id-node broke a rule (see above)");
	}
}

TEST_F(container, helper_makes_the_boot_id_node)
{
	struct helper_case h = { .self = self };

	assert_helper(_metadata, &h);
}

/* A node left from an earlier load of the module, with another minor. */
TEST_F(container, helper_replaces_a_stale_boot_id_node)
{
	struct helper_case h = { .self = self };
	unsigned int wrong = unused_misc_minor();

	ASSERT_NE(0, wrong);
	h.stale = makedev(major(self->rdev), wrong);
	assert_helper(_metadata, &h);
}

TEST_F(container, helper_remove_deletes_the_boot_id_node)
{
	struct helper_case h = { .self = self, .then_remove = true };

	assert_helper(_metadata, &h);
}

int main(int argc, char **argv)
{
	if (argc > 1 && !strcmp(argv[1], "client"))
		return client_main(argc - 1, argv + 1);
	return test_harness_run(argc, argv);
}
