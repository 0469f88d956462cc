// SPDX-License-Identifier: GPL-2.0-only
/*
 * Hostile input: a bounded random-operation fuzzer, and targeted races.
 *
 * The fuzzer keeps a pool of regions in every state a region can be in
 * (fresh, named, sized, mapped, partly unpinned, purged, prot-narrowed) and
 * throws random operations at them: every ioctl, with boundary values, bad,
 * unmapped, read-only and kernel pointers, the other word size's command
 * numbers and command numbers no driver knows; mmap, munmap, mprotect,
 * read, lseek, dup and close with random arguments. Each call must succeed
 * or fail with an errno the ABI gives that call, and where a small model of
 * the region (size, mapped yet, prot mask) decides the outcome, with that
 * outcome. Child processes fuzz, so that the test survives whatever they
 * do; userspace only ever touches memory it knows is mapped, so a signal in
 * a child is a driver problem too. The run ends with a leak check against
 * /sys/kernel/debug/ashmem/stats.
 *
 * The races each pit two paths against each other and check the invariant
 * a lock must keep: a name is read whole; once mapped, name and size stay;
 * the backing file is as large as the mapping; pinned data survives
 * concurrent unpin, purge and fork.
 *
 * Built twice: as a 64-bit program and with -m32, where every ioctl goes
 * through the driver's compat_ioctl.
 */
#define _GNU_SOURCE
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <sys/personality.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>

#include "kselftest_harness.h"
#include "ashmem_util.h"

/* Children fuzzing at once: the guests have two CPUs. */
#define FUZZ_CHILDREN		2
#define FUZZ_SLOTS		24	/* open fds per child */
#define FUZZ_MAPS		32	/* live mappings per child */
#define FUZZ_REPORTS		20	/* unexpected outcomes printed per child */

/* The races run a few seconds at most, even in a long reliability run. */
#define RACE_MAX_SECONDS	4

/* The other word size's encodings of the commands that carry a long. */
#define CMD_SET_SIZE_32		_IOW(__ASHMEMIOC, 3, uint32_t)
#define CMD_SET_SIZE_64		_IOW(__ASHMEMIOC, 3, uint64_t)
#define CMD_SET_PROT_32		_IOW(__ASHMEMIOC, 5, uint32_t)
#define CMD_SET_PROT_64		_IOW(__ASHMEMIOC, 5, uint64_t)
#define CMD_FILE_ID_32		_IOR(__ASHMEMIOC, 11, uint32_t)
#define CMD_FILE_ID_64		_IOR(__ASHMEMIOC, 11, uint64_t)

static bool is_64bit(void)
{
	return sizeof(long) == 8;
}

static unsigned int race_seconds(void)
{
	unsigned int s = reliability_seconds();

	return s < RACE_MAX_SECONDS ? s : RACE_MAX_SECONDS;
}

/* The "regions" count of the debugfs stats, or -1 without debugfs. */
static long stats_regions(void)
{
	return flat_key(ASHMEM_DEBUGFS_STATS, "regions");
}

/* Region release runs as the last reference goes: allow it a moment. */
static long stats_regions_settle(long want)
{
	double end = monotonic_seconds() + 5;
	long now;

	do {
		now = stats_regions();
		if (now == want)
			break;
		usleep(10000);
	} while (monotonic_seconds() < end);
	return now;
}

/* ================================================================ fuzzer */

/* Errnos a call may fail with, as a bit set. */
enum {
	E_INVAL = 1 << 0, E_FAULT = 1 << 1, E_PERM = 1 << 2, E_NOTTY = 1 << 3,
	E_BADF = 1 << 4, E_NOMEM = 1 << 5, E_NXIO = 1 << 6, E_ACCES = 1 << 7,
	E_OVERFLOW = 1 << 8, E_OPNOTSUPP = 1 << 9, E_MFILE = 1 << 10,
};

static const int errno_of_bit[] = {
	EINVAL, EFAULT, EPERM, ENOTTY, EBADF, ENOMEM, ENXIO, EACCES,
	EOVERFLOW, EOPNOTSUPP, EMFILE,
};

static bool errno_allowed(int err, unsigned int set)
{
	size_t i;

	for (i = 0; i < sizeof(errno_of_bit) / sizeof(errno_of_bit[0]); i++)
		if ((set & (1u << i)) && errno_of_bit[i] == err)
			return true;
	return false;
}

/* What the model says a call must do. */
#define WANT_ANY	(-1)	/* succeed or fail with an allowed errno */
#define WANT_OK		0	/* succeed */
/* any other value: fail with that errno */

struct fuzz_counts {
	unsigned long calls;
	unsigned long ok;
	unsigned long errors;
	unsigned long unexpected;
};

/* What the fuzzer knows of one region. */
struct fuzz_region {
	uint64_t size;
	bool backed;		/* mapped once: name and size are frozen */
	unsigned long mask;
	int refs;		/* slots holding an fd of it */
};

struct fuzz_slot {
	int fd;			/* -1: empty */
	int reg;
};

struct fuzz_map {
	char *addr;		/* NULL: unused */
	size_t len;
	int prot;
	unsigned long may;	/* the prot mask when it was mapped */
};

/* Pointer arena: two valid pages, a hole, a PROT_NONE and a read-only page. */
enum { ARENA_VALID, ARENA_HOLE = 2, ARENA_NONE, ARENA_RDONLY, ARENA_PAGES };

struct fuzz {
	uint64_t rng;
	size_t page;
	bool root;
	bool rie;		/* READ_IMPLIES_EXEC personality */
	bool noexec;		/* /dev is mounted noexec: no PROT_EXEC maps */
	char *arena;
	struct fuzz_slot slot[FUZZ_SLOTS];
	struct fuzz_region reg[FUZZ_SLOTS];
	struct fuzz_map map[FUZZ_MAPS];
	struct fuzz_counts *counts;
	char desc[256];		/* the current call, for reports */
};

static uint64_t rnd(struct fuzz *f)
{
	f->rng ^= f->rng << 13;
	f->rng ^= f->rng >> 7;
	f->rng ^= f->rng << 17;
	return f->rng;
}

static uint64_t rnd_below(struct fuzz *f, uint64_t n)
{
	return n ? rnd(f) % n : 0;
}

static bool chance(struct fuzz *f, unsigned int percent)
{
	return rnd_below(f, 100) < percent;
}

static uint64_t page_align(struct fuzz *f, uint64_t v)
{
	return (v + f->page - 1) & ~((uint64_t)f->page - 1);
}

/* A boundary value for a size, offset or length, near @size where it can. */
static uint64_t fuzz_boundary(struct fuzz *f, uint64_t size)
{
	uint64_t page = f->page;
	uint64_t v[] = {
		0, 1, page - 1, page, page + 1, size, size + 1,
		page_align(f, size), page_align(f, size) + page,
		1ULL << 31, (1ULL << 32) - 1, 1ULL << 32, (1ULL << 32) - page,
		SIZE_MAX, LONG_MAX, (uint64_t)LONG_MAX + 1, -page, -1,
		(uint64_t)-2 * page, rnd(f), rnd(f) & ~(page - 1),
	};

	return v[rnd_below(f, sizeof(v) / sizeof(v[0]))];
}

/* A length for mmap, read or a pin range: mostly plausible, else hostile. */
static uint64_t fuzz_len(struct fuzz *f, uint64_t size)
{
	if (chance(f, 70))
		return (rnd_below(f, 8) + 1) * f->page;
	return fuzz_boundary(f, size);
}

