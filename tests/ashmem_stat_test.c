// SPDX-License-Identifier: GPL-2.0-only
/*
 * ashmem-stat (tools/ashmem-stat.c) against a setup whose every number is
 * known: it runs the tool installed beside this test and checks its table,
 * its JSON, its leak view, its refreshing view and its errors.
 *
 * The setup: a region named with spaces, four pages, one page purged and
 * one unpinned, created by this process, which then closes it; a child
 * maps it and reads three pages, a second child only holds it open. A
 * second region, its name holding a backslash and a tab, stays open here
 * but mapped by no one: the leak. Creator, mapper and holder each have a
 * comm with a space, and the regions are created in a cgroup of their own.
 *
 * Needs the driver's debugfs listing (ashmem/regions); without it the tests
 * of the setup are skipped, the error tests still run.
 */
#define _GNU_SOURCE
#include <grp.h>
#include <limits.h>
#include <poll.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>

#include "kselftest_harness.h"
#include "ashmem_util.h"

#define DEBUGFS_DIR	"/sys/kernel/debug"
#define REGIONS_FILE	DEBUGFS_DIR "/ashmem/regions"
#define CG_ROOT		"/sys/fs/cgroup"

#define SHARED_NAME	"stat test region"
#define SHARED_PAGES	4
#define LEAK_NAME	"stat leak \\ tab\there"
/* The leak's name as a table shows it: control characters as \ooo. */
#define LEAK_SHOWN	"stat leak \\ tab\\011here"
#define LEAK_PAGES	2
#define CREATOR_COMM	"stat creator"
#define MAPPER_COMM	"stat mapper"
#define HOLDER_COMM	"stat holder"

/* Exit status of a tool child whose preparation failed (not the tool's). */
#define PREP_FAILED	99

/* The tool's exit codes (ashmem-stat --help). */
#define EXIT_USAGE	2
#define EXIT_NOMODULE	3
#define EXIT_NODEBUGFS	4
#define EXIT_NOPERM	5

/* =========================================================== running it */

/* /tests/ashmem-stat: the tool is installed beside this test. */
static const char *tool_path(void)
{
	static char path[PATH_MAX + 16];
	char self[PATH_MAX], *slash;
	ssize_t n;

	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n < 0)
		return "ashmem-stat";
	self[n] = '\0';
	slash = strrchr(self, '/');
	if (slash)
		*slash = '\0';
	snprintf(path, sizeof(path), "%s/ashmem-stat", self);
	return path;
}

/* Runs in the tool's child before exec: e.g. a namespace without debugfs. */
typedef void (*prep_fn)(void);

/*
 * Start the tool with @args (NULL-terminated), its stdout on *@out and, if
 * @err, its stderr on *@err.
 */
static pid_t spawn_tool(const char *const *args, prep_fn prep, int *out,
			int *err)
{
	const char *argv[16] = { "ashmem-stat" };
	int o[2], e[2] = { -1, -1 };
	pid_t pid;
	size_t i;

	for (i = 0; args[i] && i < 14; i++)
		argv[i + 1] = args[i];
	if (pipe2(o, O_CLOEXEC) || (err && pipe2(e, O_CLOEXEC)))
		return -1;
	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (pid == 0) {
		dup2(o[1], STDOUT_FILENO);
		if (err)
			dup2(e[1], STDERR_FILENO);
		if (prep)
			prep();
		execv(tool_path(), (char *const *)argv);
		fprintf(stderr, "exec %s: %s\n", tool_path(), strerror(errno));
		_exit(127);
	}
	close(o[1]);
	*out = o[0];
	if (err) {
		close(e[1]);
		*err = e[0];
	}
	return pid;
}

struct tool_run {
	int code;		/* exit status, 128 + signal, or -1 */
	char *out, *err;
	size_t out_len, err_len;
};

/* Append what @fd has to *@buf; false at EOF. */
static bool drain(int fd, char **buf, size_t *len)
{
	char chunk[65536];
	ssize_t n = read(fd, chunk, sizeof(chunk));

	if (n <= 0)
		return false;
	*buf = realloc(*buf, *len + n + 1);
	memcpy(*buf + *len, chunk, n);
	*len += n;
	(*buf)[*len] = '\0';
	return true;
}

static int wait_code(pid_t pid)
{
	int status;

	if (waitpid(pid, &status, 0) != pid)
		return -1;
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return WEXITSTATUS(status);
}

/* Run the tool to the end, collecting stdout and stderr. */
static struct tool_run run_tool(const char *const *args, prep_fn prep)
{
	struct tool_run r = { .code = -1 };
	struct pollfd pfd[2];
	int out, err, open_fds = 2, i;
	pid_t pid;

	r.out = calloc(1, 1);
	r.err = calloc(1, 1);
	pid = spawn_tool(args, prep, &out, &err);
	if (pid < 0)
		return r;
	pfd[0] = (struct pollfd){ .fd = out, .events = POLLIN };
	pfd[1] = (struct pollfd){ .fd = err, .events = POLLIN };
	while (open_fds && poll(pfd, 2, -1) > 0) {
		for (i = 0; i < 2; i++) {
			if (pfd[i].fd < 0 || !pfd[i].revents)
				continue;
			if (!drain(pfd[i].fd, i ? &r.err : &r.out,
				   i ? &r.err_len : &r.out_len)) {
				close(pfd[i].fd);
				pfd[i].fd = -1;
				open_fds--;
			}
		}
	}
	r.code = wait_code(pid);
	return r;
}

/* The tool's output, into the test log, when a check of it fails. */
static void show_run(const struct tool_run *r)
{
	const char *s;
	int n;

	fprintf(stderr, "# ashmem-stat exited with %d; its stdout:\n", r->code);
	for (s = r->out; *s; s += n + (s[n] == '\n')) {
		n = (int)strcspn(s, "\n");
		fprintf(stderr, "#   %.*s\n", n, s);
	}
	fprintf(stderr, "# its stderr:\n");
	for (s = r->err; *s; s += n + (s[n] == '\n')) {
		n = (int)strcspn(s, "\n");
		fprintf(stderr, "#   %.*s\n", n, s);
	}
}

