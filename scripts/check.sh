#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# Build ashmem_linux.ko against real Debian kernels, boot each kernel in QEMU
# (TCG) from a busybox initramfs, load the module there and run the tests.
#
#   scripts/check.sh [--demo | --bench | --debug] [SERIES...]
#
# SERIES is any of 6.1 6.12 7.2 7.3 (default: all; with --demo: 6.12). --bench
# runs the benchmark instead of the tests; scripts/bench-report.sh then
# writes the tables and the plot (ASHMEM_BENCH_OUT: also copy them there).
# --debug runs the tests on the debug kernel instead (make check-debug, see
# scripts/debug-kernel.sh): KASAN, lockdep, kmemleak, UBSAN and fault
# injection, with the reliability tests running a minute each
# (ASHMEM_RELIABILITY_SECONDS), and a kmemleak scan at the end. 6.1 and
# 6.12 are the newest matching ABIs in the host's Debian 12 suites; 7.2 is
# whatever Debian sid's linux-headers-amd64 pulls, built with its own gcc in
# a sid chroot; 7.3 is the newest 7.3 point release of trixie-backports,
# built with trixie's gcc-14 in a trixie chroot. Override with KVER_6_1=...,
# KVER_6_12=..., KVER_7_2=..., KVER_7_3=....
# The last line is "N passed, N failed[, N skipped]"; the exit status is
# non-zero when anything failed. See scripts/lib.sh for the environment.
#
#   ASHMEM_BOOT_TIMEOUT  seconds one guest may run (default 900)
#   ASHMEM_KEEP_RUNS     run directories kept under $ASHMEM_CACHE/runs (5)
#   ASHMEM_VERBOSE=1     print the whole guest output of passing kernels too
#   ASHMEM_TESTS         run only these test binaries (e.g. "ashmem_fuzz_test")

set -euo pipefail

SCRIPTS=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=scripts/lib.sh
. "$SCRIPTS/lib.sh"
# shellcheck source=scripts/guest.sh
. "$SCRIPTS/guest.sh"
# shellcheck source=scripts/guest-amd64.sh
. "$SCRIPTS/guest-amd64.sh"
# shellcheck source=scripts/debug-kernel.sh
. "$SCRIPTS/debug-kernel.sh"

usage() {
	sed -n '4,22s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"
	exit "${1:-0}"
}

# ---------------------------------------------------------------- run setup

# ---------------------------------------------------------------- per kernel

# build_module_host KVER DIR LOG: W=1 build with the host toolchain, against
# Debian's headers or the debug kernel's tree.
build_module_host() {
	local kdir="/usr/src/linux-headers-$1"
	[[ $1 != "$DEBUG_KVER" ]] || kdir=$DEBUG_TREE
	make -C "$kdir" M="$2" W=1 -j"$(nproc)" modules >"$3" 2>&1
}

# series_root SERIES: the chroot SERIES builds in (empty: on the host).
series_root() {
	case $1 in
	"$SID_SERIES") printf '%s\n' "$SID_ROOT" ;;
	"$BPO_SERIES") printf '%s\n' "$BPO_ROOT" ;;
	*) printf '\n' ;;
	esac
}

# series_lock SERIES / series_unlock SERIES: hold the chroot SERIES builds in.
series_lock() {
	case $1 in
	"$SID_SERIES") sid_lock ;;
	"$BPO_SERIES") bpo_lock ;;
	esac
}

series_unlock() {
	case $1 in
	"$SID_SERIES") sid_unlock ;;
	"$BPO_SERIES") bpo_unlock ;;
	esac
}

# build_warnings LOG: the warning lines of a build log.
build_warnings() {
	grep -i 'warning:' "$1" || true
}

# check_module KO KVER: the module exists and was built for KVER.
check_module() {
	local vermagic
	[[ -f $1 ]] || return 1
	vermagic=$(modinfo -F vermagic "$1")
	[[ $vermagic == "$2 "* ]] || {
		warn "$1 has vermagic '$vermagic', expected $2"
		return 1
	}
}

