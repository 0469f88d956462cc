// SPDX-License-Identifier: GPL-2.0-only
/*
 * ashmem-stat: where the ashmem memory went.
 *
 * Joins the driver's per-region listing (debugfs ashmem/regions) with each
 * process's /proc/PID/fdinfo (who holds a region open) and /proc/PID/smaps
 * (who maps it, and how much of it is resident), then prints tables per
 * region and per process, a leak view, a refreshing view, or JSON.
 *
 * The listing gives each region an id, which fdinfo repeats for every open
 * fd ("ashmem_id:"), and the inode of its backing shmem file, which smaps
 * shows for every mapping. A mapping outlives the region's last fd, and
 * such a region has left the listing: its mappings are still shown, as a
 * "closed" region known by its inode only.
 *
 * Processes come and go while /proc is read: a file that vanishes (ENOENT,
 * ESRCH) only means that process is gone, and it is left out.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <linux/magic.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <time.h>
#include <unistd.h>

#define DEBUGFS_DIR	"/sys/kernel/debug"
#define CGROUP_DIR	"/sys/fs/cgroup"
#define MODULE_DIR	"/sys/module/ashmem_linux"
#define ASHMEM_DEV	"/dev/ashmem"
/* smaps paths of mappings: "/dev/ashmem/<name>", "/dev/ashmem" if unnamed. */
#define MAP_PREFIX	"/dev/ashmem"

/* Holders and mappers listed in a table cell before "+N more". */
#define PID_LIST_MAX	4

#define NONE		SIZE_MAX

#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))

/* Exit codes: --help and tools/README.md list them too. */
enum {
	EXIT_FAIL = 1,		/* I/O error, unreadable listing */
	EXIT_USAGE = 2,
	EXIT_NOMODULE = 3,	/* ashmem_linux is not loaded */
	EXIT_NODEBUGFS = 4,	/* debugfs not mounted, or no ashmem/ in it */
	EXIT_NOPERM = 5,	/* not root */
};

enum sort_key { SORT_SIZE, SORT_RSS, SORT_PSS, SORT_ID, SORT_NAME };

static struct {
	const char *debugfs;
	bool json, leaks, bytes, verbose;
	double watch;		/* seconds between refreshes; 0: once */
	long count;		/* refreshes; 0: until interrupted */
	int pid;		/* show only what this process holds or maps */
	enum sort_key sort;
} opt = { .debugfs = DEBUGFS_DIR };

static const char *prog = "ashmem-stat";
static uint64_t page_bytes;
static dev_t ashmem_rdev;

/* ================================================================ basics */

static void __attribute__((noreturn, format(printf, 2, 3)))
die(int code, const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	fprintf(stderr, "%s: ", prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(code);
}

static void __attribute__((format(printf, 1, 2))) warn(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: warning: ", prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static void *xrealloc(void *p, size_t size)
{
	p = realloc(p, size ? size : 1);
	if (!p)
		die(EXIT_FAIL, "out of memory");
	return p;
}

static void *xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size);

	if (!p)
		die(EXIT_FAIL, "out of memory");
	return p;
}

static char *xstrdup(const char *s)
{
	char *d = strdup(s);

	if (!d)
		die(EXIT_FAIL, "out of memory");
	return d;
}

static char *__attribute__((format(printf, 1, 2))) xasprintf(const char *fmt, ...)
{
	va_list ap;
	char *s;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (n < 0)
		die(EXIT_FAIL, "out of memory");
	return s;
}

/* Room for element @n of an array of @size-byte elements. */
static void *grow(void *arr, size_t *cap, size_t n, size_t size)
{
	if (n < *cap)
		return arr;
	*cap = *cap ? 2 * *cap : 64;
	return xrealloc(arr, *cap * size);
}

/* A decimal u64 and nothing else. */
static bool parse_u64(const char *s, uint64_t *v)
{
	char *end;

	if (*s < '0' || *s > '9')
		return false;
	errno = 0;
	*v = strtoull(s, &end, 10);
	return !errno && !*end;
}

static bool parse_pid(const char *s, int *pid)
{
	uint64_t v;

	if (!parse_u64(s, &v) || !v || v > INT_MAX)
		return false;
	*pid = (int)v;
	return true;
}

/* A small /proc or debugfs file into @buf, NUL-terminated; false if gone. */
static bool read_small(const char *path, char *buf, size_t size)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	size_t len = 0;
	ssize_t n;

	if (fd < 0)
		return false;
	while (len < size - 1) {
		n = read(fd, buf + len, size - 1 - len);
		if (n <= 0)
			break;
		len += n;
	}
	close(fd);
	buf[len] = '\0';
	return len > 0;
}

/*
 * Undo seq_escape(): the listing writes space, tab, newline and backslash
 * in comm and name as a backslash and three octal digits.
 */
static char *unescape(const char *s)
{
	char *out = xrealloc(NULL, strlen(s) + 1), *d = out;

	while (*s) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' &&
		    s[2] >= '0' && s[2] <= '7' && s[3] >= '0' && s[3] <= '7') {
			*d++ = (char)((s[1] - '0') << 6 | (s[2] - '0') << 3 |
				      (s[3] - '0'));
			s += 4;
		} else {
			*d++ = *s++;
		}
	}
	*d = '\0';
	return out;
}

/*
 * A name for a terminal: control characters as \ooo, so that a name with a
 * newline cannot forge a line of the table. Spaces stay spaces.
 */
static char *printable(const char *s)
{
	char *out = xrealloc(NULL, 4 * strlen(s) + 1), *d = out;
	const unsigned char *p;

	for (p = (const unsigned char *)s; *p; p++) {
		if (*p < 0x20 || *p == 0x7f)
			d += sprintf(d, "\\%03o", *p);
		else
			*d++ = (char)*p;
	}
	*d = '\0';
	return out;
}

/*
 * @bytes for people: "0", "512B", "16K", "1.5M", "12M". Whole multiples
 * print without a fraction; --bytes prints every byte.
 */
static char *human(uint64_t bytes)
{
	static const char units[] = "KMGTPE";
	uint64_t div = 1024;
	int u = 0;

	if (opt.bytes)
		return xasprintf("%" PRIu64, bytes);
	if (!bytes)
		return xstrdup("0");
	if (bytes < 1024)
		return xasprintf("%" PRIu64 "B", bytes);
	while (u < 5 && bytes / div >= 1024) {
		div *= 1024;
		u++;
	}
	if (bytes % div == 0)
		return xasprintf("%" PRIu64 "%c", bytes / div, units[u]);
	if (bytes / div < 10)
		return xasprintf("%.1f%c", (double)bytes / div, units[u]);
	return xasprintf("%.0f%c", (double)bytes / div, units[u]);
}

/* ======================================================== u64 -> index map */

/* Open addressing; ids and inodes can be any u64, so NONE marks a free slot. */
struct u64map {
	uint64_t *keys;
	size_t *vals;
	size_t cap, n;
};

static size_t hash64(uint64_t k)
{
	k ^= k >> 33;
	k *= 0xff51afd7ed558ccdULL;
	k ^= k >> 33;
	return (size_t)k;
}

static size_t map_get(const struct u64map *m, uint64_t key)
{
	size_t i;

	if (!m->cap)
		return NONE;
	for (i = hash64(key) & (m->cap - 1); m->vals[i] != NONE;
	     i = (i + 1) & (m->cap - 1))
		if (m->keys[i] == key)
			return m->vals[i];
	return NONE;
}

static void map_put(struct u64map *m, uint64_t key, size_t val);

static void map_rehash(struct u64map *m)
{
	struct u64map old = *m;
	size_t i;

	m->cap = old.cap ? 2 * old.cap : 256;
	m->n = 0;
	m->keys = xcalloc(m->cap, sizeof(*m->keys));
	m->vals = xcalloc(m->cap, sizeof(*m->vals));
	memset(m->vals, 0xff, m->cap * sizeof(*m->vals));
	for (i = 0; i < old.cap; i++)
		if (old.vals[i] != NONE)
			map_put(m, old.keys[i], old.vals[i]);
	free(old.keys);
	free(old.vals);
}

static void map_put(struct u64map *m, uint64_t key, size_t val)
{
	size_t i;

	if (2 * (m->n + 1) > m->cap)
		map_rehash(m);
	for (i = hash64(key) & (m->cap - 1); m->vals[i] != NONE;
	     i = (i + 1) & (m->cap - 1))
		if (m->keys[i] == key)
			break;
	if (m->vals[i] == NONE)
		m->n++;
	m->keys[i] = key;
	m->vals[i] = val;
}

