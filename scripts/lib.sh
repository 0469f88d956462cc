# SPDX-License-Identifier: GPL-2.0-only
# shellcheck shell=bash
# Variables set here are used by the scripts that source this file (SC2034);
# single-quoted sh -c scripts get their arguments as $1.. on purpose (SC2016).
# shellcheck disable=SC2034,SC2016
#
# Shared helpers of the ashmem_linux test bench (sourced by check.sh and
# lint.sh). Every function does one job; everything downloaded or built from
# a download is cached under $ASHMEM_CACHE, keyed by exact versions, so a warm
# run touches neither apt nor the network.
#
# Environment:
#   ASHMEM_CACHE             cache root (default /var/cache/ashmem-linux)
#   ASHMEM_SRC               source tree to test (default: this repository)
#   KVER_6_1, KVER_6_12,     exact kernel release to use instead of the newest
#   KVER_7_2, KVER_7_3       of the series (e.g. 6.1.0-56-amd64)
#   ASHMEM_SID_MIRROR        Debian mirror for the sid chroot (default: the
#                            host's own Debian mirror from its apt sources)
#   ASHMEM_SID_REFRESH_DAYS  refresh the sid chroot's package lists when they
#                            are older than this (default 7; "never" disables)
#   ASHMEM_BPO_MIRROR        Debian mirror for the trixie(-backports) chroot
#                            (default: the host's own Debian mirror)
#   ASHMEM_BPO_REFRESH_DAYS  refresh that chroot's lists after this many days
#                            (default 7; "never" disables)

