# lib.sh - what the bench-http scripts share (sourced by serve.sh, caps.sh, waits.sh):
# free ports, a server's process tree, and the Redis and PostgreSQL servers that the
# capability benchmarks start on loopback. Needs `die` defined by the caller.

PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# Every process of a tree: the root and its descendants (node's cluster workers).
tree_pids() {
  ps -e -o pid=,ppid= | awk -v root="$1" '
    { parent[$1] = $2; pids[NR] = $1 }
    END {
      keep[root] = 1; changed = 1
      while (changed) {
        changed = 0
        for (i in pids) { p = pids[i]; if (!(p in keep) && (parent[p] in keep)) { keep[p] = 1; changed = 1 } }
      }
      for (p in keep) print p
    }'
}

# Stops the server whose pid is in server_pid, and its whole tree: SIGTERM first (wasp
# drains, node's master stops its workers), then SIGKILL stragglers.
stop_server() {
  [ -n "$server_pid" ] || return 0
  local pids
  pids=$(tree_pids "$server_pid")
  kill -TERM "$server_pid" 2>/dev/null || true
  for _ in $(seq 50); do
    kill -0 "$server_pid" 2>/dev/null || break
    sleep 0.1
  done
  for p in $pids; do kill -KILL "$p" 2>/dev/null || true; done
  wait "$server_pid" 2>/dev/null || true
  server_pid=""
}

# start_services DIR: Redis and PostgreSQL (fsync off: the benchmarks read) on free loopback
# ports, their data and logs under DIR; sets RPORT and PPORT, appends their pids to PIDS,
# creates the database "bench". PostgreSQL runs as the postgres system user.
start_services() {
  local dir=$1
  RPORT=$(free_port)
  redis-server --port "$RPORT" --bind 127.0.0.1 --save '' --appendonly no --daemonize no >"$dir/redis.log" 2>&1 &
  PIDS+=($!)
  PPORT=$(free_port)
  mkdir -p "$dir/pg" && chown postgres "$dir/pg"
  runuser -u postgres -- "$PGBIN/initdb" -D "$dir/pg/data" -A trust -U wasp >"$dir/initdb.log" 2>&1 \
    || die "initdb failed: $(tail -3 "$dir/initdb.log")"
  runuser -u postgres -- "$PGBIN/postgres" -D "$dir/pg/data" -k "$dir/pg" -p "$PPORT" \
    -c listen_addresses=127.0.0.1 -c fsync=off >"$dir/pg.log" 2>&1 &
  PIDS+=($!)
  for _ in $(seq 100); do
    "$PGBIN/pg_isready" -q -h 127.0.0.1 -p "$PPORT" && redis-cli -p "$RPORT" ping >/dev/null 2>&1 && break
    sleep 0.1
  done
  "$PGBIN/pg_isready" -q -h 127.0.0.1 -p "$PPORT" || die "PostgreSQL did not start: $(tail -3 "$dir/pg.log")"
  redis-cli -p "$RPORT" ping >/dev/null 2>&1 || die "Redis did not start: $(tail -3 "$dir/redis.log")"
  psql -q -h 127.0.0.1 -p "$PPORT" -U wasp -d postgres -c "CREATE DATABASE bench" >/dev/null
}

# build_capread DIR: bench/http/guests/capread.c as DIR/capread.wasm, built like
# examples/serve/*.c.
build_capread() {
  local cc="clang-14 --target=wasm32-wasi --sysroot=/usr"
  $cc -O2 -msign-ext -mbulk-memory -mnontrapping-fptoint -Isdk/c -c bench/http/guests/capread.c -o "$1/capread.o"
  $cc -O0 -mexec-model=reactor -Wl,--strip-debug -o "$1/capread.wasm" "$1/capread.o"
}
