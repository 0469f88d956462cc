// SPDX-License-Identifier: GPL-2.0-only
/*
 * ashmem_linux: Android's anonymous shared memory (/dev/ashmem) for stock
 * Linux kernels.
 *
 * Each open of /dev/ashmem is a region: a name, a size and a protection
 * mask, backed from its first mmap() on by a shmem file. Userspace can
 * unpin parts of a region it can afford to lose; under memory pressure the
 * shrinker purges them (ashmem_shrinker.c), and the next PIN says so.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/capability.h>
#include <linux/compat.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/miscdevice.h>
#include <linux/mm.h>
#include <linux/mman.h>
#include <linux/module.h>
#include <linux/personality.h>
#include <linux/seq_file.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/uaccess.h>
#include <linux/uio.h>
#include <linux/wait_bit.h>

#include "ashmem.h"
#include "ashmem_compat.h"
#include "ashmem_trace.h"
#include "uapi/linux/ashmem.h"

#define ASHMEM_VERSION		"1.0.0"
#define ASHMEM_PROT_ALL		(PROT_READ | PROT_WRITE | PROT_EXEC)

/* What a 32-bit process sends: size_t and unsigned long are 4 bytes there. */
#define COMPAT_ASHMEM_SET_SIZE		_IOW(__ASHMEMIOC, 3, compat_size_t)
#define COMPAT_ASHMEM_SET_PROT_MASK	_IOW(__ASHMEMIOC, 5, unsigned int)
#define COMPAT_ASHMEM_GET_FILE_ID	_IOR(__ASHMEMIOC, 11, compat_ulong_t)

static struct kmem_cache *ashmem_region_cachep;

/*
 * Two copies of shmem's file operations, each owned by this module so that
 * a file opened with them keeps the module loaded until its last fput():
 *
 * ashmem_shmem_fops: shmem's own, unchanged. Only a region's @file has
 * them; it is never handed to userspace, and mmap() maps the backing pages
 * through it with vfs_mmap(), which runs whichever hook shmem has.
 *
 * ashmem_backing_fops: shmem's, except that mapping refuses. The backing
 * inode has them, so every other open of it (a @vm_file, and
 * /proc/PID/map_files/) cannot map the pages around the region's prot mask.
 */
static struct file_operations ashmem_shmem_fops __ro_after_init; /* const after init */
static struct file_operations ashmem_backing_fops __ro_after_init; /* const after init */

/*
 * Writes to a backing file nest its i_rwsem inside a task's locks in
 * orders no other shmem inode sees; give them a lockdep class of their own.
 */
static struct lock_class_key ashmem_backing_inode_class;

void ashmem_region_put(struct ashmem_region *region)
{
	if (refcount_dec_and_test(&region->ref)) {
		kfree(region->name);
		kmem_cache_free(ashmem_region_cachep, region);
	}
}

static int ashmem_open(struct inode *inode, struct file *file)
{
	struct ashmem_region *region;
	int err;

	err = generic_file_open(inode, file);
	if (err)
		return err;

	region = kmem_cache_zalloc(ashmem_region_cachep, GFP_KERNEL_ACCOUNT);
	if (!region)
		return -ENOMEM;
	spin_lock_init(&region->lock);
	region->prot_mask = ASHMEM_PROT_ALL;
	region->ranges = RB_ROOT;
	refcount_set(&region->ref, 1);

	err = ashmem_region_register(region);
	if (err) {
		kmem_cache_free(ashmem_region_cachep, region);
		return err;
	}
	trace_ashmem_create(region);
	file->private_data = region;
	return 0;
}

/*
 * Purges punch the pieces they claimed after dropping region->lock (see
 * "Locking" in ashmem.h). Wait for those in flight, with the lock dropped:
 * once this returns, no hole lands in pages pinned before, and none uses
 * the backing file.
 */
static void ashmem_purges_wait(struct ashmem_region *region)
{
	wait_var_event(&region->purging, !atomic_read(&region->purging));
}

/*
 * Under region->lock, for a PIN: whether purges are in flight that may
 * still punch pages it pinned. If so, no new purge claims pages of the
 * region until the caller, with the lock dropped, has waited for them in
 * ashmem_pin_wait(): a region under steady reclaim cannot keep a PIN
 * waiting.
 */