static void free_run(struct tool_run *r)
{
	free(r->out);
	free(r->err);
}

/* The tool must exit 0. */
static void assert_ran(struct __test_metadata *_metadata,
		       const struct tool_run *r, const char *what)
{
	ASSERT_EQ(0, r->code) {
		TH_LOG("ashmem-stat %s must succeed", what);
		show_run(r);
	}
}

/* ======================================================= table parsing */

/* One row of a table the tool printed, cells by column heading. */
struct row {
	char *head[16], *cell[16];
	int n;
};

static int split_words(char *line, char **w, int max)
{
	char *save = NULL, *t;
	int n = 0;

	for (t = strtok_r(line, " ", &save); t && n < max;
	     t = strtok_r(NULL, " ", &save))
		w[n++] = t;
	return n;
}

/*
 * The row starting with @key of the first table after a heading line that
 * starts with @first_head; a blank line ends a table. The last column
 * (NAME, COMM) may hold spaces: it takes the rest of the line.
 */
static bool find_row(const char *out, const char *first_head, const char *key,
		     struct row *row)
{
	char line[4096], copy[4096], *w[64];
	bool in_table = false;
	const char *s;
	int n, i, len;

	memset(row, 0, sizeof(*row));
	for (s = out; s && *s; s += len + (s[len] == '\n')) {
		len = (int)strcspn(s, "\n");
		snprintf(line, sizeof(line), "%.*s", len, s);
		memcpy(copy, line, sizeof(copy));
		n = split_words(copy, w, 64);
		if (!n) {
			in_table = false;
		} else if (!strcmp(w[0], first_head) && n <= 16) {
			in_table = true;
			row->n = n;
			for (i = 0; i < n; i++)
				row->head[i] = strdup(w[i]);
		} else if (in_table && !strcmp(w[0], key) && n >= row->n) {
			for (i = 0; i < row->n - 1; i++)
				row->cell[i] = strdup(w[i]);
			/* From the last column's first word to the end. */
			row->cell[i] = strdup(line + (w[i] - copy));
			return true;
		}
	}
	return false;
}

static const char *cell(const struct row *row, const char *head)
{
	int i;

	for (i = 0; i < row->n; i++)
		if (!strcmp(row->head[i], head))
			return row->cell[i];
	return "(no such column)";
}

/* A size as the tool prints it: every size here is whole kilobytes. */
static const char *ksize(size_t bytes)
{
	static char buf[8][32];
	static int next;
	char *b = buf[next++ % 8];

	if (!bytes)
		return "0";
	snprintf(b, 32, "%zuK", bytes / 1024);
	return b;
}

static void assert_cell(struct __test_metadata *_metadata,
			const struct row *row, const char *head,
			const char *expected, const struct tool_run *r)
{
	ASSERT_STREQ(expected, cell(row, head)) {
		TH_LOG("column %s of the row for %s", head, row->cell[0]);
		show_run(r);
	}
}

/* ================================================ a minimal JSON reader */

/* Enough JSON to check the tool's: every value, with strings unescaped. */
enum jtype { J_NULL, J_BOOL, J_NUM, J_STR, J_ARR, J_OBJ };

struct jval {
	enum jtype type;
	char *str;		/* J_STR: the string; J_NUM: the literal */
	bool b;
	size_t n;		/* J_ARR, J_OBJ */
	struct jval *kids;
	char **keys;		/* J_OBJ */
};

static bool j_value(const char **p, struct jval *v, int depth);

static void j_ws(const char **p)
{
	while (**p == ' ' || **p == '\t' || **p == '\n' || **p == '\r')
		(*p)++;
}

static int j_hex4(const char *s)
{
	int v = 0, i;

	for (i = 0; i < 4; i++) {
		v <<= 4;
		if (s[i] >= '0' && s[i] <= '9')
			v |= s[i] - '0';
		else if ((s[i] | 0x20) >= 'a' && (s[i] | 0x20) <= 'f')
			v |= (s[i] | 0x20) - 'a' + 10;
		else
			return -1;
	}
	return v;
}

static char *j_utf8(char *d, unsigned int c)
{
	if (c < 0x80) {
		*d++ = (char)c;
	} else if (c < 0x800) {
		*d++ = (char)(0xc0 | c >> 6);
		*d++ = (char)(0x80 | (c & 0x3f));
	} else if (c < 0x10000) {
		*d++ = (char)(0xe0 | c >> 12);
		*d++ = (char)(0x80 | (c >> 6 & 0x3f));
		*d++ = (char)(0x80 | (c & 0x3f));
	} else {
		*d++ = (char)(0xf0 | c >> 18);
		*d++ = (char)(0x80 | (c >> 12 & 0x3f));
		*d++ = (char)(0x80 | (c >> 6 & 0x3f));
		*d++ = (char)(0x80 | (c & 0x3f));
	}
	return d;
}

/* Bytes up to the closing quote: an escape never unescapes to more. */
static size_t j_raw_len(const char *s)
{
	size_t n = 0;

	while (s[n] && s[n] != '"')
		n += s[n] == '\\' && s[n + 1] ? 2 : 1;
	return n;
}

