#!/usr/bin/env bash
# The per-request cost of each hello server, counted instead of timed (docs/design/http.md):
# user-space instructions (valgrind --tool=callgrind) and system calls (strace -c -f) per
# request. Counts do not depend on what else the machine is doing, which wrk's req/s on this
# shared 2-core machine does.
#
#   bench/http/cost.sh [N]     (default N=10000; env PORT=18090 SERVERS="h2o evhttp mhd")
#
# Each server runs with one thread. One curl process sends requests one after another over
# a single keep-alive connection: no pipelining and no batching over many connections, so
# this is the worst case for syscalls per request. Instructions: two callgrind runs, with
# 1000 and 1000+N requests; the difference over N removes start-up and shutdown. Syscalls:
# strace attached during N requests to an uninstrumented server.
set -euo pipefail
cd "$(dirname "$0")/../.."

N=${1:-10000}
PORT=${PORT:-18090}
SERVERS=${SERVERS:-"h2o evhttp mhd"}
BIN=build/bench/http
URL="http://127.0.0.1:$PORT/"

for t in valgrind strace curl; do
  command -v "$t" >/dev/null || { echo "cost: $t is missing" >&2; exit 1; }
done
bench/http/build.sh >/dev/null
tmp=$(mktemp -d)
pid=""
stop() { if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; pid=""; fi; }
trap 'stop; rm -rf "$tmp"' EXIT

wait_ready() {
  for _ in $(seq 100); do
    if [ "$(curl -s --max-time 1 "$URL" || true)" = "hello, world" ]; then return 0; fi
    sleep 0.2
  done
  echo "cost: no answer on $URL" >&2
  exit 1
}

requests() { # $1: count; all over one keep-alive connection, every response checked
  for _ in $(seq "$1"); do printf 'url = "%s"\noutput = "/dev/null"\n' "$URL"; done >"$tmp/urls"
  local codes
  codes=$(curl -s -K "$tmp/urls" -w '%{http_code}\n' | sort | uniq -c | awk '{ printf "%s x%s ", $2, $1 }')
  [ "$codes" = "200 x$1 " ] || { echo "cost: expected $1 answers 200, got: $codes" >&2; exit 1; }
}

echo "| server | instructions/request (user space) | syscalls/request | main syscalls per request |"
echo "|---|---|---|---|"
for s in $SERVERS; do
  while pgrep -x hyperfine >/dev/null; do sleep 5; done
  # SO_REUSEPORT would let a leftover server share the port and take requests.
  if ss -Hltn "sport = :$PORT" | grep -q .; then
    echo "cost: something already listens on port $PORT; set PORT=..." >&2
    exit 1
  fi
  args=("$PORT" 1)
  # Same shape as compare.sh's mhd row: one daemon, its pool of (here) one thread.
  if [ "$s" = mhd ]; then args+=(pool); fi
  declare -A ir=()
  for n in 1000 $((1000 + N)); do
    valgrind --tool=callgrind --callgrind-out-file="$tmp/cg.$n" "$BIN/hello_$s" "${args[@]}" 2>/dev/null &
    pid=$!
    wait_ready
    requests "$n"
    stop
    ir[$n]=$(awk '/^totals:/ { print $2 }' "$tmp/cg.$n")
  done
  per_ir=$(awk -v a="${ir[1000]}" -v b="${ir[$((1000 + N))]}" -v n="$N" 'BEGIN { printf "%.0f", (b - a) / n }')

  "$BIN/hello_$s" "${args[@]}" &
  pid=$!
  wait_ready
  requests 200 # warm-up
  strace -c -f -p "$pid" -o "$tmp/strace" 2>/dev/null &
  spid=$!
  sleep 1
  requests "$N"
  kill -INT "$spid"
  wait "$spid" 2>/dev/null || true
  stop
  # strace -c rows: % time, seconds, usecs/call, calls, [errors], name; the last row "total".
  per_sys=$(awk -v n="$N" '$NF == "total" { printf "%.2f", $4 / n }' "$tmp/strace")
  top=$(awk -v n="$N" '$1 ~ /^[0-9.]+$/ && $NF != "total" { printf "%s %.2f\n", $NF, $4 / n }' "$tmp/strace" |
    sort -k2 -nr | head -4 | awk '{ printf "%s%s %s", (NR > 1 ? ", " : ""), $1, $2 }')
  echo "| $s | $per_ir | $per_sys | $top |"
  unset ir
done
