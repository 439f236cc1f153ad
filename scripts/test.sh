#!/usr/bin/env bash
# Runs the test suites: scripts/test.sh [suite …]; suites are folders under test/ (default: all).
# One node:test run over every file, so the summary at the end counts everything.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
# Node >= 24 (installed by setup.sh where the machine's is older): the tests and what they spawn run under it.
. scripts/node-env.sh
use_node24 || { echo "[test] Node >= $NODE_MIN_MAJOR is missing: run 'bash scripts/setup.sh' first" >&2; exit 1; }
suites=("$@")
all=$([ ${#suites[@]} -eq 0 ] && echo 1 || echo 0)
if [ "$all" = 1 ]; then
  for d in test/*/; do d="${d%/}"; d="${d#test/}"; [ "$d" = fixtures ] || suites+=("$d"); done
fi
echo "[test] type-checking (tsc --noEmit)" >&2
npx tsc --noEmit -p tsconfig.json
# The whole run (npm test, CI) also holds the repository to Prettier, ESLint and knip; LINT=0 skips them
# while iterating locally.
if [ "$all" = 1 ] && [ "${LINT:-1}" != 0 ]; then
  echo "[test] prettier --check, eslint, knip" >&2
  npx prettier --check --log-level warn .
  npx eslint .
  npx knip
fi
files=()
for s in "${suites[@]}"; do
  [ -d "test/$s" ] || { echo "[test] no suite test/$s" >&2; exit 2; }
  while IFS= read -r f; do files+=("$f"); done < <(find "test/$s" -name '*.test.ts' | sort)
done
[ ${#files[@]} -gt 0 ] || { echo "[test] no test files in: ${suites[*]}" >&2; exit 2; }
echo "[test] ${#files[@]} files in: ${suites[*]}" >&2
exec node --import tsx --test --test-concurrency=1 "${files[@]}"
