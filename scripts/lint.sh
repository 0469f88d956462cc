#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# Static checks of the driver:
#   1. checkpatch.pl --strict --no-tree -f on the top-level *.c *.h and
#      uapi/linux/*.h (checkpatch, spelling.txt and const_structs.checkpatch
#      come from Debian's linux-source-6.12, cached by version);
#   2. sparse: a C=2 W=1 build against the newest Debian 6.12 headers; any
#      diagnostic about our files fails;
#   3. shellcheck on the test bench scripts.
# Any ERROR, WARNING or CHECK fails. The last line is "N passed, N failed".

# The run_* checks are called as "run_$check" (SC2317 cannot see that).
# shellcheck disable=SC2317
set -euo pipefail

SCRIPTS=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=scripts/lib.sh
. "$SCRIPTS/lib.sh"

# driver_files: what checkpatch reads, relative to $ASHMEM_SRC.
driver_files() {
	(cd "$ASHMEM_SRC" && compgen -G '*.[ch]'; compgen -G 'uapi/linux/*.h') | sort
}

# checkpatch_ignores FILE: the checkpatch types one file may carry, each for
# a reason inherent to it (empty for every other file).
#   ashmem_compat.h  LINUX_VERSION_CODE: testing the version is its job.
#   ashmem.c         CONST_STRUCT: the backing files' operations are built
#                    from shmem's at load time (__ro_after_init, not const).
#   ashmem_trace.h   OPEN_ENDED_LINE, PARENTHESIS_ALIGNMENT: TRACE_EVENT()'s
#                    TP_* blocks are laid out as in include/trace/events/.
checkpatch_ignores() {
	case $1 in
	ashmem_compat.h) printf '%s\n' --ignore LINUX_VERSION_CODE ;;
	ashmem.c) printf '%s\n' --ignore CONST_STRUCT ;;
	ashmem_trace.h) printf '%s\n' --ignore OPEN_ENDED_LINE,PARENTHESIS_ALIGNMENT ;;
	esac
}

# run_checkpatch: checkpatch on every driver file; fails on any finding.
run_checkpatch() {
	local files=() ignores=() f out rc=0
	mapfile -t files < <(driver_files)
	((${#files[@]})) || die "no driver sources in $ASHMEM_SRC"
	msg "checkpatch.pl --strict (linux-source-6.12 $(basename "$KSRC")) on ${files[*]}"
	for f in "${files[@]}"; do
		mapfile -t ignores < <(checkpatch_ignores "$f")
		out=$(cd "$ASHMEM_SRC" && perl "$KSRC/scripts/checkpatch.pl" --strict \
			--no-tree --no-summary --terse --showfile "${ignores[@]}" \
			-f "$f" 2>&1) || true
		# Any output at all, a finding or a perl error, is a failure.
		if [[ -n $out ]]; then
			printf '%s\n' "$out"
			rc=1
		fi
	done
	return "$rc"
}

# run_sparse: a C=2 W=1 build of a copy of the sources against 6.12.
run_sparse() {
	local kver dir log diags
	kver=$(resolve_kver 6.12)
	ensure_host_kernel_build "$kver"
	tmpdir_under "$ASHMEM_CACHE/lint"
	dir="$TMPD/src"
	log="$TMPD/sparse.log"
	copy_module_sources "$ASHMEM_SRC" "$dir"
	msg "sparse (C=2 W=1) against $kver"
	if ! make -C "/usr/src/linux-headers-$kver" M="$dir" C=2 W=1 -j"$(nproc)" modules >"$log" 2>&1; then
		cat "$log"
		warn "the sparse build failed"
		return 1
	fi
	# Diagnostics name files by absolute path under the copy.
	diags=$(grep -E "^$dir/[^:]+:[0-9]+:[0-9]+: (warning|error|note):|^$dir/.*: (warning|error):" "$log" |
		sed "s|^$dir/||") || true
	if [[ -n $diags ]]; then
		printf '%s\n' "$diags"
		return 1
	fi
	if grep -qiE '(warning|error):' "$log"; then
		msg "sparse/compiler messages about kernel headers only (not ours):"
		grep -iE '(warning|error):' "$log" | head -n 20 || true
	fi
}

# run_shellcheck: the bench scripts themselves (of this checkout, whatever
# ASHMEM_SRC points at).
run_shellcheck() {
	local top files=()
	top=$(dirname "$SCRIPTS")
	ensure_pkgs shellcheck
	mapfile -t files < <(cd "$top" && compgen -G 'scripts/*.sh' && compgen -G '.ci/run')
	msg "shellcheck ${files[*]}"
	(cd "$top" && shellcheck -x "${files[@]}")
}

main() {
	local check rc passed=0 failed=0
	require_root
	arm_cleanup
	ensure_pkgs perl sparse make gcc
	ksrc_ensure
	for check in checkpatch sparse shellcheck; do
		# set -e is ignored inside "if": run each check in a plain subshell.
		set +e
		(
			set -e
			arm_cleanup
			"run_$check"
		)
		rc=$?
		set -e
		if ((rc == 0)); then
			printf 'lint: %s ok\n' "$check"
			passed=$((passed + 1))
		else
			printf 'lint: %s FAILED\n' "$check"
			failed=$((failed + 1))
		fi
	done
	printf '%d passed, %d failed\n' "$passed" "$failed"
	((failed == 0))
}

main "$@"; exit