static bool ashmem_pin_must_wait(struct ashmem_region *region)
{
	lockdep_assert_held(&region->lock);
	if (!atomic_read(&region->purging))
		return false;
	region->purge_waiters++;
	return true;
}

static void ashmem_pin_wait(struct ashmem_region *region)
{
	ashmem_purges_wait(region);
	spin_lock(&region->lock);
	region->purge_waiters--;
	spin_unlock(&region->lock);
}

static int ashmem_release(struct inode *inode, struct file *file)
{
	struct ashmem_region *region = file->private_data;
	struct file *backing, *vm_file;

	ashmem_region_unregister(region);
	trace_ashmem_release(region);

	spin_lock(&region->lock);
	ashmem_range_release_all(region);
	backing = region->file;
	vm_file = region->vm_file;
	region->file = NULL;
	region->vm_file = NULL;
	spin_unlock(&region->lock);

	ashmem_purges_wait(region);
	if (vm_file)
		fput(vm_file);
	if (backing)
		fput(backing);
	ashmem_region_put(region);
	return 0;
}

/**
 * ashmem_backing_file() - the backing file, for read() and llseek()
 * @region: the region
 * @reading: the caller reads the region's contents
 *
 * The backing file lives until release, so callers use it without the
 * region's lock, which a fault on a user buffer could need again through
 * mmap().
 *
 * Return: the file; NULL for a region of size 0; ERR_PTR(-EBADF) before the
 * first mmap(); ERR_PTR(-EPERM) to a reader when the prot mask lacks
 * PROT_READ.
 */
static struct file *ashmem_backing_file(struct ashmem_region *region,
					bool reading)
{
	struct file *backing;

	spin_lock(&region->lock);
	if (!region->size)
		backing = NULL;
	else if (!region->file)
		backing = ERR_PTR(-EBADF);
	else if (reading && !(region->prot_mask & PROT_READ))
		backing = ERR_PTR(-EPERM);
	else
		backing = region->file;
	spin_unlock(&region->lock);
	return backing;
}

/*
 * read() reads the backing file. The caller's buffer stays user memory all
 * the way down: a bad pointer is -EFAULT, never a kernel access.
 */
static ssize_t ashmem_read_iter(struct kiocb *iocb, struct iov_iter *iter)
{
	struct file *backing = ashmem_backing_file(iocb->ki_filp->private_data,
						   true);

	if (IS_ERR_OR_NULL(backing))
		return PTR_ERR_OR_ZERO(backing);
	return vfs_iter_read(backing, iter, &iocb->ki_pos, 0);
}

/*
 * The region keeps its own file position. SEEK_DATA and SEEK_HOLE ask shmem
 * where the data is; the rest is plain arithmetic against the size.
 */
static loff_t ashmem_llseek(struct file *file, loff_t offset, int whence)
{
	struct file *backing = ashmem_backing_file(file->private_data, false);
	loff_t pos;

	if (!backing)
		return -EINVAL;
	if (IS_ERR(backing))
		return PTR_ERR(backing);

	if (whence == SEEK_DATA || whence == SEEK_HOLE) {
		pos = vfs_llseek(backing, offset, whence);
		if (pos < 0)
			return pos;
		return vfs_setpos(file, pos, MAX_LFS_FILESIZE);
	}
	return generic_file_llseek_size(file, offset, whence, MAX_LFS_FILESIZE,
					i_size_read(file_inode(backing)));
}

static int ashmem_backing_mmap(struct file *file, struct vm_area_struct *vma)
{
	return -EPERM;
}

#ifdef ASHMEM_HAVE_MMAP_PREPARE
static int ashmem_backing_mmap_prepare(struct vm_area_desc *desc)
{
	return -EPERM;
}
#endif

/* Copy shmem's file operations twice: as they are, and refusing to map. */
static int __init ashmem_fops_init(void)
{
	struct file *probe = ashmem_shmem_file_setup("ashmem-probe", 0);

	if (IS_ERR(probe))
		return PTR_ERR(probe);
	ashmem_shmem_fops = *probe->f_op;
	fput(probe);
	ashmem_shmem_fops.owner = THIS_MODULE;

	ashmem_backing_fops = ashmem_shmem_fops;
	if (ashmem_backing_fops.mmap)
		ashmem_backing_fops.mmap = ashmem_backing_mmap;
#ifdef ASHMEM_HAVE_MMAP_PREPARE
	if (ashmem_backing_fops.mmap_prepare)
		ashmem_backing_fops.mmap_prepare = ashmem_backing_mmap_prepare;
#endif
	return 0;
}

