#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# DKMS for real: Debian 12's dkms, in a chroot, builds and installs
# ashmem_linux for Debian kernels; each kernel then boots in QEMU (TCG) with
# the module tree dkms and depmod made, loads the module with modprobe and
# runs the tests; and dkms remove must leave nothing behind.
#
#   scripts/dkms-check.sh [SERIES...]
#
# SERIES are 6.1 and 6.12 (default: both, in that order), the newest ABI of
# each in the host's Debian 12 suites (KVER_6_1=..., KVER_6_12=... pin
# one). The headers of every series but the last are installed first, and
# the module goes in with dkms add, dkms build -k and dkms install -k. The
# last series comes afterwards, as a kernel upgrade: installing its headers
# runs dkms's header_postinst.d hook, and dkms autoinstall -k must leave the
# module installed for it. (With one series, only the first part runs.)
# Then dkms remove --all, and nothing of ashmem-linux may be left in
# /usr/src, /var/lib/dkms or /lib/modules. The guests boot last, from
# copies of the module trees. The last line is "N passed, N failed"; the
# exit status is non-zero when anything failed. See scripts/lib.sh and
# scripts/dkms-chroot.sh for the environment and the chroot.
#
#   ASHMEM_BOOT_TIMEOUT  seconds one guest may run (default 900)
#   ASHMEM_VERBOSE=1     print the whole guest output of passing kernels too
#   ASHMEM_PRESSURE_ROUNDS  rounds of each pressure test (default 1 here:
#                        make check runs five on the same kernels, from
#                        the same sources; one shows the DKMS build purges)

set -euo pipefail

export ASHMEM_PRESSURE_ROUNDS=${ASHMEM_PRESSURE_ROUNDS:-1}
SCRIPTS=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=scripts/lib.sh
. "$SCRIPTS/lib.sh"
# shellcheck source=scripts/guest.sh
. "$SCRIPTS/guest.sh"
# shellcheck source=scripts/guest-amd64.sh
. "$SCRIPTS/guest-amd64.sh"
# shellcheck source=scripts/dkms-chroot.sh
. "$SCRIPTS/dkms-chroot.sh"
DKMS_SERIES=(6.1 6.12)

usage() {
	sed -n '4,28s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"
	exit "${1:-0}"
}

# series_label SERIES KVER: how the summary names a kernel.
series_label() { printf '%s\n' "$1"; }

# ---------------------------------------------------------------- setup

# ---------------------------------------------------------------- dkms

# dk LOG CMD...: run CMD in the chroot, logging the command and its output.
dk() {
	local log=$1
	shift
	printf '+ %s\n' "$*" >>"$log"
	droot_run "$@" >>"$log" 2>&1
}

# dkms_installed VER KVER: dkms reports the module installed for KVER.
dkms_installed() {
	droot_run dkms status -m "$DKMS_NAME" -v "$1" -k "$2" 2>/dev/null | grep -q ': installed'
}

# installed_module KVER: the module dkms installed for KVER, as a path
# inside the chroot; fails unless there is exactly one.
installed_module() {
	local found
	found=$(cd "$DROOT" && find "lib/modules/$1" -name 'ashmem_linux.ko*' | sed 's|^|/|')
	[[ -n $found && $found != *$'\n'* ]] || return 1
	printf '%s\n' "$found"
}

# dkms_add VER SRC LOG: the sources into /usr/src/ashmem-linux-VER, the way
# make dkms-source installs them, then dkms add.
dkms_add() {
	local ver=$1 src=$2 log=$3
	make -s -C "$src" dkms-source DESTDIR="$DROOT" >>"$log" 2>&1
	(cd "$DROOT/usr/src/$DKMS_NAME-$ver" && find . | sort) >"$(dirname "$log")/usr-src.list"
	dk "$log" dkms add -m "$DKMS_NAME" -v "$ver"
}

