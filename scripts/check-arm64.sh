#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# Cross-build ashmem_linux.ko and the tests for Debian's arm64 kernels, boot
# each kernel in qemu-system-aarch64 (-M virt -cpu max, TCG) from a busybox
# initramfs, load the module there and run the tests.
#
#   scripts/check-arm64.sh [--bench] [SERIES...]
#
# SERIES is arm64-6.1 or arm64-7.3 (4K pages), arm64-6.12-16k or
# arm64-7.3-16k (16K pages), or just 6.1, 6.12, 7.3 or 7.3-16k (default:
# all four, ARM64_DEFAULT): the newest linux-headers-6.1.0-<N>-arm64 and
# linux-headers-6.12.<N>+deb12-arm64-16k in the host's Debian 12 suites
# (the script adds the arm64 architecture to the host's apt for that), and
# the newest linux-headers-7.3.<N>+deb13-arm64 and -arm64-16k in
# trixie-backports (through lib.sh's trixie chroot). Override with
# KVER_ARM64_6_1=..., KVER_ARM64_6_12_16K=..., KVER_ARM64_7_3=... and
# KVER_ARM64_7_3_16K=.... --bench runs the benchmark instead, then
# scripts/bench-report.sh. The last line is "N passed, N failed[, N
# skipped]"; the exit status is non-zero when anything failed. See
# scripts/lib.sh for the environment.
#
#   ASHMEM_BOOT_TIMEOUT  seconds one guest may run (default 900)
#   ASHMEM_KEEP_RUNS     run directories kept under $ASHMEM_CACHE/runs (5)
#   ASHMEM_VERBOSE=1     print the whole guest output of passing kernels too
#
# The cross toolchain (gcc-aarch64-linux-gnu, libc6-dev-arm64-cross) cannot
# be installed beside gcc-multilib, which the amd64 bench's 32-bit tests
# need, so it lives in chroots under the cache. For 6.1 and 6.12 (and the
# tests) that is a debootstrapped Debian 12 chroot: the arm64 header
# packages are only unpacked, their usr/src and kbuild copied into it; the
# amd64 linux-kbuild of the same version runs the build. For 7.3 it is
# lib.sh's trixie chroot (scripts/check.sh builds amd64 7.3 there), given
# the arm64 architecture: apt installs linux-headers-7.3.*-arm64[-16k]
# there, which pulls trixie's gcc-14-aarch64-linux-gnu (the compiler Debian
# built them with) and uses the amd64 linux-kbuild (Multi-Arch: foreign).
# Nothing arm64 is ever installed on the host.

# Single-quoted sh -c scripts are literal on purpose.
# shellcheck disable=SC2016
set -euo pipefail

SCRIPTS=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=scripts/lib.sh
. "$SCRIPTS/lib.sh"
# shellcheck source=scripts/guest.sh
. "$SCRIPTS/guest.sh"

BOOT_TIMEOUT=${ASHMEM_BOOT_TIMEOUT:-900}
ARM64_SERIES=(arm64-6.1 arm64-6.12-16k arm64-7.3 arm64-7.3-16k)
# What runs without SERIES, and so in CI: every series.
ARM64_DEFAULT=("${ARM64_SERIES[@]}")
ARM64_CACHE="$ASHMEM_CACHE/arm64"
XROOT="$ASHMEM_CACHE/chroot-bookworm-arm64"
CROSS=aarch64-linux-gnu-
# What the chroot needs: the cross compiler and static libc, make, perl
# (W=1 runs kernel-doc), dwarves and libelf (6.12's module BTF), bc.
XROOT_PKGS=(make gcc-aarch64-linux-gnu libc6-dev-arm64-cross dwarves libelf-dev bc perl)
# What the host needs for this script (no compiler: that is the chroot's).
ARM64_HOST_PKGS=(qemu-system-arm debootstrap kmod cpio gzip xz-utils)

usage() {
	sed -n '4,25s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"
	exit "${1:-0}"
}

