#!/usr/bin/env bash
# run.sh - tests of the `wasp` command line, run against a built binary:
#
#   bash tests/cli/run.sh build/wasp          (make cli-test)
#   bash tests/cli/run.sh build/asan/wasp     (make asan-test)
#
# Checks what a user sees: exit statuses (0 success, 1 bad file or module,
# 2 bad command line), messages, and that `inspect --json` is JSON. Then it
# attacks the binary with broken input: every kind of truncation, about 200
# single-bit flips, hand-made modules with hostile names, huge files. For
# broken input the command may say "valid" or "not valid" but must never
# die by a signal, hang, or (in a sanitized build) report a memory error.
#
# Needs only bash, coreutils, jq and wat2wasm (the Makefile's own tools);
# modules are built with printf, bytes are read with od. The last line is
# always "cli: N passed, N failed"; the exit status is non-zero on failure.
set -uo pipefail

if [ $# -ne 1 ]; then
    echo "usage: tests/cli/run.sh WASP_BINARY" >&2
    exit 2
fi
WASP=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
EXAMPLES_DIR=$ROOT/examples
T=$(mktemp -d "${TMPDIR:-/tmp}/wasp-cli-test.XXXXXX")
trap 'rm -rf "$T"' EXIT

# A sanitizer's report must not pass for "exit 1, module rejected": give it
# an exit status of its own, and look for its words on stderr as well.
. "$ROOT/tests/lib.sh"

# run ARGS...: runs wasp with a time limit; sets RC, OUT (stdout file) and
# ERR (stderr file).
OUT=$T/stdout
ERR=$T/stderr
RC=0
run() {
    timeout 20 "$WASP" "$@" >"$OUT" 2>"$ERR"
    RC=$?
}

# What went wrong with the last run if it crashed, hung or tripped a
# sanitizer; empty when it ended normally.
crash_reason() {
    if [ "$RC" -eq 124 ]; then
        echo "timed out after 20 s"
    elif [ "$RC" -eq "$SAN_EXIT" ] || grep -qaE 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$ERR"; then
        echo "sanitizer report (exit $RC): $(grep -aE 'Sanitizer|runtime error' "$ERR" | head -n 2 | tr '\n' ' ')"
    elif [ "$RC" -ge 128 ] && [ "$RC" -ne "${1:-0}" ]; then
        echo "killed by signal $((RC - 128))"
    fi
}

stderr_head() { head -c 300 "$ERR" | tr '\n' ' '; }

# expect NAME STATUS [REGEX_ON_STDERR]: the last run ended with STATUS, and
# its stderr matches REGEX when one is given.
expect() {
    local name=$1 want=$2 re=${3:-}
    local why
    why=$(crash_reason "$want")
    if [ -n "$why" ]; then
        fail "$name" "$why" "stderr: $(stderr_head)"
    elif [ "$RC" -ne "$want" ]; then
        fail "$name" "expected exit $want, got $RC" "stderr: $(stderr_head)"
    elif [ -n "$re" ] && ! grep -qaE "$re" "$ERR"; then
        fail "$name" "expected stderr to match /$re/" "stderr: $(stderr_head)"
    else
        pass
    fi
}

# ---- module building helpers -------------------------------------------

HDR='\x00\x61\x73\x6d\x01\x00\x00\x00'

# leb N: N as unsigned LEB128, in printf %b escapes.
leb() {
    local n=$1 out="" byte
    while :; do
        byte=$((n & 127))
        n=$((n >> 7))
        if [ "$n" -ne 0 ]; then byte=$((byte | 128)); fi
        out+=$(printf '\\x%02x' "$byte")
        if [ "$n" -eq 0 ]; then break; fi
    done
    printf '%s' "$out"
}

# section ID PAYLOAD_ESCAPES: a section with its size computed.
section() {
    local id=$1 payload=$2 len
    len=$(printf '%b' "$payload" | wc -c)
    printf '\\x%02x%s%s' "$id" "$(leb "$len")" "$payload"
}

# name ESCAPES: a length-prefixed name.
name() {
    local len
    len=$(printf '%b' "$1" | wc -c)
    printf '%s%s' "$(leb "$len")" "$1"
}

# module FILE ESCAPES...: writes the header and the given escapes to FILE.
module() {
    local f=$1
    shift
    printf '%b' "$HDR" "$@" >"$f"
}

# bytes FILE: the file's bytes as decimal numbers, one per line.
bytes() { od -An -v -tu1 -w1 "$1" | tr -d ' '; }

# Offsets at which a cut leaves only whole sections: 8 (the header alone)
# and the end of each section.
section_ends() {
    local -a octets
    mapfile -t octets < <(bytes "$1")
    local n=${#octets[@]} p=8 size shift byte
    echo 8
    while [ "$p" -lt "$n" ]; do
        p=$((p + 1))
        size=0
        shift=0
        while [ "$p" -lt "$n" ]; do
            byte=${octets[p]}
            p=$((p + 1))
            size=$((size | ((byte & 127) << shift)))
            shift=$((shift + 7))
            if [ "$byte" -lt 128 ]; then break; fi
        done
        p=$((p + size))
        if [ "$p" -le "$n" ]; then echo "$p"; fi
    done
}

json_ok() { jq -e 'type == "object"' "$OUT" >/dev/null 2>&1; }

# codepoints JQ_PATH: the code points of a string in the last JSON output,
# comma-separated (a way to compare strings that hold NUL).
codepoints() { jq -r "$1 | explode | map(tostring) | join(\",\")" "$OUT" 2>/dev/null; }

# ---- the command line ----------------------------------------------------

run version
expect "wasp version exits 0" 0
check "wasp version prints 'wasp 0.1.0'" grep -qx 'wasp 0.1.0' "$OUT"
run --version
expect "wasp --version exits 0" 0
check "wasp --version prints 'wasp 0.1.0'" grep -qx 'wasp 0.1.0' "$OUT"

for h in help --help -h; do
    run "$h"
    expect "wasp $h exits 0" 0
    check "wasp $h names validate and inspect" grep -q 'validate' "$OUT"
    check "wasp $h names inspect" grep -q 'inspect' "$OUT"
    check "wasp $h names run" grep -qE '^  run ' "$OUT"
    check "wasp $h names serve" grep -qE '^  serve ' "$OUT"
done
run validate --help
expect "wasp validate --help exits 0" 0
check "wasp validate --help prints the usage" grep -q 'usage' "$OUT"

run
expect "wasp with no command exits 2 with the usage" 2 'usage'
run frobnicate
expect "unknown command exits 2 with the usage on stderr" 2 'usage'
check "unknown command is named" grep -q "frobnicate" "$ERR"
check "unknown command prints nothing on stdout" test ! -s "$OUT"
run run
expect "'wasp run' without a module exits 2" 2 'usage'
run run --frob x.wasm
expect "'wasp run' with an unknown option exits 2" 2 'frob'
run run missing.wasm
expect "'wasp run' on a missing file exits 1" 1 'missing.wasm'
run serve
expect "'wasp serve' without a module exits 2" 2 'no module or manifest'
run serve --frob x.wasm
expect "'wasp serve' with an unknown option exits 2" 2 'frob'
run serve --workers 0 x.wasm
expect "'wasp serve --workers 0' exits 2" 2 'workers'
run serve --env K=V wasp.yaml
expect "'wasp serve' refuses one-module flags with a manifest" 2 'per app in the manifest'
run serve --header-timeout-ms 0 x.wasm
expect "'wasp serve --header-timeout-ms 0' exits 2 naming the range" 2 '1 to 3600000 milliseconds'
run serve --request-timeout-ms 5000 x.wasm
expect "'wasp serve --request-timeout-ms' (replaced) exits 2 naming the new flags" 2 'own limits now, --idle-timeout-ms, --header-timeout-ms and --body-timeout-ms'
run serve missing.wasm
expect "'wasp serve' on a missing module exits 1 naming it" 1 'missing.wasm: No such file'
run serve missing.yaml
expect "'wasp serve' on a missing manifest exits 1 naming it" 1 'missing.yaml'
run serve --help
expect "'wasp serve --help' exits 0" 0
check "'wasp serve --help' lists --listen and --admin" grep -q -- '--admin ADDR:PORT' "$OUT"
run validate
expect "validate without FILE exits 2" 2 'FILE'
run inspect --json
expect "inspect --json without FILE exits 2" 2 'FILE'
run validate a.wasm b.wasm
expect "validate with two files exits 2" 2 'usage'
run validate --frob a.wasm
expect "validate with an unknown option exits 2" 2 'frob'
run validate --json a.wasm
expect "validate does not take --json" 2 'json'

run validate "$T/no-such-file.wasm"
expect "missing file exits 1 with strerror" 1 'no-such-file\.wasm.*No such file or directory'
run inspect "$T/no-such-file.wasm"
expect "inspect of a missing file exits 1" 1 'No such file or directory'
run inspect --json "$T/no-such-file.wasm"
expect "inspect --json of a missing file exits 1" 1 'No such file or directory'
run validate "$T"
expect "a directory exits 1" 1 'Is a directory'
if [ "$(id -u)" -ne 0 ]; then
    printf '%b' "$HDR" >"$T/unreadable.wasm"
    chmod 000 "$T/unreadable.wasm"
    run validate "$T/unreadable.wasm"
    expect "an unreadable file exits 1" 1 'Permission denied'
fi

# ---- the example modules -------------------------------------------------

shopt -s nullglob
EXAMPLES=("$EXAMPLES_DIR"/*.wasm)
if [ ${#EXAMPLES[@]} -lt 3 ]; then
    fail "example modules are built" "expected 3 or more in $EXAMPLES_DIR (make examples)"
fi

for f in "${EXAMPLES[@]}"; do
    b=$(basename "$f")
    run validate "$f"
    expect "validate $b" 0
    check "validate $b prints '$f: valid'" grep -qxF "$f: valid" "$OUT"

    run inspect --json "$f"
    expect "inspect --json $b" 0
    check "inspect --json $b parses with jq" json_ok
    check "inspect --json $b says valid" jq -e '.valid == true and .error == null' "$OUT" >/dev/null
    check "inspect --json $b has functions" jq -e '(.functions | length) > 0' "$OUT" >/dev/null
    jq -r '.exports[] | select(.kind == "func") | .name' "$OUT" >"$T/exports" 2>/dev/null
    check "inspect --json $b lists exported functions" test -s "$T/exports"

    run inspect "$f"
    expect "inspect $b" 0
    while IFS= read -r ex; do
        check "inspect $b mentions exported function \"$ex\"" grep -qF "exported as \"$ex\"" "$OUT"
    done <"$T/exports"
done

hello=$EXAMPLES_DIR/print.wasm
fib=$EXAMPLES_DIR/fib.wasm
features=$EXAMPLES_DIR/features.wasm
for f in "$hello" "$fib" "$features"; do
    [ -f "$f" ] || fail "example $(basename "$f") is built" "missing: $f (make examples)"
done
if [ -f "$hello" ]; then
    run inspect "$hello"
    check "inspect print.wasm shows the import env.print" grep -qF 'func "env" "print": type 0 (i32, i32) -> ()' "$OUT"
    check "inspect print.wasm shows the active data segment" grep -qF '0: active, memory 0, offset expression 3 bytes, 13 bytes' "$OUT"
fi
if [ -f "$fib" ]; then
    run inspect --json "$fib"
    check "inspect --json fib.wasm: fib_recursive is (i32) -> (i64)" \
        jq -e '.functions[0] | .params == ["i32"] and .results == ["i64"] and .exports == ["fib_recursive"]' "$OUT" >/dev/null
fi
if [ -f "$features" ]; then
    run inspect --json "$features"
    check "inspect --json features.wasm: an active and a declarative element segment" \
        jq -e '[.elements[].mode] == ["active", "declarative"]' "$OUT" >/dev/null
    check "inspect --json features.wasm: a passive data segment and a data count" \
        jq -e '.data[0].mode == "passive" and .data_count == 1' "$OUT" >/dev/null
    check "inspect --json features.wasm: a mutable exported global" \
        jq -e '.globals[0] | .mutable and .exports == ["counter"]' "$OUT" >/dev/null
    check "inspect --json features.wasm: a multi-value function" \
        jq -e 'any(.functions[]; (.results | length) == 2)' "$OUT" >/dev/null
    check "inspect --json features.wasm: a funcref table" \
        jq -e '.tables[0].elem == "funcref"' "$OUT" >/dev/null
fi

# Debug names come from the `name` section, which wat2wasm writes on request.
if command -v wat2wasm >/dev/null && [ -f "$ROOT/examples/fib.wat" ]; then
    if wat2wasm --debug-names "$ROOT/examples/fib.wat" -o "$T/fib-names.wasm" 2>"$ERR"; then
        run inspect "$T/fib-names.wasm"
        expect "inspect a module with a name section" 0
        check "inspect shows debug names" grep -qF 'name "fib_iterative"' "$OUT"
        check "inspect lists the name section" grep -qF '"name": ' "$OUT"
        run inspect --json "$T/fib-names.wasm"
        check "inspect --json shows debug names" jq -e '.functions[1].name == "fib_iterative"' "$OUT" >/dev/null
    else
        fail "wat2wasm --debug-names fib.wat" "$(stderr_head)"
    fi
fi

# Reading from a pipe rather than a regular file.
if [ -f "$fib" ]; then
    timeout 20 "$WASP" validate /dev/stdin < <(cat "$fib") >"$OUT" 2>"$ERR"
    RC=$?
    expect "validate reads a pipe" 0
fi

# A file name that looks like an option, after `--`.
if [ -f "$fib" ]; then
    cp "$fib" "$T/-fib.wasm"
    (cd "$T" && timeout 20 "$WASP" validate -- -fib.wasm >"$OUT" 2>"$ERR")
    RC=$?
    expect "validate -- -fib.wasm" 0
fi

# Output that cannot be written is an error, not silence.
if [ -f "$features" ] && [ -w /dev/full ]; then
    timeout 20 "$WASP" inspect "$features" >/dev/full 2>"$ERR"
    RC=$?
    expect "inspect to a full disk exits 1" 1 'cannot write'
fi

# ---- hand-made modules -----------------------------------------------------

# A valid module whose export name holds every character JSON must escape.
# The name is: a " b \ c NUL d U+0001 e newline é (UTF-8) ✓ (UTF-8) DEL
hostile='a\x22b\x5cc\x00d\x01e\x0a\xc3\xa9\xe2\x9c\x93\x7f'
hostile_cps='97,34,98,92,99,0,100,1,101,10,233,10003,127'
module "$T/names.wasm" \
    "$(section 5 '\x01\x00\x01')" \
    "$(section 7 "\\x01$(name "$hostile")\\x02\\x00")" \
    "$(section 0 "$(name "$hostile")payload")"
run validate "$T/names.wasm"
expect "a module with a hostile export name is valid" 0
run inspect --json "$T/names.wasm"
expect "inspect --json of hostile names" 0
check "inspect --json of hostile names parses with jq" json_ok
check "the export name survives JSON escaping" test "$(codepoints '.exports[0].name')" = "$hostile_cps"
check "the custom section name survives JSON escaping" test "$(codepoints '.customs[0].name')" = "$hostile_cps"
check "the memory lists its export" test "$(codepoints '.memories[0].exports[0]')" = "$hostile_cps"
run inspect "$T/names.wasm"
expect "inspect of hostile names" 0
check "inspect escapes control characters in names" bash -c "! LC_ALL=C grep -qa '[[:cntrl:]]' '$OUT'"
check "inspect shows the escaped name" grep -qF '"a\"b\\c\00d\01e\n' "$OUT"

# Decodes but fails validation: a function typed () -> i32 whose body is empty.
invalid_module() {
    module "$1" \
        "$(section 1 '\x01\x60\x00\x01\x7f')" \
        "$(section 3 '\x01\x00')" \
        "$(section 7 "\\x01$(name 'answer')\\x00\\x00")" \
        "$(section 10 '\x01\x02\x00\x0b')"
}
invalid_module "$T/invalid.wasm"
run validate "$T/invalid.wasm"
expect "validate of an ill-typed module exits 1" 1 'invalid module at byte offset [0-9]+ \(0x[0-9a-f]+\): '
run inspect "$T/invalid.wasm"
expect "inspect of an ill-typed module exits 1 with the error" 1 'invalid module at byte offset'
check "inspect of an ill-typed module still prints what decoded" grep -qF 'exported as "answer"' "$OUT"
run inspect --json "$T/invalid.wasm"
expect "inspect --json of an ill-typed module exits 1" 1 'invalid module at byte offset'
check "inspect --json of an ill-typed module: decoded, not valid, error kind invalid" \
    jq -e '.decoded and (.valid | not) and .error.kind == "invalid" and (.error.offset | type) == "number" and (.functions | length) == 1' "$OUT" >/dev/null

# Not a module at all.
printf 'not wasm at all' >"$T/text.wasm"
run validate "$T/text.wasm"
expect "validate of a text file exits 1" 1 "^$T/text\\.wasm: malformed module at byte offset 0 \\(0x0\\): "
run inspect "$T/text.wasm"
expect "inspect of a text file exits 1" 1 'malformed module at byte offset 0'
check "inspect of a text file prints nothing on stdout" test ! -s "$OUT"
run inspect --json "$T/text.wasm"
expect "inspect --json of a text file exits 1" 1 'malformed'
check "inspect --json of a text file: not decoded, error kind malformed" \
    jq -e '(.decoded | not) and (.valid | not) and .error.kind == "malformed" and .error.offset == 0' "$OUT" >/dev/null

# Lengths and counts far beyond the bytes present.
module "$T/huge-section.wasm" '\x01\xff\xff\xff\xff\x0f'
run validate "$T/huge-section.wasm"
expect "a section claiming 4 GiB exits 1" 1 'offset'
module "$T/huge-count.wasm" "$(section 1 '\x80\x94\xeb\xdc\x03')"
run inspect --json "$T/huge-count.wasm"
expect "a type section claiming a billion types exits 1" 1 'offset'
check "... and inspect --json still prints JSON" json_ok
module "$T/huge-count2.wasm" "$(section 3 '\xff\xff\xff\xff\x0f\x00')"
run validate "$T/huge-count2.wasm"
expect "a function section claiming 4 billion functions exits 1" 1 'offset'

# Huge files: 16 MiB of zeros, and a valid module with a 16 MiB custom section.
head -c $((16 << 20)) /dev/zero >"$T/zeros.wasm"
run validate "$T/zeros.wasm"
expect "16 MiB of zeros exits 1" 1 'malformed module at byte offset 0'
big=$((16 << 20))
{
    printf '%b' "$HDR" "\\x00$(leb $((big + 4)))$(name 'big')"
    head -c "$big" /dev/zero
} >"$T/big.wasm"
run inspect --json "$T/big.wasm"
expect "a valid module with a 16 MiB custom section" 0
check "inspect --json reports the 16 MiB custom section" jq -e ".customs[0].size == $big" "$OUT" >/dev/null

# ---- truncated modules ----------------------------------------------------

# A cut inside a section must be rejected with an offset; a cut between
# sections may leave a valid module (the 8-byte header alone is a valid,
# empty module) or an inconsistent one.
truncate_check() {
    local f=$1 len=$2 label=$3 ends=$4
    head -c "$len" "$f" >"$T/cut.wasm"
    run validate "$T/cut.wasm"
    if grep -qx "$len" <<<"$ends"; then
        local why
        why=$(crash_reason)
        if [ -n "$why" ]; then
            fail "$label: cut at $len (a section boundary)" "$why"
        elif [ "$RC" -eq 0 ] || { [ "$RC" -eq 1 ] && grep -q 'offset' "$ERR"; }; then
            pass
        else
            fail "$label: cut at $len (a section boundary)" "exit $RC" "stderr: $(stderr_head)"
        fi
    else
        expect "$label: cut at $len of $(stat -c %s "$f") bytes" 1 'offset'
    fi
}

for f in "${EXAMPLES[@]}"; do
    b=$(basename "$f")
    n=$(stat -c %s "$f")
    ends=$(section_ends "$f")
    for len in 0 4 8 9 $((n / 2)) $((n - 1)); do
        truncate_check "$f" "$len" "validate truncated $b" "$ends"
    done
done
# Every prefix of one example, under inspect too.
if [ -f "$fib" ]; then
    ends=$(section_ends "$fib")
    n=$(stat -c %s "$fib")
    bad=0
    for ((len = 0; len < n; len++)); do
        head -c "$len" "$fib" >"$T/cut.wasm"
        for mode in "inspect" "inspect --json"; do
            # shellcheck disable=SC2086
            run $mode "$T/cut.wasm"
            why=$(crash_reason)
            if [ -n "$why" ] || { [ "$RC" -ne 0 ] && [ "$RC" -ne 1 ]; }; then
                bad=$((bad + 1))
                echo "      $mode of fib.wasm cut at $len: exit $RC ${why}" >&2
            elif [ "$RC" -eq 1 ] && ! grep -qx "$len" <<<"$ends" && ! grep -q offset "$ERR"; then
                bad=$((bad + 1))
                echo "      $mode of fib.wasm cut at $len: no offset in: $(stderr_head)" >&2
            elif [ "$mode" = "inspect --json" ] && ! json_ok; then
                bad=$((bad + 1))
                echo "      $mode of fib.wasm cut at $len: output is not JSON" >&2
            fi
        done
    done
    if [ "$bad" -eq 0 ]; then pass; else fail "inspect of every prefix of fib.wasm ($bad bad runs)"; fi
fi

# ---- bit flips --------------------------------------------------------------

# About 200 mutants: in each example, up to 72 bytes spread evenly over the
# file, one bit of each flipped. validate, inspect and inspect --json must
# agree (exit 0 or 1), never crash, and --json must stay JSON.
PER_EXAMPLE=72
total_mutants=0
for f in "${EXAMPLES[@]}"; do
    b=$(basename "$f")
    mapfile -t orig < <(bytes "$f")
    n=${#orig[@]}
    count=$((n < PER_EXAMPLE ? n : PER_EXAMPLE))
    bad=0
    for ((i = 0; i < count; i++)); do
        off=$((i * n / count))
        bit=$(((i * 3 + off) % 8))
        flipped=$((orig[off] ^ (1 << bit)))
        cp "$f" "$T/flip.wasm"
        printf '%b' "$(printf '\\x%02x' "$flipped")" |
            dd of="$T/flip.wasm" bs=1 seek="$off" conv=notrunc status=none
        total_mutants=$((total_mutants + 1))
        what="$b with bit $bit of byte $off flipped"
        statuses=""
        for mode in "validate" "inspect" "inspect --json"; do
            # shellcheck disable=SC2086
            run $mode "$T/flip.wasm"
            why=$(crash_reason)
            if [ -n "$why" ] || { [ "$RC" -ne 0 ] && [ "$RC" -ne 1 ]; }; then
                bad=$((bad + 1))
                echo "      $mode of $what: exit $RC ${why}" >&2
            elif [ "$RC" -eq 1 ] && ! grep -q offset "$ERR"; then
                bad=$((bad + 1))
                echo "      $mode of $what: exit 1 without an offset: $(stderr_head)" >&2
            elif [ "$mode" = "inspect --json" ]; then
                if ! json_ok; then
                    bad=$((bad + 1))
                    echo "      $mode of $what: output is not JSON" >&2
                elif ! jq -e --argjson ok "$([ "$RC" -eq 0 ] && echo true || echo false)" \
                    '.valid == $ok' "$OUT" >/dev/null; then
                    bad=$((bad + 1))
                    echo "      $mode of $what: \"valid\" disagrees with exit $RC" >&2
                fi
            fi
            statuses+="$RC "
        done
        case "$statuses" in
        "0 0 0 " | "1 1 1 ") ;;
        *)
            bad=$((bad + 1))
            echo "      $what: validate, inspect, inspect --json disagree (exits $statuses)" >&2
            ;;
        esac
    done
    if [ "$bad" -eq 0 ]; then pass; else fail "bit flips in $b ($bad bad runs of $count mutants)"; fi
done
if [ "$total_mutants" -lt 150 ]; then
    fail "bit flips: at least 150 mutants" "only $total_mutants"
fi

# ---- the native tier and its cache ------------------------------------------

N=$T/native
mkdir -p "$N"
export XDG_CACHE_HOME=$N/xdg
HELLO=$EXAMPLES_DIR/hello.wasm
run run "$HELLO"
cp "$OUT" "$N/hello.interp"
run run --tier native "$HELLO"
expect "run --tier native hello.wasm exits 0" 0
check "... and prints what the interpreter prints" cmp -s "$OUT" "$N/hello.interp"
entries=("$N"/xdg/wasp/*.wasp-native)
check "... and leaves one entry in \$XDG_CACHE_HOME/wasp" test "${#entries[@]}" -eq 1 -a -f "${entries[0]}"
ENTRY=${entries[0]}
check "... named by the module's SHA-256" test "$(basename "$ENTRY" .wasp-native)" = "$(sha256sum "$HELLO" | cut -c1-64)"
check "... in a directory only its user can enter" test "$(stat -c %a "$N/xdg/wasp")" = 700
cp "$ENTRY" "$N/entry.good"
run run --tier native "$HELLO"
expect "a second run uses the entry: exit 0, nothing on stderr" 0
check "... (stderr empty)" test ! -s "$ERR"
check "... and leaves the entry as it was" cmp -s "$ENTRY" "$N/entry.good"
# a flipped byte in the object: refused, recompiled, rewritten
size=$(stat -c %s "$ENTRY")
printf '\xff' | dd of="$ENTRY" bs=1 seek=$((size - 100)) conv=notrunc status=none
run run --tier native "$HELLO"
expect "an entry with a flipped byte is refused and recompiled: exit 0" 0 'integrity check failed.*recompiled'
check "... the output is right" cmp -s "$OUT" "$N/hello.interp"
check "... and the entry is rewritten" cmp -s "$ENTRY" "$N/entry.good"
# another build's entry: its build ID differs (bytes 16..47 of the header)
printf '\x00\x01\x02\x03' | dd of="$ENTRY" bs=1 seek=16 conv=notrunc status=none
run run --tier native "$HELLO"
expect "an entry from another build of wasp is refused and recompiled" 0 'another build of wasp.*recompiled'
check "... and the entry is rewritten" cmp -s "$ENTRY" "$N/entry.good"
# another module's entry under this module's name
PRINT=$EXAMPLES_DIR/print.wasm
run compile -o "$N/print.entry" "$PRINT"
expect "compile -o FILE exits 0" 0
check "... prints where the entry went and its name in a cache" grep -q "$(sha256sum "$PRINT" | cut -c1-64).wasp-native" "$OUT"
cp "$N/print.entry" "$ENTRY"
run run --tier native "$HELLO"
expect "another module's entry is refused and recompiled" 0 'another module.*recompiled'
check "... and the entry is rewritten" cmp -s "$ENTRY" "$N/entry.good"
rm -rf "$N/xdg"
run compile "$HELLO"
expect "compile MODULE writes into the default cache" 0
check "... the entry run would write" cmp -s "$N/xdg/wasp/$(basename "$ENTRY")" "$N/entry.good"
run compile --cache "$N/c2" "$HELLO"
expect "compile --cache DIR" 0
check "... writes there" test -f "$N/c2/$(basename "$ENTRY")"
run run --tier native --cache "$N/c2" "$HELLO"
expect "run --cache DIR uses it" 0
check "... silently" test ! -s "$ERR"
run run --tier native --cache off "$HELLO"
expect "run --cache off compiles and writes nothing" 0
run compile
expect "compile without a module exits 2" 2 'no module given'
run compile --frob "$HELLO"
expect "compile with an unknown option exits 2" 2 "unknown option '--frob'"
run compile "$N/nonexistent.wasm"
expect "compile of a missing file exits 1" 1 'No such file'
run run --tier jit "$HELLO"
expect "run --tier jit exits 2" 2 "bad --tier 'jit' \(want auto, interp or native\)"
# the limits hold in compiled code
printf '(module (func (export "spin") (loop $l (br $l))))' >"$N/spin.wat"
wat2wasm "$N/spin.wat" -o "$N/spin.wasm"
run run --tier native --fuel 1000 --invoke spin "$N/spin.wasm"
expect "native: an endless loop with --fuel traps (134)" 134 'fuel exhausted'
run run --tier native --deadline-ms 100 --invoke spin "$N/spin.wasm"
expect "native: an endless loop with --deadline-ms traps (134)" 134 'interrupted'
printf '(module (func $f (export "f") (call $f)))' >"$N/deep.wat"
wat2wasm "$N/deep.wat" -o "$N/deep.wasm"
run run --tier native --invoke f "$N/deep.wasm"
expect "native: endless recursion traps with stack exhaustion (134)" 134 'call stack exhausted'
# a trap names its place: the function by its name-section name, and in
# compiled code the instruction's offset (the i32.load's, as wasm-objdump -d shows it)
printf '(module (memory 1)\n (func $inner (param i32) (result i32) (i32.load (local.get 0)))\n (func $outer (export "go") (drop (call $inner (i32.const 65534)))))' >"$N/place.wat"
wat2wasm --debug-names "$N/place.wat" -o "$N/place.wasm"
run run --tier native --invoke go "$N/place.wasm"
expect "native: a trap names its function and offset" 134 'out of bounds memory access in \$inner at offset 0x[0-9a-f]+$'
check "... the offset of the i32.load" grep -q "at offset 0x$(wasm-objdump -d "$N/place.wasm" | awk '/i32.load/ {sub(":", "", $1); sub(/^0+/, "", $1); print $1}')\$" "$ERR"
run run --tier interp --invoke go "$N/place.wasm"
expect "interpreter: a trap names its function" 134 'out of bounds memory access in \$inner$'
# tier auto, the default: the cache's code when it has some (the native run
# above left it), silently; else the interpreter, without compiling
run run --invoke go "$N/place.wasm"
expect "auto: a cached module runs its native code (the trap names the offset)" 134 'in \$inner at offset 0x[0-9a-f]+$'
# the trap's line and its backtrace: nothing else
only_trap_and_backtrace() { test "$(grep -vcE '^wasm backtrace:$|^ +[0-9]+: ' "$ERR")" -eq 1; }
check "... and says nothing else" only_trap_and_backtrace
run run --invoke go --cache "$N/empty-cache" "$N/place.wasm"
expect "auto: without cached code the interpreter runs it (the trap names the function only)" 134 'in \$inner$'
check "... and says nothing else" only_trap_and_backtrace

# ---- Wasm backtraces (issue 14) -----------------------------------------
# A trap prints the Wasm stack, innermost first: in the interpreter every
# frame by function; in compiled code every frame with its offset (the
# trap's, then each call's), a function LLVM inlined into its caller
# recovered from the call's site ($work is inlined into $top).
cat >"$N/bt.wat" <<'WAT'
(module
  (memory 1)
  (func $leaf (param i32)
    (if (i32.eqz (local.get 0)) (then unreachable))
    (call $leaf (i32.sub (local.get 0) (i32.const 1))))
  (func $work (param i32) (result i32) (local i32)
    (loop $l
      (local.set 1 (i32.add (local.get 1) (i32.load8_u (local.get 0))))
      (local.set 0 (i32.add (local.get 0) (i32.const 1)))
      (br_if $l (i32.lt_u (local.get 0) (i32.const 100))))
    (call $leaf (i32.const 2))
    (local.get 1))
  (func $top (export "_start") (drop (call $work (i32.const 0)))))
WAT
wat2wasm --debug-names "$N/bt.wat" -o "$N/bt.wasm"
backtrace_is() { # the frames' names, innermost first, as one line
    test "$(sed -n 's/^ *[0-9]*: \$\([a-z]*\).*/\1/p' "$ERR" | tr '\n' ' ')" = "$1"
}
for tier in interp native; do
    run run --tier "$tier" "$N/bt.wasm"
    expect "$tier: a trap prints its Wasm backtrace" 134 '^wasm backtrace:$'
    check "... naming the frames innermost first" backtrace_is "leaf leaf leaf work top "
done
run run --tier native "$N/bt.wasm"
check "native: the innermost frame has the trap's offset" grep -qE '^ +0: \$leaf at offset 0x[0-9a-f]+$' "$ERR"
# ... and each caller the offset of its call: $work's (LLVM inlines it into
# $top, and the call's site still names it) is the call of $leaf
call_leaf=$(wasm-objdump -d "$N/bt.wasm" | awk '/call 0 <leaf>/ {sub(":", "", $1); sub(/^0+/, "", $1); o=$1} END {print o}')
check "native: a caller's frame has its call's offset, also when inlined" grep -qE "^ +3: \\\$work at offset 0x$call_leaf\$" "$ERR"

# ---- the guest profiler under wasp run (issue 14) -----------------------
# A recursive function that takes most of the time must be on top by
# sample share, in both tiers; each format parses.
cat >"$N/prof.wat" <<'WAT'
(module
  (func $fib (param i32) (result i32)
    (if (result i32) (i32.lt_u (local.get 0) (i32.const 2))
      (then (local.get 0))
      (else (i32.add (call $fib (i32.sub (local.get 0) (i32.const 1)))
                     (call $fib (i32.sub (local.get 0) (i32.const 2)))))))
  (func $cold (param i32) (result i32) (local i32)
    (loop $l
      (local.set 1 (i32.add (local.get 1) (i32.const 3)))
      (br_if $l (i32.lt_u (local.get 1) (local.get 0))))
    (local.get 1))
  (func $main (export "_start")
    (drop (call $fib (i32.const 33)))
    (drop (call $cold (i32.const 3000000)))))
WAT
wat2wasm --debug-names "$N/prof.wat" -o "$N/prof.wasm"
# folded_top FILE: the leaf function with the most samples
jq_true() { jq -e "$@" >/dev/null 2>&1; }
folded_top() { awk '{n=split($1, f, ";"); s[f[n]] += $2} END {for (k in s) print s[k], k}' "$1" | sort -nr | head -1 | cut -d' ' -f2; }
folded_lines_ok() { test -s "$1" && ! grep -vqE '^[^ ;]+(;[^ ;]+)* [0-9]+$' "$1"; }
for tier in interp native; do
    run run --tier "$tier" --profile "$N/p-$tier.folded" "$N/prof.wasm"
    expect "$tier: run --profile FILE.folded" 0 "profile of [0-9]+ samples written to $N/p-$tier.folded"
    check "... every line is folded stacks (frames;... count)" folded_lines_ok "$N/p-$tier.folded"
    check "... fib is on top by samples" test "$(folded_top "$N/p-$tier.folded")" = fib
    check "... stacks start at main" grep -q '^main;fib' "$N/p-$tier.folded"
    run run --tier "$tier" --profile "$N/p-$tier.cpuprofile" "$N/prof.wasm"
    expect "$tier: run --profile FILE.cpuprofile" 0 'profile of [0-9]+ samples'
    check "... parses as a .cpuprofile (nodes, samples, timeDeltas of one length)" \
        jq_true '(.nodes | length) > 1 and (.samples | length) == (.timeDeltas | length) and .nodes[0].callFrame.functionName == "(root)"' "$N/p-$tier.cpuprofile"
    check "... fib has the most hits" test "$(jq -r '[.nodes[] | {n: .callFrame.functionName, h: .hitCount}] | group_by(.n) | map({n: .[0].n, h: (map(.h) | add)}) | max_by(.h) | .n' "$N/p-$tier.cpuprofile")" = fib
    run run --tier "$tier" --profile "$N/p-$tier.json" --profile-hz 500 "$N/prof.wasm"
    expect "$tier: run --profile FILE.json (Chrome trace)" 0 'profile of [0-9]+ samples'
    check "... parses as trace events, begins and ends paired" \
        jq_true '[.traceEvents[] | select(.ph == "B")] | length > 0' "$N/p-$tier.json"
    check "... as many ends as begins" \
        jq_true '([.traceEvents[] | select(.ph == "B")] | length) == ([.traceEvents[] | select(.ph == "E")] | length)' "$N/p-$tier.json"
done
run run --profile-hz 0 --profile "$N/x.folded" "$N/prof.wasm"
expect "run --profile-hz 0 is refused" 2 'bad --profile-hz'

# ---- wasp run --stats (issue 14) ----------------------------------------
# A guest that grows memory by 3 pages, loops 10 times and writes twice:
# the peak, the fuel (the same in both tiers) and the host calls.
cat >"$N/stats.wat" <<'WAT'
(module
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 16) "hi\n")
  (func (export "_start") (local i32)
    (drop (memory.grow (i32.const 3)))
    (loop $l
      (local.set 0 (i32.add (local.get 0) (i32.const 1)))
      (br_if $l (i32.lt_u (local.get 0) (i32.const 10))))
    (i32.store (i32.const 0) (i32.const 16))
    (i32.store (i32.const 4) (i32.const 3))
    (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))
    (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))))