static bool j_string(const char **p, char **out)
{
	const char *s = *p + 1;
	char *d = malloc(j_raw_len(s) + 1);
	int c, lo;

	*out = d;
	for (;;) {
		if (!*s || (unsigned char)*s < 0x20)
			return false;
		if (*s == '"')
			break;
		if (*s != '\\') {
			*d++ = *s++;
			continue;
		}
		s++;
		switch (*s) {
		case '"':
		case '\\':
		case '/':
			*d++ = *s;
			break;
		case 'b':
			*d++ = '\b';
			break;
		case 'f':
			*d++ = '\f';
			break;
		case 'n':
			*d++ = '\n';
			break;
		case 'r':
			*d++ = '\r';
			break;
		case 't':
			*d++ = '\t';
			break;
		case 'u':
			c = j_hex4(s + 1);
			if (c < 0)
				return false;
			s += 4;
			/* A surrogate pair: two escapes, one character. */
			lo = s[1] == '\\' && s[2] == 'u' ? j_hex4(s + 3) : -1;
			if (c >= 0xd800 && c < 0xdc00 && lo >= 0xdc00 &&
			    lo < 0xe000) {
				c = 0x10000 + ((c - 0xd800) << 10) + (lo - 0xdc00);
				s += 6;
			}
			d = j_utf8(d, (unsigned int)c);
			break;
		default:
			return false;
		}
		s++;
	}
	*d = '\0';
	*p = s + 1;
	return true;
}

static bool j_number(const char **p, struct jval *v)
{
	const char *s = *p;

	if (*s == '-')
		s++;
	if (*s == '0')
		s++;
	else if (*s >= '1' && *s <= '9')
		while (*s >= '0' && *s <= '9')
			s++;
	else
		return false;
	if (*s == '.') {
		if (*++s < '0' || *s > '9')
			return false;
		while (*s >= '0' && *s <= '9')
			s++;
	}
	if (*s == 'e' || *s == 'E') {
		s++;
		if (*s == '+' || *s == '-')
			s++;
		if (*s < '0' || *s > '9')
			return false;
		while (*s >= '0' && *s <= '9')
			s++;
	}
	v->type = J_NUM;
	v->str = strndup(*p, s - *p);
	*p = s;
	return true;
}

/* An array or object: elements separated by commas, up to @close. */
static bool j_container(const char **p, struct jval *v, char close, int depth)
{
	bool obj = close == '}';
	char *key;

	v->type = obj ? J_OBJ : J_ARR;
	(*p)++;
	j_ws(p);
	if (**p == close) {
		(*p)++;
		return true;
	}
	for (;;) {
		v->kids = realloc(v->kids, (v->n + 1) * sizeof(*v->kids));
		v->keys = realloc(v->keys, (v->n + 1) * sizeof(*v->keys));
		memset(&v->kids[v->n], 0, sizeof(*v->kids));
		v->keys[v->n] = NULL;
		if (obj) {
			j_ws(p);
			if (**p != '"' || !j_string(p, &key))
				return false;
			v->keys[v->n] = key;
			j_ws(p);
			if (*(*p)++ != ':')
				return false;
		}
		if (!j_value(p, &v->kids[v->n++], depth + 1))
			return false;
		j_ws(p);
		if (**p == close) {
			(*p)++;
			return true;
		}
		if (*(*p)++ != ',')
			return false;
	}
}

static bool j_value(const char **p, struct jval *v, int depth)
{
	if (depth > 32)
		return false;
	j_ws(p);
	switch (**p) {
	case '{':
		return j_container(p, v, '}', depth);
	case '[':
		return j_container(p, v, ']', depth);
	case '"':
		v->type = J_STR;
		return j_string(p, &v->str);
	case 't':
	case 'f':
		v->type = J_BOOL;
		v->b = **p == 't';
		if (strncmp(*p, v->b ? "true" : "false", v->b ? 4 : 5))
			return false;
		*p += v->b ? 4 : 5;
		return true;
	case 'n':
		v->type = J_NULL;
		if (strncmp(*p, "null", 4))
			return false;
		*p += 4;
		return true;
	}
	return j_number(p, v);
}

/* One JSON document in @text (nothing after it but blanks). */
static bool json_parse(const char *text, struct jval *v)
{
	const char *p = text;

	memset(v, 0, sizeof(*v));
	if (!j_value(&p, v, 0))
		return false;
	j_ws(&p);
	return !*p;
}

static const struct jval *jget(const struct jval *obj, const char *key)
{
	size_t i;

	if (!obj || obj->type != J_OBJ)
		return NULL;
	for (i = 0; i < obj->n; i++)
		if (!strcmp(obj->keys[i], key))
			return &obj->kids[i];
	return NULL;
}

static bool ju64(const struct jval *v, uint64_t *out)
{
	char *end;

	if (!v || v->type != J_NUM || v->str[0] == '-')
		return false;
	errno = 0;
	*out = strtoull(v->str, &end, 10);
	return !errno && !*end;
}

/* The object of array @arr whose @key is @val. */
static const struct jval *jfind(const struct jval *arr, const char *key,
				uint64_t val)
{
	uint64_t v;
	size_t i;

	if (!arr || arr->type != J_ARR)
		return NULL;
	for (i = 0; i < arr->n; i++)
		if (ju64(jget(&arr->kids[i], key), &v) && v == val)
			return &arr->kids[i];
	return NULL;
}

static void assert_ju64(struct __test_metadata *_metadata,
			const struct jval *obj, const char *key,
			uint64_t expected, const char *what)
{
	uint64_t v = 0;

	ASSERT_TRUE(ju64(jget(obj, key), &v)) {
		TH_LOG("%s: \"%s\" must be a whole number", what, key);
	}
	ASSERT_EQ(expected, v) {
		TH_LOG("%s: \"%s\" is %llu, expected %llu", what, key,
		       (unsigned long long)v, (unsigned long long)expected);
	}
}

static void assert_jstr(struct __test_metadata *_metadata,
			const struct jval *obj, const char *key,
			const char *expected, const char *what)
{
	const struct jval *v = jget(obj, key);

	ASSERT_TRUE(v && v->type == J_STR) {
		TH_LOG("%s: \"%s\" must be a string", what, key);
	}
	ASSERT_STREQ(expected, v->str) {
		TH_LOG("%s: \"%s\"", what, key);
	}
}

/* ====================================================== the known setup */

FIXTURE(stat_setup) {
	size_t page;
	pid_t creator, mapper, holder;
	int leak_fd;
	uint64_t shared_id, leak_id;
	/* Closed by the children's end: they wait for it. */
	int release[2];
	/* The regions' cgroup below CG_ROOT, "" if it could not be made. */
	char cgroup[64];
	uint64_t cgroup_ino;
};