/*
 * A new backing file, named so that maps show /dev/ashmem/<name>. The file
 * keeps shmem's operations, in this module's copy: each file opened with
 * one of its copies holds a reference on the module, which __fput() drops,
 * so the module outlives every backing file and mapping; the open region
 * already holds one, so taking another cannot fail. Later opens of the
 * inode get the refusing operations.
 */
static struct file *ashmem_backing_create(const char *name, size_t size)
{
	struct file *backing;
	struct inode *inode;

	backing = ashmem_shmem_file_setup(name, size);
	/*
	 * shmem reports a failed inode allocation as -ENOSPC, which mmap()
	 * has no meaning for; on the kernel's internal mount, which has no
	 * inode limit, it can only mean memory ran out.
	 */
	if (PTR_ERR_OR_ZERO(backing) == -ENOSPC)
		return ERR_PTR(-ENOMEM);
	if (IS_ERR(backing))
		return backing;

	inode = file_inode(backing);
	lockdep_set_class(&inode->i_rwsem, &ashmem_backing_inode_class);
	inode->i_fop = &ashmem_backing_fops;
	__module_get(THIS_MODULE);
	backing->f_op = &ashmem_shmem_fops;
	backing->f_mode |= FMODE_LSEEK;
	return backing;
}

/*
 * The file mappings made under a narrowed prot mask hold: a second file of
 * the backing inode, under the same name, made the way shmem made the
 * first (so no LSM sees an open of a path the task never named), with the
 * refusing operations and a module reference of its own.
 */
static struct file *ashmem_vm_file_create(struct file *backing)
{
	struct inode *inode = file_inode(backing);
	struct file *vm_file;

	ihold(inode);
	/* A pseudo dentry is never renamed: its name is stable. */
	vm_file = alloc_file_pseudo(inode, backing->f_path.mnt,
				    backing->f_path.dentry->d_name.name, O_RDWR,
				    &ashmem_backing_fops);
	if (IS_ERR(vm_file)) {
		iput(inode);
		return vm_file;
	}
	__module_get(THIS_MODULE);
	return vm_file;
}

static const char *ashmem_file_name(const struct ashmem_region *region)
{
	return region->name ?: ASHMEM_NAME_DEF;
}

/**
 * ashmem_backing_install() - give a region its backing file
 * @region: a region with a size and, when last looked, no backing file
 *
 * shmem allocates, and the shrinker takes region->lock, so the backing
 * file is created from a snapshot of the name and size with the lock
 * dropped. It is installed only if the region still has that name and
 * size and no other mmap() installed a file first; otherwise it is
 * dropped, and the caller looks again.
 *
 * Return: 0, or an error from creating the file.
 */
static int ashmem_backing_install(struct ashmem_region *region)
{
	char name[sizeof(ASHMEM_NAME_PREFIX) + ASHMEM_NAME_LEN];
	struct file *backing;
	size_t size;

	spin_lock(&region->lock);
	strscpy(name, ashmem_file_name(region), sizeof(name));
	size = region->size;
	spin_unlock(&region->lock);
	if (!size)
		return 0;

	backing = ashmem_backing_create(name, size);
	if (IS_ERR(backing))
		return PTR_ERR(backing);

	spin_lock(&region->lock);
	if (!region->file && region->size == size &&
	    !strcmp(name, ashmem_file_name(region)))
		swap(region->file, backing);
	spin_unlock(&region->lock);

	if (backing)
		fput(backing);
	return 0;
}

/* Give a region that has a backing file its @vm_file, unless it has one. */
static int ashmem_vm_file_install(struct ashmem_region *region,
				  struct file *backing)
{
	struct file *vm_file = ashmem_vm_file_create(backing);

	if (IS_ERR(vm_file))
		return PTR_ERR(vm_file);

	spin_lock(&region->lock);
	if (!region->vm_file)
		swap(region->vm_file, vm_file);
	spin_unlock(&region->lock);