WAT
wat2wasm "$N/stats.wat" -o "$N/stats.wasm"
fuel_of() { sed -n 's/^wasp run: stats: fuel used \([0-9]*\) .*/\1/p' "$ERR"; }
for tier in interp native; do
    run run --tier "$tier" --stats "$N/stats.wasm"
    expect "$tier: run --stats" 0 '^wasp run: stats: linear memory peak 262144 bytes \(4 pages of 64 KiB\)$'
    check "... the guest's output is untouched" test "$(cat "$OUT")" = "$(printf 'hi\nhi')"
    check "... two host calls, fd_write both" grep -qE '^  wasi_snapshot_preview1\.fd_write: 2 calls, [0-9.]+ ms$' "$ERR"
    check "... and no other import" grep -qE '^wasp run: stats: host calls 2, ' "$ERR"
    eval "fuel_$tier=\$(fuel_of)"
done
check "run --stats: both tiers count the same fuel (entries and iterations: 1 + 10)" test "$fuel_interp" = 11 -a "$fuel_native" = 11
check "... and compiles nothing into the cache" test ! -e "$N/empty-cache"
run run --tier auto --invoke go --cache "$N/empty-cache" "$N/place.wasm"
expect "--tier auto is accepted" 134 'in \$inner$'
# WASP_PERF_MAP=1: the compiled functions, named, in perf's map for the process
# (run directly, not under timeout, so that $! is wasp's pid: the map is named by it)
WASP_PERF_MAP=1 "$WASP" run --tier native --invoke go "$N/place.wasm" >/dev/null 2>&1 &
pid=$!
wait "$pid"
check "WASP_PERF_MAP=1 lists \$inner and \$outer in /tmp/perf-PID.map (address, size, name)" \
  test "$(grep -cE '^[0-9a-f]+ [0-9a-f]+ wasm:(inner|outer)$' "/tmp/perf-$pid.map" 2>/dev/null)" = 2
