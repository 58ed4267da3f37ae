#!/usr/bin/env bash
# Builds fbs the way it is released: a static binary (CGO_ENABLED=0: no
# dynamic loader at start-up; DNS and user lookups use Go's own resolver and
# /etc/passwd), without local paths (-trimpath) and without the symbol table
# and DWARF (-ldflags='-s -w'; panics still name functions and lines), and
# without gin's MessagePack codec (-tags nomsgpack, a tag gin documents; fbs
# speaks JSON only), whose package initialisation every command paid for.
# doc/benchmarks.md ("Start-up") says what each step gives.
#
# Usage: deploy/build.sh [OUTPUT [PACKAGE_DIR]]   (default: ./fbs from the
# repository root; deploy/bench-startup.sh builds its hello-world with it too)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
export PATH=$PATH:/usr/local/go/bin
out=${1:-$root/fbs}
case $out in /*) ;; *) out=$PWD/$out ;; esac
cd "${2:-$root}"
CGO_ENABLED=0 exec go build -trimpath -ldflags='-s -w' -tags nomsgpack -o "$out" .