static void map_free(struct u64map *m)
{
	free(m->keys);
	free(m->vals);
	memset(m, 0, sizeof(*m));
}

/* ============================================================= snapshot */

struct kv {
	char *key;
	uint64_t val;
};

struct region {
	bool listed;		/* false: closed, seen only as mappings */
	uint64_t id, ino, size, unpinned_pages, purged_pages, purges, cgroup;
	int creator;
	char *creator_comm;
	char *name;		/* NULL when unnamed */
	/* From the /proc scan, summed over its links. */
	uint64_t vss, rss, pss, uss, swap;
	unsigned int holders, mappers, fds;
	size_t link0, nlinks;	/* its links, after aggregate() sorts them */
	size_t cur_proc, cur_link; /* join state while one process is read */
};

struct proc {
	int pid;
	char *comm;
	unsigned int fds, open, mapped;	/* ashmem fds, regions open, mapped */
	uint64_t vss, rss, pss, uss, swap;
};

/* One process's hold on one region: its fds and its mappings. */
struct link {
	size_t region, proc;
	int pid;
	unsigned int fds, vmas;
	uint64_t vss, rss, pss, uss, swap;
};

struct snapshot {
	time_t when;
	struct kv *stats;
	size_t nstats, stats_cap;
	struct region *regions;
	size_t nregions, regions_cap;
	struct proc *procs;
	size_t nprocs, procs_cap;
	struct link *links;
	size_t nlinks, links_cap;
	struct u64map by_id, by_ino;
	unsigned long lost_fds;	/* ashmem fds of regions not in the listing */
};

static void free_snapshot(struct snapshot *s)
{
	size_t i;

	if (!s)
		return;
	for (i = 0; i < s->nstats; i++)
		free(s->stats[i].key);
	for (i = 0; i < s->nregions; i++) {
		free(s->regions[i].creator_comm);
		free(s->regions[i].name);
	}
	for (i = 0; i < s->nprocs; i++)
		free(s->procs[i].comm);
	free(s->stats);
	free(s->regions);
	free(s->procs);
	free(s->links);
	map_free(&s->by_id);
	map_free(&s->by_ino);
	free(s);
}

static bool get_stat(const struct snapshot *s, const char *key, uint64_t *v)
{
	size_t i;

	for (i = 0; s && i < s->nstats; i++) {
		if (!strcmp(s->stats[i].key, key)) {
			*v = s->stats[i].val;
			return true;
		}
	}
	return false;
}

static struct region *new_region(struct snapshot *s)
{
	struct region *r;

	s->regions = grow(s->regions, &s->regions_cap, s->nregions,
			  sizeof(*s->regions));
	r = &s->regions[s->nregions++];
	memset(r, 0, sizeof(*r));
	r->cur_proc = NONE;
	return r;
}

/* ============================================================== debugfs */

/* "key value" lines; keys this version does not know are kept for --json. */
static void read_stats(struct snapshot *s, const char *path)
{
	char *line = NULL, *val;
	size_t cap = 0;
	uint64_t v;
	FILE *f;

	f = fopen(path, "re");
	if (!f)
		die(EXIT_FAIL, "%s: %s", path, strerror(errno));
	while (getline(&line, &cap, f) > 0) {
		line[strcspn(line, "\n")] = '\0';
		val = strchr(line, ' ');
		if (!val)
			continue;
		*val++ = '\0';
		if (!parse_u64(val, &v))
			continue;
		s->stats = grow(s->stats, &s->stats_cap, s->nstats,
				sizeof(*s->stats));
		s->stats[s->nstats].key = xstrdup(line);
		s->stats[s->nstats++].val = v;
	}
	free(line);
	fclose(f);
}

enum col {
	C_ID, C_INO, C_SIZE, C_UNPINNED, C_PURGED, C_PURGES, C_PID, C_COMM,
	C_CGROUP, C_NAME, NCOLS
};

static const char *const col_names[NCOLS] = {
	"id", "ino", "size", "unpinned_pages", "purged_pages", "purges",
	"pid", "comm", "cgroup", "name",
};

/* Split @line on spaces in place; escaped fields hold none. */
static size_t split(char *line, char ***tok, size_t *cap)
{
	char *save = NULL, *t;
	size_t n = 0;

	for (t = strtok_r(line, " \n", &save); t;
	     t = strtok_r(NULL, " \n", &save)) {
		*tok = grow(*tok, cap, n, sizeof(**tok));
		(*tok)[n++] = t;
	}
	return n;
}

/*
 * The header ("# id ino ...") says where each column is, so the driver may
 * add columns; the ones this tool uses must all be there.
 */
static size_t parse_header(char *line, int *col, const char *path)
{
	char **tok = NULL;
	size_t cap = 0, n, i;
	int c;

	if (strncmp(line, "# ", 2))
		die(EXIT_FAIL, "%s: the first line is not a \"# \" header", path);
	n = split(line + 2, &tok, &cap);
	for (c = 0; c < NCOLS; c++) {
		col[c] = -1;
		for (i = 0; i < n; i++)
			if (!strcmp(tok[i], col_names[c]))
				col[c] = (int)i;
		if (col[c] < 0)
			die(EXIT_FAIL, "%s: no column \"%s\" in the header: this ashmem-stat does not match the driver",
			    path, col_names[c]);
	}
	free(tok);
	return n;
}

static bool parse_region(struct snapshot *s, char **tok, const int *col)
{
	struct region *r = new_region(s);
	uint64_t pid;

	if (!parse_u64(tok[col[C_ID]], &r->id) ||
	    !parse_u64(tok[col[C_INO]], &r->ino) ||
	    !parse_u64(tok[col[C_SIZE]], &r->size) ||
	    !parse_u64(tok[col[C_UNPINNED]], &r->unpinned_pages) ||
	    !parse_u64(tok[col[C_PURGED]], &r->purged_pages) ||
	    !parse_u64(tok[col[C_PURGES]], &r->purges) ||
	    !parse_u64(tok[col[C_PID]], &pid) || pid > INT_MAX ||
	    !parse_u64(tok[col[C_CGROUP]], &r->cgroup)) {
		s->nregions--;
		return false;
	}
	r->listed = true;
	r->creator = (int)pid;
	r->creator_comm = unescape(tok[col[C_COMM]]);
	if (strcmp(tok[col[C_NAME]], "-"))
		r->name = unescape(tok[col[C_NAME]]);
	map_put(&s->by_id, r->id, s->nregions - 1);
	if (r->ino)
		map_put(&s->by_ino, r->ino, s->nregions - 1);
	return true;
}

static void read_regions(struct snapshot *s, const char *path)
{
	char *line = NULL, **tok = NULL;
	size_t cap = 0, tcap = 0, ncols = 0, n;
	unsigned long bad = 0;
	int col[NCOLS];
	FILE *f;

	f = fopen(path, "re");
	if (!f)
		die(errno == EACCES ? EXIT_NOPERM : EXIT_FAIL, "%s: %s", path,
		    strerror(errno));
	while (getline(&line, &cap, f) > 0) {
		if (!ncols) {
			ncols = parse_header(line, col, path);
			continue;
		}
		n = split(line, &tok, &tcap);
		if (n < ncols || !parse_region(s, tok, col))
			bad++;
	}
	if (ferror(f))
		die(EXIT_FAIL, "%s: %s", path, strerror(errno));
	if (!ncols)
		die(EXIT_FAIL, "%s: empty, not even a header", path);
	if (bad)
		warn("%s: %lu line%s not understood, left out", path, bad,
		     bad == 1 ? "" : "s");
	free(tok);
	free(line);
	fclose(f);
}

/* ============================================================ /proc scan */

static size_t get_proc(struct snapshot *s, int pid)
{
	char path[64], comm[64];
	struct proc *p;

	s->procs = grow(s->procs, &s->procs_cap, s->nprocs, sizeof(*s->procs));
	p = &s->procs[s->nprocs];
	memset(p, 0, sizeof(*p));
	p->pid = pid;
	snprintf(path, sizeof(path), "/proc/%d/comm", pid);
	if (read_small(path, comm, sizeof(comm)))
		comm[strcspn(comm, "\n")] = '\0';
	else
		snprintf(comm, sizeof(comm), "?");
	p->comm = xstrdup(comm);
	return s->nprocs++;
}

/* The link of the process being read (@*pi, created on demand) to @ri. */
static struct link *join(struct snapshot *s, size_t ri, int pid, size_t *pi)
{
	struct region *r = &s->regions[ri];
	struct link *l;

