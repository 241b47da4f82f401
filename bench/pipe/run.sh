#!/usr/bin/env bash
# run.sh - `make bench-pipe`: 1,000,000 NDJSON access-log records through
# the same filter + map (logic.h: keep status >= 500, keep ip/path/status/
# ms with the ip's last two numbers masked) in wasp pipe (both tiers), jq,
# Node.js (readline + JSON.parse) and a native C program (gcc -O2, the
# ceiling). Every runner reads the file on stdin and writes a file; the
# outputs must be identical before anything is timed. Each runs RUNS times
# (default 3); the run with the median wall-clock time is reported:
# records/s, CPU seconds (user + system), peak RSS (GNU time's maximum
# resident set size). Writes its section of bench/RESULTS.md between
# <!-- bench-pipe:begin --> and <!-- bench-pipe:end -->. Then the ingest
# part: batches of 1,000 records POSTed (wrk) to `wasp serve`'s ingest route
# and to a Node.js cluster with the same logic, each answering once the
# batch's outputs are synced to a file (INGEST_SECONDS, default 10).
#
#   bash bench/pipe/run.sh build/wasp     RECORDS=1000000 RUNS=3
#                                         RESULTS=- prints the section only
set -euo pipefail

WASP=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
RECORDS=${RECORDS:-1000000}
RUNS=${RUNS:-3}
RESULTS=${RESULTS:-$ROOT/bench/RESULTS.md}
B=$ROOT/build/bench/pipe
mkdir -p "$B"
cd "$ROOT"

# ---- build ------------------------------------------------------------------
gcc -O2 -o "$B/native" bench/pipe/native.c
clang-14 --target=wasm32-wasi --sysroot=/usr -O2 -msign-ext -mbulk-memory \
    -mnontrapping-fptoint -Isdk/c -Ibench/pipe -c -o "$B/errors.o" bench/pipe/errors.c
clang-14 --target=wasm32-wasi --sysroot=/usr -O0 -mexec-model=reactor -Wl,--strip-debug \
    -o "$B/errors.wasm" "$B/errors.o"
# the native tier from its cache, as a second start would find it
"$WASP" compile --cache "$B/cache" "$B/errors.wasm" >/dev/null
IN=$B/in-$RECORDS.ndjson
[ -s "$IN" ] || node bench/pipe/gen.mjs "$RECORDS" >"$IN"
BYTES=$(stat -c %s "$IN")

declare -A CMD=(
    [native]="$B/native"
    [wasp-native]="$WASP pipe --format ndjson --tier native --cache $B/cache --dead-letter $B/dead $B/errors.wasm"
    [wasp-interp]="$WASP pipe --format ndjson --tier interp --dead-letter $B/dead $B/errors.wasm"
    [node]="node bench/pipe/node.mjs"
    [jq]="jq -c 'select(.status >= 500) | {ip: (.ip | sub(\"\\\\.[0-9]+\\\\.[0-9]+\$\"; \".x.x\")), path, status, ms}'"
)
ORDER=(native wasp-native wasp-interp node jq)

# ---- the same output from every runner ---------------------------------------
for r in "${ORDER[@]}"; do
    bash -c "${CMD[$r]}" <"$IN" >"$B/out-$r" 2>/dev/null
done
WANT=$(sha256sum <"$B/out-native" | cut -d' ' -f1)
KEPT=$(wc -l <"$B/out-native")
for r in "${ORDER[@]}"; do
    got=$(sha256sum <"$B/out-$r" | cut -d' ' -f1)
    if [ "$got" != "$WANT" ]; then
        echo "bench-pipe: $r's output differs from the native program's:" >&2
        diff <(head -n 3 "$B/out-native") <(head -n 3 "$B/out-$r") >&2 || true
        exit 1
    fi
done
[ ! -s "$B/dead" ] || { echo "bench-pipe: wasp wrote dead letters" >&2; exit 1; }
echo "bench-pipe: every runner kept the same $KEPT of $RECORDS records" >&2

# ---- timing -------------------------------------------------------------------
declare -A WALL CPU RSS
for r in "${ORDER[@]}"; do
    : >"$B/times-$r"
done
for ((i = 0; i < RUNS; i++)); do
    for r in "${ORDER[@]}"; do # interleaved, so that a slow minute hits all alike
        /usr/bin/time -f "%e %U %S %M" -a -o "$B/times-$r" bash -c "exec ${CMD[$r]}" \
            <"$IN" >"$B/out-$r" 2>/dev/null
    done