	if (vm_file)
		fput(vm_file);
	return 0;
}

/* VM_MAY* bits the prot mask forbids, so mprotect() cannot add them later. */
static unsigned long ashmem_forbidden_may_flags(unsigned long prot_mask)
{
	unsigned long flags = 0;

	if (!(prot_mask & PROT_READ))
		flags |= VM_MAYREAD;
	if (!(prot_mask & PROT_WRITE))
		flags |= VM_MAYWRITE;
	if (!(prot_mask & PROT_EXEC))
		flags |= VM_MAYEXEC;
	return flags;
}

static int ashmem_mmap_check(struct ashmem_region *region,
			     struct vm_area_struct *vma)
{
	unsigned long region_pages = PAGE_ALIGN(region->size) >> PAGE_SHIFT;
	unsigned long allowed = calc_vm_prot_bits(region->prot_mask, 0);

	if (!region->size)
		return -EINVAL;
	if (vma_pages(vma) > region_pages ||
	    vma->vm_pgoff > region_pages - vma_pages(vma))
		return -EINVAL;
	if (vma->vm_flags & ~allowed & calc_vm_prot_bits(ASHMEM_PROT_ALL, 0))
		return -EPERM;
	return 0;
}

/*
 * A mapping holds @map_file: the backing file itself when the prot mask
 * forbids nothing (whatever maps the pages through it again, as
 * remap_file_pages() does, may map them any way the mask allows), else
 * the region's @vm_file, whose mmap refuses. A shared mapping gets its
 * pages from shmem, through @backing's unchanged hook: vfs_mmap() runs
 * shmem's ->mmap, or on kernels where shmem has only ->mmap_prepare, that
 * through compat_vma_mmap(). A private mapping is private anonymous memory
 * that only carries the backing file's name, as in Android's driver.
 */
static int ashmem_map_backing(struct file *backing, struct file *map_file,
			      struct vm_area_struct *vma)
{
	vma_set_file(vma, map_file);
	if (!(vma->vm_flags & VM_SHARED)) {
		vma_set_anonymous(vma);
		return 0;
	}
	return ashmem_vfs_mmap(backing, vma);
}

/*
 * The checks and the files are taken under region->lock; the mapping is
 * made after it is dropped: the files are fixed once they exist, and a
 * prot mask narrowed meanwhile applies to later mmap() calls, as if this one
 * had come first.
 */
static int ashmem_mmap(struct file *file, struct vm_area_struct *vma)
{
	struct ashmem_region *region = file->private_data;
	struct file *backing, *map_file;
	unsigned long forbidden;
	int err;

	for (;;) {
		spin_lock(&region->lock);
		err = ashmem_mmap_check(region, vma);
		backing = region->file;
		forbidden = ashmem_forbidden_may_flags(region->prot_mask);
		map_file = forbidden ? region->vm_file : backing;
		spin_unlock(&region->lock);
		if (err || map_file)
			break;

		if (backing)
			err = ashmem_vm_file_install(region, backing);
		else
			err = ashmem_backing_install(region);
		if (err)
			return err;
		/* Only the caller's own SET_NAME or SET_SIZE can make it retry. */
		if (fatal_signal_pending(current))
			return -EINTR;
	}
	if (err)
		return err;

	ashmem_vm_flags_clear(vma, forbidden);
	trace_ashmem_mmap(region, file_inode(backing)->i_ino, vma->vm_pgoff,
			  vma_pages(vma), vma->vm_flags & VM_SHARED);
	return ashmem_map_backing(backing, map_file, vma);
}

static long ashmem_set_name(struct ashmem_region *region,
			    const char __user *uname)
{
	const size_t prefix = strlen(ASHMEM_NAME_PREFIX);
	char buf[sizeof(ASHMEM_NAME_PREFIX) + ASHMEM_NAME_LEN];
	char *name = NULL;
	long ret, len;

	memcpy(buf, ASHMEM_NAME_PREFIX, prefix);
	len = strncpy_from_user(buf + prefix, uname, ASHMEM_NAME_LEN);
	if (len < 0)
		return -EFAULT;
	len = min(len, ASHMEM_NAME_LEN - 1);	/* longer names are truncated */
	if (len) {
		name = kmemdup_nul(buf, prefix + len, GFP_KERNEL_ACCOUNT);
		if (!name)
			return -ENOMEM;
	}

	/* Frees the old name once swapped in, the new one if refused. */
	ret = 0;
	spin_lock(&region->lock);
	if (region->file)
		ret = -EINVAL;
	else
		swap(region->name, name);
	spin_unlock(&region->lock);
	kfree(name);
	return ret;
}

