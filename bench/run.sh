#!/usr/bin/env bash
# bench/run.sh - the engine benchmark suite, both tiers (`make bench`).
#
#     bash bench/run.sh [OUTDIR [WASP]]  (defaults: build/bench, build/wasp)
#
# 1. Builds every program in bench/programs/ twice: as a wasm32-wasi command
#    (clang-14 and Debian's wasi-libc; compiled at -O2, linked at -O0 so that
#    clang's driver never runs binaryen's wasm-opt, whether or not it is
#    installed) and natively (gcc -O2, glibc).
# 2. Runs each once natively, under wasp's interpreter (`wasp run`, with a
#    copy of WASP, which `make bench` builds), under wasp's native tier
#    (`wasp run --tier native`, its cache in OUTDIR/cache, which this first
#    run fills) and under Node.js (node:wasi), and fails unless all four
#    print the same.
# 3. Times each with hyperfine and writes bench/RESULTS.md (medians, ratios
#    to native, their geometric means); hyperfine's JSON stays in OUTDIR.
#    The native tier is timed from its cache (compiled code loaded, not
#    compiled); compiling is timed on its own (`wasp compile -o`, a process
#    that loads LLVM and compiles the module). programs/startup.c, which does
#    nothing, is timed too, to show what start-up costs each runner; it is
#    not in the table.
#
# Knobs (environment): BENCH_RUNS (timed runs per command, default 5),
# BENCH_WARMUP (default 1), BENCH_PROGRAMS (space-separated subset).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT=${1:-$ROOT/build/bench}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
WASP=${2:-$ROOT/build/wasp}
[ -x "$WASP" ] || {
  echo "bench: $WASP is missing: run this through 'make bench'" >&2
  exit 1
}
# Time a snapshot, so that a rebuild of wasp during the run cannot mix versions.
cp "$WASP" "$OUT/wasp"
WASP=$OUT/wasp
commit=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)
if [ -n "$(git -C "$ROOT" status --porcelain -- src 2>/dev/null)" ]; then
  commit="$commit (src/ modified)"
fi
SRC=$ROOT/bench/programs
RESULTS=$ROOT/bench/RESULTS.md
RUNS=${BENCH_RUNS:-5}
WARMUP=${BENCH_WARMUP:-1}
read -r -a PROGRAMS <<<"${BENCH_PROGRAMS:-fib sieve matmul sort crc32 hashmap json simd}"

CLANG=clang-14
CC_NATIVE=gcc
NODE=node
NODE_RUN=$ROOT/bench/node/run.mjs

WASI_CC=("$CLANG" --target=wasm32-wasi --sysroot=/usr)
WASM_CFLAGS=(-std=c11 -O2 -Wall -Wextra)
# Linked at -O0: at -O1 and up clang's driver runs binaryen's wasm-opt when it
# finds one on PATH, and the modules must not depend on whether it is installed.
# The 1 MiB stack comes first, so that an overflow traps instead of corrupting
# data; the 40 MiB arena of rt.c follows with the other static data.
WASM_LDFLAGS=(-O0 -Wl,--strip-debug -Wl,--stack-first -Wl,-z,stack-size=1048576)
NATIVE_CFLAGS=(-std=c11 -O2 -Wall -Wextra)

die() {
  echo "bench: $*" >&2
  exit 1
}

for tool in "$CLANG" "$CC_NATIVE" "$NODE" hyperfine jq awk; do
  command -v "$tool" >/dev/null || die "'$tool' not found: run 'make setup' (scripts/setup.sh)"
done
[ -f /usr/lib/wasm32-wasi/libc.a ] || die "wasi-libc is missing: run 'make setup' (scripts/setup.sh)"
for p in "${PROGRAMS[@]}"; do
  [ -f "$SRC/$p.c" ] || die "no program $SRC/$p.c"
done
ALL=("${PROGRAMS[@]}" startup)