ASHMEM_CACHE=${ASHMEM_CACHE:-/var/cache/ashmem-linux}
ASHMEM_SRC=${ASHMEM_SRC:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
SID_ROOT="$ASHMEM_CACHE/chroot-sid"
# trixie with trixie-backports in its own sources: 7.3's headers, image and
# gcc-14 (make check), and the images of 6.16 to 7.1 (make check-abi).
BPO_ROOT="$ASHMEM_CACHE/chroot-trixie"
# What the trixie chroot needs besides the headers (which pull gcc-14 and
# linux-kbuild): trixie's gcc-14 runs the plain "as" of binutils.
BPO_PKGS=(make libc6-dev ca-certificates binutils)
# Series of the matrix. 7.2 is "whatever Debian sid carries"; 7.3 is the
# newest 7.3 point release in trixie-backports.
ALL_SERIES=(6.1 6.12 7.2 7.3)
SID_SERIES=7.2
BPO_SERIES=7.3

export LC_ALL=C
export DEBIAN_FRONTEND=noninteractive

APT_OPTS=(-q -y --no-install-recommends -o DPkg::Lock::Timeout=300)
CLEANUP_MOUNTS=()
CLEANUP_PATHS=()

# ---------------------------------------------------------------- messages

# Progress goes to stderr so that functions can print results on stdout.
msg() { printf '==> %s\n' "$*" >&2; }
warn() { printf 'WARN: %s\n' "$*" >&2; }
die() {
	printf 'ERROR: %s\n' "$*" >&2
	exit 1
}

# now: wall-clock seconds with a fraction, for phase timings.
now() { printf '%s\n' "${EPOCHREALTIME:-$(date +%s)}"; }

# elapsed START: seconds since START, one decimal.
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

require_root() {
	[[ $(id -u) -eq 0 ]] || die "run as root: the bench uses apt-get, chroot and mount"
}

# ---------------------------------------------------------------- cleanup

# cleanup: unmount what we mounted (newest first) and remove temporaries.
# Idempotent, so a subshell and its parent may both run it.
cleanup() {
	local i
	for ((i = ${#CLEANUP_MOUNTS[@]} - 1; i >= 0; i--)); do
		if mountpoint -q "${CLEANUP_MOUNTS[i]}"; then
			umount "${CLEANUP_MOUNTS[i]}" 2>/dev/null || umount -l "${CLEANUP_MOUNTS[i]}" || true
		fi
	done
	for i in "${CLEANUP_PATHS[@]}"; do
		rm -rf -- "$i"
	done
}

# on_error LINE COMMAND: say where set -e stopped us, instead of dying
# silently. Deliberate failures (a function's "return 1", a final test) and
# commands run with set -e off are not news.
on_error() {
	[[ $- == *e* ]] || return 0
	case $2 in
	return* | exit* | '(('* | '[['*) return 0 ;;
	esac
	printf 'ERROR: %s:%s: "%s" failed\n' "$(basename "${BASH_SOURCE[1]:-$0}")" "$1" "$2" >&2
}

# arm_cleanup: (re)install the traps; subshells start without the parent's.
arm_cleanup() {
	CLEANUP_MOUNTS=()
	CLEANUP_PATHS=()
	set -E
	trap 'on_error "$LINENO" "$BASH_COMMAND"' ERR
	trap cleanup EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
}

# tmpdir_under DIR: set TMPD to a fresh directory under DIR, removed at
# exit (not printed: a command substitution would lose the cleanup entry).
TMPD=
tmpdir_under() {
	mkdir -p "$1"
	TMPD=$(mktemp -d "$1/.tmp.XXXXXX")
	CLEANUP_PATHS+=("$TMPD")
}

# ---------------------------------------------------------------- host apt

# The host's apt, one run at a time (apt-get update does not wait for a
# concurrent one).
APT_LOCK="$ASHMEM_CACHE/.apt"

# apt_update_once: apt-get update, unless this or a recent run did (the
# stamp works across the subshells that command substitutions run in).
apt_update_once() {
	local stamp="$ASHMEM_CACHE/.apt-updated"
	path_lock "$APT_LOCK"
	if [[ -z $(find "$stamp" -mmin -60 2>/dev/null) ]]; then
		msg "apt-get update"
		apt-get -q update >/dev/null
		touch "$stamp"
	fi
	path_unlock "$APT_LOCK"
}

pkg_installed() {
	[[ $(dpkg-query -W -f='${Status}' "$1" 2>/dev/null) == "install ok installed" ]]
}

# ensure_pkgs PKG...: install the packages that are not installed yet.
ensure_pkgs() {
	local p missing=()
	for p in "$@"; do
		pkg_installed "$p" || missing+=("$p")
	done
	((${#missing[@]})) || return 0
	path_lock "$APT_LOCK"
	msg "apt-get install ${missing[*]}"
	# A fresh machine may have no (or stale) lists: update on first failure.
	if ! apt-get install "${APT_OPTS[@]}" "${missing[@]}" >/dev/null; then
		apt_update_once
		apt-get install "${APT_OPTS[@]}" "${missing[@]}" >/dev/null
	fi
	path_unlock "$APT_LOCK"
}

# apt_candidate PKG: the version apt would install (empty if none).
apt_candidate() {
	local v
	v=$(apt-cache policy "$1" 2>/dev/null | awk '/Candidate:/ { print $2 }')
	if [[ -z $v || $v == "(none)" ]]; then
		apt_update_once
		v=$(apt-cache policy "$1" 2>/dev/null | awk '/Candidate:/ { print $2 }')
	fi
	if [[ $v != "(none)" ]]; then
		printf '%s\n' "$v"
	fi
}

# Everything the bench runs on the host (module builds for 6.1/6.12 pull
# their headers and compiler separately, in ensure_host_kernel_build).
HOST_PKGS=(make gcc libc6-dev gcc-multilib dwarves kmod cpio gzip xz-utils
	zstd busybox-static qemu-system-x86 debootstrap)

ensure_host_tools() {
	ensure_pkgs "${HOST_PKGS[@]}"
}

# ---------------------------------------------------------------- versions

# series_var SERIES: name of the override variable (7.2 -> KVER_7_2,
# arm64-6.12-16k -> KVER_ARM64_6_12_16K).
series_var() {
	local v=${1//[.-]/_}
	printf 'KVER_%s\n' "${v^^}"
}

# series_regex SERIES: the headers package pattern of a host series.
series_regex() {
	case $1 in
	6.1) printf '%s\n' '^linux-headers-6\.1\.0-[0-9]+-amd64$' ;;
	6.12) printf '%s\n' '^linux-headers-6\.12\.[0-9]+\+deb12-amd64$' ;;
	# check-arm64.sh (needs the arm64 architecture in the host's apt).
	arm64-6.1) printf '%s\n' '^linux-headers-6\.1\.0-[0-9]+-arm64$' ;;
	arm64-6.12-16k) printf '%s\n' '^linux-headers-6\.12\.[0-9]+\+deb12-arm64-16k$' ;;
	*) return 1 ;;
	esac
}

# newest_host_kver SERIES: newest release of SERIES in the host's suites.
newest_host_kver() {
	local re list
	re=$(series_regex "$1") || die "unknown series $1"
	list=$(apt-cache search --names-only "$re" | awk '{ print $1 }')
	if [[ -z $list ]]; then
		apt_update_once
		list=$(apt-cache search --names-only "$re" | awk '{ print $1 }')
	fi
	[[ -n $list ]] || die "no package matches $re in the host's apt suites"
	printf '%s\n' "$list" | sed 's/^linux-headers-//' | sort -V | tail -n 1
}

# resolve_kver SERIES: the exact kernel release to test for SERIES.
resolve_kver() {
	local var
	var=$(series_var "$1")
	if [[ -n ${!var:-} ]]; then
		printf '%s\n' "${!var}"
	elif [[ $1 == "$SID_SERIES" ]]; then
		sid_default_kver
	elif [[ $1 == "$BPO_SERIES" ]]; then
		bpo_newest_kver "$1"
	else
		newest_host_kver "$1"
	fi
}

# ---------------------------------------------------------------- chroots

# The debootstrapped chroots under $ASHMEM_CACHE (sid for the 7.2 build,
# bookworm for DKMS and the package) share these; ROOT is the chroot's path.

# chroot_run ROOT CMD...: run a command inside ROOT with a clean env. A
# chroot shares the host's kernel, so CAP_SYS_MODULE leaves the bounding
# set first: nothing run there (dkms, a maintainer script) can load a
# module into the host.
chroot_run() {
	local root=$1
	shift
	env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LC_ALL=C \
		DEBIAN_FRONTEND=noninteractive \
		setpriv --bounding-set -sys_module chroot "$root" "$@"
}

# path_lock PATH / path_unlock PATH: one process at a time holds PATH.lock
# (a chroot, the apt lists, a cached download), so that concurrent runs
# (CI's lanes, two engineers) share the cache safely. Nested calls in one
# shell only count; the lock also ends when the shell that took it exits.
declare -gA PATH_LOCK_FD=() PATH_LOCK_DEPTH=()
path_lock() {
	local path=$1 fd
	if [[ -n ${PATH_LOCK_FD[$path]:-} ]]; then
		PATH_LOCK_DEPTH[$path]=$((PATH_LOCK_DEPTH[$path] + 1))
		return 0
	fi
	mkdir -p "$(dirname "$path")"
	exec {fd}>"$path.lock"
	if ! flock -n "$fd"; then
		msg "waiting for another run to finish with $path"
		flock "$fd"
	fi
	PATH_LOCK_FD[$path]=$fd
	PATH_LOCK_DEPTH[$path]=1
}

path_unlock() {
	local path=$1 fd=${PATH_LOCK_FD[$1]:-}
	[[ -n $fd ]] || return 0
	PATH_LOCK_DEPTH[$path]=$((PATH_LOCK_DEPTH[$path] - 1))
	((PATH_LOCK_DEPTH[$path] == 0)) || return 0
	exec {fd}>&-
	unset "PATH_LOCK_FD[$path]" "PATH_LOCK_DEPTH[$path]"
}

# chroot_mount_proc ROOT: /proc inside ROOT (objtool and dpkg need it).
chroot_mount_proc() {
	mountpoint -q "$1/proc" && return 0
	mount -t proc proc "$1/proc"
	CLEANUP_MOUNTS+=("$1/proc")
}

chroot_umount_proc() {
	if mountpoint -q "$1/proc"; then
		umount "$1/proc" || umount -l "$1/proc"
	fi
}

# chroot_pkg_installed ROOT PKG: PKG is installed inside ROOT.
chroot_pkg_installed() {
	[[ $(chroot "$1" dpkg-query -W -f='${Status}' "$2" 2>/dev/null) == "install ok installed" ]]
}

# chroot_missing_pkgs ROOT PKG...: the PKGs not installed in ROOT, a line each.
chroot_missing_pkgs() {
	local root=$1 p
	shift
	for p in "$@"; do
		chroot_pkg_installed "$root" "$p" || printf '%s\n' "$p"
	done
}

# chroot_debootstrap DIR SUITE MIRROR LOG [OPTION...]: a minimal Debian
# SUITE in DIR, emptied first; dies with the end of LOG if debootstrap fails.
chroot_debootstrap() {
	local dir=$1 suite=$2 mirror=$3 log=$4
	shift 4
	rm -rf "$dir"
	debootstrap --variant=minbase "$@" "$suite" "$dir" "$mirror" >"$log" 2>&1 || {
		tail -n 30 "$log" >&2
		die "debootstrap of $suite failed (log: $log)"
	}
}

# ---------------------------------------------------------------- sid chroot

# host_debian_mirror [ARCHIVE]: the URL of the Debian archive (default
# "debian"; "debian-security" for the security suites) the host itself uses.
host_debian_mirror() {
	local url archive=${1:-debian}
	url=$(cat /etc/apt/sources.list.d/*.sources 2>/dev/null |
		awk -v a="$archive" '/^URIs:/ { for (i = 2; i <= NF; i++) if ($i ~ "/" a "/?$") { print $i; exit } }')
	if [[ -z $url ]]; then
		url=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null |
			awk -v a="$archive" '$1 == "deb" && $2 ~ "/" a "/?$" { print $2; exit }')
	fi
	[[ -n $url ]] || die "cannot find the host's $archive mirror in its apt sources"
	printf '%s\n' "$url"
}

# sid_run CMD...: run a command inside the sid chroot with a clean env.
sid_run() {
	chroot_run "$SID_ROOT" "$@"
}

# sid_lock / sid_unlock: serialise use of the shared chroot between
# concurrent runs.
sid_lock() { path_lock "$ASHMEM_CACHE/.chroot-sid"; }
sid_unlock() { path_unlock "$ASHMEM_CACHE/.chroot-sid"; }

# sid_mount_proc: /proc inside the chroot (objtool and dpkg need it).
sid_mount_proc() { chroot_mount_proc "$SID_ROOT"; }
sid_umount_proc() { chroot_umount_proc "$SID_ROOT"; }

sid_is_complete() {
	[[ -x $SID_ROOT/usr/bin/apt-get && -x $SID_ROOT/usr/bin/make ]] &&
		chroot "$SID_ROOT" dpkg-query -W linux-headers-amd64 >/dev/null 2>&1
}

# sid_bootstrap: debootstrap a fresh sid chroot (about 35 s), atomically.
sid_bootstrap() {
	local mirror new="$SID_ROOT.new"
	mirror=${ASHMEM_SID_MIRROR:-$(host_debian_mirror debian)}
	msg "debootstrap sid into $SID_ROOT (mirror $mirror)"
	chroot_debootstrap "$new" sid "$mirror" "$ASHMEM_CACHE/debootstrap.log" \
		--include=make,libc6-dev,linux-headers-amd64,ca-certificates
	rm -rf "$SID_ROOT"
	mv "$new" "$SID_ROOT"
}

sid_ensure() {
	sid_is_complete && return 0
	[[ -e $SID_ROOT ]] && warn "sid chroot at $SID_ROOT is incomplete; rebuilding it"
	sid_bootstrap
}

# sid_refresh: newest lists and newest headers (and their gcc) in the chroot.
sid_refresh() {
	msg "refreshing the sid chroot (apt-get update, upgrade linux-headers-amd64)"
	cp -L /etc/resolv.conf "$SID_ROOT/etc/resolv.conf"
	# Mirrors that serve a frozen snapshot of sid carry a Release file whose
	# Valid-Until has passed; debootstrap does not check it, apt does.
	sid_run apt-get -q -o Acquire::Check-Valid-Until=false update >/dev/null
	sid_run apt-get install "${APT_OPTS[@]}" linux-headers-amd64 >/dev/null
	sid_run apt-get -q -y autoremove --purge >/dev/null
	sid_run apt-get clean
}

# sid_lists_age_days: age of the sid chroot's package lists, in days.
sid_lists_age_days() { chroot_lists_age_days "$SID_ROOT"; }

# chroot_lists_age_days ROOT: age of ROOT's package lists, in whole days.
chroot_lists_age_days() {
	local f
	f=$(find "$1/var/lib/apt/lists" -maxdepth 1 -name '*Release' -printf '%T@\n' | sort -n | tail -n 1)
	[[ -n $f ]] || {
		echo 9999
		return
	}
	awk -v t="${f%.*}" -v n="$(date +%s)" 'BEGIN { printf "%d\n", (n - t) / 86400 }'
}

# sid_refresh_if_stale: sid moves fast; don't test an old kernel forever.
sid_refresh_if_stale() {
	local max=${ASHMEM_SID_REFRESH_DAYS:-7} age
	[[ $max == never ]] && return 0
	age=$(sid_lists_age_days)
	((age >= max)) || return 0
	msg "sid chroot lists are $age days old (limit $max)"
	sid_refresh
}

# sid_default_kver: the release that the chroot's linux-headers-amd64 pulls.
sid_default_kver() {
	chroot "$SID_ROOT" dpkg-query -W -f='${Depends}\n' linux-headers-amd64 |
		grep -oE 'linux-headers-[^ ,]+' | head -n 1 | sed 's/^linux-headers-//'
}

# sid_ensure_headers KVER: headers of KVER installed inside the chroot.
sid_ensure_headers() {
	local pkg="linux-headers-$1"
	chroot "$SID_ROOT" dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null |
		grep -q '^install ok installed$' && return 0
	msg "installing $pkg inside the sid chroot"
	cp -L /etc/resolv.conf "$SID_ROOT/etc/resolv.conf"
	sid_run apt-get install "${APT_OPTS[@]}" "$pkg" >/dev/null || {
		sid_refresh
		sid_run apt-get install "${APT_OPTS[@]}" "$pkg" >/dev/null
	}
}

# kernel_cc HEADERS_DIR: the compiler command the headers were built with
# (Debian records it in .kernelvariables: $(CROSS_COMPILE)gcc-NN).
kernel_cc() {
	local kv="$1/.kernelvariables" cross gcc
	gcc=$(sed -n 's/^CC = .*)\(gcc-[0-9][0-9]*\)$/\1/p' "$kv" 2>/dev/null | head -n 1)
	if [[ -z $gcc ]]; then
		gcc=$(sed -n 's/^CONFIG_GCC_VERSION=\([0-9]*\)..../gcc-\1/p' "$1/.config")
	fi
	cross=$(sed -n 's/^override CROSS_COMPILE = \(x86_64-linux-gnu-\)$/\1/p' "$kv" 2>/dev/null | head -n 1)
	printf '%s%s\n' "$cross" "$gcc"
}

# sid_ensure_gcc KVER: the compiler of KVER's headers, inside the chroot.
sid_ensure_gcc() { chroot_ensure_gcc "$SID_ROOT" "$1"; }

# chroot_ensure_gcc ROOT KVER: the compiler of KVER's headers, inside ROOT.
chroot_ensure_gcc() {
	local root=$1 cc pkg
	cc=$(kernel_cc "$root/usr/src/linux-headers-$2")
	[[ -n $cc ]] || die "cannot tell which gcc built linux-headers-$2"
	if chroot_run "$root" sh -c 'command -v "$1"' sh "$cc" >/dev/null; then
		return 0
	fi
	pkg=${cc#x86_64-linux-gnu-}
	msg "$cc missing in $root: installing $pkg there"
	cp -L /etc/resolv.conf "$root/etc/resolv.conf"
	chroot_run "$root" apt-get install "${APT_OPTS[@]}" "$pkg" >/dev/null
	chroot_run "$root" sh -c 'command -v "$1"' sh "$cc" >/dev/null || die "$cc still missing in $root"
}

# ---------------------------------------------------------------- trixie chroot

# Debian's 7.3 kernels come from trixie-backports, built with trixie's
# gcc-14; that suite also still lists (images only) 6.16 to 7.1. The chroot
# carries the backports line in its own sources: the host's apt never sees
# trixie.

# bpo_run CMD...: run a command inside the trixie chroot with a clean env.
bpo_run() { chroot_run "$BPO_ROOT" "$@"; }

# bpo_lock / bpo_unlock: one run at a time uses the trixie chroot.
bpo_lock() { path_lock "$ASHMEM_CACHE/.chroot-trixie"; }
bpo_unlock() { path_unlock "$ASHMEM_CACHE/.chroot-trixie"; }

# bpo_mirror: the Debian mirror the trixie chroot uses.
bpo_mirror() { printf '%s\n' "${ASHMEM_BPO_MIRROR:-$(host_debian_mirror debian)}"; }

bpo_is_complete() {
	[[ -x $BPO_ROOT/usr/bin/apt-get && -x $BPO_ROOT/usr/bin/make ]] &&
		grep -qs 'trixie-backports' "$BPO_ROOT/etc/apt/sources.list" &&
		[[ -e $BPO_ROOT/.ashmem-complete ]]
}

# bpo_bootstrap: debootstrap trixie, add trixie-backports to its own
# sources and fetch the lists (about a minute), atomically.
bpo_bootstrap() {
	local mirror new="$BPO_ROOT.new"
	mirror=$(bpo_mirror)
	msg "debootstrap trixie into $BPO_ROOT (mirror $mirror, with trixie-backports)"
	chroot_debootstrap "$new" trixie "$mirror" "$ASHMEM_CACHE/debootstrap-trixie.log" \
		--include="$(IFS=,; echo "${BPO_PKGS[*]}")"
	printf 'deb %s trixie main\ndeb %s trixie-backports main\n' "$mirror" "$mirror" \
		>"$new/etc/apt/sources.list"
	cp -L /etc/resolv.conf "$new/etc/resolv.conf"
	chroot_run "$new" apt-get -q update >/dev/null
	touch "$new/.ashmem-complete"
	rm -rf "$BPO_ROOT"
	mv "$new" "$BPO_ROOT"
}

# bpo_ensure: a complete trixie chroot, bootstrapped if need be, with
# BPO_PKGS installed (a chroot from an older bench may lack some).
bpo_ensure() {
	local missing
	if ! bpo_is_complete; then
		[[ -e $BPO_ROOT ]] && warn "trixie chroot at $BPO_ROOT is incomplete; rebuilding it"
		bpo_bootstrap
	fi
	missing=$(chroot_missing_pkgs "$BPO_ROOT" "${BPO_PKGS[@]}")
	[[ -n $missing ]] || return 0
	msg "installing ${missing//$'\n'/ } inside the trixie chroot"
	cp -L /etc/resolv.conf "$BPO_ROOT/etc/resolv.conf"
	# shellcheck disable=SC2086 # one package a word
	bpo_run apt-get install "${APT_OPTS[@]}" $missing >/dev/null
}

# bpo_refresh: the newest package lists in the trixie chroot (backports
# ships a new 7.3 point release every few weeks and drops the old one).
bpo_refresh() {
	msg "refreshing the trixie chroot (apt-get update)"
	cp -L /etc/resolv.conf "$BPO_ROOT/etc/resolv.conf"
	bpo_run apt-get -q update >/dev/null
	bpo_run apt-get -q -y autoremove --purge >/dev/null
	bpo_run apt-get clean
}

# bpo_refresh_if_stale: refresh lists older than ASHMEM_BPO_REFRESH_DAYS.
bpo_refresh_if_stale() {
	local max=${ASHMEM_BPO_REFRESH_DAYS:-7} age
	[[ $max == never ]] && return 0
	age=$(chroot_lists_age_days "$BPO_ROOT")
	((age >= max)) || return 0
	msg "trixie chroot lists are $age days old (limit $max)"
	bpo_refresh
}

# bpo_search REGEX: package names matching REGEX in the trixie chroot's
# lists, a line each, oldest version first.
bpo_search() {
	bpo_run apt-cache search --names-only "$1" | awk '{ print $1 }' | sort -V
}

# bpo_newest_kver SERIES: the newest SERIES (e.g. 7.3) headers release in
# trixie-backports, e.g. 7.3.4+deb13-amd64 (empty if none).
bpo_newest_kver() {
	bpo_search "^linux-headers-${1//./\\.}\\.[0-9]+\\+deb13-amd64\$" |
		sed 's/^linux-headers-//' | tail -n 1
}

# bpo_ensure_headers KVER: headers of KVER (and the gcc and linux-kbuild
# they depend on) installed inside the trixie chroot; fails if apt cannot
# (the caller refreshes the lists and resolves again).
bpo_ensure_headers() {
	local pkg="linux-headers-$1"
	chroot_pkg_installed "$BPO_ROOT" "$pkg" && return 0
	msg "installing $pkg inside the trixie chroot"
	cp -L /etc/resolv.conf "$BPO_ROOT/etc/resolv.conf"
	bpo_run apt-get install "${APT_OPTS[@]}" "$pkg" >/dev/null
}

# bpo_prepare_kernel SERIES: set KVER to the newest SERIES point release
# in trixie-backports (or KVER_7_3), with its headers and gcc in the trixie
# chroot and its image cached; a failed download refreshes the chroot's
# lists (backports drops old point releases) and resolves again. The
# caller holds bpo_lock.
bpo_prepare_kernel() {
	local series=$1
	bpo_ensure
	bpo_fetch_release resolve_kver fetch_vmlinuz "$series" \
		"linux-headers-$series.*+deb13-amd64"
	chroot_ensure_gcc "$BPO_ROOT" "$KVER"
}

# bpo_fetch_release RESOLVE FETCH SERIES WHAT: set KVER to the release
# "RESOLVE SERIES" names, with its headers installed in the trixie chroot
# and "FETCH bpo KVER" having cached its image. Stale lists are refreshed
# first; a release that cannot be resolved, installed or downloaded
# refreshes them once more (backports drops old point releases) and
# resolves again. WHAT names the missing headers when nothing resolves.
# The caller holds bpo_lock.
bpo_fetch_release() {
	local resolve=$1 fetch=$2 series=$3 what=$4 kver
	bpo_refresh_if_stale
	kver=$("$resolve" "$series")
	[[ -n $kver ]] || {
		bpo_refresh
		kver=$("$resolve" "$series")
	}
	[[ -n $kver ]] || die "trixie-backports lists no $what"
	if ! bpo_ensure_headers "$kver" || ! "$fetch" bpo "$kver"; then
		warn "downloading $kver failed; refreshing the trixie chroot"
		bpo_refresh
		kver=$("$resolve" "$series")
		bpo_ensure_headers "$kver"
		"$fetch" bpo "$kver" || die "no kernel image package for $kver in trixie-backports"
	fi
	KVER=$kver
}

# ---------------------------------------------------------------- host kernels

# ensure_host_kernel_build KVER: headers and their compiler on the host.
ensure_host_kernel_build() {
	local cc
	ensure_pkgs "linux-headers-$1"
	cc=$(kernel_cc "/usr/src/linux-headers-$1")
	[[ -n $cc ]] || die "cannot tell which gcc built linux-headers-$1"
	command -v "$cc" >/dev/null || ensure_pkgs "${cc#x86_64-linux-gnu-}"
}

# ---------------------------------------------------------------- kernel images

# where_root WHERE: the chroot that WHERE (host, sid or bpo, the trixie
# chroot) names; empty for the host.
where_root() {
	case $1 in
	sid) printf '%s\n' "$SID_ROOT" ;;
	bpo) printf '%s\n' "$BPO_ROOT" ;;
	host) printf '\n' ;;
	*) die "unknown apt location $1" ;;
	esac
}

# apt_in WHERE CMD...: run an apt command on the host or in a chroot.
apt_in() {
	local root
	root=$(where_root "$1")
	shift
	if [[ -n $root ]]; then
		chroot_run "$root" "$@"
	else
		"$@"
	fi
}

# download_deb WHERE PKG DIR: apt-get download PKG into DIR (host path,
# inside the chroot for sid and bpo).
download_deb() {
	local where=$1 pkg=$2 dir=$3 inner=$3 root
	root=$(where_root "$where")
	if [[ -n $root ]]; then
		inner=${dir#"$root"}
		cp -L /etc/resolv.conf "$root/etc/resolv.conf"
	fi
	apt_in "$where" sh -c 'cd "$1" && apt-get -q -o APT::Sandbox::User=root download "$2"' \
		sh "$inner" "$pkg" >/dev/null
}

# image_candidates KVER: packages that may hold vmlinuz, most likely first.
image_candidates() {
	printf '%s\n' "linux-image-$1-unsigned" "linux-binary-$1" "linux-image-$1"
}

# fetch_vmlinuz WHERE KVER: cache KVER's vmlinuz (one run at a time
# fetches it); fails if no download works.
fetch_vmlinuz() {
	local dest="$ASHMEM_CACHE/kernels/$2" rc=0
	[[ -s $dest/vmlinuz ]] && return 0
	path_lock "$dest"
	[[ -s $dest/vmlinuz ]] || download_vmlinuz "$@" || rc=$?
	path_unlock "$dest"
	return "$rc"
}

# download_vmlinuz WHERE KVER: fetch_vmlinuz's download and unpacking.
download_vmlinuz() {
	local where=$1 kver=$2 dest="$ASHMEM_CACHE/kernels/$2" tmp pkg deb vmlinuz root
	root=$(where_root "$where")
	if [[ -n $root ]]; then
		tmpdir_under "$root/tmp"
	else
		tmpdir_under "$ASHMEM_CACHE/kernels"
	fi
	tmp=$TMPD
	while read -r pkg; do
		# A name apt only knows of (no candidate) would fail the download.
		# (awk reads to the end: grep -q would leave apt-cache a SIGPIPE,
		# which pipefail counts as a failure.)
		apt_in "$where" apt-cache policy "$pkg" 2>/dev/null |
			awk '$1 == "Candidate:" && $2 != "(none)" { ok = 1 } END { exit !ok }' || continue
		msg "apt-get download $pkg ($where)"
		download_deb "$where" "$pkg" "$tmp" || continue
		deb=$(find "$tmp" -maxdepth 1 -name "${pkg}_*.deb" | head -n 1)
		[[ -n $deb ]] || continue
		rm -rf "$tmp/x"
		dpkg-deb -x "$deb" "$tmp/x"
		vmlinuz=$(find "$tmp/x" -type f -name "vmlinuz*" | head -n 1)
		if [[ -n $vmlinuz ]]; then
			mkdir -p "$dest"
			# A script may keep more of the package (check-arm64.sh: the
			# modules its guests need) before vmlinuz completes the cache.
			if declare -F kernel_package_extras >/dev/null; then
				kernel_package_extras "$tmp/x" "$dest" "$kver"
			fi
			cp "$vmlinuz" "$dest/vmlinuz.tmp"
			printf '%s\n' "$(basename "$deb") ${vmlinuz#"$tmp/x"}" >"$dest/source"
			mv "$dest/vmlinuz.tmp" "$dest/vmlinuz"
			rm -rf "$tmp"
			return 0
		fi
		rm -f "$deb"
	done < <(image_candidates "$kver")
	rm -rf "$tmp"
	return 1
}

# ---------------------------------------------------------------- module builds

# build_module_chroot ROOT KVER DIR LOG: W=1 build inside a chroot (sid's
# or trixie's), with /proc mounted there for objtool.
build_module_chroot() {
	local root=$1 kver=$2 dir=$3 log=$4 inner rc=0
	tmpdir_under "$root/tmp"
	inner=$TMPD
	cp -a "$dir/." "$inner/"
	chroot_mount_proc "$root"
	chroot_run "$root" make -C "/usr/src/linux-headers-$kver" M="${inner#"$root"}" \
		W=1 -j"$(nproc)" modules >"$log" 2>&1 || rc=$?
	chroot_umount_proc "$root"
	cp -a "$inner/." "$dir/"
	rm -rf "$inner"
	return "$rc"
}

# ---------------------------------------------------------------- linux-source

# ksrc_ensure: extract from Debian's linux-source-6.12 (the candidate
# version) the kselftest headers and checkpatch files into
# $ASHMEM_CACHE/linux-source-6.12/<version>/; sets KSRC to that directory.
KSRC_FILES=(
	tools/testing/selftests/kselftest_harness.h
	tools/testing/selftests/kselftest.h
	scripts/checkpatch.pl
	scripts/spelling.txt
	scripts/const_structs.checkpatch
)

ksrc_ensure() {
	local pkg=linux-source-6.12 dir tmp f members=()
	ksrc_deb
	dir="$ASHMEM_CACHE/$pkg/$KSRC_VER"
	KSRC=$dir
	[[ -e $dir/.complete ]] && return 0
	path_lock "$dir"
	if [[ -e $dir/.complete ]]; then
		path_unlock "$dir"
		return 0
	fi
	msg "extracting kselftest headers and checkpatch from $(basename "$KSRC_DEB")"
	for f in "${KSRC_FILES[@]}"; do
		members+=("linux-source-6.12/$f")
	done
	tmpdir_under "$ASHMEM_CACHE/$pkg"
	tmp=$TMPD
	ksrc_untar "$tmp" "${members[@]}"
	touch "$tmp/.complete"
	chmod 0755 "$tmp"
	rm -rf "$dir"
	mv "$tmp" "$dir"
	path_unlock "$dir"
}

# ksrc_deb: make sure the candidate linux-source-6.12 package is in
# $ASHMEM_CACHE/debs; sets KSRC_VER and KSRC_DEB.
KSRC_VER=
KSRC_DEB=
ksrc_deb() {
	local pkg=linux-source-6.12 ver debs deb tmp
	ver=${ASHMEM_LINUX_SOURCE_VERSION:-$(apt_candidate "$pkg")}
	[[ -n $ver ]] || die "no candidate for $pkg in the host's apt suites"
	debs="$ASHMEM_CACHE/debs"
	mkdir -p "$debs"
	path_lock "$debs/$pkg"
	deb=$(find "$debs" -maxdepth 1 -name "${pkg}_${ver//[~:]/?}_all.deb" 2>/dev/null | head -n 1)
	if [[ -z $deb ]]; then
		tmpdir_under "$debs"
		tmp=$TMPD
		msg "apt-get download $pkg=$ver"
		download_deb host "$pkg=$ver" "$tmp"
		deb=$(find "$tmp" -maxdepth 1 -name "${pkg}_*.deb" | head -n 1)
		[[ -n $deb ]] || die "download of $pkg=$ver failed"
		mv "$deb" "$debs/"
		deb="$debs/$(basename "$deb")"
		# Keep only this version's package (150 MB each).
		find "$debs" -maxdepth 1 -name "${pkg}_*_all.deb" ! -samefile "$deb" -delete
	fi
	path_unlock "$debs/$pkg"
	KSRC_VER=$ver
	KSRC_DEB=$deb
}

# ksrc_untar DEST [MEMBER...]: unpack the source tarball of $KSRC_DEB into
# DEST, without its top directory; only MEMBERs (linux-source-6.12/...) if
# any are named.
ksrc_untar() {
	local dest=$1
	shift
	dpkg-deb --fsys-tarfile "$KSRC_DEB" |
		tar -xO ./usr/src/linux-source-6.12.tar.xz |
		tar -xJ -C "$dest" --strip-components=1 "$@"
}

# ---------------------------------------------------------------- sources

# copy_tree SRC DEST [EXCLUDE...]: copy a source tree without VCS data or
# stale build products (those would make kbuild skip work or mix kernels).
copy_tree() {
	local src=$1 dest=$2 ex args=()
	shift 2
	for ex in .git '*.o' '*.ko' '*.mod' '*.mod.c' '.*.cmd' '*.a' \
		modules.order Module.symvers .tmp_versions "$@"; do
		args+=("--exclude=$ex")
	done
	mkdir -p "$dest"
	tar -C "$src" "${args[@]}" -cf - . | tar -C "$dest" -xf -
}

# copy_module_sources SRC DEST: the module's sources only (not tests or
# bench).
copy_module_sources() {
	copy_tree "$1" "$2" ./tests ./scripts ./.ci
}

# source_revision: which commit of the sources is tested (+ if edited).
source_revision() {
	local rev
	rev=$(git -C "$ASHMEM_SRC" rev-parse --short HEAD 2>/dev/null) || {
		echo "(not a git tree)"
		return
	}
	git -C "$ASHMEM_SRC" diff --quiet HEAD -- . 2>/dev/null || rev+=" + uncommitted changes"
	printf '%s\n' "$rev"
}