static long ashmem_get_name(struct ashmem_region *region, char __user *uname)
{
	char buf[ASHMEM_NAME_LEN];
	size_t len;

	spin_lock(&region->lock);
	strscpy(buf, region->name ? region->name + strlen(ASHMEM_NAME_PREFIX) :
		ASHMEM_NAME_DEF, sizeof(buf));
	spin_unlock(&region->lock);

	len = strlen(buf) + 1;
	return copy_to_user(uname, buf, len) ? -EFAULT : 0;
}

static long ashmem_set_size(struct ashmem_region *region, size_t size)
{
	long ret = 0;

	/* Beyond this a shmem file cannot grow, nor PAGE_ALIGN() hold the size. */
	if (size > MAX_LFS_FILESIZE || PAGE_ALIGN(size) < size)
		return -EINVAL;

	spin_lock(&region->lock);
	if (region->file)
		ret = -EINVAL;
	else
		region->size = size;
	spin_unlock(&region->lock);
	return ret;
}

static long ashmem_get_size(struct ashmem_region *region)
{
	long size;

	spin_lock(&region->lock);
	size = region->size;
	spin_unlock(&region->lock);
	return size;
}

/*
 * Protection bits can only be removed. A process whose personality has
 * READ_IMPLIES_EXEC gets PROT_EXEC with PROT_READ, as mmap() would give it,
 * but only while the mask still allows it.
 */
static long ashmem_set_prot_mask(struct ashmem_region *region,
				 unsigned long prot)
{
	long ret = 0;

	spin_lock(&region->lock);
	if ((region->prot_mask & prot) != prot) {
		ret = -EINVAL;
		goto out;
	}
	if ((prot & PROT_READ) && (current->personality & READ_IMPLIES_EXEC))
		prot |= region->prot_mask & PROT_EXEC;
	region->prot_mask = prot;
out:
	spin_unlock(&region->lock);
	return ret;
}

static long ashmem_get_prot_mask(struct ashmem_region *region)
{
	long prot;

	spin_lock(&region->lock);
	prot = region->prot_mask;
	spin_unlock(&region->lock);
	return prot;
}

/**
 * ashmem_pin_pages() - turn a struct ashmem_pin into a page range
 * @region: the region, locked
 * @pin: the byte range userspace passed
 * @start: first page
 * @last: last page
 *
 * len 0 means up to the end of the region. Offset and length must be page
 * aligned, their sum must fit in 32 bits, and the range must lie within the
 * region rounded up to whole pages, which must have been mapped once.
 *
 * Return: 0 or -EINVAL.
 */
static int ashmem_pin_pages(struct ashmem_region *region,
			    const struct ashmem_pin *pin,
			    pgoff_t *start, pgoff_t *last)
{
	u64 end = PAGE_ALIGN(region->size);
	u64 offset = pin->offset, len = pin->len;

	if (!region->file)
		return -EINVAL;
	if (!len)
		len = offset < end ? end - offset : 0;
	if (!len || !PAGE_ALIGNED(offset) || !PAGE_ALIGNED(len))
		return -EINVAL;
	if (offset + len > U32_MAX || offset + len > end)
		return -EINVAL;

	*start = offset >> PAGE_SHIFT;
	*last = *start + (len >> PAGE_SHIFT) - 1;
	return 0;
}

/*
 * One PIN, UNPIN or GET_PIN_STATUS under the region's lock, handing the
 * region *@spare first if it has none; *@wait is set for a PIN that must
 * call ashmem_pin_wait(). Return: what the ioctl returns, or -EAGAIN for an
 * UNPIN or a PIN that needs a new range and finds no spare. Inline in both
 * of its calls: the first is on the path of every PIN and UNPIN.
 */
