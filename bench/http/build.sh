#!/usr/bin/env bash
# Builds the three hello-world servers of the HTTP library comparison (docs/design/http.md)
# into build/bench/http/: hello_h2o, hello_evhttp, hello_mhd. gcc -O2, the libraries from
# Debian 12 (libh2o-evloop-dev, libevent-dev, libmicrohttpd-dev; libssl-dev for h2o's header).
set -euo pipefail
cd "$(dirname "$0")/../.."
OUT=build/bench/http
mkdir -p "$OUT"
CC=${CC:-gcc}
CFLAGS=(-std=c11 -D_GNU_SOURCE -O2 -g -Wall -Wextra -pthread)

"$CC" "${CFLAGS[@]}" bench/http/hello_h2o.c -o "$OUT/hello_h2o" \
  $(pkg-config --cflags --libs libh2o-evloop)
"$CC" "${CFLAGS[@]}" bench/http/hello_evhttp.c -o "$OUT/hello_evhttp" \
  $(pkg-config --cflags --libs libevent)
"$CC" "${CFLAGS[@]}" bench/http/hello_mhd.c -o "$OUT/hello_mhd" \
  $(pkg-config --cflags --libs libmicrohttpd)
echo "built $OUT/hello_h2o $OUT/hello_evhttp $OUT/hello_mhd"
