#!/usr/bin/env bash
# Measures the three hello-world servers of the HTTP library comparison (docs/design/http.md)
# with wrk on loopback and prints one table: requests/s, requests per second of server CPU,
# latency (avg, p50, p99), errors,
# server CPU, wrk CPU, the CPU that the rest of the machine used meanwhile (noise) and the
# server's peak RSS.
#
#   bench/http/compare.sh [ROUNDS]      (default 3; env: DURATION=10s THREADS=2 PORT=18080
#                                        SERVERS="h2o evhttp mhd mhd-reuseport" PIN=0)
#
# PIN=1 pins the server to CPU 0 and wrk to CPU 1 (taskset; use with THREADS=1): one core
# each, so req/s is one server core's worth, undisturbed by wrk.
#
# Each round runs every server once, in turn (rounds interleave, so a noisy minute hurts all
# servers alike); the table gives per-round lines and the median per server. For each run:
# start the server on 127.0.0.1:PORT with THREADS loops, check it answers "hello, world",
# warm up 2 s, then `wrk -t2 -c64 -d$DURATION --latency`, reading the server's
# utime+stime from /proc/PID/stat before and after, and VmHWM from /proc/PID/status at the
# end; then the server is killed. wrk and the server share this machine's cores: on a
# 2-core machine wrk takes a large part of one, so the absolute numbers are a floor; the
# ratios between libraries are the point.
set -euo pipefail
cd "$(dirname "$0")/../.."

ROUNDS=${1:-3}
DURATION=${DURATION:-10s}
THREADS=${THREADS:-2}
PORT=${PORT:-18080}
SERVERS=${SERVERS:-"h2o evhttp mhd mhd-reuseport"}
PIN=${PIN:-0}
SRV_PIN=() WRK_PIN=()
if [ "$PIN" = 1 ]; then SRV_PIN=(taskset -c 0) WRK_PIN=(taskset -c 1); fi
BIN=build/bench/http
URL="http://127.0.0.1:$PORT/"
TCK=$(getconf CLK_TCK)

for t in wrk curl ss; do
  command -v "$t" >/dev/null || { echo "compare: $t is missing (apt-get install wrk curl iproute2)" >&2; exit 1; }
done
bench/http/build.sh >/dev/null

server_pid=""
cleanup() {
  if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
}
trap 'cleanup; rm -rf "${tmp:-}"' EXIT

start_server() { # $1: server name -> sets server_pid
  case "$1" in
  h2o) "${SRV_PIN[@]}" "$BIN/hello_h2o" "$PORT" "$THREADS" & ;;
  evhttp) "${SRV_PIN[@]}" "$BIN/hello_evhttp" "$PORT" "$THREADS" & ;;
  mhd) "${SRV_PIN[@]}" "$BIN/hello_mhd" "$PORT" "$THREADS" pool & ;;
  mhd-reuseport) "${SRV_PIN[@]}" "$BIN/hello_mhd" "$PORT" "$THREADS" reuseport & ;;
  *) echo "compare: unknown server $1" >&2; exit 1 ;;
  esac
  server_pid=$!
  for _ in $(seq 50); do
    if [ "$(curl -s --max-time 1 "$URL" || true)" = "hello, world" ]; then return 0; fi
    sleep 0.1
  done
  echo "compare: $1 did not answer 'hello, world' on $URL" >&2
  exit 1
}

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
# Busy ticks of the whole machine (all cores, everything but idle and iowait).
busy_ticks() { awk '$1 == "cpu" { print $2 + $3 + $4 + $7 + $8 + $9 }' /proc/stat; }
# CPU seconds of this shell's finished children (wrk among them). `times` must run in this
# shell, not in a $(...) subshell, whose counters start at zero.
children_cpu() {
  times >"$tmp/times"
  awk 'NR == 2 { gsub(/[ms]/, " "); print $1 * 60 + $2 + $3 * 60 + $4 }' "$tmp/times"
}

# wrk prints latencies as 812.00us, 1.23ms or 1.02s: to milliseconds.
to_ms() { awk -v v="$1" 'BEGIN { n = v + 0; if (v ~ /us$/) n /= 1000; else if (v ~ /ms$/) n = n; else if (v ~ /s$/) n *= 1000; printf "%.3f", n }'; }