	if (*pi == NONE)
		*pi = get_proc(s, pid);
	if (r->cur_proc == *pi)
		return &s->links[r->cur_link];
	s->links = grow(s->links, &s->links_cap, s->nlinks, sizeof(*s->links));
	l = &s->links[s->nlinks];
	memset(l, 0, sizeof(*l));
	l->region = ri;
	l->proc = *pi;
	l->pid = pid;
	r->cur_proc = *pi;
	r->cur_link = s->nlinks++;
	return l;
}

/*
 * The value of the first "@key:\t" line of fdinfo text @buf. The first:
 * the driver prints ashmem_id and inode before the name, whose newlines
 * it does not escape, so a name cannot forge them.
 */
static bool fdinfo_u64(const char *buf, const char *key, uint64_t *v)
{
	size_t klen = strlen(key), len;
	const char *line;
	char num[32];

	for (line = buf; *line; line += len + (line[len] == '\n')) {
		len = strcspn(line, "\n");
		if (strncmp(line, key, klen) || line[klen] != ':' ||
		    line[klen + 1] != '\t')
			continue;
		snprintf(num, sizeof(num), "%.*s", (int)(len - klen - 2),
			 line + klen + 2);
		return parse_u64(num, v);
	}
	return false;
}

/*
 * Is @fd of process @pid an ashmem region, and which (@*ri, NONE if it is
 * not in the listing)? fdinfo's ashmem_id names it; without that line (an
 * older driver) the backing inode still does once the region is mapped.
 */
static bool fd_region(const struct snapshot *s, int pid, int dfd,
		      const char *fd, size_t *ri)
{
	char path[PATH_MAX], buf[4096];
	struct stat st;
	uint64_t v;

	*ri = NONE;
	snprintf(path, sizeof(path), "/proc/%d/fdinfo/%s", pid, fd);
	if (!read_small(path, buf, sizeof(buf)))
		return false;
	if (fdinfo_u64(buf, "ashmem_id", &v)) {
		*ri = map_get(&s->by_id, v);
		return true;
	}
	if (fstatat(dfd, fd, &st, 0) || !S_ISCHR(st.st_mode) ||
	    st.st_rdev != ashmem_rdev)
		return false;
	if (fdinfo_u64(buf, "inode", &v))
		*ri = map_get(&s->by_ino, v);
	return true;
}

/*
 * Only fds whose target is named ashmem* are looked at: /dev/ashmem and
 * /dev/ashmem<boot_id>. Nothing else is stat()ed, so a hung FUSE mount
 * behind some other fd cannot hang the scan.
 */
static bool is_ashmem_link(const char *link)
{
	const char *base = strrchr(link, '/');

	return link[0] == '/' && base && !strncmp(base + 1, "ashmem", 6);
}

static void scan_fds(struct snapshot *s, int pid, size_t *pi)
{
	char path[64], target[PATH_MAX];
	struct dirent *de;
	size_t ri;
	ssize_t n;
	int dfd;
	DIR *d;

	snprintf(path, sizeof(path), "/proc/%d/fd", pid);
	dfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return;		/* gone */
	d = fdopendir(dfd);
	if (!d) {
		close(dfd);
		return;
	}
	while ((de = readdir(d))) {
		if (de->d_name[0] < '0' || de->d_name[0] > '9')
			continue;
		n = readlinkat(dfd, de->d_name, target, sizeof(target) - 1);
		if (n < 0)
			continue;
		target[n] = '\0';
		if (!is_ashmem_link(target))
			continue;
		if (!fd_region(s, pid, dfd, de->d_name, &ri))
			continue;
		if (ri == NONE)
			s->lost_fds++;	/* opened after the listing was read */
		else
			join(s, ri, pid, pi)->fds++;
	}
	closedir(d);
}

struct vma {
	uint64_t start, end, ino;
	const char *path;
};

/* "start-end perms offset dev inode path" */
static bool parse_vma(char *line, struct vma *v)
{
	unsigned int maj, min;
	char perms[8];
	uint64_t off;
	int pos = 0;

	if (sscanf(line, "%" SCNx64 "-%" SCNx64 " %7s %" SCNx64 " %x:%x %" SCNu64 " %n",
		   &v->start, &v->end, perms, &off, &maj, &min, &v->ino, &pos) < 7 ||
	    !pos)
		return false;
	line[strcspn(line, "\n")] = '\0';
	v->path = line + pos;
	return true;
}

static bool is_ashmem_map(const struct vma *v)
{
	size_t len = strlen(MAP_PREFIX);

	return v->ino && !strncmp(v->path, MAP_PREFIX, len) &&
	       (!v->path[len] || v->path[len] == '/' || v->path[len] == ' ');
}

/* A region known only by a mapping: its name is the path's. */
static size_t closed_region(struct snapshot *s, const struct vma *v)
{
	const char *name = v->path + strlen(MAP_PREFIX);
	struct region *r = new_region(s);
	char *end;

	r->ino = v->ino;
	if (*name == '/') {
		r->name = unescape(name + 1);
		end = strstr(r->name, " (deleted)");
		if (end && !end[strlen(" (deleted)")])
			*end = '\0';
	}
	map_put(&s->by_ino, r->ino, s->nregions - 1);
	return s->nregions - 1;
}

/* Does /proc/PID/maps show any ashmem mapping? Much cheaper than smaps. */
static bool maps_ashmem(int pid)
{
	char path[64], *line = NULL;
	bool found = false;
	size_t cap = 0;
	struct vma v;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/maps", pid);
	f = fopen(path, "re");
	if (!f)
		return false;
	while (!found && getline(&line, &cap, f) > 0)
		found = parse_vma(line, &v) && is_ashmem_map(&v);
	free(line);
	fclose(f);
	return found;
}

/* One "Key:   N kB" line of smaps, added to the link of the mapping. */
static void smaps_field(struct link *l, const char *line)
{
	unsigned long long kb;
	uint64_t bytes;
	char key[32];

	if (sscanf(line, "%31s %llu kB", key, &kb) != 2)
		return;
	bytes = (uint64_t)kb * 1024;
	if (!strcmp(key, "Rss:"))
		l->rss += bytes;
	else if (!strcmp(key, "Pss:"))
		l->pss += bytes;
	else if (!strcmp(key, "Private_Clean:") || !strcmp(key, "Private_Dirty:"))
		l->uss += bytes;
	else if (!strcmp(key, "Swap:"))
		l->swap += bytes;
}

static bool is_smaps_field(const char *line)
{
	size_t n = strcspn(line, " \t");

	return n > 1 && line[n - 1] == ':';
}

static void scan_maps(struct snapshot *s, int pid, size_t *pi)
{
	char path[64], *line = NULL;
	size_t cap = 0, ri, li = NONE;
	struct vma v;
	FILE *f;

	if (!maps_ashmem(pid))
		return;
	snprintf(path, sizeof(path), "/proc/%d/smaps", pid);
	f = fopen(path, "re");
	if (!f)
		return;
	while (getline(&line, &cap, f) > 0) {
		if (is_smaps_field(line)) {
			if (li != NONE)
				smaps_field(&s->links[li], line);
			continue;
		}
		li = NONE;
		if (!parse_vma(line, &v) || !is_ashmem_map(&v))
			continue;
		ri = map_get(&s->by_ino, v.ino);
		if (ri == NONE)
			ri = closed_region(s, &v);
		li = join(s, ri, pid, pi) - s->links;
		s->links[li].vmas++;
		s->links[li].vss += v.end - v.start;
	}
	free(line);
	fclose(f);
}

static void scan_procs(struct snapshot *s)
{
	struct dirent *de;
	size_t pi;
	DIR *d;
	int pid;

	d = opendir("/proc");
	if (!d)
		die(EXIT_FAIL, "/proc: %s", strerror(errno));
	while ((de = readdir(d))) {
		if (!parse_pid(de->d_name, &pid))
			continue;
		pi = NONE;
		scan_fds(s, pid, &pi);
		scan_maps(s, pid, &pi);
	}
	closedir(d);
}

static int cmp_link(const void *a, const void *b)
{
	const struct link *x = a, *y = b;

	if (x->region != y->region)
		return x->region < y->region ? -1 : 1;
	return (x->pid > y->pid) - (x->pid < y->pid);
}

/* Sum the links into their regions and processes. */
static void aggregate(struct snapshot *s)
{
	struct region *r;
	struct proc *p;
	struct link *l;
	size_t i;

	qsort(s->links, s->nlinks, sizeof(*s->links), cmp_link);
	for (i = 0; i < s->nlinks; i++) {
		l = &s->links[i];
		r = &s->regions[l->region];
		p = &s->procs[l->proc];
		if (!r->nlinks++)
			r->link0 = i;
		r->holders += !!l->fds;
		r->mappers += !!l->vmas;
		r->fds += l->fds;
		r->vss += l->vss;
		r->rss += l->rss;
		r->pss += l->pss;
		r->uss += l->uss;
		r->swap += l->swap;
		p->fds += l->fds;
		p->open += !!l->fds;
		p->mapped += !!l->vmas;
		p->vss += l->vss;
		p->rss += l->rss;
		p->pss += l->pss;
		p->uss += l->uss;
		p->swap += l->swap;
	}
}

