#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# Link check of ashmem_linux.ko against the Debian kernels that cannot be
# built for here: 6.16 to 7.1, whose images trixie-backports still lists
# without their headers.
#
#   scripts/check-abi.sh [SERIES...]
#
# SERIES is any of 6.16 6.17 6.18 6.19 7.0 7.1 (default: all); each is the
# newest linux-image-*/linux-binary-<series>.*+deb13-amd64 that the
# trixie chroot's lists (lib.sh) carry, or KVER_6_16=... and so on.
#
# What the module imports comes from two real W=1 builds, against the
# kernels make check builds for: 6.12 (Debian 12's headers) and 7.3
# (trixie-backports). 6.16 to 6.18 take the ->mmap path (shmem still has
# ->mmap; vfs_mmap()/call_mmap() is a static inline calling it), as 6.12
# does; 6.19 on take the ->mmap_prepare path (shmem has only that hook, and
# vfs_mmap() calls the exported compat_vma_mmap()), as 7.3 does; each
# target's BTF must confirm the path its version implies. The two builds
# also differ where the headers' own inline code changed between 6.12 and
# 7.3 (get_task_comm(), "current", debugfs_create_file(), ...), and the
# target's headers make that choice, not the driver: so the imports checked
# on a target are those of both builds (less compat_vma_mmap on the ->mmap
# path). An import of both builds, or of its path alone (PATH_ONLY), must
# be exported by the target (__ksymtab, __ksymtab_gpl, and __kflagstab's
# flags on newer kernels, decoded from the vmlinux inside vmlinuz), in the
# same symbol namespace; an import of one build only that the target lacks
# is header-dependent and only reported ("hdr-absent"): a kernel's headers
# reference only what it exports, or its own modules would not load. Each
# imported function's prototype in the image's .BTF (pfunct) must be the
# one of the path's reference (PROTO_SPLIT says where the driver switches
# forms inside the range). Only reported, not failed: a prototype that
# differs for a function imported by one build only, or for one whose
# prototype already differs between the two references, that PROTO_SPLIT
# does not list and that the target has in one of the two forms
# (__list_lru_init(), __vma_start_write()): the headers' inline code calls
# those, in the target's own form. The decoder
# checks itself first: the export table it reads from each reference
# image must be the reference headers' Module.symvers.
#
# Not checked (it needs the target's headers): struct layouts and the
# headers' inline code, symbol CRCs (modversions), and loading the module.
# Booting an image without a module built for it shows nothing about the
# module, so the images are not booted.
#
# Prints a table (kernel, path, imports checked, missing, prototypes
# differing, header-dependent imports absent), the findings, and "N passed,
# N failed" (one test per kernel); exits non-zero if any kernel failed.
# Derived facts (exports, prototypes, imports) are cached under
# $ASHMEM_CACHE/abi, keyed by exact kernel version (imports also by a hash
# of the module's sources); the images by version under kernels/.

set -euo pipefail

SCRIPTS=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=scripts/lib.sh
. "$SCRIPTS/lib.sh"

ABI_CACHE="$ASHMEM_CACHE/abi"
ABI_SERIES=(6.16 6.17 6.18 6.19 7.0 7.1)
# The reference builds: the ->mmap path, and the ->mmap_prepare path.
REF_MMAP=6.12
REF_PREPARE=7.3
# The first kernel whose shmem has only ->mmap_prepare: from here vfs_mmap()
# calls compat_vma_mmap(), and the 7.3 build is the path's reference.
FIRST_PREPARE=6.19

# Imports of one path only: SYMBOL PATH ("mmap" or "prepare"). vfs_mmap()
# calls compat_vma_mmap() only where shmem has no ->mmap.
PATH_ONLY=(
	"compat_vma_mmap prepare"
)

# Functions the driver calls itself whose prototype changes inside
# 6.16-7.1, so that the path's reference is the wrong one to compare with
# on one side of the change: SYMBOL FROM BELOW ABOVE compares SYMBOL with
# reference BELOW on kernels older than FROM, with ABOVE from FROM on.
# shmem_file_setup()'s flags became vma_flags_t in 7.0 (unsigned long
# before), where ashmem_compat.h switches too: 6.19 takes the
# ->mmap_prepare path (7.3's) but has the unsigned long form of 6.12.
PROTO_SPLIT=(
	"shmem_file_setup 7.0 $REF_MMAP $REF_PREPARE"
)

