#!/usr/bin/env bash
# Start-up cost of the fbs binary against a hello-world Go program built the
# same way, measured by hyperfine in one run (doc/benchmarks.md, "Start-up").
# A benchmark, not a test: nothing in CI runs it.
#
# Usage: deploy/bench-startup.sh [KICKSTART]
#   KICKSTART         file for `fbs ks flatten` (default
#                     ../shared/fedora-kickstarts/fedora-live-kde.ks)
#   FBS_BENCH_STEPS=1 also times `fbs version` built each way on the way to
#                     the release build (plain `go build`, then each flag
#                     added), all in the same hyperfine run
#   FBS_BENCH_BEFORE=REV  also times `fbs version` of commit REV (git archive),
#                     built with the release flags: what the code changes gave
#   FBS_BENCH_RUNS    runs per command and round (default 100)
# It also times "libraries": a hello-world that only imports the libraries
# fbs is built on (gin, Prometheus client_golang, asynq, go-redis,
# x/crypto/ssh, pkg/sftp, S2, cobra), at fbs's versions, so it pays their
# package initialisation and nothing else: the floor for any one binary
# made of them.
#   FBS_BENCH_ROUNDS  rounds (default 5)
# Needs hyperfine and jq (apt-get install hyperfine jq / dnf install hyperfine jq).
# Run it under `flock /tmp/fbs-bench.lock` on a shared machine.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH=$PATH:/usr/local/go/bin
root=$PWD
ks=${1:-$root/../shared/fedora-kickstarts/fedora-live-kde.ks}
[ -r "$ks" ] || { echo "bench-startup: no kickstart $ks (give one as the argument)" >&2; exit 2; }
for t in hyperfine jq; do
  command -v $t >/dev/null || { echo "bench-startup: $t not found (apt-get install $t)" >&2; exit 2; }
done
runs=${FBS_BENCH_RUNS:-100}

out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
mkdir "$out/hello"
cat >"$out/hello/main.go" <<'EOF'
package main

import (
	"fmt"
	"os"
)

func main() { fmt.Fprintln(os.Stdout, "hello") }
EOF
printf 'module hello\n\ngo 1.23\n' >"$out/hello/go.mod"
mkdir "$out/libs"
cat >"$out/libs/main.go" <<'EOF'
package main

import (
	"fmt"
	"os"

	_ "github.com/gin-gonic/gin"
	_ "github.com/hibiken/asynq"
	_ "github.com/klauspost/compress/s2"
	_ "github.com/pkg/sftp"
	_ "github.com/prometheus/client_golang/prometheus"
	_ "github.com/redis/go-redis/v9"
	_ "github.com/spf13/cobra"
	_ "golang.org/x/crypto/ssh"
)

func main() { fmt.Fprintln(os.Stdout, "hello") }
EOF
# fbs's go.mod and go.sum, so the libraries are the versions fbs links.
sed 's#^module .*#module libs#' go.mod >"$out/libs/go.mod"
cp go.sum "$out/libs/go.sum"
# All built by the release build script, so all get the same flags.
bash deploy/build.sh "$out/hello.bin" "$out/hello"
GOFLAGS=-mod=mod bash deploy/build.sh "$out/libs.bin" "$out/libs"
bash deploy/build.sh "$out/fbs"

cmds=(-n hello "$out/hello.bin"
  -n libraries "$out/libs.bin"
  -n "fbs version" "$out/fbs version"
  -n "fbs ks flatten" "$out/fbs ks flatten $ks")
if [ "${FBS_BENCH_STEPS:-}" = 1 ]; then
  # Each step adds one flag; the last step is deploy/build.sh ("fbs version").
  go build -o "$out/fbs-plain" .
  go build -trimpath -ldflags='-s -w' -o "$out/fbs-sw" .
  CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o "$out/fbs-nocgo" .
  cmds+=(-n "fbs version: go build" "$out/fbs-plain version"
    -n "fbs version: + -trimpath -ldflags='-s -w'" "$out/fbs-sw version"
    -n "fbs version: + CGO_ENABLED=0" "$out/fbs-nocgo version")
fi
if [ -n "${FBS_BENCH_BEFORE:-}" ]; then
  mkdir "$out/before"
  git archive "$FBS_BENCH_BEFORE" | tar -x -C "$out/before"
  bash deploy/build.sh "$out/fbs-before" "$out/before"
  cmds+=(-n "fbs version: $FBS_BENCH_BEFORE, release flags" "$out/fbs-before version")
fi
echo "binaries (bytes):"
shopt -s nullglob; ls -l "$out"/hello.bin "$out"/libs.bin "$out"/fbs "$out"/fbs-* | awk '{print "  " $5 "  " $NF}' | sed "s#$out/##"
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
# Other work on the machine comes and goes; hyperfine times one command after
# the other, so the commands are timed in several short rounds and each
# round's ratios come from that round only. Medians resist outliers; minima
# show the cost with the least interference.
rounds=${FBS_BENCH_ROUNDS:-5}
echo "| round | command | median | mean ± σ | min | median / hello | min / hello |"
echo "| --- | --- | --- | --- | --- | --- | --- |"
for r in $(seq "$rounds"); do
  hyperfine -N --warmup 20 --runs "$runs" --export-json "$out/runs.json" "${cmds[@]}" >/dev/null 2>&1
  jq -r --arg r "$r" '(.results[0]) as $h | .results[] |
    "| \($r) | \(.command) | \(.median*1e5|round/100) ms | \(.mean*1e5|round/100) ± \(.stddev*1e5|round/100) ms | \(.min*1e5|round/100) ms | \(.median/$h.median*100|round/100)× | \(.min/$h.min*100|round/100)× |"' "$out/runs.json"
done