/* ============================================================== cgroups */

/* cgroup v2 directory inode -> path below CGROUP_DIR, kept across refreshes. */
static struct {
	struct u64map ino;
	char **paths;
	size_t n, cap;
	bool walked_for_miss;
} cg;

static void cg_add(uint64_t ino, const char *path)
{
	if (map_get(&cg.ino, ino) != NONE)
		return;
	cg.paths = grow(cg.paths, &cg.cap, cg.n, sizeof(*cg.paths));
	cg.paths[cg.n] = xstrdup(path);
	map_put(&cg.ino, ino, cg.n++);
}

static void cg_walk(int dfd, char *path, size_t len, int depth)
{
	struct dirent *de;
	struct stat st;
	int sub;
	DIR *d;

	d = fdopendir(dfd);
	if (!d) {
		close(dfd);
		return;
	}
	while ((de = readdir(d))) {
		if (de->d_type != DT_DIR || de->d_name[0] == '.')
			continue;
		if (len + 1 + strlen(de->d_name) >= PATH_MAX || depth > 64)
			continue;
		sub = openat(dfd, de->d_name,
			     O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (sub < 0)
			continue;	/* removed meanwhile */
		if (fstat(sub, &st)) {
			close(sub);
			continue;
		}
		sprintf(path + len, "/%s", de->d_name);
		cg_add(st.st_ino, path);
		cg_walk(sub, path, len + 1 + strlen(de->d_name), depth + 1);
		path[len] = '\0';
	}
	closedir(d);
}

/* cgroup2 where it is mounted alone, or beside v1 (systemd's "hybrid"). */
static int cg_open_root(void)
{
	static const char *const dirs[] = { CGROUP_DIR, CGROUP_DIR "/unified" };
	struct statfs sfs;
	size_t i;
	int dfd;

	for (i = 0; i < ARRAY_SIZE(dirs); i++) {
		dfd = open(dirs[i], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (dfd < 0)
			continue;
		if (!fstatfs(dfd, &sfs) && sfs.f_type == CGROUP2_SUPER_MAGIC)
			return dfd;
		close(dfd);
	}
	return -1;
}

static void cg_scan(void)
{
	char path[PATH_MAX] = "";
	struct stat st;
	int dfd;

	dfd = cg_open_root();
	if (dfd < 0)
		return;
	if (fstat(dfd, &st)) {
		close(dfd);
		return;
	}
	cg_add(st.st_ino, "/");
	cg_walk(dfd, path, 0, 0);
}

/*
 * A path for cgroup inode @ino, or NULL if there is none (removed since,
 * or cgroup2 is not at CGROUP_DIR). The tree is walked again on a miss, at
 * most once per snapshot.
 */
static const char *cg_path(uint64_t ino)
{
	size_t i;

	if (!ino)
		return NULL;
	i = map_get(&cg.ino, ino);
	if (i == NONE && !cg.walked_for_miss) {
		cg.walked_for_miss = true;
		cg_scan();
		i = map_get(&cg.ino, ino);
	}
	return i == NONE ? NULL : cg.paths[i];
}

/* ===================================================== taking a snapshot */

static struct snapshot *take_snapshot(void)
{
	struct snapshot *s = xcalloc(1, sizeof(*s));
	char path[PATH_MAX];

	s->when = time(NULL);
	snprintf(path, sizeof(path), "%s/ashmem/stats", opt.debugfs);
	read_stats(s, path);
	snprintf(path, sizeof(path), "%s/ashmem/regions", opt.debugfs);
	read_regions(s, path);
	scan_procs(s);
	aggregate(s);
	cg.walked_for_miss = false;
	return s;
}

/* ============================================================== queries */

static uint64_t pinned_bytes(const struct region *r)
{
	uint64_t pages = (r->size + page_bytes - 1) / page_bytes;
	uint64_t unpinned = r->unpinned_pages + r->purged_pages;

	return pages > unpinned ? (pages - unpinned) * page_bytes : 0;
}

static const char *region_state(const struct region *r)
{
	if (!r->listed)
		return "closed";
	if (r->mappers)
		return "mapped";
	return r->ino ? "unmapped" : "never-mapped";
}

/* Is @r open or mapped in the process --pid names (or is there no filter)? */
static bool region_shown(const struct snapshot *s, const struct region *r)
{
	size_t i;

	if (!opt.pid)
		return true;
	for (i = r->link0; i < r->link0 + r->nlinks; i++)
		if (s->links[i].pid == opt.pid)
			return true;
	return false;
}

/* The same region in an earlier snapshot, or NULL. */
static const struct region *region_in(const struct snapshot *s,
				      const struct region *r)
{
	size_t i;

	if (!s)
		return NULL;
	if (r->listed) {
		i = map_get(&s->by_id, r->id);
	} else {
		i = map_get(&s->by_ino, r->ino);
		if (i != NONE && s->regions[i].listed)
			i = NONE;
	}
	return i == NONE ? NULL : &s->regions[i];
}

static const struct proc *proc_in(const struct snapshot *s, int pid)
{
	size_t i;

	for (i = 0; s && i < s->nprocs; i++)
		if (s->procs[i].pid == pid)
			return &s->procs[i];
	return NULL;
}

static const struct snapshot *sort_snap;

static int cmp_u64_desc(uint64_t a, uint64_t b)
{
	return (a < b) - (a > b);
}

static int cmp_region(const void *a, const void *b)
{
	const struct region *x = &sort_snap->regions[*(const size_t *)a];
	const struct region *y = &sort_snap->regions[*(const size_t *)b];
	int c = 0;

	switch (opt.sort) {
	case SORT_SIZE:
		c = cmp_u64_desc(x->size, y->size);
		break;
	case SORT_RSS:
		c = cmp_u64_desc(x->rss, y->rss);
		break;
	case SORT_PSS:
		c = cmp_u64_desc(x->pss, y->pss);
		break;
	case SORT_NAME:
		c = strcmp(x->name ?: "", y->name ?: "");
		break;
	case SORT_ID:
		break;
	}
	if (!c)
		c = (x->listed < y->listed) - (x->listed > y->listed);
	if (!c)
		c = (x->id > y->id) - (x->id < y->id);
	if (!c)
		c = (x->ino > y->ino) - (x->ino < y->ino);
	return c;
}

/* Indices of the regions to show, sorted as --sort says. */
static size_t *sorted_regions(const struct snapshot *s, size_t *n)
{
	size_t *idx = xcalloc(s->nregions, sizeof(*idx)), i;

	*n = 0;
	for (i = 0; i < s->nregions; i++)
		if (region_shown(s, &s->regions[i]))
			idx[(*n)++] = i;
	sort_snap = s;
	qsort(idx, *n, sizeof(*idx), cmp_region);
	return idx;
}

static int cmp_proc(const void *a, const void *b)
{
	const struct proc *x = &sort_snap->procs[*(const size_t *)a];
	const struct proc *y = &sort_snap->procs[*(const size_t *)b];
	int c = cmp_u64_desc(x->pss, y->pss);

	if (!c)
		c = cmp_u64_desc(x->rss, y->rss);
	if (!c)
		c = (x->pid > y->pid) - (x->pid < y->pid);
	return c;
}

/* Processes by Pss, largest first, as procrank orders them. */
static size_t *sorted_procs(const struct snapshot *s, size_t *n)
{
	size_t *idx = xcalloc(s->nprocs, sizeof(*idx)), i;

	*n = 0;
	for (i = 0; i < s->nprocs; i++)
		if (!opt.pid || s->procs[i].pid == opt.pid)
			idx[(*n)++] = i;
	sort_snap = s;
	qsort(idx, *n, sizeof(*idx), cmp_proc);
	return idx;
}

/* ================================================================ tables */

/*
 * Columns two spaces apart, numbers right-aligned; the last column is not
 * padded, so a name with spaces can end a row. A row may carry detail lines.
 */
struct table {
	size_t ncols, ncells, cap;
	const char *const *heads;
	const char *align;	/* 'l' or 'r' per column */
	char **cells;
	char **notes;		/* per row */
};

static void table_init(struct table *t, const char *const *heads,
		       const char *align)
{
	memset(t, 0, sizeof(*t));
	t->heads = heads;
	t->align = align;
	t->ncols = strlen(align);
}

/* Append a cell; takes @cell, which must come from malloc. */
static void table_put(struct table *t, char *cell)
{
	size_t row = t->ncells / t->ncols;

	if (t->ncells % t->ncols == 0) {
		t->notes = xrealloc(t->notes, (row + 1) * sizeof(*t->notes));
		t->notes[row] = NULL;
	}
	t->cells = grow(t->cells, &t->cap, t->ncells, sizeof(*t->cells));
	t->cells[t->ncells++] = cell;
}

static void table_note(struct table *t, char *note)
{
	size_t row = (t->ncells - 1) / t->ncols;
	char *old = t->notes[row];

	t->notes[row] = old ? xasprintf("%s\n%s", old, note) : note;
	if (old) {
		free(old);
		free(note);
	}
}

static void print_cell(const struct table *t, size_t c, const char *s,
		       const size_t *w)
{
	if (c)
		fputs("  ", stdout);
	if (c == t->ncols - 1)
		fputs(s, stdout);
	else if (t->align[c] == 'r')
		printf("%*s", (int)w[c], s);
	else
		printf("%-*s", (int)w[c], s);
}

static void table_free(struct table *t)
{
	size_t i;

	for (i = 0; i < t->ncells; i++)
		free(t->cells[i]);
	for (i = 0; i < (t->ncells + t->ncols - 1) / t->ncols; i++)
		free(t->notes[i]);
	free(t->cells);
	free(t->notes);
}

static void table_print(struct table *t)
{
	size_t *w = xcalloc(t->ncols, sizeof(*w)), i, c;

	for (c = 0; c < t->ncols; c++)
		w[c] = strlen(t->heads[c]);
	for (i = 0; i < t->ncells; i++)
		if (strlen(t->cells[i]) > w[i % t->ncols])
			w[i % t->ncols] = strlen(t->cells[i]);
	for (c = 0; c < t->ncols; c++)
		print_cell(t, c, t->heads[c], w);
	putchar('\n');
	for (i = 0; i < t->ncells; i++) {
		print_cell(t, i % t->ncols, t->cells[i], w);
		if (i % t->ncols == t->ncols - 1) {
			putchar('\n');
			if (t->notes[i / t->ncols])
				printf("%s\n", t->notes[i / t->ncols]);
		}
	}
	free(w);
}

/* ========================================================= human output */

/* "812,813,+3": the holders (or mappers) of @r, by pid. */
static char *pid_list(const struct snapshot *s, const struct region *r,
		      bool mappers)
{
	unsigned int total = mappers ? r->mappers : r->holders, shown = 0;
	char *out = xstrdup(""), *next;
	const struct link *l;
	size_t i;

	if (!total)
		return xstrdup(r->listed || mappers ? "-" : "closed");
	for (i = r->link0; i < r->link0 + r->nlinks; i++) {
		l = &s->links[i];
		if (!(mappers ? l->vmas : l->fds))
			continue;
		if (shown == PID_LIST_MAX) {
			next = xasprintf("%s,+%u", out, total - shown);
			free(out);
			return next;
		}
		next = xasprintf("%s%s%d", out, shown ? "," : "", l->pid);
		free(out);
		out = next;
		shown++;
	}
	return out;
}

static char *region_name(const struct region *r)
{
	return r->name ? printable(r->name) : xstrdup("-");
}

static char *size_or_dash(const struct region *r, uint64_t bytes)
{
	return r->listed ? human(bytes) : xstrdup("-");
}

/* --verbose: who created it, and each holder and mapper by name. */
static void region_notes(struct table *t, const struct snapshot *s,
			 const struct region *r)
{
	const struct link *l;
	const char *cgp;
	char *comm, *a, *b, *c;
	size_t i;

	if (r->listed) {
		comm = printable(r->creator_comm);
		cgp = cg_path(r->cgroup);
		if (!cgp)
			cgp = r->cgroup ? "unknown" : "-";
		table_note(t, xasprintf("    created by %d (%s), cgroup %s, backing inode %" PRIu64,
					r->creator, comm, cgp, r->ino));
		free(comm);
	} else {
		table_note(t, xasprintf("    closed: no fd is open, backing inode %" PRIu64,
					r->ino));
	}
	for (i = r->link0; i < r->link0 + r->nlinks; i++) {
		l = &s->links[i];
		comm = printable(s->procs[l->proc].comm);
		if (l->fds)
			table_note(t, xasprintf("    open by %d (%s): %u fd%s",
						l->pid, comm, l->fds,
						l->fds == 1 ? "" : "s"));
		if (l->vmas) {
			a = human(l->vss);
			b = human(l->rss);
			c = human(l->pss);
			table_note(t, xasprintf("    mapped by %d (%s): %s in %u mapping%s, Rss %s, Pss %s",
						l->pid, comm, a, l->vmas,
						l->vmas == 1 ? "" : "s", b, c));
			free(a);
			free(b);
			free(c);
		}
		free(comm);
	}
}

/* "+4K", "-8K", "0", or "new" against the previous refresh. */
static char *rss_change(const struct region *r, const struct snapshot *prev)
{
	const struct region *old = region_in(prev, r);
	char *h, *out;

	if (!old)
		return xstrdup("new");
	if (old->rss == r->rss)
		return xstrdup("0");
	h = human(r->rss > old->rss ? r->rss - old->rss : old->rss - r->rss);
	out = xasprintf("%c%s", r->rss > old->rss ? '+' : '-', h);
	free(h);
	return out;
}

static void print_regions(const struct snapshot *s, const struct snapshot *prev)
{
	static const char *const heads[] = {
		"ID", "SIZE", "RSS", "PSS", "PINNED", "UNPINNED", "PURGED",
		"PURGES", "CREATOR", "OPEN-BY", "MAPPED-BY", "NAME",
	};
	/* With a previous refresh to compare with, a CHANGE column. */
	static const char *const watch_heads[] = {
		"ID", "SIZE", "RSS", "PSS", "PINNED", "UNPINNED", "PURGED",
		"PURGES", "CREATOR", "OPEN-BY", "MAPPED-BY", "CHANGE", "NAME",
	};
	size_t n, i, *idx = sorted_regions(s, &n);
	const struct region *r;
	struct table t;

	if (prev)
		table_init(&t, watch_heads, "rrrrrrrrrllrl");
	else
		table_init(&t, heads, "rrrrrrrrrlll");
	for (i = 0; i < n; i++) {
		r = &s->regions[idx[i]];
		table_put(&t, r->listed ? xasprintf("%" PRIu64, r->id) : xstrdup("-"));
		table_put(&t, size_or_dash(r, r->size));
		table_put(&t, human(r->rss));
		table_put(&t, human(r->pss));
		table_put(&t, size_or_dash(r, pinned_bytes(r)));
		table_put(&t, size_or_dash(r, r->unpinned_pages * page_bytes));
		table_put(&t, size_or_dash(r, r->purged_pages * page_bytes));
		table_put(&t, r->listed ? xasprintf("%" PRIu64, r->purges) : xstrdup("-"));
		table_put(&t, r->listed ? xasprintf("%d", r->creator) : xstrdup("-"));
		table_put(&t, pid_list(s, r, false));
		table_put(&t, pid_list(s, r, true));
		if (prev)
			table_put(&t, rss_change(r, prev));
		table_put(&t, region_name(r));
		if (opt.verbose)
			region_notes(&t, s, r);
	}
	if (n)
		table_print(&t);
	else if (opt.pid)
		printf("Process %d holds or maps no region.\n", opt.pid);
	else
		printf("No regions.\n");
	table_free(&t);
	free(idx);
}

static void print_procs(const struct snapshot *s)
{
	static const char *const heads[] = {
		"PID", "FDS", "OPEN", "MAPPED", "VSS", "RSS", "PSS", "USS", "SWAP",
		"COMM",
	};
	size_t n, i, *idx = sorted_procs(s, &n);
	struct proc tot = { 0 };
	const struct proc *p;
	struct table t;

	if (!n) {
		if (opt.pid)
			printf("Process %d holds or maps no ashmem.\n", opt.pid);
		else
			printf("No process holds or maps ashmem.\n");
		free(idx);
		return;
	}
	table_init(&t, heads, "rrrrrrrrrl");
	for (i = 0; i < n; i++) {
		p = &s->procs[idx[i]];
		table_put(&t, xasprintf("%d", p->pid));
		table_put(&t, xasprintf("%u", p->fds));
		table_put(&t, xasprintf("%u", p->open));
		table_put(&t, xasprintf("%u", p->mapped));
		table_put(&t, human(p->vss));
		table_put(&t, human(p->rss));
		table_put(&t, human(p->pss));
		table_put(&t, human(p->uss));
		table_put(&t, human(p->swap));
		table_put(&t, printable(p->comm));
		tot.fds += p->fds;
		tot.pss += p->pss;
		tot.uss += p->uss;
		tot.swap += p->swap;
	}
	/* As procrank: only Pss, Uss and Swap add up across processes. */
	table_put(&t, xstrdup(""));
	table_put(&t, xasprintf("%u", tot.fds));
	for (i = 0; i < 4; i++)
		table_put(&t, xstrdup(""));
	table_put(&t, human(tot.pss));
	table_put(&t, human(tot.uss));
	table_put(&t, human(tot.swap));
	table_put(&t, xstrdup("TOTAL"));
	table_print(&t);
	table_free(&t);
	free(idx);
}

/* "12K" or "12K (+4K)" for a byte counter that grows. */
static char *with_delta(uint64_t v, const struct snapshot *prev,
			const char *key, uint64_t unit)
{
	uint64_t old;
	char *a, *b, *out;

	a = human(v * unit);
	if (!get_stat(prev, key, &old) || old == v)
		return a;
	b = human((v > old ? v - old : old - v) * unit);
	out = xasprintf("%s (%c%s)", a, v > old ? '+' : '-', b);
	free(a);
	free(b);
	return out;
}

static void print_summary(const struct snapshot *s, const struct snapshot *prev)
{
	uint64_t regions = 0, mapped = 0, sized = 0, lru = 0, purged = 0;
	uint64_t scans = 0, freed = 0, old;
	size_t i, closed = 0;
	char *a, *b, *c, *d, *e;

	get_stat(s, "regions", &regions);
	get_stat(s, "mapped_regions", &mapped);
	get_stat(s, "sized_bytes", &sized);
	get_stat(s, "lru_pages", &lru);
	get_stat(s, "purged_pages", &purged);
	get_stat(s, "shrinker_scans", &scans);
	get_stat(s, "shrinker_freed", &freed);
	for (i = 0; i < s->nregions; i++)
		closed += !s->regions[i].listed;
	a = human(sized);
	b = human(page_bytes);
	printf("ashmem: %" PRIu64 " regions open (%" PRIu64 " mapped at least once), %s sized",
	       regions, mapped, a);
	if (closed)
		printf("; %zu closed, still mapped", closed);
	printf("; page size %s\n", b);
	free(a);
	free(b);
	c = human(lru * page_bytes);
	d = with_delta(purged, prev, "purged_pages", page_bytes);
	e = with_delta(freed, prev, "shrinker_freed", page_bytes);
	printf("unpinned, not purged: %s; purged since load: %s; shrinker: %" PRIu64 " scans",
	       c, d, scans);
	if (get_stat(prev, "shrinker_scans", &old) && old != scans)
		printf(" (+%" PRIu64 ")", scans - old);
	printf(", %s freed\n", e);
	free(c);
	free(d);
	free(e);
	if (s->lost_fds)
		printf("%lu ashmem fds refer to regions opened after the listing was read\n",
		       s->lost_fds);
}

/* Regions opened or closed since the previous refresh. */
static void print_changes(const struct snapshot *s, const struct snapshot *prev)
{
	const struct region *r;
	unsigned int gone = 0;
	char *name;
	size_t i;

	for (i = 0; i < prev->nregions; i++) {
		r = &prev->regions[i];
		if (region_in(s, r) || !region_shown(prev, r))
			continue;
		if (!gone++)
			printf("\nGone since the last refresh:\n");
		name = region_name(r);
		if (r->listed)
			printf("  id %" PRIu64 ", %s\n", r->id, name);
		else
			printf("  closed region (inode %" PRIu64 "), %s\n", r->ino, name);
		free(name);
	}
}

static void print_human(const struct snapshot *s, const struct snapshot *prev)
{
	print_summary(s, prev);
	putchar('\n');
	print_regions(s, prev);
	if (prev)
		print_changes(s, prev);
	putchar('\n');
	print_procs(s);
}

/* ============================================================ leak view */

static bool is_unmapped_leak(const struct region *r)
{
	return r->listed && !r->mappers;
}

/* Resident bytes gained since @first (0 if none, or new since then). */
static uint64_t rss_growth(const struct region *r, const struct snapshot *first)
{
	const struct region *old = region_in(first, r);

	return old && r->rss > old->rss ? r->rss - old->rss : 0;
}

static void print_unmapped(const struct snapshot *s)
{
	static const char *const heads[] = {
		"ID", "SIZE", "PINNED", "UNPINNED", "PURGED", "CREATOR",
		"OPEN-BY", "STATE", "NAME",
	};
	size_t n, i, *idx = sorted_regions(s, &n), found = 0;
	const struct region *r;
	struct table t;

	table_init(&t, heads, "rrrrrrlll");
	for (i = 0; i < n; i++) {
		r = &s->regions[idx[i]];
		if (!is_unmapped_leak(r))
			continue;
		found++;
		table_put(&t, xasprintf("%" PRIu64, r->id));
		table_put(&t, human(r->size));
		table_put(&t, human(pinned_bytes(r)));
		table_put(&t, human(r->unpinned_pages * page_bytes));
		table_put(&t, human(r->purged_pages * page_bytes));
		table_put(&t, xasprintf("%d", r->creator));
		table_put(&t, pid_list(s, r, false));
		table_put(&t, xstrdup(region_state(r)));
		table_put(&t, region_name(r));
		if (opt.verbose)
			region_notes(&t, s, r);
	}
	if (!found) {
		printf("Every open region is mapped by some process.\n");
	} else {
		printf("Open, but mapped by no process (%zu): the pages of an unmapped region stay\n",
		       found);
		printf("allocated until its last fd is closed.\n\n");
		table_print(&t);
	}
	table_free(&t);
	free(idx);
}

static void print_growing_regions(const struct snapshot *s,
				  const struct snapshot *first)
{
	static const char *const heads[] = { "ID", "SIZE", "RSS", "GREW", "MAPPED-BY", "NAME" };
	size_t n, i, *idx = sorted_regions(s, &n), found = 0;
	const struct region *r;
	struct table t;

	table_init(&t, heads, "rrrrll");
	for (i = 0; i < n; i++) {
		r = &s->regions[idx[i]];
		if (!rss_growth(r, first))
			continue;
		found++;
		table_put(&t, r->listed ? xasprintf("%" PRIu64, r->id) : xstrdup("-"));
		table_put(&t, size_or_dash(r, r->size));
		table_put(&t, human(r->rss));
		table_put(&t, human(rss_growth(r, first)));
		table_put(&t, pid_list(s, r, true));
		table_put(&t, region_name(r));
	}
	if (found) {
		printf("\nResident size grew since the first refresh (%zu):\n\n", found);
		table_print(&t);
	}
	table_free(&t);
	free(idx);
}

static void print_growing_procs(const struct snapshot *s,
				const struct snapshot *first)
{
	static const char *const heads[] = { "PID", "OPEN", "GREW", "PSS", "COMM" };
	size_t n, i, *idx = sorted_procs(s, &n), found = 0;
	const struct proc *p, *old;
	struct table t;

	table_init(&t, heads, "rrrrl");
	for (i = 0; i < n; i++) {
		p = &s->procs[idx[i]];
		old = proc_in(first, p->pid);
		if (!old || p->open <= old->open)
			continue;
		found++;
		table_put(&t, xasprintf("%d", p->pid));
		table_put(&t, xasprintf("%u", p->open));
		table_put(&t, xasprintf("+%u", p->open - old->open));
		table_put(&t, human(p->pss));
		table_put(&t, printable(p->comm));
	}
	if (found) {
		printf("\nHolding more regions open than at the first refresh (%zu):\n\n", found);
		table_print(&t);
	}
	table_free(&t);
	free(idx);
}

static void print_leaks(const struct snapshot *s, const struct snapshot *first)
{
	print_unmapped(s);
	if (first) {
		print_growing_regions(s, first);
		print_growing_procs(s, first);
	}
}

/* ================================================================= JSON */

/* A compact JSON writer: j_key() then one value, commas kept for us. */
static struct {
	int depth;
	bool first[16];
	bool after_key;
} js;

static void j_sep(void)
{
	if (js.after_key) {
		js.after_key = false;
		return;
	}
	if (js.depth && !js.first[js.depth])
		putchar(',');
	js.first[js.depth] = false;
}

static void j_open(char c)
{
	j_sep();
	putchar(c);
	js.first[++js.depth] = true;
}

static void j_close(char c)
{
	putchar(c);
	js.depth--;
}

/* Length of the valid UTF-8 sequence at @p, or 0. */
static size_t utf8_len(const unsigned char *p)
{
	size_t n, i;

	if (*p < 0x80)
		return 1;
	if (*p >= 0xc2 && *p <= 0xdf)
		n = 2;
	else if (*p >= 0xe0 && *p <= 0xef)
		n = 3;
	else if (*p >= 0xf0 && *p <= 0xf4)
		n = 4;
	else
		return 0;
	for (i = 1; i < n; i++)
		if ((p[i] & 0xc0) != 0x80)
			return 0;
	return n;
}

/* Names are bytes, JSON is UTF-8: a byte that is not becomes U+FFFD. */
static void j_string(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n;

	j_sep();
	putchar('"');
	while (*p) {
		n = utf8_len(p);
		if (!n) {
			fputs("\\ufffd", stdout);
			p++;
		} else if (*p == '"' || *p == '\\') {
			printf("\\%c", *p++);
		} else if (*p == '\n') {
			fputs("\\n", stdout);
			p++;
		} else if (*p == '\t') {
			fputs("\\t", stdout);
			p++;
		} else if (*p < 0x20 || *p == 0x7f) {
			printf("\\u%04x", *p++);
		} else {
			fwrite(p, 1, n, stdout);
			p += n;
		}
	}
	putchar('"');
}

static void j_key(const char *key)
{
	j_string(key);
	putchar(':');
	js.after_key = true;
}

/* A number in an array. */
static void j_num(uint64_t v)
{
	j_sep();
	printf("%" PRIu64, v);
}

static void j_u64(const char *key, uint64_t v)
{
	j_key(key);
	j_num(v);
}

static void j_i64(const char *key, int64_t v)
{
	j_key(key);
	j_sep();
	printf("%" PRId64, v);
}

static void j_null(const char *key)
{
	j_key(key);
	j_sep();
	fputs("null", stdout);
}

static void j_str(const char *key, const char *v)
{
	if (!v) {
		j_null(key);
		return;
	}
	j_key(key);
	j_string(v);
}

/* A listed-only number: null for a closed region. */
static void j_listed_u64(const struct region *r, const char *key, uint64_t v)
{
	if (r->listed)
		j_u64(key, v);
	else
		j_null(key);
}

static void j_links(const struct snapshot *s, const struct region *r,
		    bool mappers)
{
	const struct link *l;
	size_t i;

	j_key(mappers ? "mappers" : "holders");
	j_open('[');
	for (i = r->link0; i < r->link0 + r->nlinks; i++) {
		l = &s->links[i];
		if (!(mappers ? l->vmas : l->fds))
			continue;
		j_open('{');
		j_u64("pid", (uint64_t)l->pid);
		j_str("comm", s->procs[l->proc].comm);
		if (mappers) {
			j_u64("mappings", l->vmas);
			j_u64("mapped_bytes", l->vss);
			j_u64("rss_bytes", l->rss);
			j_u64("pss_bytes", l->pss);
			j_u64("uss_bytes", l->uss);
			j_u64("swap_bytes", l->swap);
		} else {
			j_u64("fds", l->fds);
		}
		j_close('}');
	}
	j_close(']');
}

static void j_region_fields(const struct snapshot *s, const struct region *r)
{
	j_listed_u64(r, "id", r->id);
	j_u64("ino", r->ino);
	j_str("name", r->name);
	j_str("state", region_state(r));
	j_listed_u64(r, "size", r->size);
	j_listed_u64(r, "pinned_bytes", pinned_bytes(r));
	j_listed_u64(r, "unpinned_bytes", r->unpinned_pages * page_bytes);
	j_listed_u64(r, "purged_bytes", r->purged_pages * page_bytes);
	j_listed_u64(r, "purges", r->purges);
	j_key("creator");
	if (r->listed) {
		j_open('{');
		j_u64("pid", (uint64_t)r->creator);
		j_str("comm", r->creator_comm);
		j_close('}');
	} else {
		j_sep();
		fputs("null", stdout);
	}
	j_listed_u64(r, "cgroup_ino", r->cgroup);
	j_str("cgroup", r->listed ? cg_path(r->cgroup) : NULL);
	j_u64("mapped_bytes", r->vss);
	j_u64("rss_bytes", r->rss);
	j_u64("pss_bytes", r->pss);
	j_u64("uss_bytes", r->uss);
	j_u64("swap_bytes", r->swap);
	j_links(s, r, false);
	j_links(s, r, true);
}

static void j_regions(const struct snapshot *s)
{
	size_t n, i, *idx = sorted_regions(s, &n);

	j_key("regions");
	j_open('[');
	for (i = 0; i < n; i++) {
		j_open('{');
		j_region_fields(s, &s->regions[idx[i]]);
		j_close('}');
	}
	j_close(']');
	free(idx);
}

static void j_processes(const struct snapshot *s)
{
	size_t n, i, *idx = sorted_procs(s, &n);
	const struct proc *p;

	j_key("processes");
	j_open('[');
	for (i = 0; i < n; i++) {
		p = &s->procs[idx[i]];
		j_open('{');
		j_u64("pid", (uint64_t)p->pid);
		j_str("comm", p->comm);
		j_u64("fds", p->fds);
		j_u64("regions_open", p->open);
		j_u64("regions_mapped", p->mapped);
		j_u64("mapped_bytes", p->vss);
		j_u64("rss_bytes", p->rss);
		j_u64("pss_bytes", p->pss);
		j_u64("uss_bytes", p->uss);
		j_u64("swap_bytes", p->swap);
		j_close('}');
	}
	j_close(']');
	free(idx);
}

static void j_stats(const struct snapshot *s)
{
	size_t i;

	j_key("stats");
	j_open('{');
	for (i = 0; i < s->nstats; i++)
		j_u64(s->stats[i].key, s->stats[i].val);
	j_close('}');
}

/* Regions opened and closed since @prev, and how the counters moved. */
static void j_changes(const struct snapshot *s, const struct snapshot *prev)
{
	uint64_t old;
	size_t i;

	j_key("changes");
	j_open('{');
	j_key("opened");
	j_open('[');
	for (i = 0; i < s->nregions; i++)
		if (s->regions[i].listed && !region_in(prev, &s->regions[i]))
			j_num(s->regions[i].id);
	j_close(']');
	j_key("closed");
	j_open('[');
	for (i = 0; i < prev->nregions; i++)
		if (prev->regions[i].listed && !region_in(s, &prev->regions[i]))
			j_num(prev->regions[i].id);
	j_close(']');
	j_key("stats");
	j_open('{');
	for (i = 0; i < s->nstats; i++)
		if (get_stat(prev, s->stats[i].key, &old))
			j_i64(s->stats[i].key,
			      (int64_t)(s->stats[i].val - old));
	j_close('}');
	j_close('}');
}

static void j_leaks(const struct snapshot *s, const struct snapshot *first)
{
	size_t n, i, *idx = sorted_regions(s, &n);
	const struct region *r;
	const struct proc *p, *old;

	j_key("leaks");
	j_open('[');
	for (i = 0; i < n; i++) {
		r = &s->regions[idx[i]];
		if (!is_unmapped_leak(r) && !rss_growth(r, first))
			continue;
		j_open('{');
		j_str("reason", is_unmapped_leak(r) ? region_state(r) : "growing");
		j_u64("rss_growth_bytes", rss_growth(r, first));
		j_region_fields(s, r);
		j_close('}');
	}
	j_close(']');
	free(idx);
	j_key("growing_processes");
	j_open('[');
	for (i = 0; first && i < s->nprocs; i++) {
		p = &s->procs[i];
		old = proc_in(first, p->pid);
		if (!old || p->open <= old->open ||
		    (opt.pid && p->pid != opt.pid))
			continue;
		j_open('{');
		j_u64("pid", (uint64_t)p->pid);
		j_str("comm", p->comm);
		j_u64("regions_open", p->open);
		j_u64("regions_open_growth", p->open - old->open);
		j_close('}');
	}
	j_close(']');
}

static void print_json(const struct snapshot *s, const struct snapshot *prev,
		       const struct snapshot *first, long refresh)
{
	memset(&js, 0, sizeof(js));
	j_open('{');
	j_u64("version", 1);
	j_u64("time", (uint64_t)s->when);
	if (opt.watch)
		j_u64("refresh", (uint64_t)refresh);
	j_u64("page_size", page_bytes);
	j_stats(s);
	if (opt.leaks) {
		j_leaks(s, first);
	} else {
		j_regions(s);
		j_processes(s);
		if (prev)
			j_changes(s, prev);
	}
	j_u64("unlisted_fds", s->lost_fds);
	j_close('}');
	putchar('\n');
}

/* ========================================================= the main loop */

static void print_snapshot(const struct snapshot *s, const struct snapshot *prev,
			   const struct snapshot *first, long refresh)
{
	char when[64];

	if (opt.json) {
		print_json(s, prev, first, refresh);
		return;
	}
	if (opt.watch) {
		/* Like watch(1) on a terminal; a log gets one block per refresh. */
		if (isatty(STDOUT_FILENO))
			fputs("\033[H\033[2J", stdout);
		strftime(when, sizeof(when), "%F %T", localtime(&s->when));
		printf("=== %s, refresh %ld, every %gs ===\n", when, refresh, opt.watch);
	}
	if (opt.leaks)
		print_leaks(s, first);
	else
		print_human(s, prev);
	if (opt.watch)
		putchar('\n');
}

static void sleep_until(struct timespec *next, double seconds)
{
	uint64_t ns = (uint64_t)(seconds * 1e9);

	next->tv_sec += ns / 1000000000;
	next->tv_nsec += ns % 1000000000;
	if (next->tv_nsec >= 1000000000) {
		next->tv_sec++;
		next->tv_nsec -= 1000000000;
	}
	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, next, NULL) == EINTR)
		;
}