# series_name ARG: the series an argument names (6.12 -> arm64-6.12-16k).
series_name() {
	case $1 in
	6.1 | arm64-6.1) echo arm64-6.1 ;;
	6.12 | 6.12-16k | arm64-6.12-16k) echo arm64-6.12-16k ;;
	7.3 | arm64-7.3) echo arm64-7.3 ;;
	7.3-16k | arm64-7.3-16k) echo arm64-7.3-16k ;;
	*) die "unknown arm64 kernel series '$1' (known: ${ARM64_SERIES[*]})" ;;
	esac
}

# series_where SERIES: where SERIES's packages come from and its module is
# built: host (the host's Debian 12 suites, the bookworm cross chroot) or
# bpo (trixie-backports, lib.sh's trixie chroot).
series_where() {
	case $1 in
	arm64-7.3 | arm64-7.3-16k) echo bpo ;;
	*) echo host ;;
	esac
}

# series_label SERIES KVER: how the summary names a kernel.
series_label() { printf '%s\n' "$1"; }

# ---------------------------------------------------------------- host

# ensure_arm64_apt: the host's apt knows arm64 packages. Adding the
# architecture installs nothing; the lists are fetched once, then only when
# they lack arm64 (a warm run asks no mirror).
ensure_arm64_apt() {
	path_lock "$APT_LOCK"
	if ! dpkg --print-foreign-architectures | grep -qx arm64; then
		msg "dpkg --add-architecture arm64 (for apt-get download only)"
		dpkg --add-architecture arm64
		rm -f "$ASHMEM_CACHE/.apt-updated"
	fi
	if [[ -z $(apt_candidate busybox-static:arm64) ]]; then
		rm -f "$ASHMEM_CACHE/.apt-updated"
		apt_update_once
		[[ -n $(apt_candidate busybox-static:arm64) ]] ||
			die "the host's apt suites carry no arm64 packages"
	fi
	path_unlock "$APT_LOCK"
}

# fetch_busybox: busybox-static:arm64 for the initramfs, cached by version;
# sets BUSYBOX (read by make_initramfs).
fetch_busybox() {
	local ver dir tmp deb
	ver=$(apt_candidate busybox-static:arm64)
	dir="$ARM64_CACHE/busybox/$ver"
	if [[ ! -x $dir/busybox ]]; then
		tmpdir_under "$ARM64_CACHE/busybox"
		tmp=$TMPD
		msg "apt-get download busybox-static:arm64=$ver"
		download_deb host "busybox-static:arm64=$ver" "$tmp"
		deb=$(find "$tmp" -maxdepth 1 -name 'busybox-static_*_arm64.deb' | head -n 1)
		[[ -n $deb ]] || die "download of busybox-static:arm64=$ver failed"
		dpkg-deb -x "$deb" "$tmp/x"
		mkdir -p "$dir"
		install -m 0755 "$tmp/x/bin/busybox" "$dir/busybox.tmp"
		mv "$dir/busybox.tmp" "$dir/busybox"
		rm -rf "$tmp"
	fi
	BUSYBOX="$dir/busybox"
}

# ---------------------------------------------------------------- chroot

# xroot_run CMD...: run a command inside the cross chroot (lib.sh's
# chroot_run: clean environment, no CAP_SYS_MODULE).
xroot_run() { chroot_run "$XROOT" "$@"; }

# xroot_lock / xroot_unlock: one user of the chroot at a time.
xroot_lock() { path_lock "$XROOT"; }
xroot_unlock() { path_unlock "$XROOT"; }

# xroot_bootstrap: debootstrap a fresh Debian 12 chroot, atomically.
xroot_bootstrap() {
	local mirror new="$XROOT.new" log="$ASHMEM_CACHE/debootstrap-arm64.log" inc
	mirror=$(host_debian_mirror)
	inc=$(IFS=,; echo "${XROOT_PKGS[*]}")
	msg "debootstrap bookworm with the arm64 cross toolchain into $XROOT (mirror $mirror)"
	chroot_debootstrap "$new" bookworm "$mirror" "$log" --include="$inc"
	rm -rf "$XROOT"
	mv "$new" "$XROOT"
}

