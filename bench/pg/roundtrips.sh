#!/usr/bin/env bash
# roundtrips.sh - builds bench/pg/roundtrips.c and runs it against a PostgreSQL started
# here on loopback (as bench/http/caps.sh and waits.sh start theirs), with the bench table
# of the PostgreSQL row. Prints queries per second for the query alone and with a second
# round trip per query (wasp's reset, parts of it, SELECT 1).
set -euo pipefail
cd "$(dirname "$0")/../.."
die() { echo "bench-pg: $*" >&2; exit 1; }
. bench/http/lib.sh
WORK=$(mktemp -d /tmp/wasp-bench-pg.XXXXXX)
chmod 755 "$WORK"
PIDS=()
trap 'for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$WORK"' EXIT
start_services "$WORK"
psql -q -h 127.0.0.1 -p "$PPORT" -U wasp -d bench -c \
  "CREATE TABLE bench (id int PRIMARY KEY, v text NOT NULL);
   INSERT INTO bench SELECT g, 'another row' FROM generate_series(1, 1000) g" >/dev/null
cc -O2 -o "$WORK/roundtrips" bench/pg/roundtrips.c -I/usr/include/postgresql -lpq -lpthread
"$WORK/roundtrips" "host=127.0.0.1 port=$PPORT user=wasp dbname=bench"
