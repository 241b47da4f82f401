#!/usr/bin/env bash
# serve.sh - `make bench-http`: HTTP serving throughput of `wasp serve`, in both tiers
# (interpreter and native), against a Node.js cluster (bench/node/cluster.mjs) and the
# native h2o ceiling (bench/http/hello_h2o.c), measured with wrk on loopback, written into
# bench/RESULTS.md between the markers <!-- bench-http:begin --> and <!-- bench-http:end -->
# (appended when absent).
#
#   bash bench/http/serve.sh [WASP]        (default build/wasp; `make bench-http` builds it
#                                           and examples/serve/*.wasm first)
#   env: DURATION=10s WARMUP=2s RUNS=3 WORKERS=2 WRK_THREADS=2 WRK_CONNS=64 PORT=18090 QUIET_WAIT=60
#        SERVERS="wasp-hello native-hello wasp-wagi native-wagi wasp-json native-json
#                 wasp-order native-order node-hello node-json node-order h2o-hello"
#        RESULTS=bench/RESULTS.md (RESULTS=- prints the section instead of writing it)
#
# The servers (wasp-* in the interpreter, native-* the same module in the native tier):
#   wasp-hello, native-hello  wasp serve examples/serve/hello.wasm       GET  /hello  (wasp ABI)
#   wasp-wagi, native-wagi    wasp serve examples/serve/wagi-hello.wasm  GET  /hello  (WAGI; its
#                             answer is "hello from WAGI, GET /hello", the others' "hello, world")
#   wasp-json, native-json    wasp serve examples/serve/json.wasm        POST /json   (post.lua)
#   wasp-order, native-order  wasp serve build/bench/http/order-rs.wasm  POST /order  (order.lua):
#                             the Rust serde_json WAGI handler bench/http/guests/order-rs, built
#                             here offline with Debian's cargo and crates (below)
#   node-hello  node bench/node/cluster.mjs                GET  /hello
#   node-json   node bench/node/cluster.mjs                POST /json   (body: post.lua)
#   node-order  node bench/node/cluster.mjs                POST /order  (body: order.lua;
#               bench/node/order.mjs, the same logic as order-rs)
#   h2o-hello   build/bench/http/hello_h2o                 GET  /      (native ceiling)
# wasp and node both get WORKERS workers (wasp: --workers; node: one cluster worker each),
# h2o WORKERS event-loop threads. wasp runs with --access-log off --admin off; native-* add
# --tier native --cache DIR, a cache in this run's scratch directory that `wasp compile`
# fills before anything else (so every native start is warm; a start that does not load
# its code from the cache, or serves the interpreter instead, stops the script).
#
# How: before anything is timed, each server's answer is checked with curl (the hello text;
# the json answer must be the same from wasp (both tiers) and node, and malformed JSON must
# give 400 from all; the same for the order answer, plus 400 for an order with qty 0 and 405
# for a GET). Then RUNS rounds; each round runs every server once, in turn, so a noisy minute
# hurts all alike. A run starts the server, warms it up with wrk for WARMUP, then runs
#   wrk -t$WRK_THREADS -c$WRK_CONNS -d$DURATION --latency [-s post.lua] URL
# reading utime+stime of every process of the server's process tree (node: master and
# workers) from /proc/PID/stat before and after, and their VmHWM (summed) at the end; then
# stops the server. The table gives per-column medians over the runs. Last, the instance
# creation + reset micro-benchmark (build/bench_instance, bench/instance.c) runs on the four
# modules and its numbers join the section.
# wrk and the servers share this machine's cores: on 2 cores wrk takes up to about one of
# them, so absolute req/s are a floor; the ratios and req/CPU-s are the point.
set -euo pipefail
cd "$(dirname "$0")/../.."

WASP=${1:-build/wasp}
DURATION=${DURATION:-10s}
WARMUP=${WARMUP:-2s}
RUNS=${RUNS:-3}
WORKERS=${WORKERS:-2}
WRK_THREADS=${WRK_THREADS:-2}
WRK_CONNS=${WRK_CONNS:-64}
PORT=${PORT:-18090}
SERVERS=${SERVERS:-"wasp-hello native-hello wasp-wagi native-wagi wasp-json native-json wasp-order native-order node-hello node-json node-order h2o-hello"}
RESULTS=${RESULTS:-bench/RESULTS.md}
POST_LUA=bench/http/post.lua
ORDER_LUA=bench/http/order.lua
ORDER_SRC=bench/http/guests/order-rs
ORDER_BUILD=build/bench/http/order-rs
ORDER_WASM=build/bench/http/order-rs.wasm
H2O_BIN=build/bench/http/hello_h2o
TCK=$(getconf CLK_TCK)
BASE="http://127.0.0.1:$PORT"