# xroot_ensure: a complete chroot: bootstrapped when missing or broken,
# topped up with apt-get when only packages are missing.
xroot_ensure() {
	local missing
	if [[ ! -x $XROOT/usr/bin/apt-get ]]; then
		[[ -e $XROOT ]] && warn "the chroot at $XROOT is broken; rebuilding it"
		xroot_bootstrap
	fi
	missing=$(chroot_missing_pkgs "$XROOT" "${XROOT_PKGS[@]}")
	[[ -n $missing ]] || return 0
	msg "installing into the chroot: ${missing//$'\n'/ }"
	cp -L /etc/resolv.conf "$XROOT/etc/resolv.conf"
	# shellcheck disable=SC2086 # one word per package
	xroot_run apt-get install "${APT_OPTS[@]}" $missing >/dev/null || {
		xroot_run apt-get -q update >/dev/null
		# shellcheck disable=SC2086
		xroot_run apt-get install "${APT_OPTS[@]}" $missing >/dev/null
	}
}

# cross_ensure_gcc ROOT KVER: the cross compiler KVER's headers in ROOT ask
# for (aarch64-linux-gnu-gcc-NN), installed in ROOT if missing.
cross_ensure_gcc() {
	local root=$1 cc
	cc=$(kernel_cc "$root/usr/src/linux-headers-$2")
	[[ -n $cc ]] || die "cannot tell which gcc built linux-headers-$2"
	cc="$CROSS${cc#"$CROSS"}"
	chroot_run "$root" sh -c 'command -v "$1"' sh "$cc" >/dev/null && return 0
	msg "$cc missing in $root: installing ${cc#"$CROSS"}-aarch64-linux-gnu there"
	cp -L /etc/resolv.conf "$root/etc/resolv.conf"
	chroot_run "$root" apt-get install "${APT_OPTS[@]}" "${cc#"$CROSS"}-aarch64-linux-gnu" >/dev/null
}

# ---------------------------------------------------------------- trixie chroot

# bpo_ensure_arm64: lib.sh's trixie chroot knows the arm64 packages of
# trixie and trixie-backports (the first time: dpkg --add-architecture and
# apt-get update there, about 10 MB), and leaves out the device trees of
# the arm64 linux-base packages the headers depend on (about 120 MB each,
# which nothing here reads). The caller holds bpo_lock.
bpo_ensure_arm64() {
	local nodtb="$BPO_ROOT/etc/dpkg/dpkg.cfg.d/ashmem-no-dtb"
	[[ -e $nodtb ]] || printf 'path-exclude=/usr/lib/modules/*/dtb/*\n' >"$nodtb"
	if ! grep -qx arm64 <<<"$(chroot "$BPO_ROOT" dpkg --print-foreign-architectures)"; then
		msg "adding the arm64 architecture to the trixie chroot (for arm64 7.3)"
		bpo_run dpkg --add-architecture arm64
	fi
	compgen -G "$BPO_ROOT/var/lib/apt/lists/*_trixie-backports_main_binary-arm64_Packages" \
		>/dev/null || bpo_refresh
}

