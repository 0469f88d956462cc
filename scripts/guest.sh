# SPDX-License-Identifier: GPL-2.0-only
# shellcheck shell=bash
# Variables set here are used by the scripts that source this file (SC2034).
# shellcheck disable=SC2034
#
# The architecture-independent half of a guest run, sourced after lib.sh by
# check.sh (amd64) and check-arm64.sh: run directories, the initramfs, one
# guest at a time, and reading what a guest printed: markers, kselftest
# totals, the kernel log, the verdict and the summary line.
#
# A guest's /init (guest-init.sh) writes "@@ASHMEM-BENCH ..." marker lines;
# the functions here split guest.log on them.

MARK=@@ASHMEM-BENCH
KEEP_RUNS=${ASHMEM_KEEP_RUNS:-5}
# busybox for the initramfs; check-arm64.sh points it at the arm64 one.
BUSYBOX=${BUSYBOX:-}
# NAME=value pairs the guest's /init exports to the tests: how long the
# reliability tests run, how many rounds the pressure tests do and the
# benchmark's options (e.g. ASHMEM_BENCH_ARGS="-f 8,9"), when the caller
# says (check-debug.sh does).
GUEST_ENV=()
for var in ASHMEM_RELIABILITY_SECONDS ASHMEM_PRESSURE_ROUNDS ASHMEM_BENCH_ARGS; do
	if [[ -n ${!var:-} ]]; then
		GUEST_ENV+=("$var=${!var}")
	fi
done
unset var

# ---------------------------------------------------------------- runs

# new_run_dir: set RUN_DIR to a private directory for this run's builds
# and logs, locked for as long as this run lasts, and prune old runs.
RUN_DIR=
new_run_dir() {
	local runs="$ASHMEM_CACHE/runs"
	mkdir -p "$runs"
	RUN_DIR="$runs/$(date +%Y%m%d-%H%M%S)-$$"
	mkdir -p "$RUN_DIR"
	path_lock "$RUN_DIR"
	ln -sfn "$(basename "$RUN_DIR")" "$runs/latest"
	prune_runs
}

# prune_runs: keep only the newest $KEEP_RUNS run directories, and any
# older one that a run still in progress holds (a concurrent run's: CI's
# lanes run at once).
prune_runs() {
	local runs="$ASHMEM_CACHE/runs" d
	find "$runs" -mindepth 1 -maxdepth 1 -type d -name '2*' -printf '%f\n' |
		sort -r | tail -n +"$((KEEP_RUNS + 1))" |
		while read -r d; do
			flock -n "$runs/$d.lock" true || continue
			rm -rf -- "${runs:?}/$d" "$runs/$d.lock"
		done
}

# ---------------------------------------------------------------- sources

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

