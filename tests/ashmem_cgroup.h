/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * cgroup v2 helpers of the tests that put their processes into a memory
 * cgroup (ashmem_memcg_test, ashmem_oracle_test). The guests mount cgroup2
 * at CG_ROOT. Include after ashmem_util.h.
 */
#ifndef ASHMEM_CGROUP_H
#define ASHMEM_CGROUP_H

#include <limits.h>

#define CG_ROOT		"/sys/fs/cgroup"

/* Write @value to @dir/@file: 0 or an errno. */
static inline int cg_write(const char *dir, const char *file, const char *value)
{
	char path[PATH_MAX];
	ssize_t len = strlen(value), n;
	int fd, err = 0;

	snprintf(path, sizeof(path), "%s/%s", dir, file);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return errno;
	n = write(fd, value, len);
	if (n != len)
		err = n < 0 ? errno : EIO;
	close(fd);
	return err;
}

/* A single-number file such as memory.current, or -1. */
static inline long long cg_read_ll(const char *dir, const char *file)
{
	char path[PATH_MAX], buf[64];

	snprintf(path, sizeof(path), "%s/%s", dir, file);
	if (read_text_file(path, buf, sizeof(buf)) <= 0)
		return -1;
	return strtoll(buf, NULL, 10);
}

static inline long long cg_read_key(const char *dir, const char *file, const char *key)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/%s", dir, file);
	return flat_key(path, key);
}

/* A cgroup's memory in bytes, from memory.current and memory.stat; -1 unknown. */
struct cg_memory {
	long long current;
	long long anon;
	long long shmem;
	long long file;
	long long kernel;
};

static inline void cg_memory_read(const char *cg, struct cg_memory *m)
{
	m->current = cg_read_ll(cg, "memory.current");
	m->anon = cg_read_key(cg, "memory.stat", "anon");
	m->shmem = cg_read_key(cg, "memory.stat", "shmem");
	m->file = cg_read_key(cg, "memory.stat", "file");
	m->kernel = cg_read_key(cg, "memory.stat", "kernel");
}

/* Move the calling process into @dir: 0 or an errno. */
static inline int cg_enter(const char *dir)
{
	char pid[32];

	snprintf(pid, sizeof(pid), "%d", (int)getpid());
	return cg_write(dir, "cgroup.procs", pid);
}

/*
 * Remove @dir, first moving back to the root cgroup any task still in it
 * (a worker the test could not wait for). A task that has just exited can
 * keep the cgroup busy for a moment: retry for up to a second.
 */
static inline void cg_destroy(const char *dir)
{
	char path[PATH_MAX], procs[4096], *pid, *save;
	int i;

	snprintf(path, sizeof(path), "%s/cgroup.procs", dir);
	for (i = 0; i < 100; i++) {
		if (read_text_file(path, procs, sizeof(procs)) > 0)
			for (pid = strtok_r(procs, "\n", &save); pid;
			     pid = strtok_r(NULL, "\n", &save))
				cg_write(CG_ROOT, "cgroup.procs", pid);
		if (!rmdir(dir) || errno == ENOENT)
			return;
		if (errno != EBUSY)
			break;
		usleep(10000);
	}
	fprintf(stderr, "# cannot remove cgroup %s: %s\n", dir, errname(errno));
}

/* Does the whitespace-separated @list hold the word @word? */
static inline bool has_word(const char *list, const char *word)
{
	size_t len = strlen(word);
	const char *p = list;

	while ((p = strstr(p, word))) {
		if ((p == list || p[-1] == ' ') &&
		    (p[len] == ' ' || p[len] == '\n' || p[len] == '\0'))
			return true;
		p += len;
	}
	return false;
}

#endif /* ASHMEM_CGROUP_H */
