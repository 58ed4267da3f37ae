#!/usr/bin/env bash
# Idle cost of fbs (doc/benchmarks.md, "Idle cost"): what an fbs with nothing
# to do costs, for each [worker] poll_interval given. A benchmark, not a
# test: nothing in CI runs it.
#
#  - worker: `fbs worker --release 41,42,rawhide` against a private
#    redis-server; Redis commands per second from INFO stats
#    (total_commands_processed, which counts the commands a Lua script runs
#    too) and INFO commandstats, over FBS_BENCH_SECONDS after a warm-up.
#  - serve: `fbs serve` on its embedded broker; CPU from /proc/PID/stat
#    (utime+stime), sampled every 5 s over FBS_BENCH_SECONDS after a warm-up.
#
# Usage: deploy/bench-idle.sh [POLL_INTERVAL...]   (default: 20ms 100ms 250ms 600ms 1s)
#   FBS_BENCH_SECONDS  length of each measurement (default 40)
#   FBS_BENCH_ONLY     worker or serve: run only that half
# Needs redis-server and redis-cli. Run it under `flock /tmp/fbs-bench.lock`
# on a shared machine.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH=$PATH:/usr/local/go/bin:/usr/sbin
secs=${FBS_BENCH_SECONDS:-40}
polls=("$@")
[ ${#polls[@]} -gt 0 ] || polls=(20ms 100ms 250ms 600ms 1s)
for t in redis-server redis-cli; do
  command -v $t >/dev/null || { echo "bench-idle: $t not found (apt-get install redis-server)" >&2; exit 2; }
done

out=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$out"
}
trap cleanup EXIT
bash deploy/build.sh "$out/fbs"
hz=$(getconf CLK_TCK)
# free_port: a loopback port nothing listens on.
free_port() {
  local p
  while :; do
    p=$((20000 + RANDOM % 40000))
    (: <"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { echo "$p"; return; }
  done
}

# cputicks PID: user+system clock ticks the process has used.
cputicks() { awk '{print $14+$15}' "/proc/$1/stat"; }

# commands PORT: total_commands_processed and every command's calls.
commands() {
  redis-cli -p "$1" INFO stats | tr -d '\r' | awk -F: '$1=="total_commands_processed"{print "total", $2}'
  redis-cli -p "$1" INFO commandstats | tr -d '\r' | sed -n 's/^cmdstat_\([^:]*\):calls=\([0-9]*\),.*/\1 \2/p'
}

echo "load average: $(cut -d' ' -f1-3 /proc/loadavg); $secs s per measurement"
if [ "${FBS_BENCH_ONLY:-worker}" = worker ]; then
  echo
  echo "| poll_interval | Redis commands/s (total_commands_processed) | per command (calls/s) |"
  echo "| --- | --- | --- |"
  for poll in "${polls[@]}"; do
    port=$(free_port)
    redis-server --bind 127.0.0.1 --port "$port" --save '' --appendonly no --dir "$out" \
      --logfile "$out/redis.log" --daemonize no >/dev/null &
    rpid=$!
    pids+=("$rpid")
    until redis-cli -p "$port" ping >/dev/null 2>&1; do sleep 0.1; done
    rm -rf "$out/data"
    FBS_WORKER_POLL_INTERVAL=$poll FBS_WORKER_DATA_DIR=$out/data \
      "$out/fbs" --config /dev/null worker --release 41,42,rawhide --redis "redis://127.0.0.1:$port/0" \
      >"$out/worker.log" 2>&1 &
    wpid=$!
    pids+=("$wpid")
    sleep 5
    commands "$port" >"$out/a"
    sleep "$secs"
    commands "$port" >"$out/b"
    kill "$wpid"
    wait "$wpid" 2>/dev/null || true
    redis-cli -p "$port" shutdown nosave >/dev/null 2>&1 || true
    wait "$rpid" 2>/dev/null || true
    # The two INFO calls of the second sample are not the worker's.
    join -a2 -e0 -o 0,1.2,2.2 <(sort "$out/a") <(sort "$out/b") | awk -v s="$secs" -v p="$poll" '
      { d = $3 - $2; if ($1 == "info") d -= 2; if ($1 == "total") d -= 2; if (d <= 0) next
        if ($1 == "total") t = d; else per = per sprintf("%s%s %.1f", per == "" ? "" : ", ", $1, d / s) }
      END { printf "| %s | %.1f | %s |\n", p, t / s, per }'
  done
fi
if [ "${FBS_BENCH_ONLY:-serve}" = serve ]; then
  echo
  echo "| poll_interval | fbs serve CPU, % of a core, each 5 s | over the whole run |"
  echo "| --- | --- | --- |"
  for poll in "${polls[@]}"; do
    rm -rf "$out/serve"
    mkdir -p "$out/serve"
    FBS_WORKER_POLL_INTERVAL=$poll FBS_WORKER_DATA_DIR=$out/serve/data FBS_STAGING_FILE_ROOT=$out/serve/staging \
      "$out/fbs" --config /dev/null serve --listen "127.0.0.1:$(free_port)" --broker-listen 127.0.0.1:0 \
      >"$out/serve.log" 2>&1 &
    spid=$!
    pids+=("$spid")
    sleep 5
    samples=()
    t0=$(cputicks "$spid")
    n0=$(date +%s.%N)
    for _ in $(seq $((secs / 5))); do
      a=$(cputicks "$spid")
      x=$(date +%s.%N)
      sleep 5
      b=$(cputicks "$spid")
      y=$(date +%s.%N)
      samples+=("$(awk -v a="$a" -v b="$b" -v x="$x" -v y="$y" -v hz="$hz" 'BEGIN{printf "%.2f", 100*(b-a)/hz/(y-x)}')")
    done
    t1=$(cputicks "$spid")
    n1=$(date +%s.%N)
    kill "$spid"
    wait "$spid" 2>/dev/null || true
    awk -v a="$t0" -v b="$t1" -v x="$n0" -v y="$n1" -v hz="$hz" -v p="$poll" -v s="${samples[*]}" \
      'BEGIN{printf "| %s | %s | %.2f%% |\n", p, s, 100*(b-a)/hz/(y-x)}'
  done
fi
