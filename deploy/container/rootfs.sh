#!/usr/bin/env bash
# rootfs.sh - assembles the root filesystem of wasp's container image from
# a built wasp: the binary, the shared libraries it loads (linked, and
# opened at run time: h2o, libyaml, SQLite, hiredis, libpq, libcurl,
# libLLVM for the native tier) with everything they need in turn, the
# dynamic loader, CA certificates, name resolution, a non-root user, and
# the example manifest and modules. Nothing else: no shell, no compiler,
# no package manager.
#
#   bash deploy/container/rootfs.sh WASP_BINARY OUTDIR
#
# The Containerfile beside it copies OUTDIR into an image FROM scratch
# (deploy/container/build.sh does both, with podman).
set -euo pipefail
if [ $# -ne 2 ]; then
    echo "usage: deploy/container/rootfs.sh WASP_BINARY OUTDIR" >&2
    exit 2
fi
WASP=$(readlink -f "$1")
OUT=$2
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
UID_WASP=10001

rm -rf "$OUT"
umask 022
mkdir -p "$OUT"/usr/local/bin "$OUT"/etc/wasp/modules "$OUT"/etc/ssl/certs "$OUT"/tmp \
    "$OUT"/var/cache/wasp "$OUT"/var/lib/wasp "$OUT"/proc "$OUT"/dev
chmod 1777 "$OUT/tmp"
install -m 0755 "$WASP" "$OUT/usr/local/bin/wasp"

# The libraries wasp opens with dlopen (src/util/dynlib.h, src/wasm/jit_llvm.c),
# found where the loader finds them on this machine.
DLOPENED=(libh2o-evloop.so.0.13 libyaml-0.so.2 libsqlite3.so.0 libhiredis.so.0.14 libpq.so.5
    libcurl.so.4 libLLVM.so.19.1 libnss_dns.so.2 libnss_files.so.2 libresolv.so.2)
libs=()
cache=$(ldconfig -p) # once, whole: a reader that stops early would make it die of SIGPIPE
for so in "${DLOPENED[@]}"; do
    p=$(awk -v n="$so" '$1 == n && /x86-64/ && !found {print $NF; found = 1}' <<<"$cache")
    if [ -z "$p" ]; then
        echo "rootfs.sh: $so is not installed (bash scripts/setup.sh installs it)" >&2
        exit 1
    fi
    libs+=("$p")
done
# copy FILE: the file at the same path (symlinks followed, the link kept too)
copy() {
    local f=$1
    [ -e "$OUT$f" ] && return
    mkdir -p "$OUT$(dirname "$f")"
    if [ -L "$f" ]; then
        local target
        target=$(readlink -f "$f")
        copy "$target"
        ln -s "$target" "$OUT$f"
    else
        cp "$f" "$OUT$f"
    fi
}
# every library the binary and the opened ones need, and the loader
for f in "$WASP" "${libs[@]}"; do
    [ "$f" != "$WASP" ] && copy "$f"
    ldd "$f" | awk '/=> \// {print $3} /^\t\/lib/ {print $1}' | while read -r dep; do
        copy "$dep"
    done
done
copy /lib64/ld-linux-x86-64.so.2

# the loader's cache, so the sonames wasp asks for resolve in the image
mkdir -p "$OUT/etc"
ldconfig -r "$OUT" 2>/dev/null || true

cp /etc/ssl/certs/ca-certificates.crt "$OUT/etc/ssl/certs/"
cat >"$OUT/etc/passwd" <<EOF
root:x:0:0:root:/nonexistent:/usr/sbin/nologin
wasp:x:$UID_WASP:$UID_WASP:wasp:/nonexistent:/usr/sbin/nologin
EOF
cat >"$OUT/etc/group" <<EOF
root:x:0:
wasp:x:$UID_WASP:
EOF
printf 'hosts: files dns\n' >"$OUT/etc/nsswitch.conf"
printf '127.0.0.1 localhost\n::1 localhost\n' >"$OUT/etc/hosts"

# the example manifest, for a first run; mount your own at /etc/wasp
for m in examples/serve/hello.wasm examples/serve/json.wasm; do
    if [ ! -f "$ROOT/$m" ]; then
        echo "rootfs.sh: $m is missing: run make examples first" >&2
        exit 1
    fi
    cp "$ROOT/$m" "$OUT/etc/wasp/modules/"
done
cp "$ROOT/deploy/k8s/base/wasp.yaml" "$OUT/etc/wasp/wasp.yaml"
# where wasp writes (its native-code cache, SQLite files), like /tmp: COPY
# makes every file of an image root's, so the mode says who may write
chmod 1777 "$OUT/var/cache/wasp" "$OUT/var/lib/wasp"
echo "rootfs.sh: $(du -sh "$OUT" | cut -f1) in $OUT"
