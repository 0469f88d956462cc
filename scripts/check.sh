#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# Build ashmem_linux.ko against real Debian kernels, boot each kernel in QEMU
# (TCG) from a busybox initramfs, load the module there and run the tests.
#
#   scripts/check.sh [--demo] [SERIES...]
#
# SERIES is any of 6.1 6.12 7.2 (default: all; with --demo: 6.12). 6.1 and
# 6.12 are the newest matching ABIs in the host's Debian 12 suites; 7.2 is
# whatever Debian sid's linux-headers-amd64 pulls, built with its own gcc in
# a sid chroot. Override with KVER_6_1=..., KVER_6_12=..., KVER_7_2=....
# The last line is "N passed, N failed[, N skipped]"; the exit status is
# non-zero when anything failed. See scripts/lib.sh for the environment.
#
#   ASHMEM_BOOT_TIMEOUT  seconds one guest may run (default 900)
#   ASHMEM_KEEP_RUNS     run directories kept under $ASHMEM_CACHE/runs (5)
#   ASHMEM_VERBOSE=1     print the whole guest output of passing kernels too

set -euo pipefail

SCRIPTS=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=scripts/lib.sh
. "$SCRIPTS/lib.sh"

BOOT_TIMEOUT=${ASHMEM_BOOT_TIMEOUT:-900}
KEEP_RUNS=${ASHMEM_KEEP_RUNS:-5}
MARK=@@ASHMEM-BENCH

# Kernel log lines that fail a run (extended regex, case-sensitive; "out of
# memory" is matched separately, case-insensitively).
DMESG_BAD='BUG:|WARNING:|Oops|general protection|Call Trace|Internal error|KASAN|UBSAN|possible circular locking|possible recursive locking|blocked for more than|kernel BUG|refcount_t:|list_add corruption|list_del corruption|page allocation failure|Kernel panic|soft lockup|hard LOCKUP|rcu: INFO:|detected stalls|unreferenced object|BUG [^ ]+ [(].*[)]: '
DMESG_OOM='out of memory'

usage() {
	sed -n '4,20s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"
	exit "${1:-0}"
}

# ---------------------------------------------------------------- run setup

# new_run_dir: a private directory for this run's builds and logs.
new_run_dir() {
	local runs="$ASHMEM_CACHE/runs" dir
	mkdir -p "$runs"
	dir="$runs/$(date +%Y%m%d-%H%M%S)-$$"
	mkdir -p "$dir"
	ln -sfn "$(basename "$dir")" "$runs/latest"
	printf '%s\n' "$dir"
}

# prune_runs: keep only the newest $KEEP_RUNS run directories.
prune_runs() {
	local runs="$ASHMEM_CACHE/runs"
	find "$runs" -mindepth 1 -maxdepth 1 -type d -name '2*' -printf '%f\n' |
		sort -r | tail -n +"$((KEEP_RUNS + 1))" |
		while read -r d; do rm -rf -- "${runs:?}/$d"; done
}

check_sources() {
	[[ -f $ASHMEM_SRC/Kbuild ]] || die "no Kbuild in $ASHMEM_SRC"
	[[ -f $ASHMEM_SRC/tests/Makefile ]] || die "no tests/Makefile in $ASHMEM_SRC"
}

# snapshot_sources RUN: copy the tree once, so that every kernel of the run
# tests the same sources even while someone edits the tree.
snapshot_sources() {
	msg "testing $ASHMEM_SRC at $(source_revision)"
	copy_tree "$ASHMEM_SRC" "$1/src" ./scripts ./.ci
}

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
}

# ---------------------------------------------------------------- per kernel

# build_module_host KVER DIR LOG: W=1 build with the host toolchain.
build_module_host() {
	make -C "/usr/src/linux-headers-$1" M="$2" W=1 -j"$(nproc)" modules >"$3" 2>&1
}

