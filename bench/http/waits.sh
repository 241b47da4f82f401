#!/usr/bin/env bash
# waits.sh - the "requests that wait" part of `make bench-http` (issue 11): handlers that
# spend their time waiting on something else, wasp against a Node.js cluster with the same
# logic, measured in the same run:
#
#   upstream-64    GET /fetch: an outbound GET to a local API answering after 100 ms,
#                  64 connections (ideal: 640 req/s)
#   upstream-256   the same with 256 connections (ideal: 2,560 req/s)
#   postgres       GET /sql: one indexed SELECT with a bound parameter (PostgreSQL)
#   redis          GET /kv: one Redis GET
#
# plus build/bench_fiber's switch cost and memory per suspended call.
#
# wasp runs examples/serve/fetch.c and bench/http/guests/capread.c; Node runs
# bench/node/waits.mjs (node:http cluster, keep-alive agent, `pg` from npm installed
# under build/bench-node/, a pipelined RESP connection for Redis). The upstream is
# bench/node/upstream.mjs. Writes its section of bench/RESULTS.md between
# <!-- bench-waits:begin --> and <!-- bench-waits:end -->.
#
#   bash bench/http/waits.sh [WASP]     env: DURATION=10s WARMUP=2s RUNS=3 WORKERS=2
#
# ONLY=postgres (a row label, or several separated by spaces) runs those rows alone and
# prints them without touching RESULTS.md: for trying a change.
set -euo pipefail
cd "$(dirname "$0")/../.."
WASP=${1:-build/wasp}
DURATION=${DURATION:-10s}
WARMUP=${WARMUP:-2s}
RUNS=${RUNS:-3}
WORKERS=${WORKERS:-2}
RESULTS=${RESULTS:-bench/RESULTS.md}
TCK=$(getconf CLK_TCK)
die() { echo "bench-waits: $*" >&2; exit 1; }
. bench/http/lib.sh
for t in wrk curl node npm redis-server redis-cli "$PGBIN/initdb" "$PGBIN/postgres" "$PGBIN/pg_isready" psql; do
  command -v "$t" >/dev/null || [ -x "$t" ] || die "$t is missing (scripts/setup.sh installs it)"
done
[ -f examples/serve/fetch.wasm ] || die "examples/serve/fetch.wasm not found: run 'make examples'"

# Node's PostgreSQL client, from npm (allowed for this benchmark), once.
NODE_MODULES=build/bench-node/node_modules
if [ ! -d "$NODE_MODULES/pg" ]; then
  mkdir -p build/bench-node
  npm install --no-audit --no-fund --silent --prefix build/bench-node pg@8 >&2 \
    || die "npm install pg failed (the npm registry must be reachable)"
fi

