#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# Turn the benchmark output of a run (scripts/check.sh --bench) into
#   RUN/bench/<series>.txt   the guest's "metric value unit" lines
#   RUN/bench/results.md     one Markdown table, a column per kernel
#   RUN/bench/pin-ranges.dat UNPIN+PIN cost against the number of ranges
#   RUN/bench/pin-ranges.svg the same, plotted by gnuplot
# and copy them to $ASHMEM_BENCH_OUT when that is set.
#
#   scripts/bench-report.sh RUN SERIES...

set -euo pipefail

SCRIPTS=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=scripts/lib.sh
. "$SCRIPTS/lib.sh"
# shellcheck source=scripts/guest.sh
. "$SCRIPTS/guest.sh"

# The benchmark prints its machine-readable copy between these lines.
METRICS_BEGIN='# ashmem-bench: metrics begin'
METRICS_END='# ashmem-bench: metrics end'

# metrics GUEST_LOG: the "metric value unit" lines of one guest.
metrics() {
	section "$1" run | awk -v b="$METRICS_BEGIN" -v e="$METRICS_END" '
		$0 == e { exit }
		on && NF == 3 { print }
		$0 == b { on = 1 }'
}

# label_of RUN SERIES: the column name of a kernel ("6.12.117+deb12").
label_of() {
	local kver
	kver=$(result_field "$1/$2/result" kver 2>/dev/null || true)
	printf '%s\n' "${kver%-amd64}"
}

# results_table OUT LABEL=FILE...: metrics as rows, kernels as columns, in
# the order the first kernel printed them.
results_table() {
	local out=$1
	shift
	awk '
		FNR == 1 { col++ }
		BEGIN {
			for (i = 1; i < ARGC; i++) {
				split(ARGV[i], kv, "=")
				label[i] = kv[1]; ARGV[i] = kv[2]
			}
			ncol = ARGC - 1
		}
		{
			if (!($1 in unit)) { order[++n] = $1; unit[$1] = $3 }
			val[$1, col] = $2
		}
		END {
			printf "| metric | unit |"
			for (c = 1; c <= ncol; c++) printf " %s |", label[c]
			printf "\n|---|---|"
			for (c = 1; c <= ncol; c++) printf "---:|"
			printf "\n"
			for (i = 1; i <= n; i++) {
				m = order[i]
				printf "| %s | %s |", m, unit[m]
				for (c = 1; c <= ncol; c++)
					printf " %s |", ((m, c) in val) ? val[m, c] : "-"
				printf "\n"
			}
		}' "$@" >"$out"
}

# plot_data OUT LABEL=FILE...: "ranges ns-per-kernel..." rows for gnuplot.
plot_data() {
	local out=$1 spec labels=() files=()
	shift
	for spec in "$@"; do
		labels+=("${spec%%=*}")
		files+=("${spec#*=}")
	done
	{
		printf 'ranges'
		printf ' %s' "${labels[@]}"
		printf '\n'
		awk '
			FNR == 1 { col++ }
			$1 ~ /^pair_ranges_[0-9]+_ns$/ {
				n = substr($1, 13) + 0
				ns[n, col] = $2; seen[n] = 1
			}
			END {
				for (n in seen) keys[++k] = n + 0
				for (i = 1; i <= k; i++)
					for (j = i + 1; j <= k; j++)
						if (keys[j] < keys[i]) { t = keys[i]; keys[i] = keys[j]; keys[j] = t }
				for (i = 1; i <= k; i++) {
					printf "%d", keys[i]
					for (c = 1; c <= col; c++)
						printf " %s", ((keys[i], c) in ns) ? ns[keys[i], c] : "NaN"
					printf "\n"
				}
			}' "${files[@]}"
	} >"$out"
}

# plot DAT SVG NKERNELS: log-scale x, one line per kernel.
plot() {
	local dat=$1 svg=$2 n=$3
	gnuplot <<EOF
set terminal svg size 720,420 dynamic font "sans,12" background rgb "white"
set output "$svg"
set title "UNPIN+PIN of one page against the unpinned ranges in the region"
set xlabel "other unpinned ranges in the region"
set ylabel "ns per UNPIN+PIN pair (median)"
set logscale x 10
set xrange [0.7:15000]
set yrange [0:*]
set key top left box opaque
set grid
set datafile missing "NaN"
plot for [i=2:$((n + 1))] "$dat" using 1:i with linespoints lw 2 pt 7 title columnhead(i)
EOF
}

main() {
	local run=$1 s out specs=() label
	shift
	(($#)) || die "usage: $0 RUN SERIES..."
	out="$run/bench"
	mkdir -p "$out"
	for s in "$@"; do
		[[ -f $run/$s/guest.log ]] || continue
		metrics "$run/$s/guest.log" >"$out/$s.txt"
		if [[ ! -s $out/$s.txt ]]; then
			warn "[$s] the benchmark printed no metrics"
			continue
		fi
		label=$(label_of "$run" "$s")
		specs+=("${label:-$s}=$out/$s.txt")
	done
	((${#specs[@]})) || die "no kernel of the run printed benchmark metrics"
	results_table "$out/results.md" "${specs[@]}"
	plot_data "$out/pin-ranges.dat" "${specs[@]}"
	if (($(wc -l <"$out/pin-ranges.dat") > 1)); then
		ensure_pkgs gnuplot-nox
		plot "$out/pin-ranges.dat" "$out/pin-ranges.svg" "${#specs[@]}"
	else
		warn "no pair_ranges_*_ns figures: no plot"
	fi
	printf '\n%s\n' "==== benchmark (raw figures: $out) ===="
	cat "$out/results.md"
	if [[ -n ${ASHMEM_BENCH_OUT:-} ]]; then
		mkdir -p "$ASHMEM_BENCH_OUT"
		cp "$out"/*.txt "$out/results.md" "$out"/pin-ranges.* "$ASHMEM_BENCH_OUT/"
		msg "copied the results to $ASHMEM_BENCH_OUT"
	fi
}

main "$@"; exit
