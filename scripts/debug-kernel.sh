# SPDX-License-Identifier: GPL-2.0-only
# shellcheck shell=bash
# Variables set here are used by the scripts that source this file (SC2034).
# shellcheck disable=SC2034
#
# The debug guest kernel of make check-debug, sourced by check.sh after
# lib.sh: Debian's linux-source-6.12 configured as allnoconfig plus
# scripts/debug-kernel.config (what the guest boots and the tests use, and
# KASAN, lockdep, kmemleak, UBSAN, fault injection), built once and cached
# under $ASHMEM_CACHE/debug-kernel/<source version>-<fragment hash>/.

DEBUG_FRAGMENT="$SCRIPTS/debug-kernel.config"
# The series name make check-debug runs under.
DEBUG_SERIES=debug
# What building a kernel needs beyond the bench's own tools.
KBUILD_PKGS=(bc bison flex libelf-dev libssl-dev)

# ---------------------------------------------------------------- the kernel

# fragment_options: the CONFIG_ lines of the fragment, "is not set" ones in
# the form .config writes them.
fragment_options() {
	grep -E '^(CONFIG_|# CONFIG_[A-Z0-9_]+ is not set)' "$DEBUG_FRAGMENT"
}

# check_fragment_survived TREE: every option of the fragment is in TREE's
# .config as written (kconfig silently drops what a dependency
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

# configure_debug_kernel TREE: everything off but what the fragment names
# and what that selects (kconfig's KCONFIG_ALLCONFIG: the fragment is the
# seed of allnoconfig).
configure_debug_kernel() {
	local tree=$1
	make -C "$tree" -s allnoconfig KCONFIG_ALLCONFIG="$DEBUG_FRAGMENT"
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
	# Keyed by the options, not the comments around them.
	key="$KSRC_VER-$(fragment_options | sha256sum | cut -c1-12)"
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
		msg "debug kernel: building bzImage and modules_prepare ($(nproc) jobs; log: $dir.build.log)"
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

# debug_kernel_install: make sure the debug kernel is built and its image
# sits in the kernel cache like Debian's ($ASHMEM_CACHE/kernels/<kver>/);
# sets KVER to its release.
debug_kernel_install() {
	local dest
	debug_kernel_ensure
	dest="$ASHMEM_CACHE/kernels/$DEBUG_KVER"
	mkdir -p "$dest"
	if ! cmp -s "$DEBUG_TREE/arch/x86/boot/bzImage" "$dest/vmlinuz"; then
		cp "$DEBUG_TREE/arch/x86/boot/bzImage" "$dest/vmlinuz"
	fi
	printf 'linux-source-6.12 %s + %s\n' "$KSRC_VER" "$(basename "$DEBUG_TREE")" >"$dest/source"
	KVER=$DEBUG_KVER
}

# debug_guest_settings: how check.sh --debug runs its guest: the
# reliability tests a minute each, one round of each pressure test, room
# for KASAN's shadow memory and for a kernel that runs several times slower
# than Debian's, and three test builds fewer.
debug_guest_settings() {
	ASHMEM_RELIABILITY_SECONDS=${ASHMEM_RELIABILITY_SECONDS:-60}
	GUEST_ENV=("ASHMEM_RELIABILITY_SECONDS=$ASHMEM_RELIABILITY_SECONDS"
		"ASHMEM_PRESSURE_ROUNDS=${ASHMEM_PRESSURE_ROUNDS:-1}")
	GUEST_MEM=2048
	# Four-level paging. With LA57, 6.12 reads the CPU's LA57 bit from
	# boot_cpu_data while identify_cpu() has it zeroed; an interrupt in that
	# window made KASAN take a direct-map address for a wild one (a CI run
	# of 2026-12-04, at boot, before the module was loaded) and, with the
	# kernel tainted, lockdep switched itself off for the whole run.
	# Debian's kernels, booted by make check, keep 5-level paging.
	GUEST_CPU=max,la57=off
	BOOT_TIMEOUT=${ASHMEM_BOOT_TIMEOUT:-3600}
	# KASAN minutes for nothing new: the 32-bit builds of the
	# 10,000-region test and of the pressure test (the 64-bit ones and the
	# compat path of every call already run) and of ashmem-stat's test (a
	# userspace tool).
	TESTS_SKIP=(ashmem_stress_test_32 ashmem_pressure_test_32 ashmem_stat_test_32)
}