rm -f "/tmp/perf-$pid.map"
"$WASP" run --tier native --invoke go "$N/place.wasm" >/dev/null 2>&1 &
pid=$!
wait "$pid"
check "... and without it no map is written" test ! -e "/tmp/perf-$pid.map"
unset XDG_CACHE_HOME

# ---- wasp secrets ------------------------------------------------------------

# The encrypted secrets file: keygen, set (from an argument and from
# stdin), get, list, rm; the key from a file or the environment; a wrong
# key, a tampered file and a loose key file refused with words a user can
# act on; a value never echoed where it should not be.
unset WASP_SECRETS_KEY
S=$T/secrets
mkdir -p "$S"
SV='s3cr3t-Value-42' # must never show up except as `get`'s output
not_in_err() { ! grep -qF -- "$1" "$ERR"; }
not_in_out() { ! grep -qF -- "$1" "$OUT"; }

run secrets --help
expect "secrets --help" 0
check "secrets --help prints the usage to stdout" grep -q '^usage: wasp secrets' "$OUT"
run --help
check "wasp --help lists secrets" grep -q '^  secrets ' "$OUT"

run secrets keygen "$S/key"
expect "secrets keygen" 0
check "keygen writes 64 hex digits and a newline" \
    bash -c "[ \$(stat -c %s '$S/key') -eq 65 ] && grep -qxE '[0-9a-f]{64}' '$S/key'"