# dkms_explicit VER KVER LOG: dkms build -k and dkms install -k.
dkms_explicit() {
	dk "$3" dkms build -m "$DKMS_NAME" -v "$1" -k "$2"
	dk "$3" dkms install -m "$DKMS_NAME" -v "$1" -k "$2"
}

# dkms_upgrade VER KVER LOG: KVER's headers arrive after dkms add, as in a
# kernel upgrade: their postinst runs dkms's hook; then dkms autoinstall -k.
# Says in LOG whether the hook had built the module already.
dkms_upgrade() {
	local ver=$1 kver=$2 log=$3
	printf '+ apt-get install linux-headers-%s (the kernel upgrade)\n' "$kver" >>"$log"
	droot_install_headers "$kver" >>"$log" 2>&1
	if dkms_installed "$ver" "$kver"; then
		printf '# the header_postinst.d hook installed the module for %s\n' "$kver" >>"$log"
	else
		printf '# the header_postinst.d hook did not install the module for %s\n' "$kver" >>"$log"
	fi
	dk "$log" dkms autoinstall -k "$kver"
}

# keep_module_tree KVER DEST: check the module dkms installed for KVER (one
# file, built for KVER, named by modules.dep) and copy what dkms and depmod
# made of /lib/modules/KVER (updates/ and the modules.* indexes, not the
# image's own modules or the headers' links) to DEST/lib/modules/KVER for
# the guest; also keep dkms's build log. Prints the module's path.
keep_module_tree() {
	local kver=$1 dest=$2 ko vermagic
	ko=$(installed_module "$kver") || die "no single ashmem_linux.ko* under /lib/modules/$kver in the chroot"
	vermagic=$(droot_run modinfo -F vermagic "$ko")
	[[ $vermagic == "$kver "* ]] || die "$ko has vermagic '$vermagic', expected $kver"
	grep -q "^${ko#/lib/modules/"$kver"/}:" "$DROOT/lib/modules/$kver/modules.dep" ||
		die "modules.dep of $kver does not name ${ko#/lib/modules/"$kver"/}"
	mkdir -p "$dest/lib/modules/$kver"
	(cd "$DROOT/lib/modules/$kver" && tar -cf - updates modules.*) |
		tar -C "$dest/lib/modules/$kver" -xf -
	cp "$DROOT/var/lib/dkms/$DKMS_NAME/"*"/$kver/"*/log/make.log "$(dirname "$dest")/build.log" 2>/dev/null || true
	printf '%s\n' "$ko"
}

# dkms_remove VER LOG: dkms remove --all, then check that nothing is left:
# no DKMS state, no module, no modules.dep entry, and /usr/src/ashmem-linux-VER
# exactly as dkms add found it (removing it is the user's part, done here).
dkms_remove() {
	local ver=$1 log=$2 dir left
	dir=$(dirname "$log")
	dk "$log" dkms remove -m "$DKMS_NAME" -v "$ver" --all
	(cd "$DROOT/usr/src/$DKMS_NAME-$ver" && find . | sort) >"$dir/usr-src.after"
	if ! cmp -s "$dir/usr-src.list" "$dir/usr-src.after"; then
		diff "$dir/usr-src.list" "$dir/usr-src.after" >&2 || true
		die "dkms changed /usr/src/$DKMS_NAME-$ver"
	fi
	rm -rf "$DROOT/usr/src/$DKMS_NAME-$ver"
	left=$(droot_leftovers)
	[[ -z $left ]] || die "dkms remove --all left: ${left//$'\n'/, }"
}