static void run(void)
{
	struct snapshot *first = NULL, *prev = NULL, *cur;
	struct timespec next;
	long refresh;

	clock_gettime(CLOCK_MONOTONIC, &next);
	for (refresh = 1;; refresh++) {
		cur = take_snapshot();
		print_snapshot(cur, prev, first, refresh);
		if (fflush(stdout) || ferror(stdout))
			die(EXIT_FAIL, "writing the output: %s", strerror(errno));
		if (!opt.watch || (opt.count && refresh >= opt.count))
			break;
		if (prev != first)
			free_snapshot(prev);
		if (!first)
			first = cur;
		prev = cur;
		sleep_until(&next, opt.watch);
	}
	if (prev != first)
		free_snapshot(prev);
	if (cur != first)
		free_snapshot(cur);
	free_snapshot(first);
}

/* ====================================================== what must be there */

static void check_module(void)
{
	bool sys = !access(MODULE_DIR, F_OK);
	struct stat st;
	bool dev = !stat(ASHMEM_DEV, &st) && S_ISCHR(st.st_mode);

	if (!sys && !dev)
		die(EXIT_NOMODULE, "ashmem_linux is not loaded: no %s and no %s (try: modprobe ashmem_linux)",
		    MODULE_DIR, ASHMEM_DEV);
	if (!sys)
		die(EXIT_NOMODULE, "ashmem_linux is not loaded (no %s): %s belongs to another driver, which has no statistics",
		    MODULE_DIR, ASHMEM_DEV);
	if (!dev)
		die(EXIT_NOMODULE, "ashmem_linux is loaded but %s is missing: is devtmpfs mounted on /dev?",
		    ASHMEM_DEV);
	ashmem_rdev = st.st_rdev;
}