static void fuzz_report(struct fuzz *f, const char *fmt, ...)
{
	va_list ap;

	f->counts->unexpected++;
	if (f->counts->unexpected > FUZZ_REPORTS)
		return;
	fprintf(stderr, "# fuzz %d: %s: ", (int)getpid(), f->desc);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/*
 * Count one call and check its outcome: @ret < 0 is a failure with @err.
 * @want is WANT_ANY, WANT_OK or the errno the call must fail with; @allowed
 * is the set of errnos the call may fail with at all.
 */
static void fuzz_check(struct fuzz *f, long ret, int err, int want,
		       unsigned int allowed)
{
	f->counts->calls++;
	if (ret >= 0) {
		f->counts->ok++;
		if (want > 0)
			fuzz_report(f, "succeeded (%ld), must fail with %s",
				    ret, errname(want));
		return;
	}
	f->counts->errors++;
	if (want == WANT_OK && err != ENOMEM)
		fuzz_report(f, "failed with %s, must succeed", errname(err));
	else if (want > 0 && err != want)
		fuzz_report(f, "failed with %s, must fail with %s",
			    errname(err), errname(want));
	else if (!errno_allowed(err, allowed))
		fuzz_report(f, "failed with %s, not an errno of this call",
			    errname(err));
}

/* ------------------------------------------------------------- pointers */

/* How a pointer behaves when the kernel copies @len bytes at it. */
enum fault { NO_FAULT, FAULTS, MAY_FAULT };

struct fuzz_ptr {
	char *p;
	const char *kind;
	enum fault rd;		/* when the kernel reads there */
	enum fault wr;		/* when the kernel writes there */
	bool purgeable;		/* in an ashmem mapping: may read back as zeros */
};

/* Whether any page of [@p, @p + @len) is mapped in this process. */
static bool span_unmapped(struct fuzz *f, const void *p, size_t len)
{
	uintptr_t a = (uintptr_t)p & ~((uintptr_t)f->page - 1);
	uintptr_t end = (uintptr_t)p + (len ? len : 1);
	unsigned char vec;

	if (end < (uintptr_t)p)
		return true;
	for (; a < end; a += f->page) {
		if (mincore((void *)a, f->page, &vec) == 0 || errno != ENOMEM)
			return false;
		if (a + f->page < a)
			break;
	}
	return true;
}

static struct fuzz_ptr ptr_at(const char *kind, void *p, enum fault rd,
			      enum fault wr)
{
	return (struct fuzz_ptr){ .p = p, .kind = kind, .rd = rd, .wr = wr };
}

/* An address no page of which is mapped, if mincore() agrees. */
static struct fuzz_ptr ptr_hole(struct fuzz *f, const char *kind, uintptr_t a,
				size_t len)
{
	enum fault fl = span_unmapped(f, (void *)a, len) ? FAULTS : MAY_FAULT;

	return ptr_at(kind, (void *)a, fl, fl);
}

static struct fuzz_ptr ptr_kernel(struct fuzz *f, size_t len)
{
	static const uint64_t k64[] = {
		0xffff888000000000ULL, 0xffffffff81000000ULL, 1ULL << 63,
		0xfffffffffffff000ULL, 0x00007ffffffff000ULL,
	};
	static const uint32_t k32[] = { 0xc0000000u, 0xfffff000u, 0xffffe000u };

	if (is_64bit())
		return ptr_hole(f, "kernel", (uintptr_t)k64[rnd_below(f, 5)], len);
	return ptr_hole(f, "kernel", (uintptr_t)k32[rnd_below(f, 3)], len);
}

/* A writable mapping of some region, at least @len bytes long, or NULL. */
static struct fuzz_map *rw_map(struct fuzz *f, size_t len)
{
	int i, start = rnd_below(f, FUZZ_MAPS);

	for (i = 0; i < FUZZ_MAPS; i++) {
		struct fuzz_map *m = &f->map[(start + i) % FUZZ_MAPS];

		if (m->addr && m->len >= len &&
		    (m->prot & (PROT_READ | PROT_WRITE)) ==
		    (PROT_READ | PROT_WRITE))
			return m;
	}
	return NULL;
}

/*
 * A pointer for the kernel to copy @len bytes (at most a page) at: valid,
 * misaligned, into a region's own mapping, NULL, into a hole, PROT_NONE,
 * read-only, straddling into the hole, or a kernel address.
 */
static struct fuzz_ptr fuzz_ptr(struct fuzz *f, size_t len)
{
	char *a = f->arena;
	size_t page = f->page;
	struct fuzz_map *m;
	size_t k;

	switch (rnd_below(f, 12)) {
	case 0:
		return ptr_at("misaligned", a + 1 + rnd_below(f, 7), NO_FAULT,
			      NO_FAULT);
	case 1:
		m = rw_map(f, len);
		if (m) {
			struct fuzz_ptr p = ptr_at("mapping",
						   m->addr + rnd_below(f, m->len - len + 1),
						   NO_FAULT, NO_FAULT);

			p.purgeable = true;
			return p;
		}
		break;
	case 2:
		return ptr_at("NULL", NULL, FAULTS, FAULTS);
	case 3:
		return ptr_hole(f, "unmapped", (uintptr_t)(a + ARENA_HOLE * page), len);
	case 4:
		return ptr_at("PROT_NONE", a + ARENA_NONE * page, FAULTS, FAULTS);
	case 5:
		return ptr_at("read-only", a + ARENA_RDONLY * page, NO_FAULT, FAULTS);
	case 6:
		k = 1 + rnd_below(f, len > 1 ? len - 1 : 1);
		return ptr_at("straddling", a + ARENA_HOLE * page - k, MAY_FAULT,
			      MAY_FAULT);
	case 7:
		return ptr_kernel(f, len);
	}
	return ptr_at("valid", a, NO_FAULT, NO_FAULT);
}

/* The arena; its valid pages end in non-NUL bytes, so names straddle. */
static int fuzz_arena(struct fuzz *f)
{
	size_t page = f->page;
	char *a = mmap(NULL, ARENA_PAGES * page, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (a == MAP_FAILED)
		return -1;
	memset(a, 'S', ARENA_PAGES * page);
	if (munmap(a + ARENA_HOLE * page, page) ||
	    mprotect(a + ARENA_NONE * page, page, PROT_NONE) ||
	    mprotect(a + ARENA_RDONLY * page, page, PROT_READ))
		return -1;
	f->arena = a;
	return 0;
}

/* Put a random NUL-terminated (or not) name into the valid pages. */
static void fuzz_fill_name(struct fuzz *f)
{
	size_t n = rnd_below(f, ASHMEM_NAME_LEN + 8), i;

	for (i = 0; i < n; i++)
		f->arena[i] = 'a' + rnd_below(f, 26);
	f->arena[n] = chance(f, 90) ? '\0' : 'x';
}

/* ------------------------------------------------------------ the pool */

static struct fuzz_slot *pick_slot(struct fuzz *f)
{
	return &f->slot[rnd_below(f, FUZZ_SLOTS)];
}

static struct fuzz_region *reg_of(struct fuzz *f, struct fuzz_slot *s)
{
	return &f->reg[s->reg];
}

static void fuzz_open(struct fuzz *f, struct fuzz_slot *s)
{
	int fd, i;

	snprintf(f->desc, sizeof(f->desc), "open(%s)", ASHMEM_DEV);
	fd = open(ASHMEM_DEV, O_RDWR | O_CLOEXEC);
	fuzz_check(f, fd, errno, WANT_ANY, E_NOMEM | E_MFILE);
	if (fd < 0)
		return;
	for (i = 0; f->reg[i].refs; i++)
		;
	f->reg[i] = (struct fuzz_region){ .mask = ASHMEM_PROT_ALL, .refs = 1 };
	s->fd = fd;
	s->reg = i;
}

static void fuzz_close(struct fuzz *f, struct fuzz_slot *s)
{
	int ret;

	snprintf(f->desc, sizeof(f->desc), "close(%d)", s->fd);
	ret = close(s->fd);
	fuzz_check(f, ret, errno, WANT_OK, 0);
	reg_of(f, s)->refs--;
	s->fd = -1;
}

static void fuzz_dup(struct fuzz *f, struct fuzz_slot *s)
{
	struct fuzz_slot *to = pick_slot(f);
	int fd;

	if (to->fd >= 0)
		return;
	snprintf(f->desc, sizeof(f->desc), "dup(%d)", s->fd);
	fd = dup(s->fd);
	fuzz_check(f, fd, errno, WANT_ANY, E_MFILE);
	if (fd < 0)
		return;
	to->fd = fd;
	to->reg = s->reg;
	reg_of(f, s)->refs++;
}

/* ---------------------------------------------------------- the ioctls */

static long fuzz_ioctl(int fd, unsigned long cmd, unsigned long arg, int *err)
{
	long ret;

	errno = 0;
	ret = syscall(SYS_ioctl, fd, cmd, arg);
	*err = errno;
	return ret;
}

static void desc_ioctl(struct fuzz *f, const char *name, int fd,
		       unsigned long cmd, const char *argdesc)
{
	snprintf(f->desc, sizeof(f->desc), "ioctl(%d, %s %#lx, %s)", fd, name,
		 cmd, argdesc);
}

static int want_copy(enum fault fl, int otherwise)
{
	if (fl == FAULTS)
		return EFAULT;
	return fl == MAY_FAULT ? WANT_ANY : otherwise;
}

static void fuzz_set_name(struct fuzz *f, struct fuzz_slot *s)
{
	struct fuzz_region *r = reg_of(f, s);
	struct fuzz_ptr p;
	long ret;
	int err;

	fuzz_fill_name(f);
	p = fuzz_ptr(f, ASHMEM_NAME_LEN);
	desc_ioctl(f, "SET_NAME", s->fd, ASHMEM_SET_NAME, p.kind);
	ret = fuzz_ioctl(s->fd, ASHMEM_SET_NAME, (unsigned long)p.p, &err);
	fuzz_check(f, ret, err, want_copy(p.rd, r->backed ? EINVAL : WANT_OK),
		   E_FAULT | E_INVAL | E_NOMEM);
}

static void fuzz_get_name(struct fuzz *f, struct fuzz_slot *s)
{
	struct fuzz_ptr p = fuzz_ptr(f, ASHMEM_NAME_LEN);
	long ret;
	int err;

	desc_ioctl(f, "GET_NAME", s->fd, ASHMEM_GET_NAME, p.kind);
	ret = fuzz_ioctl(s->fd, ASHMEM_GET_NAME, (unsigned long)p.p, &err);
	fuzz_check(f, ret, err, want_copy(p.wr, WANT_OK), E_FAULT);
	if (ret == 0 && p.wr == NO_FAULT && !memchr(p.p, '\0', ASHMEM_NAME_LEN))
		fuzz_report(f, "returned a name without a NUL in %d bytes",
			    ASHMEM_NAME_LEN);
}

/*
 * SET_SIZE's outcome: a size past the largest file or whose page rounding
 * wraps is refused, as is any size once mapped. A 32-bit caller's size is
 * zero-extended; one whose page rounding passes 4G is left open (a 32-bit
 * kernel refuses it, a 64-bit one need not).
 */
static int want_set_size(struct fuzz *f, struct fuzz_region *r,
			 unsigned long v)
{
	if (r->backed)
		return EINVAL;
	if (is_64bit() && (v > LONG_MAX || page_align(f, v) < v))
		return EINVAL;
	if (!is_64bit() && page_align(f, v) > 0xffffffffULL)
		return WANT_ANY;
	return WANT_OK;
}

static unsigned long fuzz_size_arg(struct fuzz *f, struct fuzz_region *r)
{
	if (chance(f, 70))
		return 1 + rnd_below(f, 16 * f->page);
	return fuzz_boundary(f, r->size);
}

/* @native: the caller's own encoding; else the other word size's. */
static void fuzz_set_size(struct fuzz *f, struct fuzz_slot *s, bool native)
{
	struct fuzz_region *r = reg_of(f, s);
	unsigned long v = fuzz_size_arg(f, r);
	unsigned long cmd = native ? ASHMEM_SET_SIZE :
		is_64bit() ? CMD_SET_SIZE_32 : CMD_SET_SIZE_64;
	int want = native || !is_64bit() ? want_set_size(f, r, v) : ENOTTY;
	char arg[32];
	long ret;
	int err;

	snprintf(arg, sizeof(arg), "%#lx", v);
	desc_ioctl(f, "SET_SIZE", s->fd, cmd, arg);
	ret = fuzz_ioctl(s->fd, cmd, v, &err);
	/* A 32-bit kernel does not know the 64-bit encoding. */
	if (!native && !is_64bit() && ret < 0 && err == ENOTTY)
		want = ENOTTY;
	fuzz_check(f, ret, err, want, E_INVAL | E_NOTTY);
	if (ret == 0)
		r->size = v;
}

/*
 * GET_SIZE returns the size, but the ioctl syscall returns an int: a size
 * past INT_MAX comes back truncated, and one whose low 32 bits lie in the
 * last page below 4G in the range the C library takes for an errno (as in
 * Android's driver). So the raw syscall value is compared with the size
 * truncated to an int.
 */
static void fuzz_get_size(struct fuzz *f, struct fuzz_slot *s)
{
	struct fuzz_region *r = reg_of(f, s);
	long ret, raw;
	int err;

	desc_ioctl(f, "GET_SIZE", s->fd, ASHMEM_GET_SIZE, "0");
	ret = fuzz_ioctl(s->fd, ASHMEM_GET_SIZE, 0, &err);
	raw = ret == -1 ? -err : ret;
	f->counts->calls++;
	f->counts->ok++;
	if (raw != (long)(int)r->size)
		fuzz_report(f, "returned %ld, the size set is %#llx", raw,
			    (unsigned long long)r->size);
}

static unsigned long fuzz_prot_arg(struct fuzz *f)
{
	static const unsigned long odd[] = {
		8, 0x10, 0xf, 0x80000000ul, ~0ul, ~0ul << 3, PROT_READ | 0x100,
	};

	if (chance(f, 80))
		return rnd_below(f, 8);
	return odd[rnd_below(f, sizeof(odd) / sizeof(odd[0]))];
}

static void fuzz_set_prot(struct fuzz *f, struct fuzz_slot *s, bool native)
{
	struct fuzz_region *r = reg_of(f, s);
	unsigned long v = fuzz_prot_arg(f);
	unsigned long cmd = native ? ASHMEM_SET_PROT_MASK :
		is_64bit() ? CMD_SET_PROT_32 : CMD_SET_PROT_64;
	bool subset = (r->mask & v) == v;
	int want = subset ? WANT_OK : EINVAL;
	char arg[32];
	long ret;
	int err;

	if (!native && is_64bit())
		want = ENOTTY;
	snprintf(arg, sizeof(arg), "%#lx", v);
	desc_ioctl(f, "SET_PROT_MASK", s->fd, cmd, arg);
	ret = fuzz_ioctl(s->fd, cmd, v, &err);
	if (!native && !is_64bit() && ret < 0 && err == ENOTTY)
		want = ENOTTY;
	fuzz_check(f, ret, err, want, E_INVAL | E_NOTTY);
	if (ret == 0) {
		if ((v & PROT_READ) && f->rie)
			v |= r->mask & PROT_EXEC;
		r->mask = v;
	}
}

static void fuzz_get_prot(struct fuzz *f, struct fuzz_slot *s)
{
	struct fuzz_region *r = reg_of(f, s);
	long ret;
	int err;

	desc_ioctl(f, "GET_PROT_MASK", s->fd, ASHMEM_GET_PROT_MASK, "0");
	ret = fuzz_ioctl(s->fd, ASHMEM_GET_PROT_MASK, 0, &err);
	fuzz_check(f, ret, err, WANT_OK, 0);
	if (ret >= 0 && (unsigned long)ret != r->mask)
		fuzz_report(f, "returned %#lx, the mask set is %#lx", ret,
			    r->mask);
}

/* The driver's rule for a pin range: true when it is valid. */
static bool pin_range_valid(struct fuzz *f, struct fuzz_region *r,
			    uint32_t off32, uint32_t len32)
{
	uint64_t end = page_align(f, r->size), off = off32, len = len32;

	if (!r->backed)
		return false;
	if (!len)
		len = off < end ? end - off : 0;
	if (!len || off % f->page || len % f->page)
		return false;
	return off + len <= UINT32_MAX && off + len <= end;
}

static void fuzz_pin_args(struct fuzz *f, struct fuzz_region *r,
			  struct ashmem_pin *pin)
{
	uint64_t pages = page_align(f, r->size) / f->page;

	if (chance(f, 70)) {
		pin->offset = rnd_below(f, pages + 1) * f->page;
		pin->len = chance(f, 20) ? 0 : rnd_below(f, pages + 1) * f->page;
	} else {
		pin->offset = fuzz_boundary(f, r->size);
		pin->len = fuzz_boundary(f, r->size);
	}
}

static const char *pin_cmd_name(unsigned long cmd)
{
	return cmd == ASHMEM_PIN ? "PIN" :
	       cmd == ASHMEM_UNPIN ? "UNPIN" : "GET_PIN_STATUS";
}

/* What a pin command with @pin must do: succeed, or fail with EINVAL. */
static int pin_want(struct fuzz *f, struct fuzz_region *r,
		    const struct ashmem_pin *pin)
{
	return pin_range_valid(f, r, pin->offset, pin->len) ? WANT_OK : EINVAL;
}

/*
 * A pin argument in a region's own mapping can change under the call: if
 * a page it lies in is unpinned, the other fuzzing process's
 * PURGE_ALL_CACHES (or the shrinker) may purge that page between the
 * memcpy() and the driver's copy, and the driver then reads zeros there.
 * The call must then do what one of those contents implies: WANT_ANY
 * where they disagree (the allowed errnos still hold), @want elsewhere.
 */
static int pin_want_purgeable(struct fuzz *f, struct fuzz_region *r,
			      const char *at, const struct ashmem_pin *pin,
			      int want)
{
	size_t first = f->page - ((uintptr_t)at & (f->page - 1)), i;
	unsigned int purged;

	for (purged = 1; purged < 4; purged++) {
		struct ashmem_pin seen = *pin;
		unsigned char *b = (unsigned char *)&seen;

		for (i = 0; i < sizeof(seen); i++)
			if (purged & (i < first ? 1 : 2))
				b[i] = 0;
		if (pin_want(f, r, &seen) != want)
			return WANT_ANY;
	}
	return want;
}

static void fuzz_pin(struct fuzz *f, struct fuzz_slot *s, unsigned long cmd)
{
	struct fuzz_region *r = reg_of(f, s);
	struct ashmem_pin pin;
	struct fuzz_ptr p = fuzz_ptr(f, sizeof(pin));
	char arg[96];
	long ret;
	int err, want;

	fuzz_pin_args(f, r, &pin);
	if (p.rd == NO_FAULT && p.wr == NO_FAULT)
		memcpy(p.p, &pin, sizeof(pin));
	else if (p.rd == NO_FAULT)	/* read-only: what it holds */
		memcpy(&pin, p.p, sizeof(pin));
	want = pin_want(f, r, &pin);
	if (p.purgeable)
		want = pin_want_purgeable(f, r, p.p, &pin, want);
	snprintf(arg, sizeof(arg), "%s {%#x, %#x}", p.kind, pin.offset,
		 pin.len);
	desc_ioctl(f, pin_cmd_name(cmd), s->fd, cmd, arg);
	ret = fuzz_ioctl(s->fd, cmd, (unsigned long)p.p, &err);
	fuzz_check(f, ret, err, want_copy(p.rd, want),
		   E_FAULT | E_INVAL | E_NOMEM);
	if (ret > (cmd == ASHMEM_UNPIN ? 0 : 1))
		fuzz_report(f, "returned %ld", ret);
}

static void fuzz_purge(struct fuzz *f, struct fuzz_slot *s)
{
	long ret;
	int err;

	desc_ioctl(f, "PURGE_ALL_CACHES", s->fd, ASHMEM_PURGE_ALL_CACHES, "0");
	ret = fuzz_ioctl(s->fd, ASHMEM_PURGE_ALL_CACHES, 0, &err);
	fuzz_check(f, ret, err, f->root ? WANT_OK : EPERM, E_PERM);
}

static void fuzz_file_id(struct fuzz *f, struct fuzz_slot *s, bool native)
{
	struct fuzz_region *r = reg_of(f, s);
	unsigned long cmd = native ? ASHMEM_GET_FILE_ID :
		is_64bit() ? CMD_FILE_ID_32 : CMD_FILE_ID_64;
	struct fuzz_ptr p = fuzz_ptr(f, sizeof(unsigned long));
	int want = r->backed ? want_copy(p.wr, WANT_OK) : EINVAL;
	long ret;
	int err;

	if (!native && is_64bit())
		want = ENOTTY;
	desc_ioctl(f, "GET_FILE_ID", s->fd, cmd, p.kind);
	ret = fuzz_ioctl(s->fd, cmd, (unsigned long)p.p, &err);
	if (!native && !is_64bit() && ret < 0 && err == ENOTTY)
		want = ENOTTY;
	fuzz_check(f, ret, err, want, E_INVAL | E_FAULT | E_NOTTY);
}

/* Whether the driver, at this word size, knows @cmd. */
static bool cmd_known(unsigned long cmd)
{
	static const unsigned long known[] = {
		ASHMEM_SET_NAME, ASHMEM_GET_NAME, ASHMEM_SET_SIZE,
		ASHMEM_GET_SIZE, ASHMEM_SET_PROT_MASK, ASHMEM_GET_PROT_MASK,
		ASHMEM_PIN, ASHMEM_UNPIN, ASHMEM_GET_PIN_STATUS,
		ASHMEM_PURGE_ALL_CACHES, ASHMEM_GET_FILE_ID,
		/* from a 32-bit caller, the 64-bit numbers reach them too */
		CMD_SET_SIZE_64, CMD_SET_PROT_64, CMD_FILE_ID_64,
	};
	size_t i, n = sizeof(known) / sizeof(known[0]);

	for (i = 0; i < n - (is_64bit() ? 3 : 0); i++)
		if (known[i] == cmd)
			return true;
	return false;
}

/*
 * A command no one handles: ashmem's type with a number, direction or size
 * it lacks, or another type. The other types avoid those the VFS handles
 * itself ('T' FIO*, 'X' freeze, 'f' flags, 0x94 clone, 0x15, 'v', 0).
 */
static void fuzz_unknown_cmd(struct fuzz *f, struct fuzz_slot *s)
{
	static const unsigned int types[] = { 0x01, 0x33, 0x78, 0xab, 0xff };
	static const unsigned int sizes[] = { 0, 1, 4, 8, 256, 0x3fff };
	unsigned int type = chance(f, 60) ? __ASHMEMIOC :
		types[rnd_below(f, sizeof(types) / sizeof(types[0]))];
	unsigned int nr = chance(f, 50) ? rnd_below(f, 16) : rnd_below(f, 256);
	unsigned long cmd = _IOC(rnd_below(f, 4), type, nr,
				 sizes[rnd_below(f, sizeof(sizes) / sizeof(sizes[0]))]);
	unsigned long arg = chance(f, 50) ? (unsigned long)fuzz_ptr(f, 8).p :
		(unsigned long)fuzz_boundary(f, 0);
	char a[32];
	long ret;
	int err;

	if (cmd_known(cmd))
		return;
	snprintf(a, sizeof(a), "%#lx", arg);
	desc_ioctl(f, "unknown", s->fd, cmd, a);
	ret = fuzz_ioctl(s->fd, cmd, arg, &err);
	fuzz_check(f, ret, err, ENOTTY, E_NOTTY);
}

/* Any ioctl on an fd that is not open. */
static void fuzz_bad_fd(struct fuzz *f)
{
	int fd = chance(f, 50) ? -1 : 1000 + (int)rnd_below(f, 1000);
	long ret;
	int err;

	desc_ioctl(f, "GET_SIZE", fd, ASHMEM_GET_SIZE, "0");
	ret = fuzz_ioctl(fd, ASHMEM_GET_SIZE, 0, &err);
	fuzz_check(f, ret, err, EBADF, E_BADF);
}

/* --------------------------------------------------------- memory ops */

static int prot_effective(struct fuzz *f, int prot)
{
	return (f->rie && (prot & PROT_READ)) ? prot | PROT_EXEC : prot;
}

static struct fuzz_map *free_map(struct fuzz *f)
{
	struct fuzz_map *m = &f->map[rnd_below(f, FUZZ_MAPS)];
	int i;

	for (i = 0; i < FUZZ_MAPS; i++)
		if (!f->map[i].addr)
			return &f->map[i];
	munmap(m->addr, m->len);
	m->addr = NULL;
	return m;
}

static int fuzz_map_flags(struct fuzz *f, uint64_t len, bool *plain)
{
	unsigned int r = rnd_below(f, 100);

	*plain = true;
	if (r < 45)
		return MAP_SHARED;
	if (r < 80)
		return MAP_PRIVATE;
	if (r < 85)
		return MAP_SHARED_VALIDATE;
	if (r < 90 && len <= 16 * f->page)
		return MAP_SHARED | MAP_POPULATE;
	if (r < 94)
		return MAP_PRIVATE | MAP_NORESERVE;
	*plain = false;
	return r < 97 ? MAP_SHARED_VALIDATE | MAP_SYNC : 0;
}

/*
 * What mmap() must do for plain flags and a sane length and offset: the
 * driver's checks, in its order. Otherwise whatever the VM decides.
 */
static int want_mmap(struct fuzz *f, struct fuzz_region *r, uint64_t len,
		     uint64_t off, int prot, bool plain)
{
	uint64_t pages = page_align(f, r->size) / f->page;

	if (!plain || !len || len > 64 * f->page || off % f->page ||
	    off > (1u << 30))
		return WANT_ANY;
	if (!r->size || page_align(f, len) / f->page + off / f->page > pages)
		return EINVAL;
	if (prot_effective(f, prot) & ~r->mask)
		return EPERM;
	if (f->noexec && (prot_effective(f, prot) & PROT_EXEC))
		return EPERM;
	return WANT_OK;
}

/* A mapping that worked must be one the driver's rules allow. */
static void check_mapped(struct fuzz *f, struct fuzz_region *r, uint64_t len,
			 uint64_t off, int prot)
{
	if (!r->size || page_align(f, len) + off > page_align(f, r->size))
		fuzz_report(f, "mapped past the region's %#llx bytes",
			    (unsigned long long)r->size);
	if (prot_effective(f, prot) & ~r->mask)
		fuzz_report(f, "mapped prot %#x outside the mask %#lx", prot,
			    r->mask);
}

static void fuzz_mmap(struct fuzz *f, struct fuzz_slot *s)
{
	struct fuzz_region *r = reg_of(f, s);
	struct fuzz_map *m = free_map(f);
	uint64_t len = fuzz_len(f, r->size);
	uint64_t off = chance(f, 80) ? 0 : chance(f, 50) ?
		rnd_below(f, 4) * f->page : fuzz_boundary(f, r->size);
	int prot = rnd_below(f, 8);
	bool plain;
	int flags = fuzz_map_flags(f, len, &plain);
	int want = want_mmap(f, r, len, off, prot, plain);
	void *p;

	if (len != (size_t)len)
		len = SIZE_MAX;
	if (off > INT64_MAX)
		off = INT64_MAX;
	snprintf(f->desc, sizeof(f->desc),
		 "mmap(len %#llx, prot %#x, flags %#x, fd %d, off %#llx) size %#llx mask %#lx",
		 (unsigned long long)len, prot, flags, s->fd,
		 (unsigned long long)off, (unsigned long long)r->size, r->mask);
	p = mmap64(NULL, len, prot, flags, s->fd, off);
	fuzz_check(f, p == MAP_FAILED ? -1 : 0, errno, want,
		   E_INVAL | E_PERM | E_NOMEM | E_OVERFLOW | E_OPNOTSUPP);
	if (p == MAP_FAILED)
		return;
	check_mapped(f, r, len, off, prot);
	r->backed = true;
	*m = (struct fuzz_map){ .addr = p, .len = len, .prot = prot,
				.may = r->mask & ~(f->noexec ? PROT_EXEC : 0) };
}

static struct fuzz_map *pick_map(struct fuzz *f)
{
	struct fuzz_map *m = &f->map[rnd_below(f, FUZZ_MAPS)];

	return m->addr ? m : NULL;
}

static void fuzz_munmap(struct fuzz *f)
{
	struct fuzz_map *m = pick_map(f);
	int ret;

	if (!m)
		return;
	snprintf(f->desc, sizeof(f->desc), "munmap(%p, %#zx)", m->addr, m->len);
	ret = munmap(m->addr, m->len);
	fuzz_check(f, ret, errno, WANT_OK, 0);
	m->addr = NULL;
}

/* mprotect() may not add a protection the mask had removed at mmap(). */
static void fuzz_mprotect(struct fuzz *f)
{
	struct fuzz_map *m = pick_map(f);
	int prot = chance(f, 90) ? (int)rnd_below(f, 8) : 0x10;
	int want;
	int ret;

	if (!m)
		return;
	if (prot & ~ASHMEM_PROT_ALL)
		want = WANT_ANY;
	else
		want = prot_effective(f, prot) & ~m->may ? EACCES : WANT_OK;
	snprintf(f->desc, sizeof(f->desc), "mprotect(%p, %#zx, %#x) mask at mmap %#lx",
		 m->addr, m->len, prot, m->may);
	ret = mprotect(m->addr, m->len, prot);
	fuzz_check(f, ret, errno, want, E_ACCES | E_INVAL | E_NOMEM);
	if (!ret)
		m->prot = prot;
}

/* Touch the first and last byte of a mapping, as its protection allows. */
static void fuzz_touch(struct fuzz *f)
{
	struct fuzz_map *m = pick_map(f);
	volatile char *first, *last;

	if (!m)
		return;
	first = m->addr;
	last = m->addr + m->len - 1;
	if (m->prot & PROT_WRITE) {
		*first = (char)rnd(f);
		*last = (char)rnd(f);
	} else if (m->prot & PROT_READ) {
		(void)*first;
		(void)*last;
	}
}

/*
 * read() and pread(): 0 for a size-0 region, EBADF before the first mmap,
 * EPERM without PROT_READ, else the data; EFAULT for a bad buffer.
 */
static int want_read(struct fuzz_region *r, enum fault fl, uint64_t len,
		     bool any_pos)
{
	if (fl != NO_FAULT || !len || len > SSIZE_MAX || any_pos)
		return WANT_ANY;
	if (!r->size)
		return WANT_OK;
	if (!r->backed)
		return EBADF;
	return r->mask & PROT_READ ? WANT_OK : EPERM;
}

static void fuzz_read(struct fuzz *f, struct fuzz_slot *s)
{
	struct fuzz_region *r = reg_of(f, s);
	struct fuzz_ptr p = fuzz_ptr(f, f->page);
	uint64_t len = chance(f, 70) ? rnd_below(f, f->page + 1) :
		fuzz_boundary(f, r->size);
	bool positioned = chance(f, 30);
	int64_t pos = chance(f, 70) ? (int64_t)rnd_below(f, 4 * f->page) :
		(int64_t)fuzz_boundary(f, r->size);
	ssize_t ret;

	if (p.wr != FAULTS && len > f->page)	/* the buffer holds a page */
		len = f->page;
	snprintf(f->desc, sizeof(f->desc), "%s(%d, %s, %#llx, pos %lld) size %#llx",
		 positioned ? "pread" : "read", s->fd, p.kind,
		 (unsigned long long)len, (long long)pos,
		 (unsigned long long)r->size);
	ret = positioned ? pread64(s->fd, p.p, len, pos) : read(s->fd, p.p, len);
	fuzz_check(f, ret, errno,
		   want_read(r, p.wr, len, positioned ?
			     pos < 0 || pos > INT64_MAX - (int64_t)len :
			     r->backed),
		   E_BADF | E_PERM | E_FAULT | E_INVAL);
	if (ret > 0 && (!r->size || (uint64_t)ret > len))
		fuzz_report(f, "returned %zd", ret);
}

static void fuzz_lseek(struct fuzz *f, struct fuzz_slot *s)
{
	static const int whences[] = {
		SEEK_SET, SEEK_CUR, SEEK_END, SEEK_DATA, SEEK_HOLE, 5, 42,
	};
	struct fuzz_region *r = reg_of(f, s);
	int whence = whences[rnd_below(f, sizeof(whences) / sizeof(whences[0]))];
	int64_t off = chance(f, 60) ? (int64_t)rnd_below(f, 4 * f->page) :
		(int64_t)fuzz_boundary(f, r->size);
	int want = WANT_ANY;
	off64_t ret;

	if (whence <= SEEK_HOLE && !r->size)
		want = EINVAL;
	else if (whence <= SEEK_HOLE && !r->backed)
		want = EBADF;
	snprintf(f->desc, sizeof(f->desc), "lseek(%d, %lld, %d) size %#llx",
		 s->fd, (long long)off, whence, (unsigned long long)r->size);
	ret = lseek64(s->fd, off, whence);
	fuzz_check(f, ret < 0 ? -1 : 0, errno, want, E_INVAL | E_BADF | E_NXIO);
}

/* ------------------------------------------------------------ the loop */

static void fuzz_ioctl_op(struct fuzz *f, struct fuzz_slot *s)
{
	switch (rnd_below(f, 16)) {
	case 0: fuzz_set_name(f, s); break;
	case 1: fuzz_get_name(f, s); break;
	case 2: fuzz_set_size(f, s, true); break;
	case 3: fuzz_set_size(f, s, false); break;
	case 4: fuzz_get_size(f, s); break;
	case 5: fuzz_set_prot(f, s, chance(f, 80)); break;
	case 6: fuzz_get_prot(f, s); break;
	case 7: fuzz_pin(f, s, ASHMEM_PIN); break;
	case 8: fuzz_pin(f, s, ASHMEM_UNPIN); break;
	case 9: fuzz_pin(f, s, ASHMEM_GET_PIN_STATUS); break;
	case 10: if (chance(f, 20)) fuzz_purge(f, s); break;
	case 11: fuzz_file_id(f, s, chance(f, 70)); break;
	case 12: fuzz_unknown_cmd(f, s); break;
	case 13: fuzz_bad_fd(f); break;
	default: fuzz_set_size(f, s, true); break;
	}
}

static void fuzz_one(struct fuzz *f)
{
	struct fuzz_slot *s = pick_slot(f);

	if (s->fd < 0) {
		fuzz_open(f, s);
		return;
	}
	switch (rnd_below(f, 20)) {
	case 0 ... 8: fuzz_ioctl_op(f, s); break;
	case 9 ... 11: fuzz_mmap(f, s); break;
	case 12: fuzz_munmap(f); break;
	case 13: fuzz_mprotect(f); break;
	case 14: fuzz_touch(f); break;
	case 15: fuzz_read(f, s); break;
	case 16: fuzz_lseek(f, s); break;
	case 17: fuzz_dup(f, s); break;
	case 18: if (chance(f, 30)) fuzz_close(f, s); break;
	default: fuzz_ioctl_op(f, s); break;
	}
}

struct fuzz_job {
	struct fuzz_counts *counts;
	uint64_t seed;
	double end;
};

static void fuzz_close_all(struct fuzz *f)
{
	int i;

	for (i = 0; i < FUZZ_MAPS; i++)
		if (f->map[i].addr)
			munmap(f->map[i].addr, f->map[i].len);
	for (i = 0; i < FUZZ_SLOTS; i++)
		if (f->slot[i].fd >= 0)
			fuzz_close(f, &f->slot[i]);
}

/* A noexec mount of /dev refuses PROT_EXEC mappings of the device. */
static bool dev_noexec(void)
{
	struct statvfs st;

	return !statvfs(ASHMEM_DEV, &st) && (st.f_flag & ST_NOEXEC);
}

static int fuzz_child(void *arg)
{
	struct fuzz_job *job = arg;
	static struct fuzz f;
	unsigned long n;
	int i;

	f.rng = job->seed | 1;
	f.page = page_size();
	f.root = geteuid() == 0;
	f.rie = personality(0xffffffff) & READ_IMPLIES_EXEC;
	f.noexec = dev_noexec();
	f.counts = job->counts;
	for (i = 0; i < FUZZ_SLOTS; i++)
		f.slot[i].fd = -1;
	CHILD_CHECK(!fuzz_arena(&f), "cannot set up the pointer arena");
	for (n = 0; ; n++) {
		if (!(n % 64) && monotonic_seconds() >= job->end)
			break;
		fuzz_one(&f);
	}
	fuzz_close_all(&f);
	return f.counts->unexpected ? 1 : 0;
}

static uint64_t fuzz_seed(void)
{
	const char *s = getenv("ASHMEM_FUZZ_SEED");

	if (s && *s)
		return strtoull(s, NULL, 0);
	return (uint64_t)time(NULL) * 2654435761u ^ (uint64_t)getpid() << 32;
}

static void fuzz_sum(struct fuzz_counts *sum, const struct fuzz_counts *c)
{
	sum->calls += c->calls;
	sum->ok += c->ok;
	sum->errors += c->errors;
	sum->unexpected += c->unexpected;
}

/* Fork the fuzzing children; returns how many of them died or failed. */
static int fuzz_run(struct fuzz_counts *counts, uint64_t seed,
		    unsigned int seconds)
{
	struct fuzz_job job = { .end = monotonic_seconds() + seconds };
	pid_t pid[FUZZ_CHILDREN];
	int i, status, bad = 0;

	fflush(stdout);
	fflush(stderr);
	for (i = 0; i < FUZZ_CHILDREN; i++) {
		job.counts = &counts[i];
		job.seed = seed + i * 0x9e3779b97f4a7c15ULL;
		pid[i] = fork();
		if (pid[i] == 0)
			_exit(fuzz_child(&job));
	}
	for (i = 0; i < FUZZ_CHILDREN; i++) {
		if (pid[i] < 0 || waitpid(pid[i], &status, 0) != pid[i]) {
			bad++;
			continue;
		}
		if (WIFSIGNALED(status))
			fprintf(stderr, "# fuzz child %d died of signal %d\n",
				i, WTERMSIG(status));
		if (!WIFEXITED(status) || WEXITSTATUS(status))
			bad++;
	}
	return bad;
}

FIXTURE(fuzz) {
	struct fuzz_counts *counts;
};

FIXTURE_SETUP(fuzz)
{
	self->counts = mmap(NULL, FUZZ_CHILDREN * sizeof(*self->counts),
			    PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
			    -1, 0);
	ASSERT_NE(MAP_FAILED, self->counts);
	memset(self->counts, 0, FUZZ_CHILDREN * sizeof(*self->counts));
	close(ashmem_assert_open(_metadata));
}

FIXTURE_TEARDOWN(fuzz)
{
	munmap(self->counts, FUZZ_CHILDREN * sizeof(*self->counts));
}

/*
 * Random operations on a pool of regions: every call succeeds or fails
 * with its documented errno, no child dies, and once every fd is closed
 * no region is left behind.
 */
TEST_F_TIMEOUT(fuzz, random_operations_keep_the_abi, RELIABILITY_TIMEOUT)
{
	unsigned int seconds = reliability_seconds();
	struct fuzz_counts sum = { 0 };
	uint64_t seed = fuzz_seed();
	long before = stats_regions(), after;
	int bad, i;

	ksft_print_msg("fuzz seed %#llx (ASHMEM_FUZZ_SEED to replay), %u s\n",
		       (unsigned long long)seed, seconds);
	bad = fuzz_run(self->counts, seed, seconds);
	for (i = 0; i < FUZZ_CHILDREN; i++)
		fuzz_sum(&sum, &self->counts[i]);
	ksft_print_msg("ashmem-figures: fuzz bits=%zu seconds=%u calls=%lu "
		       "ok=%lu errors=%lu unexpected=%lu\n", 8 * sizeof(long),
		       seconds, sum.calls, sum.ok, sum.errors, sum.unexpected);
	EXPECT_EQ(0, sum.unexpected) {
		TH_LOG("every call must succeed or fail with its documented errno");
	}
	EXPECT_EQ(0, bad) {
		TH_LOG("a fuzzing child died or could not run");
	}
	EXPECT_LT(0, sum.calls);
	if (before < 0) {
		ksft_print_msg("no %s: leak check skipped\n", ASHMEM_DEBUGFS_STATS);
		return;
	}
	after = stats_regions_settle(before);
	EXPECT_EQ(before, after) {
		TH_LOG("regions left open after every fd was closed: %ld before, %ld after",
		       before, after);
	}
}

/* ================================================================= races */

/* The first rule a thread saw broken, for the main thread to assert on. */
struct race {
	pthread_mutex_t lock;
	int stop;
	int mapped;		/* mmap() of the region under race returned */
	int failed;
	char msg[512];
	int fd;
	size_t page;
	double end;
};

static void race_init(struct race *r, unsigned int seconds)
{
	memset(r, 0, sizeof(*r));
	pthread_mutex_init(&r->lock, NULL);
	r->fd = -1;
	r->page = page_size();
	r->end = monotonic_seconds() + seconds;
}

static void race_fail(struct race *r, const char *fmt, ...)
{
	va_list ap;

	pthread_mutex_lock(&r->lock);
	if (!r->failed++) {
		va_start(ap, fmt);
		vsnprintf(r->msg, sizeof(r->msg), fmt, ap);
		va_end(ap);
	}
	pthread_mutex_unlock(&r->lock);
	__atomic_store_n(&r->stop, 1, __ATOMIC_RELAXED);
}

static bool race_stopped(struct race *r)
{
	return __atomic_load_n(&r->stop, __ATOMIC_RELAXED) ||
	       monotonic_seconds() >= r->end;
}

static void race_stop(struct race *r)
{
	__atomic_store_n(&r->stop, 1, __ATOMIC_RELAXED);
}

static bool race_failed(struct race *r)
{
	return __atomic_load_n(&r->failed, __ATOMIC_RELAXED);
}

/* ---------------------------------------------------- SET_NAME/GET_NAME */

/* A full-length name: ASHMEM_NAME_LEN - 1 copies of @c. */
static void full_name(char *buf, char c)
{
	memset(buf, c, ASHMEM_NAME_LEN - 1);
	buf[ASHMEM_NAME_LEN - 1] = '\0';
}

static void *name_setter(void *arg)
{
	struct race *r = arg;
	char a[ASHMEM_NAME_LEN], b[ASHMEM_NAME_LEN];
	unsigned long i;

	full_name(a, 'A');
	full_name(b, 'B');
	for (i = 0; !race_stopped(r); i++)
		if (ioctl(r->fd, ASHMEM_SET_NAME, i & 1 ? b : a))
			race_fail(r, "SET_NAME failed with %s", errname(errno));
	return NULL;
}

/* A name read back must be one whole name: 255 of 'A' or 255 of 'B'. */
static const char *name_torn(const char *buf)
{
	size_t i;

	if (buf[ASHMEM_NAME_LEN - 1] != '\0')
		return "not NUL-terminated at byte 255";
	for (i = 0; i < ASHMEM_NAME_LEN - 1; i++)
		if (buf[i] != 'A' && buf[i] != 'B')
			return "a byte of neither name (freed or stale memory?)";
	for (i = 1; i < ASHMEM_NAME_LEN - 1; i++)
		if (buf[i] != buf[0])
			return "a mix of both names";
	return NULL;
}

static void *name_getter(void *arg)
{
	struct race *r = arg;
	char buf[ASHMEM_NAME_LEN];
	const char *torn;
	unsigned long reads = 0;

	while (!race_stopped(r)) {
		memset(buf, 'Z', sizeof(buf));
		if (ioctl(r->fd, ASHMEM_GET_NAME, buf)) {
			race_fail(r, "GET_NAME failed with %s", errname(errno));
			break;
		}
		torn = name_torn(buf);
		if (torn) {
			race_fail(r, "GET_NAME read %s after %lu reads: \"%.8s...%.8s\"",
				  torn, reads, buf, buf + ASHMEM_NAME_LEN - 9);
			break;
		}
		reads++;
	}
	return NULL;
}

static void race_threads(struct __test_metadata *_metadata, struct race *r,
			 void *(*fn[])(void *), int n)
{
	pthread_t t[8];
	int i;

	for (i = 0; i < n; i++)
		ASSERT_EQ(0, pthread_create(&t[i], NULL, fn[i], r));
	for (i = 0; i < n; i++)
		pthread_join(t[i], NULL);
}

TEST_F_TIMEOUT(fuzz, get_name_racing_set_name_reads_one_whole_name,
	       RELIABILITY_TIMEOUT)
{
	void *(*fn[])(void *) = { name_setter, name_getter, name_getter };
	char a[ASHMEM_NAME_LEN];
	struct race r;

	race_init(&r, race_seconds());
	r.fd = ashmem_assert_open(_metadata);
	full_name(a, 'A');
	ashmem_assert_set_name(_metadata, r.fd, a);
	race_threads(_metadata, &r, fn, 3);
	close(r.fd);
	ASSERT_EQ(0, r.failed) {
		TH_LOG("a name read during SET_NAME must be one whole name: %s",
		       r.msg);
	}
}

/* ------------------------------------------------------- SET_NAME/mmap */

/*
 * Renames the region until SET_NAME is refused. A SET_NAME that began
 * after mmap() returned must fail with EINVAL.
 */
static void *renamer(void *arg)
{
	struct race *r = arg;
	char name[32];
	unsigned long i;
	int mapped, ret;

	for (i = 0; ; i++) {
		mapped = __atomic_load_n(&r->mapped, __ATOMIC_ACQUIRE);
		snprintf(name, sizeof(name), "race-%lu", i);
		ret = ioctl(r->fd, ASHMEM_SET_NAME, name);
		if (ret && errno != EINVAL)
			race_fail(r, "SET_NAME failed with %s", errname(errno));
		if (ret)
			break;
		if (mapped) {
			race_fail(r, "SET_NAME(\"%s\") worked after mmap() returned",
				  name);
			break;
		}
	}
	return NULL;
}

/* The name /proc/self/maps gives the mapping at @addr, or "". */
static void maps_name(void *addr, char *out, size_t len)
{
	char line[512], want[32];
	FILE *maps = fopen("/proc/self/maps", "re");
	char *p;

	*out = '\0';
	if (!maps)
		return;
	snprintf(want, sizeof(want), "%lx-", (unsigned long)addr);
	while (fgets(line, sizeof(line), maps)) {
		if (strncmp(line, want, strlen(want)))
			continue;
		p = strstr(line, "/dev/ashmem/");
		if (p) {
			p[strcspn(p, " \n")] = '\0';
			snprintf(out, len, "%s", p + strlen("/dev/ashmem/"));
		}
		break;
	}
	fclose(maps);
}

/* One round: rename while mapping; the backing file has the final name. */
static void rename_vs_mmap_round(struct __test_metadata *_metadata,
				 struct race *r)
{
	char got[ASHMEM_NAME_LEN], mapped[ASHMEM_NAME_LEN];
	pthread_t t;
	void *p;

	r->fd = ashmem_assert_create(_metadata, "race-start", r->page);
	__atomic_store_n(&r->mapped, 0, __ATOMIC_RELEASE);
	ASSERT_EQ(0, pthread_create(&t, NULL, renamer, r));
	p = ashmem_assert_mmap(_metadata, r->fd, r->page, PROT_READ,
			       MAP_SHARED, 0);
	__atomic_store_n(&r->mapped, 1, __ATOMIC_RELEASE);
	pthread_join(t, NULL);
	ASSERT_EQ(0, ioctl(r->fd, ASHMEM_GET_NAME, got));
	maps_name(p, mapped, sizeof(mapped));
	munmap(p, r->page);
	close(r->fd);
	ASSERT_STREQ(got, mapped) {
		TH_LOG("the backing file must carry the name the region froze with");
	}
}

TEST_F_TIMEOUT(fuzz, set_name_racing_mmap_fails_once_mapped,
	       RELIABILITY_TIMEOUT)
{
	struct race r;
	int rounds;

	race_init(&r, race_seconds());
	for (rounds = 0; rounds < 2000 && !r.failed; rounds++) {
		if (monotonic_seconds() >= r.end)
			break;
		rename_vs_mmap_round(_metadata, &r);
	}
	ASSERT_EQ(0, r.failed) {
		TH_LOG("once mmap() returned, SET_NAME must fail with EINVAL: %s",
		       r.msg);
	}
	ksft_print_msg("%d rename-vs-mmap rounds\n", rounds);
}

/* ------------------------------------------------------- SET_SIZE/mmap */

/* Sizes the resizer cycles through, in pages (0: a page and a byte). */
static const unsigned int resize_pages[] = { 1, 4, 8, 0, 2 };

static void *resizer(void *arg)
{
	struct race *r = arg;
	unsigned long i;
	int mapped, ret;
	size_t size;

	for (i = 0; ; i++) {
		mapped = __atomic_load_n(&r->mapped, __ATOMIC_ACQUIRE);
		if (!mapped && __atomic_load_n(&r->stop, __ATOMIC_ACQUIRE))
			break;	/* the mmap() failed */
		size = resize_pages[i % 5] ? resize_pages[i % 5] * r->page :
			r->page + 1;
		ret = ioctl(r->fd, ASHMEM_SET_SIZE, size);
		if (ret && errno != EINVAL)
			race_fail(r, "SET_SIZE failed with %s", errname(errno));
		if (ret)
			break;
		if (mapped) {
			race_fail(r, "SET_SIZE(%zu) worked after mmap() returned",
				  size);
			break;
		}
	}
	return NULL;
}

/*
 * One round: map @pages pages while the size changes. If the mapping
 * worked, it fits in the frozen size, the backing file is that size, and
 * its last page can be touched.
 */
static void resize_vs_mmap_round(struct __test_metadata *_metadata,
				 struct race *r, size_t pages)
{
	size_t len = pages * r->page, size;
	pthread_t t;
	char *p;

	r->fd = ashmem_assert_create(_metadata, "race-size", 2 * r->page);
	__atomic_store_n(&r->mapped, 0, __ATOMIC_RELEASE);
	__atomic_store_n(&r->stop, 0, __ATOMIC_RELEASE);
	ASSERT_EQ(0, pthread_create(&t, NULL, resizer, r));
	p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, r->fd, 0);
	__atomic_store_n(&r->mapped, p != MAP_FAILED, __ATOMIC_RELEASE);
	__atomic_store_n(&r->stop, 1, __ATOMIC_RELEASE);
	pthread_join(t, NULL);
	if (p == MAP_FAILED) {
		ASSERT_EQ(EINVAL, errno);
		close(r->fd);
		return;
	}
	size = ioctl(r->fd, ASHMEM_GET_SIZE, 0);
	EXPECT_LE(len, (size + r->page - 1) & ~(r->page - 1)) {
		TH_LOG("a %zu-byte mapping must fit the region's final size %zu",
		       len, size);
	}
	EXPECT_EQ((off64_t)size, lseek64(r->fd, 0, SEEK_END)) {
		TH_LOG("the backing file must be as large as the frozen size");
	}
	p[len - 1] = 1;		/* past the backing file's end: SIGBUS */
	munmap(p, len);
	close(r->fd);
}

TEST_F_TIMEOUT(fuzz, set_size_racing_mmap_never_outgrows_the_mapping,
	       RELIABILITY_TIMEOUT)
{
	struct race r;
	int rounds;

	race_init(&r, race_seconds());
	for (rounds = 0; rounds < 4000 && !r.failed; rounds++) {
		if (monotonic_seconds() >= r.end || _metadata->exit_code)
			break;
		resize_vs_mmap_round(_metadata, &r, 1 + rounds % 8);
	}
	ASSERT_EQ(0, r.failed) {
		TH_LOG("once mmap() returned, SET_SIZE must fail with EINVAL: %s",
		       r.msg);
	}
	ksft_print_msg("%d resize-vs-mmap rounds\n", rounds);
}

/* --------------------------------------------------------- close/purge */

#define CHURN_PAGES	8
#define UNMAP_QUEUE	64

/* Mappings whose fds are closed, for the unmapper to drop. */
struct churn {
	struct race r;
	pthread_mutex_t qlock;
	void *q[UNMAP_QUEUE];
	int n;
};

static void churn_queue(struct churn *c, void *p)
{
	pthread_mutex_lock(&c->qlock);
	if (c->n < UNMAP_QUEUE) {
		c->q[c->n++] = p;
		p = NULL;
	}
	pthread_mutex_unlock(&c->qlock);
	if (p)
		munmap(p, CHURN_PAGES * c->r.page);
}

/* After PIN said NOT_PURGED, the range must still hold what was written. */
static void churn_check(struct race *r, const char *p, size_t len,
			const struct ashmem_pin *pin, char seed)
{
	size_t end = pin->len ? pin->offset + pin->len : len, i;

	for (i = pin->offset; i < end; i++)
		if (p[i] != seed) {
			race_fail(r, "PIN said NOT_PURGED, but byte %zu is %#x, not %#x",
				  i, (uint8_t)p[i], (uint8_t)seed);
			return;
		}
}

/* Map a fresh region, dirty it, unpin part, maybe pin it back, close. */
static void churn_one(struct churn *c, unsigned int seed)
{
	struct race *r = &c->r;
	size_t len = CHURN_PAGES * r->page;
	struct ashmem_pin pin = { (seed % 4) * r->page, (seed % 3) * r->page };
	int fd = open(ASHMEM_DEV, O_RDWR | O_CLOEXEC);
	char *p;
	long ret;

	if (fd < 0 || ioctl(fd, ASHMEM_SET_SIZE, len)) {
		race_fail(r, "open or SET_SIZE failed with %s", errname(errno));
		goto out;
	}
	p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED) {
		race_fail(r, "mmap failed with %s", errname(errno));
		goto out;
	}
	memset(p, seed, len);
	if (ioctl(fd, ASHMEM_UNPIN, &pin))
		race_fail(r, "UNPIN failed with %s", errname(errno));
	if (seed & 1) {
		ret = ioctl(fd, ASHMEM_PIN, &pin);
		if (ret != ASHMEM_NOT_PURGED && ret != ASHMEM_WAS_PURGED)
			race_fail(r, "PIN returned %ld (%s)", ret, errname(errno));
		if (ret == ASHMEM_NOT_PURGED)
			churn_check(r, p, len, &pin, (char)seed);
	}
	churn_queue(c, p);
out:
	if (fd >= 0)
		close(fd);
}

