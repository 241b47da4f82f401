#!/usr/bin/env bash
# run.sh - checks deploy/: every Kubernetes object of deploy/k8s (base and
# overlays) against the Kubernetes schema (tests/deploy/validate.mjs, with
# the npm packages of tests/deploy/package-lock.json installed into
# build/deploy-test/ by npm ci: test tooling only, nothing of it ships).
#
#   bash tests/deploy/run.sh          (make deploy-test; make examples first)
#
# The last line is "deploy: N passed, N failed"; exit status 1 on failure.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
WORK=$ROOT/build/deploy-test
mkdir -p "$WORK"
cp "$HERE/package.json" "$HERE/package-lock.json" "$HERE/validate.mjs" "$WORK/"
if ! (cd "$WORK" && npm ci --no-audit --no-fund --loglevel=error >npm.log 2>&1); then
    echo "FAIL: npm ci of the test tooling (kubernetes-models, yaml) in $WORK:" >&2
    tail -5 "$WORK/npm.log" >&2
    echo "deploy: 0 passed, 1 failed"
    exit 1
fi
bash "$ROOT/deploy/k8s/modules.sh" >/dev/null
node "$WORK/validate.mjs" "$ROOT/deploy/k8s"
