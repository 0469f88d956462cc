#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# The reliability run: build a debug guest kernel from Debian's
# linux-source-6.12 (KASAN, lockdep, kmemleak, UBSAN, fault injection; see
# scripts/debug-kernel.config), build ashmem_linux.ko against it, boot it in
# QEMU (TCG) and run every kselftest plus the long reliability tests: the
# data-oracle stress test, fault injection and the fuzzer, each for
# ASHMEM_RELIABILITY_SECONDS (default 60), then a kmemleak scan. Any test
# failure, kernel report (KASAN, lockdep, UBSAN, WARNING, BUG, hung task) or
# kmemleak finding fails the run.
#
#   scripts/check-debug.sh [--kernel-only]
#
# --kernel-only builds (or finds in the cache) the debug kernel and stops.
# The kernel is cached under $ASHMEM_CACHE/debug-kernel/, keyed by the
# linux-source version and the config fragment: about 16 minutes on 2 cores
# the first time, nothing afterwards.
#
#   ASHMEM_RELIABILITY_SECONDS  run time of each long test (default 60)
#   ASHMEM_TESTS                run only these test binaries (space-separated)
#   ASHMEM_BOOT_TIMEOUT         seconds the guest may run (default 3600)

set -euo pipefail

SCRIPTS=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=scripts/lib.sh
. "$SCRIPTS/lib.sh"
# shellcheck source=scripts/guest.sh
. "$SCRIPTS/guest.sh"
ASHMEM_BOOT_TIMEOUT=${ASHMEM_BOOT_TIMEOUT:-3600}
# shellcheck source=scripts/guest-amd64.sh
. "$SCRIPTS/guest-amd64.sh"

DEBUG_FRAGMENT="$SCRIPTS/debug-kernel.config"
DEBUG_SERIES=debug
# What building a kernel needs beyond the bench's own tools.
KBUILD_PKGS=(bc bison flex libelf-dev libssl-dev)
RELIABILITY_SECONDS=${ASHMEM_RELIABILITY_SECONDS:-60}

usage() {
	sed -n '4,22s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"
	exit "${1:-0}"
}

# ---------------------------------------------------------------- the kernel

# fragment_options: the CONFIG_ lines of the fragment, "is not set" ones in
# the form .config writes them.
fragment_options() {
	grep -E '^(CONFIG_|# CONFIG_[A-Z0-9_]+ is not set)' "$DEBUG_FRAGMENT"
}

# check_fragment_survived TREE: every option of the fragment is in TREE's
# .config as written (olddefconfig silently drops what a dependency
# refuses).
check_fragment_survived() {
	local line lost=()
	while read -r line; do
		grep -qxF -e "$line" "$1/.config" || lost+=("$line")
	done < <(fragment_options)
	((${#lost[@]} == 0)) && return 0
	printf 'lost: %s\n' "${lost[@]}" >&2
	die "the debug kernel's .config lacks ${#lost[@]} option(s) of $DEBUG_FRAGMENT"
}

# configure_debug_kernel TREE: defconfig + kvm_guest.config + the fragment.
configure_debug_kernel() {
	local tree=$1
	make -C "$tree" -s x86_64_defconfig
	make -C "$tree" -s kvm_guest.config
	(cd "$tree" && scripts/kconfig/merge_config.sh -m -O . .config "$DEBUG_FRAGMENT") >/dev/null
	make -C "$tree" -s olddefconfig
	check_fragment_survived "$tree"
}

# debug_kernel_ensure: set DEBUG_TREE to a built debug kernel tree (bzImage
# and what out-of-tree modules build against) and DEBUG_KVER to its
# release; build it first when the cache has none for this source version
# and fragment.
DEBUG_TREE=
DEBUG_KVER=
debug_kernel_ensure() {
	local key dir lockfd t0
	ksrc_deb
	key="$KSRC_VER-$(sha256sum "$DEBUG_FRAGMENT" | cut -c1-12)"
	dir="$ASHMEM_CACHE/debug-kernel/$key"
	mkdir -p "$ASHMEM_CACHE/debug-kernel"
	exec {lockfd}>"$dir.lock"
	flock "$lockfd"
	if [[ ! -e $dir/.complete ]]; then
		ensure_pkgs "${KBUILD_PKGS[@]}"
		# Other versions' or fragments' trees are 4 GB each: keep this one.
		find "$ASHMEM_CACHE/debug-kernel" -mindepth 1 -maxdepth 1 ! -name "$key*" \
			-exec rm -rf {} + 2>/dev/null || true
		# Built in place: kbuild records absolute paths, so the tree must
		# not move afterwards. .complete marks a finished build.
		rm -rf "$dir"
		mkdir -p "$dir"
		t0=$(now)
		msg "debug kernel: unpacking linux-source-6.12 $KSRC_VER"
		ksrc_untar "$dir"
		configure_debug_kernel "$dir"
		msg "debug kernel: building bzImage and modules_prepare ($(nproc) jobs, about 16 min on 2 cores; log: $dir.build.log)"
		if ! make -C "$dir" -j"$(nproc)" bzImage modules_prepare >"$dir.build.log" 2>&1; then
			tail -n 40 "$dir.build.log" >&2
			die "the debug kernel did not build (log: $dir.build.log)"
		fi
		# Out-of-tree modpost reads Module.symvers; the kernel proper's
		# exports are all there is (the fragment builds no modules).
		cp "$dir/vmlinux.symvers" "$dir/Module.symvers"
		touch "$dir/.complete"
		msg "debug kernel: built in $(elapsed "$t0")s"
	fi
	exec {lockfd}>&-
	DEBUG_TREE=$dir
	DEBUG_KVER=$(cat "$dir/include/config/kernel.release")
}

# ---------------------------------------------------------------- main

main() {
	local kernel_only=0
	while (($#)); do
		case $1 in
		--kernel-only) kernel_only=1 ;;
		-h | --help) usage 0 ;;
		*) usage 2 >&2 ;;
		esac
		shift
	done
	require_root
	arm_cleanup
	ensure_host_tools
	debug_kernel_ensure
	msg "debug kernel $DEBUG_KVER in $DEBUG_TREE"
	((kernel_only == 0)) || return 0
}

# "exit" on the same line: bash reads scripts as it runs them, and must not
# read on into a file that was edited meanwhile.
main "$@"; exit