die() { echo "bench-http: $*" >&2; exit 1; }
. bench/http/lib.sh

for t in wrk curl node ss gcc pkg-config; do
  command -v "$t" >/dev/null || die "$t is missing (scripts/setup.sh installs it)"
done
if [[ " $SERVERS" == *" wasp-"* || " $SERVERS" == *" native-"* ]]; then
  [ -x "$WASP" ] || die "$WASP not found: run 'make bench-http' (it builds build/wasp)"
  for m in hello wagi-hello json; do
    [ -f "examples/serve/$m.wasm" ] || die "examples/serve/$m.wasm not found: run 'make examples'"
  done
fi

# ---- 0. The Rust serde_json handler ------------------------------------------------------------
# Built offline with Debian's cargo and crates (librust-serde-json-dev,
# librust-serde-derive-dev: /usr/share/cargo/registry, which the crate's .cargo/config.toml
# puts in place of crates.io), PATH=/usr/bin:/bin so that a rustup toolchain without the
# wasm32-wasi target cannot come first. The crate is copied (timestamps kept, so cargo only
# rebuilds what changed) into build/, where its Cargo.lock and target/ stay.
if [[ " $SERVERS" == *"-order"* ]]; then
  [ -x /usr/bin/cargo ] || die "/usr/bin/cargo is missing (scripts/setup.sh installs it)"
  for c in serde_json serde_derive; do
    compgen -G "/usr/share/cargo/registry/$c-1.*" >/dev/null ||
      die "the $c crate is not in /usr/share/cargo/registry (scripts/setup.sh installs librust-${c/_/-}-dev)"
  done
  mkdir -p "$ORDER_BUILD"
  cp -Rp "$ORDER_SRC/." "$ORDER_BUILD/"
  (cd "$ORDER_BUILD" && PATH=/usr/bin:/bin cargo build --offline --release --quiet) ||
    die "cargo build of $ORDER_SRC failed"
  cp "$ORDER_BUILD/target/wasm32-wasi/release/order-rs.wasm" "$ORDER_WASM"
fi

# ---- 1. The native ceiling -----------------------------------------------------------------
# Same compiler and flags as bench/http/build.sh, but only h2o (the other two libraries of
# the comparison are not needed here).
mkdir -p "$(dirname "$H2O_BIN")"
if [ ! -x "$H2O_BIN" ] || [ bench/http/hello_h2o.c -nt "$H2O_BIN" ]; then
  # shellcheck disable=SC2046 # pkg-config prints several words on purpose
  gcc -std=c11 -D_GNU_SOURCE -O2 -g -Wall -Wextra -pthread bench/http/hello_h2o.c \
    -o "$H2O_BIN" $(pkg-config --cflags --libs libh2o-evloop)
fi

tmp=$(mktemp -d)
server_pid=""
trap 'stop_server; rm -rf "$tmp"' EXIT

# Time a copy of the wasp given, as bench/run.sh does: the tree is shared, and a rebuild of
# build/wasp during the run would otherwise mix versions (and, since the native cache is
# keyed by wasp's build ID, turn the warm native starts into compiles).
if [ -x "$WASP" ]; then
  cp "$WASP" "$tmp/wasp"
  WASP=$tmp/wasp
fi

# $1: server name. The module it serves (wasp-* and native-*).
module_of() {
  case "${1#*-}" in
  hello) echo examples/serve/hello.wasm ;;
  wagi) echo examples/serve/wagi-hello.wasm ;;
  json) echo examples/serve/json.wasm ;;
  order) echo "$ORDER_WASM" ;;
  esac
}

# The native tier's cache: warm before the first native start. `wasp compile` prints one
# line per module (functions, size, compile time), which the section quotes.
NATIVE_CACHE=$tmp/native-cache
compiled=$tmp/compiled
: >"$compiled"
for s in $SERVERS; do
  [[ $s == native-* ]] || continue
  "$WASP" compile --cache "$NATIVE_CACHE" "$(module_of "$s")" >>"$compiled" 2>"$tmp/compile.err" ||
    die "wasp compile $(module_of "$s") failed: $(cat "$tmp/compile.err")"
