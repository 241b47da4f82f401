#!/usr/bin/env bash
# build.sh - builds wasp's container image with Debian's podman:
#
#   bash deploy/container/build.sh [WASP_BINARY] [TAG]     (default build/wasp, localhost/wasp:latest)
#
# The root filesystem is assembled in build/container/rootfs (rootfs.sh),
# then `podman build` copies it into an image FROM scratch.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
WASP=${1:-$ROOT/build/wasp}
TAG=${2:-localhost/wasp:latest}
CTX=$ROOT/build/container
mkdir -p "$CTX"
bash "$HERE/rootfs.sh" "$WASP" "$CTX/rootfs"
cp "$HERE/Containerfile" "$CTX/Containerfile"
podman build --quiet -t "$TAG" -f "$CTX/Containerfile" "$CTX"