# dkms_phase RUN VER SERIES...: everything in the chroot, in a subshell with
# set -e. Leaves RUN/SERIES/{kver,how,module,dkms_s} and RUN/dkms.log; the
# module trees in RUN/SERIES/modroot.
dkms_phase() {
	local run=$1 ver=$2 log="$1/dkms.log" s kver t0 i last
	shift 2
	local series=("$@") kvers=()
	last=$((${#series[@]} - 1))
	arm_cleanup
	for s in "${series[@]}"; do
		kvers+=("$(cat "$run/$s/kver")")
	done
	msg "dkms in the chroot $DROOT (log: $log)"
	droot_open
	droot_forget_module
	# The upgrade kernel's headers must not be there yet (its image, which
	# Debian's 6.12 headers depend on, may stay).
	if ((last > 0)); then
		droot_purge_kernels "${kvers[*]:0:last}" "${kvers[*]}"
	else
		droot_purge_kernels "${kvers[*]}" "${kvers[*]}"
	fi
	for ((i = 0; i < ${#series[@]}; i++)); do
		((i == last && last > 0)) && continue
		msg "[${series[i]}] linux-headers-${kvers[i]} in the chroot"
		droot_install_headers "${kvers[i]}" >>"$log" 2>&1
	done
	dkms_add "$ver" "$run/src" "$log"
	for ((i = 0; i < ${#series[@]}; i++)); do
		s=${series[i]} kver=${kvers[i]}
		t0=$(now)
		if ((i == last && last > 0)); then
			msg "[$s] kernel upgrade to $kver: headers, dkms hook, dkms autoinstall -k"
			dkms_upgrade "$ver" "$kver" "$log"
			echo "headers installed afterwards; dkms autoinstall -k" >"$run/$s/how"
		else
			msg "[$s] dkms build -k $kver, dkms install -k $kver"
			dkms_explicit "$ver" "$kver" "$log"
			echo "dkms add, build -k, install -k" >"$run/$s/how"
		fi
		dkms_installed "$ver" "$kver" || die "dkms does not report $DKMS_NAME/$ver installed for $kver"
		elapsed "$t0" >"$run/$s/dkms_s"
	done
	dk "$log" dkms status -m "$DKMS_NAME"
	for s in "${series[@]}"; do
		keep_module_tree "$(cat "$run/$s/kver")" "$run/$s/modroot" >"$run/$s/module"
		msg "[$s] dkms installed $(cat "$run/$s/module")"
	done
	msg "dkms remove --all, then looking for leftovers"
	dkms_remove "$ver" "$log"
	echo ok >"$run/dkms-removed"
	droot_close
}

# ---------------------------------------------------------------- guests

# modprobe_reasons DIR KO: why the guest's modprobe does not count: it
# failed, or /init found the module somewhere else than dkms put it.
modprobe_reasons() {
	local line rc path
	line=$(sed -n "s/^$MARK modprobe //p" "$1/guest.log" | head -n 1)
	[[ -n $line ]] || {
		echo "the guest did not load the module with modprobe"
		return
	}
	rc=$(sed -n 's/^rc=\([0-9]*\).*/\1/p' <<<"$line")
	path=$(sed -n 's/.* module=//p' <<<"$line")
	[[ $rc == 0 ]] || echo "modprobe ashmem_linux failed (rc=$rc)"
	[[ $path == "$2" ]] || echo "modules.dep led to '$path', not to $2"
}

# boot_kernel SERIES RUN: boot one kernel with its DKMS module tree, judge
# it and leave RUN/SERIES/result for the summary (subshell, set -e).
boot_kernel() {
	local s=$1 run=$2 dir="$2/$1" kver ko rc=0 status=PASS reasons=() r why="" nwarn
	arm_cleanup
	kver=$(cat "$dir/kver")
	nwarn=$(grep -ci 'warning:' "$dir/build.log" 2>/dev/null || true)
	if [[ ! -s $dir/module ]]; then
		write_result "$dir/result" "kver=$kver" status=FAIL passed=0 failed=1 skipped=0 \
			"warnings=${nwarn:-0}" build_s=0 boot_s=0 "why=dkms did not install the module (log: $run/dkms.log)"
		return 1
	fi
	ko=$(cat "$dir/module")
	((nwarn == 0)) || reasons+=("$nwarn build warning(s) in dkms's make.log")
	make_initramfs tests "" "$run/tests-root" "$dir/initramfs.cpio.gz" "$dir/modroot"
	msg "[$s] booting $kver in QEMU (TCG) with the DKMS module tree; logs: $dir/{guest,console}.log"
	boot_guest "$ASHMEM_CACHE/kernels/$kver/vmlinuz" "$dir/initramfs.cpio.gz" "$dir" || rc=$?
	((rc == 124 || rc == 137)) && reasons+=("guest timed out after ${BOOT_TIMEOUT}s")
	((rc && rc != 124 && rc != 137)) && reasons+=("qemu exited with $rc")
	while read -r r; do
		[[ -n $r ]] && reasons+=("$r")
	done < <(modprobe_reasons "$dir" "$ko")
	judge_guest "$dir" tests "$kver"
	reasons+=("${REASONS[@]}")
	((${#reasons[@]} == 0)) || status=FAIL
	[[ $status == FAIL && $J_FAIL -eq 0 ]] && J_FAIL=1
	show_guest_output "$kver" tests "$status" "$dir"
	for r in "${reasons[@]}"; do why+="${why:+; }$r"; done
	write_result "$dir/result" "kver=$kver" "status=$status" "passed=$J_PASS" "failed=$J_FAIL" \
		"skipped=$J_SKIP" "warnings=$nwarn" "build_s=$(cat "$dir/dkms_s")" "boot_s=$GUEST_S" "why=$why"
	[[ $status == PASS ]]
}

# ---------------------------------------------------------------- main

main() {
	local series=() s run ver rc=0 sub t0 kver
	while (($#)); do
		case $1 in
		-h | --help) usage 0 ;;
		-*) usage 2 >&2 ;;
		*)
			[[ " ${DKMS_SERIES[*]} " == *" $1 "* ]] || die "unknown kernel series '$1' (known: ${DKMS_SERIES[*]})"
			series+=("$1")
			;;
		esac
		shift
	done
	((${#series[@]})) || series=("${DKMS_SERIES[@]}")

	require_root
	arm_cleanup
	t0=$(now)
	ensure_host_tools
	ksrc_ensure
	new_run_dir
	run=$RUN_DIR
	snapshot_sources "$run"
	ver=$(check_versions "$run/src")
	build_tests "$run"
	for s in "${series[@]}"; do
		mkdir -p "$run/$s"
		kver=$(resolve_kver "$s")
		fetch_vmlinuz host "$kver" || die "no kernel image package for $kver"
		printf '%s\n' "$kver" >"$run/$s/kver"
		msg "[$s] kernel $kver (image $(cat "$ASHMEM_CACHE/kernels/$kver/source"))"
	done

	# set -e is ignored inside "if" and "||": run the subshells plainly.
	set +e
	(
		set -e
		dkms_phase "$run" "$ver" "${series[@]}"
	)
	sub=$?
	set -e
	if ((sub)); then
		rc=1
		warn "the dkms steps failed; last lines of $run/dkms.log:"
		tail -n 40 "$run/dkms.log" >&2 || true
	fi
	for s in "${series[@]}"; do
		set +e
		(
			set -e
			boot_kernel "$s" "$run"
		)
		sub=$?
		set -e
		((sub == 0)) || warn "[$s] failed"
	done
	msg "total wall time $(elapsed "$t0")s"
	printf '\n%s\n' "==== dkms ($DKMS_NAME/$ver, log: $run/dkms.log) ===="
	for s in "${series[@]}"; do
		printf '%-7s %-26s %s: %s\n' "$s" "$(cat "$run/$s/kver")" \
			"$(cat "$run/$s/how" 2>/dev/null || echo 'not reached')" \
			"$(cat "$run/$s/module" 2>/dev/null || echo 'no module')"
	done
	if [[ -f $run/dkms-removed ]]; then
		echo "dkms remove --all: nothing left in /usr/src, /var/lib/dkms, /lib/modules"
	else
		echo "dkms remove --all: FAIL (not reached, or left something; see above)"
		rc=1
	fi
	summarize "$run" "${series[@]}" || rc=1
	return "$rc"
}

# "exit" on the same line: bash must not read on into an edited file.
main "$@"; exit