static void check_root(void)
{
	if (geteuid())
		die(EXIT_NOPERM, "must be run as root: the region listing in debugfs and other users' /proc/PID/fd are root's only");
}

static void check_debugfs(void)
{
	char path[PATH_MAX];
	struct statfs sfs;
	int err;

	snprintf(path, sizeof(path), "%s/ashmem/regions", opt.debugfs);
	if (!access(path, R_OK))
		return;
	err = errno;
	if (statfs(opt.debugfs, &sfs))
		die(EXIT_NODEBUGFS, "debugfs is not mounted: %s: %s (mount -t debugfs none %s)",
		    opt.debugfs, strerror(errno), opt.debugfs);
	if (sfs.f_type != DEBUGFS_MAGIC)
		die(EXIT_NODEBUGFS, "debugfs is not mounted on %s (mount -t debugfs none %s)",
		    opt.debugfs, opt.debugfs);
	if (err == ENOENT)
		die(EXIT_NODEBUGFS, "%s is missing: this ashmem_linux keeps no statistics in debugfs (an older version?)",
		    path);
	die(err == EACCES ? EXIT_NOPERM : EXIT_FAIL, "%s: %s", path,
	    strerror(err));
}

/* =============================================================== options */

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: %s [options]\n"
		"Where ashmem memory goes: each region of ashmem_linux with who holds it\n"
		"open, who maps it, its resident (Rss) and proportional (Pss) size and its\n"
		"pinned, unpinned and purged bytes; then each process's totals.\n"
		"\n"
		"  -l, --leaks          regions open but mapped by no process; with --watch\n"
		"                       also regions and processes that grow\n"
		"  -w, --watch SECONDS  refresh every SECONDS and show what changed\n"
		"  -n, --count N        stop after N refreshes (with --watch)\n"
		"  -j, --json           JSON, one object (one line) per refresh\n"
		"  -p, --pid PID        only the regions PID holds open or maps\n"
		"  -s, --sort KEY       regions by size (default), rss, pss, id or name\n"
		"  -b, --bytes          sizes in bytes rather than K, M, G\n"
		"  -v, --verbose        name each holder and mapper of each region\n"
		"      --debugfs DIR    where debugfs is mounted (default %s)\n"
		"  -h, --help           this text\n"
		"\n"
		"Needs root, ashmem_linux loaded and debugfs mounted. Exit status: 0 done,\n"
		"1 error, 2 usage, 3 ashmem_linux not loaded, 4 debugfs not mounted or\n"
		"without ashmem statistics, 5 not root.\n",
		prog, DEBUGFS_DIR);
}

