#!/bin/sh
# Times `fbs ks flatten` against pykickstart's ksflatten, one process per
# file, on every kickstart at the top of the Fedora corpus, in the same run,
# and prints the totals and the ratio.
#
# Usage: kickstarts/bench/flatten.sh [CORPUS]
#   FBS=path/to/fbs        (default: fbs on PATH)
#   KSFLATTEN=ksflatten    (default: ksflatten on PATH)
#   CORPUS defaults to ../shared/fedora-kickstarts from the repository root.
# Files either tool rejects (fedora-eln-guest.ks, fedora-modular-arm-server.ks)
# are run and timed all the same.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
corpus=${1:-$root/../shared/fedora-kickstarts}
corpus=$(cd "$corpus" && pwd)
fbs=${FBS:-fbs}
ksflatten=${KSFLATTEN:-ksflatten}
command -v "$fbs" >/dev/null || { echo "flatten.sh: $fbs not found (set FBS)" >&2; exit 2; }
command -v "$ksflatten" >/dev/null || { echo "flatten.sh: $ksflatten not found (set KSFLATTEN)" >&2; exit 2; }
case $fbs in /*) ;; */*) fbs=$(pwd)/$fbs ;; esac
case $ksflatten in /*) ;; */*) ksflatten=$(pwd)/$ksflatten ;; esac

now() { date +%s%N; }

cd "$corpus"
files=$(ls ./*.ks)
n=$(echo "$files" | wc -l)

start=$(now)
for f in $files; do "$fbs" ks flatten "$f" >/dev/null 2>&1 || true; done
fbs_ns=$(( $(now) - start ))

start=$(now)
for f in $files; do "$ksflatten" -c "$f" >/dev/null 2>&1 || true; done
ks_ns=$(( $(now) - start ))

awk -v n="$n" -v f="$fbs_ns" -v k="$ks_ns" 'BEGIN {
	printf "files:                  %d\n", n
	printf "fbs ks flatten:         %.3f s total, %.2f ms per file\n", f/1e9, f/1e6/n
	printf "pykickstart ksflatten:  %.3f s total, %.2f ms per file\n", k/1e9, k/1e6/n
	printf "ratio (ksflatten/fbs):  %.1fx\n", k/f
}'