# bpo_arm64_kver SERIES: KVER_ARM64_7_3[_16K], or the newest release of
# SERIES (arm64-7.3: 7.3.<N>+deb13-arm64, arm64-7.3-16k: ...-arm64-16k) in
# the trixie chroot's lists; empty if there is none.
# Called through bpo_fetch_release, which shellcheck cannot follow.
# shellcheck disable=SC2317
bpo_arm64_kver() {
	local var line=${1#arm64-} flavour=arm64
	var=$(series_var "$1")
	if [[ -n ${!var:-} ]]; then
		printf '%s\n' "${!var}"
		return
	fi
	[[ $line == *-16k ]] && flavour=arm64-16k
	line=${line%-16k}
	bpo_search "^linux-headers-${line//./\\.}\\.[0-9]+\\+deb13-$flavour\$" |
		sed 's/^linux-headers-//' | tail -n 1
}

# bpo_prepare_arm64 SERIES: set KVER to SERIES's release, with its headers
# (and, through gcc-14-for-host:arm64, its cross compiler) installed in the
# trixie chroot and its vmlinuz and early modules cached, through lib.sh's
# bpo_fetch_release, as bpo_prepare_kernel does for amd64. The caller
# holds bpo_lock.
bpo_prepare_arm64() {
	local series=$1
	bpo_ensure
	bpo_ensure_arm64
	bpo_fetch_release bpo_arm64_kver fetch_arm64_kernel "$series" \
		"headers for $series"
	cross_ensure_gcc "$BPO_ROOT" "$KVER"
}

# ---------------------------------------------------------------- headers

# deb_dependency DEB REGEX: "package=version" of the dependency of DEB
# whose name matches REGEX: the version its constraint names, or DEB's own
# (the kernel packages of one upload share the source version).
deb_dependency() {
	dpkg-deb -f "$1" Depends | sed 's/[,|]/\n/g' |
		sed -nE "s/^ *($2)( \\((=|>=) ([^)]+)\\))? *$/\\1=\\4/p" | head -n 1 |
		sed "s/=\$/=$(dpkg-deb -f "$1" Version)/"
}

# download_into DIR PKG=VER [FALLBACK]: apt-get download into DIR; on
# failure (the archive moved on), FALLBACK instead; prints the .deb.
download_into() {
	local dir=$1 want=$2 fallback=${3:-} name=${2%%[:=]*} deb
	msg "apt-get download $want"
	if ! download_deb host "$want" "$dir"; then
		[[ -n $fallback ]] || die "download of $want failed"
		warn "$want is gone from the archive; taking $fallback"
		download_deb host "$fallback" "$dir" || die "download of $fallback failed"
	fi
	deb=$(find "$dir" -maxdepth 1 -name "${name}_*.deb" | head -n 1)
	[[ -n $deb ]] || die "apt-get download $want left no .deb"
	printf '%s\n' "$deb"
}

# fetch_arm64_headers KVER: the arm64 headers of KVER, their -common and
# the amd64 linux-kbuild they need, unpacked into
# $ARM64_CACHE/headers/KVER/usr/{src,lib}.
fetch_arm64_headers() {
	local kver=$1 dir="$ARM64_CACHE/headers/$1" tmp hdr common kbuild deb
	[[ -e $dir/.complete ]] && return 0
	tmpdir_under "$ARM64_CACHE/headers"
	tmp=$TMPD
	mkdir -p "$tmp/debs"
	hdr=$(download_into "$tmp/debs" "linux-headers-$kver:arm64")
	common=$(deb_dependency "$hdr" 'linux-headers-[^ ]+-common')
	kbuild=$(deb_dependency "$hdr" 'linux-kbuild-[^ ]+')
	[[ -n $common && -n $kbuild ]] || die "$(basename "$hdr") names no -common or linux-kbuild dependency"
	download_into "$tmp/debs" "$common" >/dev/null
	# linux-kbuild-6.1 only asks for ">=": the exact version first.
	download_into "$tmp/debs" "${kbuild%%=*}:amd64=${kbuild#*=}" "${kbuild%%=*}:amd64" >/dev/null
	for deb in "$tmp"/debs/*.deb; do
		dpkg-deb -x "$deb" "$tmp/x"
	done
	mkdir -p "$tmp/tree/usr/src" "$tmp/tree/usr/lib"
	mv "$tmp"/x/usr/src/* "$tmp/tree/usr/src/"
	mv "$tmp"/x/usr/lib/linux-kbuild-* "$tmp/tree/usr/lib/"
	for deb in "$tmp"/debs/*.deb; do
		basename "$deb"
	done >"$tmp/tree/source"
	touch "$tmp/tree/.complete"
	rm -rf "$dir"
	mv "$tmp/tree" "$dir"
	rm -rf "$tmp"
}

# xroot_install_headers KVER: copy KVER's unpacked trees into the chroot's
# /usr (the headers include their -common by absolute path). Each copied
# directory records the kernel it came from, so a tree shared between ABIs
# (linux-kbuild-6.1) is replaced when another ABI needs its own version.
xroot_install_headers() {
	local kver=$1 src="$ARM64_CACHE/headers/$1" d rel
	for d in "$src"/usr/lib/* "$src"/usr/src/*; do
		rel=${d#"$src"/}
		if [[ -L $d ]]; then
			# linux-kbuild's link to itself in /usr/src.
			rm -rf "${XROOT:?}/$rel"
			cp -a "$d" "$XROOT/$rel"
			continue
		fi
		[[ $(cat "$XROOT/$rel/.ashmem-kver" 2>/dev/null) == "$kver" ]] && continue
		rm -rf "${XROOT:?}/$rel"
		cp -a "$d" "$XROOT/$rel"
		printf '%s\n' "$kver" >"$XROOT/$rel/.ashmem-kver"
	done
}

# ---------------------------------------------------------------- kernels

# The modules a guest needs for its virtio console when the kernel does not
# have them built in: CONFIG option and module path, in load order.
GUEST_MODULES=("VIRTIO_MMIO drivers/virtio/virtio_mmio"
	"VIRTIO_CONSOLE drivers/char/virtio_console")

# kernel_package_extras XDIR DEST KVER: called by fetch_vmlinuz with the
# unpacked image package: keep in DEST/early the modules of GUEST_MODULES
# that KVER builds as modules, uncompressed for busybox insmod, each after
# the modules it depends on. Debian's 6.1 and 6.12 image packages hold the
# config and the modules; from 7.3 the image is split: vmlinuz alone in
# linux-binary-KVER, the config in linux-base-KVER (installed in the
# trixie chroot as a dependency of the headers), the modules in
# linux-modules-KVER (fetch_split_modules).
EXTRAS_WHERE=host
kernel_package_extras() {
	local x=$1 dest=$2 kver=$3 root config spec opt mod val f n=0 dep
	local want=() names=() loaded=()
	root=$(where_root "$EXTRAS_WHERE")
	for config in "$x/boot/config-$kver" ${root:+"$root/usr/lib/modules/$kver/config"} ""; do
		[[ -z $config || -f $config ]] && break
	done
	[[ -n $config ]] || die "no config of $kver in its image package${root:+ or in $root}"
	for spec in "${GUEST_MODULES[@]}"; do
		opt=${spec%% *} mod=${spec#* } n=$((n + 1))
		val=$(sed -n "s/^CONFIG_$opt=//p" "$config")
		case $val in
		y) ;;
		m)
			want+=("$mod")
			names+=("$n-${mod##*/}")
			;;
		*) die "$kver lacks CONFIG_$opt: its guests would have no virtio console" ;;
		esac
	done
	((${#want[@]})) || {
		rm -rf "$dest/early"
		mkdir -p "$dest/early"
		return 0
	}
	[[ -n $(find "$x" -path "*/modules/$kver/kernel/${want[0]}.ko*") ]] ||
		fetch_split_modules "$x" "$kver" "${want[@]}"
	rm -rf "$dest/early"
	mkdir -p "$dest/early"
	for n in "${!want[@]}"; do
		mod=${want[n]}
		f=$(find "$x" -path "*/modules/$kver/kernel/$mod.ko*" | head -n 1)
		[[ -n $f ]] || die "$kver: $mod.ko is missing from its packages"
		case $f in
		*.xz) xz -dc "$f" >"$dest/early/${names[n]}.ko" ;;
		*.zst) zstd -qdc "$f" >"$dest/early/${names[n]}.ko" ;;
		*) cp "$f" "$dest/early/${names[n]}.ko" ;;
		esac
		# /init loads /early/*.ko in order, with no modprobe to pull in
		# what a module needs: that must come earlier in GUEST_MODULES.
		for dep in $(modinfo -F depends "$dest/early/${names[n]}.ko" | tr , ' '); do
			[[ " ${loaded[*]} " == *" $dep "* ]] ||
				die "$kver: ${mod##*/} needs the module $dep, which GUEST_MODULES does not load before it"
		done
		loaded+=("$(basename "$mod" | tr - _)")
	done
}

