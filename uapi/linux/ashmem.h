/* SPDX-License-Identifier: GPL-2.0-only WITH Linux-syscall-note */
/*
 * Android anonymous shared memory (ashmem): the userspace ABI of /dev/ashmem.
 *
 * Every number and layout here is Android's, bit for bit: libcutils, the
 * NDK's ASharedMemory and android.os.SharedMemory issue these ioctls.
 */
#ifndef _UAPI_LINUX_ASHMEM_H
#define _UAPI_LINUX_ASHMEM_H

#include <linux/ioctl.h>
#include <linux/types.h>

#define ASHMEM_NAME_LEN		256

/* The name GET_NAME reports until SET_NAME is called. */
#define ASHMEM_NAME_DEF		"dev/ashmem"

/* Return values of ASHMEM_PIN */
#define ASHMEM_NOT_PURGED	0
#define ASHMEM_WAS_PURGED	1

/* Return values of ASHMEM_GET_PIN_STATUS */
#define ASHMEM_IS_UNPINNED	0
#define ASHMEM_IS_PINNED	1

/**
 * struct ashmem_pin - a byte range of a region, for PIN, UNPIN and
 * GET_PIN_STATUS
 * @offset: start of the range; a multiple of the page size
 * @len: length of the range, a multiple of the page size; 0 means up to the
 *	end of the region rounded up to whole pages
 */
struct ashmem_pin {
	__u32 offset;
	__u32 len;
};

#define __ASHMEMIOC		0x77

#define ASHMEM_SET_NAME		_IOW(__ASHMEMIOC, 1, char[ASHMEM_NAME_LEN])
#define ASHMEM_GET_NAME		_IOR(__ASHMEMIOC, 2, char[ASHMEM_NAME_LEN])
/* SET_SIZE and SET_PROT_MASK take their value in the argument itself. */
#define ASHMEM_SET_SIZE		_IOW(__ASHMEMIOC, 3, __kernel_size_t)
#define ASHMEM_GET_SIZE		_IO(__ASHMEMIOC, 4)
#define ASHMEM_SET_PROT_MASK	_IOW(__ASHMEMIOC, 5, unsigned long)
#define ASHMEM_GET_PROT_MASK	_IO(__ASHMEMIOC, 6)
#define ASHMEM_PIN		_IOW(__ASHMEMIOC, 7, struct ashmem_pin)
#define ASHMEM_UNPIN		_IOW(__ASHMEMIOC, 8, struct ashmem_pin)
/* GET_PIN_STATUS takes a pointer to struct ashmem_pin despite its _IO(). */
#define ASHMEM_GET_PIN_STATUS	_IO(__ASHMEMIOC, 9)
#define ASHMEM_PURGE_ALL_CACHES	_IO(__ASHMEMIOC, 10)
#define ASHMEM_GET_FILE_ID	_IOR(__ASHMEMIOC, 11, unsigned long)

#endif /* _UAPI_LINUX_ASHMEM_H */