done

# $1: server name. Starts it in the background on PORT, sets server_pid, url, wrk_script.
start_server() {
  local log=$tmp/$1.log
  # Emptied here, not only by the background job's redirection, which may happen after the
  # checks below have read the previous start's lines (its app line, node's "listening").
  : >"$log"
  wrk_script=()
  local tier=()
  case "$1" in
  wasp-hello | wasp-wagi | wasp-json | wasp-order | native-hello | native-wagi | native-json | native-order)
    tier=(--tier interp)
    [[ $1 == native-* ]] && tier=(--tier native --cache "$NATIVE_CACHE")
    "$WASP" serve --listen "127.0.0.1:$PORT" --admin off --access-log off --workers "$WORKERS" \
      "${tier[@]}" "$(module_of "$1")" 2>"$log" &
    ;;
  node-hello | node-json | node-order)
    PORT=$PORT WORKERS=$WORKERS node bench/node/cluster.mjs 2>"$log" &
    ;;
  h2o-hello)
    "$H2O_BIN" "$PORT" "$WORKERS" 2>"$log" &
    ;;
  *) die "unknown server $1" ;;
  esac
  server_pid=$!
  case "$1" in
  *-json) url=$BASE/json wrk_script=(-s "$POST_LUA") ;;
  *-order) url=$BASE/order wrk_script=(-s "$ORDER_LUA") ;;
  h2o-hello) url=$BASE/ ;;
  *) url=$BASE/hello ;;
  esac
  # Ready when it answers and, for node, when the master says all workers listen (before
  # that the first worker would take every connection wrk opens); for the native tier, when
  # wasp's app line says the code came from the cache (a compile at start, or the
  # interpreter instead, is an error: the rows would not measure a warm native tier).
  for _ in $(seq 100); do
    kill -0 "$server_pid" 2>/dev/null || { cat "$log" >&2; die "$1 exited at start-up"; }
    if [[ $1 == native-* ]] && grep -q "^wasp: app .* -> .* (\(wasp\|wagi\), " "$log" &&
      ! grep -q ", native, from the cache)" "$log"; then
      cat "$log" >&2
      die "$1 did not run native code loaded from the cache"
    fi
    if curl -s -o /dev/null --max-time 1 "$BASE/" &&
      { [[ $1 != node-* ]] || grep -q "workers listening" "$log"; } &&
      { [[ $1 != native-* ]] || grep -q ", native, from the cache)" "$log"; }; then
      return 0
    fi
    sleep 0.1
  done
  cat "$log" >&2
  die "$1 did not answer on $BASE within 10 s"
}

# The json request body: the one post.lua sends.
json_body=$(sed -n 's/^wrk.body = \[\[\(.*\)\]\]$/\1/p' "$POST_LUA")
[ -n "$json_body" ] || die "no wrk.body = [[...]] line in $POST_LUA"
order_body=$(sed -n 's/^wrk.body = \[\[\(.*\)\]\]$/\1/p' "$ORDER_LUA")
[ -n "$order_body" ] || die "no wrk.body = [[...]] line in $ORDER_LUA"