static void *churner(void *arg)
{
	struct churn *c = arg;
	unsigned int seed = (unsigned int)(uintptr_t)&seed;

	while (!race_stopped(&c->r))
		churn_one(c, seed = seed * 1103515245 + 12345);
	return NULL;
}

static void *purger(void *arg)
{
	struct churn *c = arg;
	int fd = open(ASHMEM_DEV, O_RDWR | O_CLOEXEC);

	while (fd >= 0 && !race_stopped(&c->r))
		if (ioctl(fd, ASHMEM_PURGE_ALL_CACHES, 0) < 0)
			race_fail(&c->r, "PURGE_ALL_CACHES failed with %s",
				  errname(errno));
	if (fd >= 0)
		close(fd);
	return NULL;
}

static void *unmapper(void *arg)
{
	struct churn *c = arg;
	void *p;

	for (;;) {
		p = NULL;
		pthread_mutex_lock(&c->qlock);
		if (c->n)
			p = c->q[--c->n];
		pthread_mutex_unlock(&c->qlock);
		if (p)
			munmap(p, CHURN_PAGES * c->r.page);
		else if (race_stopped(&c->r))
			break;
		else
			usleep(100);
	}
	return NULL;
}

TEST_F_TIMEOUT(fuzz, close_racing_purge_leaves_nothing_behind,
	       RELIABILITY_TIMEOUT)
{
	void *(*fn[])(void *) = { churner, churner, purger, unmapper };
	static struct churn c;
	long before;

	if (geteuid())
		SKIP(return, "PURGE_ALL_CACHES needs CAP_SYS_ADMIN: run as root");
	before = stats_regions();
	race_init(&c.r, race_seconds());
	pthread_mutex_init(&c.qlock, NULL);
	race_threads(_metadata, &c.r, fn, 4);
	ASSERT_EQ(0, c.r.failed) {
		TH_LOG("close, unpin and munmap racing a purge must all work: %s",
		       c.r.msg);
	}
	if (before >= 0)
		ASSERT_EQ(before, stats_regions_settle(before)) {
			TH_LOG("every closed region must be released");
		}
}

