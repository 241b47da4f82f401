#!/usr/bin/env bash
# modules.sh - copies the example modules the manifests serve into
# deploy/k8s/base/modules/, where the kustomizations' configMapGenerators
# take them from (they are build outputs: `make examples` makes them).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
mkdir -p "$HERE/base/modules"
for m in examples/serve/hello.wasm examples/serve/json.wasm examples/notes/notes.wasm \
    examples/serve/todos.wasm; do
    if [ ! -f "$ROOT/$m" ]; then
        echo "modules.sh: $m is missing: run make examples first" >&2
        exit 1
    fi
    cp "$ROOT/$m" "$HERE/base/modules/"
done
echo "modules.sh: copied the modules into ${HERE#"$ROOT"/}/base/modules/"