# ---- 2. Correctness first --------------------------------------------------------------------
# Prints "STATUS BODY" of one request.
ask() { # $1: url, rest: curl options
  local u=$1
  shift
  curl -s --max-time 5 -o "$tmp/body" -w '%{http_code}' "$@" "$u" >"$tmp/code" || true
  printf '%s %s' "$(cat "$tmp/code")" "$(cat "$tmp/body")"
}
post_json() { ask "$1" -X POST -H 'Content-Type: application/json' --data-binary "$2"; }
expect() { # $1: what, $2: got, $3: wanted
  [ "$2" = "$3" ] || die "$1: expected '$3', got '$2'"
}
json_answer=""
order_answer=""
for s in $SERVERS; do
  start_server "$s"
  case "$s" in
  *-hello) expect "$s GET $url" "$(ask "$url")" "200 hello, world" ;;
  *-wagi) # wagi-hello.c greets with the method and path: "hello from WAGI, GET /hello"
    got=$(ask "$url")
    [[ $got == "200 hello from WAGI, GET "* ]] || die "$s GET $url: expected '200 hello from WAGI, GET ...', got '$got'"
    ;;
  *-json)
    got=$(post_json "$url" "$json_body")
    [[ $got == "200 {"* ]] || die "$s POST $url: expected 200 and a JSON object, got '$got'"
    if [ -z "$json_answer" ]; then json_answer=$got; fi
    expect "$s POST $url (must equal the other json server's answer)" "$got" "$json_answer"
    bad=$(post_json "$url" '{"numbers":[1,2,')
    [ "${bad%% *}" = 400 ] || die "$s POST $url with malformed JSON: expected 400, got '$bad'"
    ;;
  *-order)
    got=$(post_json "$url" "$order_body")
    [[ $got == "200 {"* ]] || die "$s POST $url: expected 200 and a JSON object, got '$got'"
    if [ -z "$order_answer" ]; then order_answer=$got; fi
    expect "$s POST $url (must equal the other order servers' answer)" "$got" "$order_answer"
    bad=$(post_json "$url" '{"id":"x","items":[')
    [ "${bad%% *}" = 400 ] || die "$s POST $url with malformed JSON: expected 400, got '$bad'"
    bad=$(post_json "$url" "${order_body/\"qty\":2,/\"qty\":0,}")
    [ "${bad%% *}" = 400 ] || die "$s POST $url with an item of qty 0: expected 400, got '$bad'"
    bad=$(ask "$url")
    [ "${bad%% *}" = 405 ] || die "$s GET $url: expected 405, got '$bad'"
    ;;
  esac
  stop_server
done
echo "bench-http: answers checked; json answer: ${json_answer#200 }; order answer: ${order_answer#200 }" >&2

# ---- 3. Measure ------------------------------------------------------------------------------
# utime+stime (ticks) summed over a process tree, and VmHWM (kB) summed over it.
tree_ticks() {
  local s=0 p t
  for p in $(tree_pids "$1"); do
    t=$(awk '{ print $14 + $15 }' "/proc/$p/stat" 2>/dev/null) || continue
    s=$((s + t))
  done
  echo "$s"
}
tree_hwm() {
  local s=0 p h
  for p in $(tree_pids "$1"); do
    h=$(awk '/^VmHWM/ { print $2 }' "/proc/$p/status" 2>/dev/null) || continue
    s=$((s + ${h:-0}))
  done
  echo "$s"
}
# Busy ticks of the whole machine (everything but idle and iowait).
busy_ticks() { awk '$1 == "cpu" { print $2 + $3 + $4 + $7 + $8 + $9 }' /proc/stat; }
# CPU seconds of this shell's finished children (wrk among them); must run in this shell.
children_cpu() {
  times >"$tmp/times"
  awk 'NR == 2 { gsub(/[ms]/, " "); print $1 * 60 + $2 + $3 * 60 + $4 }' "$tmp/times"
}
# wrk prints 812.00us, 1.23ms or 1.02s: to milliseconds.
to_ms() { awk -v v="$1" 'BEGIN { n = v + 0; if (v ~ /us$/) n /= 1000; else if (v ~ /ms$/) n = n; else if (v ~ /s$/) n *= 1000; printf "%.3f", n }'; }

# Other work on this machine (builds, another benchmark) skews a run: before each, wait
# until the machine is idle enough (under 25% of one core busy for a second) and no
# hyperfine runs, but at most QUIET_WAIT seconds; the table's `other` column shows the rest.
QUIET_WAIT=${QUIET_WAIT:-60}
waited_total=0
wait_quiet() {
  local t0 b0 busy
  t0=$(date +%s)
  while [ $(($(date +%s) - t0)) -lt "$QUIET_WAIT" ]; do
    b0=$(busy_ticks)
    sleep 1
    busy=$(($(busy_ticks) - b0))
    if [ $((busy * 4)) -lt "$TCK" ] && ! pgrep -x hyperfine >/dev/null; then break; fi
    sleep 4
  done
  waited_total=$((waited_total + $(date +%s) - t0))
}