check "keygen makes the key file mode 0600" test "$(stat -c %a "$S/key")" = 600
cp "$S/key" "$S/key.orig"
run secrets keygen "$S/key"
expect "secrets keygen refuses to overwrite" 1 'already exists; not overwriting'
check "... and the key is unchanged" cmp -s "$S/key" "$S/key.orig"
run secrets keygen "$S/key2"
check "two keygens make different keys" bash -c "! cmp -s '$S/key' '$S/key2'"

run secrets --key-file "$S/key" set "$S/app.sec" API_TOKEN "$SV"
expect "secrets set from an argument creates the file" 0
check "the secrets file is mode 0600" test "$(stat -c %a "$S/app.sec")" = 600
check "the secrets file starts with WASPSEC1" test "$(head -c 8 "$S/app.sec")" = WASPSEC1
check "the secrets file holds neither names nor values in the clear" \
    bash -c "! grep -qaF -e '$SV' -e API_TOKEN '$S/app.sec'"
printf 'line one\nline two\n' >"$T/value.in"
run secrets set --key-file "$S/key" "$S/app.sec" db.password <"$T/value.in"
expect "secrets set from stdin (key option after the command)" 0
printf 'ends in two newlines\n\n' >"$T/value.in"
run secrets --key-file "$S/key" set "$S/app.sec" TWO_NL <"$T/value.in"
expect "secrets set from stdin with two trailing newlines" 0
run secrets --key-file "$S/key" set "$S/app.sec" DASHED -starts-with-a-dash
expect "secrets set: a value may start with '-' (after FILE)" 0

