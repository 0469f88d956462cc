# SPDX-License-Identifier: GPL-2.0-only
# shellcheck shell=bash
# dpkg-query formats and single-quoted sh -c scripts are literal (SC2016).
# shellcheck disable=SC2016
#
# The Debian 12 chroot of make dkms-check and make deb, sourced after
# lib.sh. dkms, the kernel headers, debhelper, dh-dkms and lintian are
# installed there, never on the host: the host's /lib/modules, /usr/src
# and /var/lib/dkms stay untouched, and nothing is left that could load at
# the host's next boot. chroot_run drops CAP_SYS_MODULE, so nothing run in
# the chroot can load a module into the host's kernel either.
#
# The chroot is cached ($ASHMEM_CACHE/chroot-bookworm-dkms) with the
# headers it last used; every run starts by removing whatever an
# interrupted run left of ashmem-linux in it.

DROOT="$ASHMEM_CACHE/chroot-bookworm-dkms"
# dkms itself; xz-utils and openssl for what dkms does after a build
# (compress the module as the kernel's config asks, sign it with its MOK
# key); the package build and lintian.
DROOT_PKGS=(dkms make gcc libc6-dev kmod xz-utils openssl
	build-essential debhelper dh-dkms dpkg-dev lintian)
DKMS_NAME=ashmem-linux
DEB_NAME=ashmem-linux-dkms
MODULES_LOAD_CONF=/usr/lib/modules-load.d/ashmem-linux.conf
# apt in the chroot: no pty there (dpkg's log would complain).
DROOT_APT=(apt-get "${APT_OPTS[@]}" -o Dpkg::Use-Pty=0)

# droot_run CMD...: run a command inside the chroot.
droot_run() { chroot_run "$DROOT" "$@"; }

# ---------------------------------------------------------------- versions

# module_version SRC: ASHMEM_VERSION of the tree at SRC (its ashmem.c).
module_version() {
	sed -n 's/.*define ASHMEM_VERSION[^"]*"\([^"]*\)".*/\1/p' "$1/ashmem.c"
}

# check_versions SRC: ashmem.c, dkms.conf and debian/changelog name the same
# version; prints it.
check_versions() {
	local src=$1 v dkms deb
	v=$(module_version "$src")
	[[ -n $v ]] || die "no ASHMEM_VERSION in $src/ashmem.c"
	dkms=$(sed -n 's/^PACKAGE_VERSION="\([^"]*\)"/\1/p' "$src/dkms.conf")
	[[ $dkms == "$v" ]] || die "dkms.conf has PACKAGE_VERSION=$dkms, ashmem.c has $v"
	deb=$(sed -n '1s/^[^ ]* (\([^)]*\)).*/\1/p' "$src/debian/changelog")
	[[ ${deb%%-*} == "$v" ]] ||
		die "debian/changelog starts at $deb, ashmem.c has $v (add an entry: dch -v $v)"
	printf '%s\n' "$v"
}

# ---------------------------------------------------------------- chroot

# droot_write_sources: bookworm, bookworm-updates and bookworm-security
# (where the 6.12 headers are), from the host's own mirrors.
droot_write_sources() {
	local root=$1 main sec
	main=$(host_debian_mirror debian)
	sec=$(host_debian_mirror debian-security)
	printf '%s\n' "deb $main bookworm main" "deb $main bookworm-updates main" \
		"deb $sec bookworm-security main" >"$root/etc/apt/sources.list"
}

# droot_bootstrap: debootstrap a fresh minimal chroot, atomically, with
# apt's sources; droot_ensure installs DROOT_PKGS (debootstrap's --include
# cannot resolve virtual packages, which lintian's dependencies need).
droot_bootstrap() {
	local mirror new="$DROOT.new" log="$ASHMEM_CACHE/debootstrap-dkms.log"
	mirror=$(host_debian_mirror debian)
	msg "debootstrap bookworm into $DROOT (mirror $mirror)"
	chroot_debootstrap "$new" bookworm "$mirror" "$log"
	droot_write_sources "$new"
	# No service starts from a maintainer script in here.
	printf '#!/bin/sh\nexit 101\n' >"$new/usr/sbin/policy-rc.d"
	chmod 0755 "$new/usr/sbin/policy-rc.d"
	cp -L /etc/resolv.conf "$new/etc/resolv.conf"
	chroot_run "$new" apt-get -q update >/dev/null
	rm -rf "$DROOT"
	mv "$new" "$DROOT"
}

# droot_apt_install PKG...: apt-get install in the chroot, logged to
# $DROOT.apt.log; on failure the lists are stale (Debian dropped a
# version): update them and try again.
droot_apt_install() {
	local log="$DROOT.apt.log"
	cp -L /etc/resolv.conf "$DROOT/etc/resolv.conf"
	droot_run "${DROOT_APT[@]}" install "$@" >"$log" 2>&1 && return 0
	msg "apt-get update in the chroot"
	droot_run apt-get -q update >>"$log" 2>&1
	droot_run "${DROOT_APT[@]}" install "$@" >>"$log" 2>&1 || {
		tail -n 30 "$log" >&2
		die "apt-get install $* failed in the chroot (log: $log)"
	}
}

# droot_ensure: a complete chroot, bootstrapped when missing or broken,
# topped up when only packages are missing. Call with the chroot locked.
droot_ensure() {
	local missing
	if [[ ! -x $DROOT/usr/bin/apt-get || ! -f $DROOT/etc/apt/sources.list ]]; then
		[[ -e $DROOT ]] && warn "the chroot at $DROOT is broken; rebuilding it"
		droot_bootstrap
	fi
	missing=$(chroot_missing_pkgs "$DROOT" "${DROOT_PKGS[@]}")
	[[ -z $missing ]] && return 0
	msg "installing into the chroot: ${missing//$'\n'/ }"
	# shellcheck disable=SC2086 # one word per package
	droot_apt_install $missing
}

