#!/usr/bin/env bash
# container.sh - builds wasp's image with podman (deploy/container/build.sh)
# and runs its root filesystem: exported from the image, entered with
# chroot as the image's user (running containers is not possible on the
# test machines), with the image's environment, serving the example
# manifest. Checks that the image holds what wasp needs and nothing from
# the build, and that it serves, logs to stdout and stops on SIGTERM.
#
#   bash tests/deploy/container.sh build/wasp      (make deploy-test)
#
# The last line is "container: N passed, N failed".
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
WASP=$(readlink -f "${1:-$ROOT/build/wasp}")
WORK=$ROOT/build/deploy-test/container
TAG=localhost/wasp:test
. "$ROOT/tests/lib.sh"
finish() {
    [ -n "${PID:-}" ] && kill -9 "$PID" 2>/dev/null
    for m in "${MOUNTS[@]}"; do umount "$m" 2>/dev/null; done
    [ -n "${CID:-}" ] && podman rm -f "$CID" >/dev/null 2>&1
    podman rmi -f "$TAG" >/dev/null 2>&1
    summary container
}
trap 'finish; exit $?' EXIT

rm -rf "$WORK"
mkdir -p "$WORK"
if ! bash "$ROOT/deploy/container/build.sh" "$WASP" "$TAG" >"$WORK/build.log" 2>&1; then
    fail "podman build" "$(tail -5 "$WORK/build.log")"
    exit 1
fi
pass

# the image's configuration
cfg=$(podman image inspect "$TAG" --format '{{json .Config}}')
check "the image runs as the non-root user 10001" test "$(echo "$cfg" | jq -r .User)" = 10001:10001
check "... wasp serve /etc/wasp/wasp.yaml" test "$(echo "$cfg" | jq -c '[.Entrypoint, .Cmd]')" = \
    '[["/usr/local/bin/wasp"],["serve","/etc/wasp/wasp.yaml"]]'
check "... stops on SIGTERM" test "$(echo "$cfg" | jq -r .StopSignal)" = SIGTERM

# its root filesystem
CID=$(podman create "$TAG")
RFS=$WORK/rootfs
mkdir -p "$RFS"
podman export "$CID" | tar -x -C "$RFS"
check "wasp is in the image" test -x "$RFS/usr/local/bin/wasp"
check "CA certificates are" test -s "$RFS/etc/ssl/certs/ca-certificates.crt"
check "the user is in /etc/passwd" grep -q '^wasp:x:10001:10001:' "$RFS/etc/passwd"
for so in libh2o-evloop.so.0.13 libyaml-0.so.2 libsqlite3.so.0 libhiredis.so.0.14 libpq.so.5 \
    libcurl.so.4 libLLVM.so.19.1 libsodium.so.23 libc.so.6; do
    check "the image has $so (and the loader finds it)" grep -qa "$so" "$RFS/etc/ld.so.cache"
done
# nothing from the build: no shell, compiler, headers, objects, sources
found=$(cd "$RFS" && find . \( -name '*.o' -o -name '*.a' -o -name '*.c' -o -name '*.h' \
    -o -name sh -o -name bash -o -name gcc -o -name cc -o -name 'clang*' -o -name apt \
    -o -name dpkg -o -path './usr/include*' -o -path './work*' -o -path './root*' \) -print | head -5)
check "nothing from the build (no shell, compiler, headers, objects, sources)" test -z "$found"
writable=$(cd "$RFS" && find . -xdev \( -uid 10001 -o -perm -o+w \) ! -type l -print | sort | tr '\n' ' ')
check "the user can write only /tmp, the code cache and /var/lib/wasp" test \
    "$writable" = "./tmp ./var/cache/wasp ./var/lib/wasp "

# run it: chroot as the image's user, with the image's environment
read -r PORT APORT < <(python3 -c 'import socket
s=[socket.socket() for _ in range(2)]
[x.bind(("127.0.0.1",0)) for x in s]
print(*[x.getsockname()[1] for x in s])')
# as Kubernetes runs it (deploy/k8s): the root filesystem read-only, with
# emptyDirs (here tmpfs) at /tmp and the code cache
RO=$WORK/ro
mkdir -p "$RO"
MOUNTS=()
mnt() { mount "$@" && MOUNTS=("${!#}" "${MOUNTS[@]}"); }
if mnt --bind "$RFS" "$RO" && mount -o remount,bind,ro "$RO" &&
    mnt -t proc proc "$RO/proc" && mnt -t tmpfs -o mode=1777,size=64m tmpfs "$RO/tmp" &&
    mnt -t tmpfs -o mode=1777,size=256m tmpfs "$RO/var/cache/wasp"; then
    pass
else
    fail "the image's root filesystem mounted read-only, with tmpfs at /tmp and /var/cache/wasp (needs root)"
fi
check "... it is read-only" bash -c "! touch '$RO/etc/x' 2>/dev/null"
mapfile -t ENV < <(echo "$cfg" | jq -r '.Env[]' | grep -v '^WASP_LISTEN=\|^WASP_ADMIN=')
env -i "${ENV[@]}" WASP_LISTEN=127.0.0.1:$PORT WASP_ADMIN=127.0.0.1:$APORT \
    chroot --userspec=10001:10001 "$RO" /usr/local/bin/wasp serve /etc/wasp/wasp.yaml \
    >"$WORK/stdout" 2>"$WORK/stderr" &
PID=$!
for _ in $(seq 1 100); do
    curl -sf "http://127.0.0.1:$APORT/readyz" >/dev/null 2>&1 && break
    sleep 0.1
done
check "it starts: /readyz 200" curl -sf "http://127.0.0.1:$APORT/readyz" -o /dev/null
body=$(curl -s "http://127.0.0.1:$PORT/hello")
check "it serves the example: GET /hello" test "$body" = "hello, world"
kill -TERM "$PID"
rc=0
for _ in $(seq 1 100); do kill -0 "$PID" 2>/dev/null || break; sleep 0.1; done
if kill -0 "$PID" 2>/dev/null; then
    fail "SIGTERM stops it within 10 s"
else
    wait "$PID"
    rc=$?
    PID=
    check "SIGTERM: it stops with 0" test "$rc" -eq 0
fi
check "it logs to stdout, JSON: the request's line" \
    jq -s -e 'map(select(.path == "/hello")) | length == 1 and .[0].status == 200' "$WORK/stdout" >/dev/null
check "... and its events (stopped)" jq -s -e 'any(.[]; .event == "stopped")' "$WORK/stdout" >/dev/null
check "... the code cache written to its volume (no Permission denied)" \
    jq -s -e 'all(.[]; (.event // "") | test("not written") | not)' "$WORK/stdout" >/dev/null
check "... and nothing on stderr" test ! -s "$WORK/stderr"