run secrets --key-file "$S/key" get "$S/app.sec" API_TOKEN
expect "secrets get" 0
check "secrets get prints the value and a newline" test "$(cat "$OUT")" = "$SV"
check "secrets get prints exactly one newline" test "$(wc -c <"$OUT")" -eq $((${#SV} + 1))
run secrets --key-file "$S/key" get "$S/app.sec" db.password
check "a value from stdin loses one trailing newline" \
    cmp -s "$OUT" <(printf 'line one\nline two\n')
run secrets --key-file "$S/key" get "$S/app.sec" TWO_NL
check "... and only one" cmp -s "$OUT" <(printf 'ends in two newlines\n\n')
run secrets --key-file "$S/key" get "$S/app.sec" DASHED
check "a value starting with '-' round-trips" test "$(cat "$OUT")" = -starts-with-a-dash

run secrets --key-file "$S/key" list "$S/app.sec"
expect "secrets list" 0
check "secrets list prints the names, sorted, one per line" \
    cmp -s "$OUT" <(printf 'API_TOKEN\nDASHED\nTWO_NL\ndb.password\n')
check "secrets list never prints a value" not_in_out "$SV"

WASP_SECRETS_KEY=$(cat "$S/key") run secrets get "$S/app.sec" API_TOKEN
expect "secrets get with the key in WASP_SECRETS_KEY" 0
check "... prints the value" test "$(cat "$OUT")" = "$SV"
MY_KEY=$(cat "$S/key") run secrets --key-env MY_KEY list "$S/app.sec"
expect "secrets list with --key-env" 0

run secrets --key-file "$S/key" rm "$S/app.sec" DASHED
expect "secrets rm" 0
run secrets --key-file "$S/key" get "$S/app.sec" DASHED
expect "secrets get of a removed secret exits 1" 1 'no secret named DASHED'
check "... and prints nothing" test ! -s "$OUT"
run secrets --key-file "$S/key" rm "$S/app.sec" DASHED
expect "secrets rm of an absent secret exits 1" 1 'no secret named DASHED'

run secrets --key-file "$S/key2" get "$S/app.sec" API_TOKEN
expect "secrets get with the wrong key exits 1" 1 "app\\.sec: cannot decrypt: wrong key or corrupted file"
check "... without printing the value" not_in_out "$SV"
WASP_SECRETS_KEY=$(cat "$S/key2") run secrets set "$S/app.sec" NEW value
expect "secrets set with the wrong key exits 1" 1 'cannot decrypt: wrong key'
run secrets --key-file "$S/key" list "$S/app.sec"
check "... and leaves the file as it was" grep -qx API_TOKEN "$OUT"

cp "$S/app.sec" "$S/tampered.sec"
printf 'X' | dd of="$S/tampered.sec" bs=1 seek=40 conv=notrunc status=none
run secrets --key-file "$S/key" list "$S/tampered.sec"
expect "a tampered secrets file exits 1" 1 'cannot decrypt: wrong key or corrupted file'
head -c 30 "$S/app.sec" >"$S/short.sec"
run secrets --key-file "$S/key" list "$S/short.sec"
expect "a truncated secrets file exits 1" 1 'truncated secrets file'

cp "$S/key" "$S/loose.key"
chmod 644 "$S/loose.key"
run secrets --key-file "$S/loose.key" list "$S/app.sec"
expect "a key file readable by others is refused" 1 "permissions 0644 are too open.*chmod 600"
run secrets list "$S/app.sec"
expect "no key at all exits 1" 1 'WASP_SECRETS_KEY is not set'
WASP_SECRETS_KEY=not-hex run secrets list "$S/app.sec"
expect "a malformed key in the environment exits 1" 1 'WASP_SECRETS_KEY: not a secrets key'
check "... without echoing it" not_in_err not-hex
run secrets --key-file "$S/key" get "$S/none.sec" API_TOKEN
expect "secrets get on a missing file exits 1" 1 'none\.sec: cannot open: No such file'

run secrets --key-file "$S/key" set "$S/app.sec" "$SV is mine" </dev/null
expect "secrets set with an invalid name exits 1" 1 'invalid secret name'
check "... without echoing the name (it may be a value)" not_in_err "$SV"
head -c 70000 /dev/zero | tr '\0' a >"$T/value.in"
run secrets --key-file "$S/key" set "$S/app.sec" BIG <"$T/value.in"
expect "a value over 64 KiB from stdin exits 1" 1 'too long'
printf 'a\0b' >"$T/value.in"
run secrets --key-file "$S/key" set "$S/app.sec" NUL <"$T/value.in"
expect "a value with a NUL byte from stdin exits 1" 1 'NUL byte'

run secrets
expect "secrets without a command exits 2" 2 'no command given'
run secrets frobnicate "$S/app.sec"
expect "secrets with an unknown command exits 2" 2 "unknown command 'frobnicate'"
run secrets get
expect "secrets get without FILE exits 2" 2 'get needs FILE NAME'
run secrets get "$S/app.sec" A B
expect "secrets get with an extra argument exits 2" 2 'get needs FILE NAME'
run secrets list
expect "secrets list without FILE exits 2" 2 'list needs FILE'
run secrets --frob list "$S/app.sec"
expect "secrets with an unknown option exits 2" 2 "unknown option '--frob'"
run secrets list --key-file
expect "secrets --key-file without a value exits 2" 2 'needs a value'
run secrets --key-file "$S/key" --key-env K list "$S/app.sec"
expect "secrets with both key options exits 2" 2 'not both'
run secrets --key-file "$S/key" keygen "$S/key3"
expect "secrets keygen with a key option exits 2" 2 'keygen takes no key option'
check "... and writes no key" test ! -e "$S/key3"

# ---- libraries opened only when serving ---------------------------------------

# wasp is not linked with h2o, libcurl, libpq or SQLite (src/util/dynlib.c):
# with them and the TLS, Kerberos and LDAP libraries they bring, every start
# took 10-20 ms. The other commands must not load them (ld.so names each file
# it loads under LD_DEBUG=files), and `serve` opens them before anything
# listens, saying which one it cannot load and what to install.
SERVE_ONLY='file=lib(h2o-evloop|curl|pq|sqlite3|ssl|crypto)\.so'
no_serve_libs() {
    local what=$1 loaded
    shift
    LD_DEBUG=files run "$@"
    expect "$what exits 0" 0
    loaded=$(grep -oE "$SERVE_ONLY[^ ]*" "$ERR" | sort -u | tr '\n' ' ')
    if [ -n "$loaded" ]; then
        fail "... without loading a library only serving needs" "loaded: $loaded"
    elif ! grep -q 'file=libc\.so' "$ERR"; then
        fail "... without loading a library only serving needs" "LD_DEBUG=files printed no file"
    else
        pass
    fi
}
no_serve_libs "version (LD_DEBUG=files)" version
no_serve_libs "validate hello.wasm (LD_DEBUG=files)" validate "$HELLO"
no_serve_libs "inspect --json hello.wasm (LD_DEBUG=files)" inspect --json "$HELLO"
no_serve_libs "run hello.wasm (LD_DEBUG=files)" run "$HELLO"
no_serve_libs "run --tier native hello.wasm from the cache (LD_DEBUG=files)" run --tier native "$HELLO"
no_serve_libs "secrets list (LD_DEBUG=files)" secrets --key-file "$S/key" list "$S/app.sec"

# An unloadable libpq (an empty file found first on LD_LIBRARY_PATH).
mkdir -p "$T/badlib"
: >"$T/badlib/libpq.so.5"
LD_LIBRARY_PATH=$T/badlib run serve --listen 127.0.0.1:0 --admin off "$HELLO"
expect "serve with an unloadable libpq.so.5 exits 1" 1 \
    'wasp serve: libpq.so.5 \(PostgreSQL databases\) cannot be loaded: .*apt-get install libpq5'

# ---- wasp audit -------------------------------------------------------------
A=$T/audit
mkdir -p "$A"
NOTES=$EXAMPLES_DIR/notes/notes.wasm
SAMPLE=$EXAMPLES_DIR/serve/wasp.yaml
run audit "$EXAMPLES_DIR/serve/hello.wasm"
expect "audit hello.wasm exits 0" 0
check "audit: hello is a wasp ABI handler with only the request capability" \
    bash -c "grep -q '^kind: HTTP handler, wasp ABI (wasp_handle)' '$OUT' &&
             grep -qE '^  request +always +resp_header, resp_body' '$OUT' &&
             ! grep -qE '^  (kv|sql|http|vars) ' '$OUT'"
check "audit: without a manifest, it says the grants are not checked" grep -q 'no manifest' "$OUT"
run audit --manifest "$SAMPLE" "$NOTES"
expect "audit notes.wasm against its app exits 0" 0
check "audit: notes' kv and vars are granted, naming what" \
    bash -c "grep -qE '^  kv +granted +kv_open' '$OUT' && grep -q 'kv: notes' '$OUT' &&
             grep -qE '^  vars +granted' '$OUT' && grep -q 'vars: greeting' '$OUT' &&
             grep -q 'checked against: app notes of' '$OUT'"
run audit --manifest "$SAMPLE" --app hello "$NOTES"
expect "audit notes.wasm against an app without its grants exits 1" 1
check "audit: kv and vars are DENIED, saying how to grant them" \
    bash -c "grep -qE '^  kv +DENIED' '$OUT' && grep -q 'grant it with kv:' '$OUT' &&
             grep -qE '^  vars +DENIED' '$OUT' && grep -q 'a capability it imports cannot be had' '$OUT'"
run audit --json --manifest "$SAMPLE" --app hello "$NOTES"
expect "audit --json exits 1 too" 1
check "audit --json: one object with the capabilities and findings" \
    jq -e '.app == "hello" and .denied == true and .name_section == true and
           ([.capabilities[] | select(.name == "kv")][0] | .status == "DENIED" and .count == 6 and .grant == "kv") and
           (.findings | map(.level) | index("warn") != null)' "$OUT" >/dev/null
run audit --json "$EXAMPLES_DIR/pipe/keep5xx.wasm"
check "audit: a filter is called one, and emits" \
    jq -e '.kind == "filter (wasp_filter)" and (.capabilities | map(.name) | index("emit") != null)' \
        "$OUT" >/dev/null
# every example audits without a crash; the sample manifest's apps pass
for m in "$EXAMPLES_DIR"/serve/*.wasm "$EXAMPLES_DIR"/pipe/*.wasm; do
    run audit --json "$m"
    check "audit --json ${m#"$EXAMPLES_DIR"/} is JSON (exit $RC)" json_ok
done
for app in hello json wagi-hello notes todos fetch access2json; do
    mod=$(awk -v a="$app" '$0 ~ "name: " a "( |$)" { f = 1 } f && /module:/ { print $2; exit }' "$SAMPLE")
    run audit --manifest "$SAMPLE" --app "$app" "$EXAMPLES_DIR/serve/$mod"
    expect "audit: the sample manifest's app $app is granted what it imports" 0
done

# hand-made risky modules
cat >"$A/risky.wat" <<'EOF'
(module
  (type $t (func))
  (func $f)
  (table (export "tbl") 1 funcref)
  (memory (export "memory") 1)
  (elem (i32.const 3) $f)
  (data (i32.const 65530) "0123456789")
  (start $f))
EOF
cat >"$A/unknown.wat" <<'EOF'
(module
  (import "env" "emscripten_thing" (func))
  (import "wasp" "kv_open" (func (param i32)))
  (import "wasi_snapshot_preview1" "sock_recv" (func (param i32 i32 i32 i32 i32 i32) (result i32)))
  (memory 1 1))
EOF
cat >"$A/huge.wat" <<'EOF'
(module (memory 4096) (table 200000 200000 funcref))
EOF
for w in risky unknown huge; do
    wat2wasm --no-check "$A/$w.wat" -o "$A/$w.wasm" 2>"$ERR" || fail "wat2wasm $w.wat" "$(stderr_head)"
done
run audit "$A/risky.wasm"
expect "audit of a module that cannot be instantiated exits 1" 1
check "audit: the data segment past the initial memory is a risk" \
    grep -qE '^  risk +data segment 0 writes bytes 65530\.\.65540, past the initial memory \(65536 bytes\)' "$OUT"
check "audit: the element segment past its table is a risk" \
    grep -qE '^  risk +element segment 0 fills entries 3\.\.4 of table 0, past its 1' "$OUT"
check "audit: no maximum on memory and table, an exported table, a start function, no names" \
    bash -c "grep -qE '^  warn +memory 0 has no maximum' '$OUT' &&
             grep -qE '^  warn +table 0 has no maximum' '$OUT' &&
             grep -qE '^  warn +exports table 0 as \"tbl\"' '$OUT' &&
             grep -qE '^  info +a start function \(func 0\)' '$OUT' &&
             grep -qE '^  info +no name section' '$OUT'"
run audit "$A/unknown.wasm"
expect "audit of a module with imports no host provides exits 1" 1
check "audit: unknown imports and a wrong signature are NEVER, named with the reason" \
    bash -c "grep -qE '^  unknown +NEVER +env\.emscripten_thing \(unknown import\), wasp\.kv_open \(incompatible import type\)' '$OUT'"
check "audit: sockets are listed as never granted" grep -qE '^  sockets +NEVER +sock_recv' "$OUT"
run audit "$A/huge.wasm"
expect "audit of a module past the default memory limit exits 1" 1
check "audit: a memory past limits.memory, a large table" \
    bash -c "grep -qE '^  risk +memory 0 starts at 256 MiB, past the default limits.memory \(128 MiB\)' '$OUT' &&
             grep -qE '^  warn +table 0 starts with 200000 entries' '$OUT'"

run audit
expect "audit without a module exits 2" 2 'wasp audit: no module given'
run audit --app x "$NOTES"
expect "audit --app without --manifest exits 2" 2 'needs --manifest'
run audit --manifest "$SAMPLE" "$A/risky.wasm"
expect "audit against a manifest without the module's app exits 2" 2 'no app of .* runs .*: name the app with --app'
run audit --manifest "$SAMPLE" --app nosuch "$NOTES"
expect "audit --app naming no app exits 2" 2 'has no app named nosuch'
run audit "$A/nosuch.wasm"
expect "audit of a missing file exits 2" 2 'No such file'
printf 'not wasm' >"$A/bad.wasm"
run audit "$A/bad.wasm"
expect "audit of a file that is not a module exits 2" 2
run audit --help
expect "audit --help exits 0" 0
check "audit --help describes the exit statuses" grep -q 'exit status: 0 nothing blocks it' "$OUT"

summary cli
