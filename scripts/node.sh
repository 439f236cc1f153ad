#!/usr/bin/env bash
# `bash scripts/node.sh ARGS…` = `node ARGS…` under Node >= 24 (see node-env.sh); the npm scripts for the
# demo and the benchmarks run through it, so they and every process they spawn use the supported runtime.
set -euo pipefail
. "$(dirname "$0")/node-env.sh"
use_node24 || { echo "[node] Node >= $NODE_MIN_MAJOR is missing: run 'bash scripts/setup.sh' first" >&2; exit 1; }
exec node "$@"