static void __attribute__((noreturn)) usage_error(void)
{
	fprintf(stderr, "Try '%s --help'.\n", prog);
	exit(EXIT_USAGE);
}

static long long parse_count(const char *s, const char *what, long long max)
{
	uint64_t v;

	if (!parse_u64(s, &v) || !v || v > (uint64_t)max) {
		fprintf(stderr, "%s: %s must be a whole number from 1 to %lld, not \"%s\"\n",
			prog, what, max, s);
		exit(EXIT_USAGE);
	}
	return (long long)v;
}

static double parse_seconds(const char *s)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || *end || !(v >= 0.1 && v <= 86400)) {
		fprintf(stderr, "%s: --watch takes seconds from 0.1 to 86400, not \"%s\"\n",
			prog, s);
		exit(EXIT_USAGE);
	}
	return v;
}

static enum sort_key parse_sort(const char *s)
{
	static const char *const keys[] = { "size", "rss", "pss", "id", "name" };
	size_t i;

	for (i = 0; i < ARRAY_SIZE(keys); i++)
		if (!strcmp(s, keys[i]))
			return (enum sort_key)i;
	fprintf(stderr, "%s: --sort takes size, rss, pss, id or name, not \"%s\"\n",
		prog, s);
	exit(EXIT_USAGE);
}

