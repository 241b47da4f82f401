#!/usr/bin/env bash
# run.sh - `wasp pipe` end to end, against a built binary and the example
# filters (examples/pipe/, `make examples`):
#
#   bash tests/pipe/run.sh build/wasp                      (make pipe-test)
#   WASP_TEST_TIER=native bash tests/pipe/run.sh build/wasp
#
# Access-log lines through three C filters (to JSON, keep 5xx, redact IPs)
# from a file and from stdin, checked line by line; the Rust filter gives
# what its C twin gives; 200,000 records in
# batches of 100 on two workers come out complete and in order; records a
# filter fails on (a trap, a non-zero return, the deadline, too much
# output) are dead letters with their error while the others go on; a
# filter that does not load or refuses its configuration stops the
# pipeline before it reads anything. Against a real redis-server on a
# loopback port (started here, killed at the end): three processes in one
# consumer group share a 200,000-entry stream, one is killed with -9
# mid-run, and every entry's output (or dead letter) is in the sinks at
# least once, nothing left pending. A sink slower than the source keeps
# the process's memory bounded; SIGTERM ends a pipeline whose source has
# not ended, with what it read written. Test filters are WAT (wat2wasm).
# The last line is "pipe: N passed, N failed"; non-zero exit on failure.
set -uo pipefail

