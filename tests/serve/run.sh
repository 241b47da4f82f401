#!/usr/bin/env bash
# run.sh - end-to-end tests of `wasp serve`: real HTTP on loopback against
# handlers written for these tests (tests/serve/guests/), driven by
# tests/serve/serve_test.py (Python 3 standard library only).
#
#   bash tests/serve/run.sh build/wasp            (make serve-test)
#   bash tests/serve/run.sh build/asan/wasp       (make asan-test)
#   bash tests/serve/run.sh build/wasp reload     only the tests whose name
#                                                 contains "reload"
#   WASP_TEST_TIER=native bash tests/serve/run.sh build/wasp
#                                                 every server in the native tier
#
# Guests are built into build/serve-test/ when their source is newer than
# the module: *.wat with wat2wasm; *.c with clang-14 for wasm32-wasi and
# Debian's wasi-libc, compiled at -O2 and linked at -O0 (a PATH holding only
# clang and its linker keeps binaryen's wasm-opt out), cgi.c as a command,
# the others as reactors. Every module is checked with wasm-validate.
#
# For a binary under /asan/ the driver gets WASP_ASAN=1: longer timeouts,
# and the deadline check allows 1000 ms over the deadline instead of 50.
#
# The last line is always "serve: N passed, N failed"; the exit status is
# non-zero when anything failed. A guest that does not build, or a missing
# tool, is a failure.
set -uo pipefail

if [ $# -lt 1 ] || [ $# -gt 2 ]; then
    echo "usage: tests/serve/run.sh WASP_BINARY [NAME_FILTER]" >&2
    exit 2
fi
WASP=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
FILTER=${2:-}
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
BUILD=$ROOT/build/serve-test
PYTHON=/usr/bin/python3
LOG=$(mktemp "${TMPDIR:-/tmp}/wasp-serve-build.XXXXXX")
trap 'rm -f "$LOG"' EXIT

# A sanitizer's report must not pass for a clean exit.
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}exitcode=86:detect_leaks=1"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:+$UBSAN_OPTIONS:}halt_on_error=1:print_stacktrace=1:exitcode=86"
case "$WASP" in
*/asan/*) export WASP_ASAN=1 ;;
*) export WASP_ASAN=${WASP_ASAN:-0} ;;
esac

FAILED=0
fail() {
    FAILED=$((FAILED + 1))
    echo "FAIL: $1" >&2
    shift
    for line in "$@"; do echo "      $line" >&2; done
}

for tool in /usr/bin/clang-14 /usr/bin/wasm-ld-14 wat2wasm wasm-validate "$PYTHON"; do
    command -v "$tool" >/dev/null || fail "build: tool $tool is missing (bash scripts/setup.sh installs it)"
done
[ -x "$WASP" ] || fail "build: $WASP is not an executable (make build/wasp)"

TOOLBIN=$BUILD/bin
mkdir -p "$TOOLBIN"
for tool in clang-14 wasm-ld-14; do
    if [ -x "/usr/bin/$tool" ]; then ln -sf "/usr/bin/$tool" "$TOOLBIN/$tool"; fi
done
WASI_CC=(env "PATH=$TOOLBIN" clang-14 --target=wasm32-wasi --sysroot=/usr -Wall -Werror)

# build OUT SRC -- COMMAND...: runs COMMAND when OUT is missing or older
# than SRC, then validates OUT. Either failing is a failed test.
build() {
    local out=$1 src=$2
    shift 3
    if [ ! -f "$out" ] || [ "$src" -nt "$out" ]; then
        if ! "$@" >"$LOG" 2>&1; then
            rm -f "$out"
            fail "build: ${out#"$ROOT"/} from ${src#"$ROOT"/}" "$(head -20 "$LOG")"
            return
        fi
    fi
    if ! wasm-validate "$out" >"$LOG" 2>&1; then
        fail "build: wasm-validate ${out#"$ROOT"/}" "$(head -5 "$LOG")"
    fi
}

for src in "$HERE"/guests/*.wat; do
    name=$(basename "$src" .wat)
    build "$BUILD/$name.wasm" "$src" -- wat2wasm "$src" -o "$BUILD/$name.wasm"
done
# cc_guest OUT SRC [LINK_FLAGS...]: compiles at -O2, links at -O0.
cc_guest() {
    local out=$1 src=$2
    shift 2
    "${WASI_CC[@]}" -O2 -c -o "$out.o" "$src" &&
        "${WASI_CC[@]}" -O0 "$@" -Wl,--strip-debug -o "$out" "$out.o" &&
        rm -f "$out.o"
}
for src in "$HERE"/guests/*.c; do
    name=$(basename "$src" .c)
    model=(-mexec-model=reactor)
    [ "$name" = cgi ] && model=() # the WAGI guest is a command
    build "$BUILD/$name.wasm" "$src" -- cc_guest "$BUILD/$name.wasm" "$src" "${model[@]}"
done

"$PYTHON" "$HERE/serve_test.py" --wasp "$WASP" --guests "$BUILD" --build-failures "$FAILED" \
    --tier "${WASP_TEST_TIER:-interp}" ${FILTER:+"$FILTER"}