# build_module_sid KVER DIR LOG: W=1 build inside the sid chroot, with /proc.
build_module_sid() {
	local kver=$1 dir=$2 log=$3 inner rc=0
	tmpdir_under "$SID_ROOT/tmp"
	inner=$TMPD
	cp -a "$dir/." "$inner/"
	sid_mount_proc
	sid_run make -C "/usr/src/linux-headers-$kver" M="${inner#"$SID_ROOT"}" \
		W=1 -j"$(nproc)" modules >"$log" 2>&1 || rc=$?
	sid_umount_proc
	cp -a "$inner/." "$dir/"
	rm -rf "$inner"
	return "$rc"
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

# make_initramfs MODE KO TESTS_ROOT OUT: busybox, /init, module, tests.
make_initramfs() {
	local mode=$1 ko=$2 tests=$3 out=$4 root busybox
	busybox=$(dpkg -L busybox-static | awk '/\/busybox$/ && !n++')
	tmpdir_under "$(dirname "$out")"
	root=$TMPD
	mkdir -p "$root"/{bin,dev,etc,proc,sys,tmp}
	cp "$busybox" "$root/bin/busybox"
	install -m 0755 "$SCRIPTS/guest-init.sh" "$root/init"
	printf '%s\n' "$mode" >"$root/etc/ashmem-bench-mode"
	cp "$ko" "$root/ashmem_linux.ko"
	cp -a "$tests/." "$root/"
	mknod -m 600 "$root/dev/console" c 5 1
	(cd "$root" && find . -print0 | cpio --null -o -H newc -R 0:0 --quiet) |
		gzip -1 -n >"$out"
	rm -rf "$root"
}

# Kernel command line of the guests. The kernel console (ttyS0) prints at
# full verbosity, in order, into console.log; /init writes the markers, the
# test output and the final dmesg to ttyS1 (guest.log), so kernel messages
# never split a test's output lines. A wedged guest (soft lockup, hung task)
# panics and so ends at once instead of at the timeout; panic=-1 with
# -no-reboot turns the panic into QEMU's exit.
GUEST_CMDLINE="console=ttyS0 panic=-1 log_buf_len=4M softlockup_panic=1 hung_task_panic=1 sysctl.kernel.hung_task_timeout_secs=60"

# clean_serial_log RAW OUT: drop CRs and terminal escapes (the firmware
# clears the screen before the first line).
clean_serial_log() {
	tr -d '\r' <"$1" | sed -E 's/\x1b(\[[0-9;?]*[A-Za-z]|[@-~])//g' >"$2"
	rm -f "$1"
}

# qemu_lock: one guest at a time on this host. Two 2-vCPU TCG guests on two
# cores starve each other's vCPUs into false soft lockups and RCU stalls;
# concurrent runs (several engineers, CI, other caches) queue here instead.
QEMU_LOCK=${ASHMEM_QEMU_LOCK:-/run/lock/ashmem-linux-qemu.lock}
QEMU_LOCK_FD=
qemu_lock() {
	mkdir -p "$(dirname "$QEMU_LOCK")"
	exec {QEMU_LOCK_FD}>"$QEMU_LOCK"
	if ! flock -n "$QEMU_LOCK_FD"; then
		msg "waiting for another run's guest to finish (lock $QEMU_LOCK)"
		flock "$QEMU_LOCK_FD"
	fi
}

qemu_unlock() {
	exec {QEMU_LOCK_FD}>&-
}

# boot_guest VMLINUZ INITRD DIR: run the guest; leaves DIR/console.log and
# DIR/guest.log, and the guest's own run time (without waiting for the lock)
# in GUEST_S.
GUEST_S=0
boot_guest() {
	local dir=$3 rc=0 t0
	qemu_lock
	t0=$(now)
	# thread=single: with one host thread per vCPU, TCG races the kernel's
	# int3-based text patching at boot and oopses now and then.
	timeout -k 10 "$BOOT_TIMEOUT" qemu-system-x86_64 -accel tcg,thread=single -cpu max \
		-m 1024 -smp 2 -nographic -no-reboot -net none \
		-serial mon:stdio -serial "file:$dir/guest.log.raw" \
		-kernel "$1" -initrd "$2" -append "$GUEST_CMDLINE" \
		</dev/null >"$dir/console.log.raw" 2>&1 || rc=$?
	GUEST_S=$(elapsed "$t0")
	qemu_unlock
	clean_serial_log "$dir/console.log.raw" "$dir/console.log"
	clean_serial_log "$dir/guest.log.raw" "$dir/guest.log"
	return "$rc"
}

# section LOG NAME: the lines between "$MARK NAME begin" and "$MARK NAME end".
section() {
	awk -v b="$MARK $2 begin" -v e="$MARK $2 end" '
		index($0, e) == 1 { exit }
		on { print }
		index($0, b) == 1 { on = 1 }' "$1"
}

# tally LOG: per-binary results of the run section and their sum, as
# "bin NAME pass fail skip exit note" lines and one "total pass fail skip
# binaries nonzero-exits" line. kselftest's xfail counts as pass, xpass and error as fail;
# a binary that exits non-zero (other than 4, "skipped") with no failure
# counted adds one failure.
tally() {
	section "$1" run | awk '
		function field(name,   m) {
			if (match($0, name ":[0-9]+")) return substr($0, RSTART + length(name) + 1, RLENGTH - length(name) - 1) + 0
			return 0
		}
		/^# Totals: / {
			seen = 1
			p += field("pass") + field("xfail")
			f += field("fail") + field("xpass") + field("error")
			s += field("skip")
			next
		}
		/^# ashmem-run: [^ ]+ exit=[0-9]+$/ {
			name = $3; rc = $4; sub(/^exit=/, "", rc); rc += 0; note = ""
			if (!seen) {
				note = "no-totals"
				if (rc == 0) p = 1; else if (rc == 4) s = 1; else f = 1
			} else if (rc != 0 && rc != 4 && f == 0) {
				note = "nonzero-exit"; f = 1
			}
			printf "bin %s %d %d %d %d %s\n", name, p, f, s, rc, note
			P += p; F += f; S += s; n++
			if (rc != 0) nonzero++
			p = f = s = seen = 0
		}
		END { printf "total %d %d %d %d %d\n", P, F, S, n, nonzero }'
}