# fetch_split_modules XDIR KVER MOD...: unpack the MODs (paths under
# kernel/, without .ko) from KVER's linux-modules package into XDIR, for
# the kernels (7.3) whose image package holds no modules; only those files
# are unpacked, the package is not kept.
fetch_split_modules() {
	local x=$1 kver=$2 dir deb mod pats=()
	shift 2
	dir="$(dirname "$x")/modules-deb"
	mkdir -p "$dir"
	msg "apt-get download linux-modules-$kver ($EXTRAS_WHERE), for ${*##*/}"
	download_deb "$EXTRAS_WHERE" "linux-modules-$kver" "$dir" ||
		die "download of linux-modules-$kver failed"
	deb=$(find "$dir" -maxdepth 1 -name "linux-modules-${kver}_*.deb" | head -n 1)
	[[ -n $deb ]] || die "apt-get download linux-modules-$kver left no .deb"
	for mod; do
		pats+=("*/modules/$kver/kernel/$mod.ko*")
	done
	dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$x" --wildcards "${pats[@]}"
	rm -rf "$dir"
}

# fetch_arm64_kernel WHERE KVER: vmlinuz and the guest's early modules,
# cached, from the apt WHERE names (lib.sh's where_root); fails if no
# download works.
fetch_arm64_kernel() {
	local dest="$ASHMEM_CACHE/kernels/$2"
	# A cache entry from before the early modules were kept: fetch again.
	[[ -d $dest/early ]] || rm -f "$dest/vmlinuz"
	EXTRAS_WHERE=$1
	fetch_vmlinuz "$1" "$2"
}

