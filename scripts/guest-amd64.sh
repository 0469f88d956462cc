# SPDX-License-Identifier: GPL-2.0-only
# shellcheck shell=bash
# Variables set here are used by the scripts that source this file (SC2034).
# shellcheck disable=SC2034
#
# amd64 guests, sourced after lib.sh and guest.sh by check.sh and
# dkms-check.sh: the tests built with the host's compiler (64-bit and
# -m32), and one qemu-system-x86_64 boot.

BOOT_TIMEOUT=${ASHMEM_BOOT_TIMEOUT:-900}
# Guest memory in MiB (the debug kernel's guest takes more), and vCPUs.
GUEST_MEM=1024
GUEST_CPUS=2
# QEMU's CPU model: everything TCG emulates, 5-level paging included.
GUEST_CPU=max

# build_tests RUN: build the (kernel-independent) tests once and install them
# into RUN/tests-root, the /tests of every guest.
build_tests() {
	local run=$1 src="$1/src" log="$1/tests-build.log" inc
	inc="$KSRC/tools/testing/selftests"
	msg "building the tests (KSFT_INC from linux-source-6.12 $(basename "$KSRC"))"
	if ! make -C "$src/tests" -j"$(nproc)" KSFT_INC="$inc" >"$log" 2>&1 ||
		! make -C "$src/tests" install DESTDIR="$run/tests-root/tests" KSFT_INC="$inc" >>"$log" 2>&1; then
		cat "$log" >&2
		die "building the tests failed (log: $log)"
	fi
	[[ -x $run/tests-root/tests/run_guest.sh ]] || die "tests install put no run_guest.sh in /tests"
	filter_tests "$run/tests-root/tests/tests.list"
}

# Kernel command line of the guests. The kernel console (ttyS0) prints at
# full verbosity, in order, into console.log; /init writes the markers, the
# test output and the final dmesg to ttyS1 (guest.log), so kernel messages
# never split a test's output lines. A wedged guest (soft lockup, hung task)
# panics and so ends at once instead of at the timeout; panic=-1 with
# -no-reboot turns the panic into QEMU's exit.
GUEST_CMDLINE="console=ttyS0 panic=-1 log_buf_len=4M softlockup_panic=1 hung_task_panic=1 sysctl.kernel.hung_task_timeout_secs=60"

# boot_guest VMLINUZ INITRD DIR: run the guest; leaves DIR/console.log and
# DIR/guest.log, and the guest's own run time (without waiting for the lock)
# in GUEST_S.
GUEST_S=0
# thread=single: with one host thread per vCPU, TCG races the kernel's
# int3-based text patching at boot and oopses now and then. The benchmark
# needs two vCPUs that really run at once (a lock held on one CPU must show
# as a wait on the other), so it takes that risk and one host thread each.
TCG_THREAD=single
boot_guest() {
	local dir=$3 rc=0 t0
	qemu_lock "$(tcg_host_threads "$TCG_THREAD" "$GUEST_CPUS")"
	t0=$(now)
	timeout -k 10 "$BOOT_TIMEOUT" qemu-system-x86_64 -accel "tcg,thread=$TCG_THREAD" -cpu "$GUEST_CPU" \
		-m "$GUEST_MEM" -smp "$GUEST_CPUS" -nographic -no-reboot -net none \
		-serial mon:stdio -serial "file:$dir/guest.log.raw" \
		-kernel "$1" -initrd "$2" -append "$GUEST_CMDLINE" \
		</dev/null >"$dir/console.log.raw" 2>&1 || rc=$?
	GUEST_S=$(elapsed "$t0")
	guest_done "$dir"
	return "$rc"
}
