#!/usr/bin/env bash
# Bundles the CLI (cli/main.ts and everything it imports, dependencies included) with esbuild into
# dist/bundle/: main.js plus one chunk per lazily imported command and shared part (--splitting), so a
# command loads only its own code — the agent never parses the Kubernetes client or express. This is
# what the image runs (Dockerfile: /app/dist/bundle/main.js, no node_modules in the image).
# Files the code reads at run time beside its module, found there because every chunk sits in the one
# folder: the CSI plugin's .proto files (node-agent/csi/proto.ts). Found above it: package.json (the
# version, lib/build-info.ts) and manifests/node-agent/static-pod.yaml (cli/static-pod.ts).
# Minified without renaming (whitespace and syntax; names kept, so stack traces and error names still
# read): a process keeps the source of every module it loads, and this saves the controller 7 MiB
# (BENCHMARKS.md, "Image and footprint"); line numbers in stack traces are then the bundle's.
# Usage: scripts/bundle.sh [OUTDIR [METAFILE]]   (default dist/bundle; METAFILE: esbuild's JSON account
#        of every output's inputs and imports, written outside OUTDIR so the image does not carry it)
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
OUT="${1:-dist/bundle}"
META="${2:-}"
rm -rf "$OUT"
# ESM output: the CommonJS dependencies call require() for Node's built-ins, which an ES module lacks;
# the banner gives every chunk one made from its own URL.
node_modules/.bin/esbuild cli/main.ts --bundle --platform=node --format=esm --target=node24 \
  --splitting --outdir="$OUT" --chunk-names='[name]-[hash]' \
  --minify-whitespace --minify-syntax --keep-names \
  --banner:js="import { createRequire as __socatRelayRequire } from 'node:module'; const require = __socatRelayRequire(import.meta.url);" \
  ${META:+--metafile="$META"} --log-level=warning
cp node-agent/csi/*.proto "$OUT/"
