#!/usr/bin/env bash
# seed.sh TESTSUITE_DIR OUT_DIR - builds the seed corpus for build/fuzz_decode.
#
# Converts the spec testsuite's .wast scripts (core/ and the tail-call and
# extended-const proposals, the features wasp decodes) with wabt's wast2json
# into a scratch directory and copies every resulting .wasm module into
# OUT_DIR. Binary modules from assert_malformed/assert_invalid come along
# too: they are exactly the near-misses a fuzzer should start from. Text
# modules (.wat) that wast2json writes for assert_malformed are skipped.
#
# Idempotent: when OUT_DIR already holds files it is left as it is. A .wast
# that wast2json cannot convert is reported and skipped.
set -euo pipefail

if [ $# -ne 2 ]; then
  echo "usage: $0 TESTSUITE_DIR OUT_DIR" >&2
  exit 2
fi
suite=$1
out=$2

if [ -d "$out" ] && [ -n "$(ls -A "$out" 2>/dev/null)" ]; then
  echo "seed: $out already has $(ls -A "$out" | wc -l) files; keeping them"
  exit 0
fi
if [ ! -d "$suite/core" ]; then
  echo "seed: $suite/core not found: point WASM_TESTSUITE at the spec testsuite" >&2
  exit 1
fi
command -v wast2json >/dev/null || { echo "seed: wast2json (wabt) is not installed" >&2; exit 1; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$out"

failed=0
for wast in "$suite"/core/*.wast "$suite"/proposals/tail-call/*.wast \
            "$suite"/proposals/extended-const/*.wast; do
  [ -e "$wast" ] || continue
  # proposals/X/foo.wast and core/foo.wast get distinct prefixes
  rel=${wast#"$suite"/}
  prefix=$(printf '%s' "${rel%.wast}" | tr '/' '_')
  mkdir -p "$tmp/$prefix"
  if ! wast2json --enable-tail-call --enable-extended-const \
       -o "$tmp/$prefix/$prefix.json" "$wast" >"$tmp/$prefix.log" 2>&1; then
    echo "seed: skipping $rel: $(head -n 1 "$tmp/$prefix.log")" >&2
    failed=$((failed + 1))
    continue
  fi
  for wasm in "$tmp/$prefix"/*.wasm; do
    [ -e "$wasm" ] || continue
    cp "$wasm" "$out/"
  done
done

echo "seed: $(ls -A "$out" | wc -l) modules in $out ($failed .wast files skipped)"
