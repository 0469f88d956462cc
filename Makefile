# SPDX-License-Identifier: GPL-2.0-only
#
# Out-of-tree build of ashmem_linux.ko. The kernel's own build system does
# the work (see Kbuild); the other targets drive the test bench in scripts/.

KVER ?= $(shell uname -r)
KDIR ?= /lib/modules/$(KVER)/build

all: modules

modules:
	$(MAKE) -C $(KDIR) M=$(CURDIR) modules

modules_install: modules
	$(MAKE) -C $(KDIR) M=$(CURDIR) modules_install
	depmod -a $(KVER)

install: modules_install install-host

# What makes /dev/ashmem<boot_id>, the name Android 16's libcutils opens,
# at every load of the module (host/): the udev rule, and for hosts without
# udev the modprobe.d lines and the script they run. debian/rules installs
# them the same way. Into a live system (no DESTDIR), udev rereads its rules
# and, if the module is loaded, makes the name at once.
UDEVDIR ?= /lib/udev
MODPROBEDIR ?= /lib/modprobe.d
HELPERDIR = /usr/lib/ashmem-linux

install-host:
	install -D -m 0644 host/60-ashmem-linux.rules $(DESTDIR)$(UDEVDIR)/rules.d/60-ashmem-linux.rules
	install -D -m 0644 host/ashmem-linux-modprobe.conf $(DESTDIR)$(MODPROBEDIR)/ashmem-linux.conf
	install -D -m 0755 host/ashmem-boot-id-node $(DESTDIR)$(HELPERDIR)/ashmem-boot-id-node
	@if [ -z "$(DESTDIR)" ] && [ -e /sys/class/misc/ashmem ]; then \
		if command -v udevadm >/dev/null && [ -S /run/udev/control ]; then \
			udevadm control --reload && \
			udevadm trigger --action=add --subsystem-match=misc --sysname-match=ashmem; \
		else \
			$(HELPERDIR)/ashmem-boot-id-node; \
		fi; \
	fi

# The module's version (ASHMEM_VERSION in ashmem.c): DKMS and the Debian
# package are named after it.
ASHMEM_VERSION := $(shell sed -n 's/.*define ASHMEM_VERSION[^"]*"\([^"]*\)".*/\1/p' ashmem.c)

# The module's sources as DKMS builds them, installed into
# $(DESTDIR)/usr/src/ashmem-linux-<version>, where "dkms add" finds them
# (install-host adds what makes the device's second name).
# debian/rules and scripts/dkms-check.sh install them the same way.
DKMS_SOURCES = $(sort $(wildcard *.c *.h)) Kbuild Makefile dkms.conf uapi
DKMS_DIR = $(DESTDIR)/usr/src/ashmem-linux-$(ASHMEM_VERSION)

dkms-source:
	install -d $(DKMS_DIR)
	cp -R $(DKMS_SOURCES) $(DKMS_DIR)/

# Works without kernel headers too, and in a DKMS copy that has no tests/.
clean:
	rm -rf *.o *.ko *.mod *.mod.c .*.cmd modules.order Module.symvers .tmp_versions
	if [ -d tests ]; then $(MAKE) -C tests clean; fi

# Build, boot and test in QEMU guests: every kernel of the matrix (Debian
# 6.1, 6.12, sid's 7.2 and trixie-backports' 7.3), or those named in
# KERNELS (e.g. make check KERNELS="6.12 7.3").
check:
	scripts/check.sh $(KERNELS)

# Link check for Debian's 6.16 to 7.1 images, which have no headers to
# build against: the imports of the 6.12 and 7.3 builds must be exported
# there with the same BTF prototypes (KERNELS="6.19 7.0" for some).
check-abi:
	scripts/check-abi.sh $(KERNELS)

# The tests, and a minute each of the data-oracle stress test, fault
# injection and the fuzzer, on a debug kernel built from Debian's
# linux-source-6.12 (KASAN, lockdep, kmemleak, UBSAN; cached after the first
# build, under 20 minutes on 2 idle cores). Any kernel report or leak fails it.
check-debug:
	scripts/check.sh --debug

# One guest, one short example program that shows what ashmem does.
demo:
	scripts/check.sh --demo $(KERNELS)

# The benchmark in the same guests as check; tables, plot and raw figures
# land in the run directory (scripts/bench-report.sh).
bench:
	scripts/check.sh --bench $(KERNELS)

# The kselftests on Debian's arm64 kernels (4K and 16K pages), cross-built
# and booted in qemu-system-aarch64.
check-arm64:
	scripts/check-arm64.sh $(KERNELS)

# The benchmark in the same arm64 guests (TCG timings: compare kernels of
# one run only).
bench-arm64:
	scripts/check-arm64.sh --bench $(KERNELS)

# checkpatch.pl --strict and sparse (C=2) on the driver.
lint:
	scripts/lint.sh

# The real dkms tool in a Debian 12 chroot: add, build, install for the 6.1
# and 6.12 headers, autoinstall on a kernel upgrade, then each kernel boots
# in QEMU, loads the DKMS-built module with modprobe and runs the tests;
# dkms remove must leave nothing behind.
dkms-check:
	scripts/dkms-check.sh $(KERNELS)

# The Debian package ashmem-linux-dkms_<version>_all.deb (into build/deb/),
# checked by lintian, then installed, verified and purged in the chroot.
deb:
	scripts/deb.sh

.PHONY: all modules modules_install install install-host clean check check-abi check-debug demo bench check-arm64 bench-arm64 lint \
	dkms-source dkms-check deb