static __always_inline long ashmem_pin_locked(struct ashmem_region *region,
					      unsigned int cmd,
					      const struct ashmem_pin *pin,
					      struct ashmem_range **spare,
					      bool *wait)
{
	pgoff_t start, last;
	long ret;

	spin_lock(&region->lock);
	if (*spare)
		*spare = ashmem_range_give_spare(region, *spare);
	ret = ashmem_pin_pages(region, pin, &start, &last);
	if (ret)
		goto out;

	switch (cmd) {
	case ASHMEM_PIN:
		ret = ashmem_range_pin(region, start, last);
		if (ret == -EAGAIN)
			break;
		trace_ashmem_pin(region, start, last, ret);
		*wait = ashmem_pin_must_wait(region);
		break;
	case ASHMEM_UNPIN:
		ret = ashmem_range_unpin(region, start, last);
		if (ret != -EAGAIN)
			trace_ashmem_unpin(region, start, last, ret);
		break;
	case ASHMEM_GET_PIN_STATUS:
		ret = ashmem_range_any_unpinned(region, start, last) ?
			ASHMEM_IS_UNPINNED : ASHMEM_IS_PINNED;
		break;
	}
out:
	spin_unlock(&region->lock);
	return ret;
}

/*
 * struct ashmem_pin is two u32s, the same in 32- and 64-bit processes: it
 * is read with one 64-bit get_user(), where copy_from_user() would be a
 * call through the usercopy checks for 8 bytes on the path of every PIN and
 * UNPIN. (An inline unsafe_get_user() measured no faster, and on x86 it
 * makes the module import USER_PTR_MAX, which 6.16 does not export.)
 */
union ashmem_pin_user {
	u64 word;
	struct ashmem_pin pin;
};

static_assert(sizeof(struct ashmem_pin) == sizeof(u64));

static long ashmem_pin_ioctl(struct ashmem_region *region, unsigned int cmd,
			     struct ashmem_pin __user *upin)
{
	struct ashmem_range *spare = NULL;
	union ashmem_pin_user u;
	bool wait = false;
	long ret;

	if (get_user(u.word, (u64 __user *)upin))
		return -EFAULT;

	ret = ashmem_pin_locked(region, cmd, &u.pin, &spare, &wait);
	if (ret == -EAGAIN) {
		/* The region's first unpin, or one after a split: allocate. */
		spare = ashmem_range_alloc();
		if (!spare)
			return -ENOMEM;
		ret = ashmem_pin_locked(region, cmd, &u.pin, &spare, &wait);
		/* Another ioctl may have given the region a spare meanwhile. */
		ashmem_range_free(spare);
	}
	if (wait)
		ashmem_pin_wait(region);
	return ret;
}

static long ashmem_purge_all_caches(void)
{
	/* The initial namespace's CAP_SYS_ADMIN: a purge hits every container. */
	if (!capable(CAP_SYS_ADMIN))
		return -EPERM;
	return min_t(unsigned long, ashmem_purge_all(), LONG_MAX);
}

static long ashmem_get_file_id(struct ashmem_region *region,
			       void __user *uid, bool compat)
{
	unsigned long ino;

	spin_lock(&region->lock);
	ino = region->file ? file_inode(region->file)->i_ino : 0;
	spin_unlock(&region->lock);

	if (!ino)
		return -EINVAL;
	if (compat)
		return put_user(ino, (compat_ulong_t __user *)uid);
	return put_user(ino, (unsigned long __user *)uid);
}

static long ashmem_do_ioctl(struct file *file, unsigned int cmd,
			    unsigned long arg, bool compat)
{
	struct ashmem_region *region = file->private_data;
	void __user *uarg = (void __user *)arg;

	switch (cmd) {
	case ASHMEM_SET_NAME:
		return ashmem_set_name(region, uarg);
	case ASHMEM_GET_NAME:
		return ashmem_get_name(region, uarg);
	case ASHMEM_SET_SIZE:
		return ashmem_set_size(region, arg);
	case ASHMEM_GET_SIZE:
		return ashmem_get_size(region);
	case ASHMEM_SET_PROT_MASK:
		return ashmem_set_prot_mask(region, arg);
	case ASHMEM_GET_PROT_MASK:
		return ashmem_get_prot_mask(region);
	case ASHMEM_PIN:
	case ASHMEM_UNPIN:
	case ASHMEM_GET_PIN_STATUS:
		return ashmem_pin_ioctl(region, cmd, uarg);
	case ASHMEM_PURGE_ALL_CACHES:
		return ashmem_purge_all_caches();
	case ASHMEM_GET_FILE_ID:
		return ashmem_get_file_id(region, uarg, compat);
	}
	return -ENOTTY;
}