# The instance creation + reset micro-benchmark (bench/instance.c, built by `make bench-http`
# as build/bench_instance): one table row per module.
INSTANCE_BIN=${INSTANCE_BIN:-build/bench_instance}
instance_section() {
  if [ ! -x "$INSTANCE_BIN" ]; then
    echo "Instance creation + reset: **not measured**: $INSTANCE_BIN is missing (\`make bench-http\` builds it)."
    return
  fi
  echo "Instance creation + reset (\`$INSTANCE_BIN MODULE 20000 [EXPORT]\`, \`bench/instance.c\`): the"
  echo "cost per request of a clean instance, outside HTTP. *create+reset*: after the handler ran,"
  echo "reset the instance to the snapshot and take it for the next request (the steady state);"
  echo "*fresh*: a new instance from the snapshot, freed again. Microseconds; the handler's own"
  echo "run time is not included."
  echo
  echo "| module | export | create+reset p50 | p99 | mean | fresh p50 | p99 | mean | memory image |"
  echo "|---|---|---:|---:|---:|---:|---:|---:|---:|"
  local m e f out
  for m in examples/serve/hello.wasm:wasp_handle examples/serve/json.wasm:wasp_handle \
    examples/serve/wagi-hello.wasm:_start "$ORDER_WASM:_start"; do
    e=${m##*:} f=${m%:*}
    m=$(basename "$f" .wasm)
    [ -f "$f" ] || continue
    if ! out=$("$INSTANCE_BIN" "$f" 20000 "$e" 2>&1); then
      echo "| \`$m.wasm\` | \`$e\` | failed: $(tail -1 <<<"$out") | | | | | | |"
      continue
    fi
    awk -v m="$m" -v e="$e" '
      function val(line, key,   i, n, f) { n = split(line, f, " "); for (i = 1; i <= n; i++) if (f[i] ~ "^" key "=") { sub(key "=", "", f[i]); return f[i] } }
      $1 == "create+reset" { c50 = val($0, "p50"); c99 = val($0, "p99"); cm = val($0, "mean") }
      $1 == "fresh" { f50 = val($0, "p50"); f99 = val($0, "p99"); fm = val($0, "mean") }
      $1 == "memory" && $2 == "image" { img = $3 " " $4 }
      END { printf "| `%s.wasm` | `%s` | %s | %s | %s | %s | %s | %s | %s |\n", m, e, c50, c99, cm, f50, f99, fm, img }' <<<"$out"
  done
}

load_before=$(cut -d' ' -f1-3 /proc/loadavg)
started=$(date +%s)
raw=$tmp/raw
WRK=(wrk -t"$WRK_THREADS" -c"$WRK_CONNS")
for run in $(seq "$RUNS"); do
  for s in $SERVERS; do
    wait_quiet
    if ss -Hltn "sport = :$PORT" | grep -q .; then die "something already listens on port $PORT; set PORT=..."; fi
    load=$(cut -d' ' -f1 /proc/loadavg)
    start_server "$s"
    "${WRK[@]}" -d"$WARMUP" "${wrk_script[@]}" "$url" >/dev/null
    c0=$(tree_ticks "$server_pid")
    b0=$(busy_ticks)
    children_cpu >"$tmp/w0"
    t0=$(date +%s.%N)
    out=$("${WRK[@]}" -d"$DURATION" --latency "${wrk_script[@]}" "$url")
    t1=$(date +%s.%N)
    children_cpu >"$tmp/w1"
    c1=$(tree_ticks "$server_pid")
    b1=$(busy_ticks)
    hwm=$(tree_hwm "$server_pid")
    nproc_tree=$(tree_pids "$server_pid" | wc -l)
    stop_server

    rps=$(awk '/^Requests\/sec/ { print $2 }' <<<"$out")
    avg=$(to_ms "$(awk '$1 == "Latency" && NF >= 4 { print $2; exit }' <<<"$out")")
    p99=$(to_ms "$(awk '$1 == "99%" { print $2 }' <<<"$out")")
    non2xx=$(awk '/Non-2xx/ { n = $NF } END { print n + 0 }' <<<"$out")
    sockerr=$(awk '/Socket errors/ { gsub(/,/, ""); s += $4 + $6 + $8 + $10 } END { print s + 0 }' <<<"$out")
    wall=$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')
    srv_cpu=$(awk -v a="$c0" -v b="$c1" -v t="$TCK" -v w="$wall" 'BEGIN { printf "%.0f", 100 * (b - a) / t / w }')
    wrk_cpu=$(awk -v a="$(cat "$tmp/w0")" -v b="$(cat "$tmp/w1")" -v w="$wall" 'BEGIN { printf "%.0f", 100 * (b - a) / w }')
    other=$(awk -v a="$b0" -v b="$b1" -v t="$TCK" -v w="$wall" -v s="$srv_cpu" -v k="$wrk_cpu" \
      'BEGIN { o = 100 * (b - a) / t / w - s - k; printf "%.0f", (o < 0 ? 0 : o) }')
    per_cpu=$(awk -v r="$rps" -v c="$srv_cpu" 'BEGIN { printf "%.0f", (c > 0 ? r * 100 / c : 0) }')
    echo "$s $run $rps $avg $p99 $srv_cpu $per_cpu $hwm $non2xx $sockerr $wrk_cpu $other $load $nproc_tree" >>"$raw"
    echo "bench-http: run $run/$RUNS $s: $rps req/s, p99 $p99 ms, server CPU $srv_cpu%, $non2xx non-2xx, $sockerr socket errors" >&2
  done
done
wait_quiet
instance_md=$(instance_section)
elapsed=$(($(date +%s) - started))
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

# ---- 4. The section --------------------------------------------------------------------------
# Medians per server, each column on its own: name rps avg p99 cpu per_cpu hwm non2xx sockerr
# wrk other load, plus min and max req/s.
medians=$tmp/medians
for s in $SERVERS; do
  awk -v s="$s" '$1 == s' "$raw" | awk -v s="$s" '
    { for (i = 3; i <= 13; i++) v[i, NR] = $i; n = NR }
    function median(col,   a, i, j, t) {
      for (i = 1; i <= n; i++) a[i] = v[col, i]
      for (i = 2; i <= n; i++) for (j = i; j > 1 && a[j - 1] > a[j]; j--) { t = a[j]; a[j] = a[j - 1]; a[j - 1] = t }
      return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
    }
    function lo(col,   i, m) { m = v[col, 1]; for (i = 2; i <= n; i++) if (v[col, i] < m) m = v[col, i]; return m }
    function hi(col,   i, m) { m = v[col, 1]; for (i = 2; i <= n; i++) if (v[col, i] > m) m = v[col, i]; return m }
    END { print s, median(3), median(4), median(5), median(6), median(7), median(8), median(9), median(10),
          median(11), median(12), median(13), lo(3), hi(3) }'
done >"$medians"
col() { awk -v s="$1" -v c="$2" '$1 == s { print $c }' "$medians"; }
ratio() { # $1/$2 of median req/s ($3 = 6: of median req/CPU-s), or "n/a" when either was not run
  local a b
  a=$(col "$1" "${3:-2}") b=$(col "$2" "${3:-2}")
  if [ -z "$a" ] || [ -z "$b" ] || [ "$b" = 0 ]; then echo "n/a"; return; fi
  awk -v a="$a" -v b="$b" 'BEGIN { printf "%.2f", a / b }'
}
verdict() { # $1: ratio, $2: target
  [ "$1" = n/a ] && { echo "not measured"; return; }
  awk -v r="$1" -v t="$2" 'BEGIN { print (r >= t ? "met" : "NOT met") }'
}
# One line of the ratios: "- TEXT: **R×** (req/CPU-s: C×)[ (target ≥ T×: verdict)]".
# $1: text, $2: numerator, $3: denominator, $4: target (optional), $5: its words (optional).
ratio_line() {
  local r c line
  r=$(ratio "$2" "$3") c=$(ratio "$2" "$3" 6)
  [ "$r" = n/a ] && return 0
  line="- $1: **$r×** (req/CPU-s: $c×)"
  if [ -n "${4:-}" ]; then line+=" (target ${5:-≥ $4×}: $(verdict "$r" "$4"))"; fi
  echo "$line"
}
json_ratio=$(ratio wasp-json node-json)
hello_ratio=$(ratio wasp-hello h2o-hello)

describe() {
  case "$1" in
  wasp-hello) echo "wasp interp, wasp ABI: \`GET /hello\` → \`examples/serve/hello.wasm\`" ;;
  native-hello) echo "wasp native, wasp ABI: \`GET /hello\` → \`examples/serve/hello.wasm\`" ;;
  wasp-wagi) echo "wasp interp, WAGI: \`GET /hello\` → \`examples/serve/wagi-hello.wasm\`" ;;
  native-wagi) echo "wasp native, WAGI: \`GET /hello\` → \`examples/serve/wagi-hello.wasm\`" ;;
  wasp-json) echo "wasp interp, wasp ABI: \`POST /json\` → \`examples/serve/json.wasm\`" ;;
  native-json) echo "wasp native, wasp ABI: \`POST /json\` → \`examples/serve/json.wasm\`" ;;
  wasp-order) echo "wasp interp, WAGI, Rust serde_json: \`POST /order\` → \`order-rs.wasm\`" ;;
  native-order) echo "wasp native, WAGI, Rust serde_json: \`POST /order\` → \`order-rs.wasm\`" ;;
  node-hello) echo "Node.js cluster: \`GET /hello\`" ;;
  node-json) echo "Node.js cluster: \`POST /json\`" ;;
  node-order) echo "Node.js cluster: \`POST /order\` (\`bench/node/order.mjs\`)" ;;
  h2o-hello) echo "native h2o (ceiling): \`GET /\`" ;;
  esac
}