# droot_open: lock the chroot for this run, make it complete, mount /proc.
droot_open() {
	path_lock "$DROOT"
	droot_ensure
	chroot_mount_proc "$DROOT"
}

# droot_close: unmount /proc and let the next run in.
droot_close() {
	chroot_umount_proc "$DROOT"
	path_unlock "$DROOT"
}

# ---------------------------------------------------------------- headers

# droot_headers_installed KVER: linux-headers-KVER is installed in the chroot.
droot_headers_installed() {
	chroot_pkg_installed "$DROOT" "linux-headers-$1"
}

# droot_install_headers KVER: install linux-headers-KVER in the chroot, as
# a kernel upgrade does: its postinst runs the kernel's header_postinst.d
# hooks, dkms's among them. (Debian's 6.12 headers depend on their image,
# whose postinst.d hooks run dkms too; INITRD=No skips the initramfs that
# initramfs-tools' hook would spend minutes on, which no test uses.) The
# output goes to stdout (a log).
droot_install_headers() {
	droot_headers_installed "$1" && return 0
	cp -L /etc/resolv.conf "$DROOT/etc/resolv.conf"
	droot_run env INITRD=No "${DROOT_APT[@]}" install "linux-headers-$1" && return 0
	droot_run apt-get -q update
	droot_run env INITRD=No "${DROOT_APT[@]}" install "linux-headers-$1"
}

# droot_purge_kernels HEADERS IMAGES: purge the linux-headers-*-amd64
# packages of kernels not named in HEADERS, and the images of kernels not
# named in IMAGES (both space-separated lists): older ABIs from earlier
# runs, or the headers of a kernel that must arrive later, as an upgrade.
droot_purge_kernels() {
	local headers=" $1 " images=" $2 " pkg k purge=()
	while read -r pkg; do
		case $pkg in
		linux-headers-*-amd64)
			k=${pkg#linux-headers-}
			[[ $headers == *" $k "* ]] || purge+=("$pkg")
			;;
		linux-image-*-amd64 | linux-image-*-amd64-unsigned)
			k=${pkg#linux-image-}
			k=${k%-unsigned}
			[[ $images == *" $k "* ]] || purge+=("$pkg")
			;;
		esac
	done < <( (droot_run dpkg-query -W -f='${db:Status-Abbrev} ${Package}\n' 'linux-headers-*' 'linux-image-*' 2>/dev/null || true) |
		awk '$1 == "ii" { print $2 }')
	((${#purge[@]})) || return 0
	msg "purging ${purge[*]} from the chroot"
	droot_run env INITRD=No "${DROOT_APT[@]}" purge "${purge[@]}" >"$DROOT.apt.log" 2>&1
	droot_run env INITRD=No "${DROOT_APT[@]}" autoremove --purge >>"$DROOT.apt.log" 2>&1
}

# ---------------------------------------------------------------- leftovers

# droot_leftovers: everything of ashmem-linux in the chroot, one path a
# line (nothing when it is clean): sources, DKMS state, built or installed
# modules, depmod entries, the modules-load.d file.
droot_leftovers() {
	local f
	for f in "$DROOT"/usr/src/"$DKMS_NAME"-* "$DROOT/var/lib/dkms/$DKMS_NAME" \
		"$DROOT$MODULES_LOAD_CONF"; do
		[[ -e $f || -L $f ]] && printf '%s\n' "${f#"$DROOT"}"
	done
	find "$DROOT/lib/modules" "$DROOT/var/lib/dkms" -name 'ashmem_linux.ko*' 2>/dev/null |
		sed "s|^$DROOT||"
	grep -l 'ashmem_linux' "$DROOT"/lib/modules/*/modules.dep 2>/dev/null |
		sed "s|^$DROOT||; s|\$| (names ashmem_linux)|"
	if chroot_pkg_installed "$DROOT" "$DEB_NAME" ||
		droot_run dpkg-query -W "$DEB_NAME" >/dev/null 2>&1; then
		printf '%s\n' "dpkg: $DEB_NAME is still known to dpkg"
	fi
}

# droot_forget_module: remove what an interrupted run left of ashmem-linux:
# the package, every DKMS version, the sources.
droot_forget_module() {
	local left
	left=$(droot_leftovers)
	[[ -n $left ]] || return 0
	warn "removing what an earlier run left in the chroot: ${left//$'\n'/, }"
	droot_run dpkg --purge "$DEB_NAME" >/dev/null 2>&1 || true
	droot_run sh -c 'for d in /var/lib/dkms/"$1"/*/; do
		[ -d "$d" ] && [ ! -L "${d%/}" ] && dkms remove "$1/$(basename "$d")" --all
	done; true' sh "$DKMS_NAME" >/dev/null 2>&1 || true
	rm -rf "$DROOT"/usr/src/"$DKMS_NAME"-* "$DROOT/var/lib/dkms/$DKMS_NAME" \
		"$DROOT$MODULES_LOAD_CONF"
	find "$DROOT/lib/modules" -name 'ashmem_linux.ko*' -delete 2>/dev/null || true
	droot_run sh -c 'for k in /lib/modules/*/; do
		[ -d "$k/kernel" ] || [ -d "$k/updates" ] && depmod -a "$(basename "$k")"
	done; true' >/dev/null 2>&1 || true
	left=$(droot_leftovers)
	[[ -z $left ]] || die "cannot clean the chroot of: ${left//$'\n'/, }"
}