tmp=$(mktemp -d)
results=$tmp/results
for round in $(seq "$ROUNDS"); do
  for s in $SERVERS; do
    # Another benchmark may be timing on this machine: never measure alongside it.
    while pgrep -x hyperfine >/dev/null; do sleep 5; done
    if ss -Hltn "sport = :$PORT" | grep -q .; then
      echo "compare: something already listens on port $PORT; set PORT=..." >&2
      exit 1
    fi
    start_server "$s"
    "${WRK_PIN[@]}" wrk -t2 -c64 -d2s "$URL" >/dev/null # warm-up: connections, page faults, caches
    c0=$(cpu_ticks "$server_pid")
    b0=$(busy_ticks)
    children_cpu >"$tmp/w0"
    t0=$(date +%s.%N)
    out=$("${WRK_PIN[@]}" wrk -t2 -c64 -d"$DURATION" --latency "$URL")
    t1=$(date +%s.%N)
    children_cpu >"$tmp/w1"
    c1=$(cpu_ticks "$server_pid")
    b1=$(busy_ticks)
    hwm=$(awk '/^VmHWM/ { print $2 }' "/proc/$server_pid/status")
    cleanup
    server_pid=""

    rps=$(awk '/^Requests\/sec/ { print $2 }' <<<"$out")
    avg=$(to_ms "$(awk '$1 == "Latency" && NF >= 4 { print $2; exit }' <<<"$out")")
    p50=$(to_ms "$(awk '$1 == "50%" { print $2 }' <<<"$out")")
    p99=$(to_ms "$(awk '$1 == "99%" { print $2 }' <<<"$out")")
    errs=$(awk '/Socket errors/ { gsub(/,/, ""); s += $4 + $6 + $8 + $10 } /Non-2xx/ { s += $NF } END { print s + 0 }' <<<"$out")
    wall=$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')
    srv_cpu=$(awk -v a="$c0" -v b="$c1" -v t="$TCK" -v w="$wall" 'BEGIN { printf "%.0f", 100 * (b - a) / t / w }')
    wrk_cpu=$(awk -v a="$(cat "$tmp/w0")" -v b="$(cat "$tmp/w1")" -v w="$wall" 'BEGIN { printf "%.0f", 100 * (b - a) / w }')
    # What else ran meanwhile (other processes, kernel work not charged to either): noise.
    other_cpu=$(awk -v a="$b0" -v b="$b1" -v t="$TCK" -v w="$wall" -v s="$srv_cpu" -v k="$wrk_cpu" \
      'BEGIN { o = 100 * (b - a) / t / w - s - k; printf "%.0f", (o < 0 ? 0 : o) }')
    # Requests per second of server CPU: the fairer number when wrk takes part of the cores.
    per_core=$(awk -v r="$rps" -v c="$srv_cpu" 'BEGIN { printf "%.0f", (c > 0 ? r * 100 / c : 0) }')
    echo "$s $round $rps $avg $p50 $p99 $errs $srv_cpu $wrk_cpu $other_cpu $hwm $per_core" >>"$results"
    echo "compare: round $round $s: $rps req/s" >&2
  done
done

echo
pinned=""
if [ "$PIN" = 1 ]; then pinned=" (server pinned to CPU 0, wrk to CPU 1)"; fi
echo "wrk -t2 -c64 -d$DURATION --latency $URL; servers with $THREADS loops/threads$pinned; $(nproc) cores;" \
  "$ROUNDS rounds; CPU in % of one core over the run (other: the rest of the machine," \
  "i.e. noise); RSS is the server's VmHWM"
echo
printf '| %-13s | %-6s | %9s | %12s | %8s | %8s | %8s | %6s | %8s | %8s | %8s | %9s |\n' \
  server round "req/s" "req/CPU-s" "avg ms" "p50 ms" "p99 ms" errors "srv CPU" "wrk CPU" "other" "peak RSS"
printf '|%s|\n' "---------------|--------|-----------|--------------|----------|----------|----------|--------|----------|----------|----------|-----------"
for s in $SERVERS; do
  awk -v s="$s" '$1 == s { printf "| %-13s | %-6s | %9.0f | %12.0f | %8.3f | %8.3f | %8.3f | %6d | %7d%% | %7d%% | %7d%% | %6d kB |\n", $1, $2, $3, $12, $4, $5, $6, $7, $8, $9, $10, $11 }' "$results"
done
for s in $SERVERS; do
  # Median of each column over the rounds (columns sorted independently).
  awk -v s="$s" '$1 == s' "$results" | awk -v s="$s" '
    { for (i = 3; i <= 12; i++) v[i, NR] = $i; n = NR }
    function median(col,   a, i, j, t) {
      for (i = 1; i <= n; i++) a[i] = v[col, i]
      for (i = 2; i <= n; i++) for (j = i; j > 1 && a[j - 1] > a[j]; j--) { t = a[j]; a[j] = a[j - 1]; a[j - 1] = t }
      return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
    }
    END { printf "| %-13s | median | %9.0f | %12.0f | %8.3f | %8.3f | %8.3f | %6d | %7d%% | %7d%% | %7d%% | %6d kB |\n",
          s, median(3), median(12), median(4), median(5), median(6), median(7), median(8), median(9), median(10), median(11) }'
done
rm -rf "$tmp"