# Runs a command quietly; on failure shows its output and stops.
quiet() {
  local log
  log=$(mktemp)
  if ! "$@" >"$log" 2>&1; then
    cat "$log" >&2
    rm -f "$log"
    die "failed: $*"
  fi
  rm -f "$log"
}

# ---- 1. build ----------------------------------------------------------------

mkdir -p "$OUT/wasm" "$OUT/native" "$OUT/out" "$OUT/json"
quiet "${WASI_CC[@]}" "${WASM_CFLAGS[@]}" -c -o "$OUT/wasm/rt.o" "$SRC/rt.c"
for p in "${ALL[@]}"; do
  extra=()
  [ "$p" = simd ] && extra=(-msimd128)
  quiet "${WASI_CC[@]}" "${WASM_CFLAGS[@]}" "${extra[@]}" -c -o "$OUT/wasm/$p.o" "$SRC/$p.c"
  quiet "${WASI_CC[@]}" "${WASM_LDFLAGS[@]}" -o "$OUT/wasm/$p.wasm" "$OUT/wasm/$p.o" "$OUT/wasm/rt.o"
  quiet "$CC_NATIVE" "${NATIVE_CFLAGS[@]}" -o "$OUT/native/$p" "$SRC/$p.c" "$SRC/rt.c"
done
echo "bench: built ${ALL[*]} into $OUT/{wasm,native}"

# ---- 2. check that native, wasp and node agree -------------------------------

native_cmd() { echo "$OUT/native/$1"; }
wasp_cmd() { echo "$WASP run --tier interp $OUT/wasm/$1.wasm"; }
wasp_native_cmd() { echo "$WASP run --tier native --cache $OUT/cache $OUT/wasm/$1.wasm"; }
node_cmd() { echo "$NODE $NODE_RUN $OUT/wasm/$1.wasm"; }

for p in "${ALL[@]}"; do
  for r in native wasp wasp_native node; do
    read -r -a cmd <<<"$("${r}_cmd" "$p")"
    status=0
    "${cmd[@]}" >"$OUT/out/$p.$r" 2>"$OUT/out/$p.$r.err" || status=$?
    if [ "$status" -ne 0 ]; then
      cat "$OUT/out/$p.$r.err" >&2
      die "$p under $r failed (exit status $status): ${cmd[*]}"
    fi
  done
  for r in wasp wasp_native node; do
    if ! cmp -s "$OUT/out/$p.native" "$OUT/out/$p.$r"; then
      echo "--- $p: native vs $r" >&2
      diff "$OUT/out/$p.native" "$OUT/out/$p.$r" >&2 || true
      die "$p prints something else under $r than natively (outputs in $OUT/out/)"
    fi
  done
done
# The native tier must have run from compiled code, not fallen back.
for p in "${ALL[@]}"; do
  if grep -q "runs in the interpreter" "$OUT/out/$p.wasp_native.err"; then
    cat "$OUT/out/$p.wasp_native.err" >&2
    die "$p did not run in the native tier"
  fi
done
echo "bench: native, wasp (both tiers) and node print the same for every program"

# ---- 3. time -------------------------------------------------------------------

start=$(date +%s)
rows=()
for p in "${PROGRAMS[@]}"; do
  json=$OUT/json/$p.json
  quiet hyperfine -N --warmup "$WARMUP" --runs "$RUNS" --export-json "$json" \
    -n native "$(native_cmd "$p")" -n wasp "$(wasp_cmd "$p")" \
    -n wasp-native "$(wasp_native_cmd "$p")" -n node "$(node_cmd "$p")"
  row=$(jq -r '[.results[] | .median] | @tsv' "$json")
  rows+=("$p	$row")
  printf 'bench: %-8s %s\n' "$p" "$(echo "$row" | awk '{printf "native %.3fs  wasp %.3fs  wasp-native %.3fs  node %.3fs", $1, $2, $3, $4}')"
