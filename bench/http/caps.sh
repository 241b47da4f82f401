#!/usr/bin/env bash
# caps.sh - the capability part of `make bench-http`: requests/s of a key-value read handler
# and an SQL query handler (bench/http/guests/capread.c) on both backends of each:
# kv on SQLite and on Redis, sql on SQLite and on PostgreSQL (through wasp's pool). Writes
# its section of bench/RESULTS.md between <!-- bench-caps:begin --> and <!-- bench-caps:end -->.
#
#   bash bench/http/caps.sh [WASP]     env: DURATION=10s WARMUP=2s RUNS=3 WORKERS=2
#
# Redis and PostgreSQL are started here on free loopback ports (PostgreSQL as the postgres
# system user, with a throwaway data directory) and stopped at the end. wrk and the servers
# share this machine's 2 cores, as in the rest of bench-http.
set -euo pipefail
cd "$(dirname "$0")/../.."
WASP=${1:-build/wasp}
DURATION=${DURATION:-10s}
WARMUP=${WARMUP:-2s}
RUNS=${RUNS:-3}
WORKERS=${WORKERS:-2}
RESULTS=${RESULTS:-bench/RESULTS.md}
TCK=$(getconf CLK_TCK)
die() { echo "bench-caps: $*" >&2; exit 1; }
. bench/http/lib.sh
for t in wrk curl redis-server redis-cli "$PGBIN/initdb" "$PGBIN/postgres" "$PGBIN/pg_isready" psql; do
  command -v "$t" >/dev/null || [ -x "$t" ] || die "$t is missing (scripts/setup.sh installs it)"
done

WORK=$(mktemp -d /tmp/wasp-bench-caps.XXXXXX)
chmod 755 "$WORK"
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

build_capread "$WORK"
start_services "$WORK"

PORT=$(free_port)

# One manifest per configuration: the guest opens "bench", granted from the block given.
run_config() { # $1: label, $2: route, $3: the stores:/databases: block naming "bench"
  local label=$1 route=$2 block=$3
  cat >"$WORK/$label.yaml" <<YAML
$block
apps:
  - name: capread
    route: /...
    module: capread.wasm
    kv: $( [ "$route" = /kv ] && echo "[bench]" || echo "[]" )
    sql: $( [ "$route" = /sql ] && echo "[bench]" || echo "[]" )
YAML
  local out=()
  for r in $(seq "$RUNS"); do
    "$WASP" serve --listen "127.0.0.1:$PORT" --admin off --workers "$WORKERS" --access-log off \
      --tier interp "$WORK/$label.yaml" 2>"$WORK/$label.err" &
    local pid=$!
    for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$PORT/" && break; sleep 0.05; done
    [ "$r" = 1 ] && { curl -sf -X POST "http://127.0.0.1:$PORT$route" >/dev/null || die "$label: seeding failed: $(curl -s -X POST "http://127.0.0.1:$PORT$route")"; }
    local got; got=$(curl -s "http://127.0.0.1:$PORT$route")
    case "$got" in hello*) ;; *) die "$label: GET $route answered '$got'";; esac
    wrk -t2 -c64 -d"$WARMUP" "http://127.0.0.1:$PORT$route" >/dev/null
    local t0; t0=$(awk '{print $14+$15}' "/proc/$pid/stat")
    local w; w=$(wrk -t2 -c64 -d"$DURATION" --latency "http://127.0.0.1:$PORT$route")
    local t1; t1=$(awk '{print $14+$15}' "/proc/$pid/stat")
    kill -TERM "$pid"; wait "$pid" || true
    local rps p99 non2xx secs
    rps=$(awk '/^Requests\/sec/ {print $2}' <<<"$w")
    p99=$(awk '$1 == "99%" {v=$2; if (v ~ /us$/) {sub(/us/,"",v); v/=1000} else if (v ~ /ms$/) {sub(/ms/,"",v)} else if (v ~ /s$/) {sub(/s/,"",v); v*=1000}; print v}' <<<"$w")
    non2xx=$(awk '/Non-2xx/ {print $5}' <<<"$w"); non2xx=${non2xx:-0}
    secs=${DURATION%s}
    out+=("$rps $p99 $(( (t1 - t0) * 100 / TCK / secs )) $non2xx")
    echo "bench-caps: run $r/$RUNS $label: $rps req/s, p99 $p99 ms" >&2
  done
  printf '%s\n' "${out[@]}" | sort -n | awk -v l="$label" -v route="$route" '
    { r[NR]=$1; p[NR]=$2; c[NR]=$3; e+=$4 } END { m=int((NR+1)/2);
      printf "| %s | `GET %s` | %.0f | %.0f – %.0f | %.2f | %d%% | %d |\n", l, route, r[m], r[1], r[NR], p[m], c[m], e }'
}

rows=$(
  run_config kv-sqlite /kv "stores:
  bench: {backend: sqlite, path: kv.db}"
  run_config kv-redis /kv "stores:
  bench: {backend: redis, url: \"redis://127.0.0.1:$RPORT/0\"}"
  run_config sql-sqlite /sql "databases:
  bench: {backend: sqlite, path: sql.db}"
  run_config sql-postgres /sql "databases:
  bench: {backend: postgres, url: \"postgresql://wasp@127.0.0.1:$PPORT/bench\", pool_size: 4}"
)

section=$(cat <<MD
<!-- bench-caps:begin -->
## Capabilities: a key-value read and an SQL query per request (\`make bench-http\`)

Written by \`bench/http/caps.sh\`; do not edit by hand.

- date: $(date -u '+%Y-%m-%d %H:%M UTC'); wasp commit $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- src || echo ' + uncommitted changes in src/')
- handler: \`bench/http/guests/capread.c\` (wasp ABI): \`GET /kv\` is one \`kv_get\` of a 20-byte value;
  \`GET /sql\` is \`SELECT v FROM bench WHERE id = \$1\` with a bound integer, on a 1,000-row table
  with a primary key. Each request opens its store or database (the pooled connection is taken
  and, at the end, cleaned and returned).
- servers: wasp with $WORKERS workers, \`--access-log off\`; Redis $(redis-server --version | awk '{print $3}' | sed 's/v=//') and PostgreSQL
  $("$PGBIN/postgres" --version | awk '{print $3}') (\`fsync=off\`: reads only) on loopback, started by the script, on the same 2 cores
  as wasp and wrk; PostgreSQL pool_size 4.
- load: \`wrk -t2 -c64 -d$DURATION --latency\` after a $WARMUP warm-up; $RUNS runs per row, medians.

| backend | request | req/s | range | p99 ms | wasp CPU | non-2xx |
|---|---|---:|---:|---:|---:|---:|
$rows

For scale: the same handler shape with no capability call (\`hello.wasm\` in the table above)
serves about 110,000 req/s here; the differences are the store's and the database's own costs
and the round trips to their servers, which share the 2 cores.
<!-- bench-caps:end -->
MD
)
if [ -f "$RESULTS" ] && grep -q '^<!-- bench-caps:begin -->$' "$RESULTS"; then
  awk -v s="$section" '/^<!-- bench-caps:begin -->$/ {print s; skip=1; next}
                       /^<!-- bench-caps:end -->$/ {skip=0; next} !skip' "$RESULTS" >"$RESULTS.tmp"
  mv "$RESULTS.tmp" "$RESULTS"
else
  printf '\n%s\n' "$section" >>"$RESULTS"
fi
echo "bench-caps: wrote $RESULTS" >&2