/* The region id fdinfo shows for @fd. */
static uint64_t fd_ashmem_id(struct __test_metadata *_metadata, int fd)
{
	char path[64], val[32];
	uint64_t id;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	ASSERT_TRUE(proc_field(path, "ashmem_id", true, val, sizeof(val))) {
		TH_LOG("%s must have an \"ashmem_id:\" line", path);
	}
	id = strtoull(val, NULL, 10);
	return id;
}

static bool write_file(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return false;
	n = write(fd, text, strlen(text));
	close(fd);
	return n == (ssize_t)strlen(text);
}

/*
 * Move into a new cgroup so the regions' creator cgroup is known; the
 * check that needs it is left out (and says so) if cgroup2 is missing.
 */
static void enter_cgroup(FIXTURE_DATA(stat_setup) *self)
{
	char path[128], pid[16];
	struct stat st;

	snprintf(self->cgroup, sizeof(self->cgroup), "/ashmem-stat-%d",
		 (int)getpid());
	snprintf(path, sizeof(path), CG_ROOT "%s", self->cgroup);
	snprintf(pid, sizeof(pid), "%d", (int)getpid());
	if (mkdir(path, 0755) || stat(path, &st)) {
		ksft_print_msg("no cgroup %s (%s): its check is left out\n",
			       path, strerror(errno));
		self->cgroup[0] = '\0';
		return;
	}
	self->cgroup_ino = st.st_ino;
	strcat(path, "/cgroup.procs");
	if (!write_file(path, pid)) {
		ksft_print_msg("cannot join %s (%s): its check is left out\n",
			       path, strerror(errno));
		rmdir(path);
		self->cgroup[0] = '\0';
	}
}

static void leave_cgroup(FIXTURE_DATA(stat_setup) *self)
{
	char pid[16];

	if (!self->cgroup[0])
		return;
	snprintf(pid, sizeof(pid), "%d", (int)getpid());
	write_file(CG_ROOT "/cgroup.procs", pid);
}

/*
 * The shared region: written whole, page 3 unpinned and purged, then page
 * 2 unpinned; then unmapped, so only the mapper child will map it.
 */
static int create_shared(struct __test_metadata *_metadata, size_t page)
{
	size_t size = SHARED_PAGES * page;
	int fd = ashmem_assert_create(_metadata, SHARED_NAME, size);
	char *p = ashmem_assert_mmap(_metadata, fd, size,
				     PROT_READ | PROT_WRITE, MAP_SHARED, 0);

	memset(p, 0x5a, size);
	ashmem_assert_unpin(_metadata, fd, 3 * page, page);
	ashmem_assert_purge_all(_metadata, fd);
	ashmem_assert_unpin(_metadata, fd, 2 * page, page);
	munmap(p, size);
	return fd;
}

/* The leak: mapped and written once, then unmapped but kept open. */
static int create_leak(struct __test_metadata *_metadata, size_t page)
{
	size_t size = LEAK_PAGES * page;
	int fd = ashmem_assert_create(_metadata, LEAK_NAME, size);
	char *p = ashmem_assert_mmap(_metadata, fd, size,
				     PROT_READ | PROT_WRITE, MAP_SHARED, 0);

	memset(p, 0x33, page);
	munmap(p, size);
	return fd;
}

/*
 * A child named @comm that holds @fd open, maps it and reads @touch pages
 * if @touch, says it is ready on @ready and waits for the end of @release.
 */
static pid_t start_child(const char *comm, int fd, int leak_fd, size_t page,
			 int touch, int ready, const int *release)
{
	/* volatile: each read must fault its page in. */
	volatile const char *p;
	pid_t pid;
	char c = 0;
	int i;

	pid = fork();
	if (pid)
		return pid;
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	prctl(PR_SET_NAME, comm);
	close(leak_fd);
	close(release[1]);
	if (touch) {
		p = mmap(NULL, SHARED_PAGES * page, PROT_READ, MAP_SHARED, fd, 0);
		if (p == MAP_FAILED)
			_exit(1);
		for (i = 0; i < touch; i++)
			c += p[i * page];
	}
	if (write(ready, &c, 1) != 1)
		_exit(1);
	while (read(release[0], &c, 1) > 0)
		;
	_exit(0);
}

FIXTURE_SETUP(stat_setup)
{
	int shared, ready[2];
	char c[2];

	if (access(REGIONS_FILE, F_OK))
		SKIP(return, "no %s: this ashmem_linux has no debugfs statistics",
		     REGIONS_FILE);
	self->page = page_size();
	self->creator = getpid();
	self->leak_fd = -1;
	ASSERT_EQ(0, prctl(PR_SET_NAME, CREATOR_COMM));

	enter_cgroup(self);
	shared = create_shared(_metadata, self->page);
	self->leak_fd = create_leak(_metadata, self->page);
	leave_cgroup(self);
	self->shared_id = fd_ashmem_id(_metadata, shared);
	self->leak_id = fd_ashmem_id(_metadata, self->leak_fd);

	ASSERT_EQ(0, pipe2(ready, O_CLOEXEC));
	ASSERT_EQ(0, pipe2(self->release, O_CLOEXEC));
	self->mapper = start_child(MAPPER_COMM, shared, self->leak_fd,
				   self->page, 3, ready[1], self->release);
	ASSERT_LT(0, self->mapper);
	self->holder = start_child(HOLDER_COMM, shared, self->leak_fd,
				   self->page, 0, ready[1], self->release);
	ASSERT_LT(0, self->holder);
	close(ready[1]);
	/* A byte from each; EOF early if one of them died. */
	ASSERT_EQ(1, read(ready[0], &c[0], 1));
	ASSERT_EQ(1, read(ready[0], &c[1], 1)) {
		TH_LOG("the mapper and the holder must start");
	}
	close(ready[0]);
	/* From now on only the children hold the shared region. */
	close(shared);
}