static void parse_options(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "leaks", no_argument, NULL, 'l' },
		{ "watch", required_argument, NULL, 'w' },
		{ "count", required_argument, NULL, 'n' },
		{ "json", no_argument, NULL, 'j' },
		{ "pid", required_argument, NULL, 'p' },
		{ "sort", required_argument, NULL, 's' },
		{ "bytes", no_argument, NULL, 'b' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "debugfs", required_argument, NULL, 'D' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	while ((c = getopt_long(argc, argv, "lw:n:jp:s:bvh", longopts, NULL)) != -1) {
		switch (c) {
		case 'l':
			opt.leaks = true;
			break;
		case 'w':
			opt.watch = parse_seconds(optarg);
			break;
		case 'n':
			opt.count = (long)parse_count(optarg, "--count",
						      LONG_MAX);
			break;
		case 'j':
			opt.json = true;
			break;
		case 'p':
			opt.pid = (int)parse_count(optarg, "--pid", INT_MAX);
			break;
		case 's':
			opt.sort = parse_sort(optarg);
			break;
		case 'b':
			opt.bytes = true;
			break;
		case 'v':
			opt.verbose = true;
			break;
		case 'D':
			opt.debugfs = optarg;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			usage_error();
		}
	}
	if (optind < argc) {
		fprintf(stderr, "%s: unexpected argument \"%s\"\n", prog, argv[optind]);
		usage_error();
	}
	if (opt.count && !opt.watch) {
		fprintf(stderr, "%s: --count needs --watch\n", prog);
		exit(EXIT_USAGE);
	}
}

int main(int argc, char **argv)
{
	parse_options(argc, argv);
	page_bytes = (uint64_t)sysconf(_SC_PAGESIZE);
	check_module();
	check_root();
	check_debugfs();
	run();
	return 0;
}
