#!/bin/busybox sh
# SPDX-License-Identifier: GPL-2.0-only
# shellcheck shell=dash
#
# /init of the test bench's QEMU guests (scripts/check.sh copies it into each
# initramfs). It loads /ashmem_linux.ko (or, with /etc/ashmem-modprobe,
# ashmem_linux from /lib/modules), runs the tests (or the demo or the
# benchmark, as /etc/ashmem-bench-mode says), dumps the kernel log and
# powers off. Lines
# starting with @@ASHMEM-BENCH are markers that check.sh splits the log on.
# All of it goes to the second serial port (guest.log on the host), or the
# port the bench names (below); the kernel console keeps the first one to
# itself (console.log).

/bin/busybox --install -s /bin
export PATH=/bin
mount -t devtmpfs devtmpfs /dev
# The bench may name another port in /etc/ashmem-bench-port: arm64's virt
# machine has one UART, so check-arm64.sh uses a virtio console (/dev/hvc0),
# loading its driver from /early when the kernel has it as a module. Virtio
# ports appear asynchronously: wait up to 10 s until the port opens.
# "command exec": a plain exec whose redirection fails makes the shell, so
# PID 1, exit (a 7.3 arm64 guest panicked so once: its port existed but
# did not open yet); with command, the shell reports it and goes on.
port=$(cat /etc/ashmem-bench-port 2>/dev/null)
port=${port:-/dev/ttyS1}
for m in /early/*.ko; do
	[ -e "$m" ] && insmod "$m"
done
i=0
until [ -c "$port" ] && command exec </dev/null >"$port" 2>&1; do
	[ "$i" -ge 100 ] && break
	sleep 0.1
	i=$((i + 1))
done
if [ "$i" -ge 100 ]; then
	exec </dev/console >/dev/console 2>&1
	echo "@@ASHMEM-BENCH warning: no $port, output shares the console"
fi

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mkdir -p /dev/pts /dev/shm
mount -t devpts devpts /dev/pts
mount -t tmpfs tmpfs /dev/shm
mount -t tmpfs tmpfs /tmp
mount -t cgroup2 cgroup2 /sys/fs/cgroup
mount -t debugfs debugfs /sys/kernel/debug
mount -t tracefs tracefs /sys/kernel/tracing
ulimit -c 0
export HOME=/tmp TMPDIR=/tmp
# Settings for the tests from the bench (scripts/guest.sh: GUEST_ENV).
if [ -e /etc/ashmem-env ]; then
	# shellcheck source=/dev/null
	. /etc/ashmem-env
fi

mode=$(cat /etc/ashmem-bench-mode 2>/dev/null)
echo "@@ASHMEM-BENCH kernel $(uname -r) mode=${mode:-tests}"

# /etc/ashmem-modprobe (make dkms-check): load the module as a host does,
# by name from the module tree in /lib/modules that dkms and depmod made.
# ashmem_unload_test reloads ASHMEM_MODULE with finit_module(), which
# takes no compressed module: an .xz one is unpacked into /tmp for it.
if [ -e /etc/ashmem-modprobe ]; then
	modprobe ashmem_linux
	rc=$?
	k=/lib/modules/$(uname -r)
	ASHMEM_MODULE=$k/$(sed -n 's/^\([^:]*ashmem_linux\.ko[^:]*\):.*/\1/p' "$k/modules.dep")
	echo "@@ASHMEM-BENCH modprobe rc=$rc module=$ASHMEM_MODULE"
	case $ASHMEM_MODULE in
	*.xz) xz -dc "$ASHMEM_MODULE" >/tmp/ashmem_linux.ko && ASHMEM_MODULE=/tmp/ashmem_linux.ko ;;
	esac
else
	insmod /ashmem_linux.ko
	rc=$?
	ASHMEM_MODULE=/ashmem_linux.ko
fi
echo "@@ASHMEM-BENCH insmod rc=$rc"
export ASHMEM_MODULE

# /dev/ashmem<boot_id>, the name Android 16's libcutils opens, made as on a
# host without udev, where the package's modprobe.d install line runs
# host/ashmem-boot-id-node after loading the module (make_initramfs puts it
# where the package does). busybox sh runs it: the guests have no bash.
if [ "$rc" -eq 0 ]; then
	sh /usr/lib/ashmem-linux/ashmem-boot-id-node --unless-udev
	echo "@@ASHMEM-BENCH boot-id node rc=$?"
fi

# A kernel with kmemleak (make check-debug): forget what boot left, so that
# the scan after the run reports only what the run leaked.
leaks=/sys/kernel/debug/kmemleak
if [ -e "$leaks" ]; then
	echo clear >"$leaks"
fi

if [ "$rc" -eq 0 ]; then
	echo "@@ASHMEM-BENCH run begin"
	# shellcheck disable=SC2086 # ASHMEM_BENCH_ARGS: options, word-split
	case "$mode" in
	demo) /tests/ashmem_demo ;;
	bench) /tests/ashmem_bench ${ASHMEM_BENCH_ARGS:-} ;;
	*) /tests/run_guest.sh ;;
	esac
	echo "@@ASHMEM-BENCH run end rc=$?"
fi

# kmemleak reports an object once it stayed unreferenced, unchanged and
# older than 5 s through two scans.
if [ -e "$leaks" ]; then
	sleep 6
	echo scan >"$leaks"
	echo scan >"$leaks"
	echo "@@ASHMEM-BENCH kmemleak begin"
	cat "$leaks"
	echo "@@ASHMEM-BENCH kmemleak end"
fi

echo "@@ASHMEM-BENCH dmesg begin"
dmesg
echo "@@ASHMEM-BENCH dmesg end"
sync
poweroff -f