FIXTURE_TEARDOWN(stat_setup)
{
	char path[128];

	if (self->mapper > 0)
		kill(self->mapper, SIGKILL);
	if (self->holder > 0)
		kill(self->holder, SIGKILL);
	if (self->mapper > 0)
		waitpid(self->mapper, NULL, 0);
	if (self->holder > 0)
		waitpid(self->holder, NULL, 0);
	if (self->leak_fd >= 0)
		close(self->leak_fd);
	if (self->cgroup[0]) {
		snprintf(path, sizeof(path), CG_ROOT "%s", self->cgroup);
		rmdir(path);
	}
}

/* "lo,hi": the holders of the shared region as the table lists them. */
static const char *child_pids(FIXTURE_DATA(stat_setup) *self)
{
	static char buf[32];
	pid_t a = self->mapper, b = self->holder;

	snprintf(buf, sizeof(buf), "%d,%d", a < b ? a : b, a < b ? b : a);
	return buf;
}

static const char *num(uint64_t v)
{
	static char buf[8][24];
	static int next;
	char *b = buf[next++ % 8];

	snprintf(b, 24, "%llu", (unsigned long long)v);
	return b;
}

/* ========================================================= the table */

TEST_F(stat_setup, table_shows_sizes_holders_and_mappers)
{
	static const char *const args[] = { NULL };
	struct tool_run r = run_tool(args, NULL);
	size_t page = self->page;
	struct row row;

	assert_ran(_metadata, &r, "with no options");
	/* What it printed, for whoever reads the log. */
	show_run(&r);
	ASSERT_TRUE(find_row(r.out, "ID", num(self->shared_id), &row)) {
		TH_LOG("the region table must have a row for region %s",
		       num(self->shared_id));
		show_run(&r);
	}
	assert_cell(_metadata, &row, "NAME", SHARED_NAME, &r);
	assert_cell(_metadata, &row, "SIZE", ksize(SHARED_PAGES * page), &r);
	assert_cell(_metadata, &row, "RSS", ksize(3 * page), &r);
	assert_cell(_metadata, &row, "PSS", ksize(3 * page), &r);
	assert_cell(_metadata, &row, "PINNED", ksize(2 * page), &r);
	assert_cell(_metadata, &row, "UNPINNED", ksize(page), &r);
	assert_cell(_metadata, &row, "PURGED", ksize(page), &r);
	assert_cell(_metadata, &row, "PURGES", "1", &r);
	assert_cell(_metadata, &row, "CREATOR", num(self->creator), &r);
	assert_cell(_metadata, &row, "OPEN-BY", child_pids(self), &r);
	assert_cell(_metadata, &row, "MAPPED-BY", num(self->mapper), &r);

	ASSERT_TRUE(find_row(r.out, "ID", num(self->leak_id), &row)) {
		TH_LOG("the region table must have a row for the leak");
		show_run(&r);
	}
	assert_cell(_metadata, &row, "NAME", LEAK_SHOWN, &r);
	assert_cell(_metadata, &row, "SIZE", ksize(LEAK_PAGES * page), &r);
	assert_cell(_metadata, &row, "RSS", "0", &r);
	assert_cell(_metadata, &row, "OPEN-BY", num(self->creator), &r);
	assert_cell(_metadata, &row, "MAPPED-BY", "-", &r);
	free_run(&r);
}

TEST_F(stat_setup, process_table_totals_each_process)
{
	static const char *const args[] = { NULL };
	struct tool_run r = run_tool(args, NULL);
	size_t page = self->page;
	struct row row;

	assert_ran(_metadata, &r, "with no options");
	ASSERT_TRUE(find_row(r.out, "PID", num(self->mapper), &row)) {
		TH_LOG("the process table must have the mapper");
		show_run(&r);
	}
	assert_cell(_metadata, &row, "COMM", MAPPER_COMM, &r);
	assert_cell(_metadata, &row, "FDS", "1", &r);
	assert_cell(_metadata, &row, "OPEN", "1", &r);
	assert_cell(_metadata, &row, "MAPPED", "1", &r);
	assert_cell(_metadata, &row, "VSS", ksize(SHARED_PAGES * page), &r);
	assert_cell(_metadata, &row, "RSS", ksize(3 * page), &r);
	assert_cell(_metadata, &row, "PSS", ksize(3 * page), &r);

	ASSERT_TRUE(find_row(r.out, "PID", num(self->holder), &row)) {
		TH_LOG("the process table must have the holder");
		show_run(&r);
	}
	assert_cell(_metadata, &row, "COMM", HOLDER_COMM, &r);
	assert_cell(_metadata, &row, "OPEN", "1", &r);
	assert_cell(_metadata, &row, "MAPPED", "0", &r);
	assert_cell(_metadata, &row, "RSS", "0", &r);

	ASSERT_TRUE(find_row(r.out, "PID", num(self->creator), &row)) {
		TH_LOG("the process table must have the leak's holder");
		show_run(&r);
	}
	assert_cell(_metadata, &row, "COMM", CREATOR_COMM, &r);
	assert_cell(_metadata, &row, "OPEN", "1", &r);
	assert_cell(_metadata, &row, "MAPPED", "0", &r);
	free_run(&r);
}

/* ========================================================== the JSON */

static void parse_json(struct __test_metadata *_metadata,
		       const struct tool_run *r, struct jval *doc)
{
	ASSERT_TRUE(json_parse(r->out, doc)) {
		TH_LOG("--json must print one valid JSON document");
		show_run(r);
	}
	ASSERT_EQ(J_OBJ, doc->type);
}