WORK=$(mktemp -d /tmp/wasp-bench-waits.XXXXXX)
chmod 755 "$WORK"
PIDS=()
server_pid=""
tree_cpu() { # clock ticks of utime+stime over the tree
  local t=0 p
  for p in $(tree_pids "$1"); do
    [ -r "/proc/$p/stat" ] && t=$((t + $(awk '{print $14+$15}' "/proc/$p/stat")))
  done
  echo "$t"
}
tree_rss() { # KiB of VmRSS over the tree
  local t=0 p
  for p in $(tree_pids "$1"); do
    [ -r "/proc/$p/status" ] && t=$((t + $(awk '/^VmRSS:/ {print $2}' "/proc/$p/status")))
  done
  echo "$t"
}
cleanup() {
  stop_server
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

build_capread "$WORK"
cp examples/serve/fetch.wasm "$WORK/fetch.wasm"

# The upstream, Redis and PostgreSQL.
UPORT=$(free_port)
node bench/node/upstream.mjs "$UPORT" 100 2>"$WORK/upstream.log" &
PIDS+=($!)
start_services "$WORK"
for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$UPORT/" && break; sleep 0.1; done
UPSTREAM="http://127.0.0.1:$UPORT/api"

cat >"$WORK/wasp.yaml" <<YAML
stores:
  bench: {backend: redis, url: "redis://127.0.0.1:$RPORT/0"}
databases:
  bench: {backend: postgres, url: "postgresql://wasp@127.0.0.1:$PPORT/bench", pool_size: 8}
apps:
  - name: fetch
    route: /fetch
    module: fetch.wasm
    http: {allow: ["http://127.0.0.1:$UPORT"]}
  - name: capread
    route: /...
    module: capread.wasm
    kv: [bench]
    sql: [bench]
YAML

PORT=$(free_port)
start() { # $1: wasp | node
  local log=$WORK/$1.log
  if [ "$1" = wasp ]; then
    "$WASP" serve --listen "127.0.0.1:$PORT" --admin off --workers "$WORKERS" --access-log off \
      --tier interp "$WORK/wasp.yaml" 2>"$log" &
  else
    NODE_PATH=$NODE_MODULES UPSTREAM=$UPSTREAM PG_URL="postgresql://wasp@127.0.0.1:$PPORT/bench" \
      PG_POOL=$((8 / WORKERS)) REDIS_PORT=$RPORT WORKERS=$WORKERS \
      node bench/node/waits.mjs "$PORT" 2>"$log" &
  fi
  server_pid=$!
  for _ in $(seq 100); do
    if curl -s -o /dev/null "http://127.0.0.1:$PORT/kv" && { [ "$1" = wasp ] || grep -q "workers listening" "$log"; }; then
      return 0
    fi
    sleep 0.1
  done
  die "$1 did not start: $(tail -3 "$log")"
}

# Seeding through wasp, then checking that both answer each path alike.
start wasp
curl -sf -X POST "http://127.0.0.1:$PORT/kv" >/dev/null || die "seeding kv failed"
curl -sf -X POST "http://127.0.0.1:$PORT/sql" >/dev/null || die "seeding sql failed"
wasp_fetch_path="/fetch?url=$UPSTREAM"
declare -A answer
answer[wasp-kv]=$(curl -s "http://127.0.0.1:$PORT/kv")
answer[wasp-sql]=$(curl -s "http://127.0.0.1:$PORT/sql")
answer[wasp-fetch]=$(curl -s "http://127.0.0.1:$PORT$wasp_fetch_path")
stop_server
start node
answer[node-kv]=$(curl -s "http://127.0.0.1:$PORT/kv")
answer[node-sql]=$(curl -s "http://127.0.0.1:$PORT/sql")
answer[node-fetch]=$(curl -s "http://127.0.0.1:$PORT/fetch")
stop_server
for k in kv sql fetch; do
  [ "${answer[wasp-$k]}" = "${answer[node-$k]}" ] ||
    die "/$k answers differ: wasp '${answer[wasp-$k]}', node '${answer[node-$k]}'"
done

# One measurement: wrk with $3 connections at path $2 of server $1; prints
# "rps p50 p99 cpu% rss_mib errors".
measure() {
  local server=$1 path=$2 conns=$3
  start "$server"
  wrk -t2 -c"$conns" -d"$WARMUP" "http://127.0.0.1:$PORT$path" >/dev/null
  local t0; t0=$(tree_cpu "$server_pid")
  local w; w=$(wrk -t2 -c"$conns" -d"$DURATION" --timeout 10s --latency "http://127.0.0.1:$PORT$path")
  local t1; t1=$(tree_cpu "$server_pid")
  local rss; rss=$(tree_rss "$server_pid")
  stop_server
  local secs=${DURATION%s}
  awk -v cpu=$(( (t1 - t0) * 100 / TCK / secs )) -v rss="$rss" '
    function ms(v) { if (v ~ /us$/) { sub(/us/,"",v); return v/1000 } if (v ~ /ms$/) { sub(/ms/,"",v); return v }
                     if (v ~ /s$/) { sub(/s/,"",v); return v*1000 } return v }
    /^Requests\/sec/ { rps = $2 } $1 == "50%" { p50 = ms($2) } $1 == "99%" { p99 = ms($2) }
    /Non-2xx/ { err += $5 } /Socket errors/ { for (i = 4; i <= NF; i += 2) err += $i }
    END { printf "%s %s %s %d %.0f %d\n", rps, p50, p99, cpu, rss / 1024, err }' <<<"$w"
}

# Medians over RUNS of each (label, path for wasp, path for node, connections).
row() {
  if [ -n "${ONLY:-}" ] && [[ " $ONLY " != *" $1 "* ]]; then return 0; fi
  local label=$1 wpath=$2 npath=$3 conns=$4 out="" server path
  for server in wasp node; do
    path=$wpath
    [ "$server" = node ] && path=$npath
    local runs=()
    for r in $(seq "$RUNS"); do
      runs+=("$(measure "$server" "$path" "$conns")")
      echo "bench-waits: $label $server run $r/$RUNS: ${runs[-1]}" >&2
    done
    out+=$(printf '%s\n' "${runs[@]}" | sort -n | awk -v n="$RUNS" 'NR == int((n+1)/2)')" "
  done
  echo "$label $conns $out"
}

# The engine's side: switch cost, memory per suspended call (bench/fiber.c).
FIBER_BIN=${FIBER_BIN:-build/bench_fiber}
[ -x "$FIBER_BIN" ] || die "$FIBER_BIN not found: run 'make bench-http' (it builds it)"
fiber_out=$("$FIBER_BIN" 1000000 10000)

rows=$(
  row upstream-64 "$wasp_fetch_path" /fetch 64
  row upstream-256 "$wasp_fetch_path" /fetch 256
  row postgres /sql /sql 64
  row redis /kv /kv 64
)

table=$(awk '{
  label=$1; c=$2; wr=$3; w50=$4; w99=$5; wc=$6; wm=$7; we=$8; nr=$9; n50=$10; n99=$11; nc=$12; nm=$13; ne=$14
  ideal = (label ~ /^upstream/) ? sprintf(" (%.0f%% of %d)", 100 * wr / (c * 10), c * 10) : ""
  printf "| %s | %d | %.0f%s | %.1f / %.1f | %d%% | %d | %d | %.0f | %.1f / %.1f | %d%% | %d | %d | **%.2f×** |\n",
    label, c, wr, ideal, w50, w99, wc, wm, we, nr, n50, n99, nc, nm, ne, wr / nr }' <<<"$rows")
if [ -n "${ONLY:-}" ]; then
  printf '%s\n' "$table"
  exit 0
fi

section=$(cat <<MD
<!-- bench-waits:begin -->
## Requests that wait: an upstream API, PostgreSQL, Redis (\`make bench-http\`)

Written by \`bench/http/waits.sh\`; do not edit by hand.

- date: $(date -u '+%Y-%m-%d %H:%M UTC'); wasp commit $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- src || echo ' + uncommitted changes in src/'); machine: $(nproc) cores, shared by servers, wrk and the services
- wasp: \`--workers $WORKERS\`, \`--access-log off\`; \`examples/serve/fetch.c\` for the upstream rows,
  \`bench/http/guests/capread.c\` for PostgreSQL (\`SELECT v FROM bench WHERE id = \$1\`, pool_size 8) and
  Redis (\`GET\`). Each waiting request is suspended on its fiber while the worker serves others.
- Node.js $(node --version): \`bench/node/waits.mjs\`, a cluster of $WORKERS workers, keep-alive agent for the
  upstream, \`pg\` $(node -p "require('./$NODE_MODULES/pg/package.json').version") with a pool of $((8 / WORKERS)) per worker (8 in all), one pipelined RESP connection per worker.
- upstream: \`bench/node/upstream.mjs\`, one Node process answering each request after 100 ms.
  Redis $(redis-server --version | awk '{print $3}' | sed 's/v=//'), PostgreSQL $("$PGBIN/postgres" --version | awk '{print $3}') (\`fsync=off\`), on loopback.
- load: \`wrk -t2 -cN -d$DURATION --timeout 10s --latency\` after a $WARMUP warm-up; $RUNS runs per row, medians.
  CPU is % of one core over the server's process tree; RSS the tree's at the end of the run.

| row | conns | wasp req/s | p50 / p99 ms | CPU | RSS MiB | errors | Node req/s | p50 / p99 ms | CPU | RSS MiB | errors | wasp / Node |
|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|
$table

Before suspendable requests (issue 11), the upstream row at 64 connections gave wasp 19 req/s
against Node's 615: each waiting handler held its worker.

The fibers that carry a waiting request (\`$FIBER_BIN 1000000 10000\`, bench/fiber.c):

\`\`\`
$fiber_out
\`\`\`
<!-- bench-waits:end -->
MD
)
if [ -f "$RESULTS" ] && grep -q '^<!-- bench-waits:begin -->$' "$RESULTS"; then
  awk -v s="$section" '/^<!-- bench-waits:begin -->$/ {print s; skip=1; next}
                       /^<!-- bench-waits:end -->$/ {skip=0; next} !skip' "$RESULTS" >"$RESULTS.tmp"
  mv "$RESULTS.tmp" "$RESULTS"
else
  printf '\n%s\n' "$section" >>"$RESULTS"
fi
echo "bench-waits: wrote $RESULTS" >&2
