#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# Build the Debian package ashmem-linux-dkms_<version>_all.deb, check it
# with lintian, then install it with dpkg, look at what DKMS made of it and
# purge it again: all inside the Debian 12 chroot of scripts/dkms-chroot.sh.
#
#   scripts/deb.sh
#
# The package is built from a copy of the tree (what git tracks, plus new
# files git does not ignore) with dpkg-buildpackage -us -uc, source and
# binary, into ASHMEM_DEB_OUT (default: build/deb in the tree, which git
# ignores), with the lintian report beside it. Fails on any lintian error
# (warnings are listed) and on any failed step of the install check:
# with the headers of the newest Debian 6.1 and 6.12 kernels in the chroot
# (KVER_6_1, KVER_6_12 pin others), dpkg -i must leave the module built and
# installed by DKMS for each, the modules-load.d entry, and the udev rule,
# modprobe.d lines and script of host/ that make /dev/ashmem<boot_id>;
# dpkg --purge must leave nothing of it in /usr/src, /var/lib/dkms,
# /lib/modules, nor those files.

# Single-quoted sh -c scripts get their arguments as $1.. on purpose.
# shellcheck disable=SC2016
set -euo pipefail

SCRIPTS=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=scripts/lib.sh
. "$SCRIPTS/lib.sh"
# shellcheck source=scripts/dkms-chroot.sh
. "$SCRIPTS/dkms-chroot.sh"

OUT=${ASHMEM_DEB_OUT:-$ASHMEM_SRC/build/deb}
DEB_SERIES=(6.1 6.12)

usage() {
	sed -n '4,21s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"
	exit "${1:-0}"
}

# copy_package_tree SRC DEST: the files of the package's source: what git
# tracks or would track (so no build products), or the whole tree when SRC
# is not a git checkout.
copy_package_tree() {
	local src=$1 dest=$2
	mkdir -p "$dest"
	if git -C "$src" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
		git -C "$src" ls-files -z --cached --others --exclude-standard |
			(cd "$src" && xargs -0 sh -c 'for f; do [ -e "$f" ] && printf "%s\0" "$f"; done' sh) |
			tar -C "$src" --null -T - -cf - | tar -C "$dest" -xf -
	else
		copy_tree "$src" "$dest" ./build
	fi
}

# build_package VER WORK LOG: dpkg-buildpackage in the chroot, in
# WORK/ashmem-linux-VER (WORK is a host path under the chroot).
build_package() {
	local ver=$1 work=$2 log=$3
	copy_package_tree "$ASHMEM_SRC" "$work/$DKMS_NAME-$ver"
	msg "dpkg-buildpackage -us -uc in the chroot (log: $log)"
	droot_run sh -c 'cd "$1" && dpkg-buildpackage -us -uc' sh \
		"${work#"$DROOT"}/$DKMS_NAME-$ver" >"$log" 2>&1 || {
		tail -n 40 "$log" >&2
		die "dpkg-buildpackage failed (log: $log)"
	}
}

# run_lintian CHANGES LOG: lintian over the source and binary packages;
# lists errors and warnings, fails on errors.
run_lintian() {
	local changes=$1 log=$2 rc=0 ne nw
	msg "lintian $(basename "$changes")"
	droot_run lintian --fail-on error --display-info "${changes#"$DROOT"}" >"$log" 2>&1 || rc=$?
	ne=$(grep -c '^E: ' "$log" || true)
	nw=$(grep -c '^W: ' "$log" || true)
	grep -E '^(E|W): ' "$log" | sed 's/^/lintian: /' >&2 || true
	LINTIAN_SUMMARY="$ne error(s), $nw warning(s), $(grep -c '^[IP]: ' "$log" || true) info tag(s)"
	msg "lintian: $LINTIAN_SUMMARY (log: $log)"
	((rc == 0 && ne == 0)) || die "lintian reports errors (exit $rc)"
}

# What makes /dev/ashmem<boot_id>: each file of host/ (make install-host),
# where the package puts it and its mode, as SOURCE:PATH:MODE.
HOST_FILES=(60-ashmem-linux.rules:/lib/udev/rules.d/60-ashmem-linux.rules:644
	ashmem-linux-modprobe.conf:/lib/modprobe.d/ashmem-linux.conf:644
	ashmem-boot-id-node:/usr/lib/ashmem-linux/ashmem-boot-id-node:755)

# check_host_files: the package installed the files of HOST_FILES, each the
# same as in host/ and with its mode, and modprobe reads the install and
# remove lines.
check_host_files() {
	local entry src path mode config
	for entry in "${HOST_FILES[@]}"; do
		IFS=: read -r src path mode <<<"$entry"
		[[ -f $DROOT$path ]] || die "after dpkg -i, $path is missing"
		cmp -s "$ASHMEM_SRC/host/$src" "$DROOT$path" || die "$path is not host/$src"
		[[ $(stat -c %a "$DROOT$path") == "$mode" ]] ||
			die "$path has mode $(stat -c %a "$DROOT$path"), expected $mode"
	done
	config=$(droot_run modprobe --showconfig)
	grep -q '^install ashmem_linux .*ashmem-boot-id-node --unless-udev' <<<"$config" ||
		die "modprobe does not read the install line of ashmem-linux.conf"
	grep -q '^remove ashmem_linux .*ashmem-boot-id-node --remove' <<<"$config" ||
		die "modprobe does not read the remove line of ashmem-linux.conf"
	msg "the udev rule, the modprobe.d lines and ashmem-boot-id-node are installed"
}

