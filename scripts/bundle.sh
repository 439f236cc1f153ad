#!/usr/bin/env bash
# Bundles the CLI (cli/main.ts and everything it imports, dependencies included) with esbuild into
# dist/bundle/: main.js plus one chunk per lazily imported command and shared part (--splitting), so a
# command loads only its own code — the agent never parses the Kubernetes client or express. This is
# what the image runs (Dockerfile: /app/dist/bundle/main.js, no node_modules in the image).
# Files the code reads at run time beside its module, found there because every chunk sits in the one
# folder: the CSI plugin's .proto files (node-agent/csi/proto.ts). Found above it: package.json (the
# version, lib/build-info.ts) and manifests/node-agent/static-pod.yaml (cli/static-pod.ts).
# Usage: scripts/bundle.sh [OUTDIR]   (default dist/bundle)
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
OUT="${1:-dist/bundle}"
rm -rf "$OUT"
# ESM output: the CommonJS dependencies call require() for Node's built-ins, which an ES module lacks;
# the banner gives every chunk one made from its own URL.
node_modules/.bin/esbuild cli/main.ts --bundle --platform=node --format=esm --target=node24 \
  --splitting --outdir="$OUT" --chunk-names='[name]-[hash]' \
  --banner:js="import { createRequire as __socatRelayRequire } from 'node:module'; const require = __socatRelayRequire(import.meta.url);" \
  --log-level=warning
cp node-agent/csi/*.proto "$OUT/"