# ---------------------------------------------------------------- builds

# elf_machine FILE: the e_machine of an ELF file (183 is AArch64); empty
# for anything else.
elf_machine() {
	[[ $(od -An -c -N4 "$1" | tr -d ' ') == '177ELF' ]] || return 0
	od -An -tu2 -j18 -N2 "$1" | tr -d ' '
}

# build_tests RUN: cross-build the tests (static, no -m32) in the chroot
# once, and install them into RUN/tests-root, the /tests of every guest.
build_tests() {
	local run=$1 log="$1/tests-build.log" inner rel f args
	xroot_lock
	tmpdir_under "$XROOT/tmp"
	inner=$TMPD
	rel=${inner#"$XROOT"}
	copy_tree "$run/src" "$inner/src"
	mkdir -p "$inner/ksft"
	cp "$KSRC/tools/testing/selftests/kselftest_harness.h" \
		"$KSRC/tools/testing/selftests/kselftest.h" "$inner/ksft/"
	args=(CC="${CROSS}gcc" COMPAT32=0 KSFT_INC="$rel/ksft")
	msg "cross-building the tests (KSFT_INC from linux-source-6.12 $(basename "$KSRC"))"
	# clean first: a binary of the host's that is newer than its source
	# would otherwise be installed as it is.
	if ! xroot_run make -C "$rel/src/tests" clean >"$log" 2>&1 ||
		! xroot_run make -C "$rel/src/tests" -j"$(nproc)" "${args[@]}" >>"$log" 2>&1 ||
		! xroot_run make -C "$rel/src/tests" install DESTDIR="$rel/out" "${args[@]}" >>"$log" 2>&1; then
		cat "$log" >&2
		die "cross-building the tests failed (log: $log)"
	fi
	xroot_unlock
	mkdir -p "$run/tests-root/tests"
	cp -a "$inner/out/." "$run/tests-root/tests/"
	rm -rf "$inner"
	[[ -x $run/tests-root/tests/run_guest.sh ]] || die "tests install put no run_guest.sh in /tests"
	filter_tests "$run/tests-root/tests/tests.list"
	for f in "$run"/tests-root/tests/*; do
		case $(elf_machine "$f") in
		'' | 183) ;;
		*) die "$(basename "$f") in the tests install is not an AArch64 program" ;;
		esac
	done
}

# build_module ROOT KVER DIR LOG: W=1 cross build inside the chroot ROOT.
build_module() {
	local root=$1 kver=$2 dir=$3 log=$4 inner rc=0
	tmpdir_under "$root/tmp"
	inner=$TMPD
	cp -a "$dir/." "$inner/"
	chroot_run "$root" make -C "/usr/src/linux-headers-$kver" M="${inner#"$root"}" \
		CROSS_COMPILE="$CROSS" W=1 -j"$(nproc)" modules >"$log" 2>&1 || rc=$?
	cp -a "$inner/." "$dir/"
	rm -rf "$inner"
	return "$rc"
}

# check_arm64_module KO KVER: the module exists, is AArch64 code and was
# built for KVER.
check_arm64_module() {
	local vermagic
	[[ -f $1 ]] || return 1
	[[ $(elf_machine "$1") == 183 ]] || {
		warn "$1 is not an AArch64 object"
		return 1
	}
	vermagic=$(modinfo -F vermagic "$1")
	[[ $vermagic == "$2 "* ]] || {
		warn "$1 has vermagic '$vermagic', expected $2"
		return 1
	}
}

# ---------------------------------------------------------------- guests

# guest_root RUN DIR KVER: the files a guest gets beside busybox, /init and
# the module: the tests, the virtio console's name and its early modules.
guest_root() {
	local root="$2/guest-root" early="$ASHMEM_CACHE/kernels/$3/early"
	rm -rf "$root"
	mkdir -p "$root/etc" "$root/early"
	cp -a "$1/tests-root/." "$root/"
	printf '%s\n' /dev/hvc0 >"$root/etc/ashmem-bench-port"
	cp -a "$early/." "$root/early/"
	printf '%s\n' "$root"
}

# Kernel command line, as on amd64 (scripts/check.sh) but with the PL011 as
# the kernel console: the kernel logs at full verbosity into console.log;
# /init writes the markers, the test output and the final dmesg to the
# virtio console (guest.log), so kernel messages never split test output.
GUEST_CMDLINE="console=ttyAMA0 panic=-1 log_buf_len=4M softlockup_panic=1 hung_task_panic=1 sysctl.kernel.hung_task_timeout_secs=60"

# boot_guest VMLINUZ INITRD DIR: run the guest; leaves DIR/console.log and
# DIR/guest.log, and the guest's own run time in GUEST_S. pauth-impdef:
# the architected pointer-authentication cipher costs TCG a lot of time.
# Both vCPUs run on host threads of their own (two guest slots): with one
# host thread for both, kswapd and the allocating task of the pressure
# test take turns, and the OOM killer won a cold CI run on 6.1 (issue 13).
GUEST_S=0
TCG_THREAD=multi
GUEST_CPUS=2
boot_guest() {
	local dir=$3 rc=0 t0
	qemu_lock "$(tcg_host_threads "$TCG_THREAD" "$GUEST_CPUS")"
	t0=$(now)
	timeout -k 10 "$BOOT_TIMEOUT" qemu-system-aarch64 -M virt \
		-cpu max,pauth-impdef=on -accel "tcg,thread=$TCG_THREAD" \
		-m 1024 -smp "$GUEST_CPUS" -nographic -no-reboot -net none \
		-serial mon:stdio \
		-device virtio-serial-device \
		-chardev "file,id=guestlog,path=$dir/guest.log.raw" \
		-device virtconsole,chardev=guestlog \
		-kernel "$1" -initrd "$2" -append "$GUEST_CMDLINE" \
		</dev/null >"$dir/console.log.raw" 2>&1 || rc=$?
	GUEST_S=$(elapsed "$t0")
	guest_done "$dir"
	return "$rc"
}

# ---------------------------------------------------------------- per kernel

# prepare_kernel SERIES: set KVER to the exact release of SERIES (one of
# the host's) once its headers are cached and its vmlinuz and modules too.
KVER=
prepare_kernel() {
	local kver
	kver=$(resolve_kver "$1")
	[[ -n $kver ]] || die "cannot resolve a kernel for $1"
	fetch_arm64_headers "$kver"
	fetch_arm64_kernel host "$kver" || die "no kernel image package for $kver"
	KVER=$kver
}

# prepare_and_build SERIES DIR: set KVER for SERIES (as prepare_kernel or
# bpo_prepare_arm64), then build the module in DIR/build with its chroot,
# the build's log in DIR/build.log; fails if the build does.
prepare_and_build() {
	local series=$1 dir=$2 rc=0
	if [[ $(series_where "$series") == bpo ]]; then
		bpo_lock
		bpo_prepare_arm64 "$series"
		build_module "$BPO_ROOT" "$KVER" "$dir/build" "$dir/build.log" || rc=$?
		bpo_unlock
	else
		prepare_kernel "$series"
		xroot_lock
		xroot_install_headers "$KVER"
		cross_ensure_gcc "$XROOT" "$KVER"
		build_module "$XROOT" "$KVER" "$dir/build" "$dir/build.log" || rc=$?
		xroot_unlock
	fi
	msg "[$series] kernel $KVER (image $(cat "$ASHMEM_CACHE/kernels/$KVER/source"))"
	return "$rc"
}

# run_kernel SERIES MODE RUN: everything for one kernel; runs in a subshell
# with set -e, and leaves RUN/SERIES/result for the summary.
run_kernel() {
	local series=$1 mode=$2 run=$3 dir kver t0 t_build rc=0
	local ko warnings nwarn root reasons=()
	arm_cleanup
	dir="$run/$series"
	mkdir -p "$dir"
	t0=$(now)
	copy_module_sources "$run/src" "$dir/build"
	prepare_and_build "$series" "$dir" || rc=$?
	kver=$KVER
	t_build=$(elapsed "$t0")
	ko="$dir/build/ashmem_linux.ko"
	warnings=$(grep -i 'warning:' "$dir/build.log" || true)
	nwarn=$(grep -c . <<<"$warnings" || true)
	if ((rc)) || ! check_arm64_module "$ko" "$kver"; then
		cat "$dir/build.log" >&2
		write_result "$dir/result" "kver=$kver" status=FAIL passed=0 failed=1 skipped=0 \
			"warnings=$nwarn" "build_s=$t_build" boot_s=0 "why=module build failed (log: $dir/build.log)"
		return 1
	fi
	if ((nwarn)); then
		printf '[%s] build warning: %s\n' "$kver" "${warnings//$'\n'/$'\n'[$kver] build warning: }" >&2
		reasons+=("$nwarn build warning(s)")
	fi

	root=$(guest_root "$run" "$dir" "$kver")
	make_initramfs "$mode" "$ko" "$root" "$dir/initramfs.cpio.gz"
	rm -rf "$root"
	msg "[$series] booting $kver in qemu-system-aarch64 (TCG); logs: $dir/{guest,console}.log"
	rc=0
	boot_guest "$ASHMEM_CACHE/kernels/$kver/vmlinuz" "$dir/initramfs.cpio.gz" "$dir" || rc=$?
	grep -q "^$MARK warning: no " "$dir/guest.log" "$dir/console.log" &&
		reasons+=("the guest had no virtio console for its output")
	conclude_kernel "$dir" "$mode" "$kver" "$rc" "$nwarn" "$t_build" "${reasons[@]}"
}

# ---------------------------------------------------------------- main

# prepare_host: host packages, arm64 in apt, kselftest headers, busybox and
# the chroot: everything shared by the kernels of a run.
prepare_host() {
	ensure_pkgs "${ARM64_HOST_PKGS[@]}"
	ensure_arm64_apt
	ksrc_ensure
	fetch_busybox
	xroot_lock
	xroot_ensure
	xroot_unlock
}

main() {
	local mode=tests series=() s run t0
	while (($#)); do
		case $1 in
		--bench) mode=bench ;;
		-h | --help) usage 0 ;;
		-*) usage 2 >&2 ;;
		*) series+=("$(series_name "$1")") ;;
		esac
		shift
	done
	((${#series[@]})) || series=("${ARM64_DEFAULT[@]}")

	require_root
	arm_cleanup
	t0=$(now)
	check_sources
	prepare_host
	new_run_dir
	run=$RUN_DIR
	snapshot_sources "$run"
	build_tests "$run"

	run_all "$mode" "$run" "$t0" "${series[@]}"
}

# "exit" on the same line: bash reads scripts as it runs them, and must not
# read on into a file that was edited meanwhile.
main "$@"; exit