static void check_json_shared(struct __test_metadata *_metadata,
			      FIXTURE_DATA(stat_setup) *self,
			      const struct jval *reg)
{
	const struct jval *creator = jget(reg, "creator"), *list, *m;
	size_t page = self->page;
	const char *what = "the shared region";

	assert_jstr(_metadata, reg, "name", SHARED_NAME, what);
	assert_jstr(_metadata, reg, "state", "mapped", what);
	assert_ju64(_metadata, reg, "size", SHARED_PAGES * page, what);
	assert_ju64(_metadata, reg, "pinned_bytes", 2 * page, what);
	assert_ju64(_metadata, reg, "unpinned_bytes", page, what);
	assert_ju64(_metadata, reg, "purged_bytes", page, what);
	assert_ju64(_metadata, reg, "purges", 1, what);
	assert_ju64(_metadata, reg, "rss_bytes", 3 * page, what);
	assert_ju64(_metadata, reg, "pss_bytes", 3 * page, what);
	assert_ju64(_metadata, creator, "pid", self->creator, "its creator");
	assert_jstr(_metadata, creator, "comm", CREATOR_COMM, "its creator");
	if (self->cgroup[0]) {
		assert_jstr(_metadata, reg, "cgroup", self->cgroup, what);
		assert_ju64(_metadata, reg, "cgroup_ino", self->cgroup_ino, what);
	}

	list = jget(reg, "holders");
	ASSERT_TRUE(list && list->type == J_ARR && list->n == 2) {
		TH_LOG("the shared region must have two holders");
	}
	ASSERT_NE(NULL, jfind(list, "pid", self->mapper));
	ASSERT_NE(NULL, jfind(list, "pid", self->holder));
	assert_jstr(_metadata, jfind(list, "pid", self->holder), "comm",
		    HOLDER_COMM, "the holder");

	list = jget(reg, "mappers");
	ASSERT_TRUE(list && list->type == J_ARR && list->n == 1) {
		TH_LOG("the shared region must have one mapper");
	}
	m = jfind(list, "pid", self->mapper);
	ASSERT_NE(NULL, m);
	assert_jstr(_metadata, m, "comm", MAPPER_COMM, "the mapper");
	assert_ju64(_metadata, m, "mappings", 1, "the mapper");
	assert_ju64(_metadata, m, "mapped_bytes", SHARED_PAGES * page, "the mapper");
	assert_ju64(_metadata, m, "rss_bytes", 3 * page, "the mapper");
	assert_ju64(_metadata, m, "pss_bytes", 3 * page, "the mapper");
}

static void check_json_leak(struct __test_metadata *_metadata,
			    FIXTURE_DATA(stat_setup) *self,
			    const struct jval *reg)
{
	const struct jval *list;
	const char *what = "the leak";

	assert_jstr(_metadata, reg, "name", LEAK_NAME, what);
	assert_jstr(_metadata, reg, "state", "unmapped", what);
	assert_ju64(_metadata, reg, "size", LEAK_PAGES * self->page, what);
	assert_ju64(_metadata, reg, "rss_bytes", 0, what);
	list = jget(reg, "holders");
	ASSERT_TRUE(list && list->type == J_ARR && list->n == 1) {
		TH_LOG("the leak must have one holder");
	}
	ASSERT_NE(NULL, jfind(list, "pid", self->creator));
	list = jget(reg, "mappers");
	ASSERT_TRUE(list && list->type == J_ARR && list->n == 0) {
		TH_LOG("the leak must have no mapper");
	}
}

TEST_F(stat_setup, json_has_the_exact_numbers)
{
	static const char *const args[] = { "--json", NULL };
	struct tool_run r = run_tool(args, NULL);
	const struct jval *regions, *reg, *p;
	struct jval doc;
	uint64_t n;

	assert_ran(_metadata, &r, "--json");
	parse_json(_metadata, &r, &doc);
	assert_ju64(_metadata, &doc, "page_size", self->page, "the document");
	ASSERT_TRUE(ju64(jget(jget(&doc, "stats"), "regions"), &n));
	ASSERT_LE(2, n) {
		TH_LOG("stats.regions counts at least the two regions");
	}

	regions = jget(&doc, "regions");
	reg = jfind(regions, "id", self->shared_id);
	ASSERT_NE(NULL, reg) {
		TH_LOG("no region with id %s", num(self->shared_id));
		show_run(&r);
	}
	check_json_shared(_metadata, self, reg);
	reg = jfind(regions, "id", self->leak_id);
	ASSERT_NE(NULL, reg) {
		TH_LOG("no region with id %s", num(self->leak_id));
	}
	check_json_leak(_metadata, self, reg);

	p = jfind(jget(&doc, "processes"), "pid", self->mapper);
	ASSERT_NE(NULL, p) {
		TH_LOG("processes must list the mapper");
	}
	assert_ju64(_metadata, p, "rss_bytes", 3 * self->page, "the mapper");
	assert_ju64(_metadata, p, "regions_open", 1, "the mapper");
	free_run(&r);
}

/* ========================================================= the leaks */

TEST_F(stat_setup, leaks_lists_the_region_nobody_maps)
{
	static const char *const args[] = { "--leaks", NULL };
	static const char *const jargs[] = { "--leaks", "--json", NULL };
	struct tool_run r = run_tool(args, NULL);
	const struct jval *leaks, *leak;
	struct jval doc;
	struct row row;

	assert_ran(_metadata, &r, "--leaks");
	ASSERT_TRUE(find_row(r.out, "ID", num(self->leak_id), &row)) {
		TH_LOG("--leaks must list the open but unmapped region");
		show_run(&r);
	}
	assert_cell(_metadata, &row, "STATE", "unmapped", &r);
	assert_cell(_metadata, &row, "OPEN-BY", num(self->creator), &r);
	assert_cell(_metadata, &row, "NAME", LEAK_SHOWN, &r);
	ASSERT_FALSE(find_row(r.out, "ID", num(self->shared_id), &row)) {
		TH_LOG("--leaks must not list a region a process maps");
		show_run(&r);
	}
	free_run(&r);

	r = run_tool(jargs, NULL);
	assert_ran(_metadata, &r, "--leaks --json");
	parse_json(_metadata, &r, &doc);
	leaks = jget(&doc, "leaks");
	leak = jfind(leaks, "id", self->leak_id);
	ASSERT_NE(NULL, leak) {
		TH_LOG("--leaks --json must list the leak");
		show_run(&r);
	}
	assert_jstr(_metadata, leak, "reason", "unmapped", "the leak");
	ASSERT_EQ(NULL, jfind(leaks, "id", self->shared_id)) {
		TH_LOG("--leaks --json must not list a mapped region");
	}
	free_run(&r);
}

