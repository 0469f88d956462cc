#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
#
# Run the ashmem test binaries listed in tests.list beside this script, in
# that order, in the guest (busybox sh, root, ashmem_linux loaded); the
# Makefile's install writes the list. Each prints kselftest TAP; after
# each this prints how long it ran ("# ashmem-time: <name> <n> s") and
# "# ashmem-run: <name> exit=<rc>". The unload tests run
# last: they unload and reload the module, and leave it loaded.
#
# Exits 0 when every binary did.

dir=$(dirname "$0")
status=0

echo "# ashmem: tests on $(uname -r) $(uname -m)"

run() {
	name=$1
	if [ ! -x "$dir/$name" ]; then
		echo "# ashmem: $name is missing"
		echo "# ashmem-run: $name exit=127"
		status=1
		return
	fi
	t0=$(date +%s)
	"$dir/$name"
	rc=$?
	echo "# ashmem-time: $name $(($(date +%s) - t0)) s"
	echo "# ashmem-run: $name exit=$rc"
	# 4 is kselftest's "skipped": not a failure of the run.
	[ "$rc" -eq 0 ] || [ "$rc" -eq 4 ] || status=1
}

if [ ! -s "$dir/tests.list" ]; then
	echo "# ashmem: no $dir/tests.list"
	exit 1
fi
while read -r name; do
	run "$name"
done <"$dir/tests.list"

if [ ! -e /sys/module/ashmem_linux ]; then
	echo "# ashmem: ashmem_linux is not loaded after the tests"
	status=1
fi
exit $status