# filter_tests LIST: with ASHMEM_TESTS set (names of test binaries, e.g.
# "ashmem_fuzz_test ashmem_test_32"), keep only those in the guest's list; a
# name without _32 keeps its 32-bit build too. Then leave out the binaries
# TESTS_SKIP names (the debug run's choice, see debug-kernel.sh).
TESTS_SKIP=()
filter_tests() {
	local list=$1 name keep=()
	if [[ -n ${ASHMEM_TESTS:-} ]]; then
		for name in $ASHMEM_TESTS; do
			grep -qxE -e "${name}(_32)?" "$list" ||
				die "ASHMEM_TESTS: no test binary '$name'"
			keep+=("$name" "${name}_32")
		done
		grep -xF "${keep[@]/#/-e}" "$list" >"$list.new" || true
		mv "$list.new" "$list"
		msg "running only: $(tr '\n' ' ' <"$list")"
	fi
	if ((${#TESTS_SKIP[@]})); then
		grep -vxF "${TESTS_SKIP[@]/#/-e}" "$list" >"$list.new" || true
		mv "$list.new" "$list"
		msg "leaving out: ${TESTS_SKIP[*]}"
	fi
}

# ---------------------------------------------------------------- guests

# make_initramfs MODE KO TESTS_ROOT OUT [MODROOT]: busybox, /init, module,
# tests. With MODROOT (a directory holding lib/modules/<kver>, as dkms and
# depmod left it), that tree replaces KO and /init loads it with modprobe.
make_initramfs() {
	local mode=$1 ko=$2 tests=$3 out=$4 modroot=${5:-} root busybox=$BUSYBOX
	[[ -n $busybox ]] || busybox=$(dpkg -L busybox-static | awk '/\/busybox$/ && !n++')
	tmpdir_under "$(dirname "$out")"
	root=$TMPD
	mkdir -p "$root"/{bin,dev,etc,proc,sys,tmp}
	cp "$busybox" "$root/bin/busybox"
	install -m 0755 "$SCRIPTS/guest-init.sh" "$root/init"
	install -D -m 0755 "$ASHMEM_SRC/host/ashmem-boot-id-node" "$root/usr/lib/ashmem-linux/ashmem-boot-id-node"
	printf '%s\n' "$mode" >"$root/etc/ashmem-bench-mode"
	if ((${#GUEST_ENV[@]})); then
		printf 'export %q\n' "${GUEST_ENV[@]}" >"$root/etc/ashmem-env"
	fi
	if [[ -n $modroot ]]; then
		cp -a "$modroot/." "$root/"
		touch "$root/etc/ashmem-modprobe"
	else
		cp "$ko" "$root/ashmem_linux.ko"
	fi
	cp -a "$tests/." "$root/"
	mknod -m 600 "$root/dev/console" c 5 1
	(cd "$root" && find . -print0 | cpio --null -o -H newc -R 0:0 --quiet) |
		gzip -1 -n >"$out"
	rm -rf "$root"
}

# clean_serial_log RAW OUT: drop CRs and terminal escapes (the firmware
# clears the screen before the first line).
clean_serial_log() {
	tr -d '\r' <"$1" | sed -E 's/\x1b(\[[0-9;?]*[A-Za-z]|[@-~])//g' >"$2"
	rm -f "$1"
}

# qemu_lock THREADS: take THREADS of the host's guest slots, one slot per
# core (ASHMEM_QEMU_SLOTS overrides), waiting until that many are free. A
# TCG guest keeps one host thread busy per vCPU with thread=multi, one in
# all with thread=single; guests that together want more threads than the
# host has cores starve each other's vCPUs into false soft lockups and RCU
# stalls. So concurrent runs (CI's two lanes, several engineers, other
# caches) share the cores without overcommitting them. Slots are lock
# files: a guest holds none while it waits, so two waiting guests never
# deadlock, and a lock ends with the process that took it.
QEMU_LOCK_DIR=${ASHMEM_QEMU_LOCK_DIR:-/run/lock/ashmem-linux-qemu}
QEMU_SLOTS=${ASHMEM_QEMU_SLOTS:-$(nproc)}
QEMU_LOCK_FDS=()
qemu_lock() {
	local want=$1 i fd said=
	((want <= QEMU_SLOTS)) || want=$QEMU_SLOTS
	mkdir -p "$QEMU_LOCK_DIR"
	while :; do
		for ((i = 0; i < QEMU_SLOTS && ${#QEMU_LOCK_FDS[@]} < want; i++)); do
			exec {fd}>"$QEMU_LOCK_DIR/slot.$i"
			if flock -n "$fd"; then
				QEMU_LOCK_FDS+=("$fd")
			else
				exec {fd}>&-
			fi
		done
		((${#QEMU_LOCK_FDS[@]} == want)) && return 0
		qemu_unlock
		[[ -n $said ]] || msg "waiting for $want free guest slot(s) of $QEMU_SLOTS (other guests run; locks in $QEMU_LOCK_DIR)"
		said=1
		sleep 2
	done
}

qemu_unlock() {
	local fd
	for fd in "${QEMU_LOCK_FDS[@]}"; do
		exec {fd}>&-
	done
	QEMU_LOCK_FDS=()
}

# tcg_host_threads THREAD SMP: host threads a guest keeps busy (qemu_lock).
tcg_host_threads() {
	if [[ $1 == multi ]]; then echo "$2"; else echo 1; fi
}

# guest_done DIR: after QEMU exits: let the next guest run, then clean
# DIR/console.log.raw and DIR/guest.log.raw into the logs the verdict reads.
guest_done() {
	qemu_unlock
	clean_serial_log "$1/console.log.raw" "$1/console.log"
	clean_serial_log "$1/guest.log.raw" "$1/guest.log"
}

# ---------------------------------------------------------------- verdicts

# Kernel log lines that fail a run (extended regex, case-sensitive; "out of
# memory" is matched separately, case-insensitively).
DMESG_BAD='BUG:|WARNING:|Oops|general protection|Call Trace|Internal error|KASAN|UBSAN|possible circular locking|possible recursive locking|blocked for more than|kernel BUG|refcount_t:|list_add corruption|list_del corruption|page allocation failure|Kernel panic|soft lockup|hard LOCKUP|rcu: INFO:|detected stalls|unreferenced object|suspected memory leak|BUG [^ ]+ [(].*[)]: '
DMESG_OOM='out of memory'

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

# write_result FILE KEY=VALUE...: the per-kernel result read by the summary.
write_result() {
	local f=$1
	shift
	printf '%s\n' "$@" >"$f"
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
	local dir=$1 mode=$2 kver=$3 log="$1/guest.log" insmod runrc klog problems when tn tnz leaks
	REASONS=()
	insmod=$(marker_value "$log" "insmod rc")
	[[ $insmod == 0 ]] || REASONS+=("insmod failed (rc=${insmod:-none})")
	runrc=$(marker_value "$log" "run end rc")
	[[ -n $runrc || $insmod != 0 ]] || REASONS+=("the guest never finished the run")
	grep -q "^$MARK dmesg end" "$log" || REASONS+=("the guest printed no complete kernel log")

	tally "$log" >"$dir/tally"
	read -r _ J_PASS J_FAIL J_SKIP tn tnz < <(grep '^total ' "$dir/tally")
	if [[ $mode == demo || $mode == bench ]]; then
		[[ $runrc == 0 ]] || REASONS+=("ashmem_$mode exited with ${runrc:-nothing}")
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

	leaks=$(section "$log" kmemleak | grep -c '^unreferenced object' || true)
	if ((leaks)); then
		REASONS+=("kmemleak reports $leaks leak(s)")
		section "$log" kmemleak | head -n 60 | sed "s/^/[$kver] kmemleak: /" >&2
	fi

	klog=$(kernel_log "$dir")
	problems=$(dmesg_problems <<<"$klog")
	if [[ -n $problems ]]; then
		# The first line goes into the summary too: the full report scrolls
		# away behind the guest output in a long CI log. Whether it came
		# before the module's first line tells a kernel's own boot problem
		# from one of the module's.
		when=""
		[[ -z $(sed '/ashmem_linux: version /,$d' <<<"$klog" | dmesg_problems) ]] ||
			when=" (at boot, before the module was loaded)"
		REASONS+=("kernel log reports problems$when, first: $(head -n 1 <<<"$problems" | cut -c 1-200)")
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
	if [[ $mode != tests || $status == FAIL || ${ASHMEM_VERBOSE:-0} == 1 ]]; then
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
	[[ $mode == tests ]] || return 0
	# What the reliability tests counted (ops, checks, faults injected...).
	section "$dir/guest.log" run | sed -n 's/^# ashmem-figures: //p' >"$dir/figures"
	sed "s/^/[$kver] figures: /" "$dir/figures"
	sed -n 's/^bin //p' "$dir/tally" | while read -r name p f s rc note; do
		printf '[%s] %-28s pass %3d  fail %3d  skip %3d  exit %d %s\n' \
			"$kver" "$name" "$p" "$f" "$s" "$rc" "$note"
	done
}

# result_field FILE KEY: one value of a result file.
result_field() {
	sed -n "/^$2=/{s/^$2=//p;q}" "$1"
}

# conclude_kernel DIR MODE KVER QEMU_RC WARNINGS BUILD_S [REASON...]: the
# verdict on one kernel: the REASONs it fails for so far, QEMU's exit, and
# what its logs show (judge_guest); shows its output, writes DIR/result for
# the summary, and succeeds if the kernel passed.
conclude_kernel() {
	local dir=$1 mode=$2 kver=$3 rc=$4 nwarn=$5 t_build=$6 status=PASS why="" r
	shift 6
	local reasons=("$@")
	((rc == 124 || rc == 137)) && reasons+=("guest timed out after ${BOOT_TIMEOUT}s")
	((rc && rc != 124 && rc != 137)) && reasons+=("qemu exited with $rc")
	judge_guest "$dir" "$mode" "$kver"
	reasons+=("${REASONS[@]}")
	((${#reasons[@]} == 0)) || status=FAIL
	# A kernel-level failure with no test failure still counts as one failure.
	[[ $status == FAIL && $J_FAIL -eq 0 ]] && J_FAIL=1
	show_guest_output "$kver" "$mode" "$status" "$dir"
	for r in "${reasons[@]}"; do why+="${why:+; }$r"; done
	write_result "$dir/result" "kver=$kver" "status=$status" "passed=$J_PASS" "failed=$J_FAIL" \
		"skipped=$J_SKIP" "warnings=$nwarn" "build_s=$t_build" "boot_s=$GUEST_S" "why=$why"
	[[ $status == PASS ]]
}

# ---------------------------------------------------------------- summary

# run_all MODE RUN T0 SERIES...: the caller's run_kernel SERIES MODE RUN for
# each series, each in a subshell of its own so one kernel's failure does
# not stop the others; then the summary and, for the benchmark, its report.
run_all() {
	local mode=$1 run=$2 t0=$3 s rc
	shift 3
	for s in "$@"; do
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
	rc=0
	summarize "$run" "$@" || rc=$?
	if [[ $mode == bench ]]; then
		"$SCRIPTS/bench-report.sh" "$run" "$@" || rc=$?
	fi
	return "$rc"
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