# resolve_and_fetch SERIES: set KVER to the exact release of SERIES after
# making sure its headers, compiler and vmlinuz are ready. For sid, a failed
# image download refreshes the chroot (sid drops old kernels) and resolves
# again.
KVER=
resolve_and_fetch() {
	local series=$1 kver
	if [[ $series == "$DEBUG_SERIES" ]]; then
		debug_kernel_install
		return
	fi
	if [[ $series == "$BPO_SERIES" ]]; then
		bpo_prepare_kernel "$series"
		return
	fi
	if [[ $series != "$SID_SERIES" ]]; then
		kver=$(resolve_kver "$series")
		ensure_host_kernel_build "$kver"
		fetch_vmlinuz host "$kver" || die "no kernel image package for $kver"
		KVER=$kver
		return
	fi
	sid_ensure
	sid_refresh_if_stale
	kver=$(resolve_kver "$series")
	[[ -n $kver ]] || die "cannot tell which headers linux-headers-amd64 pulls in the sid chroot"
	sid_ensure_headers "$kver"
	if ! fetch_vmlinuz sid "$kver"; then
		warn "downloading the image of $kver failed; refreshing the sid chroot"
		sid_refresh
		kver=$(resolve_kver "$series")
		sid_ensure_headers "$kver"
		fetch_vmlinuz sid "$kver" || die "no kernel image package for $kver in sid"
	fi
	sid_ensure_gcc "$kver"
	KVER=$kver
}

# series_label SERIES KVER: how results name the kernel (sid moves on).
series_label() {
	local mm
	mm=$(sed -E 's/^([0-9]+\.[0-9]+).*/\1/' <<<"$2")
	if [[ $1 == "$SID_SERIES" && $mm != "$1" ]]; then
		printf 'sid:%s\n' "$mm"
	else
		printf '%s\n' "$1"
	fi
}

# run_kernel SERIES MODE RUN: everything for one kernel; runs in a subshell
# with set -e, and leaves RUN/SERIES/result for the summary.
run_kernel() {
	local series=$1 mode=$2 run=$3 dir kver t0 t_build rc=0 root
	local ko warnings nwarn reasons=()
	arm_cleanup
	dir="$run/$series"
	mkdir -p "$dir"
	t0=$(now)
	series_lock "$series"
	resolve_and_fetch "$series"
	kver=$KVER
	msg "[$series] kernel $kver (image $(cat "$ASHMEM_CACHE/kernels/$kver/source"))"

	copy_module_sources "$run/src" "$dir/build"
	root=$(series_root "$series")
	if [[ -n $root ]]; then
		build_module_chroot "$root" "$kver" "$dir/build" "$dir/build.log" || rc=$?
		series_unlock "$series"
	else
		build_module_host "$kver" "$dir/build" "$dir/build.log" || rc=$?
	fi
	t_build=$(elapsed "$t0")
	ko="$dir/build/ashmem_linux.ko"
	warnings=$(build_warnings "$dir/build.log")
	nwarn=$(grep -c . <<<"$warnings" || true)
	if ((rc)) || ! check_module "$ko" "$kver"; then
		cat "$dir/build.log" >&2
		write_result "$dir/result" "kver=$kver" status=FAIL passed=0 failed=1 skipped=0 \
			"warnings=$nwarn" "build_s=$t_build" boot_s=0 "why=module build failed (log: $dir/build.log)"
		return 1
	fi
	if ((nwarn)); then
		printf '[%s] build warning: %s\n' "$kver" "${warnings//$'\n'/$'\n'[$kver] build warning: }" >&2
		reasons+=("$nwarn build warning(s)")
	fi

	make_initramfs "$mode" "$ko" "$run/tests-root" "$dir/initramfs.cpio.gz"
	msg "[$series] booting $kver in QEMU (TCG); logs: $dir/{guest,console}.log"
	rc=0
	boot_guest "$ASHMEM_CACHE/kernels/$kver/vmlinuz" "$dir/initramfs.cpio.gz" "$dir" || rc=$?
	conclude_kernel "$dir" "$mode" "$kver" "$rc" "$nwarn" "$t_build" "${reasons[@]}"
}

# ---------------------------------------------------------------- main

main() {
	local mode=tests series=() s run t0
	while (($#)); do
		case $1 in
		--demo) mode=demo ;;
		--bench)
			mode=bench
			TCG_THREAD=multi
			;;
		--debug)
			series=("$DEBUG_SERIES")
			debug_guest_settings
			;;
		-h | --help) usage 0 ;;
		-*) usage 2 >&2 ;;
		*)
			[[ " ${ALL_SERIES[*]} " == *" $1 "* ]] || die "unknown kernel series '$1' (known: ${ALL_SERIES[*]})"
			series+=("$1")
			;;
		esac
		shift
	done
	if ((${#series[@]} == 0)); then
		if [[ $mode == demo ]]; then series=(6.12); else series=("${ALL_SERIES[@]}"); fi
	fi

	require_root
	arm_cleanup
	t0=$(now)
	check_sources
	ensure_host_tools
	ksrc_ensure
	new_run_dir
	run=$RUN_DIR
	snapshot_sources "$run"
	build_tests "$run"

	run_all "$mode" "$run" "$t0" "${series[@]}"
}

# "exit" on the same line: bash reads scripts as it runs them, and must not
# read on into a file that was edited meanwhile.
main "$@"; exit