usage() {
	sed -n '4,52s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"
	exit "${1:-0}"
}

# version_lt A B: kernel version A sorts before B.
version_lt() {
	[[ $1 != "$2" && $(printf '%s\n%s\n' "$1" "$2" | sort -V | head -n 1) == "$1" ]]
}

# ---------------------------------------------------------------- images

# abi_target_kver SERIES: the newest image of SERIES in trixie-backports
# (e.g. 6.16.12+deb13-amd64), or the KVER_<series> override; nothing if
# the suite lists none.
abi_target_kver() {
	local var kver
	var=$(series_var "$1")
	if [[ -n ${!var:-} ]]; then
		printf '%s\n' "${!var}"
		return
	fi
	kver=$(bpo_search "^linux-(image|binary)-${1//./\\.}\\.[0-9]+\\+deb13-amd64\$" |
		sed -E 's/^linux-(image|binary)-//' | sort -uV | tail -n 1)
	[[ -z $kver ]] || printf '%s\n' "$kver"
}

# isolated CMD...: run CMD in a subshell with set -e and its own cleanup,
# and set ISOLATED_RC to its exit status. Call it as a plain command: set
# -e is ignored inside "if", "||" and functions called there.
ISOLATED_RC=0
isolated() {
	set +e
	(
		set -e
		arm_cleanup
		"$@"
	)
	ISOLATED_RC=$?
	set -e
}

# target_facts SERIES: set TKVER to the image of SERIES and cache its facts
# (kernel_facts, isolated); when that fails, refresh the trixie chroot's
# lists (backports drops old point releases) and try once more. Sets
# FACTS_RC: 0 done, 1 failed, 2 trixie-backports lists no image of SERIES.
# The caller holds bpo_lock.
TKVER=
FACTS_RC=0
target_facts() {
	local try
	FACTS_RC=2
	for try in 1 2; do
		((try == 1)) || bpo_refresh
		TKVER=$(abi_target_kver "$1")
		[[ -n $TKVER ]] || continue
		isolated kernel_facts bpo "$TKVER"
		FACTS_RC=1
		if ((ISOLATED_RC == 0)); then
			FACTS_RC=0
			return 0
		fi
	done
}

# extract_vmlinux VMLINUZ OUT: the vmlinux ELF inside an x86 bzImage. The
# setup header says where the compressed payload is (setup_sects at 0x1f1,
# payload_offset and payload_length at 0x248); its magic says how it is
# compressed. (The kernel's scripts/extract-vmlinux scans for the magic
# instead.) The decompressors complain about the 4-byte length appended to
# the payload; what counts is that OUT is a whole ELF file.
extract_vmlinux() {
	local z=$1 out=$2 sects off len start magic cmd
	sects=$(od -An -tu1 -j $((0x1f1)) -N1 "$z" | tr -d ' ')
	((sects)) || sects=4
	read -r off len < <(od -An -tu4 -j $((0x248)) -N8 "$z")
	start=$(((sects + 1) * 512 + off))
	magic=$(od -An -tx1 -j "$start" -N6 "$z" | tr -d ' \n')
	case $magic in
	28b52ffd*) cmd=(zstd -dcq) ;;
	fd377a585a00) cmd=(xz -dcq --single-stream) ;;
	1f8b*) cmd=(gzip -dcq) ;;
	5d00*) cmd=(xz -dcq --format=lzma) ;;
	*) die "$z: unknown payload compression (magic $magic)" ;;
	esac
	tail -c +"$((start + 1))" "$z" | head -c "$len" | "${cmd[@]}" >"$out" 2>/dev/null || true
	readelf -h "$out" >/dev/null 2>&1 || die "$z: no vmlinux ELF in its payload"
}

