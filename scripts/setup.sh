#!/usr/bin/env bash
# Installs the Debian 12 packages that wasp's build, tests and benchmarks need.
# Idempotent: packages already installed are skipped, so a second run takes a moment.
# Needs root (or sudo) only when something is missing.
set -euo pipefail

PKGS=(
  build-essential make pkg-config
  clang-14 lld-14 libclang-rt-14-dev   # sanitizers and libFuzzer (make fuzz, make test)
  wabt                                  # wast2json for the spec testsuite, wat2wasm for examples/
  libjansson-dev                        # JSON reader for the spec runner's command lists
  jq                                    # checks `wasp inspect --json` output (tests/cli)
  hyperfine nodejs                      # make bench: timing, and V8 as the reference engine
  wasi-libc libclang-rt-14-dev-wasm32   # C guests for wasm32-wasi (tests/wasi, examples)
  rustc libstd-rust-dev-wasm32          # Rust guests for wasm32-wasi (tests/wasi, examples)
  cargo librust-serde-json-dev librust-serde-derive-dev  # bench/http's Rust serde_json handler, built offline
  libh2o-evloop-dev libssl-dev          # HTTP front end (docs/design/http.md); h2o.h includes openssl/ssl.h
  libyaml-dev                           # wasp serve's manifests (wasp.yaml)
  libsqlite3-dev libhiredis-dev         # key-value stores: SQLite (default) and Redis backends
  libsodium-dev                         # the encrypted secrets file
  redis-server redis-tools              # tests start a real Redis on loopback (not as a service); redis-cli
  sqlite3                               # tests/pipe: reads an aggregate's SQLite store
  libpq-dev postgresql                  # SQL: PostgreSQL client library; tests start a real server
  libcurl4-openssl-dev                  # outbound HTTP from guests
  python3                               # tests/serve: the end-to-end HTTP test driver
  tmux                                  # tests/serve: drives `wasp top` in a terminal
  podman                                # deploy/container: builds the image (tests/deploy)
  haproxy                               # tests/serve: the balancer in front of three replicas (scale-out)
  libevent-dev libmicrohttpd-dev wrk curl  # bench/http: the HTTP library comparison and its load
  llvm-19-dev                           # the native tier: LLVM's C headers to build, libLLVM-19 loaded to compile
)

missing=()
for p in "${PKGS[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q '^install ok installed$'; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

echo "setup: installing ${missing[*]}"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