cpu_model=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
crate_version() { # $1: a crate in Debian's registry; its version(s)
  compgen -G "/usr/share/cargo/registry/$1-1.*" | sed 's/.*-//' | paste -sd' '
}
commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
dirty=""
if ! git diff --quiet HEAD -- src 2>/dev/null; then dirty=" + uncommitted changes in src/"; fi
section=$tmp/section
{
  echo "## HTTP serving (\`make bench-http\`)"
  echo
  echo "Written by \`bench/http/serve.sh\` (\`make bench-http\`); do not edit by hand."
  echo
  echo "- date: $(date -u '+%Y-%m-%d %H:%M UTC'); took ${elapsed}s"
  echo "- command: \`make bench-http\` (RUNS=$RUNS DURATION=$DURATION WARMUP=$WARMUP WORKERS=$WORKERS)"
  echo "- machine: $(nproc) cores, ${cpu_model:-unknown CPU}, kernel $(uname -r); load average" \
    "before $load_before, after $load_after (1/5/15 min)"
  echo "- wasp: commit $commit$dirty, \`wasp serve --workers $WORKERS --access-log off --admin off MODULE\`;"
  echo "  *interp* rows add \`--tier interp\`, *native* rows \`--tier native --cache DIR\`: a cache in the"
  echo "  run's scratch directory, filled by \`wasp compile --cache DIR\` before the checks, so every"
  echo "  native start loaded its code from the cache (checked on wasp's app line each time):"
  # shellcheck disable=SC2016 # the backquotes are Markdown
  sed 's|^\([^:]*\): \(.*\): .*\.wasp-native (\(.*\))$|  - `\1`: \2; its cache entry \3|' "$compiled"
  if [ -f "$ORDER_WASM" ]; then
    echo "- Rust: \`bench/http/guests/order-rs\` (serde $(crate_version serde)," \
      "serde_derive $(crate_version serde_derive)," \
      "serde_json $(crate_version serde_json) from Debian's registry)," \
      "$(PATH=/usr/bin:/bin cargo --version | cut -d' ' -f1-2), $(/usr/bin/rustc --version | cut -d' ' -f1-2)," \
      "\`cargo build --offline --release\` (opt-level 3, LTO) for wasm32-wasi: $(($(stat -c %s "$ORDER_WASM") / 1024)) KiB"
  fi
  echo "- node: $(node --version), \`bench/node/cluster.mjs\`, $WORKERS cluster workers, plain \`node:http\`"
  echo "- native: \`bench/http/hello_h2o.c\` (libh2o-evloop $(dpkg-query -W -f='${Version}' libh2o-evloop-dev 2>/dev/null || pkg-config --modversion libh2o-evloop), gcc -O2), $WORKERS event-loop threads"
  echo "- load: \`wrk -t$WRK_THREADS -c$WRK_CONNS -d$DURATION --latency\` on 127.0.0.1 after a $WARMUP warm-up;" \
    "json requests \`POST /json\` with the body of \`bench/http/post.lua\`:"
  echo "  \`$json_body\` → \`${json_answer#200 }\` (checked identical from wasp and node before timing)"
  if [ -n "$order_answer" ]; then
    echo "- order requests \`POST /order\` with the body of \`bench/http/order.lua\`, an order of" \
      "${#order_body} bytes (8 items; the Rust handler parses it into typed structs and Node with" \
      "JSON.parse) → \`${order_answer#200 }\` (checked identical from wasp, both tiers, and node before timing)"
  fi
  echo "- **wrk and the server share the $(nproc) cores** (wrk alone can take about one), so req/s is a"
  echo "  floor for every server; req/CPU-s (req/s per second of server CPU) is the fairer comparison."
  echo "  Other sessions share the machine too: \`other\` is the CPU the rest of the machine used during"
  echo "  the run (noise)."
  echo "- $RUNS runs per server, interleaved; each column is the median over the runs on its own."
  echo "  Before each run the script waited for the machine to go idle (at most ${QUIET_WAIT}s):"
  echo "  ${waited_total}s in all."
  echo "  CPU is % of one core, summed over the server's process tree (node: master + workers);"
  echo "  RSS is VmHWM summed over the same processes. \`load\` is the 1-minute load average as"
  echo "  each run started; it counts the previous run's wrk and server too (about 3-4 when busy)."
  echo
  echo "| server | req/s | req/s range | avg ms | p99 ms | server CPU | req/CPU-s | peak RSS | non-2xx | socket errors | wrk CPU | other | load |"
  echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
  for s in $SERVERS; do
    awk -v s="$s" -v d="$(describe "$s")" '$1 == s {
      printf "| %s | %.0f | %.0f – %.0f | %.3f | %.3f | %d%% | %.0f | %.1f MiB | %d | %d | %d%% | %d%% | %.2f |\n",
        d, $2, $13, $14, $3, $4, $5, $6, $7 / 1024, $8, $9, $10, $11, $12 }' "$medians"
  done
  echo
  echo "Ratios of median req/s (the targets are set on these), with the same ratio of median"
  echo "req/CPU-s beside them:"
  echo
  ratio_line "wasp interp json / node json" wasp-json node-json 3
  ratio_line "wasp native json / node json" native-json node-json 3 "≥ 3×, aim 4×"
  ratio_line "Rust serde_json order, wasp interp / node" wasp-order node-order 2
  ratio_line "Rust serde_json order, wasp native / node" native-order node-order 2
  ratio_line "wasp native hello / wasp interp hello" native-hello wasp-hello 1 "not below the interpreter's"
  if [ "$hello_ratio" = n/a ]; then pct=n/a; else pct=$(awk -v r="$hello_ratio" 'BEGIN { printf "%.0f%%", 100 * r }'); fi
  echo "- wasp interp hello / native h2o hello: **$pct** (target ≥ 70%: $(verdict "$hello_ratio" 0.70))"
  ratio_line "wasp native hello / native h2o hello" native-hello h2o-hello
  ratio_line "native / interp, WAGI hello" native-wagi wasp-wagi
  ratio_line "native / interp, json" native-json wasp-json
  ratio_line "native / interp, Rust order" native-order wasp-order
  echo "- wasp WAGI hello / wasp hello (interp): $(ratio wasp-wagi wasp-hello)×;" \
    "node hello / native h2o hello: $(ratio node-hello h2o-hello)×"
  if [ "$(verdict "$json_ratio" 3)" != met ]; then
    echo
    echo "What limits wasp json, with the measurements behind it: \`docs/design/serve.md\`, section 7."
  fi
  echo
  echo "$instance_md"
  echo
  echo "<details><summary>every run</summary>"
  echo
  echo "| server | run | req/s | avg ms | p99 ms | server CPU | req/CPU-s | peak RSS | non-2xx | socket errors | wrk CPU | other | load | processes |"
  echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
  for s in $SERVERS; do
    awk -v s="$s" '$1 == s {
      printf "| %s | %d | %.0f | %.3f | %.3f | %d%% | %d | %.1f MiB | %d | %d | %d%% | %d%% | %.2f | %d |\n",
        $1, $2, $3, $4, $5, $6, $7, $8 / 1024, $9, $10, $11, $12, $13, $14 }' "$raw"
  done
  echo
  echo "</details>"
} >"$section"

if [ "$RESULTS" = - ]; then
  cat "$section"
  exit 0
fi
[ -f "$RESULTS" ] || touch "$RESULTS"
if ! grep -q '^<!-- bench-http:begin -->$' "$RESULTS" || ! grep -q '^<!-- bench-http:end -->$' "$RESULTS"; then
  printf '\n<!-- bench-http:begin -->\n<!-- bench-http:end -->\n' >>"$RESULTS"
fi
awk -v f="$section" '
  $0 == "<!-- bench-http:begin -->" { print; while ((getline l < f) > 0) print l; skip = 1; next }
  $0 == "<!-- bench-http:end -->" { skip = 0 }
  !skip' "$RESULTS" >"$tmp/results.md"
cat "$tmp/results.md" >"$RESULTS"
echo "bench-http: wrote the bench-http section of $RESULTS" >&2
cat "$section"