/* ======================================================== --watch */

/* One line from @f: a refresh of --watch --json, parsed. */
static void read_refresh(struct __test_metadata *_metadata, FILE *f,
			 struct jval *doc, long refresh)
{
	char *line = NULL;
	size_t cap = 0;

	ASSERT_LT(0, getline(&line, &cap, f)) {
		TH_LOG("--watch --count 3 must print refresh %ld", refresh);
	}
	ASSERT_TRUE(json_parse(line, doc)) {
		TH_LOG("refresh %ld is not valid JSON: %s", refresh, line);
	}
	assert_ju64(_metadata, doc, "refresh", refresh, "a refresh");
	free(line);
}

static bool id_in(const struct jval *arr, uint64_t id)
{
	uint64_t v;
	size_t i;

	for (i = 0; arr && arr->type == J_ARR && i < arr->n; i++)
		if (ju64(&arr->kids[i], &v) && v == id)
			return true;
	return false;
}

/*
 * A region opened after the first refresh is in the last one, and one of
 * the later refreshes says it was opened. The refreshes are a second
 * apart; the region is made as soon as the first one is read.
 */
TEST_F(stat_setup, watch_reports_a_new_region)
{
	static const char *const args[] = {
		"--watch", "1", "--count", "3", "--json", NULL };
	struct jval first, second, third;
	int out, fd;
	uint64_t id;
	FILE *f;
	pid_t pid;
	char *p;

	pid = spawn_tool(args, NULL, &out, NULL);
	ASSERT_LT(0, pid);
	f = fdopen(out, "r");
	read_refresh(_metadata, f, &first, 1);

	fd = ashmem_assert_create(_metadata, "stat watch region", self->page);
	p = ashmem_assert_mmap(_metadata, fd, self->page, PROT_READ | PROT_WRITE,
			       MAP_SHARED, 0);
	p[0] = 1;
	id = fd_ashmem_id(_metadata, fd);
	ASSERT_EQ(NULL, jfind(jget(&first, "regions"), "id", id));

	read_refresh(_metadata, f, &second, 2);
	read_refresh(_metadata, f, &third, 3);
	fclose(f);
	ASSERT_EQ(0, wait_code(pid));
	ASSERT_NE(NULL, jfind(jget(&third, "regions"), "id", id)) {
		TH_LOG("the last refresh must show the new region");
	}
	ASSERT_TRUE(id_in(jget(jget(&second, "changes"), "opened"), id) ||
		    id_in(jget(jget(&third, "changes"), "opened"), id)) {
		TH_LOG("a refresh must list the new region under changes.opened");
	}
	munmap(p, self->page);
	close(fd);
}

/*
 * With --leaks, a region whose resident size grows between refreshes is
 * listed as growing, by how much.
 */
TEST_F(stat_setup, watch_leaks_reports_growth)
{
	static const char *const args[] = {
		"--leaks", "--watch", "1", "--count", "3", "--json", NULL };
	const struct jval *leak;
	struct jval first, second, third;
	size_t page = self->page;
	int out, fd;
	uint64_t id;
	FILE *f;
	pid_t pid;
	char *p;

	fd = ashmem_assert_create(_metadata, "stat growing region", 4 * page);
	p = ashmem_assert_mmap(_metadata, fd, 4 * page, PROT_READ | PROT_WRITE,
			       MAP_SHARED, 0);
	p[0] = 1;
	id = fd_ashmem_id(_metadata, fd);

	pid = spawn_tool(args, NULL, &out, NULL);
	ASSERT_LT(0, pid);
	f = fdopen(out, "r");
	read_refresh(_metadata, f, &first, 1);
	ASSERT_EQ(NULL, jfind(jget(&first, "leaks"), "id", id)) {
		TH_LOG("a mapped region that did not grow is no leak");
	}
	p[page] = 1;
	p[2 * page] = 1;
	read_refresh(_metadata, f, &second, 2);
	read_refresh(_metadata, f, &third, 3);
	fclose(f);
	ASSERT_EQ(0, wait_code(pid));

	leak = jfind(jget(&third, "leaks"), "id", id);
	ASSERT_NE(NULL, leak) {
		TH_LOG("the last refresh must list the region that grew");
	}
	assert_jstr(_metadata, leak, "reason", "growing", "the growing region");
	assert_ju64(_metadata, leak, "rss_growth_bytes", 2 * page,
		    "the growing region");
	munmap(p, 4 * page);
	close(fd);
}

TEST_F(stat_setup, watch_prints_each_refresh_with_changes)
{
	static const char *const args[] = { "--watch", "0.2", "--count", "2", NULL };
	struct tool_run r = run_tool(args, NULL);
	struct row row;

	assert_ran(_metadata, &r, "--watch 0.2 --count 2");
	ASSERT_NE(NULL, strstr(r.out, "refresh 1,")) {
		show_run(&r);
	}
	ASSERT_NE(NULL, strstr(r.out, "refresh 2,")) {
		TH_LOG("--count 2 must print two refreshes");
		show_run(&r);
	}
	ASSERT_EQ(NULL, strstr(r.out, "refresh 3,"));
	/* The second refresh has a CHANGE column: unchanged regions say 0. */
	ASSERT_TRUE(find_row(strstr(r.out, "refresh 2,"), "ID",
			     num(self->shared_id), &row)) {
		show_run(&r);
	}
	assert_cell(_metadata, &row, "CHANGE", "0", &r);
	free_run(&r);
}

/* ====================================================== many regions */