done
quiet hyperfine -N --warmup 2 --runs 10 --export-json "$OUT/json/startup.json" \
  -n native "$(native_cmd startup)" -n wasp "$(wasp_cmd startup)" \
  -n wasp-native "$(wasp_native_cmd startup)" -n node "$(node_cmd startup)"
startup=$(jq -r '[.results[] | .median * 1000] | @tsv' "$OUT/json/startup.json" |
  awk '{printf "native %.1f ms, wasp %.1f ms, wasp native tier (cached) %.1f ms, node %.1f ms", $1, $2, $3, $4}')
# Compiling: a process that loads LLVM, compiles the module and writes the
# entry; the module's size and LLVM's own time come from its output line.
compile_rows=()
for p in "${PROGRAMS[@]}"; do
  json=$OUT/json/compile-$p.json
  quiet hyperfine -N --warmup 1 --runs 3 --export-json "$json" \
    -n compile "$WASP compile -o $OUT/compile-$p.entry $OUT/wasm/$p.wasm"
  line=$("$WASP" compile -o "$OUT/compile-$p.entry" "$OUT/wasm/$p.wasm")
  bytes=$(stat -c %s "$OUT/wasm/$p.wasm")
  funcs=$(echo "$line" | sed -n 's/.*: \([0-9]*\) functions.*/\1/p')
  inproc=$(echo "$line" | sed -n 's/.* compiled in \([0-9.]*\) ms.*/\1/p')
  compile_rows+=("$p	$bytes	$funcs	$inproc	$(jq -r '.results[0].median' "$json")")
done
# The guest profiler's cost at its default rate (1000 samples a second):
# the same runs with `--profile FILE.folded`, both tiers, a few programs
# (call-heavy fib, loop-heavy sort, mixed json).
PROF_PROGRAMS=(fib sort json)
prof_rows=()
for p in "${PROF_PROGRAMS[@]}"; do
  json=$OUT/json/profile-$p.json
  quiet hyperfine -N --warmup "$WARMUP" --runs $((RUNS * 2)) --export-json "$json" \
    -n interp "$(wasp_cmd "$p")" -n interp-profiled "$(wasp_cmd "$p" | sed "s| run | run --profile $OUT/$p.folded |")" \
    -n native "$(wasp_native_cmd "$p")" -n native-profiled "$(wasp_native_cmd "$p" | sed "s| run | run --profile $OUT/$p-native.folded |")"
  prof_rows+=("$p	$(jq -r '[.results[] | .median] | @tsv' "$json")	$(awk '{s += $2} END {print s + 0}' "$OUT/$p.folded")	$(awk '{s += $2} END {print s + 0}' "$OUT/$p-native.folded")")
done
elapsed=$(($(date +%s) - start))

# ---- 4. RESULTS.md -----------------------------------------------------------

cpu=$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)
# `make bench-http`'s scripts own the sections between their markers
# (bench-http, bench-caps, bench-waits), which follow this script's part:
# keep everything from the first of them on.
http_section=""
if [ -f "$RESULTS" ]; then
  http_section=$(awk '/^<!-- bench-[a-z]+:begin -->$/ { on = 1 } on' "$RESULTS")