# decode_exports VMLINUX: the export table, "NAME GPL NAMESPACE" lines
# (GPL 1 for EXPORT_SYMBOL_GPL, NAMESPACE "-" for none), sorted. x86_64's
# struct kernel_symbol is three 32-bit offsets relative to each field
# (value, name, namespace; CONFIG_HAVE_ARCH_PREL32_RELOCATIONS), the names
# in __ksymtab_strings. Older kernels split GPL-only exports into
# __ksymtab_gpl; newer ones keep one __ksymtab and a byte of flags per
# entry in __kflagstab (bit 0: GPL only).
decode_exports() {
	/usr/bin/python3 - "$1" <<'EOF'
import struct, sys

data = open(sys.argv[1], "rb").read()
if data[:6] != b"\x7fELF\x02\x01":
    sys.exit("not a little-endian ELF64 file")
shoff, = struct.unpack_from("<Q", data, 0x28)
shentsize, shnum, shstrndx = struct.unpack_from("<HHH", data, 0x3A)
secs = [struct.unpack_from("<IIQQQQ", data, shoff + i * shentsize) for i in range(shnum)]
stroff = secs[shstrndx][4]


def cstr(off):
    return data[off:data.index(b"\0", off)].decode()


byname = {cstr(stroff + s[0]): s for s in secs}


def string_at(addr):
    for _, typ, _, base, off, size in secs:
        if typ == 1 and base <= addr < base + size:
            return cstr(off + addr - base)
    sys.exit("string at %#x is in no section" % addr)


flags = byname.get("__kflagstab")
out = []
for tab, gpl in (("__ksymtab", 0), ("__ksymtab_gpl", 1)):
    if tab not in byname:
        continue
    _, _, _, base, off, size = byname[tab]
    if size % 12:
        sys.exit("%s: size %d is no multiple of 12" % (tab, size))
    if tab == "__ksymtab" and flags and flags[5] != size // 12:
        sys.exit("__kflagstab has %d entries, __ksymtab %d" % (flags[5], size // 12))
    for i in range(size // 12):
        addr = base + 12 * i
        _, name, ns = struct.unpack_from("<iii", data, off + 12 * i)
        name = string_at(addr + 4 + name)
        ns = string_at(addr + 8 + ns) if ns else ""
        g = gpl
        if flags and tab == "__ksymtab":
            g = data[flags[4] + i] & 1
        if not name.replace("_", "a").isalnum():
            sys.exit("%s entry %d: bad name %r" % (tab, i, name))
        out.append("%s %d %s" % (name, g, ns or "-"))
print("\n".join(sorted(out)))
EOF
}

# symvers_exports SYMVERS: the same lines from a Module.symvers (vmlinux's
# own exports only), for decode_exports' self-check.
symvers_exports() {
	awk -F '\t' '$3 == "vmlinux" { print $2, ($4 ~ /_GPL$/) ? 1 : 0, ($5 == "") ? "-" : $5 }' "$1" | sort
}

# btf_protos VMLINUX: "NAME PROTOTYPE" for every function in the image's
# .BTF, without parameter names (renaming one changes no ABI). pahole 1.24
# (Debian 12) warns about the decl/type tag kinds of newer BTF and skips
# them, for the reference and the target alike.
btf_protos() {
	pfunct -F btf -P --no_parm_names "$1" 2>/dev/null |
		sed -nE 's/^(.*[ *])([A-Za-z_][A-Za-z0-9_]*)\((.*)$/\2 \1\2(\3/p' | sort -u
}

# kernel_facts WHERE KVER: cache KVER's export table and BTF prototypes
# under $ABI_CACHE/KVER (one run at a time); the image comes from
# fetch_vmlinuz (WHERE: host or bpo), the vmlinux is not kept.
kernel_facts() {
	local where=$1 kver=$2 dir="$ABI_CACHE/$2" tmp
	[[ -e $dir/.complete ]] && return 0
	path_lock "$dir"
	if [[ ! -e $dir/.complete ]]; then
		fetch_vmlinuz "$where" "$kver" || die "no kernel image package for $kver"
		msg "[$kver] export table and BTF prototypes from $(cut -d ' ' -f 1 "$ASHMEM_CACHE/kernels/$kver/source")"
		tmpdir_under "$ABI_CACHE"
		tmp=$TMPD
		extract_vmlinux "$ASHMEM_CACHE/kernels/$kver/vmlinuz" "$tmp/vmlinux"
		decode_exports "$tmp/vmlinux" >"$tmp/exports"
		btf_protos "$tmp/vmlinux" >"$tmp/protos"
		[[ -s $tmp/exports && -s $tmp/protos ]] || die "[$kver] no exports or no BTF read from the image"
		rm -f "$tmp/vmlinux"
		cp "$ASHMEM_CACHE/kernels/$kver/source" "$tmp/source"
		touch "$tmp/.complete"
		rm -rf "$dir"
		mv "$tmp" "$dir"
	fi
	path_unlock "$dir"
}

# ---------------------------------------------------------------- references

# sources_hash: what the module is built from (its sources only), hashed.
sources_hash() {
	(cd "$1" && find . -type f -print0 | sort -z | xargs -0 sha256sum) | sha256sum | cut -c 1-16
}

# ref_build REF KVER SRC LOG: W=1 build of the module for reference REF;
# leaves SRC/ashmem_linux.ko.
ref_build() {
	local ref=$1 kver=$2 src=$3 log=$4
	if [[ $ref == "$BPO_SERIES" ]]; then
		build_module_chroot "$BPO_ROOT" "$kver" "$src" "$log"
	else
		make -C "/usr/src/linux-headers-$kver" M="$src" W=1 -j"$(nproc)" modules >"$log" 2>&1
	fi
}

# ref_prepare REF: set KVER to the reference kernel REF (6.12 or 7.3), with
# its headers, compiler and image, and check decode_exports on its image
# against its headers' Module.symvers.
ref_prepare() {
	local ref=$1 symvers
	if [[ $ref == "$BPO_SERIES" ]]; then
		bpo_lock
		bpo_prepare_kernel "$ref"
		symvers="$BPO_ROOT/usr/src/linux-headers-$KVER/Module.symvers"
		kernel_facts bpo "$KVER"
		bpo_unlock
	else
		KVER=$(resolve_kver "$ref")
		ensure_host_kernel_build "$KVER"
		symvers="/usr/src/linux-headers-$KVER/Module.symvers"
		kernel_facts host "$KVER"
	fi
	if ! cmp -s <(symvers_exports "$symvers") "$ABI_CACHE/$KVER/exports"; then
		diff <(symvers_exports "$symvers") "$ABI_CACHE/$KVER/exports" | head -n 20 >&2 || true
		die "[$KVER] the export table decoded from the image is not its Module.symvers: the decoder is wrong"
	fi
	msg "[$ref] $KVER: $(grep -c . "$ABI_CACHE/$KVER/exports") exports decoded, the same as its Module.symvers"
}

# ref_imports REF SRC RUN: the module's undefined symbols when built W=1
# for reference REF, into $ABI_CACHE/imports-REF; cached by kernel and
# source hash. Fails if the build fails; its warnings are printed.
declare -A REF_KVER=()
ref_imports() {
	local ref=$1 src=$2 run=$3 kver hash out dir rc=0
	ref_prepare "$ref"
	kver=$KVER
	hash=$(sources_hash "$src")
	out="$ABI_CACHE/$kver/imports-$hash"
	if [[ ! -s $out ]]; then
		dir="$run/build-$ref"
		copy_module_sources "$src" "$dir"
		msg "[$ref] building the module (W=1) against $kver"
		[[ $ref == "$BPO_SERIES" ]] && bpo_lock
		ref_build "$ref" "$kver" "$dir" "$run/build-$ref.log" || rc=$?
		[[ $ref == "$BPO_SERIES" ]] && bpo_unlock
		if ((rc)) || [[ ! -f $dir/ashmem_linux.ko ]]; then
			cat "$run/build-$ref.log" >&2
			die "[$ref] the module does not build against $kver"
		fi
		grep -i 'warning:' "$run/build-$ref.log" | sed "s/^/[$kver] build warning: /" >&2 || true
		nm -u "$dir/ashmem_linux.ko" | awk '{ print $2 }' | sort -u >"$out.tmp"
		mv "$out.tmp" "$out"
	fi
	cp "$out" "$run/imports-$ref"
	REF_KVER[$ref]=$kver
	msg "[$ref] $kver: the module imports $(grep -c . "$out") symbols"
}

# ---------------------------------------------------------------- targets

# path_of KVER: the mmap path a target kernel takes, by version: "mmap"
# (shmem has ->mmap, vfs_mmap() calls it) or "prepare" (only
# ->mmap_prepare: vfs_mmap() calls compat_vma_mmap()).
path_of() {
	if version_lt "$1" "$FIRST_PREPARE"; then echo mmap; else echo prepare; fi
}

# btf_path KVER: the same, read from the image's BTF: which of shmem's two
# hooks the kernel has (shmem_mmap or shmem_mmap_prepare, both static and
# so in BTF only, not exported).
btf_path() {
	if grep -q '^shmem_mmap ' "$ABI_CACHE/$1/protos"; then
		echo mmap
	elif grep -q '^shmem_mmap_prepare ' "$ABI_CACHE/$1/protos"; then
		echo prepare
	else
		echo unknown
	fi
}

# path_ref PATH: the reference build of a path.
path_ref() {
	if [[ $1 == mmap ]]; then echo "$REF_MMAP"; else echo "$REF_PREPARE"; fi
}

# split_ref SYMBOL KVER: set SPLIT to the reference whose prototype SYMBOL
# must have on KVER, from PROTO_SPLIT (empty if SYMBOL is not in it).
SPLIT=
split_ref() {
	local s name from below above
	SPLIT=
	for s in "${PROTO_SPLIT[@]}"; do
		read -r name from below above <<<"$s"
		[[ $name == "$1" ]] || continue
		if version_lt "$2" "$from"; then SPLIT=$below; else SPLIT=$above; fi
	done
}

# path_only SYMBOL: set ONLY to the path that alone imports SYMBOL
# (PATH_ONLY), or empty.
ONLY=
path_only() {
	local s name path
	ONLY=
	for s in "${PATH_ONLY[@]}"; do
		read -r name path <<<"$s"
		[[ $name != "$1" ]] || ONLY=$path
	done
}

# The facts of the kernels compared, for the imports only (load_facts):
# NS[KVER|SYMBOL] is the export's namespace ("-" for none; unset if not
# exported), PROTO[KVER|SYMBOL] its prototype(s) in BTF, one line;
# IMPORTED[REF|SYMBOL] is set if REF's build imports SYMBOL.
declare -A NS=() PROTO=() IMPORTED=() LOADED=()
IMPORTS_ALL=

# load_facts KVER: NS and PROTO of KVER, from its cached facts.
load_facts() {
	local kver=$1 name ns proto
	[[ -z ${LOADED[$kver]:-} ]] || return 0
	LOADED[$kver]=1
	while read -r name _ ns; do
		NS[$kver|$name]=$ns
	done < <(awk 'NR == FNR { want[$1] = 1; next } $1 in want' "$IMPORTS_ALL" "$ABI_CACHE/$kver/exports")
	while read -r name proto; do
		PROTO[$kver|$name]+="${PROTO[$kver|$name]:+ | }$proto"
	done < <(awk 'NR == FNR { want[$1] = 1; next } $1 in want' "$IMPORTS_ALL" "$ABI_CACHE/$kver/protos")
}

# load_imports REF: IMPORTED of reference REF.
load_imports() {
	local sym
	while read -r sym; do
		IMPORTED[$1|$sym]=1
	done <"$ABI_RUN/imports-$1"
}

# check_target SERIES KVER OUT: one target kernel against the references
# (see the head of this file); writes "kver path checked missing differing
# header-dependent-absent" to OUT and the findings to OUT.details; fails if
# an import is missing, a prototype or namespace differs, or the kernel's
# BTF contradicts the path its version implies.
check_target() {
	local series=$1 kver=$2 out=$3 path ref other sym in_m in_p tns rns pref rp tp op bpath
	local checked=0 nmiss=0 differ=0 hdr=0 k_m=${REF_KVER[$REF_MMAP]} k_p=${REF_KVER[$REF_PREPARE]}
	path=$(path_of "$kver")
	ref=$(path_ref "$path")
	bpath=$(btf_path "$kver")
	: >"$out.details"
	load_facts "$kver"
	load_facts "$k_m"
	load_facts "$k_p"
	if [[ $bpath != "$path" ]]; then
		differ=$((differ + 1))
		printf '[%s] its BTF has shmem hook "%s", its version says the %s path\n' "$kver" \
			"$bpath" "$path" >>"$out.details"
	fi
	while read -r sym; do
		in_m=${IMPORTED[$REF_MMAP|$sym]:-0}
		in_p=${IMPORTED[$REF_PREPARE|$sym]:-0}
		path_only "$sym"
		[[ -z $ONLY || $ONLY == "$path" ]] || continue
		checked=$((checked + 1))
		tns=${NS[$kver|$sym]:-}
		if [[ -z $tns ]]; then
			if ((in_m && in_p)) || [[ -n $ONLY ]]; then
				nmiss=$((nmiss + 1))
				printf '[%s] not exported: %s\n' "$kver" "$sym" >>"$out.details"
			else
				hdr=$((hdr + 1))
				((in_m)) && other=$REF_MMAP || other=$REF_PREPARE
				printf '[%s] note: not exported: %s (imported by the %s build only: header inline code)\n' \
					"$kver" "$sym" "$other" >>"$out.details"
			fi
			continue
		fi
		# The reference that imports it (the path's if both do).
		pref=$ref
		if ! ((in_m && in_p)); then
			((in_m)) && pref=$REF_MMAP || pref=$REF_PREPARE
		fi
		rns=${NS[${REF_KVER[$pref]}|$sym]:-}
		if [[ $tns != "$rns" ]]; then
			nmiss=$((nmiss + 1))
			printf '[%s] %s: exported in namespace %s, %s in %s\n' "$kver" "$sym" "$tns" \
				"$rns" "${REF_KVER[$pref]}" >>"$out.details"
		fi
		split_ref "$sym" "$kver"
		[[ -z $SPLIT ]] || pref=$SPLIT
		rp=${PROTO[${REF_KVER[$pref]}|$sym]:-}
		tp=${PROTO[$kver|$sym]:-}
		# Data, and assembly without BTF (__fentry__, the thunks): no prototype.
		[[ -n $rp && -n $tp && $rp != "$tp" ]] || continue
		if [[ -z $SPLIT && -z $ONLY ]]; then
			[[ $pref == "$REF_MMAP" ]] && other=$k_p || other=$k_m
			op=${PROTO[$other|$sym]:-}
			if ! ((in_m && in_p)) || [[ $tp == "$op" ]]; then
				# Called from the headers' inline code (an import of
				# one build only, or one whose prototype changed between
				# the references: the driver's own calls of a changed
				# interface are in PROTO_SPLIT), so the target's headers
				# call the target's form.
				printf '[%s] note: %s has another prototype than in %s, called from headers: %s\n' \
					"$kver" "$sym" "${REF_KVER[$pref]}" "$tp" >>"$out.details"
				continue
			fi
		fi
		differ=$((differ + 1))
		printf '[%s] prototype of %s differs:\n    %s: %s\n    %s: %s\n' "$kver" "$sym" \
			"$kver" "$tp" "${REF_KVER[$pref]}" "$rp" >>"$out.details"
	done <"$IMPORTS_ALL"
	printf '%s %s %d %d %d %d\n' "$kver" "$path" "$checked" "$nmiss" "$differ" "$hdr" >"$out"
	((nmiss == 0 && differ == 0))
}

# ---------------------------------------------------------------- main

# new_abi_run: set ABI_RUN to a new directory for this run's builds, rows
# and findings under $ABI_CACHE/runs, keeping the newest five.
ABI_RUN=
new_abi_run() {
	local runs="$ABI_CACHE/runs"
	mkdir -p "$runs"
	ABI_RUN="$runs/$(date +%Y%m%d-%H%M%S)-$$"
	mkdir -p "$ABI_RUN"
	find "$runs" -mindepth 1 -maxdepth 1 -type d -printf '%f\n' | sort -r | tail -n +6 |
		while read -r d; do rm -rf -- "${runs:?}/$d"; done
}

# print_table RUN SERIES...: the table, the findings and the closing line;
# fails if any kernel failed.
print_table() {
	local run=$1 s kver path checked nmiss differ hdr pass=0 fail=0 skip=0 label status
	shift
	printf '\n==== ABI link check (imports of the W=1 builds for %s %s and %s %s; logs: %s) ====\n' \
		"$REF_MMAP" "${REF_KVER[$REF_MMAP]}" "$REF_PREPARE" "${REF_KVER[$REF_PREPARE]}" "$run"
	printf '%-6s %-22s %-16s %7s %7s %7s %10s  %s\n' series kernel "path taken" \
		checked missing differ hdr-absent result
	for s in "$@"; do
		if [[ -e $run/$s.skip ]]; then
			printf '%-6s %-22s %s\n' "$s" "-" "SKIP (trixie-backports lists no image of it any more)"
			skip=$((skip + 1))
			continue
		fi
		if [[ ! -s $run/$s.row ]]; then
			printf '%-6s %-22s %s\n' "$s" "?" "FAIL (no result: see above)"
			fail=$((fail + 1))
			continue
		fi
		read -r kver path checked nmiss differ hdr <"$run/$s.row"
		if [[ $path == mmap ]]; then label="->mmap"; else label="->mmap_prepare"; fi
		status=PASS
		((nmiss == 0 && differ == 0)) || status=FAIL
		printf '%-6s %-22s %-16s %7d %7d %7d %10d  %s\n' "$s" "$kver" "$label" \
			"$checked" "$nmiss" "$differ" "$hdr" "$status"
		if [[ $status == PASS ]]; then pass=$((pass + 1)); else fail=$((fail + 1)); fi
	done
	cat "$run"/*.row.details 2>/dev/null || true
	if ((skip)); then
		printf '%d passed, %d failed, %d skipped\n' "$pass" "$fail" "$skip"
	else
		printf '%d passed, %d failed\n' "$pass" "$fail"
	fi
	((fail == 0))
}

main() {
	local series=() s run t0 rc
	while (($#)); do
		case $1 in
		-h | --help) usage 0 ;;
		-*) usage 2 >&2 ;;
		*)
			[[ " ${ABI_SERIES[*]} " == *" $1 "* ]] || die "unknown kernel series '$1' (known: ${ABI_SERIES[*]})"
			series+=("$1")
			;;
		esac
		shift
	done
	((${#series[@]})) || series=("${ABI_SERIES[@]}")

	require_root
	arm_cleanup
	t0=$(now)
	ensure_pkgs make gcc libc6-dev dwarves binutils python3 zstd xz-utils debootstrap
	new_abi_run
	run=$ABI_RUN
	msg "checking $ASHMEM_SRC at $(source_revision)"
	copy_module_sources "$ASHMEM_SRC" "$run/src"
	ref_imports "$REF_MMAP" "$run/src" "$run"
	ref_imports "$REF_PREPARE" "$run/src" "$run"
	IMPORTS_ALL="$run/imports-all"
	sort -u "$run/imports-$REF_MMAP" "$run/imports-$REF_PREPARE" >"$IMPORTS_ALL"
	load_imports "$REF_MMAP"
	load_imports "$REF_PREPARE"

	for s in "${series[@]}"; do
		bpo_lock
		target_facts "$s"
		rc=$FACTS_RC
		bpo_unlock
		if ((rc == 2)); then
			# Not a failure of the module: Debian dropped that series.
			warn "[$s] trixie-backports lists no image of $s any more: skipped"
			touch "$run/$s.skip"
			continue
		elif ((rc)); then
			warn "[$s] could not read the image of $TKVER"
			continue
		fi
		check_target "$s" "$TKVER" "$run/$s.row" || warn "[$s] $TKVER fails the link check"
	done
	msg "total wall time $(elapsed "$t0")s"
	print_table "$run" "${series[@]}"
}

# "exit" on the same line: bash reads scripts as it runs them, and must not
# read on into a file that was edited meanwhile.
main "$@"; exit