#define BULK_REGIONS	2000

FIXTURE(bulk) {
	int fds[BULK_REGIONS];
	int n;
};

FIXTURE_SETUP(bulk)
{
	struct rlimit rl = { BULK_REGIONS + 64, BULK_REGIONS + 64 };
	char name[32];

	if (access(REGIONS_FILE, F_OK))
		SKIP(return, "no %s: this ashmem_linux has no debugfs statistics",
		     REGIONS_FILE);
	ASSERT_EQ(0, setrlimit(RLIMIT_NOFILE, &rl));
	for (self->n = 0; self->n < BULK_REGIONS; self->n++) {
		snprintf(name, sizeof(name), "stat bulk %d", self->n);
		self->fds[self->n] = ashmem_assert_create(_metadata, name,
							  page_size());
	}
}

FIXTURE_TEARDOWN(bulk)
{
	while (self->n > 0)
		close(self->fds[--self->n]);
}

/* Thousands of regions, every one of them found with its holder. */
TEST_F_TIMEOUT(bulk, thousands_of_regions_are_all_listed, 120)
{
	static const char *const args[] = { "--json", NULL };
	struct tool_run r = run_tool(args, NULL);
	const struct jval *regions, *reg, *name;
	int found = 0;
	struct jval doc;
	size_t i;

	assert_ran(_metadata, &r, "--json");
	ASSERT_TRUE(json_parse(r.out, &doc)) {
		TH_LOG("--json must print valid JSON");
	}
	regions = jget(&doc, "regions");
	ASSERT_TRUE(regions && regions->type == J_ARR);
	for (i = 0; i < regions->n; i++) {
		reg = &regions->kids[i];
		name = jget(reg, "name");
		if (!name || name->type != J_STR ||
		    strncmp(name->str, "stat bulk ", 10))
			continue;
		found++;
		ASSERT_NE(NULL, jfind(jget(reg, "holders"), "pid", getpid())) {
			TH_LOG("region \"%s\" must be held by this process",
			       name->str);
		}
	}
	ASSERT_EQ(BULK_REGIONS, found) {
		TH_LOG("every region must be listed");
	}
	free_run(&r);
}

/* ============================================================ errors */

/* In the tool's child: exit PREP_FAILED, saying why, if @ok is false. */
static void prep_check(bool ok, const char *what)
{
	if (!ok) {
		fprintf(stderr, "preparing the tool's child: %s: %s\n", what,
			strerror(errno));
		_exit(PREP_FAILED);
	}
}

/* A mount namespace of our own, changes not propagated back. */
static void prep_private_mounts(void)
{
	prep_check(!unshare(CLONE_NEWNS), "unshare(CLONE_NEWNS)");
	prep_check(!mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL),
		   "making / private");
}

static void prep_no_debugfs(void)
{
	prep_private_mounts();
	prep_check(!umount2(DEBUGFS_DIR, MNT_DETACH), "umount " DEBUGFS_DIR);
}

/* No /sys/module/ashmem_linux, no /dev/ashmem: as if it were not loaded. */
static void prep_no_module(void)
{
	prep_private_mounts();
	prep_check(!mount("none", "/sys/module", "tmpfs", 0, NULL),
		   "tmpfs on /sys/module");
	prep_check(!mount("none", "/dev", "tmpfs", 0, NULL), "tmpfs on /dev");
}

static void prep_nobody(void)
{
	prep_check(!setgroups(0, NULL), "setgroups");
	prep_check(!setgid(65534), "setgid(65534)");
	prep_check(!setuid(65534), "setuid(65534)");
}

/* The tool must fail with @code and say @says on stderr. */
static void assert_fails(struct __test_metadata *_metadata,
			 const char *const *args, prep_fn prep, int code,
			 const char *says)
{
	struct tool_run r = run_tool(args, prep);

	ASSERT_NE(PREP_FAILED, r.code) {
		show_run(&r);
	}
	ASSERT_EQ(code, r.code) {
		TH_LOG("ashmem-stat must exit with %d", code);
		show_run(&r);
	}
	ASSERT_NE(NULL, strstr(r.err, says)) {
		TH_LOG("its error must say \"%s\"", says);
		show_run(&r);
	}
	ASSERT_EQ(0, r.out_len) {
		TH_LOG("a failing ashmem-stat must print nothing on stdout");
		show_run(&r);
	}
	free_run(&r);
}

TEST(fails_clearly_without_debugfs)
{
	static const char *const args[] = { NULL };

	assert_fails(_metadata, args, prep_no_debugfs, EXIT_NODEBUGFS,
		     "debugfs is not mounted");
}

TEST(fails_clearly_for_a_missing_debugfs_directory)
{
	static const char *const args[] = { "--debugfs", "/nonexistent", NULL };

	assert_fails(_metadata, args, NULL, EXIT_NODEBUGFS, "/nonexistent");
}

TEST(fails_clearly_when_the_module_is_not_loaded)
{
	static const char *const args[] = { NULL };

	assert_fails(_metadata, args, prep_no_module, EXIT_NOMODULE,
		     "ashmem_linux is not loaded");
}

TEST(fails_clearly_when_not_root)
{
	static const char *const args[] = { NULL };

	assert_fails(_metadata, args, prep_nobody, EXIT_NOPERM, "root");
}

TEST(refuses_bad_options)
{
	static const char *const bogus[] = { "--bogus", NULL };
	static const char *const zero[] = { "--watch", "0", NULL };
	static const char *const count[] = { "--count", "2", NULL };
	static const char *const sort[] = { "--sort", "colour", NULL };

	assert_fails(_metadata, bogus, NULL, EXIT_USAGE, "--help");
	assert_fails(_metadata, zero, NULL, EXIT_USAGE, "--watch");
	assert_fails(_metadata, count, NULL, EXIT_USAGE, "--count needs --watch");
	assert_fails(_metadata, sort, NULL, EXIT_USAGE, "--sort");
}

TEST_HARNESS_MAIN