# check_host_files_gone: dpkg --purge removed HOST_FILES and their directory.
check_host_files_gone() {
	local entry src path mode
	for entry in "${HOST_FILES[@]}"; do
		IFS=: read -r src path mode <<<"$entry"
		[[ ! -e $DROOT$path ]] || die "dpkg --purge left $path"
	done
	[[ ! -e $DROOT/usr/lib/ashmem-linux ]] || die "dpkg --purge left /usr/lib/ashmem-linux"
}

# install_check DEB VER LOG KVER...: dpkg -i, then for each KVER: DKMS
# reports the module installed and the file is there, built for KVER; the
# modules-load.d entry names the module; the files of check_host_files.
# Then dpkg --purge leaves nothing.
install_check() {
	local deb=$1 ver=$2 log=$3 k ko vermagic left
	shift 3
	msg "dpkg -i $(basename "$deb") in the chroot"
	{
		printf '+ dpkg -i %s\n' "${deb#"$DROOT"}"
		droot_run dpkg -i "${deb#"$DROOT"}"
	} >>"$log" 2>&1 || {
		tail -n 40 "$log" >&2
		die "dpkg -i failed (log: $log)"
	}
	for k in "$@"; do
		droot_run dkms status -m "$DKMS_NAME" -v "$ver" -k "$k" 2>/dev/null | grep -q ': installed' ||
			die "after dpkg -i, dkms does not report $DKMS_NAME/$ver installed for $k (log: $log)"
		ko=$(cd "$DROOT" && find "lib/modules/$k/updates" -name 'ashmem_linux.ko*' 2>/dev/null | head -n 1)
		[[ -n $ko ]] || die "no ashmem_linux.ko* under /lib/modules/$k/updates after dpkg -i"
		vermagic=$(droot_run modinfo -F vermagic "/$ko")
		[[ $vermagic == "$k "* ]] || die "/$ko has vermagic '$vermagic', expected $k"
		msg "DKMS built and installed /$ko"
	done
	[[ $(cat "$DROOT$MODULES_LOAD_CONF" 2>/dev/null) == ashmem_linux ]] ||
		die "$MODULES_LOAD_CONF is missing or does not name ashmem_linux"
	msg "$MODULES_LOAD_CONF loads ashmem_linux at boot"
	check_host_files
	msg "dpkg --purge $DEB_NAME"
	{
		printf '+ dpkg --purge %s\n' "$DEB_NAME"
		droot_run dpkg --purge "$DEB_NAME"
	} >>"$log" 2>&1 || die "dpkg --purge failed (log: $log)"
	left=$(droot_leftovers)
	[[ -z $left ]] || die "dpkg --purge left: ${left//$'\n'/, }"
	check_host_files_gone
	msg "dpkg --purge left nothing in /usr/src, /var/lib/dkms, /lib/modules, nor the udev, modprobe.d and helper files"
}

main() {
	local ver work deb changes t0 t_build s k kvers=() f
	case ${1:-} in
	-h | --help) usage 0 ;;
	'') ;;
	*) usage 2 >&2 ;;
	esac
	require_root
	arm_cleanup
	t0=$(now)
	ensure_pkgs debootstrap
	ver=$(check_versions "$ASHMEM_SRC")
	msg "packaging $ASHMEM_SRC at $(source_revision), version $ver"
	for s in "${DEB_SERIES[@]}"; do
		kvers+=("$(resolve_kver "$s")")
	done

	droot_open
	droot_forget_module
	tmpdir_under "$DROOT/tmp"
	work=$TMPD
	mkdir -p "$OUT"
	rm -f "$OUT/lintian.log" "$OUT/install.log"
	build_package "$ver" "$work" "$OUT/build.log"
	deb="$work/${DEB_NAME}_${ver}_all.deb"
	changes=$(find "$work" -maxdepth 1 -name "${DKMS_NAME}_${ver}_*.changes" | head -n 1)
	[[ -f $deb && -n $changes ]] || die "dpkg-buildpackage made no $(basename "$deb") or .changes"
	for f in "$work"/*; do
		[[ -f $f ]] && cp "$f" "$OUT/"
	done
	t_build=$(elapsed "$t0")
	run_lintian "$changes" "$OUT/lintian.log"

	msg "install check with the headers of ${kvers[*]} in the chroot"
	# Only these kernels: older ABIs from earlier runs would be built too.
	droot_purge_kernels "${kvers[*]}" "${kvers[*]}"
	for k in "${kvers[@]}"; do
		droot_install_headers "$k" >>"$OUT/install.log" 2>&1 ||
			die "installing linux-headers-$k in the chroot failed (log: $OUT/install.log)"
	done
	install_check "$deb" "$ver" "$OUT/install.log" "${kvers[@]}"
	droot_close

	printf '\n%s\n' "==== deb ===="
	printf 'package  %s\n' "$OUT/$(basename "$deb")"
	printf 'lintian  %s\n' "$LINTIAN_SUMMARY"
	printf 'install  PASS: dpkg -i built the module for %s; modules-load.d entry; udev rule, modprobe.d lines, boot-id helper; dpkg --purge left nothing\n' "${kvers[*]}"
	printf 'time     build+lintian %ss, total %ss\n' "$t_build" "$(elapsed "$t0")"
}

# "exit" on the same line: bash must not read on into an edited file.
main "$@"; exit