/* ---------------------------------------------------------- fork/unpin */

#define FORK_PAGES	16	/* the first half stays pinned */

struct forker {
	struct race r;
	char *map;
	uint8_t seed;
};

/* Unpin and pin ranges of the second half, and purge when root. */
static void *unpinner(void *arg)
{
	struct forker *fk = arg;
	struct race *r = &fk->r;
	size_t half = FORK_PAGES / 2;
	unsigned long i;
	struct ashmem_pin pin;
	long ret;

	for (i = 0; !race_stopped(r); i++) {
		pin.offset = (half + i % half) * r->page;
		pin.len = (1 + (i / half) % (half - i % half)) * r->page;
		if (ioctl(r->fd, ASHMEM_UNPIN, &pin))
			race_fail(r, "UNPIN failed with %s", errname(errno));
		if (!(i % 4) && geteuid() == 0)
			ioctl(r->fd, ASHMEM_PURGE_ALL_CACHES, 0);
		ret = ioctl(r->fd, ASHMEM_PIN, &pin);
		if (ret != ASHMEM_NOT_PURGED && ret != ASHMEM_WAS_PURGED)
			race_fail(r, "PIN returned %ld (%s)", ret, errname(errno));
	}
	return NULL;
}

/* In the child: the pinned half holds @old; rewrite it with @new. */
static int fork_child(struct forker *fk, uint8_t old, uint8_t new)
{
	size_t len = FORK_PAGES / 2 * fk->r.page;

	if (pattern_mismatch(fk->map, 0, len, old) != -1)
		_exit(1);
	fill_pattern(fk->map, 0, len, new);
	_exit(0);
}