if [ $# -ne 1 ]; then
    echo "usage: tests/pipe/run.sh WASP_BINARY" >&2
    exit 2
fi
WASP=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
EX=$ROOT/examples/pipe
TIER=${WASP_TEST_TIER:-interp}
T=$(mktemp -d "${TMPDIR:-/tmp}/wasp-pipe-test.XXXXXX")
trap 'rm -rf "$T"' EXIT

. "$ROOT/tests/lib.sh"

for f in access2json keep5xx redact; do
    if [ ! -f "$EX/$f.wasm" ]; then
        echo "pipe: $EX/$f.wasm is missing: run make examples first" >&2
        exit 1
    fi
done

OUT=$T/out
ERR=$T/err
DEAD=$T/dead
RC=0
# pipe ARGS...: wasp pipe in the tier under test, native code cached in $T
pipe() {
    rm -f "$OUT" "$DEAD"
    timeout 60 "$WASP" pipe --tier "$TIER" --cache "$T/cache" "$@" >"$OUT" 2>"$ERR"
    RC=$?
}
stderr_head() { head -c 400 "$ERR" | tr '\n' ' '; }
# wait_lines FILE N: waits up to 10 s for FILE to have N lines
wait_lines() {
    for ((w = 0; w < 200; w++)); do
        [ "$(wc -l <"$1")" -ge "$2" ] && return 0
        sleep 0.05
    done
    return 1
}
# check NAME COND...: passes when the command COND... succeeds (its
# output is not shown; a failure shows wasp's last exit and stderr): lib.sh's
# check, replaced
check() {
    local name=$1
    shift
    if "$@" >/dev/null; then pass; else fail "$name" "exit $RC; stderr: $(stderr_head)"; fi
}

# ---- the examples, end to end ------------------------------------------------
cat >"$T/access.log" <<'EOF'
10.1.2.3 - - [07/Dec/2026:10:00:00 +0000] "GET /index.html HTTP/1.1" 200 512
192.168.7.9 - alice [07/Dec/2026:10:00:01 +0000] "POST /api/orders HTTP/1.1" 503 19
this line is not a log line
172.16.0.4 - - [07/Dec/2026:10:00:02 +0000] "GET /api/items?id=1 HTTP/1.1" 500 -
10.9.8.7 - - [07/Dec/2026:10:00:03 +0000] "GET /health HTTP/1.1" 204 0
EOF
cat >"$T/want" <<'EOF'
{"ip":"192.168.x.x","time":"07/Dec/2026:10:00:01 +0000","method":"POST","path":"/api/orders","status":503,"bytes":19}
{"ip":"172.16.x.x","time":"07/Dec/2026:10:00:02 +0000","method":"GET","path":"/api/items?id=1","status":500,"bytes":0}
EOF
CHAIN=("$EX/access2json.wasm" "$EX/keep5xx.wasm" "$EX/redact.wasm")

pipe --from "$T/access.log" --dead-letter "$DEAD" "${CHAIN[@]}"
check "examples: exit 0" test "$RC" -eq 0
check "examples: the 5xx lines as JSON, IPs redacted" cmp -s "$OUT" "$T/want"
check "examples: the bad line is a dead letter naming its filter" \
    jq -e -s 'length == 1 and .[0].filter == "access2json" and
              .[0].record == "this line is not a log line" and
              (.[0].error | test("returned 1"))' "$DEAD"
check "examples: the summary counts" grep -q "5 records in, 2 out, 1 dead letters" "$ERR"

# stdin to stdout, dead letters on stderr
rm -f "$OUT"
timeout 60 "$WASP" pipe --tier "$TIER" --cache "$T/cache" "${CHAIN[@]}" <"$T/access.log" >"$OUT" 2>"$ERR"
RC=$?
check "stdin: exit 0" test "$RC" -eq 0
check "stdin: same output" cmp -s "$OUT" "$T/want"
check "stdin: the dead letter on stderr" grep -q '"record":"this line is not a log line"' "$ERR"

# ---- many records: complete, in order, across batches and workers -------------
for ((i = 0; i < 200000; i++)); do
    printf '10.%d.%d.1 - - [07/Dec/2026:10:00:00 +0000] "GET /p/%d HTTP/1.1" %d %d\n' \
        $((i % 256)) $((i / 256 % 256)) "$i" $((i % 4 == 0 ? 500 : 200)) "$i"
done >"$T/big.log"
pipe --from "$T/big.log" --to "$T/big.out" --batch 100 --workers 2 "${CHAIN[@]}"
check "200,000 records: exit 0" test "$RC" -eq 0
check "200,000 records: 50,000 out" test "$(wc -l <"$T/big.out")" -eq 50000
# every fourth path, in order
awk -F'"path":"/p/' '{ split($2, a, "\""); if (a[1] != (NR - 1) * 4) { exit 1 } }' "$T/big.out"
check "200,000 records: every 5xx path, in the input's order" test $? -eq 0
check "200,000 records: 2,000 batches" grep -q "200000 records in, 50000 out, 0 dead letters, 2000 batches" "$ERR"
rm -f "$T/big.out"

# the Rust filter does what the C one does
if [ -f "$EX/redact_rs.wasm" ]; then
    pipe --from "$T/big.log" --to "$T/c.out" "$EX/redact.wasm"
    pipe --from "$T/big.log" --to "$T/rs.out" "$EX/redact_rs.wasm"
    check "Rust filter: exit 0" test "$RC" -eq 0
    check "Rust filter: the same 200,000 lines as the C one" cmp -s "$T/c.out" "$T/rs.out"
    check "Rust filter: addresses redacted" grep -q '^10\.4\.x\.x - ' "$T/rs.out"
    rm -f "$T/c.out" "$T/rs.out"
else
    fail "Rust filter" "$EX/redact_rs.wasm is missing: run make examples"
fi

# ---- filters that fail ----------------------------------------------------------
# A filter that emits every record, but traps on one that starts with "boom".
cat >"$T/boom.wat" <<'EOF'
(module
  (import "wasp" "emit" (func $emit (param i32 i32 i32 i32 i64) (result i32)))
  (memory (export "memory") 32)
  (func (export "wasp_filter_buffer") (param i32) (result i32)
    (select (i32.const 0) (i32.const 65536) (i32.gt_u (local.get 0) (i32.const 1900000))))
  (func (export "wasp_filter") (param $b i32) (param $n i32) (result i32) (local $i i32) (local $r i32)
    (block $done (loop $next
      (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
      (local.set $r (i32.add (local.get $b) (i32.mul (local.get $i) (i32.const 24))))
      (if (i32.and (i32.ge_u (i32.load offset=4 (local.get $r)) (i32.const 4))
                   (i32.eq (i32.load (i32.load (local.get $r))) (i32.const 0x6d6f6f62)))
        (then unreachable))
      (drop (call $emit (i32.load (local.get $r)) (i32.load offset=4 (local.get $r))
                        (i32.const 0) (i32.const -1) (i64.const 0)))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $next)))
    (i32.const 0)))
EOF
# One that never ends on "spin", and one that emits without end on "flood".
sed -e 's/(then unreachable)/(then (loop $l (br $l)))/' -e 's/0x6d6f6f62/0x6e697073/' \
    "$T/boom.wat" >"$T/spin.wat"
sed -e 's/(then unreachable)/(then (loop $l (br_if $l (i32.eqz (call $emit (i32.const 0) (i32.const 60000) (i32.const 0) (i32.const -1) (i64.const 0))))) (return (i32.const 7)))/' \
    -e 's/0x6d6f6f62/0x6f6f6c66/' "$T/boom.wat" >"$T/flood.wat"
# One whose init refuses its configuration; one that is not a filter.
sed -e 's/(memory (export "memory") 32)/(memory (export "memory") 32) (func (export "wasp_filter_init") (result i32) (i32.const 3))/' \
    "$T/boom.wat" >"$T/badinit.wat"
echo '(module (memory (export "memory") 1) (func (export "wasp_handle")))' >"$T/handler.wat"
for m in boom spin flood badinit handler; do
    wat2wasm "$T/$m.wat" -o "$T/$m.wasm" || fail "wat2wasm $m.wat"
done

printf 'one\nboom!\ntwo\nboomboom\nthree\n' >"$T/words"
pipe --from "$T/words" --dead-letter "$DEAD" "$T/boom.wasm"
check "trap: exit 0" test "$RC" -eq 0
check "trap: the other records go on, in order" test "$(tr '\n' ' ' <"$OUT")" = "one two three "
check "trap: two dead letters with the trap and where it was" \
    jq -e -s 'length == 2 and .[0].record == "boom!" and .[1].record == "boomboom" and
              all(.[]; .filter == "boom" and (.error | test("unreachable")))' "$DEAD"

printf 'a\nspin\nb\n' >"$T/spin.in"
pipe --from "$T/spin.in" --dead-letter "$DEAD" --deadline-ms 200 "$T/spin.wasm"
check "deadline: exit 0" test "$RC" -eq 0
check "deadline: the others go on" test "$(tr '\n' ' ' <"$OUT")" = "a b "
check "deadline: the record that spun is a dead letter" \
    jq -e -s 'length == 1 and .[0].record == "spin" and (.[0].error | test("deadline"))' "$DEAD"

printf 'a\nflood\nb\n' >"$T/flood.in"
pipe --from "$T/flood.in" --dead-letter "$DEAD" "$T/flood.wasm"
check "output limit: exit 0" test "$RC" -eq 0
check "output limit: the others go on" test "$(tr '\n' ' ' <"$OUT")" = "a b "
check "output limit: emit said no, the filter failed the record" \
    jq -e -s 'length == 1 and .[0].record == "flood" and (.[0].error | test("returned 7"))' "$DEAD"

# ---- a hostile filter: pointers outside its memory ------------------------------
# wasp_filter_buffer answering an address past the end of memory, and emit
# called with a range past it: clear errors per record, the process goes on.
sed -e 's/(i32.const 0) (i32.const 65536)/(i32.const 0) (i32.const 2147483000)/' \
    "$T/boom.wat" >"$T/badbuf.wat"
sed -e 's/(drop (call $emit (i32.load (local.get $r))/(drop (call $emit (i32.const -256)/' \
    "$T/boom.wat" >"$T/bademit.wat"
for m in badbuf bademit; do wat2wasm "$T/$m.wat" -o "$T/$m.wasm" || fail "wat2wasm $m.wat"; done
pipe --from "$T/words" --dead-letter "$DEAD" "$T/badbuf.wasm"
check "hostile buffer: exit 0, every record a dead letter saying why" \
    bash -c "[ $RC -eq 0 ] && [ ! -s '$OUT' ] && jq -e -s 'length == 5 and
             all(.[]; .error | test(\"gave no room for the batch\"))' '$DEAD' >/dev/null"
printf 'one\ntwo\nthree\n' >"$T/plain"
pipe --from "$T/plain" --dead-letter "$DEAD" "$T/bademit.wasm"
check "hostile emit: exit 0, every record a dead letter with the trap" \
    bash -c "[ $RC -eq 0 ] && [ ! -s '$OUT' ] && jq -e -s 'length == 3 and
             all(.[]; .error | test(\"out of bounds\"))' '$DEAD' >/dev/null"

# ---- filters that cannot run: nothing is read -----------------------------------
mkfifo "$T/never"  # opening it for reading would block: the pipeline must stop first
pipe --from "$T/never" "$T/badinit.wasm"
check "init refuses: exit 1 with the reason" \
    bash -c "[ $RC -eq 1 ] && grep -q 'wasp_filter_init returned 3' '$ERR'"
pipe --from "$T/never" "$T/handler.wasm"
check "not a filter: exit 1 with the reason" \
    bash -c "[ $RC -eq 1 ] && grep -q 'is not a filter' '$ERR'"
pipe --from "$T/never" "$T/nonexistent.wasm"
check "missing module: exit 1" bash -c "[ $RC -eq 1 ] && grep -q 'nonexistent.wasm' '$ERR'"
pipe --from "$T/access.log"
check "no filter: exit 2" test "$RC" -eq 2
pipe --from "$T/access.log" --format xml "$EX/keep5xx.wasm"
check "bad format: exit 2" test "$RC" -eq 2

# ---- an aggregate: counts per path per minute, its state in a kv store -------------
# 20,000 lines over three minutes and four paths, in two halves: the first
# run is stopped by SIGTERM (no window closes: the counts stay in the
# store), the second reads the rest to its end and closes every window.
# The counts must be those of the whole input.
if [ -f "$EX/count_paths.wasm" ]; then
    for ((i = 0; i < 20000; i++)); do
        printf '10.0.0.%d - - [07/Dec/2026:10:%02d:%02d +0000] "GET /p%d HTTP/1.1" 200 1\n' \
            $((i % 200)) $((i * 3 / 20000)) $((i % 60)) $((i * 7 % 4))
    done >"$T/agg.log"
    awk '{ split($4, t, ":"); m = substr($4, 2) ; m = substr(m, 1, 17); c[m "|" $7]++ }
         END { for (k in c) { split(k, a, "|"); printf "{\"minute\":\"%s\",\"path\":\"%s\",\"count\":%d}\n", a[1], a[2], c[k] } }' \
        "$T/agg.log" | sort >"$T/agg.want"
    head -n 10000 "$T/agg.log" >"$T/agg1.log"
    tail -n 10000 "$T/agg.log" >"$T/agg2.log"
    AGG=("$EX/access2json.wasm" "$EX/count_paths.wasm")
    mkfifo "$T/agg.fifo"
    exec 9<>"$T/agg.fifo"
    cat "$T/agg1.log" >&9 &
    "$WASP" pipe --tier "$TIER" --cache "$T/cache" --workers 2 --batch 100 \
        --kv counts="$T/counts.db" --from "$T/agg.fifo" "${AGG[@]}" >"$T/agg1.out" 2>"$T/agg1.err" &
    AGG_PID=$!
    # until the store has counted all of the first half
    for ((i = 0; i < 600; i++)); do
        [ "$(sqlite3 "$T/counts.db" "select sum(cast(v as integer)) from kv" 2>/dev/null)" = 10000 ] &&
            break
        sleep 0.05
    done
    kill -TERM "$AGG_PID"
    wait "$AGG_PID"
    RC=$?
    exec 9>&-
    check "aggregate: stopped by SIGTERM, exit 0" test "$RC" -eq 0
    check "aggregate: no window closed before the end of the input" test ! -s "$T/agg1.out"
    IN1=$(sed -n 's/.*: \([0-9]*\) records in.*/\1/p' "$T/agg1.err")
    check "aggregate: the first run read the first half ($IN1 records)" test "${IN1:-0}" -eq 10000
    pipe --workers 2 --batch 100 --kv counts="$T/counts.db" --from "$T/agg2.log" "${AGG[@]}"
    check "aggregate: the second run exits 0" test "$RC" -eq 0
    sort "$OUT" >"$T/agg.got"
    check "aggregate: counts per path and minute of the whole input, across the restart" \
        cmp -s "$T/agg.got" "$T/agg.want"
    check "aggregate: the closed windows left the store" \
        test "$(sqlite3 "$T/counts.db" 'select count(*) from kv' 2>/dev/null)" = 0
    pipe --from "$T/agg2.log" "${AGG[@]}"
    check "aggregate: without its store the filter refuses to start" \
        bash -c "[ $RC -eq 1 ] && grep -q 'needs a kv store named counts' '$ERR'"
else
    fail "aggregate" "$EX/count_paths.wasm is missing: run make examples"
fi

# ---- globs, and following a growing file ------------------------------------------
mkdir -p "$T/logs"
head -n 2 "$T/access.log" >"$T/logs/a.log"
printf 'no newline at the end' >"$T/logs/b.log"
tail -n 3 "$T/access.log" >"$T/logs/c.log"
pipe --from "$T/logs/*.log" "$EX/redact.wasm"
check "glob: every file, in name order, a last line without its newline kept" \
    bash -c "[ $RC -eq 0 ] && [ \"\$(sed -n 3p '$OUT')\" = 'no newline at the end' ] &&
             [ \$(wc -l <'$OUT') -eq 6 ] && grep -q '^10\.9\.x\.x' <(tail -n 1 '$OUT')"
pipe --from "$T/logs/*.nothing" "$EX/redact.wasm"
check "glob: no match is an error" bash -c "[ $RC -eq 1 ] && grep -q 'no file matches' '$ERR'"

cp "$T/access.log" "$T/grow.log"
"$WASP" pipe --tier "$TIER" --cache "$T/cache" --follow --from "$T/grow.log" \
    --dead-letter /dev/null "${CHAIN[@]}" >"$T/grow.out" 2>"$T/grow.err" &
GROW=$!
wait_lines "$T/grow.out" 2
printf '10.4.4.4 - - [07/Dec/2026:10:01:00 +0000] "GET /late HTTP/1.1" 502 1\n' >>"$T/grow.log"
wait_lines "$T/grow.out" 3
kill -TERM "$GROW"
wait "$GROW"
RC=$?
check "follow: exit 0 on SIGTERM" test "$RC" -eq 0
check "follow: a line appended while it ran comes out" grep -q '"path":"/late"' "$T/grow.out"

# ---- sinks: a key-value store, an HTTP endpoint --------------------------------------
sed -e 's/(i32.const 0) (i32.const -1) (i64.const 0)/(i32.load (local.get $r)) (i32.load offset=4 (local.get $r)) (i64.const 0)/' \
    "$T/boom.wat" >"$T/selfkey.wat" # each record emitted with itself as its key
wat2wasm "$T/selfkey.wat" -o "$T/selfkey.wasm" || fail "wat2wasm selfkey.wat"
printf 'one\ntwo\nthree\ntwo\n' >"$T/kv.in"
pipe --from "$T/kv.in" --to kv:sink --kv sink="$T/sink.db" "$T/selfkey.wasm"
check "kv sink: exit 0" test "$RC" -eq 0
check "kv sink: one key per distinct record" \
    test "$(sqlite3 "$T/sink.db" "select group_concat(cast(k as text), ',') from (select k from kv order by k)")" = "one,three,two"
pipe --from "$T/kv.in" --to kv:sink --kv sink="$T/sink.db" "$T/boom.wasm"
check "kv sink: records without a key stop the pipeline, saying why" \
    bash -c "[ $RC -eq 1 ] && grep -q 'without a key cannot be stored' '$ERR'"
pipe --from "$T/kv.in" --to kv:nosuch "$T/selfkey.wasm"
check "kv sink: an undeclared store is refused" bash -c "[ $RC -eq 1 ] && grep -q 'no store named nosuch' '$ERR'"

if command -v python3 >/dev/null; then
    cat >"$T/post.py" <<'PYEOF'
import http.server, sys
status, out = int(sys.argv[2]), sys.argv[3]
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        with open(out, "ab") as f:
            f.write(body)
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()
    def log_message(self, *a):
        pass
s = http.server.HTTPServer(("127.0.0.1", 0), H)
print(s.server_port, flush=True)
s.serve_forever()
PYEOF
    for st in 204 500; do
        : >"$T/posted.$st"
        python3 "$T/post.py" 0 "$st" "$T/posted.$st" >"$T/port.$st" &
        echo $! >"$T/server.$st"
        for ((i = 0; i < 100; i++)); do [ -s "$T/port.$st" ] && break; sleep 0.05; done
    done
    pipe --from "$T/access.log" --to "http://127.0.0.1:$(cat "$T/port.204")/ingest" \
        --dead-letter /dev/null --batch 2 "${CHAIN[@]}"
    check "http sink: exit 0" test "$RC" -eq 0
    check "http sink: the records arrive as NDJSON, in order" cmp -s "$T/posted.204" "$T/want"
    pipe --from "$T/access.log" --to "http://127.0.0.1:$(cat "$T/port.500")/ingest" \
        --dead-letter /dev/null "${CHAIN[@]}"
    check "http sink: a 500 stops the pipeline, saying so" \
        bash -c "[ $RC -eq 1 ] && grep -q 'answered 500' '$ERR'"
    kill "$(cat "$T/server.204")" "$(cat "$T/server.500")" 2>/dev/null
else
    fail "http sink" "python3 is needed for the test's HTTP server"
fi

# ---- CSV, and variables --------------------------------------------------------------
if [ -f "$EX/csv2json.wasm" ]; then
    printf 'id,name,city\n1,Ada,London\n2,"Grace ""Amazing"" Hopper","New York, NY"\n3,Alan,Wilmslow,extra\n' \
        >"$T/people.csv"
    pipe --format csv --from "$T/people.csv" --dead-letter "$DEAD" "$EX/csv2json.wasm"
    check "csv: exit 0" test "$RC" -eq 0
    check "csv: rows as objects named by the header, quotes and commas kept" \
        jq -e -s 'length == 2 and .[0] == {"id":"1","name":"Ada","city":"London"} and
                  .[1].name == "Grace \"Amazing\" Hopper" and .[1].city == "New York, NY"' "$OUT"
    check "csv: a row longer than the header is a dead letter" \
        jq -e -s 'length == 1 and .[0].record == "3,Alan,Wilmslow,extra"' "$DEAD"
    printf '7,Lovelace\n' | timeout 60 "$WASP" pipe --tier "$TIER" --cache "$T/cache" \
        --var csv_header=id,name "$EX/csv2json.wasm" >"$OUT" 2>"$ERR"
    RC=$?
    check "--var: a filter reads it" \
        bash -c "[ $RC -eq 0 ] && jq -e '. == {\"id\":\"7\",\"name\":\"Lovelace\"}' '$OUT'"
    pipe --from "$T/people.csv" "$EX/csv2json.wasm"
    check "csv: without the header variable the filter refuses to start" \
        bash -c "[ $RC -eq 1 ] && grep -q 'needs wasp pipe --format csv' '$ERR'"
    : >"$T/empty.csv"
    pipe --format csv --from "$T/empty.csv" "$EX/csv2json.wasm"
    check "csv: an empty input has no header: exit 1 with the reason" \
        bash -c "[ $RC -eq 1 ] && grep -q 'no CSV header' '$ERR'"
else
    fail "csv" "$EX/csv2json.wasm is missing: run make examples"
fi

# ---- SIGTERM: what was read is written, then exit 0 --------------------------------
mkfifo "$T/in.fifo"
exec 8<>"$T/in.fifo" # a writer that stays: the source never reaches its end
cat "$T/access.log" >&8
"$WASP" pipe --tier "$TIER" --cache "$T/cache" --from "$T/in.fifo" --dead-letter "$T/term.dead" \
    "${CHAIN[@]}" >"$T/term.out" 2>"$T/term.err" &
TERM_PID=$!
wait_lines "$T/term.out" 2
kill -TERM "$TERM_PID"
wait "$TERM_PID"
RC=$?
exec 8>&-
check "SIGTERM: exit 0" test "$RC" -eq 0
check "SIGTERM: everything read was written" cmp -s "$T/term.out" "$T/want"
check "SIGTERM: and its dead letter" grep -q 'this line is not a log line' "$T/term.dead"
check "SIGTERM: the summary says it was stopped" \
    grep -q "stopped by a signal: 5 records in, 2 out, 1 dead letters" "$T/term.err"

# ---- on a terminal: a progress line every second ----------------------------------
if command -v script >/dev/null; then
    mkfifo "$T/slow.fifo"
    (for i in 1 2 3; do cat "$T/access.log"; sleep 1; done) >"$T/slow.fifo" &
    script -qfec "'$WASP' pipe --tier $TIER --cache '$T/cache' --from '$T/slow.fifo' --to /dev/null \
        --dead-letter /dev/null '$EX/access2json.wasm'" /dev/null >"$T/tty.out" 2>&1
    RC=$?
    check "terminal: exit 0" test "$RC" -eq 0
    check "terminal: progress lines while it runs" \
        grep -qE 'records in, [0-9]+ out, [0-9]+ dead letters, [0-9]+ records/s, [12] s' "$T/tty.out"
    check "terminal: then the summary" grep -q '15 records in, 12 out, 3 dead letters' "$T/tty.out"
else
    fail "terminal" "script (bsdutils) is needed to give wasp pipe a terminal"
fi

# ---- a sink slower than the source: memory stays bounded --------------------------
# 600,000 lines (110 MiB) into a pipe nobody reads for 4 s: once the pipe
# is full the sink waits, the window of batches in flight fills, and the
# source stops reading. Read all at once, the input alone would pass the
# bound.
yes "$(printf 'x%.0s' {1..180})" | head -n 600000 >"$T/wide.txt"
(bash -c 'echo $$ >"$0"; exec "$@"' "$T/wide.pid" "$WASP" pipe --tier "$TIER" --cache "$T/cache" \
    --from "$T/wide.txt" "$T/boom.wasm" 2>"$T/wide.err" | (sleep 4; wc -l >"$T/wide.count")) &
WIDE=$!
sleep 3
HWM=$(awk '/^VmHWM/ { print $2 }' "/proc/$(cat "$T/wide.pid")/status" 2>/dev/null || echo 0)
check "slow sink: still waiting for its reader after 3 s" test "$HWM" -gt 0
check "slow sink: peak RSS under 64 MiB with 110 MiB of input ($HWM KiB)" test "$HWM" -lt 65536
wait "$WIDE"
check "slow sink: every line comes out once the reader reads" \
    test "$(cat "$T/wide.count" 2>/dev/null)" = 600000
rm -f "$T/wide.txt"

# ---- Redis Streams: a consumer group of three, one killed with -9 ------------------
# The same filter as boom.wat, but passing each record's key (the entry's
# id) through to its output, so that every input can be traced.
sed -e 's/(i32.const 0) (i32.const -1) (i64.const 0)/(i32.load offset=8 (local.get $r)) (i32.load offset=12 (local.get $r)) (i64.const 0)/' \
    "$T/boom.wat" >"$T/keyed.wat"
wat2wasm "$T/keyed.wat" -o "$T/keyed.wasm" || fail "wat2wasm keyed.wat"
REDIS_PID=
if ! command -v redis-server >/dev/null || ! command -v redis-cli >/dev/null; then
    fail "Redis" "redis-server and redis-cli are needed (bash scripts/setup.sh installs them)"
else
    # A loopback port nothing answers on, below the kernel's ephemeral range
    # (32768 and up): a port there can be some connection's local end, which
    # the probe does not see and redis-server cannot bind. If the server still
    # exits (another test took the port meanwhile), try another one.
    trap 'kill -9 $REDIS_PID 2>/dev/null; rm -rf "$T"' EXIT
    for ((try = 0; try < 5; try++)); do
        for ((PORT = 20000 + RANDOM % 12000; ; PORT++)); do
            (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null || break
        done
        redis-server --port "$PORT" --bind 127.0.0.1 --save '' --appendonly no --dir "$T" \
            >>"$T/redis.log" 2>&1 &
        REDIS_PID=$!
        for ((i = 0; i < 200; i++)); do
            redis-cli -p "$PORT" ping 2>/dev/null | grep -q PONG && break 2
            kill -0 "$REDIS_PID" 2>/dev/null || break
            sleep 0.1
        done
        kill -9 "$REDIS_PID" 2>/dev/null
        wait "$REDIS_PID" 2>/dev/null
    done
    redis-cli -p "$PORT" ping 2>/dev/null | grep -q PONG ||
        fail "Redis: redis-server starts" "$(tail -n 5 "$T/redis.log")"
    # 200,000 entries; every 10,000th is "boom" and traps the filter
    for ((i = 0; i < 200000; i++)); do
        if ((i % 10000 == 5000)); then echo "XADD in * value boom-$i"; else echo "XADD in * value rec-$i"; fi
    done | redis-cli -p "$PORT" --pipe >"$T/fill.log" 2>&1
    check "Redis: the stream holds 200,000 entries" \
        test "$(redis-cli -p "$PORT" XLEN in)" -eq 200000
    SRC="redis://127.0.0.1:$PORT/in?group=g&claim-idle-ms=1500&idle-exit-ms=3000"
    declare -a PIDS
    for c in 1 2 3; do
        timeout 180 "$WASP" pipe --tier "$TIER" --cache "$T/cache" --workers 1 --batch 500 \
            --from "$SRC&consumer=c$c" --to "redis://127.0.0.1:$PORT/out" \
            --dead-letter "redis://127.0.0.1:$PORT/dead" "$T/keyed.wasm" \
            >"$T/c$c.out" 2>"$T/c$c.err" &
        PIDS[$c]=$!
    done
    # kill the second consumer once the work is under way
    for ((i = 0; i < 600; i++)); do
        [ "$(redis-cli -p "$PORT" XLEN out)" -ge 30000 ] && break
        sleep 0.05
    done
    kill -9 "${PIDS[2]}"
    wait "${PIDS[2]}" 2>/dev/null
    LEFT=$(redis-cli -p "$PORT" XPENDING in g - + 100000 c2 | awk 'NR % 4 == 1' | wc -l)
    STATUS=0
    for c in 1 3; do
        wait "${PIDS[$c]}" || STATUS=$?
    done
    check "Redis: the two consumers left finish and exit 0" test "$STATUS" -eq 0
    check "Redis: the killed consumer left entries pending (read, not acknowledged)" \
        test "$LEFT" -gt 0
    # every input id: in the output's keys, or a dead letter's
    redis-cli -p "$PORT" XRANGE in - + | awk 'NR % 3 == 1' | sort >"$T/in.ids"
    redis-cli -p "$PORT" XRANGE out - + | awk 'prev == "key" { print } { prev = $0 }' | sort >"$T/out.ids"
    redis-cli -p "$PORT" XRANGE dead - + | awk 'prev == "value" { print } { prev = $0 }' >"$T/dead.json"
    jq -r '.key' "$T/dead.json" | sort >"$T/dead.ids"
    sort -u "$T/out.ids" "$T/dead.ids" >"$T/seen.ids"
    MISSING=$(comm -23 "$T/in.ids" "$T/seen.ids" | wc -l)
    DUPS=$(($(wc -l <"$T/out.ids") - $(sort -u "$T/out.ids" | wc -l)))
    echo "pipe: Redis: 200000 entries, the killed consumer left $LEFT pending; $(wc -l <"$T/out.ids") outputs ($DUPS duplicates), $(wc -l <"$T/dead.ids") dead letters, $MISSING missing" >&2
    check "Redis: no input is missing (at least once)" test "$MISSING" -eq 0
    check "Redis: duplicates only from the killed consumer's unacknowledged batches" \
        test "$DUPS" -le 2000
    check "Redis: the 20 trapping entries are dead letters with their error" \
        jq -e -s 'length >= 20 and (map(.record) | unique | length) == 20 and
                  all(.[]; (.record | startswith("boom-")) and (.error | test("unreachable")))' \
        "$T/dead.json"
    check "Redis: nothing is left pending in the group" \
        test "$(redis-cli -p "$PORT" XPENDING in g | head -n 1)" -eq 0
    pipe --from "redis://127.0.0.1:1/in?group=g" "$T/keyed.wasm"
    check "Redis: a server that is not there stops the pipeline with the reason" \
        bash -c "[ $RC -eq 1 ] && grep -q 'cannot connect to Redis at 127.0.0.1:1' '$ERR'"
    pipe --from "redis://127.0.0.1:$PORT/in" "$T/keyed.wasm"
    check "Redis: a source without a group is refused" \
        bash -c "[ $RC -eq 1 ] && grep -q 'group=G' '$ERR'"
    kill -9 "$REDIS_PID" 2>/dev/null
    wait "$REDIS_PID" 2>/dev/null
fi

# a filter is not an HTTP handler
timeout 20 "$WASP" serve --tier interp --listen 127.0.0.1:0 --admin off "$EX/keep5xx.wasm" \
    >"$OUT" 2>"$ERR"
RC=$?
check "serve refuses a filter, saying what it is" \
    bash -c "[ $RC -eq 1 ] && grep -q 'is a filter (it exports wasp_filter), not an HTTP handler' '$ERR'"

summary "pipe: $TIER tier"
