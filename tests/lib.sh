# lib.sh - what the shell test scripts share, sourced by tests/cli, wasi,
# pipe and deploy/container: the pass/fail count, the generic check, the
# summary line, and sanitizer settings that give a sanitizer report an exit
# status of its own (SAN_EXIT), so a test tells it from wasp's own exits.
#
#   . "$ROOT/tests/lib.sh"
#
# A script may define its own check after sourcing this (pipe's hides the
# command's output and shows wasp's stderr instead).

SAN_EXIT=86
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}exitcode=$SAN_EXIT:detect_leaks=1"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:+$UBSAN_OPTIONS:}halt_on_error=1:print_stacktrace=1:exitcode=$SAN_EXIT"
export LSAN_OPTIONS="${LSAN_OPTIONS:+$LSAN_OPTIONS:}exitcode=$SAN_EXIT"

PASSED=0
FAILED=0
pass() { PASSED=$((PASSED + 1)); }

# fail NAME [LINE...]: counts a failure and prints it, each LINE indented
# under it, on stderr.
fail() {
    FAILED=$((FAILED + 1))
    echo "FAIL: $1" >&2
    shift
    for line in "$@"; do echo "      $line" >&2; done
}

# check NAME COMMAND...: passes when COMMAND succeeds.
check() {
    local name=$1
    shift
    if "$@"; then pass; else fail "$name" "failed: $*"; fi
}

# summary LABEL: the last line of a run, "LABEL: N passed, N failed"; its
# status is the run's (non-zero when a check failed).
summary() {
    echo "$1: $PASSED passed, $FAILED failed"
    [ "$FAILED" -eq 0 ]
}
