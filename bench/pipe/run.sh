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
# <!-- bench-pipe:begin --> and <!-- bench-pipe:end -->.
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