# dmesg_problems: the kernel log lines (on stdin) that fail the run.
dmesg_problems() {
	awk -v bad="$DMESG_BAD" -v oom="$DMESG_OOM" \
		'$0 ~ bad || tolower($0) ~ oom' || true
}

# marker_value LOG KEY: N from the first "$MARK KEY=N" line (empty if none).
marker_value() {
	sed -n "/^$MARK $2=/{s/^$MARK $2=\\([0-9]*\\).*/\\1/p;q}" "$1"
}

# resolve_and_fetch SERIES: set KVER to the exact release of SERIES after
# making sure its headers, compiler and vmlinuz are ready. For sid, a failed
# image download refreshes the chroot (sid drops old kernels) and resolves
# again.
KVER=
resolve_and_fetch() {
	local series=$1 kver
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

# write_result FILE KEY=VALUE...: the per-kernel result read by the summary.
write_result() {
	local f=$1
	shift
	printf '%s\n' "$@" >"$f"
}

# run_kernel SERIES MODE RUN: everything for one kernel; runs in a subshell
# with set -e, and leaves RUN/SERIES/result for the summary.
run_kernel() {
	local series=$1 mode=$2 run=$3 dir kver t0 t_build t_boot rc=0 status=PASS
	local ko warnings nwarn reasons=()
	arm_cleanup
	dir="$run/$series"
	mkdir -p "$dir"
	t0=$(now)
	[[ $series == "$SID_SERIES" ]] && sid_lock
	resolve_and_fetch "$series"
	kver=$KVER
	msg "[$series] kernel $kver (image $(cat "$ASHMEM_CACHE/kernels/$kver/source"))"

	copy_module_sources "$run/src" "$dir/build"
	if [[ $series == "$SID_SERIES" ]]; then
		build_module_sid "$kver" "$dir/build" "$dir/build.log" || rc=$?
		sid_unlock
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
	t_boot=$GUEST_S
	((rc == 124 || rc == 137)) && reasons+=("guest timed out after ${BOOT_TIMEOUT}s")
	((rc && rc != 124 && rc != 137)) && reasons+=("qemu exited with $rc")

	judge_guest "$dir" "$mode" "$kver"
	reasons+=("${REASONS[@]}")
	((${#reasons[@]} == 0)) || status=FAIL
	# A kernel-level failure with no test failure still counts as one failure.
	[[ $status == FAIL && $J_FAIL -eq 0 ]] && J_FAIL=1
	show_guest_output "$kver" "$mode" "$status" "$dir"
	local why="" r
	for r in "${reasons[@]}"; do why+="${why:+; }$r"; done
	write_result "$dir/result" "kver=$kver" "status=$status" "passed=$J_PASS" "failed=$J_FAIL" \
		"skipped=$J_SKIP" "warnings=$nwarn" "build_s=$t_build" "boot_s=$t_boot" "why=$why"
	[[ $status == PASS ]]
}

# kernel_log DIR: the guest's kernel log: the dmesg /init dumped at the end,
# or, when the guest never got there (panic, timeout), the serial console.
kernel_log() {
	if grep -q "^$MARK dmesg end" "$1/guest.log"; then
		section "$1/guest.log" dmesg
	else
		cat "$1/console.log"
	fi
}

# judge_guest DIR MODE KVER: read the guest's logs; sets J_PASS, J_FAIL,
# J_SKIP and REASONS (why the kernel fails; empty if it passes).
judge_guest() {
	local dir=$1 mode=$2 kver=$3 log="$1/guest.log" insmod runrc problems tn tnz
	REASONS=()
	insmod=$(marker_value "$log" "insmod rc")
	[[ $insmod == 0 ]] || REASONS+=("insmod failed (rc=${insmod:-none})")
	runrc=$(marker_value "$log" "run end rc")
	[[ -n $runrc || $insmod != 0 ]] || REASONS+=("the guest never finished the run")
	grep -q "^$MARK dmesg end" "$log" || REASONS+=("the guest printed no complete kernel log")

	tally "$log" >"$dir/tally"
	read -r _ J_PASS J_FAIL J_SKIP tn tnz < <(grep '^total ' "$dir/tally")
	if [[ $mode == demo ]]; then
		[[ $runrc == 0 ]] || REASONS+=("ashmem_demo exited with ${runrc:-nothing}")
		J_PASS=0 J_FAIL=0 J_SKIP=0
		[[ $runrc == 0 ]] && J_PASS=1
	elif [[ $insmod == 0 ]]; then
		((tn > 0)) || REASONS+=("no test binary ran")
		# The runner failing while every binary passed is its own finding
		# (e.g. the module is gone after the tests).
		[[ -z $runrc || $runrc == 0 || $tnz -gt 0 ]] ||
			REASONS+=("run_guest.sh exited $runrc although every binary passed")
	fi
	((J_FAIL == 0)) || REASONS+=("$J_FAIL test failure(s)")

	problems=$(kernel_log "$dir" | dmesg_problems)
	if [[ -n $problems ]]; then
		REASONS+=("kernel log reports problems")
		show_dmesg_problems "$kver" "$dir" "$problems"
	fi
}

# show_dmesg_problems KVER DIR PROBLEMS: the offending lines, then the first
# report in context (a WARNING's or Oops' register dump and stack).
show_dmesg_problems() {
	local kver=$1 dir=$2 problems=$3 first
	printf '[%s] dmesg: %s\n' "$kver" "${problems//$'\n'/$'\n'[$kver] dmesg: }" >&2
	first=$(head -n 1 <<<"$problems")
	printf '%s\n' "---- [$kver] first kernel report in context ----" >&2
	# grep -m stops reading early: the writer's SIGPIPE is no failure.
	kernel_log "$dir" | grep -F -x -B 3 -A 40 -m 1 -e "$first" | sed "s/^/[$kver] /" >&2 || true
	printf '%s\n' "---- [$kver] end of kernel report ----" >&2
}

# show_guest_output KVER MODE STATUS DIR: what the guest ran, in full for
# the demo, a failure or ASHMEM_VERBOSE=1, else one line per test binary.
show_guest_output() {
	local kver=$1 mode=$2 status=$3 dir=$4
	if [[ $mode == demo || $status == FAIL || ${ASHMEM_VERBOSE:-0} == 1 ]]; then
		printf '%s\n' "---- [$kver] guest output ----"
		if grep -q "^$MARK run begin" "$dir/guest.log"; then
			section "$dir/guest.log" run | sed "s/^/[$kver] /"
		else
			# No run section: the guest died early; show how it ended.
			tail -n 60 "$dir/console.log" | sed "s/^/[$kver] console: /"
		fi
		if ! grep -q "^$MARK run end" "$dir/guest.log"; then
			printf '%s\n' "---- [$kver] the run did not end; last console lines ----"
			tail -n 40 "$dir/console.log" | sed "s/^/[$kver] console: /"
		fi
		printf '%s\n' "---- [$kver] end of guest output ----"
	fi
	[[ $mode == demo ]] && return 0
	sed -n 's/^bin //p' "$dir/tally" | while read -r name p f s rc note; do
		printf '[%s] %-28s pass %3d  fail %3d  skip %3d  exit %d %s\n' \
			"$kver" "$name" "$p" "$f" "$s" "$rc" "$note"
	done
}

# ---------------------------------------------------------------- summary

# result_field FILE KEY: one value of a result file.
result_field() {
	sed -n "/^$2=/{s/^$2=//p;q}" "$1"
}

# summarize RUN SERIES...: one line per kernel and the closing count line;
# fails when any kernel failed.
summarize() {
	local run=$1 s f kver status p=0 fl=0 sk=0 any_fail=0 label
	shift
	printf '\n%s\n' "==== summary (logs: $run) ===="
	for s in "$@"; do
		f="$run/$s/result"
		if [[ ! -f $f ]]; then
			printf '%-7s %-26s FAIL  (no result: the bench itself failed, see above)\n' "$s" "?"
			fl=$((fl + 1))
			any_fail=1
			continue
		fi
		kver=$(result_field "$f" kver)
		status=$(result_field "$f" status)
		label=$(series_label "$s" "$kver")
		printf '%-7s %-26s %s  passed %d, failed %d, skipped %d, build warnings %d  (fetch+build %ss, boot+tests %ss)%s\n' \
			"$label" "$kver" "$status" "$(result_field "$f" passed)" "$(result_field "$f" failed)" \
			"$(result_field "$f" skipped)" "$(result_field "$f" warnings)" \
			"$(result_field "$f" build_s)" "$(result_field "$f" boot_s)" \
			"$(why=$(result_field "$f" why); [[ -n $why ]] && printf '  [%s]' "$why")"
		p=$((p + $(result_field "$f" passed)))
		fl=$((fl + $(result_field "$f" failed)))
		sk=$((sk + $(result_field "$f" skipped)))
		[[ $status == PASS ]] || any_fail=1
	done
	if ((sk)); then
		printf '%d passed, %d failed, %d skipped\n' "$p" "$fl" "$sk"
	else
		printf '%d passed, %d failed\n' "$p" "$fl"
	fi
	((any_fail == 0))
}

# ---------------------------------------------------------------- main

main() {
	local mode=tests series=() s run rc t0
	while (($#)); do
		case $1 in
		--demo) mode=demo ;;
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
	run=$(new_run_dir)
	prune_runs
	snapshot_sources "$run"
	build_tests "$run"

	for s in "${series[@]}"; do
		msg "[$s] ---- start ----"
		# set -e is ignored inside "if" and "||": run the subshell plainly.
		set +e
		(
			set -e
			run_kernel "$s" "$mode" "$run"
		)
		rc=$?
		set -e
		((rc == 0)) || warn "[$s] failed"
	done
	msg "total wall time $(elapsed "$t0")s"
	summarize "$run" "${series[@]}"
}

# "exit" on the same line: bash reads scripts as it runs them, and must not
# read on into a file that was edited meanwhile.
main "$@"; exit