static long ashmem_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	return ashmem_do_ioctl(file, cmd, arg, false);
}

#ifdef CONFIG_COMPAT
/*
 * 32-bit processes encode the size_t and unsigned long arguments of
 * SET_SIZE, SET_PROT_MASK and GET_FILE_ID in their own command numbers.
 */
static long ashmem_compat_ioctl(struct file *file, unsigned int cmd,
				unsigned long arg)
{
	switch (cmd) {
	case COMPAT_ASHMEM_SET_SIZE:
		cmd = ASHMEM_SET_SIZE;
		break;
	case COMPAT_ASHMEM_SET_PROT_MASK:
		cmd = ASHMEM_SET_PROT_MASK;
		break;
	case COMPAT_ASHMEM_GET_FILE_ID:
		cmd = ASHMEM_GET_FILE_ID;
		break;
	}
	return ashmem_do_ioctl(file, cmd, (unsigned long)compat_ptr(arg), true);
}
#endif

/* /proc/PID/fdinfo/N: the backing inode once mapped, the name, the size. */
static void ashmem_show_fdinfo(struct seq_file *m, struct file *file)
{
	struct ashmem_region *region = file->private_data;

	seq_printf(m, "ashmem_id:\t%llu\n", region->id);
	spin_lock(&region->lock);
	if (region->file)
		seq_printf(m, "inode:\t%llu\n",
			   (unsigned long long)file_inode(region->file)->i_ino);
	if (region->name)
		seq_printf(m, "name:\t%s\n",
			   region->name + strlen(ASHMEM_NAME_PREFIX));
	seq_printf(m, "size:\t%zu\n", region->size);
	spin_unlock(&region->lock);
}

static const struct file_operations ashmem_fops = {
	.owner = THIS_MODULE,
	.open = ashmem_open,
	.release = ashmem_release,
	.read_iter = ashmem_read_iter,
	.llseek = ashmem_llseek,
	.mmap = ashmem_mmap,
	.unlocked_ioctl = ashmem_ioctl,
#ifdef CONFIG_COMPAT
	.compat_ioctl = ashmem_compat_ioctl,
#endif
	.show_fdinfo = ashmem_show_fdinfo,
};

static struct miscdevice ashmem_misc = {
	.minor = MISC_DYNAMIC_MINOR,
	.name = "ashmem",
	.fops = &ashmem_fops,
	.mode = 0666,
};

static int __init ashmem_init(void)
{
	int err;

	err = ashmem_fops_init();
	if (err)
		return err;
	ashmem_registry_init();

	ashmem_region_cachep = KMEM_CACHE(ashmem_region, SLAB_ACCOUNT);
	if (!ashmem_region_cachep)
		return -ENOMEM;
	err = ashmem_range_cache_init();
	if (err)
		goto err_region_cache;
	err = ashmem_shrinker_init();
	if (err)
		goto err_range_cache;
	err = misc_register(&ashmem_misc);
	if (err)
		goto err_shrinker;
	ashmem_debugfs_init();

	pr_info("version %s, /dev/%s ready\n", ASHMEM_VERSION, ashmem_misc.name);
	return 0;

err_shrinker:
	ashmem_shrinker_exit();
err_range_cache:
	ashmem_range_cache_exit();
err_region_cache:
	kmem_cache_destroy(ashmem_region_cachep);
	return err;
}

static void __exit ashmem_exit(void)
{
	misc_deregister(&ashmem_misc);
	ashmem_debugfs_exit();
	ashmem_registry_exit();
	ashmem_shrinker_exit();
	ashmem_range_cache_exit();
	kmem_cache_destroy(ashmem_region_cachep);
}

module_init(ashmem_init);
module_exit(ashmem_exit);

MODULE_DESCRIPTION("Android anonymous shared memory (/dev/ashmem)");
MODULE_AUTHOR("The ashmem_linux authors");
MODULE_LICENSE("GPL");
MODULE_VERSION(ASHMEM_VERSION);