done
for r in "${ORDER[@]}"; do
    read -r WALL[$r] CPU[$r] RSS[$r] < <(sort -n "$B/times-$r" |
        awk -v m=$((RUNS / 2 + 1)) 'NR == m { printf "%s %.2f %d\n", $1, $2 + $3, $4 }')
    printf 'bench-pipe: %-12s %6.2f s  %6.2f CPU s  %7d KiB\n' "$r" "${WALL[$r]}" "${CPU[$r]}" "${RSS[$r]}" >&2
done
rm -f "$B"/out-*

# ---- ingest: batches POSTed to wasp serve's route, and to a Node.js cluster -----
# Each request carries 1,000 records (the input's first ones); its answer
# comes once the kept ones are synced to the server's file. wrk and the
# servers share the machine's cores.
INGEST_SECONDS=${INGEST_SECONDS:-10}
head -n 1000 "$IN" >"$B/batch.ndjson"
"$B/native" <"$B/batch.ndjson" >"$B/batch.want"
free_port() {
    local p
    for ((p = 20000 + RANDOM % 20000; ; p++)); do
        (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || break
    done
    echo "$p"
}
printf 'apps:\n  - {name: errors, module: %s}\npipelines:\n  - {name: in, from: http, format: ndjson, to: %s, dead_letter: %s, filters: [errors]}\n' \
    "$B/errors.wasm" "$B/ingest-wasp.out" "$B/dead" >"$B/ingest.yaml"
declare -A IRPS IP50 IP99 IRSS
# ingest NAME URL OUTPUT_GLOB PID...: checks one batch's output, then runs
# wrk; fills IRPS (requests/s), IP50/IP99 (latency) and IRSS (the servers'
# peak RSS, KiB)
ingest() {
    local name=$1 url=$2 out=$3
    shift 3
    for ((i = 0; i < 200; i++)); do
        curl -sf -o /dev/null --data-binary @"$B/batch.ndjson" "$url" && break
        sleep 0.05
    done
    # shellcheck disable=SC2086 # the glob: Node writes a file per process
    if ! cmp -s <(cat $out) "$B/batch.want"; then
        echo "bench-pipe: $name's ingest output differs from the native program's" >&2
        exit 1
    fi
    BODY="$B/batch.ndjson" wrk -t2 -c16 -d"${INGEST_SECONDS}s" --latency -s bench/pipe/post.lua "$url" \
        >"$B/wrk-$name" 2>&1
    if grep -q "Non-2xx" "$B/wrk-$name"; then
        echo "bench-pipe: $name answered errors under load:" >&2
        cat "$B/wrk-$name" >&2
        exit 1
    fi
    IRPS[$name]=$(awk '/^Requests\/sec:/ { print $2 }' "$B/wrk-$name")
    IP50[$name]=$(awk '$1 == "50%" { print $2 }' "$B/wrk-$name")
    IP99[$name]=$(awk '$1 == "99%" { print $2 }' "$B/wrk-$name")
    local kib=0 pid
    for pid in "$@"; do
        kib=$((kib + $(awk '/^VmHWM:/ { print $2 }' "/proc/$pid/status" 2>/dev/null || echo 0)))
    done
    IRSS[$name]=$kib
    printf 'bench-pipe: ingest %-6s %8.0f records/s  p50 %s  p99 %s  %d KiB\n' "$name" \
        "$(awk -v r="${IRPS[$name]}" 'BEGIN { print r * 1000 }')" "${IP50[$name]}" "${IP99[$name]}" "$kib" >&2
}
PORT=$(free_port)
rm -f "$B/ingest-wasp.out"
"$WASP" serve --tier native --cache "$B/cache" --listen "127.0.0.1:$PORT" --admin off \
    --access-log off "$B/ingest.yaml" 2>"$B/serve.log" &
SERVE=$!
ingest wasp "http://127.0.0.1:$PORT/pipelines/in" "$B/ingest-wasp.out" "$SERVE"
kill "$SERVE"
wait "$SERVE" 2>/dev/null || true
PORT=$(free_port)
rm -f "$B"/ingest-node.out.*
node bench/pipe/ingest-node.mjs "$PORT" "$B/ingest-node.out" &
NODE=$!
sleep 0.5
# shellcheck disable=SC2046 # the cluster's worker processes, one word each
ingest node "http://127.0.0.1:$PORT/" "$B/ingest-node.out.*" "$NODE" $(pgrep -P "$NODE")
# shellcheck disable=SC2046
kill "$NODE" $(pgrep -P "$NODE") 2>/dev/null
wait "$NODE" 2>/dev/null || true
rm -f "$B"/ingest-*.out*

# ---- the section ----------------------------------------------------------------
rate() { awk -v n="$RECORDS" -v t="$1" 'BEGIN { printf "%.0f", n / t }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
section=$(mktemp)
trap 'rm -f "$section"' EXIT
{
    echo "## Pipelines: $(printf "%'d" "$RECORDS") NDJSON records through a filter and a map (\`make bench-pipe\`)"
    echo
    echo "- date: $(date -u '+%Y-%m-%d %H:%M UTC'); wasp commit $(git rev-parse --short HEAD)"
    echo "- machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //') (shared, noisy)"
    echo "- command: \`make bench-pipe\` (\`bash bench/pipe/run.sh build/wasp\`, RUNS=$RUNS: the run with the median wall-clock time of each, runners interleaved)"
    echo "- input: $RECORDS records of $((BYTES / RECORDS)) bytes on average ($((BYTES / 1048576)) MiB, \`bench/pipe/gen.mjs\`), $KEPT kept; every runner's output checked identical before timing"
    echo "- logic (\`bench/pipe/logic.h\`): keep \`status >= 500\`, write \`{ip, path, status, ms}\` with the ip's last two numbers masked; wasp and native C run the same C code (members found without a full parse), Node \`readline\` + \`JSON.parse\` + \`JSON.stringify\`, jq \`select(...) | {...}\`"
    echo "- wasp: \`wasp pipe --format ndjson\`, default batches (1,000 records) and workers (one per core); native tier from its cache"
    echo "- versions: $(gcc --version | head -n1); node $(node --version); $(jq --version)"
    echo
    echo "| runner | wall (s) | records/s | CPU (s) | peak RSS (MiB) | records/s vs jq | vs node | vs native C |"
    echo "|---|---:|---:|---:|---:|---:|---:|---:|"
    for r in "${ORDER[@]}"; do
        printf '| %s | %.2f | %s | %.2f | %.1f | %s | %s | %s |\n' "$r" "${WALL[$r]}" "$(rate "${WALL[$r]}")" \
            "${CPU[$r]}" "$(awk -v k="${RSS[$r]}" 'BEGIN { print k / 1024 }')" \
            "$(ratio "${WALL[jq]}" "${WALL[$r]}")" "$(ratio "${WALL[node]}" "${WALL[$r]}")" \
            "$(ratio "${WALL[native]}" "${WALL[$r]}")"
    done
    echo
    echo "Targets (issue 13): wasp at least 5x jq, 1.5x Node and half of native C in records/s."
    echo "wasp's wall-clock time is on $(nproc) cores; the others run on one (CPU seconds compare"
    echo "the work)."
    echo
    echo "**Ingest over HTTP**: batches of 1,000 of the same records POSTed to \`wasp serve\`'s"
    echo "ingest route (a manifest's \`pipelines:\`, \`from: http\`, the same filter, native tier)"
    echo "and to a Node.js cluster doing the same (\`bench/pipe/ingest-node.mjs\`: one process per"
    echo "core, \`JSON.parse\`, the kept records appended and synced); both answer 202 once the"
    echo "batch's outputs are synced to a file. \`wrk -t2 -c16 -d${INGEST_SECONDS}s\` (\`bench/pipe/post.lua\`),"
    echo "on the same $(nproc) cores as the servers; one batch's output checked against native C's first."
    echo
    echo "| server | requests/s | records/s | p50 | p99 | peak RSS (MiB) | records/s vs node |"
    echo "|---|---:|---:|---:|---:|---:|---:|"
    for r in wasp node; do
        printf '| %s | %.0f | %.0f | %s | %s | %.1f | %s |\n' "$r" "${IRPS[$r]}" \
            "$(awk -v x="${IRPS[$r]}" 'BEGIN { print x * 1000 }')" "${IP50[$r]}" "${IP99[$r]}" \
            "$(awk -v k="${IRSS[$r]}" 'BEGIN { print k / 1024 }')" "$(ratio "${IRPS[$r]}" "${IRPS[node]}")"
    done
} >"$section"

if [ "$RESULTS" = - ]; then
    cat "$section"
    exit 0
fi
[ -f "$RESULTS" ] || touch "$RESULTS"
if ! grep -q '^<!-- bench-pipe:begin -->$' "$RESULTS" || ! grep -q '^<!-- bench-pipe:end -->$' "$RESULTS"; then
    printf '\n<!-- bench-pipe:begin -->\n<!-- bench-pipe:end -->\n' >>"$RESULTS"
fi
tmp=$(mktemp)
awk -v f="$section" '
  $0 == "<!-- bench-pipe:begin -->" { print; while ((getline l < f) > 0) print l; skip = 1; next }
  $0 == "<!-- bench-pipe:end -->" { skip = 0 }
  !skip' "$RESULTS" >"$tmp"
cat "$tmp" >"$RESULTS"
rm -f "$tmp"
echo "bench-pipe: wrote the bench-pipe section of $RESULTS" >&2
cat "$section"