fi
{
  echo "# Benchmark results"
  echo
  echo "Written by \`bench/run.sh\` (\`make bench\`); do not edit by hand."
  echo
  echo "- command: \`make bench\` (hyperfine -N --warmup $WARMUP --runs $RUNS; times are medians of wall-clock time, process start-up included)"
  echo "- date: $(date -u '+%Y-%m-%d %H:%M UTC')"
  echo "- machine: $(nproc) cores, ${cpu:-unknown CPU} (2 cores, shared, noisy: differences under ~10% mean little)"
  echo "- wasp: commit $commit, \`build/wasp\` built with gcc -O2: interpreter (\`wasp run --tier interp\`) and native tier (\`wasp run --tier native --cache DIR\`, LLVM 19 at O2, from a warm cache)"
  echo "- native: $("$CC_NATIVE" --version | head -n 1), \`-O2\`, glibc"
  echo "- wasm: wasm32-wasi commands: $("$CLANG" --version | head -n 1), \`--target=wasm32-wasi -O2\` (+ \`-msimd128\` for simd), Debian's wasi-libc $(dpkg-query -W -f='${Version}' wasi-libc 2>/dev/null || echo '(version unknown)'), linked at \`-O0\`: no wasm-opt"
  echo "- node: $("$NODE" --version) (V8: Liftoff, then TurboFan), through node:wasi (\`bench/node/run.mjs\`)"
  echo "- start-up alone (\`programs/startup.c\`, an empty run): $startup; included in every time below"
  echo "- timing took ${elapsed}s"
  echo
  echo "| program | native (s) | wasp interp (s) | wasp native tier (s) | node (s) | interp/native | wasp native tier/native | node/native |"
  echo "|---|---:|---:|---:|---:|---:|---:|---:|"
  printf '%s\n' "${rows[@]}" | awk -F'\t' '
    { printf "| %s | %.3f | %.3f | %.3f | %.3f | %.1f | %.2f | %.2f |\n", $1, $2, $3, $4, $5, $3 / $2, $4 / $2, $5 / $2
      lw += log($3 / $2); lj += log($4 / $2); ln += log($5 / $2); n++ }
    END { printf "| **geometric mean** | | | | | **%.1f** | **%.2f** | **%.2f** |\n", exp(lw / n), exp(lj / n), exp(ln / n) }'
  echo
  echo "The native tier (\`wasp run --tier native\`) runs from its cache: the entry is loaded, not"
  echo "compiled. Compiling, timed on its own (\`wasp compile -o FILE MODULE\`, hyperfine median of"
  echo "3; the process loads libLLVM-19 with dlopen, compiles at O2 and writes the entry;"
  echo "\"in LLVM\" is the compile alone, as \`wasp compile\` reports it):"
  echo
  echo "| program | module (KB) | functions | compile process (ms) | in LLVM (ms) | KB/s |"
  echo "|---|---:|---:|---:|---:|---:|"
  printf '%s\n' "${compile_rows[@]}" | awk -F'\t' '
    { printf "| %s | %.0f | %d | %.0f | %.0f | %.0f |\n", $1, $2 / 1024, $3, $5 * 1000, $4, ($2 / 1024) / ($4 / 1000) }'
  echo
  echo "The guest profiler's cost at its default rate (\`wasp run --profile FILE.folded\`, 1000"
  echo "samples per second of guest time, taken at the engine's check points), hyperfine medians of"
  echo "$((RUNS * 2)) runs each; on this noisy machine a difference of a few percent is within the noise:"
  echo
  echo "| program | interp (s) | profiled (s) | overhead | native tier (s) | profiled (s) | overhead | samples (interp, native) |"
  echo "|---|---:|---:|---:|---:|---:|---:|---:|"
  printf '%s\n' "${prof_rows[@]}" | awk -F'\t' '
    { printf "| %s | %.3f | %.3f | %+.1f%% | %.3f | %.3f | %+.1f%% | %d, %d |\n", $1, $2, $3, ($3 / $2 - 1) * 100, $4, $5, ($5 / $4 - 1) * 100, $6, $7 }'
  echo
  echo "What each program exercises:"
  echo
  for p in "${PROGRAMS[@]}"; do
    # the first line of the file comment: "name.c - what it is."
    echo "- \`$p\`: $(sed -n '2s/^ \* [a-z0-9_]*\.c - //p' "$SRC/$p.c")"
  done
  if [ -n "$http_section" ]; then
    echo
    printf '%s\n' "$http_section"
  fi
} >"$RESULTS"
echo "bench: wrote $RESULTS (hyperfine JSON in $OUT/json/)"
