// SPDX-License-Identifier: GPL-2.0-only
/*
 * ashmem_demo: what /dev/ashmem does, step by step.
 *
 *  1. Create a region: open /dev/ashmem, give it a name and a size.
 *  2. Map it and write a message into it.
 *  3. Hand the region to another process over a unix socket; that process
 *     maps the same memory and reads the message.
 *  4. Unpin the region: tell the kernel it may throw the pages away.
 *  5. Ask the kernel to purge all unpinned memory, as memory pressure
 *     would.
 *  6. Pin the region again: the kernel says it was purged, and the memory
 *     now reads as zeros.
 *
 * Run as root (the purge needs CAP_SYS_ADMIN). Exits 0 when every step
 * behaved as described.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../uapi/linux/ashmem.h"

static const char message[] = "Hello from the parent, through ashmem!";

static int fail(const char *what)
{
	printf("FAILED: %s: %s\n", what, strerror(errno));
	return 1;
}

static int send_fd(int sock, int fd)
{
	char byte = 0;
	struct iovec iov = { .iov_base = &byte, .iov_len = 1 };
	char control[CMSG_SPACE(sizeof(int))] = { 0 };
	struct msghdr msg = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = control, .msg_controllen = sizeof(control),
	};
	struct cmsghdr *cmsg = CMSG_FIRSTHDR(&msg);

	cmsg->cmsg_level = SOL_SOCKET;
	cmsg->cmsg_type = SCM_RIGHTS;
	cmsg->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cmsg), &fd, sizeof(int));
	return sendmsg(sock, &msg, 0) == 1 ? 0 : -1;
}

static int recv_fd(int sock)
{
	char byte;
	struct iovec iov = { .iov_base = &byte, .iov_len = 1 };
	char control[CMSG_SPACE(sizeof(int))] = { 0 };
	struct msghdr msg = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = control, .msg_controllen = sizeof(control),
	};
	struct cmsghdr *cmsg;
	int fd;

	if (recvmsg(sock, &msg, 0) != 1)
		return -1;
	cmsg = CMSG_FIRSTHDR(&msg);
	if (!cmsg || cmsg->cmsg_type != SCM_RIGHTS)
		return -1;
	memcpy(&fd, CMSG_DATA(cmsg), sizeof(int));
	return fd;
}

/* The other process: it gets the region only through the socket. */
static int reader(int sock)
{
	int fd = recv_fd(sock);
	char name[ASHMEM_NAME_LEN];
	int size;
	char *p;

	if (fd < 0)
		return fail("child: receive the region");
	size = ioctl(fd, ASHMEM_GET_SIZE, 0);
	if (ioctl(fd, ASHMEM_GET_NAME, name) < 0)
		return fail("child: ASHMEM_GET_NAME");
	printf("   child: received region \"%s\" of %d bytes over the socket\n",
	       name, size);
	p = mmap(NULL, size, PROT_READ, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		return fail("child: mmap");
	printf("   child: it reads: \"%s\"\n", p);
	return strcmp(p, message) ? 1 : 0;
}

int main(void)
{
	size_t size = 4 * sysconf(_SC_PAGESIZE);
	struct ashmem_pin all = { 0, 0 };	/* len 0: the whole region */
	char name[ASHMEM_NAME_LEN] = "demo-region";
	int fd, sv[2], status, ret;
	size_t i;
	pid_t pid;
	char *p;

	setvbuf(stdout, NULL, _IONBF, 0);

	printf("1. Create a region: open /dev/ashmem, name it, size it.\n");
	fd = open("/dev/ashmem", O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return fail("open /dev/ashmem (is ashmem_linux loaded?)");
	if (ioctl(fd, ASHMEM_SET_NAME, name) < 0)
		return fail("ASHMEM_SET_NAME");
	if (ioctl(fd, ASHMEM_SET_SIZE, size) < 0)
		return fail("ASHMEM_SET_SIZE");
	printf("   region \"demo-region\", %zu bytes\n", size);

	printf("2. Map it and write a message into it.\n");
	p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		return fail("mmap");
	strcpy(p, message);
	printf("   wrote: \"%s\"\n", p);

	printf("3. Send the region to a child process over a unix socket.\n");
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv))
		return fail("socketpair");
	pid = fork();
	if (pid < 0)
		return fail("fork");
	if (pid == 0) {
		close(sv[0]);
		close(fd);	/* the child gets the region only from the socket */
		_exit(reader(sv[1]));
	}
	close(sv[1]);
	if (send_fd(sv[0], fd))
		return fail("send the region");
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
	    WEXITSTATUS(status)) {
		printf("FAILED: the child did not read the message\n");
		return 1;
	}
	printf("   the child saw the same memory.\n");

	printf("4. Unpin the region: the kernel may now discard its pages.\n");
	if (ioctl(fd, ASHMEM_UNPIN, &all) < 0)
		return fail("ASHMEM_UNPIN");
	ret = ioctl(fd, ASHMEM_GET_PIN_STATUS, &all);
	printf("   pin status: %s\n",
	       ret == ASHMEM_IS_UNPINNED ? "unpinned" : "pinned (unexpected)");

	printf("5. Purge all unpinned memory, as memory pressure would.\n");
	ret = ioctl(fd, ASHMEM_PURGE_ALL_CACHES, 0);
	if (ret < 0)
		return fail("ASHMEM_PURGE_ALL_CACHES (needs root)");
	printf("   the kernel had %d unpinned pages to purge\n", ret);

	printf("6. Pin the region again before using it.\n");
	ret = ioctl(fd, ASHMEM_PIN, &all);
	if (ret < 0)
		return fail("ASHMEM_PIN");
	printf("   ASHMEM_PIN says: %s\n", ret == ASHMEM_WAS_PURGED ?
	       "ASHMEM_WAS_PURGED, the contents are gone" :
	       "ASHMEM_NOT_PURGED (unexpected)");
	for (i = 0; i < size && !p[i]; i++)
		;
	printf("   the memory now starts with %02x %02x %02x %02x ...: %s\n",
	       (unsigned char)p[0], (unsigned char)p[1], (unsigned char)p[2],
	       (unsigned char)p[3],
	       i == size ? "all zeros, the message is gone" :
	       "not all zeros (unexpected)");
	if (ret != ASHMEM_WAS_PURGED || i != size) {
		printf("FAILED: the region was not purged\n");
		return 1;
	}

	printf("Done: shared, unpinned, purged, and told so on the next pin.\n");
	munmap(p, size);
	close(fd);
	return 0;
}