static void fork_round(struct __test_metadata *_metadata, struct forker *fk)
{
	size_t len = FORK_PAGES / 2 * fk->r.page;
	uint8_t next = fk->seed + 1;
	int status;
	pid_t pid;

	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0)
		fork_child(fk, fk->seed, next);
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status) && !WEXITSTATUS(status)) {
		TH_LOG("a forked child found pinned data lost (status %#x)",
		       status);
	}
	assert_pattern(_metadata, fk->map, 0, len, next,
		       "a child's write to pinned pages must survive");
	fk->seed = next;
}

TEST_F_TIMEOUT(fuzz, fork_racing_unpin_keeps_pinned_data, RELIABILITY_TIMEOUT)
{
	static struct forker fk;
	size_t len;
	pthread_t t;
	int rounds;

	race_init(&fk.r, race_seconds());
	len = FORK_PAGES * fk.r.page;
	fk.r.fd = ashmem_assert_create(_metadata, "race-fork", len);
	fk.map = ashmem_assert_mmap(_metadata, fk.r.fd, len,
				    PROT_READ | PROT_WRITE, MAP_SHARED, 0);
	fill_pattern(fk.map, 0, len, fk.seed);
	ASSERT_EQ(0, pthread_create(&t, NULL, unpinner, &fk));
	for (rounds = 0; rounds < 2000 && !race_stopped(&fk.r); rounds++) {
		fork_round(_metadata, &fk);
		if (_metadata->exit_code)
			break;
	}
	race_stop(&fk.r);
	pthread_join(t, NULL);
	munmap(fk.map, len);
	close(fk.r.fd);
	ASSERT_FALSE(race_failed(&fk.r)) {
		TH_LOG("unpin and pin racing fork must work: %s", fk.r.msg);
	}
	ksft_print_msg("%d fork-vs-unpin rounds\n", rounds);
}

TEST_HARNESS_MAIN
